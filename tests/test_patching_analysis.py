"""Logit-difference metric, noising, several patches per run, attribution patching, verdicts."""
import torch

from checks.patching import tiny_pair
from tests.test_patching import gqa_llama
from utils.patching import (ActivationCache, Patch, cache_activations, patch_heads,
                            run_with_patches)
from solutions.activation_patching import attribution_patching
from utils.patching_analysis import (heads_together, logit_diff,
                                     noising_heads, noising_verdict, normalised_metric,
                                     together_verdict, usable)


def _item(model, pair, foil_id=7):
    with torch.no_grad():
        clean = model(**pair.clean_inputs()).logits[0, -1]
        corrupted = model(**pair.corrupted_inputs()).logits[0, -1]
    return dict(pair=pair, answer_id=pair.answer_id, foil_id=foil_id,
                clean=float(logit_diff(clean, pair.answer_id, foil_id)),
                corrupted=float(logit_diff(corrupted, pair.answer_id, foil_id)), right=True)


def test_metric_ends_and_swapped_pair_for_noising():
    model = gqa_llama()
    pair = tiny_pair(model, seed=0, seq_len=7, differ=(2, 4))
    metric = normalised_metric(_item(model, pair))
    with torch.no_grad():
        assert abs(float(metric(model(**pair.clean_inputs()).logits[:, -1])[0]) - 1) < 1e-5
        assert abs(float(metric(model(**pair.corrupted_inputs()).logits[:, -1])[0])) < 1e-5
    swapped = pair.swapped()
    assert torch.equal(swapped.clean_ids, pair.corrupted_ids) and swapped.swapped().labels == pair.labels
    noise = noising_heads(model, pair, metric)
    assert noise.shape == (2, 4) and torch.isfinite(noise).all()


def test_several_patches_in_one_row():
    model = gqa_llama()
    pair = tiny_pair(model, seed=1, seq_len=7, differ=(2, 4))
    metric = normalised_metric(_item(model, pair))
    cache = cache_activations(model, pair.clean_inputs())
    single = run_with_patches(model, pair, cache, [Patch("z", 1, head=2)])
    assert torch.allclose(single, run_with_patches(model, pair, cache, [(Patch("z", 1, head=2),)]))
    every_head = [(layer, head) for layer in range(2) for head in range(4)]
    assert abs(heads_together(model, pair, cache, every_head, metric) - 1) < 1e-4   # all heads = clean


def test_attribution_patching_is_the_first_order_term():
    model = gqa_llama(seed=2)
    pair = tiny_pair(model, seed=2, seq_len=7, differ=(2, 4))
    metric = normalised_metric(_item(model, pair))
    clean, corrupted = cache_activations(model, pair.clean_inputs()), cache_activations(model, pair.corrupted_inputs())
    approx = attribution_patching(model, pair, clean, metric)
    eps = 1e-3   # a patch a thousandth of the way from corrupted to clean, scaled back up
    nudged = ActivationCache({**clean, "z": corrupted["z"] + eps * (clean["z"] - corrupted["z"])},
                             clean.input_ids)
    finite = patch_heads(model, pair, nudged, "z", metric) / eps
    assert torch.allclose(approx, finite, rtol=5e-2, atol=5e-3), (approx, finite)


def test_usable_and_verdicts():
    items = [dict(right=True, clean=3.0, corrupted=-2.0), dict(right=False, clean=1.0, corrupted=0.0),
             dict(right=True, clean=2.0, corrupted=2.5)]
    kept, left = usable(items)
    assert kept == [items[0]] and [why.split(":")[0] for _, why in left][0].startswith("wrong")
    scores = torch.tensor([[0.9, 0.1], [0.5, 0.0]])
    assert noising_verdict(scores, scores, k=2)[0]
    assert not together_verdict(0.5, scores, [(0, 0)])[0]
