"""A model's lessons file: every registry entry run on one model, written as JSON and markdown.

    python -m claims.lessons_file --model smollm2 --out lessons/smollm2 [--items 0.5] [--draws 100]
    python -m claims.lessons_file --model smollm2 --out lessons/smollm2 --update 05 06

Runs the notebooks' claims and the measurements kept for the lessons files (conservation,
conflict ranks, in-context accuracy, the function vector) on the model, and writes
`<out>.json` (one row per entry: verdict, n, effect, control and its spread, threshold,
seconds) and `<out>.md` (the table). `--items` scales every item count (1.0 = the course
model's; a slower model runs fewer, and each row still states its n); `--draws` sets the random
controls' draws; `--update NN ...` re-runs only those notebooks and keeps the other rows.
`make lessons-smollm2` writes the SmolLM2 file.
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

from claims import NOTEBOOKS, Context, as_dict, report


def entries(notebooks=NOTEBOOKS) -> list:
    """The notebooks' claims, then each notebook's MEASUREMENTS, in notebook order."""
    found = []
    for nb in notebooks:
        module = importlib.import_module(f"claims.nb{nb}")
        found += module.CLAIMS + getattr(module, "MEASUREMENTS", [])
    return found


def run(model, tokenizer, name: str, items: float = 1.0, draws: int = 100,
        notebooks=NOTEBOOKS) -> dict:
    """JSON-ready dict of every entry of `notebooks` on `model`."""
    start = time.perf_counter()
    ctx = Context(model, tokenizer, name, draws=draws, items=items)
    results = report(ctx, entries=entries(notebooks))
    return {"model": name, "items_factor": items, "draws": draws,
            "torch_threads": torch.get_num_threads(), "machine": platform.machine(),
            "seconds": round(time.perf_counter() - start, 1),
            "entries": [as_dict(c, v) for c, v in results]}


def merged(old: dict, new: dict) -> dict:
    """`old` with the rows of the notebooks `new` ran replaced by `new`'s, in registry order;
    each run's settings and time are kept per notebook (`runs`)."""
    if old.get("model") != new["model"]:
        raise ValueError(f"cannot update a lessons file of {old.get('model')!r} with rows of "
                         f"{new['model']!r}: write it to another --out")
    ran = {row["notebook"] for row in new["entries"]}
    rows = [r for r in old.get("entries", []) if r["notebook"] not in ran] + new["entries"]
    order = {c.id: i for i, c in enumerate(entries())}
    rows.sort(key=lambda r: order.get(r["id"], len(order)))
    run = {k: new[k] for k in ("items_factor", "draws", "torch_threads", "machine", "seconds")}
    runs = {nb: r for nb, r in old.get("runs", {}).items() if nb not in ran}
    runs.update({nb: run for nb in sorted(ran)})
    return {"model": new["model"], "runs": dict(sorted(runs.items())), "entries": rows}


def _figures(data: dict) -> dict:
    held = sum(r["holds"] for r in data["entries"])
    na = sum(not r.get("applicable", True) for r in data["entries"])
    return {"holds": held, "not_applicable": na, "decided": len(data["entries"]) - na}


def markdown_file(data: dict) -> str:
    """The lessons file's markdown: how each notebook's rows were run, then the table."""
    f = _figures(data)
    cell = lambda text: str(text).replace("|", "\\|")  # noqa: E731 (a "|" would end the cell)
    runs = "; ".join(f"{nb}: items x{r['items_factor']:g}, {r['draws']} draws, {r['seconds']:.0f} s"
                     for nb, r in data["runs"].items())
    word = lambda r: ("n/a" if not r.get("applicable", True)  # noqa: E731
                      else "holds" if r["holds"] else "FAILS")
    rows = [f"| {r['notebook']} | {cell(r['claim'])} | {word(r)} | {r['n']} | {cell(r['sentence'])} "
            f"| {cell(r['control_spread'])} | {cell(r['threshold'])} |" for r in data["entries"]]
    return "\n".join([
        f"# Lessons on {data['model']}", "",
        "Written by `python -m claims.lessons_file` (per notebook: the item factor, random draws "
        f"per control and CPU seconds: {runs}). Each row: the verdict, n, the effect with its 95 % "
        "bootstrap interval against its control, the control's spread and the threshold. A "
        "failing entry is listed with its figure; n/a marks a claim whose labels come from the "
        "course model's own training data.", "",
        f"{f['holds']} of {f['decided']} hold"
        + (f" ({f['not_applicable']} not applicable to this model)" if f["not_applicable"] else "")
        + ".", "",
        "| notebook | claim | verdict | n | effect vs control | control's spread | threshold |",
        "|---|---|---|---|---|---|---|", *rows, ""])


def _plain(value):
    """numpy numbers and arrays, tuples of heads: as JSON values."""
    return value.tolist() if hasattr(value, "tolist") else str(value)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="a name or folder load_model accepts")
    ap.add_argument("--out", required=True, help="path without extension: writes .json and .md")
    ap.add_argument("--items", type=float, default=1.0, help="factor on every item count")
    ap.add_argument("--draws", type=int, default=100, help="random draws per control")
    ap.add_argument("--update", action="store_true",
                    help="replace only these notebooks' rows in an existing file")
    ap.add_argument("notebooks", nargs="*", default=list(NOTEBOOKS))
    a = ap.parse_args(argv)
    from utils.models import load_model
    torch.manual_seed(0)
    model, tokenizer = load_model(a.model, device="cpu", verbose=False)
    name = Path(a.model).name if Path(a.model).exists() else a.model
    out = Path(a.out)
    new = run(model, tokenizer, name, a.items, a.draws, tuple(a.notebooks))
    old = (json.loads(out.with_suffix(".json").read_text())
           if a.update and out.with_suffix(".json").exists() else {"model": name})
    data = merged(old, new)
    data.update(_figures(data))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(data, indent=1, default=_plain) + "\n")
    text = markdown_file(data)
    out.with_suffix(".md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
