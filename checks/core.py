"""What every exercise check shares: tiny test models, comparison and the message to the learner.

A check runs the learner's function and the reference on the same small cases. It prints one
success line, or one line naming what differs (shape, NaN, sign, scale, a known mistake), and
returns the function the rest of the notebook should use: the learner's when it passes, the
reference otherwise, so a notebook keeps running while an exercise is unfinished.

Every call of the learner's function runs inside `state_guard`: whatever it leaves switched on
(LRP rules, hooks, another torch thread count) is put back at once and, when the call returned,
named as the mistake, so it neither misleads the comparison nor stays on in the kernel.
"""
from __future__ import annotations

import functools
from contextlib import contextmanager
from functools import lru_cache
from typing import Callable

import torch

from utils.lrp import disable_lrp, enable_lrp, lrp_rule
from utils.threads import torch_threads_kept

Case = tuple[tuple, dict]


def tiny_llama(seed: int = 0, vocab_size: int = 64, n_layers: int = 2, n_heads: int = 4,
               n_kv_heads: int | None = None):
    """A small random Llama (eager attention, frozen, eval) for checks: builds in milliseconds.
    n_kv_heads below n_heads: grouped-query attention (query heads share key/value heads)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64,
                         num_hidden_layers=n_layers, num_attention_heads=n_heads,
                         num_key_value_heads=n_kv_heads or n_heads, max_position_embeddings=128,
                         attn_implementation="eager")
    model = LlamaForCausalLM(config).eval()
    model.requires_grad_(False)
    return model


# Sentences the small check tokenizer learns its merges from (and the check prompts).
CHECK_TEXTS = [
    "Task: Translation into German: I love AI research\nAnswer:",
    "Q: How much dust is blown from the Sahara each year?\nA: 27 million tons",
    "The cat sat on the mat. The cat was happy.",
]


@lru_cache(maxsize=1)
def tiny_tokenizer():
    """A byte-level BPE tokenizer with BOS, trained in milliseconds on a few sentences."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=["<s>", "</s>", "<pad>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(CHECK_TEXTS * 3, trainer)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 0)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                   pad_token="<pad>")


def random_ids(seed: int, seq_len: int, vocab_size: int = 64) -> torch.Tensor:
    """Token ids [1, seq_len] drawn with a fixed seed."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(1, vocab_size, (1, seq_len), generator=gen)


def _close(a: torch.Tensor, b: torch.Tensor, rtol: float, atol: float) -> bool:
    # NaN where the reference has NaN (e.g. positions with no counterpart) counts as equal
    return a.shape == b.shape and torch.allclose(a.float(), b.float(), rtol=rtol, atol=atol,
                                                 equal_nan=True)


def describe_difference(actual, expected: torch.Tensor, mistakes: dict[str, torch.Tensor] | None = None,
                        rtol: float = 1e-3, atol: float = 1e-4,
                        index_name: Callable[[tuple], str] | None = None) -> str | None:
    """None when `actual` matches `expected`, else one sentence saying how it differs.

    index_name: index tuple -> the words for that entry (e.g. "the prediction for sample 2's
    contextual answer"), for results the check packed into one tensor; default "index (i, j)".
    """
    if not isinstance(actual, torch.Tensor):
        return (f"returned a {type(actual).__name__}, expected a tensor of shape "
                f"{tuple(expected.shape)}.")
    actual = actual.detach().cpu()
    expected = expected.detach().cpu()
    if _close(actual, expected, rtol, atol):
        return None
    for label, wrong in (mistakes or {}).items():   # named whatever its shape
        if isinstance(wrong, torch.Tensor) and _close(actual, wrong.detach().cpu(), rtol, atol):
            return f"matches a typical mistake: {label}."
    if actual.shape != expected.shape:
        hint = ""
        if actual.numel() == expected.numel():
            hint = " Same number of values: a leftover batch dimension or a transpose?"
        elif actual.dim() == expected.dim() + 1:
            hint = " One dimension too many: did you forget to sum (or to index the batch)?"
        return f"has shape {tuple(actual.shape)} but should have {tuple(expected.shape)}.{hint}"
    gaps, wanted = actual.float().isnan(), expected.float().isnan()
    if (wanted & ~gaps).any():
        return (f"has numbers at {int((wanted & ~gaps).sum())} entries that should stay NaN "
                "(positions with nothing to compare, such as pads).")
    if not torch.isfinite(actual.float()[~wanted]).all():
        return "contains NaN or inf values where numbers are expected (a division by zero?)."
    actual, expected = actual.float().nan_to_num(), expected.float().nan_to_num()   # NaN agree
    if expected.numel() == 1:
        # one number has no pattern: any wrong value is a multiple of the right one, so a
        # sign or scale diagnosis would be a guess. Say what came out instead.
        a, e = float(actual.flatten()[0]), float(expected.flatten()[0])
        flipped = " (the right size, the opposite sign)" if _close(actual, -expected, rtol, atol) else ""
        return f"is {a:.4g} instead of {e:.4g}{flipped}."
    a, e = actual.float().flatten(), expected.float().flatten()
    # a sign or scale guess needs at least two entries that are not zero to have a pattern
    patterned = int((e.abs() > atol).sum()) >= 2
    if patterned and _close(actual, -expected, rtol, atol):
        return ("has the wrong sign everywhere: a difference taken the other way round, or a "
                "sign dropped or added on the way.")
    if patterned and a.norm() > 0:
        scale = float(a @ e / (e @ e))
        if _close(actual.float(), scale * expected.float(), rtol, max(atol, 1e-4 * abs(scale))):
            return (f"has the right pattern but {scale:.3g} times the expected values: "
                    "a missing or extra normalisation?")
    diff = (actual.float() - expected.float()).abs()
    where = tuple(int(i) for i in torch.unravel_index(diff.argmax(), diff.shape))
    at = index_name(where) if index_name is not None else f"index {where}"
    return (f"differs from the reference (largest difference {diff.max():.3g} at {at}: "
            f"{actual.flatten()[diff.argmax()]:.4g} instead of {expected.flatten()[diff.argmax()]:.4g}).")


def _tensor_inputs(args, kwargs) -> dict:
    """The tensors among the arguments, by position or name, and inside dict arguments (such as
    a cache of activations): name -> tensor."""
    named = {**{f"argument {i + 1}": a for i, a in enumerate(args)}, **{f"`{k}`": v for k, v in kwargs.items()}}
    found = {}
    for name, value in named.items():
        if isinstance(value, torch.Tensor):
            found[name] = value
        elif isinstance(value, dict):
            found.update({f"{name}[{key!r}]": v for key, v in value.items() if isinstance(v, torch.Tensor)})
    return found


def _tensor_snapshot(args, kwargs) -> dict:
    """Copies of the tensor inputs, to see whether a call changed them."""
    return {name: value.detach().clone() for name, value in _tensor_inputs(args, kwargs).items()}


def _changed_inputs(before: dict, args, kwargs) -> str | None:
    now_inputs = _tensor_inputs(args, kwargs)
    for name, copy in before.items():
        if name not in now_inputs:          # a dict entry replaced by something else, or removed
            return name
        now = now_inputs[name].detach()
        if now.shape != copy.shape or not torch.equal(now, copy) and not (
                now.is_floating_point() and torch.equal(now.isnan(), copy.isnan())
                and torch.equal(now.nan_to_num(), copy.nan_to_num())):
            return name
    return None


def find_problem(learner_fn: Callable, reference_fn: Callable, cases: list[Case],
                 mistakes: dict[str, Callable] | None = None, extra: Callable | None = None,
                 rtol: float = 1e-3, atol: float = 1e-4,
                 index_name: Callable[[tuple], str] | None = None) -> str | None:
    """Run both functions on every case; None if all agree, else what differs on the first miss.

    mistakes: label -> function with the reference's signature that makes a typical error; a
    learner output equal to one of them is reported with that label.
    extra: learner_fn -> problem sentence or None, run after the cases (error handling, clean-up).
    NotImplementedError from the learner's function propagates (the exercise is unfinished).
    """
    for case_no, (args, kwargs) in enumerate(cases, start=1):
        expected = reference_fn(*args, **kwargs)
        before = _tensor_snapshot(args, kwargs)
        actual = learner_fn(*args, **kwargs)
        changed = _changed_inputs(before, args, kwargs)
        if changed:
            return (f"on test case {case_no} the function changed its input {changed} in place "
                    "(an operation such as +=, [...] = or a method ending in _ on an argument): "
                    "work on a copy (.clone()), the caller still needs the original.")
        wrong = {label: fn(*args, **kwargs) for label, fn in (mistakes or {}).items()}
        problem = describe_difference(actual, expected, wrong, rtol, atol, index_name)
        if problem:
            return f"on test case {case_no} the result {problem}"
    return extra(learner_fn) if extra is not None else None


class NamedMistake(Exception):
    """Raised by a check's wrapper when a learner's crash is a known mistake: the message names it."""


class LeftState(NamedMistake):
    """The learner's function returned with LRP, a hook or the thread count changed."""


# The hook tables of a module, and the side tables whose entries share a hook's key.
_HOOK_TABLES = {"_forward_hooks": ("forward hook", ("_forward_hooks_with_kwargs",
                                                    "_forward_hooks_always_called")),
                "_forward_pre_hooks": ("forward pre-hook", ("_forward_pre_hooks_with_kwargs",)),
                "_backward_hooks": ("backward hook", ()),
                "_backward_pre_hooks": ("backward pre-hook", ())}


def _models_in(args, kwargs) -> list[torch.nn.Module]:
    """The models among a call's arguments (the ones a learner's function can change)."""
    return [v for v in (*args, *kwargs.values()) if isinstance(v, torch.nn.Module)]


def _hooks(models) -> dict[tuple, tuple]:
    """(id of module, table, key) -> (module, where it sits, table) for every hook on `models`."""
    found = {}
    for model in models:
        for where, module in model.named_modules():
            for table in _HOOK_TABLES:
                for key in getattr(module, table, {}):
                    found[(id(module), table, key)] = (module, where or "the model", table)
    return found


def _remove_hooks(added: dict) -> list[str]:
    """Remove the hooks in `added` (see `_hooks`); returns 'a forward hook on model.layers.0'."""
    named = []
    for (_, table, key), (module, where, _) in added.items():
        kind, side_tables = _HOOK_TABLES[table]
        getattr(module, table).pop(key, None)
        for side in side_tables:
            getattr(module, side, {}).pop(key, None)
        named.append(f"a {kind} on {where}")
    return named


@contextmanager
def state_guard(models):
    """Run a learner's code; afterwards put back LRP, hooks and torch's thread count as found.

    Raises LeftState naming what was left behind when the block ended normally; after an
    exception the state is restored the same way and the exception goes on unchanged.
    """
    rules = [(model, lrp_rule(model)) for model in models]
    hooks_before = _hooks(models)
    with torch_threads_kept() as threads:
        try:
            yield
        finally:
            threads_now = torch.get_num_threads()
            lrp_changes = []
            for model, rule in rules:
                now = lrp_rule(model)
                if now == rule:
                    continue
                disable_lrp(model)
                if rule is not None:
                    enable_lrp(model, rule)
                lrp_changes.append((rule, now))
            hooks_now = _hooks(models)
            left_hooks = _remove_hooks({k: v for k, v in hooks_now.items() if k not in hooks_before})
    problems = []
    for rule, now in lrp_changes:
        if rule is None:
            problems.append("leaves LRP on: your function left LRP on, so every later gradient "
                            "in this kernel would be LRP relevance. Switch it on only inside "
                            "`with attnlrp(model):`, which switches it off again, errors too")
        else:
            problems.append(f"switches LRP off: your function turned the {rule!r} rules off "
                            "although they were on when it was called; leave them as found")
    if left_hooks:
        shown = ", ".join(left_hooks[:3]) + (f" and {len(left_hooks) - 3} more"
                                             if len(left_hooks) > 3 else "")
        problems.append(f"leaves its hook on the model: your function left {shown}, so later "
                        "runs are still changed by it. Register hooks in a `with` block "
                        "(utils.hooks) or remove their handles in `finally`")
    if threads_now != threads:
        problems.append(f"changes torch's thread count: your function set it from {threads} to "
                        f"{threads_now} (torch.set_num_threads); leave it as it was")
    if problems:
        raise LeftState("; and ".join(problems) + " (the check has put this back).")


def guarded(learner_fn: Callable) -> Callable:
    """`learner_fn` with every call run inside `state_guard` on the models among its arguments."""
    @functools.wraps(learner_fn)
    def call(*args, **kwargs):
        with state_guard(_models_in(args, kwargs)):
            return learner_fn(*args, **kwargs)
    return call


def run_check(name: str, learner_fn: Callable, reference_fn: Callable, cases: list[Case],
              mistakes: dict[str, Callable] | None = None, extra: Callable | None = None,
              rtol: float = 1e-3, atol: float = 1e-4, returns: tuple | None = None,
              index_name: Callable[[tuple], str] | None = None) -> Callable:
    """Check `learner_fn`, print one line, and return the function to use from here on.

    returns: (learner object, reference object) to hand back when `learner_fn` and
    `reference_fn` are wrappers made for the comparison; default the functions themselves.
    index_name: see `describe_difference`.
    """
    learner_out, reference_out = returns or (learner_fn, reference_fn)
    try:
        problem = find_problem(guarded(learner_fn), reference_fn, cases, mistakes, extra, rtol, atol,
                               index_name)
    except NotImplementedError:
        print(f"… {name} is not implemented yet: the cells below use the reference solution.")
        return reference_out
    except NamedMistake as err:
        print(f"✗ {name} {err} The cells below use the reference solution until you fix it.")
        return reference_out
    except Exception as err:  # the learner's code crashed: show why, keep the notebook going
        print(f"✗ {name} raised {type(err).__name__}: {err}. "
              "The cells below use the reference solution until you fix it.")
        return reference_out
    if problem:
        print(f"✗ {name} {problem} The cells below use the reference solution until you fix it.")
        return reference_out
    print(f"✓ {name} passes all {len(cases)} checks.")
    return learner_out
