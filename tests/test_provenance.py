"""Provenance labels (exact spans, the strict copy rule), monitor features, ablation and ROC AUC."""
import numpy as np
import pandas as pd
import pytest
import torch

from checks.core import tiny_llama, tiny_tokenizer
from utils import conflicts
from utils.monitor import score_against_truth
from utils.prompts import COUNTERFACTUALS, Counterfactual
from utils.provenance import (copy_labels, handover_examples, monitor_features, monitor_verdict,
                              span_labels, summary_labels)


def test_span_labels_follow_the_generator_spans():
    tok = tiny_tokenizer()
    segments = [("Lisinopril", "record"), (" is an ACE inhibitor.", "memory")]
    ids, labels = span_labels(tok, "Lisinopril is an ACE inhibitor.", segments)
    text = [tok.decode([i]) for i in ids]
    record_part = "".join(t for t, l in zip(text, labels) if l == 0)
    assert record_part.strip() == "Lisinopril" and labels[-1] == 1
    with pytest.raises(ValueError, match="concatenate"):
        span_labels(tok, "something else", segments)


def test_copy_rule_needs_two_whole_words():
    tok = tiny_tokenizer()
    record = "Chief Complaint: shortness of breath\nVitals: BP 145/95, HR 88"
    text = "breathlessness and shortness of breath. BP 145/95 now."
    ids = tok(text, add_special_tokens=False).input_ids
    labels = copy_labels(tok, record, ids)
    pieces = [tok.decode([i]) for i in ids]
    copied = "".join(p.strip() for p, l in zip(pieces, labels) if l == 0)
    assert "breathlessness" not in copied            # "breath" inside a longer word is not a copy
    assert "shortnessofbreath" in copied and "145/95" in copied
    assert "now" not in copied and "and" not in copied


def test_summary_labels_use_exact_spans_for_the_generators_wording():
    tok = tiny_tokenizer()
    example = handover_examples([0])[0]
    ids, exact = span_labels(tok, example["summary"], example["segments"])
    labels, rule = summary_labels(tok, example["record"], ids[:20])
    assert rule == "exact spans" and (labels == exact[:20]).all()
    other = tok("An unrelated text.", add_special_tokens=False).input_ids
    assert summary_labels(tok, example["record"], other)[1] == "strict copy rule"


def test_monitor_features_pair_each_token_with_its_predecessor():
    relevance = torch.arange(2 * 1 * 2, dtype=torch.float).reshape(2, 1, 2) + 1
    features = monitor_features(relevance)
    assert features.shape == (2, 4)
    assert np.allclose(features[0, 2:], 0) and np.allclose(features[1, 2:], features[0, :2])


def test_roc_auc_and_verdict():
    truth = [True, True, False, False]
    result = score_against_truth([True, False, False, False], truth, scores=[0.9, 0.4, 0.3, 0.1])
    assert result["ROC AUC"] == 1.0 and result["balanced accuracy"] == 0.75
    reversed_ = score_against_truth([False] * 4, truth, scores=[0.1, 0.2, 0.8, 0.9])
    assert reversed_["ROC AUC"] == 0.0
    holds, sentence = monitor_verdict(result)
    assert not holds and "0.75" in sentence and "majority" in sentence


def test_ablation_table_runs_and_reads_verdicts():
    tok = tiny_tokenizer()
    model = tiny_llama(seed=6, vocab_size=len(tok))
    samples = [Counterfactual("5+5 equals 11", "What is 5+5", "5+5 equals", "10", "11"),
               Counterfactual("I love AI research", "What do I love", "I love", "research", "German")]
    table = conflicts.ablation_table(model, tok, samples, [(0, 0)], [(1, 1)], n_random=3)
    assert isinstance(table, pd.DataFrame) and "nothing ablated" in table.index
    assert ((table["context-answer rate"] >= 0) & (table["context-answer rate"] <= 1)).all()
    verdicts = conflicts.ablation_verdicts(table)
    assert set(verdicts) == {"in-context", "memory"}
    assert all(isinstance(h, bool) and "random heads" in s for h, s in verdicts.values())
    # the ablation hooks are gone afterwards: same logits as before
    ids = torch.tensor([[3, 4, 5]])
    with torch.no_grad():
        before = model(ids).logits
        conflicts.answer_rates(model, tok, samples, [(0, 1)], torch.zeros(2, 4, 8))
        assert torch.equal(model(ids).logits, before)


def test_the_stored_patients_are_the_generators():
    """assets/handover_examples.json is what course_model.handover generates (the library reads
    the file, never the training package)."""
    from course_model.handover import make_handover_example
    from tools import handover_examples as table

    assert table.main(["--check"]) == 0, "run python tools/handover_examples.py"
    for split in ("train", "eval"):
        seeds = [0, 7, table.SEEDS_PER_SPLIT - 1]
        for stored, seed in zip(handover_examples(seeds, split), seeds):
            generated = make_handover_example(seed, split)
            assert stored == {**generated, "segments": [tuple(s) for s in generated["segments"]]}


def test_a_seed_beyond_the_stored_ones_is_refused_with_what_to_do():
    from tools.handover_examples import SEEDS_PER_SPLIT

    with pytest.raises(ValueError, match="tools/handover_examples.py"):
        handover_examples([SEEDS_PER_SPLIT], "eval")
    with pytest.raises(ValueError, match="Unknown split"):
        handover_examples([0], "test")


def test_the_course_record_is_labelled_by_exact_spans():
    from utils.prompts import PATIENT_RECORD
    from utils.provenance import reference_segments

    segments = reference_segments(PATIENT_RECORD)
    assert segments[0] == ("John Smith", "record")
    assert reference_segments("PATIENT RECORD - Nobody, Age 1") is None
