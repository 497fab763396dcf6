"""The course's key claims, each with the code that decides it on the loaded model.

A sentence in a notebook whose truth depends on the model's numbers is either printed by the cell
that computes it (a verdict with its figure) or phrased as what to look for. The claims below are
the ones a notebook's prose and takeaways rest on; each is decided by the same library code the
notebook cell calls, on many items and beside a control where the claim compares.

    python -m claims            # which claims hold on XAI_MODEL (else the course model)
    python -m claims 01 03      # only these notebooks

`tests/test_claims.py` requires every claim to hold on the course model, and runs the report on
a tiny random Qwen2 to show it says which claims hold elsewhere instead of failing.

A notebook's claims live in `claims/nbNN.py` as a list `CLAIMS` of `Claim`s. Add one there:
a short id, the sentence as the notebook states it, and `decide(ctx) -> Verdict`, where `ctx`
gives the model, the tokenizer and a memo for results several claims share.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable

NOTEBOOKS = ("01", "02", "03", "04", "05", "06")


@dataclass(frozen=True)
class Verdict:
    """Whether a claim holds, and the figures that decide it (with the control's, if any)."""
    holds: bool
    figure: str

    def line(self) -> str:
        return f"{'holds' if self.holds else 'does not hold'}: {self.figure}"


@dataclass(frozen=True)
class Claim:
    notebook: str
    id: str
    text: str
    decide: Callable[["Context"], Verdict]


@dataclass
class Context:
    """The loaded model, its tokenizer, and a memo: `ctx.memo(key, compute)` runs compute once."""
    model: object
    tokenizer: object
    name: str = "course"
    _memo: dict = field(default_factory=dict)

    def memo(self, key: str, compute: Callable):
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]


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


def report(ctx: Context, notebooks=NOTEBOOKS) -> list[tuple[Claim, Verdict]]:
    """Decide every claim on `ctx`'s model. A claim whose code fails on this model (e.g. a
    prompt it cannot answer) does not hold, and the verdict names the error."""
    results = []
    for claim in claims(notebooks):
        try:
            verdict = claim.decide(ctx)
        except Exception as err:  # another model may not support a claim's setting at all
            verdict = Verdict(False, f"could not be decided on this model: "
                                     f"{type(err).__name__}: {str(err)[:200]}")
        results.append((claim, verdict))
    return results


def markdown(results, model_name: str) -> str:
    rows = [f"Claims on {model_name}: {sum(v.holds for _, v in results)} of {len(results)} hold.",
            "", "| notebook | claim | verdict |", "|---|---|---|"]
    cell = lambda text: text.replace("|", "\\|")  # noqa: E731 (a "|" would end the cell)
    rows += [f"| {c.notebook} | {cell(c.text)} | {cell(v.line())} |" for c, v in results]
    return "\n".join(rows)
