"""Head scores as numbers: the top heads, how concentrated relevance is, and input checks.

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


def check_relevance_inputs(model, input_ids, target_id, foil_id=None):
    """Clear errors for the inputs a learner most often gets wrong."""
    if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2 or input_ids.shape[0] != 1:
        shape = tuple(input_ids.shape) if isinstance(input_ids, torch.Tensor) else type(input_ids)
        raise ValueError(f"input_ids must be a tensor of shape [1, seq], got {shape}: "
                         "use utils.tokens.encode(tokenizer, prompt, model).")
    if input_ids.shape[1] == 0:
        raise ValueError("input_ids is empty: encode a non-empty prompt.")
    vocab = model.config.vocab_size
    for name, token in (("target_id", target_id), ("foil_id", foil_id)):
        if token is not None and not 0 <= int(token) < vocab:
            raise ValueError(f"{name}={token} is not a token id of this model (0..{vocab - 1}): "
                             "take it from the tokenizer or from the model's top predictions.")
