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


def conservation_by_method(ctx: Context) -> dict:
    """The notebook's measurement: conservation_ratios of AttnLRP, CP-LRP and Input x Gradient
    on the fifteen knowledge-conflict prompts."""
    def compute():
        from solutions.input_attribution import (conservation_ratios, input_x_gradient,
                                                 lrp_relevance)
        from utils.lrp import attnlrp
        from utils.prompts import COUNTERFACTUALS

        def cp_lrp(model, ids, target_id):
            with attnlrp(model, rule="cp"):
                return input_x_gradient(model, ids, target_id)
        prompts = [c.prompt for c in COUNTERFACTUALS]
        return {name: conservation_ratios(ctx.model, ctx.tokenizer, prompts, fn)
                for name, fn in [("AttnLRP", lrp_relevance), ("CP-LRP", cp_lrp),
                                 ("Input x Gradient", input_x_gradient)]}
    return ctx.memo("nb01.conservation_by_method", compute)


def _attnlrp_loses_relevance(ctx: Context) -> Verdict:
    ratios = conservation_ratios(ctx) + conservation_by_method(ctx)["AttnLRP"].tolist()
    return Verdict(all(0 < r < 0.95 for r in ratios),
                   f"relevance / logit from {min(ratios):.2f} to {max(ratios):.2f} on "
                   f"{len(ratios)} prompts (1 = conserved)")


def _cp_lrp_conserves(ctx: Context) -> Verdict:
    from utils.attribution import conservation_verdict
    return Verdict(*conservation_verdict(conservation_by_method(ctx)["CP-LRP"], "CP-LRP"))


def _few_sinks(ctx: Context) -> Verdict:
    from utils.attribution import first_token_attention, sink_line
    from utils.prompts import DUST_PROMPT, READING_PROMPTS
    shares = first_token_attention(ctx.model, ctx.tokenizer,
                                   [DUST_PROMPT, *READING_PROMPTS])
    return Verdict(bool((shares > 0.5).float().mean() < 0.25), sink_line(shares))


def _no_shattering(ctx: Context) -> Verdict:
    from utils.attribution import shattering, shattering_verdict
    from utils.prompts import DUST_PROMPT
    from utils.tokens import encode
    ids = encode(ctx.tokenizer, DUST_PROMPT, ctx.model)
    with __import__("torch").no_grad():
        target = int(ctx.model(ids).logits[0, -1].argmax())
    shatters, figure = shattering_verdict(shattering(ctx.model, ids, target))
    return Verdict(not shatters, figure)


CLAIMS = [
    Claim("01", "attnlrp-loses-relevance",
          "AttnLRP's relevance sums to less than the explained logit: part of it is lost",
          _attnlrp_loses_relevance),
    Claim("01", "cp-lrp-conserves",
          "CP-LRP (softmax weights held constant) conserves the logit: the loss is AttnLRP's "
          "softmax rule, not the normalisation layers", _cp_lrp_conserves),
    Claim("01", "few-attention-sinks",
          "Few of the model's heads rest on the first token (an attention sink)", _few_sinks),
    Claim("01", "gradients-do-not-shatter",
          "The model's raw gradients do not shatter at small input noise", _no_shattering),
]
