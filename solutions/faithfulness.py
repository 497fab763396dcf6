"""Notebook 06: how faithful is each explanation? The deletion curve."""
import torch

from utils.faithfulness import last_token_logits
from utils.validate import check_positions


def deletion_curve(model, input_ids, target_id, order, baseline_id, batch_size=32):
    """Target logit as tokens are deleted (replaced by `baseline_id`) in `order`.

    input_ids: [1, seq]; order: [n] positions, most relevant first. Returns [n + 1]: entry k is
    the logit of `target_id` at the last position with the first k positions of `order`
    replaced (entry 0: the original input; entry n: every position of `order` replaced).
    """
    order = check_positions(order, input_ids.shape[1], "order").to(input_ids.device)
    n = order.numel()
    # row k deletes the first k positions of the order: removed[k, j] = j < k
    removed = torch.arange(n + 1, device=input_ids.device)[:, None] > torch.arange(n, device=input_ids.device)
    steps = input_ids.repeat(n + 1, 1)                                   # [n + 1, seq]
    steps[:, order] = torch.where(removed, baseline_id, input_ids[0, order])
    return last_token_logits(model, steps, target_id, batch_size)


def normalise_curve(curve, full_value, empty_value, min_span=1e-6):
    """Rescale a deletion or insertion curve so the original input scores 1 and the input with
    every candidate token removed scores 0.

    curve: [..., n + 1] target logits (one curve or a batch); full_value, empty_value (floats):
    the logits of the original input and of the input with every candidate removed (the
    deletion curve's first and last entries). Returns a new tensor shaped like `curve` (the
    input is not modified). Raises ValueError when |full_value - empty_value| < min_span:
    the rescaling would divide by almost nothing.
    """
    span = full_value - empty_value
    # a logit may rise when tokens go (span < 0): only a span near zero cannot be rescaled
    if abs(span) < min_span:
        raise ValueError(f"Removing every token changes the target logit by only {span:.2g} "
                         f"(less than {min_span:g}): the curve cannot be normalised. Pick a "
                         "prompt whose prediction depends on its tokens.")
    return (curve - empty_value) / span
