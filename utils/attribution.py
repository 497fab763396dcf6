"""Around input attribution (notebook 01): candidate next tokens, the explained logit, the
occlusion baseline and relevance at given embeddings.

Relevance comes back as a CPU float tensor [seq], one value per input token.
"""
from __future__ import annotations

from contextlib import nullcontext
from typing import NamedTuple

import torch

from utils.lrp import attnlrp
from utils.models import input_device
from utils.validate import check_input_ids, check_int_in_range


class Prediction(NamedTuple):
    """One candidate next token."""
    token_id: int
    token: str          # readable text (spaces as '␣')
    probability: float
    logit: float


def top_k_predictions(model, tokenizer, input_ids, k=5):
    """The k most likely next tokens after `input_ids` [1, seq], most likely first."""
    from utils.tokens import readable_token

    vocab = model.get_output_embeddings().weight.shape[0]
    k = check_int_in_range(k, 1, vocab, "k", "k counts the next tokens to list (5 is usual).")
    check_input_ids(model, input_ids)
    with torch.no_grad():
        logits = model(input_ids.to(input_device(model))).logits[0, -1].float()
    probs = logits.softmax(-1)
    top = probs.topk(k)
    return [Prediction(int(i), readable_token(tokenizer, int(i)), float(p), float(logits[i]))
            for p, i in zip(top.values, top.indices)]


def target_logit(model, input_ids, target_id, foil_id=None) -> float:
    """The number every method here explains: logit(target) [- logit(foil)] at the last position."""
    with torch.no_grad():
        logits = model(input_ids.to(input_device(model))).logits[0, -1].float()
    return float(logits[target_id] - (logits[foil_id] if foil_id is not None else 0.0))


def baseline_token_id(tokenizer) -> int:
    """A token with as little meaning as possible to occlude with: a lone space, else padding.

    There is no truly neutral token; a space keeps the prompt's length and rarely carries
    content. Tokenizers that merge the space into its neighbour fall back to the pad token.
    """
    ids = tokenizer(" ", add_special_tokens=False).input_ids
    if len(ids) == 1:
        return int(ids[0])
    if tokenizer.pad_token_id is not None:
        return int(tokenizer.pad_token_id)
    return int(tokenizer.eos_token_id)


def gradient_norm(model, input_ids, target_id, input_embeds=None):
    """Plain gradient saliency: the L2 norm of d logit / d embedding of each token, [seq].

    input_embeds: optional [1, seq, d] embeddings to differentiate at (e.g. slightly perturbed
    ones); by default those of `input_ids`.
    """
    if input_embeds is None:
        input_embeds = model.get_input_embeddings()(input_ids)
    embeds = input_embeds.detach().requires_grad_(True)
    model(inputs_embeds=embeds, use_cache=False).logits[0, -1, target_id].backward()
    return embeds.grad[0].float().norm(dim=-1).detach().cpu()


def relevance_at(model, input_embeds, target_id, method):
    """Relevance [seq] computed at given embeddings [1, seq, d] ('gradient', 'ixg' or 'lrp').

    Used to see how each method reacts to tiny changes of its input (gradient shattering).
    """
    if method == "gradient":
        return gradient_norm(model, None, target_id, input_embeds)
    if method not in ("ixg", "lrp"):
        raise ValueError(f"method must be 'gradient', 'ixg' or 'lrp', not {method!r}.")
    embeds = input_embeds.detach().requires_grad_(True)
    # The same computation as input_x_gradient, but starting from embeddings instead of ids.
    with attnlrp(model) if method == "lrp" else nullcontext():
        model(inputs_embeds=embeds, use_cache=False).logits[0, -1, target_id].backward()
    return (embeds * embeds.grad).sum(-1)[0].float().detach().cpu()


def conservation_line(ratios, name: str) -> str:
    """One line on how far method `name`'s relevance sums land from the logit.
    ratios: [n] values (notebook 01's conservation_ratios; 1 = conserved)."""
    ratios = torch.as_tensor(ratios, dtype=torch.float64)
    return (f"{name}: relevance / logit from {float(ratios.min()):.2f} to "
            f"{float(ratios.max()):.2f} on {len(ratios)} prompts (1 = conserved)")


def first_token_attention(model, tokenizer, prompts) -> torch.Tensor:
    """Mean attention each head puts on the first token (BOS), over the query positions after
    it and over `prompts`: [n_layers, n_heads] in [0, 1]. A head above 0.5 uses the first
    token as a resting place (an attention sink, Xiao et al. 2024)."""
    from utils.tokens import encode

    shares = []
    with torch.no_grad():
        for prompt in prompts:
            out = model(encode(tokenizer, prompt, model), output_attentions=True)
            # each [1, H, q, k]: attention of queries 1.. on key 0
            shares.append(torch.stack([a[0, :, 1:, 0].float().mean(-1).cpu()
                                       for a in out.attentions]))
    return torch.stack(shares).mean(0)


def sink_line(shares: torch.Tensor, threshold: float = 0.5) -> str:
    """One sentence on attention sinks from first_token_attention's [n_layers, n_heads]."""
    n = int((shares > threshold).sum())
    return (f"{n} of {shares.numel()} heads put more than {threshold:.0%} of their attention on "
            f"the first token (mean over heads: {float(shares.mean()):.2f}; largest: "
            f"{float(shares.max()):.2f})")


def rank_correlation(a, b) -> float:
    """Spearman's rho of two score vectors [n]: the Pearson correlation of their ranks."""
    ranks = torch.stack([torch.as_tensor(a).argsort().argsort(),
                         torch.as_tensor(b).argsort().argsort()]).float()
    return float(torch.corrcoef(ranks)[0, 1])


def shattering(model, input_ids, target_id, levels=(0.01, 0.1), draws: int = 4, seed: int = 0,
               methods=("gradient", "ixg", "lrp")) -> dict:
    """How much each method's map changes under tiny input noise (gradient shattering).

    Gaussian noise of `level` x the embeddings' root mean square is added to the input
    embeddings; returns {level: {method: mean rank correlation with the noise-free map,
    "logit change": mean |change of the target logit| / |logit|}} over `draws` seeded draws.
    """
    gen = torch.Generator().manual_seed(seed)
    embeds = model.get_input_embeddings()(input_ids.to(input_device(model))).detach()
    scale = embeds.float().pow(2).mean().sqrt()
    clean = {m: relevance_at(model, embeds, target_id, m) for m in methods}
    with torch.no_grad():
        logit = float(model(inputs_embeds=embeds).logits[0, -1, target_id])
    result = {}
    for level in levels:
        corr, change = {m: 0.0 for m in methods}, 0.0
        for _ in range(draws):
            noise = level * scale * torch.randn(embeds.shape, generator=gen)
            noisy = embeds + noise.to(embeds.device, embeds.dtype)
            for m in methods:
                corr[m] += rank_correlation(relevance_at(model, noisy, target_id, m), clean[m]) / draws
            with torch.no_grad():
                moved = float(model(inputs_embeds=noisy).logits[0, -1, target_id])
            change += abs(moved - logit) / abs(logit) / draws
        result[level] = {**corr, "logit change": change}
    return result
