"""function_vector_report: the batched pieces equal notebook 03's answers, the splits keep
selection and scoring apart, bad input is refused with what to do, and the report's figures
come from the scoring split."""
import json
import random

import numpy as np
import pytest
import torch

from solutions.function_vectors import function_vector, indirect_effects, mean_head_outputs
from utils import function_vector_report as R
from utils.function_vectors import icl_prompts
from utils.prompts import FV_TASKS


def test_batched_indirect_effects_equal_the_exercise(course_model):
    model, tokenizer = course_model
    clean, _ = icl_prompts("antonym", 4, seed=0)
    shuffled, answers = icl_prompts("antonym", 3, shuffled=True, seed=1)
    means = mean_head_outputs(model, tokenizer, clean)
    assert torch.allclose(R.mean_last_head_outputs(model, tokenizer, clean, batch_size=3), means,
                          atol=1e-5)
    one_by_one = indirect_effects(model, tokenizer, shuffled, answers, means)
    batched = R.batched_indirect_effects(model, tokenizer, shuffled, answers, means, chunk=2)
    assert batched.shape == one_by_one.shape
    assert torch.allclose(batched, one_by_one, atol=1e-6)
    assert one_by_one.abs().max() > 0          # the comparison is not between two zero maps


def test_batched_patch_leaves_the_model_unchanged(course_model):
    model, tokenizer = course_model
    ids = tokenizer("hot -> cold\nbig ->", return_tensors="pt").input_ids
    with torch.no_grad():
        before = model(ids).logits
        with pytest.raises(RuntimeError):
            with R.heads_write_at_last(model, 1, torch.tensor([0]), torch.zeros(1, 32)):
                raise RuntimeError("inside the block")
        assert torch.equal(model(ids).logits, before)


def test_heads_vector_equals_the_exercise(course_model):
    model, tokenizer = course_model
    means = torch.randn(*R.model_shape(model))
    heads = [(0, 1), (3, 2), (3, 5)]
    assert torch.allclose(R.heads_vector(model, means, heads), function_vector(model, means, heads),
                          atol=1e-5)


def test_splits_are_disjoint_seeded_and_cover_the_pairs():
    pairs = FV_TASKS["antonym"]
    parts = R.split_pairs(pairs, seed=3)
    again = R.split_pairs(pairs, seed=3)
    assert parts == again and R.split_pairs(pairs, seed=4) != parts
    inputs = [{x for x, _ in parts[name]} for name in ("demos", "selection", "scoring")]
    assert not (inputs[0] & inputs[1] or inputs[0] & inputs[2] or inputs[1] & inputs[2])
    assert sum(map(len, inputs)) == len(pairs)


def test_prompts_never_show_their_query_and_shuffled_labels_move():
    demos = [(f"w{i}", f"v{i}") for i in range(8)]
    prompts, answers = R.with_demos([("w0", "v0")], demos, 5, random.Random(0), "qa")
    assert prompts[0].count("Q: w0") == 1 and answers == [" v0"]
    shuffled, _ = R.with_demos(demos[:3], demos, 5, random.Random(0), "arrow", shuffled=True)
    for prompt in shuffled:
        for line in prompt.split("\n")[:-1]:
            x, y = line.split(" -> ")
            assert dict(demos)[x] != y


@pytest.mark.parametrize("pairs, match", [
    ([("a", "b")] * 40, "once"),
    ([(f"w{i}", f"v{i}") for i in range(10)], "needs at least"),
    ([("a", "")] + [(f"w{i}", f"v{i}") for i in range(40)], "non-empty strings"),
    ([("a", "b", "c")], "pairs"),
])
def test_bad_pairs_say_what_to_do(pairs, match):
    with pytest.raises(ValueError, match=match):
        R.check_pairs(pairs, 5)


def test_required_pairs_is_what_the_check_accepts():
    need = R.required_pairs(5)
    R.check_pairs([(f"w{i}", f"v{i}") for i in range(need)], 5)
    with pytest.raises(ValueError, match=f"at least {need}"):
        R.check_pairs([(f"w{i}", f"v{i}") for i in range(need - 1)], 5)
    parts = R.split_pairs([(f"w{i}", f"v{i}") for i in range(need)])
    assert len(parts["demos"]) >= 6 and parts["selection"] and parts["scoring"]


def test_report_on_the_course_model(course_model):
    """The whole protocol runs; its figures are shares of the scoring split, the random draws
    one figure each, and the verdict is computed from them."""
    model, tokenizer = course_model
    report = R.function_vector_report(model, tokenizer, FV_TASKS["singular_plural"], fmt="arrow",
                                      n_demos=4, n_mean=8, n_shuffled=6, n_lrp=2, n_random=10,
                                      layers=[1, 2, 3], verbose=False)
    if "skipped" in report:
        pytest.skip("the course model solves too few of these queries in context")
    n = report["n_scored"]
    for key in ("zero_shot", "with_vector", "with_lrp_vector", *(["random_heads"] * 1)):
        values = report[key] if isinstance(report[key], list) else [report[key]]
        assert all(abs(v * n - round(v * n)) < 1e-4 for v in values), key
    assert len(report["random_heads"]) == 10
    assert report["layer"] in [1, 2, 3] and len(report["heads"]) == report["k"] == 10
    assert [c["layer"] for c in report["layer_sweep"]] == [1, 2, 3]
    assert report["overlap_chance"] == pytest.approx(100 / 48)
    scored = {x for x, _ in report["scoring_pairs"]}
    parts = R.split_pairs(R.check_pairs(FV_TASKS["singular_plural"], 4))
    assert scored <= {x for x, _ in parts["scoring"]}
    assert len(report["zero_shot_right"]) == len(report["with_vector_right"]) == n
    assert sum(report["with_vector_right"]) / n == pytest.approx(report["with_vector"])
    # the registry decides the course's bar on the report's own per-query outcomes
    from claims import find
    from claims.nb03 import function_vector_measurement
    m = function_vector_measurement({"singular_plural": report})
    decided = find("function-vector-gain").decide_on(m)
    gains = np.array(report["with_vector_right"]) - np.array(report["zero_shot_right"])
    assert m.n == n and m.effect.mean == pytest.approx(gains.mean())
    assert m.control.n_draws == 10 and m.control.high == pytest.approx(
        max(report["random_heads"]) - report["zero_shot"])
    assert f"n = {n}" in decided.figure and decided.holds is (
        m.effect.low >= 0.4 and m.control.high <= 0.1)
    json.dumps(R.json_ready(report))


def test_a_task_the_model_cannot_do_is_reported_not_faked(course_model):
    model, tokenizer = course_model
    pairs = [(f"zq{i}x", f"kv{i}y") for i in range(40)]     # nonsense: nothing to learn
    report = R.function_vector_report(model, tokenizer, pairs, n_demos=3, verbose=False)
    assert "skipped" in report and "with_vector" not in report
    from claims.nb03 import function_vector_measurement
    with pytest.raises(ValueError, match="no task has a function vector"):
        function_vector_measurement({"nonsense": report})


def _scored(n_right: int, n: int, random_heads) -> dict:
    """A report as function_vector_report returns it, for a task never right zero-shot."""
    return {"n_scored": n, "zero_shot": 0.0, "zero_shot_right": [False] * n,
            "with_vector": n_right / n, "with_vector_right": [True] * n_right + [False] * (n - n_right),
            "random_heads": list(random_heads)}


def test_the_per_task_bar_counts_tasks_and_names_why_each_other_fails():
    """A task passes only with all three: gain interval from 0.40, n >= 20, every random draw
    <= 0.10; the verdict needs 3 such tasks and the label says why the others fail."""
    from claims import find
    from claims.nb03 import function_vector_tasks_measurement, task_bar
    clear = _scored(40, 44, [0.0] * 9 + [0.05])
    reports = {"a": clear, "b": _scored(30, 32, [0.0] * 10), "c": _scored(19, 19, [0.0] * 10),
               "d": _scored(44, 44, [0.0] * 9 + [0.45]), "e": _scored(12, 40, [0.0] * 10),
               "f": {"skipped": "the model solves too few queries in context"}}
    bars = {task: task_bar(r) for task, r in reports.items()}
    assert [t for t, b in bars.items() if b["passes"]] == ["a", "b"]
    assert "n = 19 < 20" in bars["c"]["why"] and "0.45 > 0.1" in bars["d"]["why"]
    assert "starts at" in bars["e"]["why"] and bars["f"]["why"].startswith("the model solves")
    claim = find("function-vector-tasks")
    m = function_vector_tasks_measurement(reports)
    assert m.effect == 2 and m.n == 44 + 32 + 19 + 44 + 40
    assert "] 2 vs random heads" in m.sentence()            # a count, printed as one
    # control: per draw, the tasks that random heads alone lift by 0.40 (draw 10 lifts "d")
    assert m.control.n_draws == 10 and m.control.high == 1 and m.control.low == 0
    assert not claim.decide_on(m).holds                  # 2 tasks: short of 3
    reports["g"] = clear
    assert claim.decide_on(function_vector_tasks_measurement(reports)).holds
    assert not task_bar(_scored(40, 44, [0.0] * 9))["passes"]     # 9 draws: too few to judge
    with pytest.raises(ValueError, match="no task reports"):
        function_vector_tasks_measurement({})


# ---------------------------------------------------------------------------------------------
# transplants: the retrieval pair reads the fact the model answers; probabilities and text

def test_the_dust_pair_reads_the_number_the_model_answers(course_model):
    from utils.prompts import DUST_PROMPT, RETRIEVAL_ROWS
    from utils.transplant import answered_fact, answered_pairs

    model, tokenizer = course_model
    fact, answer = answered_fact(model, tokenizer, DUST_PROMPT,
                                 ("182 million tons", "27 million tons"))
    assert fact is not None and fact.split()[0] in answer
    assert answer.find(fact.split()[0]) == min(answer.find(f) for f in ("182", "27") if f in answer)
    pairs, set_aside = answered_pairs(model, tokenizer, RETRIEVAL_ROWS)
    assert len(pairs) + len(set_aside) == len(RETRIEVAL_ROWS)
    assert pairs[0][1] == fact
    with pytest.raises(ValueError, match="not in the prompt"):
        answered_fact(model, tokenizer, DUST_PROMPT, ("183 million tons",))


def test_transplant_table_gives_probabilities_and_greedy_text(course_model):
    from solutions.function_vectors import (head_outputs_at_last, substring_head_scores,
                                            transplant_heads)
    from utils.prompts import TRANSPLANT_PAIRS
    from utils.transplant import transplant_effects

    model, tokenizer = course_model
    table = transplant_effects(model, tokenizer, TRANSPLANT_PAIRS["task"][:1], 4,
                               scores_fn=substring_head_scores, capture=head_outputs_at_last,
                               transplant=transplant_heads, n_random=2, greedy_tokens=4)
    row = table.iloc[0]
    assert row["p before"] == pytest.approx(float(torch.tensor(row["log p before"]).exp()))
    assert row["p top heads"] == pytest.approx(
        float(torch.tensor(row["log p before"] + row["rise, top heads"]).exp()), rel=1e-4)
    assert 0 <= row["p random heads"] <= 1
    assert isinstance(row["greedy before"], str) and isinstance(row["greedy, top heads"], str)


def test_running_from_a_layer_restores_the_full_stack(course_model):
    from utils.hooks import decoder_layers

    model, _ = course_model
    layers = decoder_layers(model)
    with pytest.raises(RuntimeError):
        with R.running_from_layer(model, 3):
            assert len(decoder_layers(model)) == len(layers) - 3
            raise RuntimeError("inside the block")
    assert decoder_layers(model) is layers


def test_head_choice_overlap_is_set_against_random_pairs_of_choices():
    from claims import find
    from claims.nb03 import head_choice_overlap_measurement
    report = lambda overlap: {"effects": [[0.0] * 9] * 30, "k": 10, "overlap": overlap}  # noqa: E731
    m = head_choice_overlap_measurement({"a": report(4), "b": report(5), "c": report(3)})
    assert m.n == 3 and m.effect.mean == pytest.approx(4.0)
    # two random choices of 10 of 270 heads share 10 * 10 / 270 = 0.37 on average
    assert m.control.n_draws == 1000 and abs(m.control.mean - 100 / 270) < 0.05
    assert find("ie-lrp-heads-overlap").decide_on(m).holds
    assert not find("ie-lrp-heads-overlap").decide_on(
        head_choice_overlap_measurement({"a": report(0), "b": report(0)})).holds
    with pytest.raises(ValueError, match="no task has a function vector"):
        head_choice_overlap_measurement({"a": {"skipped": "too few"}})


def test_the_committed_table_of_every_task_is_its_json_rendered():
    """lessons/smollm2_function_vectors.md is written from the JSON beside it: every task tried,
    those without a vector included (rebuild: python -m utils.function_vector_report --out
    lessons/smollm2_function_vectors.json --markdown-only)."""
    import json
    from pathlib import Path

    from utils.function_vector_report import tasks_markdown
    path = Path(__file__).resolve().parents[1] / "lessons" / "smollm2_function_vectors.json"
    result = json.loads(path.read_text())
    text = tasks_markdown(result)
    assert path.with_suffix(".md").read_text() == text
    assert all(f"| {task} |" in text for task in result["tasks"])
    assert "no vector:" in text      # a task the model cannot do in context is listed, not dropped
