"""Where each model family keeps its parts: the one table the course reads them from.

    FAMILIES["llama"].layers         # "model.layers": dotted path from the causal LM
    part(model, "final_norm")        # the module itself, found through the model's family

A family is a transformers `model_type`; SmolLM2 is a "llama". Paths are dotted attribute
names: `layers`, `body`, `final_norm`, `unembedding` and `rotary` from the causal LM,
`attention` from one decoder layer, `o_proj` from the attention module. `lrp_rules` names the
lxt module whose patch maps (AttnLRP, CP-LRP) cover the family. A new family is one entry here
(`registered_family` adds one for the length of a block, e.g. in a test); `utils.hooks`
finds layers through it, `utils.lrp` its rules, `utils.models` the families it loads.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Family:
    """Dotted paths to a family's parts, and the lxt module with its LRP rules."""
    lrp_rules: str                       # e.g. "lxt.efficient.models.llama"
    layers: str = "model.layers"         # ModuleList of decoder layers
    attention: str = "self_attn"         # in a decoder layer
    o_proj: str = "o_proj"               # in the attention module: reads the heads' outputs
    body: str = "model"                  # the decoder stack: inputs_embeds -> last_hidden_state
    final_norm: str = "model.norm"       # the norm between the last layer and the unembedding
    unembedding: str = "lm_head"         # hidden state [.., d] -> logits [.., vocab]
    rotary: str = "model.rotary_emb"     # rotary position embeddings shared by every layer


FAMILIES: dict[str, Family] = {
    "llama": Family(lrp_rules="lxt.efficient.models.llama"),
    "qwen2": Family(lrp_rules="lxt.efficient.models.qwen2"),
    "qwen3": Family(lrp_rules="lxt.efficient.models.qwen3"),
}
PARTS = ("layers", "body", "final_norm", "unembedding", "rotary")   # paths from the causal LM


def model_type(model) -> str | None:
    return getattr(getattr(model, "config", None), "model_type", None)


def family(model) -> Family:
    """The registry's entry for the model's family; a clear error for any other model."""
    kind = model_type(model)
    if kind not in FAMILIES:
        names = ", ".join(FAMILIES)
        raise ValueError(
            f"{type(model).__name__} (model_type {kind!r}) is not a causal LM of the families "
            f"whose parts the course knows ({names}; Llama, Qwen2 and Qwen3 models). Load one "
            "with utils.models.load_model, or add the family to utils.families.FAMILIES.")
    return FAMILIES[kind]


def _walk(root, path: str, what: str, model):
    obj = root
    for name in path.split("."):
        obj = getattr(obj, name, None)
        if obj is None:
            raise ValueError(f"{type(model).__name__} has no {what} at `{path}`, where its family "
                             f"({model_type(model)!r}) in utils.families.FAMILIES says it is.")
    return obj


def part(model, name: str) -> torch.nn.Module:
    """The model's `name` part (one of PARTS), found through its family's entry."""
    if name not in PARTS:
        raise ValueError(f"Unknown model part {name!r}: choose one of {', '.join(PARTS)}.")
    return _walk(model, getattr(family(model), name), name, model)


def owner_and_attribute(model, name: str) -> tuple[torch.nn.Module, str]:
    """(module holding the part, attribute name): to put another module in its place."""
    if name not in PARTS:
        raise ValueError(f"Unknown model part {name!r}: choose one of {', '.join(PARTS)}.")
    *parents, attribute = getattr(family(model), name).split(".")
    owner = _walk(model, ".".join(parents), name, model) if parents else model
    return owner, attribute


def layer_attention(model, layer: torch.nn.Module) -> torch.nn.Module:
    """The attention module of one decoder layer."""
    return _walk(layer, family(model).attention, "attention module", model)


def attention_output(model, layer: torch.nn.Module) -> torch.nn.Module:
    """The attention's output projection (o_proj) of one decoder layer."""
    return _walk(layer_attention(model, layer), family(model).o_proj, "o_proj", model)


@contextmanager
def registered_family(name: str, entry: Family):
    """Add `entry` as model_type `name` while the block runs (the table is as before on exit)."""
    if name in FAMILIES:
        raise ValueError(f"The family {name!r} is already registered: pick another model_type.")
    FAMILIES[name] = entry
    try:
        yield entry
    finally:
        del FAMILIES[name]
