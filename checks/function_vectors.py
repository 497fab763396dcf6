"""Checks for notebook 03 (function vectors: capture, transplant, heads on a substring)."""
from __future__ import annotations

from typing import Callable

import torch

from checks.core import CHECK_TEXTS, random_ids, run_check, tiny_llama, tiny_tokenizer
from checks.hook_inputs import edited_module_input, in_place_message
from checks.references import reference
from utils.hooks import o_proj_pre_hooks, out_projections, projection_hooks, split_heads
from utils.lrp import attnlrp

__all__ = ["check_head_outputs_at_last", "check_transplant_heads",
           "check_substring_token_positions", "check_substring_head_scores",
           "check_mean_head_outputs", "check_indirect_effects", "check_function_vector"]

# ---------------------------------------------------------------------------------------------
# Exercise 1

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
    """Exercise 1a: the learner's capture against the reference on a tiny Llama."""
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


def _transplant_writes_in_place(cm) -> str | None:
    """A transplant must edit a copy of o_proj's input, never the tensor the hook receives."""
    model, input_ids = tiny_llama(seed=4), random_ids(21, 6)
    modules = {f"layer {layer}'s o_proj": module for layer, module in enumerate(out_projections(model))}

    def run():
        with cm(model, [(1, 2), (0, 1)], torch.ones(2, 8), 2.0), torch.no_grad():
            model(input_ids)
    edited = edited_module_input(modules, run)
    return in_place_message(edited, "x = args[0].clone()") if edited else None


def check_transplant_heads(cm):
    """Exercise 1b: the learner's transplant context manager against the reference."""
    mistakes = {
        "it replaces the head at every position, not only the last":
            _logits_under(_transplant_variant(write_every_position)),
        "it ignores `scale`": _logits_under(_transplant_variant(write_unscaled)),
        "it adds the vector to the head's output instead of replacing it":
            _logits_under(_transplant_variant(write_added)),
    }
    return run_check("transplant_heads", _logits_under(cm),
                     _logits_under(reference("transplant_heads")), _transplant_cases(), mistakes,
                     extra=lambda _: _transplant_cleans_up(cm) or _transplant_writes_in_place(cm),
                     returns=(cm, reference("transplant_heads")))


# ---------------------------------------------------------------------------------------------
# Exercise 5

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
    """Exercise 5a: token positions of a substring via offsets, with a clear error if missing."""
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
    """Exercise 5b: positive relevance of the last query on the substring's keys, per head."""
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


# ---------------------------------------------------------------------------------------------
# Exercises 2-4: function vectors

FV_CHECK_PROMPTS = ["hot -> cold\nbig -> small\nfast ->", "up -> down\nday -> night\nold ->",
                    "cat -> cats\ndog -> dogs\nbook ->"]
FV_CHECK_ANSWERS = [" slow", " new", " books"]


def _fv_model():
    return tiny_llama(seed=6, vocab_size=len(tiny_tokenizer()))


def mean_outputs_variant(pick: Callable, reduce: str = "mean"):
    """mean_head_outputs that keeps pick(o_proj input [1, seq, H, D], o_proj output split the
    same way) -> [H, D] per layer and prompt, then averages (or sums) over prompts."""
    def mean_head_outputs(model, tokenizer, prompts):
        n_layers, n_heads = model.config.num_hidden_layers, model.config.num_attention_heads
        kept = {layer: [] for layer in range(n_layers)}

        def keep(layer):
            return lambda mod, args, out: kept[layer].append(
                pick(split_heads(args[0], n_heads), split_heads(out, n_heads)))
        with projection_hooks(model, "o_proj", {l: keep(l) for l in range(n_layers)}), \
                torch.no_grad():
            for prompt in prompts:
                model(tokenizer(prompt, return_tensors="pt").input_ids)
        stacked = torch.stack([torch.stack(kept[l]) for l in range(n_layers)])  # [L, n, H, D]
        return stacked.sum(1) if reduce == "sum" else stacked.mean(1)
    return mean_head_outputs


def check_mean_head_outputs(fn):
    """Exercise 2: mean over prompts of every head's output at the last position."""
    mistakes = {
        "it averages over every position of the prompt; only the last position predicts the "
        "answer": mean_outputs_variant(lambda x, out: x[0].mean(0)),
        "it sums over the prompts instead of averaging": mean_outputs_variant(
            lambda x, out: x[0, -1], reduce="sum"),
        "it reads the output of o_proj (heads already mixed) instead of its input":
            mean_outputs_variant(lambda x, out: out[0, -1]),
        "it keeps the first position instead of the last": mean_outputs_variant(
            lambda x, out: x[0, 0]),
    }
    model, tok = _fv_model(), tiny_tokenizer()
    cases = [((model, tok, FV_CHECK_PROMPTS[:n]), {}) for n in (1, 3)]
    return run_check("mean_head_outputs", fn, reference("mean_head_outputs"), cases, mistakes)


def effects_variant(score: str = "prob", sign: int = 1, reduce: str = "mean", clean_prompts=False):
    """indirect_effects with one typical change: score ("prob" or "logit"), sign of the
    difference, sum instead of mean over prompts."""
    def indirect_effects(model, tokenizer, prompts, answers, mean_outputs):
        from utils.tokens import answer_token_id
        n_layers, n_heads = model.config.num_hidden_layers, model.config.num_attention_heads
        effects = torch.zeros(n_layers, n_heads)

        def measure(logits, target):
            return logits.softmax(-1)[target] if score == "prob" else logits[target]
        for prompt, answer in zip(prompts, answers):
            ids = tokenizer(prompt, return_tensors="pt").input_ids
            target = answer_token_id(tokenizer, prompt, answer)
            with torch.no_grad():
                clean = measure(model(ids).logits[0, -1], target)
                for layer in range(n_layers):
                    for head in range(n_heads):
                        with reference("transplant_heads")(model, [(layer, head)],
                                                           mean_outputs[layer, head][None]):
                            patched = measure(model(ids).logits[0, -1], target)
                        effects[layer, head] += sign * float(patched - clean)
        return effects if reduce == "sum" else effects / len(prompts)
    return indirect_effects


def _effect_cases():
    model, tok = _fv_model(), tiny_tokenizer()
    gen = torch.Generator().manual_seed(1)
    means = torch.randn(2, 4, 8, generator=gen) * 3
    return [((model, tok, FV_CHECK_PROMPTS[:n], FV_CHECK_ANSWERS[:n], means), {}) for n in (1, 3)]


def check_indirect_effects(fn):
    """Exercise 3: each head's causal indirect effect (rise of p(answer) when it writes its mean)."""
    mistakes = {
        "it measures the rise of the answer's logit; the indirect effect is the rise of its "
        "probability (softmax)": effects_variant(score="logit"),
        "it reports the drop (clean - patched); the effect is patched - clean":
            effects_variant(sign=-1),
        "it sums over the prompts instead of averaging": effects_variant(reduce="sum"),
    }
    return run_check("indirect_effects", fn, reference("indirect_effects"), _effect_cases(),
                     mistakes, rtol=1e-3, atol=1e-6)


def vector_variant(combine: Callable):
    """function_vector built by combine(model, mean_outputs, heads) -> tensor."""
    return lambda model, mean_outputs, heads: combine(model, mean_outputs, heads)


def _rows_not_columns(model, mean_outputs, heads):
    d = mean_outputs.shape[-1]
    return sum(out_projections(model)[l].weight[h * d:(h + 1) * d].T.float()
               @ mean_outputs[l, h] for l, h in heads)


def _unprojected(model, mean_outputs, heads):
    return sum(mean_outputs[l, h] for l, h in heads)


def _averaged(model, mean_outputs, heads):
    return reference("function_vector")(model, mean_outputs, heads) / len(heads)


def _whole_layer(model, mean_outputs, heads):
    """o_proj applied to every head of the layer (the whole concatenation), once per head."""
    return sum(out_projections(model)[l].weight.float() @ mean_outputs[l].flatten()
               for l, _ in heads)


def check_function_vector(fn):
    """Exercise 4: the function vector, o_proj's columns of each head times its mean output."""
    mistakes = {
        "it uses the head's rows of o_proj (weight[slice, :]); the head's slice is a block of "
        "columns (weight[:, slice]), the inputs o_proj reads from that head":
            vector_variant(_rows_not_columns),
        "it sums the heads' raw outputs (head_dim numbers); project each through its slice of "
        "o_proj into the residual stream (d_model)": vector_variant(_unprojected),
        "it averages over the heads; the function vector is their sum": vector_variant(_averaged),
        "it projects the whole layer's concatenated mean outputs; use only the chosen head's "
        "slice": vector_variant(_whole_layer),
    }
    model = _fv_model()
    gen = torch.Generator().manual_seed(2)
    means = torch.randn(2, 4, 8, generator=gen)
    cases = [((model, means, heads), {}) for heads in ([(0, 1)], [(1, 3), (0, 0), (1, 2)])]
    return run_check("function_vector", fn, reference("function_vector"), cases, mistakes)
