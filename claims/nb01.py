"""Notebook 01's claims: what input attributions show on the loaded model."""
from __future__ import annotations

from claims import Claim, Context, Verdict


def conservation_ratios(ctx: Context) -> list[float]:
    """AttnLRP relevance sum / explained logit on the course's reading prompts (most likely
    next token of each)."""
    def compute():
        from solutions.input_attribution import lrp_relevance
        from utils.attribution import target_logit, top_k_predictions
        from utils.prompts import DUST_PROMPT, READING_PROMPTS
        from utils.tokens import encode

        ratios = []
        for prompt in [DUST_PROMPT, *READING_PROMPTS]:
            ids = encode(ctx.tokenizer, prompt, ctx.model)
            top = top_k_predictions(ctx.model, ctx.tokenizer, ids, 1)[0]
            logit = target_logit(ctx.model, ids, top.token_id)
            ratios.append(float(lrp_relevance(ctx.model, ids, top.token_id).sum()) / logit)
        return ratios
    return ctx.memo("nb01.conservation", compute)


def _attnlrp_loses_relevance(ctx: Context) -> Verdict:
    ratios = conservation_ratios(ctx)
    return Verdict(all(0 < r < 1 for r in ratios),
                   f"relevance / logit from {min(ratios):.2f} to {max(ratios):.2f} on "
                   f"{len(ratios)} prompts (1 = conserved)")


CLAIMS = [
    Claim("01", "attnlrp-loses-relevance",
          "AttnLRP's relevance sums to less than the explained logit: part of it is lost",
          _attnlrp_loses_relevance),
]
