"""Notebook 06's claims: what the deletion and insertion tests say, over many prompts.

Decided on notebook 06's prompts (its `PROMPTS`: N_PROMPTS of them; a model measured with fewer
items takes the first ones), with its methods and through the same `faithfulness_curves` its
cells call, with both of its deletion baselines (`deletion_baseline_id`: tokens no prompt holds
where one is removed), on the prompts that both baselines can score. Methods are compared prompt
by prompt (paired sign-flip test); the p-values of the four comparisons (two pairs of methods x
two baselines) are Holm-corrected together. The notebook decides the claims with
`faithfulness_measurements` on its own curves, so its verdicts and the claims table are one
decision.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from claims import Claim, Context, Measurement, Threshold
from claims.items import reading_items
from utils.stats import holm, mean_interval, paired_test

N_PROMPTS = 25      # notebook 06's PROMPTS (utils.prompts.FAITHFULNESS_PROMPTS)
COMPARISONS = {("LRP", "random", False): "lrp-beats-random",
               ("LRP", "random", True): "lrp-beats-random-second",
               ("LRP", "Input x Gradient", False): "lrp-beats-ixg",
               ("LRP", "Input x Gradient", True): "lrp-beats-ixg-second"}


def _prompts(n: int) -> list[str]:
    from utils.prompts import FAITHFULNESS_PROMPTS as own   # notebook 06's PROMPTS
    return own[:n] + [p for p, _, _ in reading_items(max(0, n - len(own)), seed=6)]


def faithfulness_measurements(first: list[dict], second: list[dict]) -> dict[str, Measurement]:
    """Claim id -> Measurement, from the `faithfulness_curves` of the same prompts with the first
    and with the second deletion baseline (one dict per prompt, in the same order; each holds
    "LRP", "Input x Gradient" and "random").

    "random-floor": the mean area between curves of each prompt's random orders (first
    baseline). The comparisons: the area between curves of LRP minus that of the other method,
    per prompt, with a one-sided paired sign-flip test whose p is Holm-adjusted over the four."""
    import torch

    from utils.faithfulness import summary
    if len(first) != len(second) or len(first) < 2:
        raise ValueError(f"give the curves of the same prompts with both baselines, at least 2: "
                         f"got {len(first)} and {len(second)}")
    between = {False: summary(first)[1], True: summary(second)[1]}
    tests = {key: paired_test(between[key[2]][key[0]].double().numpy(),
                              between[key[2]][key[1]].double().numpy()) for key in COMPARISONS}
    adjusted = holm([t.p_value for t in tests.values()])
    out = {}
    for ((a, b, second_baseline), test), p in zip(tests.items(), adjusted):
        test = dataclasses.replace(test, p_value=float(p))
        which = "second baseline" if second_baseline else "first baseline"
        out[COMPARISONS[(a, b, second_baseline)]] = Measurement(
            test.difference, test, f"area between curves, {a} - {b}, {which}",
            f"paired, Holm over {len(tests)} comparisons")
    orders = torch.stack([c["random"]["orders"] for c in first]).double().numpy()
    out["random-floor"] = Measurement(
        mean_interval(orders.mean(1)), None,
        f"mean area between curves of {orders.shape[1]} random orders", "zero",
        {"single order |area| (mean)": float(np.abs(orders).mean()),
         "orders per prompt": int(orders.shape[1])})
    return out


def _measured(ctx: Context) -> dict[str, Measurement]:
    """notebook 06's Parts 2 and 3 on the claim's prompts: LRP and Input x Gradient (with its
    random orders) under both baselines, on the prompts both can score."""
    def compute():
        from solutions.faithfulness import normalise_curve
        from solutions.input_attribution import input_x_gradient
        from utils.faithfulness import deletion_baseline_id, explain_prompts, faithfulness_curves
        from utils.lrp import attnlrp

        def lrp(model, ids, target):
            with attnlrp(model):
                return input_x_gradient(model, ids, target)

        methods = {"Input x Gradient": input_x_gradient, "LRP": lrp}
        tok = ctx.tokenizer
        prompts = _prompts(ctx.n_items(N_PROMPTS))
        first_id = deletion_baseline_id(ctx.model, tok, prompts)
        second_id = deletion_baseline_id(ctx.model, tok, prompts, exclude={first_id})
        first, second = [], []
        for item in explain_prompts(ctx.model, tok, prompts, methods, first_id, seed=0):
            try:
                curves = [faithfulness_curves(ctx.model, item["ids"], item["target_id"],
                                              item["relevances"], item["positions"], baseline,
                                              normalise_curve=normalise_curve)
                          for baseline in (first_id, second_id)]
            except ValueError:       # the prediction does not move: skipped, as in the notebook
                continue
            first.append(curves[0])
            second.append(curves[1])
        return faithfulness_measurements(first, second)
    return ctx.memo("nb06.measured", compute)


def _measure(claim_id: str):
    def measure(ctx: Context) -> Measurement:
        return _measured(ctx)[claim_id]
    return measure


CLAIMS = [
    Claim("06", "random-floor", "The mean of the random orders is near zero (|area between| < "
          "0.05)", _measure("random-floor"), Threshold("extent", "<", 0.05),
          "fixed reference: zero"),
    Claim("06", "lrp-beats-random", "LRP is clearly ahead of the random floor (first baseline)",
          _measure("lrp-beats-random"), Threshold("p", "<=", 0.05), "random orders, paired"),
    Claim("06", "lrp-beats-random-second", "LRP is clearly ahead of the random floor (second "
          "baseline)", _measure("lrp-beats-random-second"), Threshold("p", "<=", 0.05),
          "random orders, paired"),
    Claim("06", "lrp-beats-ixg", "LRP is clearly ahead of Input x Gradient (first baseline)",
          _measure("lrp-beats-ixg"), Threshold("p", "<=", 0.05),
          "Input x Gradient, paired"),
    Claim("06", "lrp-beats-ixg-second", "LRP is clearly ahead of Input x Gradient (second "
          "baseline)", _measure("lrp-beats-ixg-second"), Threshold("p", "<=", 0.05),
          "Input x Gradient, paired"),
]
