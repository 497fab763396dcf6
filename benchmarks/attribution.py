"""What one attribution costs, in forward passes of the same model and prompt, and LRP's memory.

For each model and prompt length: the time of one forward pass (the unit), of occlusion
(one forward pass per position, batched), of Input x Gradient and of LRP (one forward and one
backward pass each), and the peak memory that LRP with attention-weight gradients adds
(`attention_relevance` inside `attnlrp`, as notebook 02 uses it). fp32 on CPU.
"""
from __future__ import annotations

import time

import torch

from benchmarks.machine import peak_extra_memory, timed
from solutions.attention_heads import attention_relevance
from solutions.input_attribution import input_x_gradient, occlusion
from utils.lrp import attnlrp
from utils.model_shapes import LLAMA_1B_SHAPE
from utils.models import input_device

# Full occlusion runs when it is predicted to take less than this; above, a measured sample.
OCCLUSION_FULL_BUDGET_S = 90.0
OCCLUSION_SAMPLE = 4


def llama_1b_shaped(seed: int = 0):
    """A Llama-3.2-1B-shaped model (1.24 B parameters) with random weights, fp32, eager, frozen."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(**LLAMA_1B_SHAPE, attn_implementation="eager")
    model = LlamaForCausalLM(config).eval()
    model.requires_grad_(False)
    return model


def prompt_ids(model, seq_len: int, seed: int = 0) -> torch.Tensor:
    """[1, seq_len] token ids: BOS, then seeded random tokens (cost does not depend on content)."""
    gen = torch.Generator().manual_seed(seed)
    vocab = model.config.vocab_size
    ids = torch.randint(3, min(vocab, 30_000), (1, seq_len), generator=gen)
    bos = model.config.bos_token_id
    if bos is not None:
        ids[0, 0] = bos
    return ids.to(input_device(model))


def _occlusion_cost(model, ids, target, baseline, forward_s) -> dict:
    """Time occlusion in full where feasible, otherwise a sample of positions (one batch)."""
    seq_len = ids.shape[1]
    if forward_s * seq_len < OCCLUSION_FULL_BUDGET_S:
        start = time.perf_counter()
        occlusion(model, ids, target, baseline)
        return {"occlusion_s": time.perf_counter() - start, "occlusion_measured": "full",
                "occlusion_positions_timed": seq_len}
    # The same work occlusion does per batch: forward passes of copies with one token replaced.
    n = OCCLUSION_SAMPLE
    occluded = ids.repeat(n, 1)
    positions = torch.linspace(0, seq_len - 1, n).long()
    occluded[torch.arange(n), positions] = baseline
    with torch.no_grad():
        start = time.perf_counter()
        model(occluded, use_cache=False)
        per_position = (time.perf_counter() - start) / n
    return {"occlusion_s": forward_s + per_position * seq_len,
            "occlusion_measured": f"sample of {n} positions x {seq_len}",
            "occlusion_positions_timed": n}


def attribution_costs(model, name: str, seq_len: int, log=print) -> dict:
    """One row: seconds and forward-pass units of each method, and LRP's peak extra memory."""
    ids = prompt_ids(model, seq_len)
    with torch.no_grad():
        logits = model(ids, use_cache=False).logits[0, -1]
    target = int(logits.argmax())
    baseline = model.config.pad_token_id if model.config.pad_token_id is not None else 0

    def lrp_heads():
        with attnlrp(model):
            return attention_relevance(model, ids, target)

    # Memory first: memory that earlier calls freed but the allocator kept would hide part of
    # the peak from the resident-size measurement.
    memory_gib, maps = peak_extra_memory(lrp_heads)
    del maps
    with torch.no_grad():
        forward_s, _ = timed(lambda: model(ids, use_cache=False).logits[0, -1])
    log(f"  {name} @ {seq_len} tokens: forward {forward_s:.3f} s, LRP+heads peak +{memory_gib} GiB")
    ixg_s, _ = timed(lambda: input_x_gradient(model, ids, target))

    def lrp():
        with attnlrp(model):
            return input_x_gradient(model, ids, target)

    lrp_s, _ = timed(lrp)
    heads_s, _ = timed(lrp_heads)
    log(f"  {name} @ {seq_len} tokens: IxG {ixg_s:.3f} s, LRP {lrp_s:.3f} s, "
        f"LRP+heads {heads_s:.3f} s")
    row = {"model": name, "tokens": seq_len, "forward_s": forward_s, "ixg_s": ixg_s,
           "lrp_s": lrp_s, "lrp_heads_s": heads_s, "lrp_heads_peak_extra_gib": memory_gib}
    row.update(_occlusion_cost(model, ids, target, baseline, forward_s))
    for method in ("occlusion", "ixg", "lrp", "lrp_heads"):
        row[f"{method}_forward_units"] = row[f"{method}_s"] / forward_s
    log(f"  {name} @ {seq_len} tokens: occlusion {row['occlusion_s']:.1f} s "
        f"({row['occlusion_measured']})")
    return row


def param_gib(model, bytes_per_param: int) -> float:
    return sum(p.numel() for p in model.parameters()) * bytes_per_param / 2**30


def bf16_estimate(rows: list[dict], model) -> list[dict]:
    """GPU memory estimate for LRP with head gradients in bf16: weights at 2 bytes per
    parameter plus half the measured fp32 extra (activations, attention maps and their
    gradients all halve). An estimate from CPU measurements, not a GPU measurement."""
    weights = param_gib(model, 2)
    return [{"model": r["model"], "tokens": r["tokens"], "weights_bf16_gib": round(weights, 2),
             "extra_bf16_gib": None if r["lrp_heads_peak_extra_gib"] is None
             else round(r["lrp_heads_peak_extra_gib"] / 2, 2),
             "total_bf16_gib": None if r["lrp_heads_peak_extra_gib"] is None
             else round(weights + r["lrp_heads_peak_extra_gib"] / 2, 2)}
            for r in rows]
