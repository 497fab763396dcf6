"""Notebook 06's claims: what the deletion and insertion tests say on the loaded model.

Decided on notebook 06's prompts with its methods (occlusion left out: no claim rests on it),
through the same `faithfulness_curves`, `summary`, `compare_methods` and `random_spread` its
cells call, with its two deletion baselines (`deletion_baseline_id`).
"""
from __future__ import annotations

from claims import Claim, Context, Verdict


def _prompts():
    from utils.prompts import COUNTERFACTUALS, DUST_PROMPT, OPPOSITE_PROMPT, READING_PROMPTS, TRANSLATION_PROMPT

    # notebook 06's PROMPTS
    return ([DUST_PROMPT, TRANSLATION_PROMPT, OPPOSITE_PROMPT]
            + [c.prompt for c in COUNTERFACTUALS] + READING_PROMPTS)


def _between(ctx: Context, second: bool = False):
    """method -> [prompts] area between curves, and all curves, for the first baseline (Part 2)
    or the second (Part 3), on every prompt either can score."""
    def compute():
        from solutions.faithfulness import normalise_curve
        from solutions.input_attribution import input_x_gradient
        from utils.faithfulness import (deletion_baseline_id, explain_prompts, faithfulness_curves,
                                        summary)
        from utils.lrp import attnlrp

        def lrp(model, ids, target):
            with attnlrp(model):
                return input_x_gradient(model, ids, target)

        methods = {"Input x Gradient": input_x_gradient,
                   "|Input x Gradient|": lambda m, ids, t: input_x_gradient(m, ids, t).abs(),
                   "LRP": lrp}
        tok = ctx.tokenizer
        first_id = deletion_baseline_id(ctx.model, tok, _prompts())
        second_id = deletion_baseline_id(ctx.model, tok, _prompts(), exclude={first_id})
        items = ctx.memo("nb06.items", lambda: explain_prompts(ctx.model, tok, _prompts(), methods,
                                                                first_id, seed=0))
        all_curves = []
        for item in items:
            try:
                all_curves.append(faithfulness_curves(
                    ctx.model, item["ids"], item["target_id"], item["relevances"], item["positions"],
                    second_id if second else first_id, normalise_curve=normalise_curve))
            except ValueError:       # the prediction does not move: skipped, as in the notebook
                continue
        if len(all_curves) < 2:
            raise ValueError("fewer than two prompts can be scored")
        return summary(all_curves)[1], all_curves
    return ctx.memo(f"nb06.between.{second}", compute)


def _ahead(a, b, both=False):
    def decide(ctx: Context) -> Verdict:
        from utils.faithfulness import compare_methods, comparison_lines

        lines, holds = [], True
        for second in ((False, True) if both else (False,)):
            between, _ = _between(ctx, second)
            holds &= compare_methods(between, [(a, b)])[0]["verdict"] == "ahead"
            lines.append(("second baseline: " if second else "") + comparison_lines(between, [(a, b)])[0])
        return Verdict(holds, "; ".join(lines))
    return decide


def _random_floor(ctx: Context) -> Verdict:
    from utils.faithfulness import random_spread

    mean, spread, single = random_spread(_between(ctx)[1])
    n_orders = len(_between(ctx)[1][0]["random"]["orders"])
    return Verdict(abs(mean) < 0.05 and single > 0.1,
                   f"mean of {n_orders} orders {mean:+.3f}; one order lies {single:.3f} from zero on "
                   f"average (standard deviation {spread:.3f})")


CLAIMS = [
    Claim("06", "random-floor", "The mean of 10 random orders is near zero (|area between| < 0.05) "
          "while a single order typically lies more than 0.1 from zero", _random_floor),
    Claim("06", "lrp-beats-random", "LRP is ahead of the random floor (paired test), with either "
          "baseline", _ahead("LRP", "random", both=True)),
    Claim("06", "lrp-beats-ixg", "LRP is ahead of Input x Gradient (paired test), with either baseline",
          _ahead("LRP", "Input x Gradient", both=True)),
]
