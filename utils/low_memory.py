"""Input and head relevance for long prompts: one decoder layer's activations kept at a time.

A backward pass needs what every layer saved in the forward pass. With eager attention that is
dominated by the attention weights: per layer n_heads x seq x seq values, several copies (the
softmax output in fp32, its bf16 copy, and under the notebook's `attention_relevance` the
retained weights and their gradients). Two changes keep the result and drop that memory:

1. Checkpointing: each decoder layer's forward pass runs under `torch.utils.checkpoint`, which
   keeps only the layer's input and recomputes the layer during the backward pass, one layer at
   a time (one more forward pass of compute). The recomputation runs the same functions (the
   AttnLRP rules too, inside `attnlrp`), so the gradients are those of the plain backward pass.
2. Head relevance without attention weights: a head's relevance, sum over (q, k) of
   A[q, k] * dA[q, k], equals sum over q of its output o[q] times the output's gradient g[q]
   (o[q] = sum_k A[q, k] v[k]; notebook 04 uses the same identity). A hook on each head's
   output (the input of o_proj) adds up o * g as the gradient arrives: nothing n x n is kept.

    with attnlrp(model):
        relevance = input_relevance_low_memory(model, input_ids, target_id)    # [seq]
        heads = head_relevance_low_memory(model, input_ids, target_id)          # [layers, heads]

Both equal `input_x_gradient` / `head_relevance` up to float rounding (tests/test_low_memory.py).
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
from torch.utils.checkpoint import checkpoint

from utils.hooks import decoder_layers, head_output_x_gradient, head_outputs_in_graph
from utils.models import input_device, model_shape


@contextmanager
def checkpointed_layers(model):
    """Inside the block every decoder layer runs under activation checkpointing; the layers'
    own `forward` is back on exit (also after an error)."""
    layers = decoder_layers(model)
    patched = []
    try:
        for layer in layers:
            original = layer.forward

            def forward(*args, _original=original, **kwargs):
                # non-reentrant: works with inputs that need no gradient and with kwargs
                return checkpoint(_original, *args, use_reentrant=False, **kwargs)

            layer.forward = forward          # an instance attribute shadows the class method
            patched.append(layer)
        yield model
    finally:
        for layer in patched:
            del layer.forward


def _score(model, embeds, target_id, foil_id):
    """The explained logit at the last position (only that row goes through lm_head)."""
    out = model(inputs_embeds=embeds, use_cache=False, logits_to_keep=1)
    logits = out.logits[0, -1]
    return logits[target_id] if foil_id is None else logits[target_id] - logits[foil_id]


def input_relevance_low_memory(model, input_ids, target_id, foil_id=None) -> torch.Tensor:
    """Input x Gradient (LRP inside `attnlrp`) with checkpointed layers: [seq] float32 on CPU."""
    input_ids = input_ids.to(input_device(model))
    embeds = model.get_input_embeddings()(input_ids).detach().requires_grad_(True)
    with checkpointed_layers(model):
        _score(model, embeds, target_id, foil_id).backward()
    return (embeds * embeds.grad).sum(-1)[0].float().detach().cpu()


def head_relevance_low_memory(model, input_ids, target_id, foil_id=None) -> torch.Tensor:
    """Head relevance [n_layers, n_heads] (float32, CPU) as `head_relevance` computes it from
    attention weights, here from head outputs and their gradients with checkpointed layers."""
    n_layers, n_heads, _ = model_shape(model)
    input_ids = input_ids.to(input_device(model))
    embeds = model.get_input_embeddings()(input_ids).detach().requires_grad_(True)
    with checkpointed_layers(model):
        with head_outputs_in_graph(model) as kept:
            score = _score(model, embeds, target_id, foil_id)
        # the hooks are off before the backward pass, in which checkpointing recomputes layers
        outputs = [kept[layer] for layer in range(n_layers)]
        grads = torch.autograd.grad(score, outputs, allow_unused=True)
    if any(g is None for g in grads):
        raise RuntimeError("No gradient reached some head outputs: is the target reachable?")
    return torch.stack([head_output_x_gradient(o.detach(), g, n_heads, dtype=torch.float32).detach().cpu()
                        for o, g in zip(outputs, grads)])
