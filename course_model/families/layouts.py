"""Passages that are not plain prose: family "layouts".

Lists of counts, several numbers of one kind, and the question placed before its passage, so
copying does not depend on one prose layout. Version 2 (stage 4) widens the lists (with and
without articles, more titles, places and line formats) and adds two durations told apart
only by their verbs. None of it is a held-out shape of `course_model.evaluate.NEW_SHAPES`.
"""
from __future__ import annotations

import random

from course_model.families import register
from course_model.families.reading import (compose_passage, num_fact, relation_name_fact,
                                           wider_name_fact)
from course_model.families.text import answer_after, long_name, number, qa

LIST_NOUNS = ["cows", "sheep", "tractors", "barns", "desks", "teachers", "pupils", "buses",
              "trucks", "crates", "lamps", "rooms", "beds", "windows", "chairs", "ovens",
              "horses", "wells", "gates", "bells"]
LIST_PLACES = ["farm", "school", "depot", "inn", "hospital", "camp", "estate", "market"]
LIST_TITLES = ["{X} {p} records", "Inventory of the {X} {p}", "The {X} {p} in numbers",
               "{X} {p}, counted in May", "Stock list: {X} {p}"]
LIST_LINES = ["- {k}: {v}", "* {k}: {v}", "{k}: {v}", "- {k} = {v}", "{k} - {v}"]
LIST_Q = ["How many {k} does the {X} {p} have", "How many {k} are at the {X} {p}",
          "What is the number of {k} at the {X} {p}", "How many {k} are listed"]


def list_doc(rng, split, nouns=LIST_NOUNS, places=LIST_PLACES, titles=LIST_TITLES,
             lines=LIST_LINES, questions=LIST_Q):
    """A titled list of counts; the question picks one line."""
    x, p = long_name(rng, split), rng.choice(places)
    keys = rng.sample(nouns, rng.randint(2, 5))
    vals = [number(rng, split, rng.choice([1, 1, 2, 3, 4])) for _ in keys]
    line = rng.choice(lines)
    body = "\n".join(line.format(k=k, v=v) for k, v in zip(keys, vals))
    i = rng.randrange(len(keys))
    q = rng.choice(questions).format(k=keys[i], X=x, p=p)
    return f"{rng.choice(titles).format(X=x, p=p)}\n{body}\n" + qa(rng, q + "?", vals[i])


ACTIVITIES = ["reading", "cooking", "painting", "swimming", "walking", "cleaning", "writing",
              "singing", "sleeping", "fishing", "running", "sewing"]
SAME_UNIT = [  # (statement with {a}/{b} activities and {n}/{m} numbers, question about {q})
    ("{S} spent {n} {U} {a} and {m} {U} {b}.", "How many {U} did {S} spend {q}",
     ["hours", "minutes", "days"]),
    ("Last week {S} did {n} {U} of {a} and {m} {U} of {b}.", "How many {U} of {q} did {S} do",
     ["hours", "minutes"]),
    ("{S} needed {n} {U} for {a} but only {m} {U} for {b}.", "How many {U} did {S} need for {q}",
     ["minutes", "hours", "weeks"]),
]
COUNTED = [("apples", "pears", "plums", "melons"), ("goals", "points", "fouls", "corners"),
           ("letters", "parcels", "postcards", "bills")]
COUNT_VERBS = {"apples": ("The {X} shop sold", "How many {k} did the {X} shop sell"),
               "goals": ("The {X} team scored", "How many {k} did the {X} team score"),
               "letters": ("The {X} office sent", "How many {k} did the {X} office send")}


def same_unit_doc(rng, split):
    """Two or three numbers of one kind; the question's activity or noun picks one."""
    if rng.random() < 0.5:
        stmt, q, units = rng.choice(SAME_UNIT)
        s, u = long_name(rng, split), rng.choice(units)
        a, b = rng.sample(ACTIVITIES, 2)
        n, m = number(rng, split, rng.choice([1, 2, 3])), number(rng, split)
        ask_a = rng.random() < 0.5
        text = stmt.format(S=s, n=n, m=m, U=u, a=a, b=b)
        return text + "\n" + qa(rng, q.format(U=u, S=s, q=a if ask_a else b) + "?",
                                n if ask_a else m)
    nouns = rng.choice(COUNTED)
    head, q = COUNT_VERBS[nouns[0]]
    x = long_name(rng, split)
    ks = rng.sample(nouns, rng.choice([2, 3]))
    vs = [number(rng, split, rng.choice([1, 2, 3])) for _ in ks]
    parts = [f"{v} {k}" for v, k in zip(vs, ks)]
    listed = ", ".join(parts[:-1]) + " and " + parts[-1]
    i = rng.randrange(len(ks))
    text = f"{head.format(X=x)} {listed} {rng.choice(['in May', 'last year', 'this week'])}."
    return text + "\n" + qa(rng, q.format(k=ks[i], X=x) + "?", vs[i])


QFIRST_INTROS = ["Answer the question using the text below.", "Use the passage to answer.",
                 "Answer from the context.", "First the question, then the text."]
QFIRST_LABELS = ["Text", "Passage", "Context", "Story", "Report"]


def question_first_doc(rng, split, name_fact):
    """The question comes before the passage it is about."""
    facts = [name_fact(rng, split) if rng.random() < 0.5 else num_fact(rng, split)
             for _ in range(rng.choice([1, 2, 3]))]
    passage = compose_passage(rng, [s for s, _, _ in facts])
    _, q, a = rng.choice(facts)
    label, marker = rng.choice(QFIRST_LABELS), rng.choice(["Answer:", "A:", "Answer:"])
    head = rng.choice([f"{rng.choice(QFIRST_INTROS)}\nQuestion: {q}?",
                       f"Question: {q}?", f"{rng.choice(QFIRST_INTROS)} {q}?"])
    return answer_after(rng, f"{head}\n{label}: {passage}\n{marker}", a)


@register("layouts", 1, heldout="names and numbers")
def layout_doc(rng: random.Random, split: str = "train") -> str:
    """A list of counts (35%), several numbers of one kind (30%) or a question-first passage
    (35%)."""
    r = rng.random()
    if r < 0.35:
        return list_doc(rng, split)
    if r < 0.65:
        return same_unit_doc(rng, split)
    return question_first_doc(rng, split, relation_name_fact)


# version 2: lists with and without articles, more titles, places and line formats
WIDER_LIST_PLACES = LIST_PLACES + ["port", "station", "village", "airport", "garden", "castle",
                                   "factory", "library"]
WIDER_LIST_NOUNS = LIST_NOUNS + ["ships", "trains", "books", "benches", "doors", "tables",
                                 "nurses", "guards", "lorries", "stalls"]
WIDER_LIST_TITLES = LIST_TITLES + ["{X} {p}", "Facts about the {X} {p}", "{X} {p}: key numbers",
                                   "{X} {p} at a glance", "Counts for {X} {p}"]
WIDER_LIST_LINES = LIST_LINES + ["{k}: {v}.", "- {v} {k}", "{v} {k}"]
WIDER_LIST_Q = LIST_Q + ["How many {k} does {X} {p} have", "How many {k} has {X} {p} got",
                         "How many {k} are there at {X} {p}",
                         "What number of {k} does {X} {p} have"]

DONE_FOR = [("walked", "walk"), ("rested", "rest"), ("waited", "wait"), ("worked", "work"),
            ("slept", "sleep"), ("danced", "dance"), ("talked", "talk"), ("trained", "train")]
DONE_FOR_LAYOUTS = ["{S} {a} for {n} {U} and {b} for {m} {U}.",
                    "First {S} {a} for {n} {U}, then {S} {b} for {m} {U}.",
                    "{S} {a} for {n} {U}; afterwards {S} {b} for {m} {U}."]
DONE_FOR_Q = ["How many {U} did {S} {v}", "For how many {U} did {S} {v}", "How long did {S} {v}"]


def done_for_doc(rng, split):
    """Two durations of one unit; only the question's verb tells which is asked."""
    (a, a_q), (b, b_q) = rng.sample(DONE_FOR, 2)
    s, u = long_name(rng, split), rng.choice(["minutes", "hours", "days"])
    n, m = (number(rng, split, rng.choice([1, 2, 3])) for _ in range(2))
    text = rng.choice(DONE_FOR_LAYOUTS).format(S=s, a=a, b=b, n=n, m=m, U=u)
    ask_a = rng.random() < 0.5
    q = rng.choice(DONE_FOR_Q).format(U=u, S=s, v=a_q if ask_a else b_q)
    return text + "\n" + qa(rng, q + "?", n if ask_a else m)


@register("layouts", 2, heldout="names and numbers")
def wider_layout_doc(rng: random.Random, split: str = "train") -> str:
    """A wider list (35%), two durations told apart by verb (15%), several numbers of one kind
    (15%) or a question-first passage (35%)."""
    r = rng.random()
    if r < 0.35:
        return list_doc(rng, split, WIDER_LIST_NOUNS, WIDER_LIST_PLACES, WIDER_LIST_TITLES,
                        WIDER_LIST_LINES, WIDER_LIST_Q)
    if r < 0.5:
        return done_for_doc(rng, split)
    if r < 0.65:
        return same_unit_doc(rng, split)
    return question_first_doc(rng, split, wider_name_fact)
