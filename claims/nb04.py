"""Notebook 04's claims: the naive monitor fails, the provenance monitor works, heads are causal.

Heads are chosen on the notebook's 15 knowledge-conflict prompts and ablated on other prompts:
held-out conflicts over the course model's made-up world (`claims.items.conflict_samples`).
The effect is the mean change of each prompt's logit difference (context answer - memory
answer) when the heads are mean-ablated; the control is the distribution of `ctx.draws` random
sets of as many heads.

The monitors are scored patient by patient on held-out patients (their reference summaries,
labelled by the generator's exact spans), so n counts patients, not tokens.
"""
from __future__ import annotations

import numpy as np

from claims import Claim, Context, Measurement, Threshold
from claims.items import conflict_samples
from utils.stats import against_draws, mean_interval, paired_test

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


def _diffs(ctx: Context, samples, heads, means) -> np.ndarray:
    """Logit difference context - memory per sample [n], `heads` mean-ablated at every
    position (as `utils.conflicts.answer_rates` ablates them), all samples in one batch."""
    import torch

    from utils.hooks import o_proj_pre_hooks
    from utils.logits import left_padded
    from utils.models import input_device, model_shape
    from utils.tokens import first_divergent_tokens

    def prepare():
        rows = [first_divergent_tokens(ctx.tokenizer, s.prompt, " " + s.parametric,
                                       " " + s.contextual) for s in samples]
        device = input_device(ctx.model)
        batch = [t.to(device) for t in left_padded(ctx.tokenizer, [r[0][0].tolist() for r in rows])]
        return batch, torch.tensor([r[1] for r in rows]), torch.tensor([r[2] for r in rows])
    key = f"nb04.batch.{hash(tuple(s.prompt for s in samples))}"
    (ids, mask, pos), memory_ids, context_ids = ctx.memo(key, prepare)
    _, n_heads, head_dim = model_shape(ctx.model)
    by_layer: dict[int, list[int]] = {}
    for layer, head in heads:
        by_layer.setdefault(int(layer), []).append(int(head))

    def ablate(layer):
        def hook(module, args):
            x = args[0].clone().unflatten(-1, (n_heads, head_dim))   # the model's tensor stays
            for head in by_layer[layer]:
                x[..., head, :] = means[layer, head].to(x)
            return (x.flatten(-2),) + tuple(args[1:])
        return hook

    with torch.no_grad(), o_proj_pre_hooks(ctx.model, {l: ablate(l) for l in by_layer}):
        # logits_to_keep=1: the unembedding runs for the last position only
        logits = ctx.model(input_ids=ids, attention_mask=mask, position_ids=pos,
                           logits_to_keep=1).logits[:, -1]
    rows = torch.arange(len(samples))
    logits = logits.float().cpu()
    return (logits[rows, context_ids] - logits[rows, memory_ids]).numpy()


def _ablation(ctx: Context):
    """Per-prompt change of the logit difference for the in-context and the memory heads, and
    the mean change for each random draw."""
    def compute():
        from utils.conflicts import mean_head_outputs_over
        from utils.function_vectors import random_heads
        samples = conflict_samples(ctx.n_items(N_CONFLICTS))
        _, (memory, in_context) = _heads(ctx)
        means = mean_head_outputs_over(ctx.model, ctx.tokenizer, samples)
        clean = _diffs(ctx, samples, (), means)
        draws = np.array([np.mean(_diffs(ctx, samples, random_heads(ctx.model, len(in_context),
                                                                   seed=d), means) - clean)
                          for d in range(min(ctx.draws, MAX_DRAWS))])
        return {"in-context": _diffs(ctx, samples, in_context, means) - clean,
                "memory": _diffs(ctx, samples, memory, means) - clean, "random": draws,
                "clean context rate": float((clean > 0).mean()),
                "heads": {"in-context": in_context, "memory": memory}}
    return ctx.memo("nb04.ablation", compute)


def _causal(kind: str):
    def measure(ctx: Context) -> Measurement:
        a = _ablation(ctx)
        effect = mean_interval(a[kind])
        # in-context heads should push toward the context answer: ablating them lowers the
        # difference (below the random draws); memory heads the reverse
        alternative = "less" if kind == "in-context" else "greater"
        return Measurement(effect, against_draws(effect.mean, a["random"], alternative),
                           f"change of logit diff (context - memory), {kind} heads ablated",
                           "random heads", {"heads": [list(h) for h in a["heads"][kind]],
                                            "clean context rate": a["clean context rate"]})
    return measure


def _patients(ctx: Context):
    """Per held-out patient: token head relevance [n_tokens, L, H] and labels (1 = memory) of
    its reference summary; and the provenance monitor fitted on 5 training patients."""
    def compute():
        import torch

        from utils.conflicts import token_head_relevance_batched
        from utils.lrp import attnlrp
        from utils.models import input_device
        from utils.monitor import fit_monitor
        from utils.provenance import handover_examples, prompt_ids, provenance_dataset, span_labels

        with attnlrp(ctx.model):
            train = provenance_dataset(ctx.model, ctx.tokenizer, handover_examples(range(5), "train"),
                                       token_relevance=token_head_relevance_batched)
            patients = []
            for example in handover_examples(range(ctx.n_items(N_PATIENTS)), "eval"):
                chat = prompt_ids(ctx.tokenizer, example["messages"])
                ids, labels = span_labels(ctx.tokenizer, example["summary"], example["segments"])
                full = torch.cat([chat, torch.tensor([ids])], dim=1).to(input_device(ctx.model))
                patients.append((token_head_relevance_batched(ctx.model, full, chat.shape[1]),
                                 np.asarray(labels).astype(bool)))
        return fit_monitor(train.features, train.labels), patients
    return ctx.memo("nb04.patients", compute)


def _per_patient(ctx: Context, predict) -> tuple[list[float], list[float]]:
    """Balanced accuracy and (accuracy - majority baseline) per patient with both sources."""
    from utils.monitor import score_against_truth
    balanced, margin = [], []
    for relevance, truth in _patients(ctx)[1]:
        if truth.all() or not truth.any():
            continue   # balanced accuracy needs both sources in the summary
        p = predict(relevance)
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
    balanced, _ = _per_patient(ctx, lambda r: naive.predict_proba(head_features(r, heads))[:, 1])
    return Measurement(mean_interval(balanced), None, "naive monitor's balanced accuracy",
                       "chance (0.50)")


def _provenance_monitor(ctx: Context) -> Measurement:
    from utils.provenance import monitor_features
    monitor = _patients(ctx)[0]
    balanced, margin = _per_patient(
        ctx, lambda r: monitor.predict_proba(monitor_features(r))[:, 1])
    return Measurement(mean_interval(balanced), paired_test(margin, np.zeros(len(margin))),
                       "provenance monitor's balanced accuracy",
                       "accuracy above the majority baseline",
                       {"accuracy_minus_majority": float(np.mean(margin))})


CLAIMS = [
    Claim("04", "naive-monitor-fails",
          "The monitor trained on the counterfactuals' answer tokens does not transfer to the "
          "summaries: its balanced accuracy stays near chance (below 0.65)",
          _naive_monitor, Threshold("high", "<", 0.65), "fixed reference: chance 0.50"),
    Claim("04", "provenance-monitor-works",
          "A monitor trained on other patients' summaries with exact provenance reaches balanced "
          "accuracy 0.80 or more on held-out patients, above the majority baseline",
          _provenance_monitor, Threshold("mean", ">=", 0.80),
          "paired: accuracy minus the majority baseline per patient"),
    Claim("04", "in-context-heads-causal",
          "Mean-ablating the in-context heads (chosen on other prompts) lowers the preference "
          "for the context answer, more than random heads do", _causal("in-context"),
          Threshold("p", "<=", 0.05), "random sets of as many heads",
          course=False),   # on held-out conflicts the course model's heads do not beat random
    Claim("04", "memory-heads-causal",
          "Mean-ablating the memory heads (chosen on other prompts) lowers the preference for "
          "the memory answer, more than random heads do", _causal("memory"),
          Threshold("p", "<=", 0.05), "random sets of as many heads", course=False),
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
