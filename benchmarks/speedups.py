"""The speed-ups the notebooks claim, measured side by side with a check that results agree.

- notebook 04: per-token head relevance, batched (one forward pass) vs one pass per token;
- notebook 05: activation patching of the residual stream, batched vs one run per patch.
A function another module does not (yet) provide is reported as not available, not as a failure.
"""
from __future__ import annotations

import time

import torch


def _agreement(a: torch.Tensor, b: torch.Tensor) -> dict:
    """Largest absolute difference, relative to the largest absolute value (NaNs must match)."""
    a, b = a.float().cpu(), b.float().cpu()
    same_nan = bool(torch.equal(torch.isnan(a), torch.isnan(b)))
    valid = ~torch.isnan(a) & ~torch.isnan(b)
    diff = float((a[valid] - b[valid]).abs().max()) if valid.any() else 0.0
    scale = float(a[valid].abs().max()) if valid.any() else 0.0
    relative = diff / scale if scale > 0 else diff
    return {"max_abs_diff": diff, "max_relative_diff": relative,
            "equal": same_nan and a.shape == b.shape and relative < 1e-3}


def _row(name, notebook, loop_s, batched_s, agreement, setting) -> dict:
    return {"name": name, "notebook": notebook, "setting": setting, "loop_s": loop_s,
            "batched_s": batched_s, "speedup": loop_s / batched_s, **agreement,
            "available": True}


def _missing(name, notebook, err) -> dict:
    return {"name": name, "notebook": notebook, "available": False,
            "reason": f"{type(err).__name__}: {err}"}


def per_token_head_relevance(model, tokenizer, n_tokens: int = 100, log=print) -> dict:
    """Notebook 04: head relevance of each of the last `n_tokens` tokens of the patient record
    and the handover request (the notebook explains up to 100 tokens of a generated summary)."""
    name = "per-token head relevance (batched vs per-token loop)"
    try:
        from solutions.attention_heads import head_relevance
        from utils.conflicts import token_head_relevance_batched, token_head_relevance_loop
    except (ImportError, AttributeError) as err:
        return _missing(name, "04", err)
    from utils.lrp import attnlrp
    from utils.prompts import HANDOVER_REQUEST, PATIENT_RECORD
    from utils.tokens import encode

    ids = encode(tokenizer, f"{PATIENT_RECORD}\n\n{HANDOVER_REQUEST}", model)
    n_tokens = min(n_tokens, ids.shape[1] - 1)
    start = ids.shape[1] - n_tokens
    with attnlrp(model):
        t0 = time.perf_counter()
        looped = token_head_relevance_loop(model, ids, start, head_relevance=head_relevance)
        t1 = time.perf_counter()
        batched = token_head_relevance_batched(model, ids, start)
        t2 = time.perf_counter()
    row = _row(name, "04", t1 - t0, t2 - t1, _agreement(looped, batched),
               f"{n_tokens} tokens explained in a {ids.shape[1]}-token text")
    log(f"  {name}: {row['speedup']:.1f}x, equal: {row['equal']}")
    return row


def residual_patching(model, tokenizer, log=print) -> dict:
    """Notebook 05: patch the clean residual stream into the corrupted run at every (layer,
    position) of the first sentiment prompt."""
    name = "residual-stream patching (batched vs one run per patch)"
    try:
        from solutions.activation_patching import patch_residual_stream
        from utils.patching import (align_prompts, cache_activations, clean_and_corrupted_logprob,
                                    normalised_logprob, patch_residual_batched)
        from utils.prompts import SENTIMENT_TESTS, sentiment_prompt
    except (ImportError, AttributeError) as err:
        return _missing(name, "05", err)

    review, label = SENTIMENT_TESTS[0]
    pair = align_prompts(tokenizer, sentiment_prompt(review), sentiment_prompt(review, corrupted=True),
                         f" {label}", model=model)
    cache = cache_activations(model, pair.clean_inputs())
    clean, corrupted = clean_and_corrupted_logprob(model, pair)

    def metric(logits):
        return normalised_logprob(logits, pair.answer_id, clean, corrupted)

    t0 = time.perf_counter()
    looped = patch_residual_stream(model, pair, cache["resid"], metric)
    t1 = time.perf_counter()
    batched = patch_residual_batched(model, pair, cache, metric)
    t2 = time.perf_counter()
    row = _row(name, "05", t1 - t0, t2 - t1, _agreement(looped, batched),
               f"{looped.shape[0]} layers x {pair.seq_len} positions")
    log(f"  {name}: {row['speedup']:.1f}x, equal: {row['equal']}")
    return row
