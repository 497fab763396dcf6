"""Logit-difference metric, noising, several patches per run, attribution patching, summaries."""
import torch

from checks.patching import tiny_pair
from tests.test_patching import gqa_llama
from utils.patching import (ActivationCache, Patch, cache_activations, patch_heads,
                            run_with_patches)
from solutions.activation_patching import attribution_patching
from utils.patching_analysis import (heads_together, logit_diff, noising_heads, normalised_metric,
                                     usable)


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


def test_usable_and_where_the_layer0_head_acts():
    from utils.patching_analysis import rewrites_label
    items = [dict(right=True, clean=3.0, corrupted=-2.0), dict(right=False, clean=1.0, corrupted=0.0),
             dict(right=True, clean=2.0, corrupted=2.5)]
    kept, left = usable(items)
    assert kept == [items[0]] and [why.split(":")[0] for _, why in left][0].startswith("wrong")
    assert rewrites_label({"every": 0.5, "labels": 0.45, "last": 0.01})
    assert not rewrites_label({"every": 0.5, "labels": 0.3, "last": 0.01})     # not at the labels
    assert not rewrites_label({"every": 0.5, "labels": 0.45, "last": 0.2})     # also at the last
    assert not rewrites_label({"every": 0.01, "labels": 0.01, "last": 0.0})    # restores nothing


def test_last_position_patches_equal_full_runs_also_with_pads():
    from utils.patching_analysis import patch_last_position

    model = gqa_llama(seed=3)
    for pair in (tiny_pair(model, seed=3, seq_len=8, differ=(2, 5)),
                 tiny_pair(model, seed=4, seq_len=8, differ=(2, 5), pad_at=3).swapped()):
        foil = (pair.answer_id + 1) % model.config.vocab_size   # raw difference: no tiny gap
        metric = lambda logits, foil=foil, pair=pair: logit_diff(logits, pair.answer_id, foil)  # noqa: E731
        cache = cache_activations(model, pair.clean_inputs())
        sets = [[(0, 1)], [(1, 0), (1, 3)], [(0, 0), (1, 2), (1, 1)]]
        fast = patch_last_position(model, pair, cache, sets, metric)
        slow = [heads_together(model, pair, cache, s, metric, positions=[pair.seq_len - 1]) for s in sets]
        assert torch.allclose(fast, torch.tensor(slow), atol=1e-4), (fast, slow)
    ids = torch.tensor([[3, 4, 5]])
    with torch.no_grad():
        before = model(ids).logits
        patch_last_position(model, pair, cache, sets, metric)
        assert torch.equal(model(ids).logits, before)


def test_generated_prompts_have_their_own_demonstrations_and_swapped_labels():
    from utils.patching_analysis import REVIEW_POOL, SENTIMENT_LABELS, generated_sentiment_prompts
    from utils.prompts import LABEL_SWAP, SENTIMENT_DEMOS, SENTIMENT_TESTS

    prompts = generated_sentiment_prompts(12, seed=1)
    assert generated_sentiment_prompts(12, seed=1) == prompts            # seeded
    assert [p["label"] for p in prompts[:4]] == list(SENTIMENT_LABELS)
    demo_sets = set()
    course = {t for t, _ in SENTIMENT_DEMOS} | {t for t, _ in SENTIMENT_TESTS}
    for p in prompts:
        clean, corrupted = p["clean"].split("\n"), p["corrupted"].split("\n")
        assert len(clean) == 7 and clean[-1] == corrupted[-1] == f"Review: {p['review']} Sentiment:"
        texts = [line.split(" Sentiment: ")[0][len("Review: "):] for line in clean[:-1]]
        assert p["review"] not in texts and len(set(texts)) == 6 and not course & set(texts)
        for c_line, x_line in zip(clean[:-1], corrupted[:-1]):
            label = c_line.rsplit(" ", 1)[1]
            assert x_line.rsplit(" ", 1)[1] == LABEL_SWAP[label]
            assert c_line.split(" Sentiment: ")[0][len("Review: "):] in REVIEW_POOL[label]
        assert set(SENTIMENT_LABELS) <= {line.rsplit(" ", 1)[1] for line in clean[:-1]}
        demo_sets.add(tuple(texts))
    assert len(demo_sets) == len(prompts)
    import pytest
    with pytest.raises(ValueError, match="n >= 1"):
        generated_sentiment_prompts(0)


def test_a_design_of_two_sentiments_uses_only_those_and_their_swap():
    """positive/negative prompts: queries alternate, every demonstration label is one of the
    two, the swap stays inside them; a set the swap leads out of is refused."""
    import pytest

    from claims.items import sentiment_triples
    from utils.patching_analysis import generated_sentiment_prompts
    two = ("positive", "negative")
    prompts = generated_sentiment_prompts(8, seed=2, labels=two)
    assert [p["label"] for p in prompts[:4]] == ["positive", "negative"] * 2
    for p in prompts:
        for text in (p["clean"], p["corrupted"]):
            assert {line.rsplit(" ", 1)[1] for line in text.split("\n")[:-1]} <= set(two)
    for clean, corrupted, label in sentiment_triples(12, labels=two):
        shown = {line.rsplit(" ", 1)[1] for line in (clean + "\n" + corrupted).split("\n")
                 if not line.endswith("Sentiment:")}
        assert label in two and shown <= set(two) and clean != corrupted
    assert sentiment_triples(12) == sentiment_triples(12, labels=None)   # default: all four
    for bad in (("positive",), ("positive", "neutral"), ("joyful", "negative")):
        with pytest.raises(ValueError, match="swap"):
            generated_sentiment_prompts(4, labels=bad)
        with pytest.raises(ValueError, match="swap"):
            sentiment_triples(4, labels=bad)


def test_carriers_are_chosen_on_the_other_half_and_agreement_reads_sign_and_size():
    import numpy as np
    from utils.patching_analysis import (attribution_agreement, carriers_sentence,
                                         held_out_carriers, prompt_sweep)

    model = gqa_llama(seed=5)
    items = [_item(model, tiny_pair(model, seed=s, seq_len=7, differ=(2, 4)), foil_id=1) for s in range(6)]
    sweep = prompt_sweep(model, None, items, attribution_patching)
    assert sweep["effect"].shape == sweep["approx"].shape == (6, 2, 4)
    result = held_out_carriers(model, items, sweep, k=2, n_random=10)
    first, second = result["halves"]
    # planting a huge effect on the half a set is scored on does not change that set's heads
    planted = dict(sweep, effect=sweep["effect"].clone())
    planted["effect"][first, 0, 0] = 1e6
    again = held_out_carriers(model, items, planted, k=2, n_random=10)
    assert again["heads"][0] == result["heads"][0] and (0, 0) in again["heads"][1]
    assert result["random"].shape == (10, 6)
    sentence = carriers_sentence(result)
    assert "n = 6" in sentence and "per prompt" in sentence and "p = " in sentence
    toy = {"effect": torch.tensor([[[1.0, 0.5], [0.0, 0.0]]]), "approx": torch.tensor([[[0.25, -0.5], [0.0, 0.0]]])}
    agreement = attribution_agreement(toy, k=2)
    assert agreement["same sign"].tolist() == [True, False]
    assert np.allclose(agreement["ratio"], [0.25, -1.0])
