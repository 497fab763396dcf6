"""Run the course's benchmarks and write benchmarks/results.md and benchmarks/results.json.

    python -m benchmarks.run                   # everything (about 15-20 minutes on 2 CPU cores)
    python -m benchmarks.run --only speedups   # one part: notebooks, attribution, speedups
    python -m benchmarks.run --quick           # short prompts, course model only (a smoke run)
    python -m benchmarks.run --only notebooks --model smollm2   # every notebook on SmolLM2

Timings are ratios measured side by side in one run on one machine (whose CPU, cores, RAM and
torch version are stored with the figures); compare seconds only within one results file.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("XAI_PROGRESS", "0")     # progress bars would flood the log

PARTS = ("notebooks", "attribution", "speedups")
OUT = Path(__file__).resolve().parent


def log(message: str) -> None:
    print(message, flush=True)


def run(parts, quick: bool, notebooks: list[str] | None, lengths=(64, 512),
        model: str | None = None) -> dict:
    """{part: {"machine", "quick", "seconds", "rows", ...}} for each part asked for."""
    import torch

    from benchmarks.machine import machine_info

    torch.manual_seed(0)
    results = {}

    def part(name: str, machine: dict, started: float, **content) -> None:
        results[name] = {"machine": machine, "quick": quick and name == "attribution",
                         "seconds": time.perf_counter() - started, **content}

    if "notebooks" in parts:
        from benchmarks.notebooks import notebook_times
        from benchmarks.report import ONE_MODEL

        log(f"Solved notebooks (CPU), each on {model or 'its own model'}:")
        machine, started = machine_info(), time.perf_counter()
        # each notebook on its own model is what a learner runs; one model for all is its own table
        part("notebooks" if model is None else f"{ONE_MODEL}{model}", machine, started,
             rows=notebook_times(notebooks, log=log, model=model))
    if "attribution" in parts or "speedups" in parts:
        from utils.models import load_model

        course, tokenizer = load_model("course", device="cpu", verbose=False)
    if "attribution" in parts:
        from benchmarks.attribution import attribution_costs, bf16_estimate, llama_1b_shaped

        machine, started = machine_info(), time.perf_counter()
        lengths = lengths[:1] if quick else lengths
        log("Attribution cost on the course model:")
        rows = [attribution_costs(course, "course model", n, log=log) for n in lengths]
        estimate = []
        if not quick:
            log("Attribution cost on a Llama-3.2-1B-shaped model (random weights, fp32):")
            model_1b = llama_1b_shaped()
            big = [attribution_costs(model_1b, "Llama-3.2-1B shape", n, log=log) for n in lengths]
            estimate = bf16_estimate(big, model_1b)
            rows += big
            del model_1b
        part("attribution", machine, started, rows=rows, bf16_estimate=estimate)
    if "speedups" in parts:
        from benchmarks.speedups import per_token_head_relevance, residual_patching

        machine, started = machine_info(), time.perf_counter()
        log("Speed-ups claimed by the notebooks (course model):")
        part("speedups", machine, started, rows=[per_token_head_relevance(course, tokenizer, log=log),
                                        residual_patching(course, tokenizer, log=log)])
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--notebooks", nargs="*", help="number prefixes of solved notebooks (default: all)")
    parser.add_argument("--model", default=None,
                        help="run every notebook on this model (e.g. smollm2); default: each "
                             "notebook on the model it is built with")
    parser.add_argument("--quick", action="store_true", help="the first length only, course model only")
    parser.add_argument("--lengths", nargs="+", type=int, default=[64, 512],
                        help="prompt lengths of the attribution part (default: 64 512)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's choice, one per core). On a machine "
                             "busy with other work, 1 avoids threads waiting on each other.")
    parser.add_argument("--out", type=Path, default=OUT, help="folder for results.md/json")
    args = parser.parse_args()

    from benchmarks.report import merge, write_markdown

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
        os.environ["OMP_NUM_THREADS"] = str(args.threads)   # the notebooks' kernels too
    started = time.perf_counter()
    results = run(args.only, args.quick, args.notebooks, tuple(args.lengths), args.model)
    args.out.mkdir(parents=True, exist_ok=True)
    json_path = args.out / "results.json"
    # A partial run (--only) keeps the other parts of an earlier run; each part carries the
    # machine it ran on.
    merged = merge(json.loads(json_path.read_text()) if json_path.exists() else {}, results)
    json_path.write_text(json.dumps(merged, indent=1) + "\n")
    write_markdown(merged, args.out / "results.md")
    log(f"Wrote {json_path} and results.md in {time.perf_counter() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
