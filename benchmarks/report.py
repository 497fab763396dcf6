"""benchmarks/results.md from the results dict: one table per part, each under its machine."""
from __future__ import annotations

from pathlib import Path

from benchmarks.machine import machine_line

PART_ORDER = ("notebooks", "attribution", "speedups")


def merge(old: dict, new: dict) -> dict:
    """The parts of `new` replace those of `old`; parts not re-run are kept as they were."""
    merged = {k: v for k, v in old.items() if k in PART_ORDER}
    merged.update(new)
    return {k: merged[k] for k in PART_ORDER if k in merged}


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


def notebooks_md(part: dict) -> list[str]:
    rows = [[r["notebook"], _seconds(r["seconds"]), r["status"]] for r in part["rows"]]
    total = sum(r["seconds"] for r in part["rows"])
    rows.append(["**whole course**", f"**{_seconds(total)}**",
                 "ok" if all(r["status"] == "ok" for r in part["rows"]) else "see above"])
    return (["## Solved notebooks, top to bottom, course model on CPU", "", _caption(part), ""]
            + _table(["notebook", "wall time", "status"], rows)
            + ["", "Each notebook is executed from an in-memory copy with the harness that builds "
               "the solved notebooks (kernel start and model loading included)."])


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


def write_markdown(results: dict, path: Path) -> None:
    lines = ["# Benchmarks", "",
             "Written by `make bench` (`python -m benchmarks.run`); the raw figures are in "
             "`results.json`. Timings are compared as ratios measured side by side in one run; "
             "seconds depend on the machine named under each table (a busy machine shows in its "
             "load figure).", ""]
    makers = {"notebooks": notebooks_md, "attribution": attribution_md, "speedups": speedups_md}
    for name in PART_ORDER:
        if name in results:
            lines += makers[name](results[name]) + [""]
    path.write_text("\n".join(lines))
