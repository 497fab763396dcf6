"""The one place that finds layers in a model and hooks them, always with a scoped hook.

Llama, Qwen2 and Qwen3 causal LMs keep their decoder layers at `model.model.layers` and, in each
layer, the attention projections `self_attn.{q,k,v,o}_proj`. A head's output is its slice of
the input of `o_proj`: the attention layer concatenates its heads' outputs
[.., n_heads * head_dim] and `o_proj` mixes them into the residual stream.

    with capture_head_outputs(model) as outputs:          # layer -> [batch, seq, n_heads, head_dim]
        model(input_ids)
    with o_proj_pre_hooks(model, {3: hook}):               # hook(module, args) may return new args
        model(input_ids)
    with layer_pre_hooks(model, {2: hook}):                # the residual stream entering layer 2
        model(input_ids)
    with layer_output_hooks(model, {2: hook}):             # the residual stream leaving layer 2
        model(input_ids)

Every context manager removes its hooks when the block ends, also when it raises.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable

import torch

from utils.models import model_shape

FAMILIES = ("llama", "qwen2", "qwen3")
PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj")


def decoder_layers(model) -> torch.nn.ModuleList:
    """The decoder layers of a Llama / Qwen2 / Qwen3 causal LM (`model.model.layers`)."""
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    layers = getattr(getattr(model, "model", None), "layers", None)
    if model_type not in FAMILIES or layers is None:
        raise ValueError(
            f"{type(model).__name__} (model_type {model_type!r}) is not a causal LM of the "
            "families whose decoder layers and attention projections the course's hooks find: "
            "Llama, Qwen2 and Qwen3. Load one with utils.models.load_model.")
    return layers


def attention_projection(model, layer: int, name: str) -> torch.nn.Module:
    """`self_attn.<name>` of decoder layer `layer`; name is one of q_proj, k_proj, v_proj, o_proj."""
    if name not in PROJECTIONS:
        raise ValueError(f"Unknown projection {name!r}: choose one of {', '.join(PROJECTIONS)}.")
    layers = decoder_layers(model)
    if not 0 <= layer < len(layers):
        raise ValueError(f"Layer {layer} does not exist: the model has layers 0..{len(layers) - 1}.")
    return getattr(layers[layer].self_attn, name)


def out_projections(model) -> list[torch.nn.Module]:
    """The attention output projection of every layer (`self_attn.o_proj`)."""
    return [layer.self_attn.o_proj for layer in decoder_layers(model)]


def split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """[..., n_heads * head_dim] -> [..., n_heads, head_dim] (a view: writes go through)."""
    return x.unflatten(-1, (n_heads, x.shape[-1] // n_heads))


@contextmanager
def hooks_removed_on_exit():
    """Collect hook handles in a list; every one is removed when the block ends, errors too."""
    handles = []
    try:
        yield handles
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def layer_pre_hooks(model, hooks: dict[int, Callable], with_kwargs: bool = False):
    """Register `hooks[layer]` as forward pre-hooks on those decoder layers.

    A hook sees the residual stream entering the layer (`args[0]`, [batch, seq, d], or
    `kwargs["hidden_states"]`) and may return new inputs. Removed on exit, errors too.
    """
    with _on_layers(model, hooks, lambda block, hook: block.register_forward_pre_hook(
            hook, with_kwargs=with_kwargs)):
        yield


@contextmanager
def layer_output_hooks(model, hooks: dict[int, Callable]):
    """Register `hooks[layer](module, args, output)` as forward hooks on those decoder layers.

    `output` is the residual stream leaving the layer ([batch, seq, d], or a tuple whose first
    element it is, depending on the transformers version); a hook may return a new output.
    Removed on exit, errors too.
    """
    with _on_layers(model, hooks, lambda block, hook: block.register_forward_hook(hook)):
        yield


@contextmanager
def _on_layers(model, hooks: dict[int, Callable], register: Callable):
    """register(decoder_layer, hook) -> handle for each layer in `hooks`; all removed on exit."""
    layers = decoder_layers(model)
    with hooks_removed_on_exit() as handles:
        for layer, hook in hooks.items():
            if not 0 <= layer < len(layers):
                raise ValueError(f"Layer {layer} does not exist: the model has layers "
                                 f"0..{len(layers) - 1}.")
            handles.append(register(layers[layer], hook))
        yield


@contextmanager
def projection_hooks(model, name: str, hooks: dict[int, Callable], pre: bool = False):
    """Register `hooks[layer]` on those layers' attention projection `name` (e.g. "v_proj").

    pre=False: forward hooks hook(module, args, output), which may return a new output;
    pre=True: forward pre-hooks hook(module, args), which may return new args.
    Removed on exit, errors too.
    """
    with hooks_removed_on_exit() as handles:
        for layer, hook in hooks.items():
            module = attention_projection(model, layer, name)
            handles.append(module.register_forward_pre_hook(hook) if pre
                           else module.register_forward_hook(hook))
        yield


def o_proj_pre_hooks(model, hooks: dict[int, Callable]):
    """Register `hooks[layer](module, args)` as forward pre-hooks on those layers' `o_proj`.

    A hook sees `args[0]`, the concatenated head outputs [batch, seq, n_heads * head_dim]; it may
    return new args to replace them. All hooks are removed on exit, also after an exception.
    """
    return projection_hooks(model, "o_proj", hooks, pre=True)


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
