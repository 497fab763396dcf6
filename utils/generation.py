"""Greedy generation as a plain loop, so that forward hooks see one new token per step.

The first forward pass reads the whole prompt; each later one only the newest token (the KV
cache holds the rest). A hook that edits or reads "the last position" therefore always acts
on the token being predicted from, which `model.generate` does not promise.
"""
from __future__ import annotations

import torch

from utils.models import input_device


def stop_token_ids(model, tokenizer) -> set[int]:
    """The tokenizer's end token plus every end token of the model's generation config
    (an instruction-tuned model also ends its turn with e.g. <|eot_id|>)."""
    stop = set()
    config = getattr(model, "generation_config", None)
    for source in (tokenizer.eos_token_id, getattr(config, "eos_token_id", None)):
        stop |= set(source if isinstance(source, (list, tuple)) else [source]) - {None}
    return stop


def greedy_ids(model, tokenizer, input_ids: torch.Tensor, max_new_tokens: int = 100) -> torch.Tensor:
    """[1, prompt + new] token ids; stops before an end token or after max_new_tokens."""
    stop = stop_token_ids(model, tokenizer)
    ids = step = input_ids.to(input_device(model))
    cache = None
    with torch.no_grad():
        for _ in range(max_new_tokens):
            out = model(input_ids=step, past_key_values=cache, use_cache=True)
            cache = out.past_key_values
            step = out.logits[:, -1:].argmax(-1)            # [1, 1]
            if int(step) in stop:
                break
            ids = torch.cat([ids, step], dim=1)
    return ids
