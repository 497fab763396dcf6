"""The statistics behind every verdict: intervals, draws, paired tests, Holm, the sentence."""
import numpy as np
import pytest

from utils.stats import (MIN_DRAWS, MIN_ITEMS, DrawComparison, Interval, against_draws, as_values,
                         format_p, holm, mean_interval, paired_interval, paired_test, sentence)


def test_interval_contains_the_mean_and_narrows_with_n():
    rng = np.random.default_rng(1)
    small = mean_interval(rng.normal(1.0, 1.0, 20))
    large = mean_interval(rng.normal(1.0, 1.0, 2000))
    assert small.low < small.mean < small.high and small.n == 20
    assert (large.high - large.low) < (small.high - small.low) / 5
    assert large.low < 1.0 < large.high


def test_interval_is_seeded():
    values = np.random.default_rng(0).normal(size=30)
    assert mean_interval(values, seed=3) == mean_interval(values, seed=3)
    assert mean_interval(values, seed=3) != mean_interval(values, seed=4)


def test_interval_of_constant_values_has_no_width():
    est = mean_interval([0.5] * 25)
    assert (est.mean, est.low, est.high) == (0.5, 0.5, 0.5) and not est.few


def test_paired_interval_is_the_interval_of_differences():
    a, b = np.arange(24.0), np.arange(24.0) - 2
    assert paired_interval(a, b) == mean_interval(a - b, name="a - b")
    assert paired_interval(a, b).mean == 2.0


def test_draws_share_beaten_spread_and_p_value():
    draws = np.linspace(0.0, 0.05, 200)
    out = against_draws(0.71, draws)
    assert out.beats == 1.0 and out.n_draws == 200
    assert out.p_value == pytest.approx(1 / 201)
    assert (out.low, out.high) == (0.0, 0.05) and out.low <= out.p05 <= out.median <= out.p95
    half = against_draws(0.025, draws)
    # draws >= effect counted as at least as extreme: p = (1 + #>=) / (1 + n)
    assert half.p_value == pytest.approx((1 + np.sum(draws >= 0.025)) / 201)
    assert half.beats == pytest.approx(np.mean(draws < 0.025))


def test_draws_in_the_other_direction():
    draws = np.linspace(0.1, 0.3, 100)
    out = against_draws(0.05, draws, alternative="less")
    assert out.beats == 1.0 and out.p_value == pytest.approx(1 / 101)
    assert out.extreme == 0.1
    assert against_draws(0.05, draws, alternative="greater").beats == 0.0


def test_ties_with_draws_do_not_count_as_beaten():
    out = against_draws(0.0, [0.0] * 150)
    assert out.beats == 0.0 and out.p_value == 1.0


def test_paired_test_finds_a_real_shift_and_not_noise():
    rng = np.random.default_rng(0)
    base = rng.normal(0, 1, 40)
    shifted = paired_test(base + 1.0 + rng.normal(0, 0.3, 40), base)
    assert shifted.p_value < 0.001 and not shifted.exact and shifted.n == 40
    noise = paired_test(base + rng.normal(0, 0.3, 40), base)
    assert noise.p_value > 0.05
    assert paired_test(base, base + 1.0, alternative="less").p_value < 0.001


def test_paired_test_is_exact_for_few_items():
    # all 8 differences positive: only the observed pattern is as extreme, p = 1 / 2**8
    out = paired_test(np.ones(8), np.zeros(8))
    assert out.exact and out.p_value == pytest.approx(1 / 256)
    assert out.few


def test_paired_test_is_seeded():
    rng = np.random.default_rng(5)
    a, b = rng.normal(0.1, 1, 30), rng.normal(0, 1, 30)
    assert paired_test(a, b, seed=1) == paired_test(a, b, seed=1)


def test_holm_matches_the_step_down_rule():
    adjusted = holm([0.01, 0.04, 0.03, 0.5])
    # sorted: 0.01*4, 0.03*3, 0.04*2 -> max(0.09, 0.08), 0.5*1 -> monotone
    assert adjusted.tolist() == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert holm([0.6, 0.7]).tolist() == pytest.approx([1.0, 1.0])
    assert holm([0.02]).tolist() == [0.02]


def test_sentence_states_effect_control_spread_and_n():
    effect = Interval(0.71, 0.55, 0.85, 24)
    control = against_draws(0.71, np.linspace(-0.05, 0.05, 200))
    text = sentence(effect, control, control_label="random heads")
    assert text == ("effect 0.71 [0.55, 0.85] vs random heads 0.00 (max 0.05 over 200 draws; "
                    "beats 100 %, p = 0.005), n = 24")


def test_sentence_flags_few_items_and_few_draws():
    control = against_draws(0.3, [0.0, 0.1, 0.2])
    text = sentence(Interval(0.3, 0.2, 0.4, 5), control)
    assert f"fewer than {MIN_ITEMS} items" in text and f"fewer than {MIN_DRAWS} draws" in text


def test_sentence_with_a_paired_test_and_a_plain_number():
    rng = np.random.default_rng(2)
    test = paired_test(rng.normal(1, 1, 30), np.zeros(30))
    text = sentence(test.difference, test, label="gain", control_label="no heads")
    assert text.startswith("gain ") and "paired, 10000 sign flips" in text and text.endswith("n = 30")
    assert sentence(0.5, None, n=30) == "effect 0.50, n = 30"
    with pytest.raises(ValueError, match="needs n"):
        sentence(0.5)


def test_format_p():
    assert format_p(0.5) == "0.50" and format_p(1 / 201) == "0.005" and format_p(0.0001) == "0.0001"


@pytest.mark.parametrize("bad, match", [
    ([0.1, float("nan"), 0.3], "my_scores contains NaN at position 1"),
    ([0.1, float("inf")], "my_scores contains an infinite value"),
    (np.zeros((3, 2)), "1-D"),
    (0.5, "single number"),
    (["a", "b"], "list or array of numbers"),
])
def test_bad_values_are_refused_by_name(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        as_values(bad, "my_scores")


def test_nan_in_draws_and_effect_named():
    with pytest.raises(ValueError, match="draws contains NaN"):
        against_draws(0.1, [0.0, float("nan")])
    with pytest.raises(ValueError, match="effect contains NaN"):
        against_draws(float("nan"), [0.0, 0.1])


def test_too_few_items_refused_or_flagged():
    with pytest.raises(ValueError, match="at least 2"):
        mean_interval([0.4])
    with pytest.raises(ValueError, match=f"at least {MIN_ITEMS}"):
        mean_interval(np.ones(10), min_n=MIN_ITEMS)
    assert mean_interval(np.arange(10.0)).few


def test_unpaired_lengths_and_bad_settings_are_refused():
    with pytest.raises(ValueError, match="paired item by item"):
        paired_interval([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="alternative"):
        against_draws(0.1, [0.0], alternative="two-sided")
    with pytest.raises(ValueError, match="seed"):
        mean_interval([1, 2, 3], seed=-1)
    with pytest.raises(ValueError, match="level"):
        mean_interval([1, 2, 3], level=95)
    with pytest.raises(ValueError, match=r"p_values must lie in \[0, 1\]"):
        holm([0.5, 1.5])


def test_results_are_plain_floats():
    out = against_draws(0.2, np.arange(100) / 1000)
    assert isinstance(out, DrawComparison)
    assert all(type(v) in (float, int, str) for v in vars(out).values())
