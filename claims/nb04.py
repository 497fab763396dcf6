"""Notebook 04's claims: the naive monitor fails, the provenance monitor works, heads are causal."""
from __future__ import annotations

from claims import Claim, Context, Verdict

def _conflicts(ctx: Context):
    def compute():
        from solutions.knowledge_conflicts import conflict_head_relevance
        from utils.conflicts import (conflict_relevances, contrastive_scores, heads_per_side,
                                     split_heads_by_source)
        from utils.models import model_shape
        from utils.prompts import COUNTERFACTUALS

        relevance, kept, _, _ = conflict_relevances(ctx.model, ctx.tokenizer, COUNTERFACTUALS,
                                                    relevance_fn=conflict_head_relevance)
        n_layers, n_heads, _ = model_shape(ctx.model)
        k = heads_per_side(n_layers, n_heads)
        return relevance, kept, split_heads_by_source(contrastive_scores(relevance), k)
    return ctx.memo("nb04.conflicts", compute)


def _ablation(ctx: Context):
    def compute():
        from utils.conflicts import ablation_table, ablation_verdicts
        from utils.prompts import COUNTERFACTUALS

        _, _, (param_heads, context_heads) = _conflicts(ctx)
        return ablation_verdicts(ablation_table(ctx.model, ctx.tokenizer, COUNTERFACTUALS,
                                                param_heads, context_heads))
    return ctx.memo("nb04.ablation", compute)


def _summary(ctx: Context):
    """The model's handover summary of the course's record, its labels and token relevance."""
    def compute():
        from utils.conflicts import token_head_relevance_batched
        from utils.generation import greedy_ids
        from utils.lrp import attnlrp
        from utils.prompts import PATIENT_RECORD, handover_messages
        from utils.provenance import prompt_ids, summary_labels

        prompt = prompt_ids(ctx.tokenizer, handover_messages(PATIENT_RECORD))
        full = greedy_ids(ctx.model, ctx.tokenizer, prompt, max_new_tokens=120)
        new = full[0, prompt.shape[1]:]
        truth, _ = summary_labels(ctx.tokenizer, PATIENT_RECORD, new.tolist())
        with attnlrp(ctx.model):
            relevance = token_head_relevance_batched(ctx.model, full, prompt.shape[1])
        return truth.astype(bool), relevance
    return ctx.memo("nb04.summary", compute)


def _naive_monitor_fails(ctx: Context) -> Verdict:
    from utils.conflicts import monitor_dataset
    from utils.monitor import fit_monitor, head_features, score_against_truth
    from utils.provenance import near_chance_verdict

    relevance, _, (param_heads, context_heads) = _conflicts(ctx)
    heads = param_heads + context_heads
    monitor = fit_monitor(*monitor_dataset(relevance, heads))
    truth, token_relevance = _summary(ctx)
    p = monitor.predict_proba(head_features(token_relevance, heads))[:, 1]
    return Verdict(*near_chance_verdict(score_against_truth(p > 0.5, truth, p)))


def _monitor_works(ctx: Context) -> Verdict:
    from utils.conflicts import token_head_relevance_batched
    from utils.lrp import attnlrp
    from utils.provenance import held_out_monitor, monitor_verdict

    with attnlrp(ctx.model):
        _, _, result = held_out_monitor(ctx.model, ctx.tokenizer,
                                        token_relevance=token_head_relevance_batched)
    return Verdict(*monitor_verdict(result))


CLAIMS = [
    Claim("04", "naive-monitor-fails",
          "The monitor trained on the counterfactuals' answer tokens does not transfer to the "
          "summary: its balanced accuracy and ROC AUC stay near chance (below 0.65)",
          _naive_monitor_fails),
    Claim("04", "provenance-monitor-works",
          "A monitor trained on other patients' summaries with exact provenance reaches balanced "
          "accuracy 0.80 or more on held-out patients, above the majority baseline",
          _monitor_works),
    Claim("04", "in-context-heads-causal",
          "Mean-ablating the in-context heads lowers the context-answer rate, more than as many "
          "random heads do", lambda ctx: Verdict(*_ablation(ctx)["in-context"])),
    Claim("04", "memory-heads-causal",
          "Mean-ablating the memory heads lowers the memory-answer rate, more than as many "
          "random heads do", lambda ctx: Verdict(*_ablation(ctx)["memory"])),
]
