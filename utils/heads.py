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


def compare_head_views(all_rows: torch.Tensor, last_row: torch.Tensor, k: int = 5) -> dict:
    """Two head relevances [n_layers, n_heads] side by side: the rank correlation of their
    |scores| over all heads, and the heads both put in their top k by |score|."""
    from utils.attribution import rank_correlation

    top_all = select_top_heads(all_rows.abs(), k)
    top_last = select_top_heads(last_row.abs(), k)
    return {"rank correlation": rank_correlation(all_rows.abs().flatten(), last_row.abs().flatten()),
            "shared top": sorted(set(top_all) & set(top_last)), "top all rows": top_all,
            "top last row": top_last}


def self_reading_share(maps: torch.Tensor, heads) -> list[float]:
    """For each (layer, head), the share of its |relevance| map [seq, seq] on the diagonal (a
    position reading its own token): maps [n_layers, n_heads, seq, seq]."""
    shares = []
    for layer, head in heads:
        m = maps[layer, head].abs()
        shares.append(float(m.diagonal().sum() / m.sum().clamp_min(1e-12)))
    return shares


def first_token_relevance_share(maps: torch.Tensor, k: int = 12) -> torch.Tensor:
    """For the k heads of largest summed |relevance|, the share of each one's |relevance| map on
    the first token (key 0): [k], best head first. maps: [n_layers, n_heads, seq, seq]."""
    magnitude = maps.abs()
    top = magnitude.sum(dim=(-2, -1)).flatten().topk(k).indices
    flat = magnitude.flatten(0, 1)[top]                           # [k, seq, seq]
    return flat[:, :, 0].sum(-1) / flat.sum((-2, -1)).clamp_min(1e-12)
