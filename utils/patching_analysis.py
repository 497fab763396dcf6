"""Notebook 05 as the field patches: logit differences, the prompts a model gets right, noising
beside denoising, patches restricted to positions, attribution patching and heads patched together.

    items = sentiment_pairs(model, tokenizer)               # one per test review, with `right`
    metric = normalised_metric(item)                        # logits -> 0 (corrupted) .. 1 (clean)
    denoise = patch_heads(model, pair, clean_cache, "z", metric)
    noise = 1 - patch_heads(model, pair.swapped(), corrupted_cache, "z", metric)
    approx = attribution_patching(model, pair, clean_cache, metric)   # one forward + one backward
    together = heads_together(model, pair, clean_cache, heads, metric)
"""
from __future__ import annotations

import numpy as np
import torch

from utils.hooks import o_proj_pre_hooks
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
            left_out.append((item, f"clean and corrupted differ by {item['clean'] - item['corrupted']:.2f} "
                                   "only: swapping the labels does not change the answer"))
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


def attribution_patching(model, pair, cache, metric, positions=None) -> torch.Tensor:
    """Attribution patching of every head's output: [L, H] from one forward and one backward pass.

    First-order Taylor estimate of `patch_heads(..., "z", ...)`: the metric's gradient with
    respect to each head's output in the corrupted run, times (clean - corrupted) output,
    summed over `positions` (None: every valid position) and the head's dimensions.
    cache: the clean run's activations (`cache_activations`), with "z" [L, S, H, dh].
    """
    n_layers, n_heads, head_dim = model_shape(model)
    outputs = {}

    def keep(layer):
        def hook(module, args):
            z = args[0].detach().requires_grad_(True)
            outputs[layer] = z
            return (z, *args[1:])
        return hook

    with o_proj_pre_hooks(model, {layer: keep(layer) for layer in range(n_layers)}):
        score = metric(model(**pair.corrupted_inputs()).logits[:, -1]).sum()
    grads = torch.autograd.grad(score, [outputs[layer] for layer in range(n_layers)])
    where = pair.valid_positions if positions is None else torch.as_tensor(positions)
    result = torch.zeros(n_layers, n_heads)
    for layer, grad in enumerate(grads):
        z = outputs[layer].detach()[0].unflatten(-1, (n_heads, head_dim))      # [S, H, dh]
        g = grad[0].unflatten(-1, (n_heads, head_dim))
        delta = cache["z"][layer].to(z) - z
        result[layer] = (delta[where] * g[where]).sum(dim=(0, 2)).float().cpu()
    return result


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
