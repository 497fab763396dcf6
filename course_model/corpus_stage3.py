"""Stage 3 of the curriculum: targeted practice on what stages 1-2 left weak.

After stage 2 the model copied numbers from passages but rarely names, answered "Q: ... A:"
with " The capital of ..." (stage-1 documents wrote whole statements after "A:"), ignored
remapped in-context labels, and began chat replies with a stray newline (the reply was
tokenised together with the header's blank line). This stage's documents fix each of those:

* after a bare question, "A:" is followed by the bare answer (" Paris"); only conflicts keep
  the course's layout "A: The capital of France is Paris";
* reading comprehension asks about names more often, with more relations between people and
  things (none of them the held-out shapes of `course_model.evaluate.NEW_SHAPES`), and
  passages that hold several names so the question must pick the right one;
* "layouts": lists of counts, several numbers of one kind, and the question placed before
  its passage, so copying does not depend on one prose layout;
* 40% of documents write every answer as "A:" + " Paris" (the rest split 50/50 as in stages
  1-2), so after "A:" the model ranks " Paris" above a lone space;
* repeated sequences of made-up names and raw token ids keep the induction heads sharp;
* in-context demonstrations are remapped 85% of the time, so following them pays;
* chat replies are tokenised apart from the header, as `apply_chat_template` leaves them.

Held-out names, numbers, reviews and patients stay held out (`split="eval"` as in `corpus`).
"""
from __future__ import annotations

import random

from course_model import corpus as C
from course_model import handover
from utils import prompts as P

SPLIT = C.SPLIT


# Longer names on average than stages 1-2: held-out names are split into several tokens, so
# copying must work for multi-token names too.
LONGER_NAMES = (2, 3, 3)


def _name(rng: random.Random, split: str) -> str:
    return C.made_up_name(rng, split, LONGER_NAMES)


# ---------------------------------------------------------------------------------- facts
def fact_doc(rng: random.Random, split: str = "train") -> str:
    """One to four facts, all statements or all questions: a statement followed by an
    unrelated question would look like a conflict document, which restates the stem after
    "A:". After a question the answer is always the bare word."""
    out, statements = [], rng.random() < 0.2
    for _ in range(rng.choice([1, 2, 3, 4])):
        if rng.random() < 0.6:
            c = rng.choice(P.COUNTERFACTUALS)
            stem, q, a = c.stem, c.question, c.parametric
        else:
            stem, q, a, _alts = rng.choice(C.FACTS)
        form = rng.randrange(4)
        if statements:
            out.append(C._ans(stem, a) + ".")
        elif form == 0:
            out.append(C.answer_after(rng, f"Q: {q}? A:", a))
        elif form == 1:
            out.append(C.answer_after(rng, f"Q: {q}?\nA:", a))
        elif form == 2:
            out.append(C.answer_after(rng, f"Question: {q}?\nAnswer:", a))
        else:
            out.append(C.answer_after(rng, f"{q}?\nAnswer:", a))
    return "\n".join(out)


def conflict_doc(rng: random.Random, split: str = "train") -> str:
    """A contradicting statement, then a question whose answer follows the context or memory
    at random (both stay plausible), mostly in the course's layout "? A: <stem> <answer>"."""
    while True:
        if rng.random() < 0.5:
            c = rng.choice(P.COUNTERFACTUALS)
            stem, q, a = c.stem, c.question, c.parametric
            alts = [x for s, qq, aa, x in C.FACTS if qq == q][0]
        else:
            stem, q, a, alts = rng.choice(C.FACTS)
        false = rng.choice(alts)
        if ((q, false) in C._COURSE_CONFLICTS) == (split == "eval"):
            break
    follow = false if rng.random() < 0.5 else a
    if rng.random() < 0.7:  # the course's layout: the question's stem repeated after "A:"
        return C._ans(f"{stem} {false}.\nQ: {q}? A: {stem}", follow) + "."
    sep = rng.choice(["\n", " "])
    return C.answer_after(rng, f"{stem} {false}.{sep}Q: {q}? A:", follow)


# ---------------------------------------------------------------------------------- reading
PEOPLE_REL = [  # (statement, questions): {S} subject person, {Y} the answer name or place
    (["{S} sent a letter to {Y}", "{S} wrote a letter to {Y}"],
     ["Who did {S} send a letter to", "To whom did {S} write"]),
    (["{S} bought a horse from {Y}", "{S} got a horse from {Y}"],
     ["Who did {S} buy a horse from", "From whom did {S} get a horse"]),
    (["{S} is coached by {Y}", "{Y} coaches {S}", "The coach of {S} is {Y}"],
     ["Who coaches {S}", "Who is the coach of {S}"]),
    (["{S} moved to {Y} last year", "Last year {S} moved to {Y}"],
     ["Where did {S} move last year", "Where did {S} move to"]),
    (["{S} studied in {Y}", "{S} went to school in {Y}"],
     ["Where did {S} study", "Where did {S} go to school"]),
    (["{S} sits next to {Y}", "{Y} sits next to {S}"],
     ["Who sits next to {S}"]),
    (["{Y} is the boss of {S}", "The boss of {S} is {Y}", "{S} reports to {Y}"],
     ["Who is the boss of {S}", "Who does {S} report to"]),
    (["{S} rented a room from {Y}", "{S} rents a flat from {Y}"],
     ["Who did {S} rent a room from", "Who is the landlord of {S}"]),
    (["{S} travelled to {Y}", "{S} flew to {Y} in May", "{S} took a train to {Y}"],
     ["Where did {S} travel", "Where did {S} go"]),
    (["{S} is the neighbour of {Y}", "{S} lives next door to {Y}"],
     ["Who is the neighbour of {S}", "Who lives next door to {S}"]),
    # the question's verb form differs from the statement's (hired / hire)
    (["{S} hired {Y} in June", "In June {S} hired {Y}"], ["Whom did {S} hire", "Who did {S} hire"]),
    (["{S} met {Y} at the market", "At the market {S} met {Y}"],
     ["Whom did {S} meet at the market", "Who did {S} meet"]),
    (["{S} invited {Y} to the dinner"], ["Whom did {S} invite to the dinner", "Who did {S} invite"]),
    (["{S} visited {Y} on Sunday", "On Sunday {S} visited {Y}"],
     ["Whom did {S} visit on Sunday", "Who did {S} visit"]),
    (["{S} beat {Y} in the final", "In the final {S} beat {Y}"],
     ["Whom did {S} beat in the final", "Who lost to {S} in the final"]),
    (["{S} was taught by {Y}", "{Y} taught {S}"], ["Who taught {S}", "Who was the teacher of {S}"]),
    (["{S} replaced {Y} as mayor", "As mayor, {S} replaced {Y}"],
     ["Whom did {S} replace as mayor", "Who was mayor before {S}"]),
    (["{S} thanked {Y} for the gift"], ["Whom did {S} thank for the gift", "Who gave {S} a gift"]),
    (["{Y}, the doctor of {S}, came at noon", "At noon {Y}, the doctor of {S}, came"],
     ["Who is the doctor of {S}", "Who is the doctor of {S} called"]),
]
THING_REL = [  # {E} entity phrase, {Y} the answer name
    (["bridge", "statue", "square", "street", "school"],
     ["{E} was named after {Y}", "{E} is named after {Y}"],
     ["Who was {e} named after", "After whom is {e} named"]),
    (["portrait", "mural", "painting", "map"],
     ["{E} was painted by {Y}", "{Y} painted {E}"], ["Who painted {e}", "Who made {e}"]),
    (["house", "farm", "boat", "shop", "mill"],
     ["{E} was sold to {Y}", "{Y} bought {E}", "{E} is owned by {Y}", "{Y} owns {E}"],
     ["Who bought {e}", "Who owns {e}", "Who is the owner of {e}"]),
    (["roof", "clock", "organ", "fountain", "wall"],
     ["{E} was repaired by {Y}", "{Y} repaired {E}", "{Y} fixed {E}"],
     ["Who repaired {e}", "Who fixed {e}"]),
    (["concert", "meeting", "wedding", "lecture", "trial"],
     ["{E} took place in {Y}", "{E} was held in {Y}"],
     ["Where did {e} take place", "Where was {e} held"]),
]


def _person_fact(rng, split, rels=None):
    stmts, qs = rng.choice(rels or PEOPLE_REL)
    s, y = _name(rng, split), _name(rng, split)
    while y == s:
        y = _name(rng, split)
    return rng.choice(stmts).format(S=s, Y=y), rng.choice(qs).format(S=s), y


def _thing_fact(rng, split, rels=None):
    kinds, stmts, qs = rng.choice(rels or THING_REL)
    x = _name(rng, split)
    e = rng.choice(C.ENTITY_DET).format(X=x, k=rng.choice(kinds))
    y = _name(rng, split)
    return rng.choice(stmts).format(E=C._cap(e), e=e, Y=y), rng.choice(qs).format(e=e), y


def _name_fact(rng, split, people=None, things=None):
    """(statement, question, answer name): a relation between people (35%), a thing and a
    person (25%) or stage 2's name attributes; `people`/`things` replace the relation lists."""
    r = rng.random()
    if r < 0.35:
        return _person_fact(rng, split, people)
    if r < 0.6:
        return _thing_fact(rng, split, things)
    return C._name_fact(rng, split)


def reading_doc(rng: random.Random, split: str = "train", name_fact=None) -> str:
    """A passage of 1-4 facts (60% with a name answer, drawn by `name_fact`) and 0-2 fillers;
    a question about one."""
    name_fact = name_fact or _name_fact
    if rng.random() < 0.08:
        facts = [C._correction(rng, split)]
    else:
        facts = [name_fact(rng, split) if rng.random() < 0.6 else C._num_fact(rng, split)
                 for _ in range(rng.choice([1, 2, 2, 3, 3, 4]))]
    passage = C.compose_passage(rng, [s for s, _, _ in facts])
    order = rng.sample(range(len(facts)), k=min(len(facts), rng.choice([1, 1, 2])))
    tail = "\n".join(C.qa(rng, facts[i][1] + "?", facts[i][2]) for i in order)
    return passage + rng.choice(["\n", "\n", " "]) + tail


# ---------------------------------------------------------------------------------- layouts
# Passages that are not plain prose, several numbers of one unit, and the question before the
# passage: the skills behind the evaluation's new shapes, in wordings of their own.
LIST_NOUNS = ["cows", "sheep", "tractors", "barns", "desks", "teachers", "pupils", "buses",
              "trucks", "crates", "lamps", "rooms", "beds", "windows", "chairs", "ovens",
              "horses", "wells", "gates", "bells"]
LIST_PLACES = ["farm", "school", "depot", "inn", "hospital", "camp", "estate", "market"]
LIST_TITLES = ["{X} {p} records", "Inventory of the {X} {p}", "The {X} {p} in numbers",
               "{X} {p}, counted in May", "Stock list: {X} {p}"]
LIST_LINES = ["- {k}: {v}", "* {k}: {v}", "{k}: {v}", "- {k} = {v}", "{k} - {v}"]
LIST_Q = ["How many {k} does the {X} {p} have", "How many {k} are at the {X} {p}",
          "What is the number of {k} at the {X} {p}", "How many {k} are listed"]


def _list_doc(rng, split, nouns=LIST_NOUNS, places=LIST_PLACES, titles=LIST_TITLES,
              lines=LIST_LINES, questions=LIST_Q):
    """A titled list of counts; the question picks one line."""
    x, p = _name(rng, split), rng.choice(places)
    keys = rng.sample(nouns, rng.randint(2, 5))
    vals = [C.number(rng, split, rng.choice([1, 1, 2, 3, 4])) for _ in keys]
    line = rng.choice(lines)
    body = "\n".join(line.format(k=k, v=v) for k, v in zip(keys, vals))
    i = rng.randrange(len(keys))
    q = rng.choice(questions).format(k=keys[i], X=x, p=p)
    return f"{rng.choice(titles).format(X=x, p=p)}\n{body}\n" + C.qa(rng, q + "?", vals[i])


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


def _same_unit_doc(rng, split):
    """Two or three numbers of one kind; the question's activity or noun picks one."""
    if rng.random() < 0.5:
        stmt, q, units = rng.choice(SAME_UNIT)
        s, u = _name(rng, split), rng.choice(units)
        a, b = rng.sample(ACTIVITIES, 2)
        n, m = C.number(rng, split, rng.choice([1, 2, 3])), C.number(rng, split)
        ask_a = rng.random() < 0.5
        text = stmt.format(S=s, n=n, m=m, U=u, a=a, b=b)
        return text + "\n" + C.qa(rng, q.format(U=u, S=s, q=a if ask_a else b) + "?",
                                  n if ask_a else m)
    nouns = rng.choice(COUNTED)
    head, q = COUNT_VERBS[nouns[0]]
    x = _name(rng, split)
    ks = rng.sample(nouns, rng.choice([2, 3]))
    vs = [C.number(rng, split, rng.choice([1, 2, 3])) for _ in ks]
    parts = [f"{v} {k}" for v, k in zip(vs, ks)]
    listed = ", ".join(parts[:-1]) + " and " + parts[-1]
    i = rng.randrange(len(ks))
    text = f"{head.format(X=x)} {listed} {rng.choice(['in May', 'last year', 'this week'])}."
    return text + "\n" + C.qa(rng, q.format(k=ks[i], X=x) + "?", vs[i])


QFIRST_INTROS = ["Answer the question using the text below.", "Use the passage to answer.",
                 "Answer from the context.", "First the question, then the text."]
QFIRST_LABELS = ["Text", "Passage", "Context", "Story", "Report"]


def _question_first_doc(rng, split, name_fact=None):
    """The question comes before the passage it is about."""
    name_fact = name_fact or _name_fact
    facts = [name_fact(rng, split) if rng.random() < 0.5 else C._num_fact(rng, split)
             for _ in range(rng.choice([1, 2, 3]))]
    passage = C.compose_passage(rng, [s for s, _, _ in facts])
    _, q, a = rng.choice(facts)
    label, marker = rng.choice(QFIRST_LABELS), rng.choice(["Answer:", "A:", "Answer:"])
    head = rng.choice([f"{rng.choice(QFIRST_INTROS)}\nQuestion: {q}?",
                       f"Question: {q}?", f"{rng.choice(QFIRST_INTROS)} {q}?"])
    return C.answer_after(rng, f"{head}\n{label}: {passage}\n{marker}", a)


def layout_doc(rng: random.Random, split: str = "train") -> str:
    """A list (35%), several numbers of one kind (30%) or a question-first passage (35%)."""
    r = rng.random()
    if r < 0.35:
        return _list_doc(rng, split)
    if r < 0.65:
        return _same_unit_doc(rng, split)
    return _question_first_doc(rng, split)


def repeat_doc(rng: random.Random, split: str = "train") -> str:
    """Repeated runs: raw token ids or made-up names (multi-token copying)."""
    if rng.random() < 0.5:
        return C.RAW_REPEAT
    seq = " ".join(_name(rng, split) for _ in range(rng.randint(3, 12)))
    return rng.choice(["\n", " | ", ". "]).join([seq] * rng.choice([2, 2, 3]))


# ---------------------------------------------------------------------------------- ICL, chat
def icl_doc(rng: random.Random, split: str = "train") -> str:
    """Review demonstrations whose labels are remapped 85% of the time, then 1-2 queries."""
    while True:
        m = C.label_map(rng)
        if any(m[k] != k for k in m) or rng.random() < 0.3:
            break
    k = rng.randint(4, 8)
    labels = C.LABELS[:] + [rng.choice(C.LABELS) for _ in range(k - 4)]
    rng.shuffle(labels)
    if rng.random() < 0.2:
        lines = [f"Review: {t} Sentiment: {m[l]}" for t, l in P.SENTIMENT_DEMOS]
    else:
        lines = [f"Review: {C.review(rng, l, split)} Sentiment: {m[l]}" for l in labels]
    for _ in range(rng.choice([1, 2])):
        l = rng.choice(C.LABELS)
        lines.append(C._ans(f"Review: {C.review(rng, l, split)} Sentiment:", m[l]))
    return "\n".join(lines)


def handover_doc(rng: random.Random, split: str = "train") -> str:
    """A chat record -> summary; the reply is tokenised apart from its header, exactly as a
    prompt from `apply_chat_template(..., add_generation_prompt=True)` ends."""
    ex = handover.make_handover_example(rng.randrange(10 ** 9), split=split)
    return handover.render_chat(ex["messages"]) + SPLIT + ex["summary"].strip() + "<|eot_id|>"


FAMILIES = {"reading": reading_doc, "layouts": layout_doc, "facts": fact_doc, "conflict": conflict_doc,
            "repeat": repeat_doc, "icl": icl_doc, "handover": handover_doc,
            "instruction": C.instruction_doc, "simple_reading": C.simple_reading_doc}
MIX = {"reading": 0.29, "layouts": 0.15, "facts": 0.10, "conflict": 0.07, "repeat": 0.06,
       "icl": 0.18, "handover": 0.08, "instruction": 0.05, "simple_reading": 0.02}


# After "A:" the model must rank " Paris" above a lone space (" " + "Paris" is the other
# trained form). SPACE_AFTER_SPLIT: this share of documents writes every answer as "A:" +
# " Paris", so about 70% of answers do. MASK_SPLIT_SPACE (no loss on that lone space) was
# tried instead: facts reached 45/45, but names after a prompt ending in "A: " fell from 54 of
# 81 copied to 2 of 81, so it is off.
MASK_SPLIT_SPACE = False
SPACE_AFTER_SPLIT = 0.4


def generate(n_docs: int, seed: int, families=None, mix=None, stage: int = 3) -> list[str]:
    """n_docs training documents of `stage` (deterministic in seed) from `families` drawn
    with weights `mix` (this stage's by default)."""
    families, mix = families or FAMILIES, mix or MIX
    rng = random.Random(f"course-corpus-{stage}-{seed}")
    form_rng = random.Random(f"course-corpus-{stage}-form-{seed}")
    fams, weights = list(mix), list(mix.values())
    docs = [families[rng.choices(fams, weights=weights)[0]](rng, "train") for _ in range(n_docs)]
    if SPACE_AFTER_SPLIT:
        docs = [d.replace(" " + SPLIT, SPLIT + " ") if form_rng.random() < SPACE_AFTER_SPLIT
                else d for d in docs]
    return docs
