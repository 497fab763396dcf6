"""Notebook 01's claims: what input attributions show on the loaded model, over many prompts.

Conservation (CP-LRP sums to the logit, AttnLRP to less) holds by construction of the rules:
it is an implementation test (tests/test_construction.py). It is still measured here, in
`MEASUREMENTS`, for the lessons files, where a reader compares models.
"""
from __future__ import annotations

import numpy as np

from claims import Claim, Context, Measurement, Threshold
from claims.items import passages
from utils.stats import mean_interval

N_PROMPTS = 24


def _ratios(ctx: Context, method: str) -> np.ndarray:
    """relevance sum / logit of the top token [n prompts] for 'AttnLRP' or 'CP-LRP'."""
    def compute():
        from solutions.input_attribution import conservation_ratios, input_x_gradient, lrp_relevance
        from utils.lrp import attnlrp

        def cp_lrp(model, ids, target_id):
            with attnlrp(model, rule="cp"):
                return input_x_gradient(model, ids, target_id)
        fn = lrp_relevance if method == "AttnLRP" else cp_lrp
        prompts = passages(ctx.n_items(N_PROMPTS))
        return conservation_ratios(ctx.model, ctx.tokenizer, prompts, fn).numpy()
    return ctx.memo(f"nb01.ratios.{method}", compute)


def conservation_measurement(ratios, method: str) -> Measurement:
    """The conservation entry of `method` from its ratios [n prompts] (relevance sum / logit,
    notebook 01's conservation_ratios): AttnLRP's mean ratio, or CP-LRP's |ratio - 1|.
    The notebook decides its conservation cells with it, so both run one decision."""
    ratios = np.asarray(ratios, dtype=float)
    details = {"ratio_min": float(ratios.min()), "ratio_max": float(ratios.max())}
    if method == "AttnLRP":
        return Measurement(mean_interval(ratios), None, "AttnLRP relevance / logit",
                           "conserved (1.00)", details)
    if method == "CP-LRP":
        return Measurement(mean_interval(np.abs(ratios - 1)), None,
                           "CP-LRP |relevance / logit - 1|", "conserved (0.00)", details)
    raise ValueError(f"conservation is registered for 'AttnLRP' and 'CP-LRP', not {method!r}")


def _attnlrp_conservation(ctx: Context) -> Measurement:
    return conservation_measurement(_ratios(ctx, "AttnLRP"), "AttnLRP")


def _cp_lrp_error(ctx: Context) -> Measurement:
    return conservation_measurement(_ratios(ctx, "CP-LRP"), "CP-LRP")


def _sinks(ctx: Context) -> Measurement:
    """Per prompt: the share of heads putting more than half their attention on token 0."""
    from utils.attribution import first_token_attention
    prompts = passages(ctx.n_items(N_PROMPTS))
    shares = [float((first_token_attention(ctx.model, ctx.tokenizer, [p]) > 0.5).float().mean())
              for p in prompts]
    return Measurement(mean_interval(shares), None, "share of sink heads",
                       "a quarter of the heads (0.25)")


def _shattering(ctx: Context) -> Measurement:
    """Per prompt: rank correlation of the gradient map with itself at input noise 0.1 x RMS."""
    import torch

    from utils.attribution import shattering
    from utils.tokens import encode
    corr = []
    for prompt in passages(ctx.n_items(20)):
        ids = encode(ctx.tokenizer, prompt, ctx.model)
        with torch.no_grad():
            target = int(ctx.model(ids).logits[0, -1].argmax())
        corr.append(shattering(ctx.model, ids, target, levels=(0.1,), draws=1,
                               methods=("gradient",))[0.1]["gradient"])
    return Measurement(mean_interval(corr), None, "gradient rank correlation under noise",
                       "shattered (below 0.5)")


CLAIMS = [
    Claim("01", "few-attention-sinks",
          "Few of the model's heads rest on the first token (an attention sink)", _sinks,
          Threshold("high", "<", 0.25), "fixed reference: a quarter of the heads"),
    Claim("01", "gradients-do-not-shatter",
          "The model's raw gradients do not shatter at small input noise", _shattering,
          Threshold("low", ">", 0.5), "fixed reference: rank correlation 0.5"),
]

# Measured for the lessons files; true by construction, so not claims (see the docstring).
MEASUREMENTS = [
    Claim("01", "attnlrp-conservation",
          "AttnLRP's relevance sums to less than the explained logit", _attnlrp_conservation,
          Threshold("high", "<", 1.0), "fixed reference: 1 = conserved", course=True),
    Claim("01", "cp-lrp-conservation",
          "CP-LRP conserves the logit: relevance / logit = 1.00 +- 0.01", _cp_lrp_error,
          Threshold("high", "<=", 0.01), "fixed reference: 0 = conserved", course=True),
]
