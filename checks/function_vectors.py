"""Checks for notebook 03 (function vectors: capture, transplant, heads on a substring)."""
from __future__ import annotations

from typing import Callable

import torch

from checks.core import CHECK_TEXTS, random_ids, run_check, tiny_llama, tiny_tokenizer
from checks.references import reference
from utils.hooks import o_proj_pre_hooks, out_projections, projection_hooks, split_heads
from utils.lrp import attnlrp

__all__ = ["check_head_outputs_at_last", "check_transplant_heads",
           "check_substring_token_positions", "check_substring_head_scores"]

# ---------------------------------------------------------------------------------------------
# Exercise 5

def _capture_cases():
    model = tiny_llama(seed=3)
    return [((model, random_ids(seed, 7 + seed), heads), {})
            for seed, heads in enumerate([[(0, 1)], [(1, 3), (0, 0)], [(1, 2), (1, 0), (0, 3)]])]


def capture_variant(pick: Callable):
    """A capture that stores `pick(o_proj input, o_proj output, n_heads)` -> [seq, H, D]."""
    def capture(model, input_ids, heads):
        n_heads = model.config.num_attention_heads
        stored = {}

        def keep(layer):
            return lambda mod, args, out: stored.__setitem__(layer, pick(args[0], out, n_heads))
        with projection_hooks(model, "o_proj", {layer: keep(layer) for layer in range(
                len(out_projections(model)))}), torch.no_grad():
            model(input_ids)
        return torch.stack([stored[layer][head] for layer, head in heads])
    return capture


def check_head_outputs_at_last(fn):
    """Exercise 5a: the learner's capture against the reference on a tiny Llama."""
    mistakes = {
        "it captures the first position instead of the last": capture_variant(
            lambda x, out, n: split_heads(x, n)[0, 0]),
        "the heads are split the wrong way round: reshape to [.., n_heads, head_dim], "
        "not [.., head_dim, n_heads]": capture_variant(
            lambda x, out, n: x[0, -1].unflatten(-1, (x.shape[-1] // n, n)).T),
        "it slices the output of o_proj (heads already mixed) instead of its input": capture_variant(
            lambda x, out, n: split_heads(out, n)[0, -1]),
    }
    return run_check("head_outputs_at_last", fn, reference("head_outputs_at_last"), _capture_cases(),
                       mistakes)


def _logits_under(cm):
    """Wrap a transplant context manager as a function returning the patched logits [seq, vocab]."""
    def run(model, input_ids, heads, vectors, scale):
        with cm(model, heads, vectors, scale):
            with torch.no_grad():
                return model(input_ids).logits[0]
    return run


def head_writer(layer, heads, vectors, scale, n_heads, write: Callable):
    """An o_proj pre-hook for `layer`: on a copy of the heads' outputs [b, s, H, D], calls
    `write(per_head, head, vector, scale)` for every head of `heads` in that layer."""
    def hook(module, args):
        x = args[0].clone()
        for (l, h), v in zip(heads, vectors):
            if l == layer:
                write(split_heads(x, n_heads), h, v, scale)
        return (x,)
    return hook


def _transplant_variant(write: Callable):
    """A wrong transplant: `write(per_head [b, s, H, D], head, vector, scale)` edits in place."""
    from contextlib import contextmanager

    @contextmanager
    def cm(model, heads, vectors, scale=1.0):
        n_heads = model.config.num_attention_heads
        layers = {l for l, _ in heads}
        with o_proj_pre_hooks(model, {layer: head_writer(layer, heads, vectors, scale, n_heads, write)
                                      for layer in layers}):
            yield
    return cm


def _transplant_cases():
    model = tiny_llama(seed=4)
    gen = torch.Generator().manual_seed(0)
    cases = []
    for seed, (heads, scale) in enumerate([([(0, 1)], 1.0), ([(1, 2), (0, 3)], 2.5),
                                           ([(1, 0), (1, 1)], -1.0)]):
        vectors = torch.randn(len(heads), 8, generator=gen)
        cases.append(((model, random_ids(10 + seed, 6 + seed), heads, vectors, scale), {}))
    return cases


class _CheckSignal(Exception):
    """Raised inside a learner's `with` block to see that its hooks still come off."""


def _transplant_cleans_up(cm) -> str | None:
    """Hooks must be gone after the block, also when the block raises."""
    model, input_ids = tiny_llama(seed=4), random_ids(20, 6)
    with torch.no_grad():
        clean = model(input_ids).logits
    vectors = torch.ones(1, 8)
    with cm(model, [(1, 1)], vectors, 3.0):
        pass
    with torch.no_grad():
        if not torch.equal(model(input_ids).logits, clean):
            return "leaves a hook behind after the `with` block: remove every handle on exit."
    try:
        with cm(model, [(1, 1)], vectors, 3.0):
            raise _CheckSignal("stop")
    except _CheckSignal:
        pass
    with torch.no_grad():
        if not torch.equal(model(input_ids).logits, clean):
            return ("leaves a hook behind when the block raises: remove the handles in a "
                    "`finally:` clause.")
    return None


# How a transplant writes head h's vector v into per_head [b, s, H, D]: right, and typically wrong.
def write_last(per_head, h, v, scale):
    per_head[:, -1, h] = scale * v


def write_every_position(per_head, h, v, scale):
    per_head[:, :, h] = scale * v


def write_unscaled(per_head, h, v, scale):
    per_head[:, -1, h] = v


def write_added(per_head, h, v, scale):
    per_head[:, -1, h] += scale * v


def check_transplant_heads(cm):
    """Exercise 5b: the learner's transplant context manager against the reference."""
    mistakes = {
        "it replaces the head at every position, not only the last":
            _logits_under(_transplant_variant(write_every_position)),
        "it ignores `scale`": _logits_under(_transplant_variant(write_unscaled)),
        "it adds the vector to the head's output instead of replacing it":
            _logits_under(_transplant_variant(write_added)),
    }
    return run_check("transplant_heads", _logits_under(cm),
                     _logits_under(reference("transplant_heads")), _transplant_cases(), mistakes,
                     extra=lambda _: _transplant_cleans_up(cm),
                     returns=(cm, reference("transplant_heads")))


# ---------------------------------------------------------------------------------------------
# Exercise 6

def _position_cases():
    tok = tiny_tokenizer()
    return [((tok, CHECK_TEXTS[0], "Translation into German"), {}),
            ((tok, CHECK_TEXTS[1], "27 million tons"), {}),
            ((tok, CHECK_TEXTS[2], "The cat"), {}),
            ((tok, CHECK_TEXTS[1], "ahara"), {})]   # starts inside a token


def _raises_on_missing(fn) -> str | None:
    try:
        fn(tiny_tokenizer(), CHECK_TEXTS[0], "Translation into French")
    except ValueError:
        return None
    return ("does not raise a ValueError when the substring is not in the prompt: tell the "
            "learner to copy the substring exactly.")


def check_substring_token_positions(fn):
    """Exercise 6a: token positions of a substring via offsets, with a clear error if missing."""
    def without_bos(tok, prompt, substring):
        return reference("substring_token_positions")(tok, prompt, substring) - 1

    def last_occurrence(tok, prompt, substring):
        start = prompt.rfind(substring)
        shifted = prompt[:start].replace(substring, "#" * len(substring)) + prompt[start:]
        return reference("substring_token_positions")(tok, shifted, substring)

    def only_inside(tok, prompt, substring):
        start = prompt.find(substring)
        end = start + len(substring)
        offsets = tok(prompt, return_offsets_mapping=True)["offset_mapping"]
        return torch.tensor([i for i, (a, b) in enumerate(offsets) if b > a and a >= start and b <= end])

    mistakes = {
        "positions are off by one: the tokenizer's BOS token is position 0": without_bos,
        "it finds the last occurrence; use the first (str.find)": last_occurrence,
        "it drops tokens that overlap the substring only partly (a token may start before it)":
            only_inside,
    }
    return run_check("substring_token_positions", fn, reference("substring_token_positions"),
                       _position_cases(), mistakes, extra=_raises_on_missing)


def _scores_variant(rows: str = "last", positive: str = "clamp", lrp: bool = True):
    def scores(model, tokenizer, prompt, substring, target_id=None):
        positions = reference("substring_token_positions")(tokenizer, prompt, substring)
        ids = tokenizer(prompt, return_tensors="pt").input_ids
        if target_id is None:
            with torch.no_grad():
                target_id = int(model(ids).logits[0, -1].argmax())
        if lrp:
            with attnlrp(model):
                maps = reference("attention_relevance")(model, ids, target_id)
        else:
            maps = reference("attention_relevance")(model, ids, target_id)
        picked = maps[:, :, -1, positions] if rows == "last" else maps[:, :, :, positions].sum(2)
        if positive == "clamp":
            picked = picked.clamp(min=0)
        elif positive == "abs":
            picked = picked.abs()
        return picked.sum(-1)
    return scores


def _score_cases():
    tok = tiny_tokenizer()
    model = tiny_llama(seed=5, vocab_size=len(tok))
    return [((model, tok, CHECK_TEXTS[0], "Translation into German"), {}),
            ((model, tok, CHECK_TEXTS[1], "27 million"), {"target_id": 7}),
            ((model, tok, CHECK_TEXTS[2], "sat on the mat"), {})]


def check_substring_head_scores(fn):
    """Exercise 6b: positive relevance of the last query on the substring's keys, per head."""
    mistakes = {
        "it sums every query row; only the last position predicts the next token":
            _scores_variant(rows="all"),
        "negative relevance is kept: keep only the positive part (clamp(min=0))":
            _scores_variant(positive="none"),
        "it takes absolute values: negative relevance should count as zero, not as positive":
            _scores_variant(positive="abs"),
        "it runs without AttnLRP: compute the maps inside `with attnlrp(model):`":
            _scores_variant(lrp=False),
    }
    return run_check("substring_head_scores", fn, reference("substring_head_scores"), _score_cases(),
                       mistakes, rtol=1e-3, atol=1e-6)
