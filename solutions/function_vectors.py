"""Notebook 03: capture what attention heads write, transplant it into another prompt, and build
function vectors from heads' mean outputs."""
from __future__ import annotations

from collections import defaultdict
from contextlib import contextmanager

import torch

from solutions.attention_heads import attention_relevance
from utils.hooks import capture_head_outputs, o_proj_pre_hooks, out_projections, split_heads
from utils.lrp import attnlrp
from utils.models import input_device, model_shape
from utils.tokens import answer_token_id, encode
from utils.validate import (check_finite, check_finite_number, check_head_vectors, check_heads,
                            check_input_ids, check_not_empty, check_same_length)


# ---------------------------------------------------------------------------------------------
# Exercise 1: capture and transplant

def head_outputs_at_last(model, input_ids, heads):
    """What each head in `heads` writes at the last position of `input_ids` [1, seq].

    heads: list of (layer, head); returns [len(heads), head_dim], the head's slice of the input
    of the attention output projection (o_proj), on the CPU.
    """
    heads = check_heads(model, heads)
    check_input_ids(model, input_ids)
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
    scale = check_finite_number(scale, "scale")
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
# Exercise 5: heads that read a substring

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


# ---------------------------------------------------------------------------------------------
# Exercises 2-4: function vectors (Todd et al. 2024)

def mean_head_outputs(model, tokenizer, prompts):
    """Mean over `prompts` of what every head writes at the last position.

    prompts: in-context prompts of one task; returns [n_layers, n_heads, head_dim] (float, CPU).
    """
    check_not_empty(prompts, "prompts")
    n_layers, n_heads, head_dim = model_shape(model)
    total = torch.zeros(n_layers, n_heads, head_dim)
    with capture_head_outputs(model) as outputs, torch.no_grad():
        for prompt in prompts:
            model(encode(tokenizer, prompt, model))
            for layer in range(n_layers):
                total[layer] += outputs[layer][0, -1].float().cpu()
    return total / len(prompts)


def indirect_effects(model, tokenizer, prompts, answers, mean_outputs):
    """Causal indirect effect of every head: [n_layers, n_heads].

    prompts: in-context prompts with SHUFFLED labels, answers: their correct answers (" word").
    For each head, its output at the last position is replaced by its mean output over clean
    prompts (`mean_outputs` [n_layers, n_heads, head_dim]); the effect is the rise of the
    probability of the answer's first token, averaged over prompts.
    """
    check_not_empty(prompts, "prompts")
    check_same_length(prompts, answers, "prompts", "answers")
    n_layers, n_heads, head_dim = model_shape(model)
    if tuple(mean_outputs.shape) != (n_layers, n_heads, head_dim):
        raise ValueError(f"mean_outputs must be [{n_layers}, {n_heads}, {head_dim}], got "
                         f"{tuple(mean_outputs.shape)}: compute them with mean_head_outputs.")
    check_finite(mean_outputs, "mean_outputs")
    effects = torch.zeros(n_layers, n_heads)
    for prompt, answer in zip(prompts, answers):
        ids = encode(tokenizer, prompt, model)
        target = answer_token_id(tokenizer, prompt, answer)
        with torch.no_grad():
            clean = model(ids).logits[0, -1].float().softmax(-1)[target]
            for layer in range(n_layers):
                for head in range(n_heads):
                    with transplant_heads(model, [(layer, head)], mean_outputs[layer, head][None]):
                        patched = model(ids).logits[0, -1].float().softmax(-1)[target]
                    effects[layer, head] += float(patched - clean)
    return effects / len(prompts)


def function_vector(model, mean_outputs, heads):
    """The function vector: sum over `heads` of o_proj applied to the head's mean output alone.

    mean_outputs: [n_layers, n_heads, head_dim]; heads: list of (layer, head); returns [d_model].
    """
    heads = check_heads(model, heads)
    check_finite(mean_outputs, "mean_outputs")
    _, n_heads, head_dim = model_shape(model)
    vector = torch.zeros(model.config.hidden_size)
    for layer, head in heads:
        weight = out_projections(model)[layer].weight          # [d_model, n_heads * head_dim]
        columns = weight[:, head * head_dim:(head + 1) * head_dim].float().cpu()
        vector += columns @ mean_outputs[layer, head].float()
    return vector
