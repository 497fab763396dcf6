"""Descriptive questions over passages, like the course's Atlantic prompt: family "describe".

A passage of 3-5 sentences about a place states two or three lists ("It spans a wide range of
habitats, from warm coral reefs to cold polar waters.", "These habitats support diverse life,
including plankton, fish and whales."); the question asks for one list by its noun or verb
("Which animals does it support?") and the answer is that list, copied from the passage.
Held out: names (made-up, `text.made_up_name`) and 1 in 5 (question wording, noun) pairs.
"""
from __future__ import annotations

import random

from course_model.families import register
from course_model.families.text import answer_after, heldout, made_up_name

KINDS = ["ocean", "sea", "lake", "river", "forest", "valley", "island", "desert", "coast",
         "mountain range", "bay", "delta", "plain", "national park"]
# list nouns and their items: (noun, items)
LISTS = {
    "habitats": ["coral reefs", "kelp forests", "mangrove swamps", "salt marshes",
                 "sandy beaches", "rocky shores", "polar waters", "deep trenches",
                 "sea grass meadows", "tidal pools", "wetlands", "grasslands", "river banks"],
    "animals": ["plankton", "fish", "whales", "seals", "turtles", "crabs", "dolphins",
                "seabirds", "sharks", "otters", "deer", "wolves", "bears", "eagles", "frogs",
                "beetles", "owls", "foxes"],
    "plants": ["mosses", "ferns", "pine trees", "oak trees", "wild flowers", "seaweed",
               "cacti", "grasses", "reeds", "palm trees", "orchids", "lichens"],
    "industries": ["fishing", "shipping", "tourism", "farming", "mining", "forestry",
                   "trade", "boat building", "salt making", "wine making"],
    "minerals": ["gold", "copper", "iron", "salt", "coal", "silver", "tin", "limestone"],
    "crops": ["wheat", "rice", "olives", "grapes", "barley", "maize", "potatoes", "apples",
              "tea", "cotton"],
}
# (statement template with {E} the place and {L} the list, question templates over {N} the noun)
FORMS = [
    ("{E} supports many {N}, including {L}.", ["Which {N} does it support?",
                                              "What {N} does {e} support?"]),
    ("It spans a wide range of {N}, from {A} to {B}.", ["Which {N} does it span?",
                                                      "What range of {N} does it span?"]),
    ("{E} is rich in {N} such as {L}.", ["Which {N} is it rich in?",
                                         "What {N} is {e} rich in?"]),
    ("{E} is known for its {N}: {L}.", ["Which {N} is {e} known for?",
                                       "What {N} is it known for?"]),
    ("Its {N} include {L}.", ["What are its {N}?", "Which {N} does it have?",
                             "Name its {N}."]),
    ("Among its {N} are {L}.", ["Which {N} are found there?", "What {N} are among them?"]),
]
FIRST = ["{E} is the second-largest {K} in the region.", "{E} is a large {K} in the north.",
         "{E} is an old {K} with a long history.", "{E} lies between two ranges of hills.",
         "{E} covers about {n} square kilometers."]
LAST = ["It plays a major role in the climate of the region.", "Many visitors come every summer.",
        "Scientists have studied it for many years.", "It is protected by law.",
        "Storms are common in winter."]


def _list_text(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def describe_item(rng: random.Random, split: str = "train") -> tuple[str, str, list[str]]:
    """(prompt ending in "A:", answer text, the asked list's items)."""
    name = made_up_name(rng, split)
    kind = rng.choice(KINDS)
    e = f"the {name} {kind}"
    nouns = rng.sample(list(LISTS), rng.choice([2, 3]))
    forms = rng.sample(FORMS, len(nouns))
    sents = [rng.choice(FIRST).format(E=e[0].upper() + e[1:], K=kind, n=rng.randint(20, 900))]
    lists = []
    for noun, (stmt, _qs) in zip(nouns, forms):
        items = rng.sample(LISTS[noun], rng.choice([2, 3, 4]))
        lists.append(items)
        if "{A}" in stmt:
            items[:] = items[:2]
            s = stmt.format(N=noun, A=items[0], B=items[1])
        else:
            s = stmt.format(E=e[0].upper() + e[1:], N=noun, L=_list_text(items))
        sents.append(s)
    if rng.random() < 0.5:
        sents.append(rng.choice(LAST))
    # the questions this split may ask (1 in 5 wordings of a noun are held out)
    asks = [(k, q) for k in range(len(nouns)) for q in forms[k][1]
            if heldout(f"dq:{q}:{nouns[k]}", 5) == (split == "eval")]
    if not asks:
        return describe_item(rng, split)
    k, q = rng.choice(asks)
    q = q.format(N=nouns[k], e=e)
    items = lists[k]
    answer = (f"{items[0]} to {items[1]}" if "{A}" in forms[k][0] else _list_text(items))
    sep = rng.choice([" ", "\n"])
    return f"{' '.join(sents)}{sep}Q: {q}\nA:", answer, items


@register("describe", 1, heldout="made-up place names and 1 in 5 (question wording, noun) pairs")
def describe_doc(rng: random.Random, split: str = "train") -> str:
    """A passage about a place with two or three lists, a question naming one list's noun,
    the list copied as the answer."""
    prompt, answer, _ = describe_item(rng, split)
    return answer_after(rng, prompt, answer)
