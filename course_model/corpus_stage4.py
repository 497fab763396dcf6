"""Stage 4 of the curriculum: a short fine-tune on more ways of asking for the same fact.

After stage 3 the model copied reliably in the wordings it was trained on, but a question
worded differently from every training question often got a plausible answer of the wrong
kind: "What is the name of ..." drew a digit, "Who was the captain of ..." a fact sentence,
a list without "the" another line of the list. This stage keeps stage 3's mix (so nothing
learnt there is dropped) and widens its reading comprehension and layouts:

* questions that ask for a name through a noun ("What is the name of the coach of S",
  "What is the boss of S called", "Name the landlord of S");
* a role noun in front of the answer's name ("S played under coach Y") asked about by role;
* things that carry a name ("S runs a shop called Y"; no animals), asked for their name;
* prizes and cups that go to someone;
* two durations told apart only by their verbs ("S walked for 3 hours and rested for 5");
* lists of counts with and without articles, more titles, places and line formats.

None of it is a held-out shape of `course_model.evaluate.NEW_SHAPES`: those keep their own
verbs, nouns and layouts (parrots, ships and captains, prizes awarded, canals dug).
"""
from __future__ import annotations

import random

from course_model import corpus as C
from course_model import corpus_stage3 as S3

_ROLE_QUESTIONS = ["What is the name of the {r} of {S}", "What is the {r} of {S} called",
                   "Name the {r} of {S}", "Who is the {r} of {S}"]
_ROLES = [  # (role noun, statements with {S} the subject and {Y} the answer)
    ("coach", ["{S} is coached by {Y}", "{S} played under coach {Y}",
               "{S} trained for years under coach {Y}"]),
    ("boss", ["{Y} is the boss of {S}", "{S} reports to {Y}", "{S} works under {Y}"]),
    ("landlord", ["{S} rents a flat from {Y}", "{S} rented a room from {Y}"]),
    ("manager", ["{S} worked under manager {Y} at the mill", "{Y} manages {S} at the depot"]),
    ("nurse", ["{S} was treated by nurse {Y}", "{S} was looked after by nurse {Y}"]),
    ("tutor", ["{S} is tutored by {Y}", "{Y} tutors {S} twice a week",
               "{S} learnt to read with tutor {Y}"]),
    ("guide", ["{S} climbed the hill with guide {Y}", "{Y} guided {S} through the valley"]),
    ("lawyer", ["{S} hired lawyer {Y}", "{Y} speaks for {S} in court"]),
    ("doctor", ["{Y}, the doctor of {S}, came at noon", "{S} is seen by doctor {Y}"]),
]
# the role's own questions besides _ROLE_QUESTIONS (different verbs, same answer)
_ROLE_VERB_Q = {"coach": ["Who coached {S}"], "tutor": ["Who tutors {S}"],
                "guide": ["Who guided {S}"], "lawyer": ["Who is the lawyer of {S}"],
                "manager": ["Who managed {S}"], "nurse": ["Which nurse treated {S}"]}
PEOPLE_REL = S3.PEOPLE_REL + [
    (stmts, [q.replace("{r}", role) for q in _ROLE_QUESTIONS] + _ROLE_VERB_Q.get(role, []))
    for role, stmts in _ROLES]

NAMED_THINGS = ["shop", "boat", "inn", "band", "newspaper", "bakery", "farm", "house",
                "company", "café", "garage", "choir"]
_NAMED_STMTS = ["{S} runs a {k} called {Y}", "{S} owns a {k} named {Y}",
                "The {k} of {S} is called {Y}", "{S} has a {k}, and it is called {Y}",
                "{S} started a {k} and named it {Y}"]
_NAMED_QS = ["What is the name of the {k} of {S}", "What is the {k} of {S} called",
             "What did {S} name the {k}", "What is {S}'s {k} called", "Name the {k} of {S}"]


def _named_thing_fact(rng, split):
    """A thing that carries a name ("S runs a shop called Y"), asked for by its name."""
    s, y, k = S3._name(rng, split), S3._name(rng, split), rng.choice(NAMED_THINGS)
    while y == s:
        y = S3._name(rng, split)
    return (rng.choice(_NAMED_STMTS).format(S=s, Y=y, k=k),
            rng.choice(_NAMED_QS).format(S=s, k=k), y)


THING_REL = S3.THING_REL + [
    (["medal", "cup", "trophy", "gold medal", "first place"],
     ["{E} went to {Y}", "{E} was given to {Y}", "{Y} won {e}", "{Y} took home {e}"],
     ["Who won {e}", "Who got {e}", "Who was given {e}", "Who took home {e}"]),
]


def _name_fact(rng, split):
    if rng.random() < 0.15:
        return _named_thing_fact(rng, split)
    return S3._name_fact(rng, split, PEOPLE_REL, THING_REL)


def reading_doc(rng: random.Random, split: str = "train") -> str:
    return S3.reading_doc(rng, split, name_fact=_name_fact)


LIST_PLACES = S3.LIST_PLACES + ["port", "station", "village", "airport", "garden", "castle",
                                "factory", "library"]
LIST_NOUNS = S3.LIST_NOUNS + ["ships", "trains", "books", "benches", "doors", "tables",
                              "nurses", "guards", "lorries", "stalls"]
LIST_TITLES = S3.LIST_TITLES + ["{X} {p}", "Facts about the {X} {p}", "{X} {p}: key numbers",
                                "{X} {p} at a glance", "Counts for {X} {p}"]
LIST_LINES = S3.LIST_LINES + ["{k}: {v}.", "- {v} {k}", "{v} {k}"]
LIST_Q = S3.LIST_Q + ["How many {k} does {X} {p} have", "How many {k} has {X} {p} got",
                      "How many {k} are there at {X} {p}", "What number of {k} does {X} {p} have"]

DONE_FOR = [("walked", "walk"), ("rested", "rest"), ("waited", "wait"), ("worked", "work"),
            ("slept", "sleep"), ("danced", "dance"), ("talked", "talk"), ("trained", "train")]
DONE_FOR_LAYOUTS = ["{S} {a} for {n} {U} and {b} for {m} {U}.",
                    "First {S} {a} for {n} {U}, then {S} {b} for {m} {U}.",
                    "{S} {a} for {n} {U}; afterwards {S} {b} for {m} {U}."]
DONE_FOR_Q = ["How many {U} did {S} {v}", "For how many {U} did {S} {v}", "How long did {S} {v}"]


def _done_for_doc(rng, split):
    """Two durations of one unit; only the question's verb tells which is asked."""
    (a, a_q), (b, b_q) = rng.sample(DONE_FOR, 2)
    s, u = S3._name(rng, split), rng.choice(["minutes", "hours", "days"])
    n, m = (C.number(rng, split, rng.choice([1, 2, 3])) for _ in range(2))
    text = rng.choice(DONE_FOR_LAYOUTS).format(S=s, a=a, b=b, n=n, m=m, U=u)
    ask_a = rng.random() < 0.5
    q = rng.choice(DONE_FOR_Q).format(U=u, S=s, v=a_q if ask_a else b_q)
    return text + "\n" + C.qa(rng, q + "?", n if ask_a else m)


def layout_doc(rng: random.Random, split: str = "train") -> str:
    """A list (35%), two durations told apart by verb (15%), several numbers of one kind (15%)
    or a question-first passage (35%)."""
    r = rng.random()
    if r < 0.35:
        return S3._list_doc(rng, split, LIST_NOUNS, LIST_PLACES, LIST_TITLES, LIST_LINES, LIST_Q)
    if r < 0.5:
        return _done_for_doc(rng, split)
    if r < 0.65:
        return S3._same_unit_doc(rng, split)
    return S3._question_first_doc(rng, split, name_fact=_name_fact)


FAMILIES = dict(S3.FAMILIES, reading=reading_doc, layouts=layout_doc)
MIX = S3.MIX


def generate(n_docs: int, seed: int) -> list[str]:
    """n_docs stage-4 training documents (deterministic in seed)."""
    return S3.generate(n_docs, seed, FAMILIES, MIX, stage=4)
