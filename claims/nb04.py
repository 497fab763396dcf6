"""Notebook 04's claims: the naive monitor fails, the provenance monitor works, heads are causal.

Heads are chosen on the notebook's 15 knowledge-conflict prompts and ablated on 24 others
(`HELD_OUT_COUNTERFACTUALS`), exactly as the notebook's ablation cell does
(`utils.conflicts.ablation_against_random`; the notebook decides the claims with
`ablation_measurement` on its own result). The effect is the mean change of each prompt's logit
difference (context answer - memory answer) when the heads are mean-ablated; the control is the
distribution of `ctx.draws` layer-matched random sets of as many heads.

The monitors are scored patient by patient on held-out patients (their reference summaries,
labelled by the generator's exact spans), so n counts patients, not tokens. Those labels come from
the course model's own training data, so on any other model the monitor claims are not
applicable (`known_data=True`).
"""
from __future__ import annotations

import numpy as np

from claims import Claim, Context, Measurement, Threshold
from utils.stats import against_draws, mean_interval, paired_interval, paired_test

N_CONFLICTS = 24
N_PATIENTS = 20
MAX_DRAWS = 100   # each draw runs every conflict prompt once


def _heads(ctx: Context):
    """(memory heads, in-context heads) chosen on the notebook's COUNTERFACTUALS."""
    def compute():
        from solutions.knowledge_conflicts import conflict_head_relevance
        from utils.conflicts import (conflict_relevances, contrastive_scores, heads_per_side,
                                     split_heads_by_source)
        from utils.models import model_shape
        from utils.prompts import COUNTERFACTUALS

        relevance, _, _, _ = conflict_relevances(ctx.model, ctx.tokenizer, COUNTERFACTUALS,
                                                 relevance_fn=conflict_head_relevance)
        n_layers, n_heads, _ = model_shape(ctx.model)
        return relevance, split_heads_by_source(contrastive_scores(relevance),
                                                heads_per_side(n_layers, n_heads))
    return ctx.memo("nb04.heads", compute)


def ablation_measurement(result: dict, kind: str) -> Measurement:
    """One side of `utils.conflicts.ablation_against_random` (notebook 04's ablation) as a claim's
    measurement. kind: "in-context" or "memory".

    The effect is each sample's change of the logit difference (context - memory) when the chosen
    heads are mean-ablated; the control, the mean change for each layer-matched random set of as
    many heads. In-context heads should push toward the context answer (ablating them lowers the
    difference, below the random sets), memory heads the reverse."""
    if kind not in ("in-context", "memory"):
        raise ValueError(f"kind is 'in-context' or 'memory', got {kind!r}")
    clean, ablated = np.asarray(result["nothing ablated"]), np.asarray(result[f"{kind} heads"])
    effect = mean_interval(ablated - clean)
    draws = (np.asarray(result[f"random {kind}"]) - clean).mean(axis=1)
    alternative = "less" if kind == "in-context" else "greater"
    # the answer rate this side carries (the figure's rates), before and after the ablation
    sign = 1 if kind == "in-context" else -1
    rate = "context-answer rate" if kind == "in-context" else "memory-answer rate"
    return Measurement(effect, against_draws(effect.mean, draws, alternative),
                       f"change of logit diff (context - memory), {kind} heads ablated",
                       "layer-matched random heads",
                       {f"{rate}, nothing ablated": float((sign * clean > 0).mean()),
                        f"{rate}, heads ablated": float((sign * ablated > 0).mean())})


def _ablation(ctx: Context) -> dict:
    """`ablation_against_random` as notebook 04 runs it: the heads chosen on COUNTERFACTUALS,
    ablated on HELD_OUT_COUNTERFACTUALS beside layer-matched random sets."""
    def compute():
        from utils.conflicts import ablation_against_random
        from utils.prompts import HELD_OUT_COUNTERFACTUALS
        _, (memory, in_context) = _heads(ctx)
        samples = HELD_OUT_COUNTERFACTUALS[:ctx.n_items(N_CONFLICTS)]
        return ablation_against_random(ctx.model, ctx.tokenizer, samples, memory, in_context,
                                       n_random=min(ctx.draws, MAX_DRAWS))
    return ctx.memo("nb04.ablation", compute)


def _causal(kind: str):
    def measure(ctx: Context) -> Measurement:
        return ablation_measurement(_ablation(ctx), kind)
    return measure


def _patients(ctx: Context):
    """Per held-out patient: token head relevance [n_tokens, L, H], labels (1 = memory) and the
    three rules' outputs [n_tokens, 3] of its reference summary; and three monitors fitted on 5
    training patients: on head relevance, on the rules alone, on the rules + head relevance."""
    def compute():
        import torch

        from utils.conflicts import token_head_relevance_batched
        from utils.lrp import attnlrp
        from utils.models import input_device
        from utils.progress import progress
        from utils.provenance import (ProvenanceData, fit_monitors, handover_examples, prompt_ids,
                                      provenance_dataset, rule_features, span_labels)

        train_examples = handover_examples(range(5), "train")
        with attnlrp(ctx.model):
            train = provenance_dataset(ctx.model, ctx.tokenizer, train_examples,
                                       token_relevance=token_head_relevance_batched)
            patients = []
            for example in progress(handover_examples(range(ctx.n_items(N_PATIENTS)), "eval"),
                                    "held-out patients", min_steps=2):
                chat = prompt_ids(ctx.tokenizer, example["messages"])
                ids, labels = span_labels(ctx.tokenizer, example["summary"], example["segments"])
                full = torch.cat([chat, torch.tensor([ids])], dim=1).to(input_device(ctx.model))
                relevance = token_head_relevance_batched(ctx.model, full, chat.shape[1])
                alone = ProvenanceData(np.zeros((len(ids), 0)), np.asarray(labels),
                                       np.zeros(len(ids), dtype=int), np.asarray(ids))
                patients.append((relevance, np.asarray(labels).astype(bool),
                                 rule_features(ctx.tokenizer, train, [example], alone)))
        return fit_monitors(ctx.tokenizer, train, train_examples), patients
    return ctx.memo("nb04.patients", compute)


def _per_patient(ctx: Context, predict) -> tuple[list[float], list[float]]:
    """Balanced accuracy and (accuracy - majority baseline) per patient with both sources.
    predict(relevance [n, L, H], rules [n, 3]) -> p(memory) [n]."""
    from utils.monitor import score_against_truth
    balanced, margin = [], []
    for relevance, truth, rules in _patients(ctx)[1]:
        if truth.all() or not truth.any():
            continue   # balanced accuracy needs both sources in the summary
        p = predict(relevance, rules)
        score = score_against_truth(p > 0.5, truth, p)
        balanced.append(score["balanced accuracy"])
        margin.append(score["accuracy"] - score["majority baseline"])
    return balanced, margin


def _naive_monitor(ctx: Context) -> Measurement:
    from utils.conflicts import monitor_dataset
    from utils.monitor import fit_monitor, head_features
    relevance, (memory, in_context) = _heads(ctx)
    heads = memory + in_context
    naive = fit_monitor(*monitor_dataset(relevance, heads))
    balanced, _ = _per_patient(ctx, lambda r, _: naive.predict_proba(head_features(r, heads))[:, 1])
    return Measurement(mean_interval(balanced), None, "naive monitor's balanced accuracy",
                       "chance (0.50)")


def _provenance_monitor(ctx: Context) -> Measurement:
    from utils.provenance import monitor_features
    monitor = _patients(ctx)[0]["relevance"]
    balanced, margin = _per_patient(
        ctx, lambda r, _: monitor.predict_proba(monitor_features(r))[:, 1])
    return Measurement(mean_interval(balanced), paired_test(margin, np.zeros(len(margin))),
                       "provenance monitor's balanced accuracy",
                       "accuracy above the majority baseline",
                       {"accuracy_minus_majority": float(np.mean(margin))})


def _relevance_over_rules(ctx: Context) -> Measurement:
    """Per held-out patient, balanced accuracy of the rules + head relevance minus that of the
    rules alone (both LDA monitors fitted on the same 5 training patients)."""
    from utils.provenance import RULES, RULES_AND_RELEVANCE, monitor_features
    monitors = _patients(ctx)[0]
    combined, _ = _per_patient(ctx, lambda r, rules: monitors[RULES_AND_RELEVANCE].predict_proba(
        np.hstack([rules, monitor_features(r)]))[:, 1])
    rules_only, _ = _per_patient(ctx, lambda r, rules: monitors[RULES].predict_proba(rules)[:, 1])
    return Measurement(paired_interval(combined, rules_only), paired_test(combined, rules_only),
                       "balanced accuracy of the rules + head relevance minus the rules alone",
                       "paired over patients: the rules alone",
                       {"rules + relevance": float(np.mean(combined)),
                        "rules": float(np.mean(rules_only))})


CLAIMS = [
    Claim("04", "naive-monitor-fails",
          "The monitor trained on the counterfactuals' answer tokens does not transfer to the "
          "summaries: its balanced accuracy stays near chance (below 0.65)",
          _naive_monitor, Threshold("high", "<", 0.65), "fixed reference: chance 0.50",
          known_data=True),
    Claim("04", "provenance-monitor-works",
          "A monitor trained on other patients' summaries with exact provenance reaches balanced "
          "accuracy 0.80 or more on held-out patients, above the majority baseline",
          _provenance_monitor, Threshold("mean", ">=", 0.80),
          "paired: accuracy minus the majority baseline per patient", known_data=True),
    Claim("04", "relevance-adds-to-rules",
          "Head relevance adds to the simple rules: a monitor on the three rules' outputs plus "
          "head relevance tells the sources apart better on held-out patients than one on the "
          "rules alone (summaries in the training wording)",
          _relevance_over_rules, (Threshold("low", ">", 0.0), Threshold("p", "<=", 0.05)),
          "paired over patients: the same monitor on the rules alone", known_data=True),
    Claim("04", "in-context-heads-causal",
          "Mean-ablating the in-context heads (chosen on other prompts) lowers the preference "
          "for the context answer, more than random heads do", _causal("in-context"),
          Threshold("p", "<=", 0.05), "layer-matched random sets of as many heads",
          # not required of the course model: it holds there (p = 0.03 for the in-context heads,
          # 0.01 for the memory heads), close to the threshold
          course=False),
    Claim("04", "memory-heads-causal",
          "Mean-ablating the memory heads (chosen on other prompts) lowers the preference for "
          "the memory answer, more than random heads do", _causal("memory"),
          Threshold("p", "<=", 0.05), "layer-matched random sets of as many heads", course=False),
]


def _conflict_ranks(ctx: Context) -> Measurement:
    """Per conflict prompt of notebook 04: 1 when both answers (memory and context) rank among
    the top 10 next tokens, with the ranks in the details."""
    from utils.conflicts import answer_ranks
    from utils.prompts import COUNTERFACTUALS
    ranks = [answer_ranks(ctx.model, ctx.tokenizer, s) for s in COUNTERFACTUALS]
    both = [float(r["parametric rank"] <= 10 and r["contextual rank"] <= 10) for r in ranks]
    return Measurement(mean_interval(both), None, "both answers in the top 10", "13 of 15",
                       {"parametric ranks": [r["parametric rank"] for r in ranks],
                        "contextual ranks": [r["contextual rank"] for r in ranks]})


# Measured for the lessons files: the conflicts the notebook's heads are chosen on.
MEASUREMENTS = [
    Claim("04", "conflict-ranks", "Both answers of a knowledge conflict rank among the top 10 "
          "next tokens on most of the notebook's 15 prompts", _conflict_ranks,
          Threshold("mean", ">=", 13 / 15), "fixed reference: 13 of 15 (eval.json's threshold)"),
]
