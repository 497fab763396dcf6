"""Notebook 03's claims: which heads carry a task or a fact, measured over many prompts.

The function vector's own verdict (does it beat no vector, random heads and another task's
vector on held-out words?) is printed by the notebook from `report_verdict`; it is not listed
here while the course model does not do the word tasks in context (the notebook's report table
shows that), because there it does not hold. Nor is the agreement of the heads
chosen by indirect effect and by LRP: the notebook prints that verdict and asks what to look
for, and on the course model the two choices share about as many heads as chance.
"""
from __future__ import annotations

from claims import Claim, Context, Verdict


def _transplants(ctx: Context, kind: str):
    def compute():
        from solutions.function_vectors import (head_outputs_at_last, substring_head_scores,
                                                transplant_heads)
        from utils.prompts import RETRIEVAL_ROWS, TRANSPLANT_PAIRS
        from utils.transplant import answered_pairs, default_k, transplant_effects
        pairs = (answered_pairs(ctx.model, ctx.tokenizer, RETRIEVAL_ROWS)[0] if kind == "retrieval"
                 else TRANSPLANT_PAIRS[kind])     # a retrieval pair reads the fact the model answers
        return transplant_effects(ctx.model, ctx.tokenizer, pairs,
                                  default_k(ctx.model), scores_fn=substring_head_scores,
                                  capture=head_outputs_at_last, transplant=transplant_heads,
                                  greedy_tokens=0)
    return ctx.memo(f"nb03.transplant.{kind}", compute)


def _transplant(kind: str):
    def decide(ctx: Context) -> Verdict:
        from utils.transplant import transplant_verdict
        return Verdict(*transplant_verdict(_transplants(ctx, kind)))
    return decide


def _own_outputs_change_nothing(ctx: Context) -> Verdict:
    import torch

    from solutions.function_vectors import head_outputs_at_last, transplant_heads
    from utils.models import model_shape
    from utils.prompts import ATLANTIC_PROMPT
    from utils.tokens import encode
    n_layers, n_heads, _ = model_shape(ctx.model)
    heads = [(layer, head) for layer in range(n_layers) for head in (0, n_heads - 1)]
    ids = encode(ctx.tokenizer, ATLANTIC_PROMPT, ctx.model)
    own = head_outputs_at_last(ctx.model, ids, heads)
    with torch.no_grad():
        clean = ctx.model(ids).logits
        with transplant_heads(ctx.model, heads, own):
            patched = ctx.model(ids).logits
    change = float((patched - clean).abs().max())
    return Verdict(change == 0.0, f"largest logit change {change:.1e} over {len(heads)} heads")


CLAIMS = [
    Claim("03", "own-outputs-change-nothing",
          "Transplanting heads' own outputs back into the same prompt changes nothing",
          _own_outputs_change_nothing),
    Claim("03", "task-heads-move-target",
          "Task heads move the target toward the source's answer more than random heads",
          _transplant("task")),
    Claim("03", "retrieval-heads-move-target",
          "Retrieval heads move the target toward the source's answer more than random heads",
          _transplant("retrieval")),
]
