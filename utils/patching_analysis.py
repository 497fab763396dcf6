"""Notebook 05 as the field patches: logit differences, the prompts a model gets right, noising
beside denoising, patches restricted to positions, attribution patching and heads patched together.

    items = sentiment_pairs(model, tokenizer)               # one per test review, with `right`
    metric = normalised_metric(item)                        # logits -> 0 (corrupted) .. 1 (clean)
    denoise = patch_heads(model, pair, clean_cache, "z", metric)
    noise = 1 - patch_heads(model, pair.swapped(), corrupted_cache, "z", metric)
    approx = attribution_patching(...)   # notebook 05's exercise 4 (solutions.activation_patching)
    together = heads_together(model, pair, clean_cache, heads, metric)
"""
from __future__ import annotations

import numpy as np
import torch

from utils.models import model_shape
from utils.patching import Patch, align_prompts, cache_activations, run_with_patches
from utils.tokens import answer_token_id


def logit_diff(logits: torch.Tensor, answer_id: int, foil_id: int) -> torch.Tensor:
    """logits [..., vocab] -> [...]: logit of the correct label minus the swapped label's."""
    logits = logits.float()
    return logits[..., answer_id] - logits[..., foil_id]


def sentiment_pairs(model, tokenizer) -> list[dict]:
    """Each test review of notebook 05 as a clean/corrupted pair with its logit differences.

    Returns dicts: review, label, foil (the swapped label), pair (AlignedPair), answer_id,
    foil_id, clean / corrupted (logit differences, correct - swapped label) and right (the
    clean run's top next token is the correct label's first token).
    """
    from utils.prompts import LABEL_SWAP, SENTIMENT_TESTS, sentiment_prompt

    items = []
    for review, label in SENTIMENT_TESTS:
        clean_prompt, corrupted_prompt = sentiment_prompt(review), sentiment_prompt(review, corrupted=True)
        pair = align_prompts(tokenizer, clean_prompt, corrupted_prompt, " " + label, model)
        foil_id = answer_token_id(tokenizer, clean_prompt, " " + LABEL_SWAP[label])
        with torch.no_grad():
            clean_logits = model(**pair.clean_inputs()).logits[0, -1]
            corrupted_logits = model(**pair.corrupted_inputs()).logits[0, -1]
        items.append(dict(review=review, label=label, foil=LABEL_SWAP[label], pair=pair,
                          answer_id=pair.answer_id, foil_id=foil_id,
                          clean=float(logit_diff(clean_logits, pair.answer_id, foil_id)),
                          corrupted=float(logit_diff(corrupted_logits, pair.answer_id, foil_id)),
                          right=int(clean_logits.argmax()) == pair.answer_id))
    return items


def normalised_metric(item: dict, normalise=None):
    """logits [n, vocab] -> [n]: the item's logit difference rescaled to 0 (corrupted) .. 1 (clean).

    normalise(logits, answer_id, foil_id, clean_diff, corrupted_diff): the exercise's function
    (None: the same computation here)."""
    if normalise is None:
        def normalise(logits, answer_id, foil_id, clean, corrupted):
            return (logit_diff(logits, answer_id, foil_id) - corrupted) / (clean - corrupted)
    return lambda logits: normalise(logits, item["answer_id"], item["foil_id"], item["clean"],
                                    item["corrupted"])


def usable(items: list[dict], min_gap: float = 1.0) -> tuple[list[dict], list[tuple[dict, str]]]:
    """(kept, left out with the reason): kept = right on the clean run and a gap of at least
    `min_gap` between the clean and corrupted logit differences (else the normalisation
    divides by almost nothing)."""
    kept, left_out = [], []
    for item in items:
        if not item["right"]:
            left_out.append((item, "wrong on the clean run: there is no correct behaviour to restore"))
        elif item["clean"] - item["corrupted"] < min_gap:
            left_out.append((item, f"the logit difference is {item['clean']:.2f} clean and "
                                   f"{item['corrupted']:.2f} corrupted, not lower by {min_gap:g} or more: "
                                   "swapping the labels does not move the answer away from the correct label"))
        else:
            kept.append(item)
    return kept, left_out


def noising_heads(model, pair, metric, batch_size: int = 64) -> torch.Tensor:
    """Noising: each head's output at every position taken from the corrupted run into the clean
    run. Returns [L, H]: how much of the clean behaviour is lost (1 - metric; 0 = nothing)."""
    from utils.patching import patch_heads

    corrupted_cache = cache_activations(model, pair.corrupted_inputs())
    return 1 - patch_heads(model, pair.swapped(), corrupted_cache, "z", metric, batch_size)


def heads_together(model, pair, cache, heads, metric, positions=None) -> float:
    """metric with the outputs of all `heads` [(layer, head)] patched at once (denoising:
    `cache` from the clean run), at `positions` (None: every valid position)."""
    target = pair if positions is None else pair.subset(positions)
    row = tuple(Patch("z", int(layer), head=int(head)) for layer, head in heads)
    return float(metric(run_with_patches(model, target, cache, [row]))[0])


def spearman_rho(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman rank correlation of two equally shaped tensors (average ranks for ties)."""
    from scipy.stats import spearmanr

    return float(spearmanr(a.flatten().numpy(), b.flatten().numpy()).statistic)


def top_overlap(a: torch.Tensor, b: torch.Tensor, k: int = 5) -> int:
    """How many of the k largest entries of a and b are the same heads."""
    top = lambda x: set(x.flatten().argsort(descending=True)[:k].tolist())   # noqa: E731
    return len(top(a) & top(b))


def agreement_verdict(name: str, approx: torch.Tensor, exact: torch.Tensor, k: int = 5,
                      min_rho: float = 0.5) -> tuple[bool, str]:
    """(holds, sentence): does a cheap score rank heads like activation patching does?"""
    rho, shared = spearman_rho(approx, exact), top_overlap(approx, exact, k)
    return rho >= min_rho, (f"{name}: Spearman {rho:+.2f} with activation patching over "
                            f"{approx.numel()} heads, {shared} of the top {k} heads shared")


def mean_of(arrays) -> np.ndarray:
    return np.mean(np.stack([np.asarray(a) for a in arrays]), axis=0)


def label_positions(pair) -> list[int]:
    """Positions where the clean and corrupted prompts differ (the demonstration labels)."""
    return [i for i, d in enumerate(pair.differs) if d]


def head_at(scores: torch.Tensor, rank: int = 0) -> tuple[int, int]:
    """The (layer, head) with the rank-th largest score of [L, H]."""
    i = int(scores.flatten().argsort(descending=True)[rank])
    return divmod(i, scores.shape[1])


def top_heads(scores: torch.Tensor, k: int) -> list[tuple[int, int]]:
    return [head_at(scores, r) for r in range(min(k, scores.numel()))]


def self_attention_at(cache, layer: int, head: int, positions) -> float:
    """Mean attention weight a head gives a position from that same position, over `positions`."""
    pattern = cache["pattern"][layer][head]                     # [S, S]
    return float(torch.stack([pattern[p, p] for p in positions]).mean())


def position_verdict(all_pos, at_labels, at_last, cache, pair) -> tuple[bool, str]:
    """(holds, sentence): is the strongest layer-0 head (all-position patching) a head that acts
    at the label positions - most of its effect comes back when patched there alone, almost none
    at the last position - and does it attend to itself there?"""
    layer0 = all_pos[0]
    head = int(layer0.argmax())
    full, labels, last = float(layer0[head]), float(at_labels[0, head]), float(at_last[0, head])
    attends = self_attention_at(cache, 0, head, label_positions(pair))
    # full > 0.05: the head must restore something before its positions can be compared
    holds = full > 0.05 and labels >= 0.8 * full and abs(last) < 0.1 * full
    return holds, (f"L0H{head}: {full:+.2f} patched at every position, {labels:+.2f} at the label "
                   f"positions alone, {last:+.2f} at the last position alone; at the label "
                   f"positions it gives {attends:.2f} of its attention to the label itself")


def together_verdict(together: float, singles: torch.Tensor, heads, min_share: float = 0.8) -> tuple[bool, str]:
    """(holds, sentence): do `heads`, patched together, restore at least `min_share` of the
    behaviour? singles: [L, H] their effects one at a time, for comparison."""
    names = ", ".join(f"L{l}H{h}" for l, h in heads)
    alone = " + ".join(f"{float(singles[l, h]):.2f}" for l, h in heads)
    return together >= min_share, (f"{names} together restore {together:.2f} of the behaviour "
                                   f"(one at a time: {alone})")


def noising_verdict(denoise: torch.Tensor, noise: torch.Tensor, k: int = 3) -> tuple[bool, str]:
    """(holds, sentence): do denoising and noising find mostly the same top-k heads?"""
    a, b = top_heads(denoise, k), top_heads(noise, k)
    shared = len(set(a) & set(b))
    fmt = lambda hs: ", ".join(f"L{l}H{h}" for l, h in hs)   # noqa: E731
    return shared >= k - 1, (f"top {k} by denoising: {fmt(a)}; by noising: {fmt(b)}; "
                             f"{shared} shared")
