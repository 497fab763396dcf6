"""Head scores as numbers: the top heads and how concentrated relevance is.

Head scores are [n_layers, n_heads] tensors (e.g. notebook 02's head relevance).
"""
import torch


def select_top_heads(head_scores: torch.Tensor, k: int) -> list[tuple[int, int]]:
    """The `k` heads with the largest score, best first: head_scores [n_layers, n_heads].
    NaN scores (heads that were not measured) rank last."""
    if head_scores.dim() != 2:
        raise ValueError(f"head_scores must have shape [n_layers, n_heads], got {tuple(head_scores.shape)}.")
    n_layers, n_heads = head_scores.shape
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive whole number of heads, got {k!r}.")
    if k > n_layers * n_heads:
        raise ValueError(f"k={k} is larger than the number of heads: this model has {n_layers} "
                         f"layers x {n_heads} heads = {n_layers * n_heads}. Pick k <= {n_layers * n_heads}.")
    # Stable sort: ties keep layer-major order, so the selection is reproducible.
    flat = head_scores.detach().flatten().float().cpu().nan_to_num(nan=float("-inf"))
    order = torch.sort(flat, descending=True, stable=True).indices
    return [divmod(int(i), n_heads) for i in order[:k]]


def relevance_concentration(head_scores, fraction=0.1):
    """Share of the total absolute relevance held by the top `fraction` of heads.

    head_scores: [n_layers, n_heads]; returns (share in [0, 1], number of heads counted). With
    relevance spread evenly, the share would equal `fraction`; a larger share means few heads
    carry the prediction.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction}: e.g. 0.1 for the top 10%.")
    magnitude = head_scores.detach().abs().flatten().float()
    n_top = max(1, round(fraction * magnitude.numel()))
    total = magnitude.sum().clamp_min(1e-12)
    return float(magnitude.topk(n_top).values.sum() / total), n_top
