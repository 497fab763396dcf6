"""Notebook 06: how faithful is each explanation? The deletion curve."""
import torch

from utils.faithfulness import last_token_logits


def deletion_curve(model, input_ids, target_id, order, baseline_id, batch_size=32):
    """Target logit as tokens are deleted (replaced by `baseline_id`) in `order`.

    input_ids: [1, seq]; order: [n] positions, most relevant first. Returns [n + 1]: entry k is
    the logit of `target_id` at the last position with the first k positions of `order`
    replaced (entry 0: the original input; entry n: every position of `order` replaced).
    """
    order = torch.as_tensor(order, device=input_ids.device).long()
    n = order.numel()
    # row k deletes the first k positions of the order: removed[k, j] = j < k
    removed = torch.arange(n + 1, device=input_ids.device)[:, None] > torch.arange(n, device=input_ids.device)
    steps = input_ids.repeat(n + 1, 1)                                   # [n + 1, seq]
    steps[:, order] = torch.where(removed, baseline_id, input_ids[0, order])
    return last_token_logits(model, steps, target_id, batch_size)
