"""A model's lessons file: every registry entry run on one model, written as JSON and markdown.

    python -m claims.lessons_file --model smollm2 --out lessons/smollm2 [--items 0.5] [--draws 100]

Runs the notebooks' claims and the measurements kept for the lessons files (conservation,
conflict ranks, in-context accuracy, the function vector) on the model, and writes
`<out>.json` (one row per entry: verdict, n, effect, control and its spread, threshold,
seconds) and `<out>.md` (the table). `--items` scales every item count (1.0 = the course
model's; a slower model runs fewer, and each row still states its n); `--draws` sets the random
controls' draws. `make lessons-smollm2` writes the SmolLM2 file.
"""
from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
from pathlib import Path

import torch

from claims import NOTEBOOKS, Context, as_dict, claims, markdown, report


def entries(notebooks=NOTEBOOKS) -> list:
    """The notebooks' claims, then each notebook's MEASUREMENTS, in notebook order."""
    found = []
    for nb in notebooks:
        module = importlib.import_module(f"claims.nb{nb}")
        found += module.CLAIMS + getattr(module, "MEASUREMENTS", [])
    return found


def run(model, tokenizer, name: str, items: float = 1.0, draws: int = 100,
        notebooks=NOTEBOOKS) -> tuple[dict, str]:
    """(JSON-ready dict, markdown) of every entry on `model`."""
    start = time.perf_counter()
    ctx = Context(model, tokenizer, name, draws=draws, items=items)
    results = report(ctx, entries=entries(notebooks))
    seconds = time.perf_counter() - start
    held = sum(v.holds for _, v in results)
    data = {"model": name, "items_factor": items, "draws": draws, "torch_threads": torch.get_num_threads(),
            "machine": platform.machine(), "seconds": round(seconds, 1),
            "holds": held, "not_applicable": sum(not v.applicable for _, v in results),
            "entries": [as_dict(c, v) for c, v in results]}
    text = (f"# Lessons on {name}\n\nWritten by `python -m claims.lessons_file` "
            f"(items x{items:g}, {draws} random draws per control) in {seconds:.0f} s. Each row: "
            "the verdict, n, the effect with its 95 % bootstrap interval against its control, "
            "the control's spread and the threshold. A failing entry is listed with its figure."
            f"\n\n{markdown(results, name)}\n")
    return data, text


def _plain(value):
    """numpy numbers and arrays, tuples of heads: as JSON values."""
    return value.tolist() if hasattr(value, "tolist") else str(value)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="a name or folder load_model accepts")
    ap.add_argument("--out", required=True, help="path without extension: writes .json and .md")
    ap.add_argument("--items", type=float, default=1.0, help="factor on every item count")
    ap.add_argument("--draws", type=int, default=100, help="random draws per control")
    ap.add_argument("notebooks", nargs="*", default=list(NOTEBOOKS))
    a = ap.parse_args(argv)
    from utils.models import load_model
    torch.manual_seed(0)
    model, tokenizer = load_model(a.model, device="cpu", verbose=False)
    name = Path(a.model).name if Path(a.model).exists() else a.model
    data, text = run(model, tokenizer, name, a.items, a.draws, tuple(a.notebooks))
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(data, indent=1, default=_plain) + "\n")
    out.with_suffix(".md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
