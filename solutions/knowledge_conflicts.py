"""Notebook 04: heads that answer from memory vs from the context, and a monitor built on them."""
from __future__ import annotations

import numpy as np
import torch

from solutions.attention_heads import head_relevance
from utils.conflicts import contrastive_scores, monitor_dataset, split_heads_by_source
from utils.lrp import attnlrp
from utils.monitor import fit_monitor
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


# ---------------------------------------------------------------------------------------------
# Exercise 2

def leave_one_out_accuracy(relevance, k):
    """Accuracy of the monitor on each held-out sample (both its answers), heads chosen without it.

    relevance: [n, 2, L, H] (row 0 parametric, row 1 contextual). For each sample i: choose the
    k parametric and k in-context heads on the other samples only, fit the monitor on them,
    predict sample i's two answers. Returns (accuracy, predictions [2n]: 1 = parametric, in the
    order sample 0 parametric, sample 0 contextual, sample 1 parametric, ...).
    """
    n = relevance.shape[0]
    predictions = np.zeros(2 * n, dtype=int)
    for i in range(n):
        train = torch.cat([relevance[:i], relevance[i + 1:]])        # without sample i
        param_heads, context_heads = split_heads_by_source(contrastive_scores(train), k)
        heads = param_heads + context_heads
        monitor = fit_monitor(*monitor_dataset(train, heads))
        test_features, _ = monitor_dataset(relevance[i:i + 1], heads)
        predictions[2 * i:2 * i + 2] = monitor.predict(test_features)
    labels = np.tile([1, 0], n)
    return float((predictions == labels).mean()), predictions
