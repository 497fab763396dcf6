"""GPU figures: LRP's memory and time on the Llama-3.2-1B shape in bf16, the course on CUDA,
and the longest prompt that fits a free Colab T4 (15 GB) for each method.

    python -m benchmarks.gpu --out DIR               # on a CUDA GPU (the prepared GPU run)
    python -m benchmarks.gpu --out DIR --device cpu --tiny --lengths 32 64 128   # code paths only
    python -m benchmarks.gpu --saved-only --out DIR  # where the memory goes, on any machine

Methods, each explaining the top prediction at the last position of a random prompt:
- lrp: AttnLRP input relevance (`input_x_gradient` inside `attnlrp`, as notebook 01);
- lrp_heads: AttnLRP with the gradient of every attention weight kept: notebook 02's
  `head_relevance` itself (`attention_relevance`, output_attentions plus retain_grad, each
  layer's seq x seq relevance maps copied to the host, then summed per head);
- lrp_checkpointed, lrp_heads_checkpointed: the same results with one decoder layer's
  activations at a time (utils/low_memory.py).
On CUDA: peak `torch.cuda.max_memory_allocated` (weights included), median time, and the cost in
forward passes of the same prompt. Everywhere: what autograd saves for the backward pass, counted
on PyTorch's meta device for the full shape (exact bytes, no compute: where the memory goes).
Writes DIR/results.json ({"gpu": ...}) and DIR/results.md (rendered by benchmarks/report.py;
`python -m benchmarks.report --add DIR/results.json` adds it to benchmarks/results.md).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("XAI_PROGRESS", "0")

import torch  # noqa: E402

from utils.model_shapes import LLAMA_1B_SHAPE, TINY_SHAPE  # noqa: E402

METHODS = ("lrp", "lrp_heads", "lrp_checkpointed", "lrp_heads_checkpointed")
LENGTHS = (512, 2048, 4096)
T4_GIB = 15.0            # a free Colab T4 (15360 MiB)
CONTEXT_RESERVE_GIB = 0.5   # CUDA context and allocator slack, outside max_memory_allocated


def build_model(shape: dict, device: str, dtype: torch.dtype, seed: int = 0):
    """A Llama of `shape` with random weights, eager attention, eval, frozen, on `device`."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    with torch.device(device):
        model = LlamaForCausalLM(LlamaConfig(**shape, attn_implementation="eager")).to(dtype)
    return model.eval().requires_grad_(False)


def random_prompt(model, seq_len: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, min(model.config.vocab_size, 30_000), (1, seq_len), generator=gen)
    ids[0, 0] = 0
    return ids.to(model.get_input_embeddings().weight.device)


def method_fn(name: str):
    """The call for `name`: f(model, ids, target) -> relevance (run inside `attnlrp`)."""
    from solutions.attention_heads import head_relevance
    from solutions.input_attribution import input_x_gradient
    from utils.low_memory import head_relevance_low_memory, input_relevance_low_memory

    return {"lrp": input_x_gradient, "lrp_heads": head_relevance,
            "lrp_checkpointed": input_relevance_low_memory,
            "lrp_heads_checkpointed": head_relevance_low_memory}[name]


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _timed(fn, device: str, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        result = fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def measure(model, name: str, seq_len: int, device: str, repeats: int = 3, log=print) -> dict:
    """One row: peak memory (CUDA), seconds, forward-pass units; 'oom' where it does not fit."""
    from utils.lrp import attnlrp

    ids = random_prompt(model, seq_len)
    row = {"method": name, "tokens": seq_len}
    try:
        with torch.no_grad():
            forward_s, logits = _timed(lambda: model(ids, use_cache=False, logits_to_keep=1).logits,
                                       device, repeats)
        target = int(logits[0, -1].argmax())
        del logits
        fn = method_fn(name)
        with attnlrp(model):
            fn(model, ids, target)                      # warm-up: kernels, allocator
            if device.startswith("cuda"):
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
            seconds, _ = _timed(lambda: fn(model, ids, target), device, repeats)
        row.update(status="ok", forward_s=forward_s, seconds=seconds,
                   forward_units=seconds / forward_s)
        if device.startswith("cuda"):
            row["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
    except torch.OutOfMemoryError:
        row.update(status="oom")
    finally:
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
    log(f"  {name} @ {seq_len}: " + (", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                                                for k, v in row.items() if k not in ("method", "tokens"))))
    return row


def longest_prompt(rows: list[dict], budget_gib: float) -> int | None:
    """Longest prompt whose peak fits `budget_gib`: the quadratic through the measured peaks
    (attention grows with seq^2, the rest with seq), solved for the budget; None without 3 points."""
    import numpy as np

    points = [(r["tokens"], r["peak_gib"]) for r in rows if r.get("status") == "ok" and "peak_gib" in r]
    if len(points) < 3:
        return None
    n, peak = map(np.array, zip(*points))
    a, b, c = np.polyfit(n.astype(float), peak, 2)
    roots = [r.real for r in np.roots([a, b, c - budget_gib]) if abs(r.imag) < 1e-9 and r.real > 0]
    return int(min(roots)) if roots else None


# ---------------------------------------------------------------------------------------------
# Where the memory goes: what autograd saves, counted on the meta device (any machine, seconds)

class _MetaRotary(torch.nn.Module):
    """Rotary embeddings of the right shape on the meta device (their values do not matter for
    a byte count; the real module cannot run on meta)."""

    def __init__(self, head_dim: int):
        super().__init__()
        self.head_dim = head_dim

    def forward(self, x, position_ids):
        shape = (*position_ids.shape, self.head_dim)
        return (torch.empty(shape, device="meta", dtype=x.dtype),
                torch.empty(shape, device="meta", dtype=x.dtype))


def saved_tensor_memory(shape: dict, lengths, methods=METHODS, log=print) -> list[dict]:
    """Bytes autograd keeps for the backward pass of each method, by kind, for `shape` in bf16.

    Counted with saved-tensor hooks on a meta-device model (no memory, no compute). Weights
    (saved by every linear layer) are not counted: `weights_gib` is the model's. This is what stays alive between forward
    and backward; a GPU's peak adds gradients and transients on top.
    """
    from utils.lrp import attnlrp

    from utils.hooks import replaced_part

    model = build_model(shape, "meta", torch.bfloat16)
    with replaced_part(model, "rotary", _MetaRotary(shape["head_dim"])):
        return _saved_rows(model, shape, lengths, methods, log)


def _saved_rows(model, shape: dict, lengths, methods, log) -> list[dict]:
    """saved_tensor_memory's rows for a meta-device `model` of `shape`."""
    from utils.lrp import attnlrp

    params = {id(p) for p in model.parameters()}
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    rows = []
    for seq_len in lengths:
        ids = torch.zeros(1, seq_len, dtype=torch.long, device="meta")
        for name in methods:
            kinds, weights = Counter(), 0

            def pack(t):
                nonlocal weights
                size = t.numel() * t.element_size()
                if id(t) in params or (t._base is not None and id(t._base) in params):
                    weights += size
                elif (t.dim() >= 3 and t.shape[-1] == t.shape[-2] == seq_len
                      and t.shape[-3] == shape["num_attention_heads"]):
                    kinds[f"attention seq x seq ({str(t.dtype).replace('torch.', '')})"] += size
                else:
                    kinds["other activations"] += size
                return t

            with attnlrp(model), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                try:
                    method_fn(name)(model, ids, 5)
                except NotImplementedError:
                    pass   # the backward pass is done; a meta result cannot move to the CPU
            row = {"method": name, "tokens": seq_len, "weights_gib": weight_bytes / 2**30,
                   "saved_gib": sum(kinds.values()) / 2**30,
                   "by_kind_gib": {k: v / 2**30 for k, v in kinds.items()}}
            rows.append(row)
            log(f"  saved for backward, {name} @ {seq_len}: {row['saved_gib']:.2f} GiB "
                + ", ".join(f"{k} {v:.2f}" for k, v in row["by_kind_gib"].items()))
    return rows


# ---------------------------------------------------------------------------------------------

def course_on_device(log=print) -> list[dict]:
    """Every solved notebook top to bottom with the course model on this machine's device."""
    from benchmarks.notebooks import notebook_times

    return notebook_times(log=log)


def run(device: str, tiny: bool, lengths, methods, course: bool, saved_lengths, log=print,
        save=lambda part: None) -> dict:
    """The GPU part; `save(part)` after each section, so a run cut short keeps what it measured."""
    from benchmarks.machine import machine_info

    started = time.perf_counter()
    part = {"machine": machine_info(), "device": device, "tiny": tiny, "dtype": "bfloat16",
            "budget_gib": T4_GIB, "context_reserve_gib": CONTEXT_RESERVE_GIB}
    shape = TINY_SHAPE if tiny else LLAMA_1B_SHAPE
    if saved_lengths:
        log("What autograd keeps for the backward pass (meta device, bf16):")
        part["saved"] = saved_tensor_memory(shape, saved_lengths, methods, log=log)
        save(part)
    if lengths:
        log(f"LRP on the {'tiny' if tiny else 'Llama-3.2-1B'} shape, bf16, {device}:")
        model = build_model(shape, device, torch.bfloat16)
        if device.startswith("cuda"):
            part["weights_gib"] = torch.cuda.memory_allocated() / 2**30
        part["rows"] = [measure(model, name, n, device, log=log) for n in lengths for name in methods]
        del model
        part["longest_prompt_t4"] = {
            name: longest_prompt([r for r in part["rows"] if r["method"] == name],
                                 T4_GIB - CONTEXT_RESERVE_GIB) for name in methods}
        log(f"  longest prompt within {T4_GIB - CONTEXT_RESERVE_GIB} GiB: {part['longest_prompt_t4']}")
        part["seconds"] = time.perf_counter() - started
        save(part)
    if course:
        log(f"The course, solved notebooks with the course model ({device}):")
        part["course"] = course_on_device(log=log)
    part["seconds"] = time.perf_counter() - started
    return part


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="folder for results.json/md")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="a tiny shape (tests of the code paths)")
    parser.add_argument("--lengths", nargs="*", type=int, default=list(LENGTHS))
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--saved-lengths", nargs="*", type=int, default=list(LENGTHS),
                        help="prompt lengths for the saved-tensor count (meta device)")
    parser.add_argument("--saved-only", action="store_true", help="only the saved-tensor count")
    parser.add_argument("--no-course", action="store_true", help="skip the solved notebooks")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available() and not args.saved_only:
        print(f"benchmarks.gpu: --device {args.device} needs a CUDA GPU; none here. Use "
              "--device cpu --tiny to check the code paths, or --saved-only.")
        return 2
    from benchmarks.report import write_markdown

    args.out.mkdir(parents=True, exist_ok=True)

    def save(part):
        part.setdefault("seconds", 0.0)
        (args.out / "results.json").write_text(json.dumps({"gpu": part}, indent=1) + "\n")
        write_markdown({"gpu": part}, args.out / "results.md")

    part = run(args.device, args.tiny, [] if args.saved_only else args.lengths, args.methods,
               not (args.saved_only or args.no_course), args.saved_lengths, save=save)
    save(part)
    print(f"Wrote {args.out / 'results.json'} and results.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
