"""Effects with their spread, controls with theirs, and a verdict sentence that states n.

Every verdict in the notebooks and every claim goes through here, so that each one is decided
the same way: over many independent items, against a control whose spread is shown.

    est = mean_interval(per_item)                         # Interval: mean [low, high], n
    diff = paired_interval(with_heads, without_heads)     # Interval of the mean of a - b
    ctl = against_draws(effect, random_head_effects)      # DrawComparison: share beaten, p
    test = paired_test(a, b)                              # PairedTest: sign-flip p-value
    holm([0.01, 0.04, 0.03])                              # Holm-adjusted p-values
    print(sentence(est, ctl, control="random heads"))
    # effect 0.71 [0.55, 0.85] vs random heads 0.00 (max 0.05 over 200 draws;
    #   beats 100 %, p = 0.005), n = 24

Pure numpy and deterministic: every resampling takes a `seed` (default 0). Inputs are checked:
NaN or infinity is refused with the argument's name; fewer than `MIN_ITEMS` items or
`MIN_DRAWS` draws is flagged in the result (`.few`) and in the sentence, and `min_n=` refuses it.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np

MIN_ITEMS = 20    # fewer independent items than this: the verdict is flagged as indicative
MIN_DRAWS = 100   # fewer random draws than this: the control's spread is flagged as coarse
ALTERNATIVES = ("greater", "less")

__all__ = ["MIN_ITEMS", "MIN_DRAWS", "Interval", "DrawComparison", "PairedTest",
           "as_values", "mean_interval", "paired_interval", "against_draws", "paired_test",
           "holm", "format_p", "sentence"]


# ---------------------------------------------------------------------------------------------
# input checks

def as_values(values, name: str = "values", min_n: int = 1) -> np.ndarray:
    """`values` as a 1-D float array [n]; a ValueError naming `name` for NaN, infinity, wrong
    shape, or fewer than `min_n` items."""
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a list or array of numbers, got {type(values).__name__}: "
                        f"{err}") from None
    if arr.ndim == 0:
        raise ValueError(f"{name} must be a list of per-item numbers, got the single number "
                         f"{arr.item()!r}: pass one number per item.")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one number per item (1-D), got shape {arr.shape}: "
                         "flatten it or average over the extra axes first.")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        kind = "NaN" if np.isnan(arr[bad[0]]) else "an infinite value"
        raise ValueError(f"{name} contains {kind} at position {int(bad[0])} "
                         f"({bad.size} non-finite of {arr.size}): drop or fix those items "
                         "before computing a verdict.")
    if arr.size < min_n:
        raise ValueError(f"{name} has {arr.size} item(s), but at least {min_n} are needed: "
                         "measure more independent items (prompts, tasks, draws).")
    return arr


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a whole number >= 0, got {seed!r}.")
    return int(seed)


def _check_count(k, name: str, least: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < least:
        raise ValueError(f"{name} must be a whole number >= {least}, got {k!r}.")
    return int(k)


def _check_level(level) -> float:
    if not isinstance(level, (int, float)) or isinstance(level, bool) or not 0 < level < 1:
        raise ValueError(f"level must be a number between 0 and 1 (e.g. 0.95), got {level!r}.")
    return float(level)


def _check_alternative(alternative) -> str:
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {ALTERNATIVES}, got {alternative!r}: "
                         "'greater' when the effect should exceed the control, 'less' when "
                         "it should fall below it.")
    return alternative


# ---------------------------------------------------------------------------------------------
# results

@dataclass(frozen=True)
class Interval:
    """A mean over n items with its seeded percentile-bootstrap interval at `level`."""
    mean: float
    low: float
    high: float
    n: int
    level: float = 0.95

    @property
    def few(self) -> bool:
        """True when n is below MIN_ITEMS: the interval is indicative only."""
        return self.n < MIN_ITEMS

    def excludes(self, value: float = 0.0) -> bool:
        """True when `value` lies outside [low, high]."""
        return not (self.low <= value <= self.high)

    def __str__(self) -> str:
        return f"{self.mean:.2f} [{self.low:.2f}, {self.high:.2f}]"


@dataclass(frozen=True)
class DrawComparison:
    """An effect set against `n_draws` control draws (e.g. random heads).

    beats: share of draws the effect beats strictly (in the `alternative`'s direction);
    p_value: (1 + #draws at least as extreme as the effect) / (1 + n_draws);
    low/p05/median/p95/high: the draws' spread; mean: their mean.
    """
    effect: float
    n_draws: int
    beats: float
    p_value: float
    mean: float
    low: float
    p05: float
    median: float
    p95: float
    high: float
    alternative: str = "greater"

    @property
    def few(self) -> bool:
        """True when there are fewer than MIN_DRAWS draws: the p-value is coarse."""
        return self.n_draws < MIN_DRAWS

    @property
    def extreme(self) -> float:
        """The draw closest to beating the effect: the max for 'greater', the min for 'less'."""
        return self.high if self.alternative == "greater" else self.low

    def spread(self) -> str:
        """e.g. 'min 0.00, 5-95 % 0.00-0.04, max 0.05 over 200 draws'."""
        return (f"min {self.low:.2f}, 5-95 % {self.p05:.2f}-{self.p95:.2f}, max {self.high:.2f} "
                f"over {self.n_draws} draws")


@dataclass(frozen=True)
class PairedTest:
    """A paired comparison a - b over n items: the mean difference with its interval and a
    seeded sign-flip permutation p-value (exact when 2**n <= n_perm)."""
    difference: Interval
    p_value: float
    n: int
    n_perm: int
    exact: bool
    alternative: str = "greater"

    @property
    def few(self) -> bool:
        return self.n < MIN_ITEMS


# ---------------------------------------------------------------------------------------------
# intervals

def _bootstrap_means(arr: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Means [n_boot] of resamples with replacement of arr [n]."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, arr.size, size=(n_boot, arr.size))
    return arr[idx].mean(axis=1)


def mean_interval(values, level: float = 0.95, n_boot: int = 2000, seed: int = 0,
                  min_n: int = 2, name: str = "values") -> Interval:
    """The mean of `values` [n] with a seeded percentile-bootstrap interval.

    n >= 2 is needed for any spread; n < MIN_ITEMS is allowed but flagged (`.few`); pass
    `min_n=MIN_ITEMS` to refuse it.
    """
    arr = as_values(values, name, min_n=max(2, _check_count(min_n, "min_n", 1)))
    level = _check_level(level)
    means = _bootstrap_means(arr, _check_count(n_boot, "n_boot", 100), _check_seed(seed))
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return Interval(float(arr.mean()), float(low), float(high), int(arr.size), level)


def _paired(a, b, names: tuple[str, str]) -> np.ndarray:
    x, y = as_values(a, names[0]), as_values(b, names[1])
    if x.shape != y.shape:
        raise ValueError(f"{names[0]} and {names[1]} must be paired item by item, but have "
                         f"{x.size} and {y.size} items: measure both on the same items.")
    return x - y


def paired_interval(a, b, level: float = 0.95, n_boot: int = 2000, seed: int = 0,
                    min_n: int = 2) -> Interval:
    """The mean of the paired difference a - b (both [n], item by item) with its interval."""
    return mean_interval(_paired(a, b, ("a", "b")), level, n_boot, seed, min_n, name="a - b")


# ---------------------------------------------------------------------------------------------
# tests

def against_draws(effect, draws, alternative: str = "greater") -> DrawComparison:
    """Compare one `effect` (a number) with `draws` [n_draws] of a random control.

    'greater': the effect should exceed the draws (p counts draws >= effect); 'less': it should
    fall below them (p counts draws <= effect). Fewer than MIN_DRAWS draws is flagged (`.few`).
    """
    eff = as_values([effect], "effect")[0]
    d = as_values(draws, "draws", min_n=1)
    alternative = _check_alternative(alternative)
    if alternative == "greater":
        beats, as_extreme = np.mean(d < eff), np.sum(d >= eff)
    else:
        beats, as_extreme = np.mean(d > eff), np.sum(d <= eff)
    p05, median, p95 = np.percentile(d, [5, 50, 95])
    return DrawComparison(float(eff), int(d.size), float(beats),
                          float((1 + as_extreme) / (1 + d.size)), float(d.mean()),
                          float(d.min()), float(p05), float(median), float(p95), float(d.max()),
                          alternative)


def paired_test(a, b, alternative: str = "greater", n_perm: int = 10000, seed: int = 0,
                level: float = 0.95, min_n: int = 2) -> PairedTest:
    """Sign-flip permutation test of the mean of a - b (both [n], paired item by item).

    Under the null each item's difference is as likely negative as positive, so the observed
    mean is ranked among the means with random signs. With 2**n <= n_perm every sign pattern is
    enumerated (exact p); otherwise n_perm seeded patterns plus the observed one are used.
    """
    d = _paired(a, b, ("a", "b"))
    if d.size < min_n or d.size < 2:
        raise ValueError(f"a and b have {d.size} paired item(s), but at least {max(2, min_n)} "
                         "are needed: measure more independent items.")
    alternative = _check_alternative(alternative)
    n_perm = _check_count(n_perm, "n_perm", 100)
    sign = 1.0 if alternative == "greater" else -1.0
    observed = sign * d.mean()
    exact = 2 ** d.size <= n_perm
    if exact:
        flips = np.array(list(product((1.0, -1.0), repeat=d.size)))
        null = sign * (flips * d).mean(axis=1)
        # a tolerance so that float noise does not split ties with the observed pattern
        p = float(np.mean(null >= observed - 1e-12))
    else:
        rng = np.random.default_rng(_check_seed(seed))
        flips = rng.choice((1.0, -1.0), size=(n_perm, d.size))
        null = sign * (flips * d).mean(axis=1)
        p = float((1 + np.sum(null >= observed - 1e-12)) / (1 + n_perm))
    diff = mean_interval(d, level=level, seed=seed, name="a - b")
    return PairedTest(diff, p, int(d.size), int(n_perm), bool(exact), alternative)


def holm(p_values) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values [k] for k comparisons (same order as given).

    Reject comparison i at level alpha when adjusted[i] <= alpha; this controls the chance of
    any false rejection among the k at alpha.
    """
    p = as_values(p_values, "p_values", min_n=1)
    if np.any((p < 0) | (p > 1)):
        raise ValueError(f"p_values must lie in [0, 1], got {p.tolist()}.")
    order = np.argsort(p, kind="stable")
    k = p.size
    stepped = np.maximum.accumulate((k - np.arange(k)) * p[order])
    adjusted = np.empty(k)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


# ---------------------------------------------------------------------------------------------
# the sentence

def format_p(p: float) -> str:
    """A p-value as printed in verdicts: two decimals above 0.01, one significant figure below."""
    return f"{p:.2f}" if p >= 0.01 else f"{p:.1g}"


def sentence(effect: Interval | float, control: DrawComparison | Interval | PairedTest | None = None,
             label: str = "effect", control_label: str = "control", n: int | None = None) -> str:
    """One line stating the effect, the control with its spread, the verdict's figure and n.

    effect: an Interval (from mean_interval / paired_interval) or a plain number (an int is a
    count and prints as one), then pass `n`.
    control: a DrawComparison (random draws), an Interval (a paired control condition), a
    PairedTest, or None.
    """
    if isinstance(effect, Interval):
        head, n = f"{label} {effect}", effect.n if n is None else n
    elif isinstance(effect, (int, np.integer)) and not isinstance(effect, bool):
        head = f"{label} {int(effect)}"           # a count: a whole number
    else:
        head = f"{label} {as_values([effect], 'effect')[0]:.2f}"
    if n is None:
        raise ValueError("sentence needs n: pass an Interval as the effect, or n= the number "
                         "of items it was measured on.")
    if isinstance(control, DrawComparison):
        word = "max" if control.alternative == "greater" else "min"
        body = (f" vs {control_label} {control.mean:.2f} ({word} {control.extreme:.2f} over "
                f"{control.n_draws} draws; beats {100 * control.beats:.0f} %, "
                f"p = {format_p(control.p_value)})")
    elif isinstance(control, PairedTest):
        how = "exact" if control.exact else f"{control.n_perm} sign flips"
        body = (f" vs {control_label}: difference {control.difference}, "
                f"p = {format_p(control.p_value)} (paired, {how})")
    elif isinstance(control, Interval):
        body = f" vs {control_label} {control}"
    elif control is None:
        body = ""
    else:
        raise TypeError(f"control must be a DrawComparison, Interval, PairedTest or None, got "
                        f"{type(control).__name__}.")
    notes = []
    if n < MIN_ITEMS:
        notes.append(f"fewer than {MIN_ITEMS} items: indicative only")
    if isinstance(control, DrawComparison) and control.few:
        notes.append(f"fewer than {MIN_DRAWS} draws: coarse p")
    return f"{head}{body}, n = {n}" + (f" ({'; '.join(notes)})" if notes else "")
