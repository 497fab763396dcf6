"""Provenance labels (exact spans, the strict copy rule), monitor features, ablation and ROC AUC."""
import numpy as np
import pandas as pd
import pytest
import torch

from checks.core import tiny_llama, tiny_tokenizer
from utils import conflicts
from utils.monitor import score_against_truth
from utils.prompts import COUNTERFACTUALS, Counterfactual
from utils.provenance import (BASELINES, RULES, RULES_AND_RELEVANCE, ProvenanceData,
                              adds_over_baselines, balanced_correct, baseline_scores, copy_labels,
                              handover_examples, monitor_features, monitor_verdict, prompt_ids,
                              relevance_over_rules, reworded_example, span_labels, summary_labels,
                              training_rule_features)


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


def _ablation_setup():
    tok = tiny_tokenizer()
    model = tiny_llama(seed=6, vocab_size=len(tok))
    samples = [Counterfactual("5+5 equals 11", "What is 5+5", "5+5 equals", "10", "11"),
               Counterfactual("I love AI research", "What do I love", "I love", "research", "German"),
               Counterfactual("The sky is red", "What colour is the sky", "The sky is", "blue", "red"),
               Counterfactual("Milk comes from goats", "Where does milk come from", "Milk comes from",
                              "cows", "goats"),
               Counterfactual("Snow is green", "What colour is snow", "Snow is", "white", "green")]
    return tok, model, samples


def test_batched_ablation_equals_one_sample_at_a_time_and_removes_its_hooks():
    tok, model, samples = _ablation_setup()
    means = conflicts.mean_head_outputs_over(model, tok, samples)
    # sets whose lowest head sits in layer 1 start there, from the unablated residual stream
    sets = [[], [(1, 2)], [(0, 1)], [(1, 0), (1, 3), (0, 2)], [(1, 0), (1, 1)]]
    diffs = conflicts.ablated_logit_diffs(model, tok, samples, sets, means, rows_per_batch=7)
    assert diffs.shape == (5, len(samples))
    for row, heads in enumerate(sets):
        for col, sample in enumerate(samples):
            alone = conflicts.answer_rates(model, tok, [sample], heads, means)
            assert abs(alone["logit diff (context - memory)"] - diffs[row, col]) < 1e-4
    ids = torch.tensor([[3, 4, 5]])
    with torch.no_grad():
        before = model(ids).logits
        conflicts.ablated_logit_diffs(model, tok, samples, sets, means)
        assert torch.equal(model(ids).logits, before)
    with pytest.raises(ValueError, match="does not exist"):
        conflicts.ablated_logit_diffs(model, tok, samples, [[(9, 0)]], means)


def test_ablation_against_random_scores_the_given_heads_and_layer_matched_draws():
    tok, model, samples = _ablation_setup()
    memory, context = [(0, 0), (1, 1)], [(1, 2), (1, 3)]
    result = conflicts.ablation_against_random(model, tok, samples, memory, context, n_random=20)
    assert result["random in-context"].shape == result["random memory"].shape == (20, len(samples))
    means = conflicts.mean_head_outputs_over(model, tok, samples)
    direct = conflicts.ablated_logit_diffs(model, tok, samples, [context], means)[0]
    assert np.allclose(result["in-context heads"], direct, atol=1e-5)
    again = conflicts.ablation_against_random(model, tok, samples, memory, context, n_random=20)
    assert np.array_equal(again["random memory"], result["random memory"])     # seeded
    sets = conflicts.layer_matched_sets(context, 4, 50, np.random.default_rng(0))
    assert all(sorted(l for l, _ in s) == [1, 1] and len(set(s)) == 2 for s in sets)
    from claims.nb04 import ablation_measurement
    for kind in ("in-context", "memory"):
        sentence = ablation_measurement(result, kind).sentence()
        assert "p = " in sentence and "n = 5" in sentence and "over 20 draws" in sentence
    with pytest.raises(ValueError, match="at least one memory head"):
        conflicts.ablation_against_random(model, tok, samples, [], context)
    with pytest.raises(ValueError, match="at least 2 samples"):
        conflicts.ablation_against_random(model, tok, samples[:1], memory, context)


def test_held_out_conflicts_are_apart_from_the_choosing_ones():
    from utils.prompts import HELD_OUT_COUNTERFACTUALS

    assert len(HELD_OUT_COUNTERFACTUALS) >= 20
    chosen_on = {s.prompt for s in COUNTERFACTUALS}
    assert not chosen_on & {s.prompt for s in HELD_OUT_COUNTERFACTUALS}
    assert all(s.parametric != s.contextual for s in HELD_OUT_COUNTERFACTUALS)


def test_ablation_claims_need_more_than_random_heads():
    from claims import find
    from claims.nb04 import ablation_measurement
    n = 20
    base = np.array([1.0] * 10 + [-1.0] * 10)          # half the samples answer from the context
    draws = np.tile(base, (100, 1)) + np.linspace(-0.5, 0.5, 100)[:, None]   # a spread around 0
    result = {"nothing ablated": base, "memory heads": base.copy(),
              "in-context heads": base - 2,             # every context preference lowered by 2
              "random in-context": draws, "random memory": draws}
    in_context, memory = find("in-context-heads-causal"), find("memory-heads-causal")
    assert in_context.decide_on(ablation_measurement(result, "in-context")).holds
    assert not memory.decide_on(ablation_measurement(result, "memory")).holds
    result["random in-context"] = np.tile(base - 3, (100, 1))   # random heads do more: no claim
    assert not in_context.decide_on(ablation_measurement(result, "in-context")).holds
    with pytest.raises(ValueError, match="kind"):
        ablation_measurement(result, "both")


def test_reworded_summaries_keep_their_sources_and_defeat_string_matching():
    tok = tiny_tokenizer()
    for example in handover_examples(range(3), "eval"):
        reworded = reworded_example(example)
        assert reworded["summary"] == "".join(t for t, _ in reworded["segments"])
        assert reworded["record"] == example["record"] and reworded["summary"] != example["summary"]
        record_text = "".join(t for t, s in reworded["segments"] if s == "record")
        assert all(t in example["record"] for t, s in reworded["segments"]
                   if s == "record" and t not in (example["fields"]["complaint"].lower(),))
        original_ids, original_labels = span_labels(tok, example["summary"], example["segments"])
        ids, labels = span_labels(tok, reworded["summary"], reworded["segments"])
        assert (labels == 0).sum() > 0 and record_text
        # string matching finds the record far less often in the reworded summary
        hit = lambda ids_, labels_: float(np.mean(copy_labels(tok, example["record"], ids_)[labels_ == 0] == 0))
        assert hit(ids, labels) < hit(original_ids, original_labels)


def test_baselines_read_token_ids_and_the_prompt():
    tok = tiny_tokenizer()
    train = ProvenanceData(np.zeros((4, 2)), np.array([1, 1, 0, 1]), np.zeros(4, int),
                           np.array([5, 5, 6, 7]))
    example = {"record": "Chief Complaint: cough", "messages": [{"role": "user", "content": "cough"}]}
    cough = tok(" cough", add_special_tokens=False).input_ids
    test_ids = np.array([5, 6, 99] + cough)
    test = ProvenanceData(np.zeros((len(test_ids), 2)), np.zeros(len(test_ids), int),
                          np.zeros(len(test_ids), int), test_ids)
    scores = baseline_scores(tok, train, [example], test)
    identity = scores[BASELINES[0]]
    assert identity[0] == 1.0 and identity[1] == 0.0 and identity[2] == 0.75   # unseen: overall
    in_prompt = scores[BASELINES[2]]
    prompt = set(prompt_ids(tok, example["messages"])[0].tolist())
    assert np.array_equal(in_prompt, [float(int(t) not in prompt) for t in test_ids])
    with pytest.raises(ValueError, match="token_ids"):
        baseline_scores(tok, ProvenanceData(train.features, train.labels, train.patient), [example], test)


def test_balanced_correctness_averages_to_balanced_accuracy_and_the_margin_verdict():
    labels = np.array([1, 1, 1, 0])
    p = np.array([0.9, 0.9, 0.1, 0.1])
    assert abs(balanced_correct(p, labels).mean() - score_against_truth(p > 0.5, labels.astype(bool))
               ["balanced accuracy"]) < 1e-12
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, 400)
    good = np.where(rng.random(400) < 0.95, truth, 1 - truth).astype(float)
    weak = np.where(rng.random(400) < 0.7, truth, 1 - truth).astype(float)
    per_token = {"set": {"monitor (head relevance)": balanced_correct(good, truth),
                         **{name: balanced_correct(weak, truth) for name in BASELINES}}}
    holds, sentence = adds_over_baselines(per_token)["set"]
    assert holds and "n = 400 tokens" in sentence
    per_token["set"]["monitor (head relevance)"] = balanced_correct(weak, truth)
    assert not adds_over_baselines(per_token)["set"][0]


def test_training_rules_never_read_a_tokens_own_label():
    """The token-identity rule of a training patient is learned from the other patients: token 5
    occurs only in patient 0, so its feature there is the other patients' overall share."""
    tok = tiny_tokenizer()
    train = ProvenanceData(np.zeros((5, 2)), np.array([1, 1, 0, 0, 1]), np.array([0, 0, 1, 1, 1]),
                           np.array([5, 5, 6, 6, 7]))
    examples = [{"record": "cough", "messages": [{"role": "user", "content": "cough"}]}] * 2
    rules = training_rule_features(tok, train, examples)
    assert rules.shape == (5, len(BASELINES))
    assert np.allclose(rules[:2, 0], 1 / 3)          # patient 1's share of memory labels, not 1.0
    assert np.allclose(rules[2:4, 0], 1.0)           # patient 0 never saw 6: its overall share
    with pytest.raises(ValueError, match="token_ids"):
        training_rule_features(tok, ProvenanceData(train.features, train.labels, train.patient),
                               examples)


def test_what_relevance_adds_to_the_rules_is_a_paired_difference_with_n():
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 2, 300)
    better = np.where(rng.random(300) < 0.95, truth, 1 - truth).astype(float)
    worse = np.where(rng.random(300) < 0.75, truth, 1 - truth).astype(float)
    line = relevance_over_rules({"set": {RULES: balanced_correct(worse, truth),
                                         RULES_AND_RELEVANCE: balanced_correct(better, truth)}})["set"]
    assert "n = 300 tokens" in line and "adds 0." in line
    with pytest.raises(ValueError, match="monitor_and_baselines"):
        relevance_over_rules({"set": {RULES: balanced_correct(worse, truth)}})
