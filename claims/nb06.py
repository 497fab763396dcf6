"""Notebook 06's claims: what the deletion and insertion tests say, over many prompts.

Decided on notebook 06's prompts (held-out reading prompts fill up to N_PROMPTS), with its
methods and through the same `faithfulness_curves` and `summary` its cells call, with either of
its deletion baselines (`deletion_baseline_id`: tokens no prompt holds where one is removed). Methods are compared prompt by prompt (paired sign-flip test); the p-values of the
four comparisons (two pairs of methods x two baselines) are Holm-corrected together.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from claims import Claim, Context, Measurement, Threshold
from claims.items import reading_items
from utils.stats import holm, mean_interval, paired_test

N_PROMPTS = 24
COMPARISONS = [("LRP", "random"), ("LRP", "Input x Gradient")]


def _prompts(n: int) -> list[str]:
    from utils.prompts import (COUNTERFACTUALS, DUST_PROMPT, OPPOSITE_PROMPT, READING_PROMPTS,
                               TRANSLATION_PROMPT)
    own = ([DUST_PROMPT, TRANSLATION_PROMPT, OPPOSITE_PROMPT]   # notebook 06's PROMPTS
           + [c.prompt for c in COUNTERFACTUALS] + READING_PROMPTS)
    return own[:n] + [p for p, _, _ in reading_items(max(0, n - len(own)), seed=6)]


def _between(ctx: Context, second: bool) -> dict:
    """method -> [prompts] area between the insertion and deletion curves; "random orders":
    [prompts, orders] the area of each random order."""
    def compute():
        import torch

        from solutions.faithfulness import normalise_curve
        from solutions.input_attribution import input_x_gradient
        from utils.faithfulness import (deletion_baseline_id, explain_prompts,
                                        faithfulness_curves, summary)
        from utils.lrp import attnlrp

        def lrp(model, ids, target):
            with attnlrp(model):
                return input_x_gradient(model, ids, target)

        methods = {"Input x Gradient": input_x_gradient, "LRP": lrp}
        tok = ctx.tokenizer
        prompts = _prompts(ctx.n_items(N_PROMPTS))
        first_id = deletion_baseline_id(ctx.model, tok, prompts)
        second_id = deletion_baseline_id(ctx.model, tok, prompts, exclude={first_id})
        items = ctx.memo("nb06.items", lambda: explain_prompts(
            ctx.model, tok, prompts, methods, first_id, seed=0))
        curves = []
        for item in items:
            try:
                curves.append(faithfulness_curves(
                    ctx.model, item["ids"], item["target_id"], item["relevances"],
                    item["positions"], second_id if second else first_id,
                    normalise_curve=normalise_curve))
            except ValueError:       # the prediction does not move: skipped, as in the notebook
                continue
        if len(curves) < 2:
            raise ValueError("fewer than two prompts can be scored")
        between = {m: v.numpy() for m, v in summary(curves)[1].items()}
        between["random orders"] = torch.stack([c["random"]["orders"] for c in curves]).numpy()
        return between
    return ctx.memo(f"nb06.between.{second}", compute)


def _tests(ctx: Context) -> dict:
    """(a, b, second) -> PairedTest of a - b with its Holm-adjusted p over the comparisons."""
    def compute():
        tests = {(a, b, second): paired_test(_between(ctx, second)[a], _between(ctx, second)[b])
                 for second in (False, True) for a, b in COMPARISONS}
        adjusted = holm([t.p_value for t in tests.values()])
        return {key: dataclasses.replace(t, p_value=float(p))
                for (key, t), p in zip(tests.items(), adjusted)}
    return ctx.memo("nb06.tests", compute)


def _ahead(a: str, b: str, second: bool):
    def measure(ctx: Context) -> Measurement:
        test = _tests(ctx)[(a, b, second)]
        which = "second baseline" if second else "first baseline"
        return Measurement(test.difference, test, f"area between curves, {a} - {b}, {which}",
                           f"paired, Holm over {len(_tests(ctx))} comparisons")
    return measure


def _random_floor(ctx: Context) -> Measurement:
    orders = _between(ctx, False)["random orders"]
    return Measurement(mean_interval(orders.mean(1)), None,
                       f"mean area between curves of {orders.shape[1]} random orders", "zero",
                       {"single order |area| (mean)": float(np.abs(orders).mean()),
                        "orders per prompt": int(orders.shape[1])})


CLAIMS = [
    Claim("06", "random-floor", "The mean of the random orders is near zero (|area between| < "
          "0.05)", _random_floor, Threshold("extent", "<", 0.05), "fixed reference: zero"),
    Claim("06", "lrp-beats-random", "LRP is clearly ahead of the random floor (first baseline)",
          _ahead("LRP", "random", False), Threshold("p", "<=", 0.05), "random orders, paired"),
    Claim("06", "lrp-beats-random-second", "LRP is clearly ahead of the random floor (second "
          "baseline)", _ahead("LRP", "random", True), Threshold("p", "<=", 0.05),
          "random orders, paired"),
    Claim("06", "lrp-beats-ixg", "LRP is clearly ahead of Input x Gradient (first baseline)",
          _ahead("LRP", "Input x Gradient", False), Threshold("p", "<=", 0.05),
          "Input x Gradient, paired"),
    Claim("06", "lrp-beats-ixg-second", "LRP is clearly ahead of Input x Gradient (second "
          "baseline)", _ahead("LRP", "Input x Gradient", True), Threshold("p", "<=", 0.05),
          "Input x Gradient, paired"),
]
