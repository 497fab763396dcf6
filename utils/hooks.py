"""Read and overwrite what single attention heads write, with hooks that always come off.

A head's output is its slice of the input of the attention output projection (`o_proj`): the
attention layer concatenates its heads' outputs [.., n_heads * head_dim] and `o_proj` mixes them
into the residual stream. Llama, Qwen2 and Qwen3 all keep it at
`model.model.layers[i].self_attn.o_proj`.

    with capture_head_outputs(model) as outputs:          # layer -> [batch, seq, n_heads, head_dim]
        model(input_ids)
    with replace_head_outputs(model, {(3, 5): vector}, scale=2.0):
        model.generate(...)                               # head 3.5 writes 2 * vector at the end

Every context manager removes its hooks when the block ends, also when it raises.
"""
from __future__ import annotations

from collections import defaultdict
from contextlib import contextmanager
from typing import Callable

import torch

from utils.models import model_shape
from utils.validate import check_heads


def out_projections(model) -> list[torch.nn.Module]:
    """The attention output projection of every layer (`self_attn.o_proj`)."""
    try:
        layers = model.model.layers
        return [layer.self_attn.o_proj for layer in layers]
    except AttributeError:
        raise ValueError(
            f"{type(model).__name__} has no `model.layers[i].self_attn.o_proj`: the course's hooks "
            "cover Llama, Qwen2 and Qwen3 models. Load one with utils.models.load_model.") from None


def split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """[..., n_heads * head_dim] -> [..., n_heads, head_dim] (a view: writes go through)."""
    return x.unflatten(-1, (n_heads, x.shape[-1] // n_heads))


@contextmanager
def o_proj_pre_hooks(model, hooks: dict[int, Callable]):
    """Register `hooks[layer](module, args)` as forward pre-hooks on those layers' `o_proj`.

    A hook sees `args[0]`, the concatenated head outputs [batch, seq, n_heads * head_dim]; it may
    return new args to replace them. All hooks are removed on exit, also after an exception.
    """
    projections = out_projections(model)
    handles = []
    try:
        for layer, hook in hooks.items():
            if not 0 <= layer < len(projections):
                raise ValueError(f"Layer {layer} does not exist: the model has layers "
                                 f"0..{len(projections) - 1}.")
            handles.append(projections[layer].register_forward_pre_hook(hook))
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def capture_head_outputs(model, layers=None):
    """Inside the block, every forward pass stores each head's output per layer.

    Yields a dict layer -> [batch, seq, n_heads, head_dim] (detached, on the layer's device),
    overwritten by each forward pass (during generation: the latest step).
    """
    n_layers, n_heads, _ = model_shape(model)
    layers = range(n_layers) if layers is None else layers
    outputs: dict[int, torch.Tensor] = {}

    def store(layer):
        def hook(module, args):
            outputs[layer] = split_heads(args[0], n_heads).detach()
        return hook

    with o_proj_pre_hooks(model, {layer: store(layer) for layer in layers}):
        yield outputs


@contextmanager
def replace_head_outputs(model, vectors: dict[tuple[int, int], torch.Tensor], scale: float = 1.0,
                         position: int = -1):
    """Inside the block, head (layer, head) writes `scale * vectors[(layer, head)]` [head_dim].

    It is replaced at `position` (default the last) of every forward pass, so during cached
    generation at the prompt's last token and then at every generated token.
    """
    check_heads(model, vectors)
    _, n_heads, head_dim = model_shape(model)
    by_layer = defaultdict(list)
    for (layer, head), vector in vectors.items():
        if vector.shape[-1] != head_dim:
            raise ValueError(f"The vector for head ({layer}, {head}) has {vector.shape[-1]} values; "
                             f"a head writes {head_dim}.")
        by_layer[layer].append((head, vector))

    def replace(layer):
        def hook(module, args):
            x = args[0].clone()                      # never write into the model's own tensor
            per_head = split_heads(x, n_heads)       # a view of the clone
            for head, vector in by_layer[layer]:
                per_head[:, position, head] = scale * vector.to(x.device, x.dtype)
            return (x,) + tuple(args[1:])
        return hook

    with o_proj_pre_hooks(model, {layer: replace(layer) for layer in by_layer}):
        yield
