"""Checks for notebook 04 (knowledge conflicts: head relevance of both answers)."""
from __future__ import annotations

import contextlib

import torch

from checks.core import run_check, tiny_llama, tiny_tokenizer
from checks.references import reference
from utils.lrp import attnlrp
from utils.prompts import Counterfactual
from utils.tokens import answer_token_id, first_divergent_tokens

__all__ = ["check_conflict_head_relevance"]

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
