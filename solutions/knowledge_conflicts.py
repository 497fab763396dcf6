"""Notebook 04: heads that answer from memory vs from the context, and a monitor built on them."""
from __future__ import annotations

import torch

from solutions.attention_heads import head_relevance
from utils.lrp import attnlrp
from utils.models import input_device
from utils.tokens import first_divergent_tokens


# ---------------------------------------------------------------------------------------------
# Exercise 1

def conflict_head_relevance(model, tokenizer, sample, top_k=10):
    """AttnLRP head relevance of the parametric and of the contextual answer of `sample`.

    sample: a utils.prompts.Counterfactual. Both answers are explained at the position where
    they first differ (shared tokens such as "1" of "10"/"11" are appended to the prompt).
    Returns [2, n_layers, n_heads] (row 0: parametric, row 1: contextual), or None when either
    answer is not among the model's top_k next tokens there.
    """
    input_ids, param_id, context_id = first_divergent_tokens(
        tokenizer, sample.prompt, " " + sample.parametric, " " + sample.contextual)
    input_ids = input_ids.to(input_device(model))
    with torch.no_grad():
        logits = model(input_ids).logits[0, -1]
    if not 1 <= top_k <= logits.shape[-1]:
        raise ValueError(f"top_k={top_k} but the vocabulary has {logits.shape[-1]} tokens: "
                         "pick a top_k between 1 and that (10 is usual).")
    top = logits.topk(top_k).indices.tolist()
    if param_id not in top or context_id not in top:
        return None
    with attnlrp(model):
        param = head_relevance(model, input_ids, param_id)
        context = head_relevance(model, input_ids, context_id)
    return torch.stack([param, context])
