"""Does the model show what the notebook teaches? One registry of measurements, each with its
control and threshold, run on any model.

Every entry is a `Claim`: the sentence a notebook's prose or takeaway rests on, a measurement
over many items (`measure(ctx) -> Measurement`: the effect with its bootstrap interval, the
control with its spread, from `utils.stats`), and the `Threshold` that decides it. The same
entries feed the claims table, the lessons section of the course model's eval.json
(`claims.course_lessons`) and the SmolLM2 lessons file (`claims.lessons_file`).

    python -m claims            # the claims table on XAI_MODEL (else the course model)
    python -m claims 01 03      # only these notebooks

A claim that does not hold on a model stays in the table, marked as failing, with its figure.
`tests/test_claims.py` requires every claim to report n, its control's spread and a verdict, and
the claims marked `course=True` to hold on the course model.

A notebook's claims live in `claims/nbNN.py` as a list `CLAIMS`. Add one there: a short id, the
sentence as the notebook states it, what the control is, a threshold, and the measurement.
"""
from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from typing import Callable

from utils.stats import DrawComparison, Interval, PairedTest, sentence

NOTEBOOKS = ("01", "02", "03", "04", "05", "06")
QUANTITIES = ("mean", "low", "high", "extent", "p", "beats", "n", "control_extreme")


@dataclass(frozen=True)
class Measurement:
    """An effect over n items beside its control, with optional details.

    effect: an Interval (mean with its bootstrap interval), or a plain number with `n_items`
    (a figure whose per-item values the measurement does not keep, e.g. eval.json's scores).
    """
    effect: Interval | float
    control: DrawComparison | PairedTest | Interval | None
    label: str = "effect"
    control_label: str = "control"
    details: dict = field(default_factory=dict)
    n_items: int | None = None

    def __post_init__(self):
        if not isinstance(self.effect, Interval) and self.n_items is None:
            raise ValueError("a plain-number effect needs n_items: how many items it was "
                             "measured on")

    @property
    def n(self) -> int:
        return self.effect.n if isinstance(self.effect, Interval) else int(self.n_items)

    def value(self, quantity: str) -> float:
        """mean/low/high of the effect's interval, extent = max(|low|, |high|) (the interval
        lies within +-extent); p or beats of the control."""
        if quantity == "n":
            return float(self.n)
        if quantity == "control_extreme" and isinstance(self.control, DrawComparison):
            return self.control.extreme
        if not isinstance(self.effect, Interval):
            if quantity == "mean":
                return float(self.effect)
            raise ValueError(f"this measurement has a single figure, no interval: a threshold "
                             f"on it reads 'mean', not {quantity!r}.")
        if quantity in ("mean", "low", "high"):
            return getattr(self.effect, quantity)
        if quantity == "extent":
            return max(abs(self.effect.low), abs(self.effect.high))
        if quantity == "p" and isinstance(self.control, (DrawComparison, PairedTest)):
            return self.control.p_value
        if quantity == "beats" and isinstance(self.control, DrawComparison):
            return self.control.beats
        raise ValueError(f"this measurement has no {quantity!r} (control "
                         f"{type(self.control).__name__}); use one of {QUANTITIES}.")

    def spread(self) -> str:
        """The control's spread in words."""
        c = self.control
        if isinstance(c, DrawComparison):
            return f"{self.control_label}: {c.spread()}"
        if isinstance(c, PairedTest):
            return f"{self.control_label}: paired difference {c.difference}"
        if isinstance(c, Interval):
            return f"{self.control_label}: {c} (95 % interval)"
        return f"{self.control_label} (a fixed reference, no spread)"

    def sentence(self) -> str:
        return sentence(self.effect, self.control, self.label, self.control_label, n=self.n)


@dataclass(frozen=True)
class Threshold:
    """`quantity op value`, e.g. Threshold("low", ">", 0.3): the interval's low end above 0.3."""
    quantity: str
    op: str
    value: float

    def __post_init__(self):
        if self.quantity not in QUANTITIES or self.op not in ("<", "<=", ">", ">="):
            raise ValueError(f"a threshold reads one of {QUANTITIES} with <, <=, > or >=, got "
                             f"{self.quantity!r} {self.op!r}.")

    def passes(self, m: Measurement) -> bool:
        x = m.value(self.quantity)
        return {"<": x < self.value, "<=": x <= self.value, ">": x > self.value,
                ">=": x >= self.value}[self.op]

    def __str__(self) -> str:
        if self.quantity == "extent":
            return f"interval within +-{self.value:g}" if self.op in ("<", "<=") else \
                f"interval reaches beyond +-{self.value:g}"
        what = {"low": "interval low end", "high": "interval high end", "mean": "mean",
                "extent": "interval within +-", "p": "p", "beats": "share of draws beaten",
                "n": "n", "control_extreme": "best control draw"}[self.quantity]
        return f"{what} {self.op} {self.value:g}"


@dataclass(frozen=True)
class Verdict:
    """Whether a claim holds on a model, with its sentence, n and the control's spread."""
    holds: bool
    figure: str
    n: int = 0
    control: str = ""
    threshold: str = ""
    seconds: float = 0.0
    measurement: Measurement | None = None
    applicable: bool = True   # False: the claim needs data this model was not trained on

    @property
    def word(self) -> str:
        return "n/a" if not self.applicable else "holds" if self.holds else "FAILS"

    def line(self) -> str:
        return f"{self.word}: {self.figure}"

    def statement(self, claim: "Claim") -> str:
        """The lines a notebook's verdict cell prints: the claim, whether it holds on this
        model against which threshold, the figure with n, and the control's spread."""
        if not self.applicable:
            return f"Claim ({claim.id}): {claim.text}\n  not decided on this model: {self.figure}"
        return (f"Claim ({claim.id}): {claim.text}\n"
                f"  {'holds' if self.holds else 'does NOT hold'} on this model "
                f"({self.threshold}): {self.figure}\n  {self.control}")


@dataclass(frozen=True)
class Claim:
    """A notebook's claim: measurement, control, threshold. `course`: it must hold on the
    course model (tests/test_claims.py)."""
    notebook: str
    id: str
    text: str
    measure: Callable[["Context"], Measurement]
    threshold: Threshold | tuple[Threshold, ...]   # several: all must pass
    control: str
    course: bool = True
    # True: its labels come from the course model's own training data (which facts it learned),
    # so on any other model it is listed as not applicable instead of measured
    known_data: bool = False

    @property
    def thresholds(self) -> tuple[Threshold, ...]:
        return self.threshold if isinstance(self.threshold, tuple) else (self.threshold,)

    def decide(self, ctx: "Context") -> Verdict:
        if self.known_data and not _is_course_model(ctx.model):
            return Verdict(False, "its labels come from the course model's training data (which "
                           "facts it learned), unknown for this model; run it on the course "
                           "model", threshold=" and ".join(map(str, self.thresholds)),
                           applicable=False)
        start = time.perf_counter()
        m = self.measure(ctx)
        return self.decide_on(m, time.perf_counter() - start)

    def decide_on(self, m: Measurement, seconds: float = 0.0) -> Verdict:
        """The verdict on a measurement already made (see `judge`)."""
        if not isinstance(m, Measurement):
            raise TypeError(f"claim {self.id!r} is decided on a claims.Measurement, got "
                            f"{type(m).__name__}: build it with the summary function in "
                            f"claims/nb{self.notebook}.py.")
        return Verdict(all(t.passes(m) for t in self.thresholds), m.sentence(), m.n,
                       m.spread(), " and ".join(map(str, self.thresholds)), seconds, m)


def _is_course_model(model) -> bool:
    from pathlib import Path

    from utils import COURSE_MODEL_DIR
    path = getattr(model, "name_or_path", "") or ""
    return bool(path) and Path(path).resolve() == Path(COURSE_MODEL_DIR).resolve()


@dataclass
class Context:
    """The loaded model, its tokenizer, a memo (`ctx.memo(key, compute)` runs compute once),
    and the sizes of the measurements: `draws` random-control draws, `items` a factor on the
    number of generated items (1.0 on the course model; smaller for a slow model)."""
    model: object
    tokenizer: object
    name: str = "course"
    draws: int = 100
    items: float = 1.0
    _memo: dict = field(default_factory=dict)

    def memo(self, key: str, compute: Callable):
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def n_items(self, n: int, least: int = 4) -> int:
        """`n` items scaled by `self.items`, never fewer than `least`."""
        return max(least, int(round(n * self.items)))


def claims(notebooks=NOTEBOOKS) -> list[Claim]:
    """Every registered claim of `notebooks`, in notebook order."""
    found = []
    for nb in notebooks:
        try:
            module = importlib.import_module(f"claims.nb{nb}")
        except ModuleNotFoundError as err:
            if err.name != f"claims.nb{nb}":
                raise
            continue
        found += module.CLAIMS
    return found


def report(ctx: Context, notebooks=NOTEBOOKS, entries=None) -> list[tuple[Claim, Verdict]]:
    """Decide every claim on `ctx`'s model. A claim whose code fails on this model (e.g. no
    prompt it can answer) does not hold, and the verdict names the error."""
    results = []
    for claim in (claims(notebooks) if entries is None else entries):
        start = time.perf_counter()
        try:
            verdict = claim.decide(ctx)
        except Exception as err:  # another model may not support a claim's setting at all
            verdict = Verdict(False, f"could not be decided on this model: "
                                     f"{type(err).__name__}: {str(err)[:200]}",
                              threshold=" and ".join(map(str, claim.thresholds)),
                              seconds=time.perf_counter() - start)
        results.append((claim, verdict))
    return results


def find(claim_id: str, notebooks=NOTEBOOKS) -> Claim:
    """The registered claim (or lessons-file measurement) with this id."""
    from claims.lessons_file import entries
    for claim in entries(notebooks):
        if claim.id == claim_id:
            return claim
    raise KeyError(f"no claim {claim_id!r}: python -m claims lists them all.")


_CONTEXTS: dict = {}


def context_for(model, tokenizer, **sizes) -> Context:
    """One Context per loaded model and sizes, so that a notebook's verdict cells share the
    measurements they have in common (the memo) instead of running them again."""
    key = (id(model), id(tokenizer), tuple(sorted(sizes.items())))
    if key not in _CONTEXTS or _CONTEXTS[key].model is not model:
        from utils.models import resolve_model_name
        try:
            name = resolve_model_name().source
        except Exception:   # a model loaded from elsewhere: the name is only a label
            name = type(model).__name__
        _CONTEXTS[key] = Context(model, tokenizer, name, **sizes)
    return _CONTEXTS[key]


def verdict(claim_id: str, model, tokenizer, **sizes) -> Verdict:
    """Measure one claim on `model` over the claim's own items and print its verdict (a
    notebook's verdict cell): `verdict("task-heads-move-target", model, tokenizer)`.
    sizes: Context's draws / items."""
    claim = find(claim_id)
    result = claim.decide(context_for(model, tokenizer, **sizes))
    print(result.statement(claim))
    return result


def judge(claim_id: str, measurement: Measurement) -> Verdict:
    """Decide one claim on a measurement the notebook has already made, and print its verdict.

    The notebook computes the figures itself (with the learner's functions, and drawing them),
    then builds the Measurement with the same summary function the claim's own `measure` uses
    (in `claims/nbNN.py`), so the notebook's verdict and the claims table are one decision:
    `judge("memory-heads-causal", ablation_measurement(ablation, "memory"))`."""
    claim = find(claim_id)
    result = claim.decide_on(measurement)
    print(result.statement(claim))
    return result


def markdown(results, model_name: str) -> str:
    """The claims table: each claim's verdict, n, effect against its control, and threshold."""
    held = sum(v.holds for _, v in results)
    na = sum(not v.applicable for _, v in results)
    rows = [f"Claims on {model_name}: {held} of {len(results) - na} hold"
            + (f" ({na} not applicable to this model)" if na else "")
            + "; failing ones are listed with their figures.", "",
            "| notebook | claim | verdict | n | effect vs control | control's spread | threshold |",
            "|---|---|---|---|---|---|---|"]
    cell = lambda text: str(text).replace("|", "\\|")  # noqa: E731 (a "|" would end the cell)
    rows += [f"| {c.notebook} | {cell(c.text)} | {v.word} | {v.n} | "
             f"{cell(v.figure)} | {cell(v.control)} | {cell(v.threshold)} |" for c, v in results]
    return "\n".join(rows)


def as_dict(claim: Claim, verdict: Verdict) -> dict:
    """A claim's verdict as JSON-ready figures (for the lessons files)."""
    m = verdict.measurement
    out = {"notebook": claim.notebook, "id": claim.id, "claim": claim.text,
           "holds": verdict.holds, "applicable": verdict.applicable, "n": verdict.n,
           "sentence": verdict.figure,
           "control": claim.control, "control_spread": verdict.control,
           "threshold": verdict.threshold, "seconds": round(verdict.seconds, 1)}
    if m is not None:
        out["effect"] = ({"mean": m.effect.mean, "low": m.effect.low, "high": m.effect.high}
                         if isinstance(m.effect, Interval) else {"mean": float(m.effect)})
        c = m.control
        if isinstance(c, DrawComparison):
            out["control_figures"] = {k: getattr(c, k) for k in
                                      ("n_draws", "mean", "low", "p05", "median", "p95", "high",
                                       "beats", "p_value")}
        elif isinstance(c, PairedTest):
            out["control_figures"] = {"difference": c.difference.mean, "low": c.difference.low,
                                      "high": c.difference.high, "p_value": c.p_value}
        elif isinstance(c, Interval):
            out["control_figures"] = {"mean": c.mean, "low": c.low, "high": c.high}
        out["details"] = m.details
    return out
