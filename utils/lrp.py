"""Switch AttnLRP (lxt) on and off for a loaded Llama / Qwen2 / Qwen3 model.

    with attnlrp(model):
        relevance = input_x_gradient(model, input_ids, target_id)   # now LRP relevance

lxt implements LRP by replacing a few forward functions of the model's family, so that plain
autograd yields LRP relevance: (input * input.grad) summed over the hidden dimension. Outside
the `with` block every original is back and gradients are exactly those of the unpatched model.
`enable_lrp` / `disable_lrp` do the same without a block (for a notebook that switches back and
forth); prefer the context manager, which also restores on errors.

Two rule sets of lxt, chosen with `rule`:
    attnlrp(model)              # "attn": AttnLRP, relevance through the softmax by its own rule
    attnlrp(model, rule="cp")   # "cp": CP-LRP, the softmax's weights treated as constants, so
                                # relevance flows only through the values (conserved exactly)
"""
from __future__ import annotations

import importlib
import sys
import types
import warnings
from collections.abc import Mapping, MutableMapping
from contextlib import contextmanager

from utils.families import family

_LXT_VIT_MODULE = "lxt.efficient.models.vit_torch"
_MISSING = object()
_saved: dict[str, list] = {}   # modeling-module name -> [(owner, attribute, original value)]
_rules: dict[str, str] = {}    # modeling-module name -> the rule set now in place
RULES = {"attn": "attnLRP", "cp": "cp_LRP"}   # our name -> the name of lxt's patch map


def import_lxt_efficient():
    """Import `lxt.efficient`, also where torchvision is missing or broken.

    This is the one place that works around lxt 2.1's import of torchvision: its model registry
    imports the ViT patch module (which imports torchvision) even when only language models are
    patched. Without a working torchvision we register a stand-in for that one module holding the
    two names the registry reads, so the registry loads and the ViT entry is simply never used.
    lxt's optional zennit integration warns when zennit is absent; the course does not use it.
    """
    if _LXT_VIT_MODULE not in sys.modules:
        try:
            import torchvision.models.vision_transformer  # noqa: F401
        except Exception:
            stub = types.ModuleType(_LXT_VIT_MODULE)
            stub.vision_transformer = types.ModuleType("torchvision_vision_transformer_unavailable")
            stub.cp_LRP = {}
            sys.modules[_LXT_VIT_MODULE] = stub
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return importlib.import_module("lxt.efficient")


def _modeling_module(model) -> types.ModuleType:
    """The transformers module that defines the model's classes (e.g. modeling_llama)."""
    family(model)   # a clear error for a family without LRP rules in the registry
    return sys.modules[type(model).__module__]


def patch_map(model, rule: str = "attn") -> dict:
    """lxt's patch map of rule set `rule` ("attn" or "cp") for the model's family: the rule
    module that utils.families.FAMILIES names for it."""
    if rule not in RULES:
        raise ValueError(f"Unknown LRP rule set {rule!r}: choose 'attn' (AttnLRP) or 'cp' "
                         "(CP-LRP, softmax weights held constant).")
    return getattr(importlib.import_module(family(model).lrp_rules), RULES[rule])


def _patch_targets(model, rule: str = "attn") -> list[tuple[object, str]]:
    """Everything lxt's map for the model's family will replace: (owner, attribute) pairs."""
    targets = []
    for target in patch_map(model, rule):
        if isinstance(target, types.ModuleType):
            # patch_attention swaps the module's eager function and its attention registry
            targets += [(target, "eager_attention_forward"), (target, "ALL_ATTENTION_FUNCTIONS")]
        else:
            targets.append((target, "forward"))   # e.g. LlamaMLP, LlamaRMSNorm, torch Dropout
    return targets


class PatchedOutsideError(RuntimeError):
    """The model's family was patched with LRP rules by something other than this module."""


def _from_lxt(value) -> bool:
    """Whether `value` is a function lxt put in place (or a registry of such functions)."""
    if isinstance(value, Mapping):   # a registry of attention functions
        return any(_from_lxt(v) for v in value.values())
    return str(getattr(value, "__module__", "")).startswith("lxt")


def _check_not_patched_outside(module, originals) -> None:
    """Refuse to record lxt's functions as the originals: LRP could never be switched off."""
    patched = [f"{getattr(owner, '__name__', owner)}.{attr}" for owner, attr, value in originals
               if _from_lxt(value)]
    if patched:
        raise PatchedOutsideError(
            f"{module.__name__} is already patched with LRP rules outside utils.lrp "
            f"({', '.join(patched)}), e.g. by calling lxt's own `monkey_patch`. The originals "
            "are lost in this Python session, so LRP could not be switched off again. Restart "
            "cleanly: restart the kernel (Kernel > Restart, or a new Python process), reload "
            "the model, and switch LRP on only with `utils.lrp.attnlrp(model)`.")


def patched_outside(model) -> list[str]:
    """What of the model's family carries lxt's rules without this module having put them there
    (e.g. after lxt's own `monkey_patch`): "Owner.attribute" names, empty when clean."""
    module = _modeling_module(model)
    if module.__name__ in _saved:
        return []
    import_lxt_efficient()
    found = []
    for owner, attr in _patch_targets(model):
        value = vars(owner).get(attr, _MISSING) if isinstance(owner, type) else getattr(owner, attr)
        if _from_lxt(value):
            found.append(f"{getattr(owner, '__name__', owner)}.{attr}")
    return found


def lrp_is_enabled(model) -> bool:
    return type(model).__module__ in _saved


def lrp_rule(model) -> str | None:
    """The rule set now in place for the model's family ("attn", "cp"), or None when off."""
    return _rules.get(type(model).__module__)


def enable_lrp(model, rule: str = "attn") -> None:
    """Patch the model's family with LRP rules: "attn" AttnLRP, "cp" CP-LRP (no-op if that rule
    set is already on; an error if the other one is).

    Raises PatchedOutsideError when lxt's rules are already in place without this module
    having put them there (the functions it would restore later would be lxt's).
    """
    lxt_efficient = import_lxt_efficient()
    module = _modeling_module(model)
    if module.__name__ in _saved:
        if _rules.get(module.__name__) != rule:
            raise RuntimeError(f"LRP rule set {_rules.get(module.__name__)!r} is on; leave its "
                               f"`with attnlrp(...)` block before switching to {rule!r}.")
        return
    targets = _patch_targets(model, rule)
    originals = []
    for owner, attr in targets:
        # vars(), not getattr(): restore exactly what the class itself defined
        value = vars(owner).get(attr, _MISSING) if isinstance(owner, type) else getattr(owner, attr)
        originals.append((owner, attr, value))
    _check_not_patched_outside(module, originals)
    # CP-LRP's attention patch rewrites the registry of attention functions in place (a
    # registry transformers shares across families), so its entries are saved too.
    originals = [(owner, attr, value, dict(value) if isinstance(value, MutableMapping) else None)
                 for owner, attr, value in originals]
    _saved[module.__name__] = originals
    _rules[module.__name__] = rule
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lxt_efficient.monkey_patch(module, patch_map(model, rule))
    except Exception:
        disable_lrp(model)
        raise


def disable_lrp(model) -> None:
    """Put back every original the patch replaced (no-op if LRP is off)."""
    originals = _saved.pop(type(model).__module__, None)
    _rules.pop(type(model).__module__, None)
    if originals is None:
        return
    for owner, attr, value, entries in originals:
        if entries is not None:
            value.clear()
            value.update(entries)
        if value is _MISSING:
            delattr(owner, attr)
        else:
            setattr(owner, attr, value)


@contextmanager
def attnlrp(model, rule: str = "attn"):
    """Context manager: LRP on inside the block, originals restored on exit (errors too).

    rule: "attn" AttnLRP (default); "cp" CP-LRP, softmax weights held constant."""
    was_on = lrp_is_enabled(model)
    enable_lrp(model, rule)
    try:
        yield model
    finally:
        if not was_on:
            disable_lrp(model)

# Input relevance under AttnLRP sums to this fraction of the explained logit (the softmax and the
# normalisation layers absorb the rest). Measured on the shipped course model for its top
# prediction on 30 course prompts: 0.23 to 0.59 (plain Input x Gradient: -0.02 to 0.12, so a
# patch that did not apply falls far below); earlier, smaller course models reached 0.33 to
# 1.18, hence the upper margin. Tests and the health check of every notebook assert it.
CONSERVATION_BAND = (0.2, 1.3)
