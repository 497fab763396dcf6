"""Checks for notebook 04 (knowledge conflicts: head relevance of both answers)."""
from __future__ import annotations

import contextlib

import torch

from checks.core import NamedMistake, run_check, tiny_llama, tiny_tokenizer
from checks.references import reference
from utils.lrp import attnlrp
from utils.prompts import Counterfactual
from utils.tokens import answer_token_id, first_divergent_tokens

__all__ = ["check_conflict_head_relevance", "check_leave_one_out_accuracy"]

# Samples whose words the check tokenizer knows; the last pair shares its first tokens.
_SAMPLES = [
    Counterfactual("The cat sat on the mat", "Where did the cat sit", "The cat sat on the",
                   "mat", "cat"),
    Counterfactual("I love AI research", "What do I love", "I love", "research", "German"),
    Counterfactual("5+5 equals 11", "What is 5+5", "5+5 equals", "10", "11"),
]


def _variant(explain_at_prompt=False, swap=False, lrp=True, no_space=False):
    """A typical wrong version of conflict_head_relevance (top_k is ignored by the variants)."""
    def relevance(model, tokenizer, sample, top_k=10):
        space = "" if no_space else " "
        if explain_at_prompt:
            ids = tokenizer(sample.prompt, return_tensors="pt").input_ids
            param_id = answer_token_id(tokenizer, sample.prompt, space + sample.parametric)
            context_id = answer_token_id(tokenizer, sample.prompt, space + sample.contextual)
        else:
            ids, param_id, context_id = first_divergent_tokens(
                tokenizer, sample.prompt, space + sample.parametric, space + sample.contextual)
        head_relevance = reference("head_relevance")
        with attnlrp(model) if lrp else contextlib.nullcontext():
            rows = [head_relevance(model, ids, param_id), head_relevance(model, ids, context_id)]
        return torch.stack(rows[::-1] if swap else rows)
    return relevance


def _skips_when_not_in_top_k(fn) -> str | None:
    tokenizer = tiny_tokenizer()
    model = tiny_llama(seed=6, vocab_size=len(tokenizer))
    result = fn(model, tokenizer, _SAMPLES[0], top_k=1)   # two answers cannot both be the top 1
    if result is not None:
        return ("returns relevance although an answer is not among the top_k next tokens: "
                "return None so the sample is skipped.")
    return None


def check_conflict_head_relevance(fn):
    """Exercise 1: both answers' head relevance at the divergence point, None outside the top k."""
    tokenizer = tiny_tokenizer()
    model = tiny_llama(seed=6, vocab_size=len(tokenizer))
    cases = [((model, tokenizer, sample), {"top_k": len(tokenizer)}) for sample in _SAMPLES]
    mistakes = {
        "both answers are explained right after the prompt; answers that share first tokens "
        "(\"10\" vs \"11\") must be explained where they differ (first_divergent_tokens)":
            _variant(explain_at_prompt=True),
        "the rows are swapped: row 0 is the parametric answer, row 1 the contextual one":
            _variant(swap=True),
        "it runs without AttnLRP: compute head relevance inside `with attnlrp(model):`":
            _variant(lrp=False),
        "the answers lack their leading space (\" Paris\" is the token after \"is\", not \"Paris\")":
            _variant(no_space=True),
    }
    return run_check("conflict_head_relevance", fn, reference("conflict_head_relevance"), cases, mistakes,
                       extra=_skips_when_not_in_top_k, rtol=1e-3, atol=1e-6)


# ---------------------------------------------------------------- leave_one_out_accuracy
def _relevance_sets():
    """Relevance [n, 2, L, H] with a weak planted signal (so that leakage changes predictions)."""
    sets = []
    for seed, n, strength in ((0, 10, 0.4), (1, 12, 0.2)):
        gen = torch.Generator().manual_seed(seed)
        relevance = torch.rand(n, 2, 3, 4, generator=gen)
        relevance[:, 0, 2, 1] += strength
        relevance[:, 1, 0, 3] += strength
        sets.append(relevance)
    return sets


def _loo_variant(leak_heads=False, leak_monitor=False, labels_swapped=False, overlapping=False):
    """A typical wrong leave-one-out loop."""
    import numpy as np

    from utils.conflicts import contrastive_scores, monitor_dataset, split_heads_by_source
    from utils.monitor import fit_monitor

    def loo(relevance, k):
        n = relevance.shape[0]
        predictions = np.zeros(2 * n, dtype=int)
        for i in range(n):
            train = torch.cat([relevance[:i], relevance[i + 1:]])
            heads = sum(split_heads_by_source(contrastive_scores(relevance if leak_heads else train), k), [])
            monitor = fit_monitor(*monitor_dataset(relevance if leak_monitor else train, heads))
            rows = slice(i, i + 2) if overlapping else slice(2 * i, 2 * i + 2)
            predictions[rows] = monitor.predict(monitor_dataset(relevance[i:i + 1], heads)[0])
        labels = np.tile([0, 1] if labels_swapped else [1, 0], n)
        return float((predictions == labels).mean()), predictions
    return loo


def _as_tensor(fn):
    """(accuracy, predictions) -> one tensor [1 + 2n], so the check can compare and name them."""
    def wrapped(relevance, k):
        out = fn(relevance, k)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise NamedMistake(f"returns a {type(out).__name__}; return a pair "
                               "(accuracy, predictions).")
        accuracy, predictions = out
        predictions = torch.as_tensor(predictions, dtype=torch.float).flatten()
        n = relevance.shape[0]
        if predictions.numel() != 2 * n:
            raise NamedMistake(f"returns {predictions.numel()} predictions for {n} samples; "
                               f"expected {2 * n}: two per sample (its parametric, then its "
                               "contextual answer).")
        return torch.cat([torch.tensor([float(accuracy)]), predictions])
    return wrapped


def _loo_entry(index: tuple) -> str:
    """Words for an entry of the packed [accuracy, predictions...] tensor."""
    if index[0] == 0:
        return "the accuracy"
    sample, row = divmod(index[0] - 1, 2)
    return f"the prediction for sample {sample}'s {('parametric', 'contextual')[row]} answer"


def check_leave_one_out_accuracy(fn):
    """Exercise 2: heads and monitor chosen without the held-out sample, in every fold."""
    cases = [((relevance, 2), {}) for relevance in _relevance_sets()]
    mistakes = {
        "the heads are chosen on all samples, the held-out one included (leakage: the held-out "
        "sample helps pick the heads that then judge it; choose them on the other samples)":
            _loo_variant(leak_heads=True),
        "the monitor is fitted on all samples, the held-out one included (leakage: fit it on "
        "the other samples only)": _loo_variant(leak_monitor=True),
        "heads and monitor both see the held-out sample: nothing is held out":
            _loo_variant(leak_heads=True, leak_monitor=True),
        "the labels are in the wrong order: each sample gives its parametric answer (1) first, "
        "then its contextual answer (0)": _loo_variant(labels_swapped=True),
        "sample i's two predictions overwrite each other: they go to predictions[2 * i] and "
        "predictions[2 * i + 1], not [i] and [i + 1]": _loo_variant(overlapping=True),
    }
    learner = _as_tensor(fn)
    chosen = run_check("leave_one_out_accuracy", learner, _as_tensor(reference("leave_one_out_accuracy")),
                       cases, {label: _as_tensor(f) for label, f in mistakes.items()}, atol=1e-6,
                       index_name=_loo_entry)
    return fn if chosen is learner else reference("leave_one_out_accuracy")
