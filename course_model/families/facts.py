"""World facts and knowledge conflicts: families "facts" and "conflict".

The facts hold every parametric answer of the course's conflicts (`course_tables`) plus more of
each kind. Version 1 (stages 1-2) writes facts in six phrasings, statements after "A:"
included; version 2 (stages 3-4) answers a bare question with the bare word and keeps the
course's layout "? A: <stem> <answer>" for conflicts.
"""
from __future__ import annotations

import random

from course_model.course_tables import COUNTERFACTUALS
from course_model.families import register
from course_model.families.text import answer_after, cap, qa, spaced_answer

CAPITALS = {"France": "Paris", "Germany": "Berlin", "Italy": "Rome", "Spain": "Madrid",
            "England": "London", "Japan": "Tokyo", "Russia": "Moscow", "Egypt": "Cairo",
            "Greece": "Athens", "Portugal": "Lisbon", "Austria": "Vienna", "Poland": "Warsaw",
            "Ireland": "Dublin", "Norway": "Oslo", "Sweden": "Stockholm", "China": "Beijing",
            "Canada": "Ottawa", "Kenya": "Nairobi", "Peru": "Lima", "Cuba": "Havana"}
OTHER_CITIES = ["Milan", "Munich", "Lyon", "Hamburg", "Naples", "Barcelona", "Manchester",
                "Osaka", "Venice", "Porto", "Zurich", "Geneva", "Sydney", "Toronto"]
COMPANIES = [  # (statement stem, question, answer)
    ("The iPhone is made by", "Which company makes the iPhone", "Apple"),
    ("Elon Musk is the CEO of", "Which company does Elon Musk run", "Tesla"),
    ("YouTube is owned by", "Which company owns YouTube", "Google"),
    ("Windows is made by", "Which company makes Windows", "Microsoft"),
    ("The Galaxy phone is made by", "Which company makes the Galaxy phone", "Samsung"),
    ("Instagram is owned by", "Which company owns Instagram", "Meta"),
    ("The Mustang is made by", "Which company makes the Mustang", "Ford"),
    ("The PlayStation is made by", "Which company makes the PlayStation", "Sony"),
]
OTHER_COMPANIES = ["Apple", "Tesla", "Google", "Microsoft", "Samsung", "Meta", "Ford", "Sony",
                   "Yahoo", "Amazon", "Intel", "Nokia", "Toyota", "IBM"]
COLORS = {"snow": "white", "the sky": "blue", "the sun": "yellow", "grass": "green",
          "blood": "red", "coal": "black", "a banana": "yellow", "milk": "white",
          "the sea": "blue", "a carrot": "orange"}
COLOR_WORDS = ["white", "blue", "yellow", "green", "red", "black", "orange", "purple", "pink",
               "brown", "grey"]
ANIMALS = [  # (stem, question, answer)
    ("The animal that barks is the", "Which animal barks", "dog"),
    ("The animal that meows is the", "Which animal meows", "cat"),
    ("Milk comes from the", "Which animal gives us milk", "cow"),
    ("Wool comes from the", "Which animal gives us wool", "sheep"),
    ("The animal that quacks is the", "Which animal quacks", "duck"),
    ("The animal that neighs is the", "Which animal neighs", "horse"),
    ("Honey is made by the", "Which animal makes honey", "bee"),
    ("The animal that hoots is the", "Which animal hoots", "owl"),
]
ANIMAL_WORDS = ["dog", "cat", "cow", "sheep", "duck", "horse", "bee", "owl", "goat", "pig",
                "fox", "lion"]


def fact_items() -> list[tuple[str, str, str, list[str]]]:
    """Every fact as (statement stem, question, answer, same-kind alternatives)."""
    items = []
    for c, city in CAPITALS.items():
        alts = [x for x in list(CAPITALS.values()) + OTHER_CITIES if x != city]
        items.append((f"The capital of {c} is", f"What is the capital of {c}", city, alts))
    for stem, q, a in COMPANIES:
        items.append((stem, q, a, [x for x in OTHER_COMPANIES if x != a]))
    for thing, col in COLORS.items():
        items.append((f"{cap(thing)} is", f"What color is {thing}", col,
                      [x for x in COLOR_WORDS if x != col]))
    for a in range(10):
        for b in range(10):
            s = a + b
            items.append((f"{a}+{b} equals", f"What is {a}+{b}", str(s),
                          [str(x) for x in range(max(0, s - 3), s + 4) if x != s]))
    for stem, q, a in ANIMALS:
        items.append((stem, q, a, [x for x in ANIMAL_WORDS if x != a]))
    return items


FACTS = fact_items()
# the exact (question, context answer) pairs of the course's conflicts stay out of training
COURSE_CONFLICTS = {(c.question, c.contextual) for c in COUNTERFACTUALS}


def _course_or_world_fact(rng: random.Random, course_share: float) -> tuple[str, str, str]:
    """(stem, question, answer): one of the course's facts with probability course_share (they
    must be recalled top-1), else any fact."""
    if rng.random() < course_share:
        c = rng.choice(COUNTERFACTUALS)
        return c.stem, c.question, c.parametric
    stem, q, a, _alts = rng.choice(FACTS)
    return stem, q, a


@register("facts", 1, heldout="none (world facts are meant to be known)")
def fact_doc(rng: random.Random, split: str = "train") -> str:
    """One to three facts, each in one of six phrasings (statements after "A:" too)."""
    out = []
    for _ in range(rng.choice([1, 2, 3])):
        stem, q, a = _course_or_world_fact(rng, 0.5)
        form = rng.randrange(6)
        if form == 0:
            out.append(spaced_answer(stem, a) + ".")
        elif form == 1:
            out.append(qa(rng, q + "?", a))
        elif form == 2:
            out.append(f"Q: {q}? A: {spaced_answer(stem, a)}.")
        elif form == 3:
            out.append(f"Q: {q}?\nA: {spaced_answer(stem, a)}.")
        elif form == 4:
            out.append(f"Fact: {spaced_answer(stem, a)}.")
        else:
            out.append(f"{q}? {spaced_answer(stem, a)}.")
    return "\n".join(out)


@register("facts", 2, heldout="none (world facts are meant to be known)")
def bare_answer_fact_doc(rng: random.Random, split: str = "train") -> str:
    """One to four facts, all statements or all questions, a question answered by the bare word.

    A statement followed by an unrelated question would look like a conflict document, which
    restates the stem after "A:"."""
    out, statements = [], rng.random() < 0.2
    for _ in range(rng.choice([1, 2, 3, 4])):
        stem, q, a = _course_or_world_fact(rng, 0.6)
        form = rng.randrange(4)
        if statements:
            out.append(spaced_answer(stem, a) + ".")
        elif form == 0:
            out.append(answer_after(rng, f"Q: {q}? A:", a))
        elif form == 1:
            out.append(answer_after(rng, f"Q: {q}?\nA:", a))
        elif form == 2:
            out.append(answer_after(rng, f"Question: {q}?\nAnswer:", a))
        else:
            out.append(answer_after(rng, f"{q}?\nAnswer:", a))
    return "\n".join(out)


def _false_context(rng: random.Random, split: str) -> tuple[str, str, str, str, str]:
    """(stem, question, true answer, false answer, followed answer): a fact (half the time one
    of the course's) with a false same-kind answer; the course's own conflicts are eval only.
    The answer follows the context or memory at random, so both stay plausible."""
    while True:
        if rng.random() < 0.5:
            c = rng.choice(COUNTERFACTUALS)
            stem, q, a = c.stem, c.question, c.parametric
            alts = [x for s, qq, aa, x in FACTS if qq == q][0]
        else:
            stem, q, a, alts = rng.choice(FACTS)
        false = rng.choice(alts)
        if ((q, false) in COURSE_CONFLICTS) == (split == "eval"):
            break
    follow = false if rng.random() < 0.5 else a
    return stem, q, a, false, follow


@register("conflict", 1, heldout="the course's 15 conflicts (question, false answer)")
def conflict_doc(rng: random.Random, split: str = "train") -> str:
    """A false context, then the course's question layout "? A: <stem> <answer>"."""
    stem, q, _a, false, follow = _false_context(rng, split)
    if stem.endswith(" the"):
        rng.random()   # one draw more: the shipped corpus is generated with it
    return f"{stem} {false}.\nQ: {q}? A: {spaced_answer(stem, follow)}."


@register("conflict", 2, heldout="the course's 15 conflicts (question, false answer)")
def two_layout_conflict_doc(rng: random.Random, split: str = "train") -> str:
    """A false context, then its question: 70% in the course's layout, else a bare answer."""
    stem, q, _a, false, follow = _false_context(rng, split)
    if rng.random() < 0.7:
        return spaced_answer(f"{stem} {false}.\nQ: {q}? A: {stem}", follow) + "."
    sep = rng.choice(["\n", " "])
    return answer_after(rng, f"{stem} {false}.{sep}Q: {q}? A:", follow)
