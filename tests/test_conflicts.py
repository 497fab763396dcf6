"""Notebook 04: conflict relevance, contrastive heads, the monitor and batched per-token relevance."""
import numpy as np
import pytest
import torch

from solutions import knowledge_conflicts as kc
from solutions.attention_heads import head_relevance
from utils import conflicts
from utils.generation import greedy_ids
from checks import check_conflict_head_relevance
from checks.conflicts import _SAMPLES, _variant
from checks.core import random_ids, tiny_llama, tiny_tokenizer
from utils.lrp import attnlrp
from utils.monitor import (fit_monitor, head_features, monitor_html, monitor_text,
                           normalise_relevance, score_against_truth)


# ---------------------------------------------------------------------------------------------
# per-token relevance: batched == loop

@pytest.mark.parametrize("lrp", [True, False])
@pytest.mark.parametrize("route", ["auto", "heads", "tokens"])
def test_batched_token_relevance_equals_the_loop(lrp, route):
    model, ids = tiny_llama(seed=7), random_ids(8, 24)
    start = 14   # 10 tokens, 8 heads: "auto" takes the heads route
    if lrp:
        with attnlrp(model):
            loop = conflicts.token_head_relevance_loop(model, ids, start,
                                                       head_relevance=head_relevance)
            batched = conflicts.token_head_relevance_batched(model, ids, start, route=route)
    else:
        loop = conflicts.token_head_relevance_loop(model, ids, start, head_relevance=head_relevance)
        batched = conflicts.token_head_relevance_batched(model, ids, start, route=route)
    assert loop.shape == batched.shape == (10, 2, 4)
    assert loop.abs().max() > 1e-3                   # not trivially zero
    assert (loop - batched).abs().max() < 1e-5
    with pytest.raises(ValueError, match="route must be"):
        conflicts.token_head_relevance_batched(model, ids, start, route="fast")


def test_generate_ids_stops_at_end_of_sequence():
    model = tiny_llama(seed=9)
    prompt = random_ids(9, 5)
    free = greedy_ids(model, type("T", (), {"eos_token_id": None})(), prompt, max_new_tokens=6)
    assert free.shape == (1, 11) and torch.equal(free[:, :5], prompt)
    first_new = int(free[0, 5])
    stopped = greedy_ids(model, type("T", (), {"eos_token_id": first_new})(), prompt, 6)
    assert torch.equal(stopped, prompt)


# ---------------------------------------------------------------------------------------------
# exercise 7 and the head scores

def test_conflict_relevance_rows_and_skipping():
    tok = tiny_tokenizer()
    model = tiny_llama(seed=6, vocab_size=len(tok))
    rel = kc.conflict_head_relevance(model, tok, _SAMPLES[2], top_k=len(tok))
    assert rel.shape == (2, 2, 4)
    assert not torch.allclose(rel[0], rel[1])          # "10" and "11" explained where they differ
    assert kc.conflict_head_relevance(model, tok, _SAMPLES[2], top_k=1) is None
    with pytest.raises(ValueError, match="top_k=100000"):
        kc.conflict_head_relevance(model, tok, _SAMPLES[0], top_k=100000)
    relevance, kept, skipped, used = conflicts.conflict_relevances(
        model, tok, _SAMPLES, top_k=len(tok), relevance_fn=kc.conflict_head_relevance)
    assert relevance.shape == (3, 2, 2, 4) and len(kept) == 3 and not skipped and used == len(tok)
    with pytest.raises(ValueError, match="No sample has both answers"):
        conflicts.conflict_relevances(model, tok, _SAMPLES, top_k=1, widen=False,
                                      relevance_fn=kc.conflict_head_relevance)
    # Never a dead end: with widening, top 1 grows until samples qualify, and says so.
    relevance, kept, _, used = conflicts.conflict_relevances(
        model, tok, _SAMPLES, top_k=1, relevance_fn=kc.conflict_head_relevance)
    assert used > 1 and len(kept) == relevance.shape[0] >= 1


def test_contrastive_scores_and_head_split():
    relevance = torch.zeros(3, 2, 2, 3)
    relevance[:, :, :, :] = 0.1
    relevance[:, 0, 1, 2] = 5.0     # parametric answers lean on head (1, 2)
    relevance[:, 1, 0, 1] = 5.0     # contextual answers lean on head (0, 1)
    scores = conflicts.contrastive_scores(relevance)
    assert scores[1, 2] > 0 > scores[0, 1]
    param, context = conflicts.split_heads_by_source(scores, 1)
    assert param == [(1, 2)] and context == [(0, 1)]
    with pytest.raises(ValueError, match="pick k <= 3"):
        conflicts.split_heads_by_source(scores, 4)


def _separable(n=8, seed=0):
    gen = torch.Generator().manual_seed(seed)
    relevance = torch.rand(n, 2, 3, 4, generator=gen)
    relevance[:, 0, 2, 1] += 3.0     # a parametric head
    relevance[:, 1, 0, 3] += 3.0     # an in-context head
    return relevance


def test_leave_one_out_finds_a_planted_signal_and_not_a_missing_one():
    accuracy, predictions = kc.leave_one_out_accuracy(_separable(), k=2)
    assert accuracy == 1.0 and predictions.tolist() == [1, 0] * 8
    gen = torch.Generator().manual_seed(1)
    noise = torch.rand(12, 2, 3, 4, generator=gen)
    noise_accuracy, _ = kc.leave_one_out_accuracy(noise, k=2)
    assert noise_accuracy < 0.9      # no signal: no (near) perfect score from leakage


# ---------------------------------------------------------------------------------------------
# the monitor

def test_normalised_features_ignore_scale():
    relevance = torch.rand(2, 3, 4)
    relevance[1] = 7.0 * relevance[0]
    features = head_features(relevance, [(0, 0), (2, 3)])
    assert features.shape == (2, 2) and np.allclose(features[0], features[1])
    assert torch.allclose(normalise_relevance(relevance).abs().sum(dim=(-2, -1)), torch.ones(2))


def test_monitor_needs_both_classes():
    with pytest.raises(ValueError, match="both classes"):
        fit_monitor(np.zeros((4, 2)), np.ones(4))


def test_ground_truth_scoring_on_a_fixed_case():
    truth = [True, True, True, False, False, False, False, False]      # 3 memory, 5 record
    predicted = [True, False, True, False, False, True, False, False]
    result = score_against_truth(predicted, truth)
    assert result["accuracy"] == pytest.approx(6 / 8)
    assert result["majority baseline"] == pytest.approx(5 / 8)
    assert result["balanced accuracy"] == pytest.approx((2 / 3 + 4 / 5) / 2)
    assert (result["memory tokens"], result["record tokens"], result["tokens"]) == (3, 5, 8)
    constant = score_against_truth([False] * 8, truth)
    assert constant["accuracy"] == constant["majority baseline"]
    assert constant["balanced accuracy"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="one prediction per token"):
        score_against_truth([True], truth)


def test_ground_truth_labels_from_the_record():
    from course_model.handover import label_tokens

    tok = tiny_tokenizer()
    record = "Current Medications: Lisinopril 10mg daily"
    summary = "Takes Lisinopril 10mg daily. It lowers pressure."
    labels = label_tokens(tok, record, summary)
    pieces = [tok.decode([i]) for i in tok(summary, add_special_tokens=False).input_ids]
    copied = "".join(p for p, label in zip(pieces, labels) if label == "record")
    assert "Lisinopril 10mg daily" in copied and "lowers" not in copied
    monitor_says_memory = [("Lisinopril" not in p and "10mg" not in p) for p in pieces]
    result = score_against_truth(monitor_says_memory, [label == "memory" for label in labels])
    assert 0.0 <= result["accuracy"] <= 1.0 and result["tokens"] == len(pieces)


def test_monitor_html_escapes_and_has_a_legend():
    page = monitor_html(["<script>", "ok&", "↵"], [0.9, 0.1, 0.6], title="a <b> title",
                        truth=[False, False, True])
    assert "<script>" not in page and "&lt;script&gt;" in page and "ok&amp;" in page
    assert "a &lt;b&gt; title" in page
    assert "contextual" in page and "parametric" in page            # the legend
    assert page.count("outline:2px solid #000;outline-offset") == 1   # only the first disagrees
    assert "1 of 3 tokens" in page
    with pytest.raises(ValueError, match="one per token"):
        monitor_html(["a"], [0.1, 0.2])
    text = monitor_text(["a", "b", "c"], [0.9, 0.1, 0.5])
    assert "a[P]b[C]c[?]" in text and "parametric: 1" in text


# ---------------------------------------------------------------------------------------------
# the exercise check

def _run(capsys, fn):
    used = check_conflict_head_relevance(fn)
    return used, capsys.readouterr().out


def test_check_conflict_relevance_names_mistakes(capsys):
    ref = kc.conflict_head_relevance
    used, out = _run(capsys, ref)
    assert used is ref and out.startswith("✓")

    def stub(model, tokenizer, sample, top_k=10):
        raise NotImplementedError
    used, out = _run(capsys, stub)
    assert used is ref and "not implemented yet" in out

    def never_skips(model, tokenizer, sample, top_k=10):
        return ref(model, tokenizer, sample, top_k=len(tokenizer))

    for phrase, fn in {"where they differ": _variant(explain_at_prompt=True),
                       "rows are swapped": _variant(swap=True),
                       "without AttnLRP": _variant(lrp=False),
                       "leading space": _variant(no_space=True),
                       "return None": never_skips}.items():
        used, out = _run(capsys, fn)
        assert used is ref and out.startswith("✗") and phrase in out, out


def test_leave_one_out_check_names_leakage_and_label_order(capsys):
    from checks import check_leave_one_out_accuracy
    from checks.conflicts import _loo_variant

    assert check_leave_one_out_accuracy(kc.leave_one_out_accuracy) is kc.leave_one_out_accuracy
    capsys.readouterr()
    for variant, words in ((dict(leak_heads=True), "heads are chosen on all samples"),
                           (dict(leak_monitor=True), "monitor is fitted on all samples"),
                           (dict(labels_swapped=True), "labels are in the wrong order"),
                           (dict(overlapping=True), "overwrite each other")):
        assert check_leave_one_out_accuracy(_loo_variant(**variant)) is kc.leave_one_out_accuracy
        out = capsys.readouterr().out
        assert out.startswith("✗") and words in out, out

    def accuracy_as_count(relevance, k):
        accuracy, predictions = kc.leave_one_out_accuracy(relevance, k)
        return accuracy * len(predictions), predictions

    def one_prediction_per_sample(relevance, k):
        accuracy, predictions = kc.leave_one_out_accuracy(relevance, k)
        return accuracy, predictions[::2]

    # the check packs (accuracy, predictions) into one tensor: its messages speak of the parts
    for fn, words in ((accuracy_as_count, "at the accuracy:"),
                      (one_prediction_per_sample, "predictions for 10 samples; expected 20")):
        assert check_leave_one_out_accuracy(fn) is kc.leave_one_out_accuracy
        out = capsys.readouterr().out
        assert out.startswith("✗") and words in out and "index" not in out, out
