"""benchmarks/results.md from the results dict: one table per part, each under its machine."""
from __future__ import annotations

from pathlib import Path

from benchmarks.machine import machine_line

PART_ORDER = ("notebooks", "attribution", "speedups", "gpu")
ONE_MODEL = "notebooks on "   # + a model: every notebook on that model (`--model`)


def _ordered(keys) -> list[str]:
    """PART_ORDER, with the one-model notebook parts right after "notebooks"."""
    one_model = sorted(k for k in keys if k.startswith(ONE_MODEL))
    order = [PART_ORDER[0], *one_model, *PART_ORDER[1:]]
    return [k for k in order if k in keys]


def merge(old: dict, new: dict) -> dict:
    """The parts of `new` replace those of `old`; parts not re-run are kept as they were."""
    merged = {k: v for k, v in old.items() if k in PART_ORDER or k.startswith(ONE_MODEL)}
    merged.update(new)
    return {k: merged[k] for k in _ordered(merged)}


def _seconds(s: float | None) -> str:
    if s is None:
        return "-"
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 120:
        return f"{s:.1f} s"
    return f"{s / 60:.1f} min"


def _memory(gib: float | None) -> str:
    if gib is None:
        return "-"
    return f"{gib * 1024:.0f} MiB" if gib < 1 else f"{gib:.2f} GiB"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def _caption(part: dict) -> str:
    quick = " (quick run)" if part.get("quick") else ""
    return (f"*Machine: {machine_line(part['machine'])}; {part['machine']['date_utc']} UTC; "
            f"this part took {_seconds(part['seconds'])}{quick}.*")


def notebooks_md(part: dict, model: str | None = None) -> list[str]:
    # rows of older runs carry no model: they ran on the course model
    rows = [[r["notebook"], r.get("model", "course"), _seconds(r["seconds"]), r["status"]]
            for r in part["rows"]]
    total = sum(r["seconds"] for r in part["rows"])
    rows.append(["**whole course**", "", f"**{_seconds(total)}**",
                 "ok" if all(r["status"] == "ok" for r in part["rows"]) else "see above"])
    title = (f"## Every solved notebook on {model}, top to bottom, on CPU" if model else
             "## Solved notebooks, top to bottom, on CPU, each on the model it is built with")
    return ([title, "", _caption(part), ""]
            + _table(["notebook", "model", "wall time", "status"], rows)
            + ["", "Each notebook is executed from an in-memory copy with the harness that builds "
               "the solved notebooks (kernel start and model loading included). \"model\" is the "
               "model the notebook's kernel is given (`XAI_MODEL`); a part that loads another "
               "model inside the notebook (04's monitor, 05's Parts 1-4: the course model) says "
               "so where it loads it, and its time is included."])


def attribution_md(part: dict) -> list[str]:
    rows = []
    for r in part["rows"]:
        rows.append([r["model"], r["tokens"], _seconds(r["forward_s"]),
                     f"{r['occlusion_forward_units']:.1f} ({_seconds(r['occlusion_s'])})"
                     + ("" if r["occlusion_measured"] == "full" else " †"),
                     f"{r['ixg_forward_units']:.1f} ({_seconds(r['ixg_s'])})",
                     f"{r['lrp_forward_units']:.1f} ({_seconds(r['lrp_s'])})",
                     f"{r['lrp_heads_forward_units']:.1f} ({_seconds(r['lrp_heads_s'])})",
                     _memory(r["lrp_heads_peak_extra_gib"])])
    lines = (["## Cost of one attribution, in forward passes (fp32, CPU)", "", _caption(part), ""]
             + _table(["model", "tokens", "1 forward pass", "occlusion", "Input x Gradient",
                       "LRP (AttnLRP)", "LRP + attention-weight gradients",
                       "peak extra memory of LRP + attention gradients"], rows)
             + ["", "Each cell: cost in forward passes of the same model on the same prompt "
                "(seconds in brackets). Occlusion runs one forward pass per position, batched "
                "32 at a time. Input x Gradient and LRP are one forward and one backward pass; "
                "the last method keeps the gradient of every attention weight (notebook 02's "
                "`attention_relevance` inside `attnlrp`). Peak extra memory: the rise of the "
                "process's resident memory above the loaded model while that call ran (measured "
                "first in each row, before the timings). Prompts are random token ids after BOS; "
                "cost does not depend on their content."])
    sampled = [r for r in part["rows"] if r["occlusion_measured"] != "full"]
    if sampled:
        lines += ["", "† Not run in full (it would take too long here): the total is the "
                  "per-position time measured on a sample ("
                  + "; ".join(f"{r['model']} @ {r['tokens']} tokens: {r['occlusion_measured']}"
                              for r in sampled)
                  + ") times the number of positions, plus one clean forward pass."]
    if part.get("bf16_estimate"):
        rows = [[e["model"], e["tokens"], _memory(e["weights_bf16_gib"]),
                 _memory(e["extra_bf16_gib"]),
                 "-" if e["total_bf16_gib"] is None else f"**{_memory(e['total_bf16_gib'])}**"]
                for e in part["bf16_estimate"]]
        lines += ["", "### Estimate for a GPU in bf16 (not measured on a GPU)", ""]
        lines += _table(["model", "tokens", "weights (bf16)", "LRP + attention gradients (half "
                         "the fp32 extra)", "estimated total"], rows)
        lines += ["", "Scaled from the CPU fp32 measurement above: weights at 2 bytes per "
                  "parameter, and the measured extra memory halved (activations, attention "
                  "weights and their gradients are all bf16 on a GPU). CUDA's own context "
                  "(~0.3-0.5 GiB) and allocator caching come on top; measure with "
                  "`torch.cuda.max_memory_allocated()` where a GPU is at hand."]
    return lines


def speedups_md(part: dict) -> list[str]:
    rows = []
    for r in part["rows"]:
        if not r.get("available"):
            rows.append([r["name"], r["notebook"], "not available", "-", "-", "-", r["reason"][:120]])
            continue
        rows.append([r["name"], r["notebook"], r["setting"], _seconds(r["loop_s"]),
                     _seconds(r["batched_s"]), f"**{r['speedup']:.1f}x**",
                     f"{'yes' if r['equal'] else 'NO'} (max relative difference "
                     f"{r['max_relative_diff']:.1e})"])
    return (["## Speed-ups the notebooks claim (course model, CPU)", "", _caption(part), ""]
            + _table(["computation", "notebook", "setting", "loop", "batched", "speed-up",
                      "same result"], rows)
            + ["", "Both ways run one after the other in the same process on the same inputs; "
               "'same result' compares them element by element (NaNs where a position cannot be "
               "patched must match too)."])


GPU_METHODS = {"lrp": "LRP (AttnLRP)", "lrp_heads": "LRP + attention-weight gradients",
               "lrp_checkpointed": "LRP, checkpointed layers",
               "lrp_heads_checkpointed": "LRP + head relevance, checkpointed layers"}
HOW_TO_RUN_GPU = ("On a machine with a CUDA GPU: `bash tools/gpu_run.sh` (under 10 minutes; logs "
                  "and results in `$OUT` or `gpu-run/`; `make test-gpu`'s four parts and this "
                  "benchmark), then `python -m benchmarks.report --add gpu-run/bench/results.json` "
                  "to put the figures here and copy `gpu-run/test/summary.json`'s lines below. A "
                  "GPU machine without a package index needs the course's packages as wheels: "
                  "`bash tools/gpu_wheels.sh` where pip works, then carry `.whl/` along. Every "
                  "step ran on a CPU first (`DRY_RUN=cpu bash tools/gpu_run.sh`: tiny sizes, no "
                  "GPU figures).")


def gpu_md(part: dict) -> list[str]:
    """The GPU part: measured rows only when they come from CUDA; counts are labelled as counts."""
    measured = part.get("device", "").startswith("cuda") and not part.get("tiny") and part.get("rows")
    lines = ["## GPU: LRP on the Llama-3.2-1B shape in bf16", "", _caption(part), ""]
    if measured:
        rows = [[GPU_METHODS[r["method"]], r["tokens"],
                 "out of memory" if r["status"] == "oom" else _memory(r["peak_gib"]),
                 "-" if r["status"] == "oom" else _seconds(r["seconds"]),
                 "-" if r["status"] == "oom" else f"{r['forward_units']:.1f}"]
                for r in part["rows"]]
        lines += _table(["method", "tokens", "peak `max_memory_allocated` (weights included)",
                         "time", "forward passes"], rows)
        longest = part.get("longest_prompt_t4", {})
        lines += ["", f"Longest prompt within {part['budget_gib'] - part['context_reserve_gib']:g} "
                  f"GiB of allocations (a {part['budget_gib']:g} GB Colab T4 less "
                  f"{part['context_reserve_gib']:g} GiB for CUDA's context), from the quadratic "
                  "through the three measured peaks:", ""]
        lines += _table(["method", "longest prompt"],
                        [[GPU_METHODS[m], "-" if n is None else f"{n} tokens"]
                         for m, n in longest.items()])
    else:
        lines += ["**Not measured on a GPU yet.** " + HOW_TO_RUN_GPU, ""]
        if part.get("rows"):
            lines += [f"(The rows of this part come from a {part.get('device')} run of the code "
                      "paths with a tiny model; they are not GPU figures and are not shown.)", ""]
    if part.get("saved"):
        rows = [[GPU_METHODS[r["method"]], r["tokens"], _memory(r["weights_gib"]),
                 f"**{_memory(r['saved_gib'])}**",
                 ", ".join(f"{k} {_memory(v)}" for k, v in sorted(r["by_kind_gib"].items(),
                                                                    key=lambda kv: -kv[1]))]
                for r in part["saved"]]
        lines += ["### Where the memory goes: what autograd keeps for the backward pass", ""]
        lines += _table(["method", "tokens", "weights (bf16)", "kept between forward and backward",
                         "of which"], rows)
        lines += ["", "Counted, not measured on a GPU: every tensor autograd saves is counted "
                  "(saved-tensor hooks) while the method runs on a Llama-3.2-1B-shaped model on "
                  "PyTorch's meta device (shapes and dtypes, no data), in bf16. A GPU's peak "
                  "adds the gradients and the transients of the backward pass. Eager attention "
                  "keeps per layer its softmax output in fp32 and a bf16 copy: n_heads x seq x "
                  "seq values each, which grow with the square of the prompt. Checkpointed "
                  "layers (`utils/low_memory.py`) keep only each layer's input and recompute "
                  "one layer at a time in the backward pass (its activations, about 1/16 of "
                  "the plain method's, come on top while it runs); head relevance is taken "
                  "from head outputs and their gradients, which equals the sum over attention "
                  "weights times their gradients (tests/test_low_memory.py)."]
    if part.get("course"):
        total = sum(r["seconds"] for r in part["course"])
        lines += ["", f"### The course on {part.get('device')}, course model", ""]
        lines += _table(["notebook", "wall time", "status"],
                        [[r["notebook"], _seconds(r["seconds"]), r["status"]] for r in part["course"]]
                        + [["**whole course**", f"**{_seconds(total)}**", ""]])
    return lines


def write_markdown(results: dict, path: Path) -> None:
    lines = ["# Benchmarks", "",
             "Written by `make bench` (`python -m benchmarks.run`); the raw figures are in "
             "`results.json`. Timings are compared as ratios measured side by side in one run; "
             "seconds depend on the machine named under each table (a busy machine shows in its "
             "load figure).", ""]
    makers = {"notebooks": notebooks_md, "attribution": attribution_md, "speedups": speedups_md,
              "gpu": gpu_md}
    for name in _ordered(results):
        if name.startswith(ONE_MODEL):
            lines += notebooks_md(results[name], name[len(ONE_MODEL):]) + [""]
        else:
            lines += makers[name](results[name]) + [""]
    if "gpu" not in results:
        lines += ["## GPU", "", "**Not measured on a GPU yet.** " + HOW_TO_RUN_GPU, ""]
    path.write_text("\n".join(lines))


def main(argv=None) -> int:
    """`python -m benchmarks.report --add DIR/results.json`: merge a run's parts (e.g. the GPU
    run's) into benchmarks/results.json and rewrite results.md."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--add", type=Path, nargs="*", default=[], help="results.json files to merge")
    parser.add_argument("--into", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args(argv)
    target = args.into / "results.json"
    merged = json.loads(target.read_text()) if target.exists() else {}
    for path in args.add:
        merged = merge(merged, json.loads(path.read_text()))
    target.write_text(json.dumps(merged, indent=1) + "\n")
    write_markdown(merged, args.into / "results.md")
    print(f"Wrote {target} and {args.into / 'results.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
