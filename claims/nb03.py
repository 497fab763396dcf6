"""Notebook 03's claims: which heads carry a task or a fact, measured over many prompts.

The function vector's own verdict (does it beat no vector, random heads and another task's
vector on held-out words?) is printed by the notebook from `function_vector_verdict`; it is
not listed here while the course model does not do the word tasks in context (the notebook's
first table shows that), because there it does not hold.
"""
from __future__ import annotations

from claims import Claim, Context, Verdict


def _found(ctx: Context) -> dict:
    """choose_heads on every word task, with the reference answers and the notebook's settings."""
    def compute():
        from solutions.function_vectors import indirect_effects, mean_head_outputs
        from utils.function_vectors import choose_heads
        from utils.prompts import FV_TASKS
        return {task: choose_heads(ctx.model, ctx.tokenizer, task, 6,
                                   mean_head_outputs=mean_head_outputs,
                                   indirect_effects=indirect_effects, n_prompts=8, n_shuffled=2)
                for task in FV_TASKS}
    return ctx.memo("nb03.found", compute)


def _transplants(ctx: Context, kind: str):
    def compute():
        from solutions.function_vectors import (head_outputs_at_last, substring_head_scores,
                                                transplant_heads)
        from utils.prompts import TRANSPLANT_PAIRS
        from utils.transplant import default_k, transplant_effects
        return transplant_effects(ctx.model, ctx.tokenizer, TRANSPLANT_PAIRS[kind],
                                  default_k(ctx.model), scores_fn=substring_head_scores,
                                  capture=head_outputs_at_last, transplant=transplant_heads)
    return ctx.memo(f"nb03.transplant.{kind}", compute)


def _overlap(ctx: Context) -> Verdict:
    from utils.function_vectors import overlap_verdict
    from utils.models import model_shape
    n_layers, n_heads, _ = model_shape(ctx.model)
    return Verdict(*overlap_verdict(_found(ctx), n_layers * n_heads))


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
    Claim("03", "ie-lrp-heads-agree",
          "The heads chosen by indirect effect and by LRP relevance agree more than chance",
          _overlap),
    Claim("03", "task-heads-move-target",
          "Task heads move the target toward the source's answer more than random heads",
          _transplant("task")),
    Claim("03", "retrieval-heads-move-target",
          "Retrieval heads move the target toward the source's answer more than random heads",
          _transplant("retrieval")),
]
