"""The one place that finds layers and parts of a model and hooks them, always scoped.

Where a family keeps its parts is written once, in `utils.families.FAMILIES` (Llama, Qwen2 and
Qwen3: decoder layers at `model.layers`, in each layer the attention projections
`self_attn.{q,k,v,o}_proj`, then the final norm and `lm_head`). A head's output is its slice of
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

from utils.families import attention_output, layer_attention, owner_and_attribute, part
from utils.models import model_shape

PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj")


def decoder_layers(model) -> torch.nn.ModuleList:
    """The decoder layers of a causal LM of a registered family (Llama: `model.model.layers`)."""
    return part(model, "layers")


def decoder_body(model) -> torch.nn.Module:
    """The decoder stack without the unembedding: inputs_embeds -> last_hidden_state [b, s, d]."""
    return part(model, "body")


def final_norm(model) -> torch.nn.Module:
    """The norm between the last decoder layer and the unembedding (its input: the residual
    stream leaving the last layer)."""
    return part(model, "final_norm")


def unembedding(model) -> torch.nn.Module:
    """The output layer (`lm_head`): normed hidden state [.., d] -> logits [.., vocab]."""
    return part(model, "unembedding")


@contextmanager
def replaced_part(model, name: str, module: torch.nn.Module):
    """Put `module` in place of the model's part `name` (see utils.families.PARTS) while the
    block runs; the original is back on exit, errors too."""
    owner, attribute = owner_and_attribute(model, name)
    original = getattr(owner, attribute)
    setattr(owner, attribute, module)
    try:
        yield module
    finally:
        setattr(owner, attribute, original)


@contextmanager
def layers_from(model, first: int):
    """Keep only decoder layers first.. while the block runs, so that `inputs_embeds` stands for
    the residual stream entering layer `first` (Llama and Qwen do not rescale embeddings). The
    layers below run as they would anyway when an intervention touches layers first.. only:
    pass their output (a cached residual stream) instead of computing it again. Hooks on the
    layers themselves keep working; register them before entering, by their full-model index."""
    with replaced_part(model, "layers", torch.nn.ModuleList(list(decoder_layers(model))[first:])):
        yield


def attention_projection(model, layer: int, name: str) -> torch.nn.Module:
    """`self_attn.<name>` of decoder layer `layer`; name is one of q_proj, k_proj, v_proj, o_proj."""
    if name not in PROJECTIONS:
        raise ValueError(f"Unknown projection {name!r}: choose one of {', '.join(PROJECTIONS)}.")
    layers = decoder_layers(model)
    if not 0 <= layer < len(layers):
        raise ValueError(f"Layer {layer} does not exist: the model has layers 0..{len(layers) - 1}.")
    if name == "o_proj":   # the one projection whose name the family table records
        return attention_output(model, layers[layer])
    return getattr(layer_attention(model, layers[layer]), name)


def out_projections(model) -> list[torch.nn.Module]:
    """The attention output projection of every layer (Llama: `self_attn.o_proj`)."""
    return [attention_output(model, layer) for layer in decoder_layers(model)]


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


@contextmanager
def head_outputs_in_graph(model, layers=None):
    """Inside the block, every forward pass keeps each layer's head outputs (o_proj's input,
    [batch, seq, n_heads * head_dim]) in the autograd graph: yields a dict layer -> tensor,
    overwritten by each pass. Differentiate a score with respect to them, then score each head
    with `head_output_x_gradient`."""
    layers = range(len(decoder_layers(model))) if layers is None else layers
    kept: dict[int, torch.Tensor] = {}

    def keep(layer):
        def hook(module, args):
            kept[layer] = args[0]
        return hook

    with o_proj_pre_hooks(model, {layer: keep(layer) for layer in layers}):
        yield kept


def head_output_x_gradient(output: torch.Tensor, grad: torch.Tensor, n_heads: int,
                           position: int | None = None, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Each head's output times its gradient, summed over head_dim, batch and positions: [n_heads].

    output, grad: [batch, seq, n_heads * head_dim] (o_proj's input and the score's gradient with
    respect to it). position: only that position instead of all. dtype: cast the products before
    summing (e.g. float32 for a bf16 model). Inside `attnlrp` this is a head's LRP relevance: for
    a head, sum over (q, k) of A[q, k] * dA[q, k] equals sum over q of o[q] * g[q]. Keeps the
    graph of `grad` (differentiable again when it was computed with create_graph=True).
    """
    product = output * grad
    if dtype is not None:
        product = product.to(dtype)
    if position is None:
        return split_heads(product, n_heads).sum(dim=(0, 1, 3))
    return split_heads(product[:, position], n_heads).sum(-1).sum(0)
