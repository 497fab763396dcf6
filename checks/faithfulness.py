"""Checks for notebook 06 (faithfulness of explanations)."""
import torch

from checks.core import random_ids, run_check, tiny_llama
from checks.references import reference

__all__ = ["check_deletion_curve"]


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
