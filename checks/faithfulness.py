"""Checks for notebook 06 (faithfulness of explanations)."""
import torch

from checks.core import NamedMistake, random_ids, run_check, tiny_llama
from checks.references import reference

__all__ = ["check_deletion_curve", "check_normalise_curve"]


def _cases():
    model = tiny_llama(seed=4)
    cases = []
    for seed in range(3):
        ids = random_ids(seed, 7)
        gen = torch.Generator().manual_seed(seed)
        order = 1 + torch.randperm(6, generator=gen)      # every position but the first
        cases.append(((model, ids, 3 + seed, order, 0), {}))
    cases.append(((model, random_ids(9, 6), 11, torch.tensor([4, 2]), 0), {}))   # a partial order
    return cases


def _logits(model, rows, target_id):
    with torch.no_grad():
        return model(rows).logits[:, -1].float()


def check_deletion_curve(fn):
    """Compare the learner's deletion curve with the reference on a tiny model."""
    def one_at_a_time(model, input_ids, target_id, order, baseline_id, **_):
        rows = input_ids.repeat(len(order) + 1, 1)
        for k, pos in enumerate(order.tolist(), start=1):
            rows[k, pos] = baseline_id
        return _logits(model, rows, target_id)[:, target_id]

    def reversed_order(model, input_ids, target_id, order, baseline_id, **_):
        return reference("deletion_curve")(model, input_ids, target_id, order.flip(0), baseline_id)

    def left_to_right(model, input_ids, target_id, order, baseline_id, **_):
        return reference("deletion_curve")(model, input_ids, target_id, order.sort().values, baseline_id)

    def probability(model, input_ids, target_id, order, baseline_id, **_):
        n = len(order)
        rows = input_ids.repeat(n + 1, 1)
        for k in range(1, n + 1):
            rows[k, order[:k]] = baseline_id
        return _logits(model, rows, target_id).softmax(-1)[:, target_id]

    def argmax_target(model, input_ids, target_id, order, baseline_id, **_):
        top = int(_logits(model, input_ids, target_id)[0].argmax())
        return reference("deletion_curve")(model, input_ids, top, order, baseline_id)

    mistakes = {
        "each row deletes only the k-th token; deletions must accumulate (row k deletes the "
        "first k tokens of the order)": one_at_a_time,
        "it deletes the least relevant tokens first; `order` starts with the most relevant":
            reversed_order,
        "it deletes from left to right; follow `order`": left_to_right,
        "it returns probabilities; the curve is the target's logit": probability,
        "it follows the most likely token instead of `target_id`": argmax_target,
    }
    return run_check("deletion_curve", fn, reference("deletion_curve"), _cases(), mistakes)


# ---------------------------------------------------------------- normalise_curve
def _curve_cases():
    """A deletion curve, an insertion curve (it runs the other way), a curve whose logit rises
    as tokens go (negative span) and a batch of curves; each overshoots its ends somewhere, so
    that rescaling by the curve's own range differs."""
    gen = torch.Generator().manual_seed(0)
    deletion = torch.tensor([4.0, 4.6, 2.5, 1.0, -0.5, 0.3, 0.5])          # full 4.0, empty 0.5
    insertion = torch.tensor([0.5, 1.5, 3.0, 4.8, 3.5, 4.0])               # empty 0.5, full 4.0
    rising = torch.tensor([-1.0, -2.0, 0.5, 1.5, 2.0])                     # full -1.0, empty 2.0
    batch = torch.cat([torch.full((3, 1), 3.0), 3 * torch.rand(3, 3, generator=gen) - 1,
                       torch.full((3, 1), 1.0)], 1)                        # full 3.0, empty 1.0
    return [((deletion, 4.0, 0.5), {}), ((insertion, 4.0, 0.5), {}), ((rising, -1.0, 2.0), {}),
            ((batch, 3.0, 1.0), {"min_span": 0.5})]


def _refuses_a_flat_curve(fn) -> str | None:
    for args, kwargs, what in (((torch.ones(4), 2.0, 2.0), {}, "equal"),
                               ((torch.ones(4), 1.0, 0.9), {"min_span": 0.5}, "closer than min_span")):
        try:
            fn(*args, **kwargs)
        except ValueError:
            continue
        return (f"returns a curve when the full and the empty logit are {what}: it divides by "
                "(almost) nothing. Raise a ValueError that says what to do when "
                "|full_value - empty_value| < min_span.")
    return None


def check_normalise_curve(fn):
    """Exercise 2: (curve - empty) / (full - empty), on a copy, refusing a span below min_span."""
    def not_divided(curve, full, empty, min_span=1e-6):
        return curve - empty

    def by_full_value(curve, full, empty, min_span=1e-6):
        return (curve - empty) / full

    def upside_down(curve, full, empty, min_span=1e-6):
        return (full - curve) / (full - empty)

    def own_ends(curve, full, empty, min_span=1e-6):
        return (curve - curve[..., -1:]) / (curve[..., :1] - curve[..., -1:])

    def by_absolute_span(curve, full, empty, min_span=1e-6):
        return (curve - empty) / abs(full - empty)

    def absolute_distance(curve, full, empty, min_span=1e-6):
        return (curve - empty).abs() / (full - empty)

    def own_range(curve, full, empty, min_span=1e-6):
        low = curve.min(-1, keepdim=True).values
        return (curve - low) / (curve.max(-1, keepdim=True).values - low)

    # own_ends is named before upside_down: on an insertion curve the two give the same numbers
    mistakes = {
        "it subtracts the empty logit but does not divide by (full_value - empty_value)": not_divided,
        "it divides by full_value; the scale is the span full_value - empty_value": by_full_value,
        "it takes the reference values from the curve's own first and last entries; an insertion "
        "curve runs the other way (it starts empty): use full_value and empty_value": own_ends,
        "it is upside down: the original input must score 1 and the input with every token "
        "removed 0 (subtract empty_value, not the curve from full_value)": upside_down,
        "it rescales by the curve's own minimum and maximum; the reference values are the full "
        "and the empty input's logits (a curve may overshoot 1 or dip below 0)": own_range,
        "it divides by the absolute value of the span; divide by the signed span "
        "full_value - empty_value, so that the original input scores 1 even when removing "
        "the tokens raised the logit": by_absolute_span,
        "it takes the absolute distance from empty_value; keep its sign (a curve may dip below "
        "the empty input's logit)": absolute_distance,
    }

    def learner(curve, full, empty, min_span=1e-6):
        try:
            return fn(curve, full, empty, min_span=min_span)
        except ValueError as err:
            if abs(full - empty) >= min_span:
                raise NamedMistake(
                    f"raises ValueError ({err}) for a curve whose logit changes by "
                    f"{full - empty:+g}: a negative span is fine (removing the tokens raised the "
                    "logit); compare abs(full_value - empty_value) with min_span.") from None
            raise

    return run_check("normalise_curve", learner, reference("normalise_curve"), _curve_cases(),
                     mistakes, extra=lambda _: _refuses_a_flat_curve(fn),
                     returns=(fn, reference("normalise_curve")))
