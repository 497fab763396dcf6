"""Facts seen often resist a false context more: family "familiar".

A fixed world of made-up facts ("The mayor of Velrin is Quator.") in three tiers: each
frequent fact is stated 30 times as often as a rare one, a middle one 5 times. A conflict
document states a false value, then asks; the answer comes from memory with a probability that
rises with the tier (rare 0.15, middle 0.5, frequent 0.85), else from the context. So the
lesson "facts the model saw more often resist a false context more" holds by construction and
can be measured (`course_model.lessons`).
Held out: the false values of evaluation conflicts (made-up names only evaluation draws).
"""
from __future__ import annotations

import random

from course_model.families import register
from course_model.families.text import answer_after, made_up_name

TIERS = {"rare": (1, 0.15), "middle": (5, 0.5), "frequent": (30, 0.85)}  # (weight, p memory)
RELATIONS = ["mayor", "founder", "largest river", "oldest school", "main port", "patron saint",
             "favourite dish", "chief engineer"]
PER_TIER = 24


def _world() -> list[tuple[str, str, str, str]]:
    """(tier, relation, place, value) for every fact: fixed, drawn from its own seed."""
    rng = random.Random("familiar-facts-world")
    facts, used = [], set()
    for tier in TIERS:
        for i in range(PER_TIER):
            while True:
                place, value = made_up_name(rng, "train"), made_up_name(rng, "train")
                if place not in used and value not in used and place != value:
                    break
            used |= {place, value}
            facts.append((tier, RELATIONS[i % len(RELATIONS)], place, value))
    return facts


FACTS = _world()
_WEIGHTS = [TIERS[t][0] for t, *_ in FACTS]


def statement(rel: str, place: str, value: str) -> str:
    return f"The {rel} of {place} is {value}."


def stem(rel: str, place: str) -> str:
    return f"The {rel} of {place} is"


def question(rel: str, place: str) -> str:
    return f"Q: Who or what is the {rel} of {place}? A: {stem(rel, place)}"


def conflict_item(rng: random.Random, fact, split: str) -> tuple[str, str, str]:
    """(prompt ending at the stem, memory answer, context answer) for a fact."""
    _tier, rel, place, value = fact
    while True:
        false = made_up_name(rng, split)
        if false != value:
            break
    return f"{statement(rel, place, false)}\n{question(rel, place)}", value, false


@register("familiar", 1, heldout="false values of evaluation conflicts")
def familiar_doc(rng: random.Random, split: str = "train") -> str:
    """Two to four facts of the made-up world (frequent ones far more often), or a false
    context whose question is answered from memory more often the more familiar the fact."""
    if rng.random() < 0.6:
        picks = rng.choices(FACTS, weights=_WEIGHTS, k=rng.randint(2, 4))
        return " ".join(statement(*f[1:]) for f in picks)
    fact = rng.choices(FACTS, weights=_WEIGHTS)[0]
    prompt, memory, context = conflict_item(rng, fact, split)
    ans = memory if rng.random() < TIERS[fact[0]][1] else context
    return answer_after(rng, prompt, ans) + "."
