"""Deletion and insertion curves (solutions.faithfulness) and the check of the exercise."""
import pytest
import torch

from solutions import faithfulness as ref
from utils import faithfulness
from checks.core import random_ids, tiny_llama
from checks.faithfulness import check_deletion_curve, check_normalise_curve


@pytest.fixture(scope="module")
def model():
    return tiny_llama(seed=5)


def _logit(model, ids, target):
    with torch.no_grad():
        return float(model(ids).logits[0, -1, target])


def test_curves_start_and_end_where_they_must(model):
    ids, target, baseline = random_ids(1, 9), 7, 0
    order = torch.tensor([3, 8, 1, 5, 2, 7, 4, 6])              # every position but the first
    all_removed = ids.clone()
    all_removed[0, 1:] = baseline
    deletion = ref.deletion_curve(model, ids, target, order, baseline)
    insertion = faithfulness.insertion_curve(model, ids, target, order, baseline)
    assert deletion.shape == insertion.shape == (9,)
    assert float(deletion[0]) == pytest.approx(_logit(model, ids, target), abs=1e-4)       # full input
    assert float(deletion[-1]) == pytest.approx(_logit(model, all_removed, target), abs=1e-4)
    assert float(insertion[0]) == pytest.approx(float(deletion[-1]), abs=1e-4)
    assert float(insertion[-1]) == pytest.approx(float(deletion[0]), abs=1e-4)
    # an intermediate step: the first three of the order are gone, nothing else
    step = ids.clone()
    step[0, order[:3]] = baseline
    assert float(deletion[3]) == pytest.approx(_logit(model, step, target), abs=1e-4)


def test_batching_does_not_change_the_curve(model):
    ids, order = random_ids(2, 8), torch.tensor([5, 1, 7, 3])
    a = ref.deletion_curve(model, ids, 4, order, 0, batch_size=2)
    b = ref.deletion_curve(model, ids, 4, order, 0, batch_size=64)
    assert torch.allclose(a, b, atol=1e-5)


def test_normalised_curves_run_from_one_to_zero(model):
    ids = random_ids(3, 8)
    relevances = {"a": torch.randn(8), "b": torch.arange(8.0), "random": torch.zeros(8)}
    curves = faithfulness.faithfulness_curves(model, ids, 9, relevances, torch.arange(1, 8), 0,
                                              min_span=1e-6, normalise_curve=ref.normalise_curve)
    assert list(curves) == ["a", "b", "random"]
    for c in curves.values():
        assert c["deletion"][0] == pytest.approx(1.0) and c["deletion"][-1] == pytest.approx(0.0, abs=1e-5)
        assert c["insertion"][0] == pytest.approx(0.0, abs=1e-5) and c["insertion"][-1] == pytest.approx(1.0)


def test_relevance_order_and_area():
    order = faithfulness.relevance_order(torch.tensor([9.0, 0.1, 3.0, 3.0, -1.0]), torch.arange(1, 5))
    assert order.tolist() == [2, 3, 1, 4]          # the first position is never a candidate
    assert faithfulness.area_under_curve(torch.tensor([1.0, 0.0])) == pytest.approx(0.5)
    assert faithfulness.area_under_curve(torch.tensor([1.0, 1.0, 1.0])) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least two points"):
        faithfulness.area_under_curve(torch.tensor([1.0]))
    with pytest.raises(ValueError, match="changes the target logit by only"):
        ref.normalise_curve(torch.ones(3), 2.0, 2.0)


def test_check_accepts_the_reference_and_falls_back_on_a_stub(capsys):
    assert check_deletion_curve(ref.deletion_curve) is ref.deletion_curve

    def stub(*args, **kwargs):
        raise NotImplementedError
    assert check_deletion_curve(stub) is ref.deletion_curve
    assert "not implemented yet" in capsys.readouterr().out


def test_check_names_typical_mistakes(capsys):
    def one_at_a_time(model, input_ids, target_id, order, baseline_id, batch_size=32):
        rows = input_ids.repeat(len(order) + 1, 1)
        for k, pos in enumerate(order.tolist(), start=1):
            rows[k, pos] = baseline_id
        with torch.no_grad():
            return model(rows).logits[:, -1, target_id]

    def least_relevant_first(model, input_ids, target_id, order, baseline_id, batch_size=32):
        return ref.deletion_curve(model, input_ids, target_id, order.flip(0), baseline_id)

    def probabilities(model, input_ids, target_id, order, baseline_id, batch_size=32):
        rows = input_ids.repeat(len(order) + 1, 1)
        for k in range(1, len(order) + 1):
            rows[k, order[:k]] = baseline_id
        with torch.no_grad():
            return model(rows).logits[:, -1].softmax(-1)[:, target_id]

    def no_start(model, input_ids, target_id, order, baseline_id, batch_size=32):
        return ref.deletion_curve(model, input_ids, target_id, order, baseline_id)[1:]

    for fn, words in ((one_at_a_time, "accumulate"), (least_relevant_first, "least relevant"),
                      (probabilities, "probabilities"), (no_start, "shape")):
        assert check_deletion_curve(fn) is ref.deletion_curve
        out = capsys.readouterr().out
        assert out.startswith("✗") and words in out, out


def test_score_steps_include_both_ends_once():
    assert faithfulness.score_steps(20, 11).tolist() == list(range(0, 21, 2))
    assert faithfulness.score_steps(4, 11).tolist() == [0, 1, 2, 3, 4]      # every step
    steps = faithfulness.score_steps(27, 11)
    assert steps[0] == 0 and steps[-1] == 27 and len(steps) == 11 and bool((steps.diff() > 0).all())
    with pytest.raises(ValueError, match="at least 2"):
        faithfulness.score_steps(10, 1)
    with pytest.raises(ValueError, match="at least one candidate"):
        faithfulness.score_steps(0)


def test_every_order_is_scored_at_the_same_steps(model):
    """A method's order and each random order are read at the same steps, and those points
    are exactly the full curves' entries there (no order is scored more coarsely)."""
    ids, target, baseline = random_ids(4, 13), 9, 0
    positions = torch.arange(1, 13)
    relevance = torch.randn(13, generator=torch.Generator().manual_seed(1))
    curves = faithfulness.faithfulness_curves(model, ids, target, {"a": relevance, "random": None},
                                              positions, baseline, min_span=1e-6, n_random=4,
                                              n_points=5, normalise_curve=ref.normalise_curve)
    steps = faithfulness.score_steps(12, 5)
    assert torch.equal(curves["a"]["steps"], steps) and torch.equal(curves["random"]["steps"], steps)
    assert curves["a"]["deletion"].shape == curves["random"]["deletion"].shape == (len(steps),)

    def full(order):
        d = ref.deletion_curve(model, ids, target, order, baseline)
        i = faithfulness.insertion_curve(model, ids, target, order, baseline)
        norm = lambda c: ref.normalise_curve(c, float(d[0]), float(d[-1]), 1e-6)  # noqa: E731
        return norm(d)[steps], norm(i)[steps]

    d, i = full(faithfulness.relevance_order(relevance, positions))
    assert torch.allclose(curves["a"]["deletion"], d, atol=1e-4)
    assert torch.allclose(curves["a"]["insertion"], i, atol=1e-4)
    # the random orders: the same seeded permutations, drawn after the methods' orders
    gen = torch.Generator().manual_seed(0)
    randoms = [full(positions[torch.randperm(12, generator=gen)]) for _ in range(4)]
    assert torch.allclose(curves["random"]["deletion"], torch.stack([r[0] for r in randoms]).mean(0), atol=1e-4)
    assert torch.allclose(curves["random"]["insertion"], torch.stack([r[1] for r in randoms]).mean(0), atol=1e-4)
    between = torch.tensor([faithfulness.area_under_curve(r[1]) - faithfulness.area_under_curve(r[0])
                            for r in randoms])
    assert torch.allclose(curves["random"]["orders"], between, atol=1e-4)
    mean, spread, single = faithfulness.random_spread([curves])
    assert spread >= 0 and single >= abs(mean) - 1e-9


def test_paired_comparisons_are_holm_corrected_and_state_n():
    gen = torch.Generator().manual_seed(0)
    noise = 0.05 * torch.randn(3, 20, generator=gen, dtype=torch.float64)
    base = torch.linspace(0.1, 0.9, 20, dtype=torch.float64)
    between = {"a": base + 0.2 + noise[0], "b": base + noise[1], "c": base + 0.2 + noise[2]}
    pairs = [("a", "b"), ("b", "a"), ("a", "c")]
    results = faithfulness.compare_methods(between, pairs)
    assert [r["verdict"] for r in results] == ["ahead", "behind", "not clearly different"]
    for r in results:
        assert r["n"] == 20 and r["p_holm"] >= r["p"] - 1e-12 and 0 <= r["p"] <= 1
    assert results[0]["wins"] == 20 and results[0]["difference"].mean == pytest.approx(0.2, abs=0.05)
    # the correction bites: one comparison alone is significant, the same among many is not
    weak = {"x": base + 0.02 + 0.04 * noise[0], "y": base.clone()}
    alone = faithfulness.compare_methods(weak, [("x", "y")])[0]
    crowd = faithfulness.compare_methods({**weak, **between}, [("x", "y")] + pairs * 20)[0]
    assert alone["p_holm"] == pytest.approx(alone["p"]) and crowd["p_holm"] > alone["p"]
    line = faithfulness.comparison_lines(between, pairs)[0]
    assert "n = 20" in line and "Holm over 3" in line and "p = " in line and line.endswith("ahead")


def test_deletion_baseline_is_absent_from_the_prompts(course_model):
    """The space token of occlusion occurs in the course prompts (before every number): the
    deletion baseline must be a token that no prompt holds where tokens are removed."""
    from utils.attribution import baseline_token_id
    from utils.prompts import COUNTERFACTUALS, DUST_PROMPT, READING_PROMPTS
    from utils.tokens import encode

    model, tokenizer = course_model
    prompts = [DUST_PROMPT] + [c.prompt for c in COUNTERFACTUALS] + READING_PROMPTS
    space = baseline_token_id(tokenizer)

    def holding(token, prompts=prompts):
        """The prompts that hold `token` at a position the test removes."""
        return [p for p in prompts if token in encode(tokenizer, p, model)[
            0, faithfulness.candidate_positions(tokenizer, encode(tokenizer, p, model))].tolist()]

    assert holding(space), "the course prompts no longer hold a lone space: revisit this test"
    first = faithfulness.deletion_baseline_id(model, tokenizer, prompts)
    second = faithfulness.deletion_baseline_id(model, tokenizer, prompts, exclude={first})
    assert first != space and second not in (first, space)
    assert not holding(first) and not holding(second)
    # prompts without a lone space (the capitals) keep the space
    capitals = [c.prompt for c in COUNTERFACTUALS[:3]]
    assert not holding(space, capitals)
    assert faithfulness.deletion_baseline_id(model, tokenizer, capitals) == space
    with pytest.raises(ValueError, match="pass a token id"):
        faithfulness.deletion_baseline_id(model, tokenizer, prompts,
                                          exclude={space, tokenizer.pad_token_id,
                                                   tokenizer.unk_token_id, tokenizer.eos_token_id})


def test_deletion_check_catches_a_curve_that_changes_input_ids(capsys):
    from checks import check_deletion_curve

    def in_place(model, input_ids, target_id, order, baseline_id, batch_size=32):
        rows = []
        for k in range(len(order) + 1):
            if k:
                input_ids[0, order[k - 1]] = baseline_id          # edits the caller's prompt
            rows.append(input_ids[0].clone())
        return faithfulness.last_token_logits(model, torch.stack(rows), target_id, batch_size)

    def forgets_to_accumulate(model, input_ids, target_id, order, baseline_id, batch_size=32):
        rows = [input_ids[0].clone()]
        for position in order:
            row = input_ids[0].clone()
            row[position] = baseline_id
            rows.append(row)
        return faithfulness.last_token_logits(model, torch.stack(rows), target_id, batch_size)

    for fn, words in ((in_place, "in place"), (forgets_to_accumulate, "accumulate")):
        assert check_deletion_curve(fn) is ref.deletion_curve
        out = capsys.readouterr().out
        assert out.startswith("✗") and words in out, out


def test_normalise_curve_keeps_its_input_and_allows_a_rising_logit():
    curve = torch.tensor([-1.0, 0.5, 2.0])
    before = curve.clone()
    assert ref.normalise_curve(curve, -1.0, 2.0).tolist() == [1.0, 0.5, 0.0]
    assert torch.equal(curve, before)


def test_normalise_check_accepts_the_reference_and_falls_back_on_a_stub(capsys):
    assert check_normalise_curve(ref.normalise_curve) is ref.normalise_curve
    assert capsys.readouterr().out.startswith("✓")

    def stub(curve, full_value, empty_value, min_span=1e-6):
        raise NotImplementedError
    assert check_normalise_curve(stub) is ref.normalise_curve
    assert "not implemented yet" in capsys.readouterr().out


def test_normalise_check_names_typical_mistakes(capsys):
    def refuse_flat(full, empty, min_span):
        if abs(full - empty) < min_span:
            raise ValueError("the curve is flat")

    def not_divided(curve, full_value, empty_value, min_span=1e-6):
        refuse_flat(full_value, empty_value, min_span)
        return curve - empty_value

    def curve_ends(curve, full_value, empty_value, min_span=1e-6):
        refuse_flat(full_value, empty_value, min_span)
        return (curve - curve[..., -1:]) / (curve[..., :1] - curve[..., -1:])

    def in_place(curve, full_value, empty_value, min_span=1e-6):
        refuse_flat(full_value, empty_value, min_span)
        curve -= empty_value                                    # edits the caller's curve
        return curve / (full_value - empty_value)

    def no_abs(curve, full_value, empty_value, min_span=1e-6):
        if full_value - empty_value < min_span:                 # refuses a rising logit too
            raise ValueError("the curve is flat")
        return (curve - empty_value) / (full_value - empty_value)

    def divides_by_zero(curve, full_value, empty_value, min_span=1e-6):
        return (curve - empty_value) / (full_value - empty_value)

    for fn, words in ((not_divided, "does not divide"), (curve_ends, "own first and last entries"),
                      (in_place, "in place"), (no_abs, "abs(full_value - empty_value)"),
                      (divides_by_zero, "Raise a ValueError")):
        assert check_normalise_curve(fn) is ref.normalise_curve
        out = capsys.readouterr().out
        assert out.startswith("✗") and words in out, out
        assert "-99" not in out and "nan" not in out.lower(), out


def test_a_blank_next_token_is_appended_and_the_answer_explained(course_model):
    """The course model writes a lone space before a number: the explained token is the digit
    after it, the appended space is never a removal candidate, and other prompts are unchanged."""
    from utils.prompts import COUNTERFACTUALS
    from utils.tokens import encode

    model, tokenizer = course_model
    sums = [c.prompt for c in COUNTERFACTUALS if "equals" in c.prompt][:2]
    capital = COUNTERFACTUALS[0].prompt
    methods = {"length": lambda m, ids, t: torch.ones(ids.shape[1])}
    items = faithfulness.explain_prompts(model, tokenizer, sums + [capital], methods, 0)
    for item in items[:2]:
        n = encode(tokenizer, item["prompt"], model).shape[1]
        assert item["appended"] >= 1 and item["ids"].shape[1] == n + item["appended"]
        assert tokenizer.decode([item["target_id"]]).strip()          # content, not a blank
        assert int(item["positions"].max()) < n                      # appended: never removed
        assert item["relevances"]["length"].shape[0] == item["ids"].shape[1]
    assert items[2]["appended"] == 0
    assert torch.equal(items[2]["ids"], encode(tokenizer, capital, model))
    none = faithfulness.explain_prompts(model, tokenizer, sums[:1], methods, 0, max_blank=0)[0]
    assert none["appended"] == 0 and not tokenizer.decode([none["target_id"]]).strip()
