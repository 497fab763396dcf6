"""Notebook 03: capture what attention heads write and transplant it into another prompt."""
from __future__ import annotations

from collections import defaultdict
from contextlib import contextmanager

import torch

from solutions.attention_heads import attention_relevance
from utils.hooks import o_proj_pre_hooks, split_heads
from utils.lrp import attnlrp
from utils.models import input_device, model_shape
from utils.tokens import encode
from utils.validate import check_head_vectors


# ---------------------------------------------------------------------------------------------
# Exercise 5: capture and transplant

def head_outputs_at_last(model, input_ids, heads):
    """What each head in `heads` writes at the last position of `input_ids` [1, seq].

    heads: list of (layer, head); returns [len(heads), head_dim], the head's slice of the input
    of the attention output projection (o_proj), on the CPU.
    """
    _, n_heads, _ = model_shape(model)
    stored = {}  # layer -> [n_heads, head_dim] at the last position

    def store(layer):
        def hook(module, args):
            stored[layer] = split_heads(args[0], n_heads)[0, -1].detach()
        return hook

    layers = sorted({layer for layer, _ in heads})
    with o_proj_pre_hooks(model, {layer: store(layer) for layer in layers}), torch.no_grad():
        model(input_ids.to(input_device(model)))
    return torch.stack([stored[layer][head].float().cpu() for layer, head in heads])


@contextmanager
def transplant_heads(model, heads, vectors, scale=1.0):
    """Inside the block, head `heads[i]` writes `scale * vectors[i]` at the last position.

    heads: list of (layer, head); vectors: [len(heads), head_dim]. The last position of every
    forward pass is patched: during cached generation, the prompt's last token, then each new one.
    """
    heads, vectors = check_head_vectors(model, heads, vectors)
    _, n_heads, _ = model_shape(model)
    by_layer = defaultdict(list)
    for (layer, head), vector in zip(heads, vectors):
        by_layer[layer].append((head, vector))

    def replace(layer):
        def hook(module, args):
            x = args[0].clone()                 # the model's own tensor stays untouched
            per_head = split_heads(x, n_heads)  # a view of the clone: writes land in x
            for head, vector in by_layer[layer]:
                per_head[:, -1, head] = scale * vector.to(x.device, x.dtype)
            return (x,) + tuple(args[1:])
        return hook

    with o_proj_pre_hooks(model, {layer: replace(layer) for layer in by_layer}):
        yield


# ---------------------------------------------------------------------------------------------
# Exercise 6: heads that read a substring

def substring_token_positions(tokenizer, prompt, substring):
    """Positions of the tokens of `prompt` (BOS included) that overlap `substring`: [n] (long).

    Characters are mapped to tokens with the tokenizer's offsets; the first occurrence counts.
    """
    start = prompt.find(substring) if substring else -1
    if start < 0:
        raise ValueError(f"{substring!r} is not in the prompt. Copy the substring exactly from the "
                         "prompt (case, spaces and punctuation matter).")
    end = start + len(substring)
    offsets = tokenizer(prompt, return_offsets_mapping=True)["offset_mapping"]
    # A token overlaps the substring when its span [a, b) intersects [start, end); special
    # tokens such as BOS have empty spans and never count.
    positions = [i for i, (a, b) in enumerate(offsets) if b > a and a < end and b > start]
    return torch.tensor(positions, dtype=torch.long)


def substring_head_scores(model, tokenizer, prompt, substring, target_id=None):
    """Per head, the positive AttnLRP relevance the last query position puts on `substring`.

    target_id: the token to explain (default: the model's top prediction after `prompt`).
    Returns [n_layers, n_heads].
    """
    positions = substring_token_positions(tokenizer, prompt, substring)
    input_ids = encode(tokenizer, prompt, model)
    if target_id is None:
        with torch.no_grad():
            target_id = int(model(input_ids).logits[0, -1].argmax())
    with attnlrp(model):
        maps = attention_relevance(model, input_ids, target_id)   # [L, H, q, k]
    return maps[:, :, -1, positions].clamp(min=0).sum(-1)
