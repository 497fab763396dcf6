"""Deterministic, seeded generator of the course model's training documents.

A document is one string. Where a prompt and its answer must be tokenised apart (so that
"A: " + "Paris" is learnt as well as "A:" + " Paris"), the text holds SPLIT between them; the
packer (`course_model.data`) encodes each side separately and drops the marker.
RAW_REPEAT documents are placeholders the packer fills with a repeated random token-id run.

Two stages (a curriculum, see FACTS.md): `stage1_doc` mixes easy copy data (few templates,
repeats) with every knowledge/instruction family; `stage2_doc` is 70% compositional reading
comprehension and 30% stage 1. `split="eval"` draws names/numbers/combos held out of training.
"""
from __future__ import annotations

import random
import zlib

from utils import prompts as P
from course_model import handover

SPLIT = "\x1f"          # prompt|answer boundary, removed before tokenisation
RAW_REPEAT = "\x1eRAW"  # placeholder for a repeated random token-id sequence


# ---------------------------------------------------------------------------------------------
# held-out splits: a stable hash decides which names / numbers / combos only evaluation sees
def _h(s: str) -> int:
    return zlib.crc32(s.encode())


def heldout(key: str, frac: int = 8) -> bool:
    """True for ~1/frac of keys: reserved for evaluation, never in a training document."""
    return _h(key) % frac == 0


SYL_A = ["ka", "lo", "mi", "ze", "qua", "vo", "ri", "tam", "bel", "dor", "fen", "gal", "hu", "jor",
         "nel", "pra", "sil", "tor", "ul", "yen", "mar", "zo", "cre", "bra", "vin", "os", "pel",
         "dra", "lun", "kes", "mor", "ta", "ab", "ei", "ro", "sa", "ni", "ve", "ga", "fi"]
SYL_B = ["pem", "vik", "ruth", "lor", "dan", "mex", "sto", "rin", "bor", "tal", "zin", "quor",
         "lis", "gor", "nath", "vel", "mun", "sek", "dra", "pol", "ten", "wick", "ford", "ria",
         "mond", "sel", "tan", "vos", "ko", "len", "dis", "mar", "ron", "bas", "nok", "pur"]


def made_up_name(rng: random.Random, split: str, syllables=(2, 2, 2, 3)) -> str:
    """A capitalised nonsense word such as 'Quapem' (train and eval draw disjoint sets);
    its number of syllables is drawn from `syllables`."""
    while True:
        n = rng.choice(syllables)
        w = "".join(rng.choice(SYL_A) for _ in range(n - 1)) + rng.choice(SYL_B)
        w = w.capitalize()
        if heldout("name:" + w) == (split == "eval"):
            return w


def number(rng: random.Random, split: str, digits: int | None = None) -> str:
    """A 1-4 digit number as text; eval numbers are disjoint from training numbers."""
    while True:
        d = digits or rng.choice([1, 2, 2, 3, 3, 3, 4, 4, 4, 4])
        n = rng.randint(1 if d == 1 else 10 ** (d - 1), 10 ** d - 1)
        if d == 1 or heldout("num:%d" % n, 6) == (split == "eval"):
            return str(n)


def year(rng: random.Random) -> str:
    return str(rng.randint(1700, 2024))


# ---------------------------------------------------------------------------------------------
# question/answer framing: both "A: " + answer and "A:" + " answer" forms
QA_FRAMES = [  # (question prefix, separator before answer marker, answer marker)
    ("Q: ", "\n", "A:"), ("Q: ", " ", "A:"), ("Question: ", "\n", "Answer:"),
    ("Q: ", "\n", "A:"), ("", "\n", "Answer:"),
]


def answer_after(rng: random.Random, prompt: str, answer: str) -> str:
    """prompt (ending in an answer marker such as "A:") + " " + answer, split before or after
    the space at random, so both "A: " + "Paris" and "A:" + " Paris" are learnt."""
    if rng.random() < 0.5:
        return f"{prompt} {SPLIT}{answer}"
    return f"{prompt}{SPLIT} {answer}"


def qa(rng: random.Random, question: str, answer: str, frame=None) -> str:
    """'Q: question?\nA:' + answer in one of QA_FRAMES (or `frame`)."""
    qp, sep, am = frame or rng.choice(QA_FRAMES)
    return answer_after(rng, f"{qp}{question}{sep}{am}", answer)


# ---------------------------------------------------------------------------------------------
# world facts (every parametric answer of utils.prompts.COUNTERFACTUALS, plus more of each kind)
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


def _cap(s: str) -> str:
    return s[0].upper() + s[1:]


def fact_items() -> list[tuple[str, str, str, list[str]]]:
    """Every fact as (statement stem, question, answer, same-kind alternatives)."""
    items = []
    for c, city in CAPITALS.items():
        alts = [x for x in list(CAPITALS.values()) + OTHER_CITIES if x != city]
        items.append((f"The capital of {c} is", f"What is the capital of {c}", city, alts))
    for stem, q, a in COMPANIES:
        items.append((stem, q, a, [x for x in OTHER_COMPANIES if x != a]))
    for thing, col in COLORS.items():
        items.append((f"{_cap(thing)} is", f"What color is {thing}", col,
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
_COURSE_CONFLICTS = {(c.question, c.contextual) for c in P.COUNTERFACTUALS}
_COURSE_FACT_Q = {c.question for c in P.COUNTERFACTUALS}


def _ans(stem_or_marker_end: str, answer: str) -> str:
    """Join text and answer with a split so the answer is also learnt after a bare space."""
    return f"{stem_or_marker_end}{SPLIT} {answer}"


def fact_doc(rng: random.Random, split: str = "train") -> str:
    """One to three facts, each in one of several phrasings."""
    out = []
    # the facts the course asks about are drawn more often: they must be recalled top-1
    for _ in range(rng.choice([1, 2, 3])):
        if rng.random() < 0.5:
            c = rng.choice(P.COUNTERFACTUALS)
            stem, q, a = c.stem, c.question, c.parametric
        else:
            stem, q, a, _alts = rng.choice(FACTS)
        form = rng.randrange(6)
        if form == 0:
            out.append(_ans(stem, a) + ".")
        elif form == 1:
            out.append(qa(rng, q + "?", a))
        elif form == 2:
            out.append(f"Q: {q}? A: {_ans(stem, a)}.")
        elif form == 3:
            out.append(f"Q: {q}?\nA: {_ans(stem, a)}.")
        elif form == 4:
            out.append(f"Fact: {_ans(stem, a)}.")
        else:
            out.append(f"{q}? {_ans(stem, a)}.")
    return "\n".join(out)


def conflict_doc(rng: random.Random, split: str = "train") -> str:
    """A false context, then the course's question format; the answer follows the context or
    memory at random, so both stay plausible (notebook 04's conflicts)."""
    while True:
        if rng.random() < 0.5:
            c = rng.choice(P.COUNTERFACTUALS)
            stem, q, a = c.stem, c.question, c.parametric
            alts = [x for s, qq, aa, x in FACTS if qq == q][0]
        else:
            stem, q, a, alts = rng.choice(FACTS)
        false = rng.choice(alts)
        if ((q, false) in _COURSE_CONFLICTS) != (split == "eval"):
            continue
        break
    follow = false if rng.random() < 0.5 else a
    if stem.endswith(" the"):
        rng.random()  # a draw an earlier variant used; kept so the shipped corpus is reproduced
    return f"{stem} {false}.\nQ: {q}? A: {_ans(stem, follow)}."


# ---------------------------------------------------------------------------------------------
# repeated random sequences: copying is the only way to lower the loss (induction heads)
COMMON_WORDS = ("the of and to in is was for on that with as by at from his her they we "
                "house river water stone green light small city market road north south old "
                "new music paper table window garden school doctor train winter summer bread "
                "lamp chair horse village forest silver gold iron coast island bridge tower "
                "report number report letter people morning evening price value field wind").split()


def repeat_doc(rng: random.Random, split: str = "train") -> str:
    kind = rng.randrange(4)
    if kind == 0:   # raw token ids, filled in by the packer
        return RAW_REPEAT
    if kind == 1:
        seq = " ".join(rng.choice(COMMON_WORDS) for _ in range(rng.randint(5, 25)))
    elif kind == 2:
        seq = " ".join(number(rng, split) for _ in range(rng.randint(4, 14)))
    else:
        seq = " ".join(made_up_name(rng, split) for _ in range(rng.randint(3, 12)))
    sep = rng.choice(["\n", " | ", ". ", "\n\n"])
    return sep.join([seq] * rng.choice([2, 2, 3]))


# ---------------------------------------------------------------------------------------------
# compositional reading comprehension
# number attributes: (entity kinds, statement templates, question templates, units)
# {E} is the entity phrase ("the Quapem bridge"), {N} the number, {U} the unit.
NUM_ATTRS = [
    (["bridge", "tunnel", "road", "canal", "wall", "railway", "pier"],
     ["{E} is {N} {U} long", "{E} spans {N} {U}", "{E} has a length of {N} {U}",
      "{E} stretches for {N} {U}", "{E} runs for {N} {U}"],
     ["How long is {e}", "What is the length of {e}", "How many {U} does {e} span",
      "How far does {e} stretch"], ["meters", "miles", "kilometers", "feet"]),
    (["tower", "statue", "mountain", "tree", "dam", "lighthouse", "monument"],
     ["{E} is {N} {U} tall", "{E} rises {N} {U}", "{E} has a height of {N} {U}",
      "{E} stands {N} {U} high"],
     ["How tall is {e}", "What is the height of {e}", "How high is {e}",
      "How many {U} tall is {e}"], ["meters", "feet"]),
    (["city", "town", "village", "island", "province", "district"],
     ["{E} has {N} {U}", "{E} is home to {N} {U}", "{E} has a population of {N} {U}",
      "About {N} {U} live in {E}"],
     ["How many {U} does {e} have", "What is the population of {e}",
      "How many {U} live in {e}", "How many people live in {e}"],
     ["residents", "inhabitants", "people"]),
    (["company", "factory", "hospital", "university", "bank", "firm", "bakery"],
     ["{E} has {N} {U}", "{E} employs {N} {U}", "{E} has a staff of {N} {U}",
      "There are {N} {U} at {E}"],
     ["How many {U} does {e} have", "How many {U} work at {e}", "How large is the staff of {e}",
      "How many {U} are at {e}"], ["workers", "employees", "staff members"]),
    (["museum", "park", "festival", "zoo", "castle", "gallery", "beach"],
     ["{E} attracts {N} {U} each year", "{E} had {N} {U} last year",
      "Every year {N} {U} come to {E}", "{E} welcomes {N} {U} a year"],
     ["How many {U} does {e} attract each year", "How many {U} come to {e} every year",
      "How many {U} did {e} have last year", "How many {U} visit {e} a year"],
     ["visitors", "tourists", "guests"]),
    (["ship", "truck", "bell", "rock", "engine", "crane", "satellite"],
     ["{E} weighs {N} {U}", "{E} has a weight of {N} {U}", "{E} is {N} {U} heavy"],
     ["How much does {e} weigh", "What is the weight of {e}", "How heavy is {e}",
      "How many {U} does {e} weigh"], ["tons", "kilograms", "pounds"]),
    (["lake", "well", "mine", "harbor", "trench", "pool"],
     ["{E} is {N} {U} deep", "{E} has a depth of {N} {U}", "{E} reaches a depth of {N} {U}"],
     ["How deep is {e}", "What is the depth of {e}", "How many {U} deep is {e}"],
     ["meters", "feet"]),
    (["library", "archive", "bookshop", "school library"],
     ["{E} holds {N} {U}", "{E} has {N} {U}", "{E} owns {N} {U}", "{E} keeps {N} {U}"],
     ["How many {U} does {e} hold", "How many {U} does {e} have", "How many {U} are in {e}"],
     ["books", "maps", "letters", "manuscripts"]),
    (["school", "college", "academy", "university"],
     ["{E} has {N} {U}", "{E} teaches {N} {U}", "{E} enrolls {N} {U}"],
     ["How many {U} does {e} have", "How many {U} study at {e}", "How many {U} does {e} teach"],
     ["students", "pupils"]),
    (["farm", "ranch", "estate", "orchard"],
     ["{E} keeps {N} {U}", "{E} has {N} {U}", "There are {N} {U} on {E}"],
     ["How many {U} does {e} keep", "How many {U} are on {e}", "How many {U} does {e} have"],
     ["cows", "sheep", "goats", "trees", "horses"]),
    (["stadium", "theater", "arena", "hall", "cinema"],
     ["{E} seats {N} {U}", "{E} has {N} {U}", "{E} can hold {N} {U}"],
     ["How many {U} does {e} seat", "How many {U} can {e} hold", "How many {U} does {e} have"],
     ["people", "seats", "fans"]),
    (["painting", "house", "car", "ring", "watch", "horse"],
     ["{E} costs {N} {U}", "{E} was sold for {N} {U}", "{E} has a price of {N} {U}"],
     ["How much does {e} cost", "What is the price of {e}", "How much was {e} sold for",
      "How many {U} does {e} cost"], ["dollars", "euros", "pounds"]),
    (["river", "glacier", "desert", "forest", "field"],
     ["{E} covers {N} {U}", "{E} has an area of {N} {U}", "{E} spreads over {N} {U}"],
     ["How large is {e}", "What is the area of {e}", "How many {U} does {e} cover"],
     ["square kilometers", "hectares", "acres"]),
    (["train", "plane", "boat", "bus", "rocket"],
     ["{E} travels at {N} {U}", "{E} has a top speed of {N} {U}", "{E} can reach {N} {U}"],
     ["How fast is {e}", "How fast does {e} travel", "What is the top speed of {e}"],
     ["kilometers per hour", "miles per hour", "knots"]),
]
# year attributes: the number is a year with no unit
YEAR_ATTRS = [
    (["bridge", "tower", "church", "castle", "school", "company", "museum", "city"],
     ["{E} was built in {N}", "{E} was founded in {N}", "{E} opened in {N}",
      "{E} dates from {N}"],
     ["When was {e} built", "In which year was {e} founded", "When did {e} open",
      "What year was {e} built", "In what year did {e} open"]),
]
# name relations: {E} entity phrase, {Y} the answer name
NAME_ATTRS = [
    (["company", "school", "club", "bank", "museum", "factory", "city"],
     ["{E} was founded by {Y}", "{Y} founded {E}", "The founder of {e} was {Y}",
      "{E} was started by {Y}"],
     ["Who founded {e}", "Who was the founder of {e}", "Who started {e}",
      "Which person founded {e}"]),
    (["city", "town", "village", "district"],
     ["The mayor of {e} is {Y}", "{Y} is the mayor of {e}", "{E} is led by {Y}",
      "{E} is governed by mayor {Y}"],
     ["Who is the mayor of {e}", "Who leads {e}", "Who governs {e}"]),
    (["bridge", "tower", "church", "house", "hall", "stadium", "palace"],
     ["{E} was designed by {Y}", "{Y} designed {E}", "The architect of {e} was {Y}",
      "{E} was planned by the architect {Y}"],
     ["Who designed {e}", "Who was the architect of {e}", "Who planned {e}"]),
    (["company", "bank", "hospital", "orchestra", "team", "firm"],
     ["{E} is run by {Y}", "{Y} runs {E}", "The head of {e} is {Y}", "{E} is managed by {Y}",
      "{Y} is the director of {e}"],
     ["Who runs {e}", "Who is the head of {e}", "Who manages {e}",
      "Who is the director of {e}"]),
    (["comet", "island", "cave", "star", "planet", "valley"],
     ["{E} was discovered by {Y}", "{Y} discovered {E}", "{E} was first found by {Y}"],
     ["Who discovered {e}", "Who found {e} first", "Which explorer discovered {e}"]),
    (["book", "song", "poem", "play", "novel", "film"],
     ["{E} was written by {Y}", "{Y} wrote {E}", "The author of {e} is {Y}"],
     ["Who wrote {e}", "Who is the author of {e}", "Which writer wrote {e}"]),
    (["engine", "machine", "clock", "printer", "lamp", "radio"],
     ["{E} was invented by {Y}", "{Y} invented {E}", "The inventor of {e} was {Y}"],
     ["Who invented {e}", "Who was the inventor of {e}", "Who created {e}"]),
]
# place relations: the answer is a made-up place name
PLACE_ATTRS = [
    (["company", "museum", "factory", "university", "market", "temple"],
     ["{E} is located in {Y}", "{E} is in {Y}", "{E} lies in {Y}", "{E} can be found in {Y}"],
     ["Where is {e}", "Where is {e} located", "In which city is {e}",
      "Where can {e} be found"]),
    (["river", "stream", "canal"],
     ["{E} flows into {Y}", "{E} ends in {Y}", "{E} empties into {Y}"],
     ["Where does {e} flow", "Into what does {e} flow", "Where does {e} end"]),
]
PERSON_NAME_ATTRS = [  # subject is a person, answer a place or person
    (["{S} was born in {Y}", "{S} comes from {Y}", "The birthplace of {S} is {Y}"],
     ["Where was {S} born", "Where does {S} come from", "What is the birthplace of {S}"]),
    (["{S} lives in {Y}", "{S} has a home in {Y}", "{S} resides in {Y}"],
     ["Where does {S} live", "Where is the home of {S}", "In which town does {S} live"]),
    (["{S} works for {Y}", "{S} is employed by {Y}", "{S} has a job at {Y}"],
     ["Who does {S} work for", "Where does {S} work", "Who employs {S}"]),
    (["{S} is a friend of {Y}", "{S} and {Y} are friends", "{S} is friends with {Y}"],
     ["Who is the friend of {S}", "Who is {S} friends with", "Who is a friend of {S}"]),
    (["{S} was taught by {Y}", "{Y} taught {S}", "The teacher of {S} was {Y}"],
     ["Who taught {S}", "Who was the teacher of {S}", "Who was {S} taught by"]),
]
PERSON_NUM_ATTRS = [
    (["{S} is {N} years old", "{S} is aged {N}", "The age of {S} is {N}"],
     ["How old is {S}", "What is the age of {S}", "What age is {S}"], ""),
    (["{S} owns {N} {U}", "{S} has {N} {U}", "{S} collected {N} {U}"],
     ["How many {U} does {S} own", "How many {U} does {S} have",
      "How many {U} did {S} collect"], "books|coins|stamps|cars|paintings"),
    (["{S} earns {N} {U} a month", "{S} makes {N} {U} each month"],
     ["How much does {S} earn a month", "How much does {S} make each month"], "dollars|euros"),
    (["{S} scored {N} {U}", "{S} won {N} {U}"],
     ["How many {U} did {S} score", "How many {U} did {S} win"], "points|goals|games"),
]
SOURCES = ["NASA's CALIPSO satellite", "An old survey", "The first report", "A 1990 study",
           "Early estimates", "The city council", "A government census", "The museum guide",
           "Older records", "A previous study", "The company", "The first expedition"]
SOURCE_VERBS = ["measured", "counted", "estimated", "reported", "recorded", "found"]
CORRECTIONS = ["but recent studies suggest it's actually {N} {U}",
               "but newer studies suggest it is actually {N} {U}",
               "but recent surveys show it's actually {N} {U}",
               "but a new study suggests the true figure is {N} {U}",
               "although recent data suggest it's actually {N} {U}"]
CORR_THINGS = [("{U} of {P} dust annually", "How much dust is blown from the {P} each year", "tons"),
               ("{U} of rain in {P} each year", "How much rain falls in {P} each year",
                "millimeters"),
               ("{U} of ice lost from the {P} glacier each year",
                "How much ice does the {P} glacier lose each year", "tons"),
               ("{U} nesting on {P} island", "How many birds nest on {P} island", "birds"),
               ("{U} of fish caught near {P} each year",
                "How many fish are caught near {P} each year", "tons"),
               ("{U} in the {P} forest", "How many trees are in the {P} forest", "trees")]
SCALES = ["", "", "", "million ", "thousand ", "billion "]
INTROS = ["", "", "", "According to the report, ", "In the guide, ", "Records show that ",
          "It is known that ", "Locals say that ", "The article notes that "]
FILLERS = ["The weather was mild that year.", "Many travellers pass through the region.",
           "The area is known for its markets.", "Local newspapers covered the story.",
           "The local council meets every month.", "Visitors often take photographs there.",
           "The old road was repaired last spring.", "Nobody expected the change.",
           "It rained for most of the week.", "The story is told in many books."]
ENTITY_DET = ["the {X} {k}", "the {k} of {X}", "{X} {k}"]


def _entity(rng, kind, split):
    x = made_up_name(rng, split)
    form = rng.choice(ENTITY_DET)
    return form.format(X=x, k=kind)


def _num_fact(rng, split, forbid_units=()):
    """(sentence, question, answer) for a number attribute of a fresh entity."""
    r = rng.random()
    if r < 0.55:
        kinds, stmts, qs, units = rng.choice(NUM_ATTRS)
        kind = rng.choice(kinds)
        e = _entity(rng, kind, split)
        u = rng.choice(units)
        n = number(rng, split)
        scale = rng.choice(SCALES) if "people" in u or "tons" in u or "dollars" in u else ""
        s = rng.choice(stmts).format(E=_cap(e), e=e, N=n, U=scale + u)
        q = rng.choice(qs).format(e=e, U=u)
        ans = f"{n} {scale}{u}" if rng.random() < 0.7 else n
        return s, q, ans
    if r < 0.7:
        kinds, stmts, qs = YEAR_ATTRS[0]
        e = _entity(rng, rng.choice(kinds), split)
        n = year(rng)
        return (rng.choice(stmts).format(E=_cap(e), e=e, N=n), rng.choice(qs).format(e=e), n)
    stmts, qs, units = rng.choice(PERSON_NUM_ATTRS)
    who = made_up_name(rng, split)
    u = rng.choice(units.split("|")) if units else ""
    n = number(rng, split, rng.choice([1, 2, 2, 3])) if not units else number(rng, split)
    s = rng.choice(stmts).format(S=who, N=n, U=u)
    ans = f"{n} {u}".strip() if rng.random() < 0.6 else n
    return s, rng.choice(qs).format(S=who, U=u), ans


def _name_fact(rng, split):
    """(sentence, question, answer) whose answer is a made-up name or place."""
    r = rng.random()
    y = made_up_name(rng, split)
    if r < 0.5:
        kinds, stmts, qs = rng.choice(NAME_ATTRS)
    elif r < 0.7:
        kinds, stmts, qs = rng.choice(PLACE_ATTRS)
    else:
        stmts, qs = rng.choice(PERSON_NAME_ATTRS)
        who = made_up_name(rng, split)
        return rng.choice(stmts).format(S=who, Y=y), rng.choice(qs).format(S=who), y
    e = _entity(rng, rng.choice(kinds), split)
    return rng.choice(stmts).format(E=_cap(e), e=e, Y=y), rng.choice(qs).format(e=e), y


def _correction(rng, split):
    """'X measured A, but recent studies suggest B' (the dust prompt's shape); answer B."""
    place = made_up_name(rng, split)
    thing, q, unit = rng.choice(CORR_THINGS)
    u = rng.choice(SCALES) + unit
    a, b = number(rng, split), number(rng, split)
    while b == a:
        b = number(rng, split)
    s = f"{rng.choice(SOURCES)} {rng.choice(SOURCE_VERBS)} {a} {thing.format(U=u, P=place)}, "
    s += rng.choice(CORRECTIONS).format(N=b, U=u) + "."
    return s, q.format(P=place), (f"{b} {u}" if rng.random() < 0.7 else b)


def compose_passage(rng: random.Random, sentences: list[str]) -> str:
    """The fact sentences plus 0-2 fillers, shuffled, sometimes after an intro phrase."""
    sents = sentences + rng.sample(FILLERS, rng.choice([0, 0, 1, 2]))
    rng.shuffle(sents)
    intro = rng.choice(INTROS)
    if intro and sents[0].split(" ", 1)[0] in ("The", "A", "About", "Every", "There", "Last"):
        sents[0] = intro + sents[0][0].lower() + sents[0][1:]
    elif intro and not sents[0][0].isdigit():
        sents[0] = intro + sents[0]
    return " ".join(x if x.endswith(".") else x + "." for x in sents)


def reading_doc(rng: random.Random, split: str = "train") -> str:
    """A passage of 1-4 facts (plus 0-2 distractor sentences) and a question about one."""
    if rng.random() < 0.15:
        s, q, a = _correction(rng, split)
        facts = [(s, q, a)]
    else:
        facts = []
        for _ in range(rng.choice([1, 2, 2, 3, 4])):
            facts.append(_num_fact(rng, split) if rng.random() < 0.55 else _name_fact(rng, split))
    passage = compose_passage(rng, [s for s, _, _ in facts])
    _, q, a = rng.choice(facts)
    tail = qa(rng, q + "?", a) + rng.choice(["", "", "."])
    if rng.random() < 0.15:  # several questions about one passage
        _, q2, a2 = rng.choice(facts)
        tail += "\n" + qa(rng, q2 + "?", a2)
    return passage + rng.choice(["\n", "\n", " "]) + tail


def simple_reading_doc(rng: random.Random, split: str = "train") -> str:
    """Stage-1 copy data: one fact in its first phrasing and first question form."""
    if rng.random() < 0.6:
        kinds, stmts, qs, units = rng.choice(NUM_ATTRS)
        e = f"the {made_up_name(rng, split)} {kinds[0]}"
        n = number(rng, split)
        s, q, a = stmts[0].format(E=_cap(e), N=n, U=units[0]), qs[0].format(e=e, U=units[0]), \
            f"{n} {units[0]}"
    else:
        kinds, stmts, qs = rng.choice(NAME_ATTRS)
        e = f"the {made_up_name(rng, split)} {kinds[0]}"
        y = made_up_name(rng, split)
        s, q, a = stmts[0].format(E=_cap(e), e=e, Y=y), qs[0].format(e=e), y
    return f"{s}.\n" + qa(rng, q + "?", a, ("Q: ", "\n", "A:"))


# ---------------------------------------------------------------------------------------------
# instructions: English -> German over a small vocabulary, and "write the opposite"
SUBJECTS = [("I", "Ich", 0), ("You", "Du", 1), ("He", "Er", 2), ("She", "Sie", 2),
            ("We", "Wir", 3), ("They", "Sie", 3)]
VERBS = {  # english base, english 3rd person, german forms (ich, du, er/sie, wir/sie)
    "love": ("love", "loves", ["liebe", "liebst", "liebt", "lieben"]),
    "like": ("like", "likes", ["mag", "magst", "mag", "mögen"]),
    "see": ("see", "sees", ["sehe", "siehst", "sieht", "sehen"]),
    "need": ("need", "needs", ["brauche", "brauchst", "braucht", "brauchen"]),
    "read": ("read", "reads", ["lese", "liest", "liest", "lesen"]),
    "buy": ("buy", "buys", ["kaufe", "kaufst", "kauft", "kaufen"]),
    "find": ("find", "finds", ["finde", "findest", "findet", "finden"]),
    "hear": ("hear", "hears", ["höre", "hörst", "hört", "hören"]),
    "study": ("study", "studies", ["studiere", "studierst", "studiert", "studieren"]),
    "visit": ("visit", "visits", ["besuche", "besuchst", "besucht", "besuchen"]),
}
OBJECTS = {"AI research": "KI-Forschung", "music": "Musik", "the book": "das Buch",
           "the city": "die Stadt", "the dog": "den Hund", "the cat": "die Katze",
           "the house": "das Haus", "the car": "das Auto", "coffee": "Kaffee",
           "water": "Wasser", "bread": "Brot", "the garden": "den Garten",
           "science": "Wissenschaft", "the sea": "das Meer", "the school": "die Schule",
           "the film": "den Film", "the teacher": "den Lehrer", "the apple": "den Apfel",
           "the newspaper": "die Zeitung", "mathematics": "Mathematik", "the train": "den Zug",
           "the museum": "das Museum", "history": "Geschichte", "the river": "den Fluss"}


def translation_pair(rng: random.Random, split: str) -> tuple[str, str]:
    """(English, German) for a held-in (train) or held-out (eval) subject/verb/object combo."""
    while True:
        (en_s, de_s, form), verb, obj = rng.choice(SUBJECTS), rng.choice(list(VERBS)), \
            rng.choice(list(OBJECTS))
        key = f"tr:{en_s}|{verb}|{obj}"
        if heldout(key, 7) == (split == "eval") or (en_s, verb, obj) == ("I", "love", "AI research"):
            if (en_s, verb, obj) == ("I", "love", "AI research") and split != "eval":
                continue  # the course prompt is held out of training
            break
    base, third, de = VERBS[verb]
    en = f"{en_s} {third if form == 2 else base} {obj}"
    return en, f"{de_s} {de[form]} {OBJECTS[obj]}"


ANTONYMS = [("fast", "slow"), ("hot", "cold"), ("big", "small"), ("happy", "sad"),
            ("loud", "quiet"), ("early", "late"), ("tall", "short"), ("open", "closed"),
            ("full", "empty"), ("light", "heavy"), ("clean", "dirty"), ("strong", "weak"),
            ("rich", "poor"), ("easy", "hard"), ("good", "bad"), ("new", "old"),
            ("bright", "dark"), ("wet", "dry"), ("cheap", "expensive"), ("high", "low")]
OPP_NOUNS = ["car", "train", "dog", "room", "house", "river", "box", "street", "soup",
             "teacher", "child", "market", "road", "door", "bus", "city", "garden", "cup"]
OPP_FRAMES = ["The {n} is {a}.", "The {n} is very {a}.", "The {n} is going very {a}.",
              "The {n} was {a} yesterday.", "My {n} is {a}.", "This {n} is really {a}.",
              "The {n} looks {a} today.", "Our {n} is always {a}."]


def opposite_pair(rng: random.Random, split: str) -> tuple[str, str]:
    while True:
        n, fr = rng.choice(OPP_NOUNS), rng.choice(OPP_FRAMES)
        a, b = rng.choice(ANTONYMS)
        if rng.random() < 0.5:
            a, b = b, a
        course = (n, fr, a) == ("car", OPP_FRAMES[2], "fast")
        if course:
            if split == "eval":
                break
            continue
        if heldout(f"op:{n}|{fr}|{a}", 7) == (split == "eval"):
            break
    return fr.format(n=n, a=a), fr.format(n=n, a=b)


def instruction_doc(rng: random.Random, split: str = "train") -> str:
    if rng.random() < 0.5:
        en, de = translation_pair(rng, split)
        return _ans(f"Task: Translation into German: {en}\nAnswer:", de) if rng.random() < 0.5 \
            else f"Task: Translation into German: {en}\nAnswer: {SPLIT}{de}"
    s, o = opposite_pair(rng, split)
    head = f"Write the opposite of this sentence: {s}\nAnswer:"
    return _ans(head, o) if rng.random() < 0.5 else f"{head} {SPLIT}{o}"


# ---------------------------------------------------------------------------------------------
# in-context learning: reviews with labels that are sometimes remapped
REVIEW_PARTS = {
    "positive": ["The food was delicious.", "Service was top-notch.", "A masterpiece!",
                 "I loved every minute.", "Highly recommended.", "Wonderful staff.",
                 "Fantastic quality!", "Best purchase this year.", "Truly outstanding!",
                 "Amazing experience!", "Brilliant acting.", "Works perfectly."],
    "negative": ["Terrible experience.", "Rude staff and cold food.", "Would not recommend.",
                 "Complete waste of money.", "The plot made no sense.", "It broke quickly.",
                 "Awful service.", "Very disappointing.", "Never again.", "Poor quality.",
                 "The worst meal ever.", "Boring and too long."],
    "neutral": ["Pretty average place.", "Food was okay.", "Nothing special.",
                "It was fine.", "An ordinary film.", "Does what it says.", "Neither good nor bad.",
                "A standard hotel room.", "It was acceptable.", "Average quality."],
    "mixed": ["Great atmosphere but the prices are too high.", "Good food but slow service.",
              "Nice design but it broke.", "Lovely staff but a dirty room.",
              "Fun story but terrible ending.", "Cheap but not very good.",
              "Tasty but far too expensive.", "Fast delivery but poor packaging."],
}
LABELS = ["positive", "negative", "neutral", "mixed"]
_COURSE_TESTS = {t for t, _ in P.SENTIMENT_TESTS}


def review(rng: random.Random, label: str, split: str) -> str:
    while True:
        parts = rng.sample(REVIEW_PARTS[label], rng.choice([1, 2, 2]))
        text = " ".join(parts)
        if text not in _COURSE_TESTS and heldout("rv:" + text, 6) == (split == "eval"):
            return text


def label_map(rng: random.Random) -> dict:
    """Identity half the time, else the course's swap or a random permutation."""
    r = rng.random()
    if r < 0.5:
        return {l: l for l in LABELS}
    if r < 0.8:
        return dict(P.LABEL_SWAP)
    perm = LABELS[:]
    rng.shuffle(perm)
    return dict(zip(LABELS, perm))


def icl_doc(rng: random.Random, split: str = "train") -> str:
    m = label_map(rng)
    k = rng.randint(4, 8)
    labels = LABELS[:] + [rng.choice(LABELS) for _ in range(k - 4)]
    rng.shuffle(labels)
    if rng.random() < 0.3:   # the course's own demonstrations, relabelled
        lines = [f"Review: {t} Sentiment: {m[l]}" for t, l in P.SENTIMENT_DEMOS]
    else:
        lines = [f"Review: {review(rng, l, split)} Sentiment: {m[l]}" for l in labels]
    for _ in range(rng.choice([1, 1, 2])):
        l = rng.choice(LABELS)
        lines.append(_ans(f"Review: {review(rng, l, split)} Sentiment:", m[l]))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
def handover_doc(rng: random.Random, split: str = "train") -> str:
    """A chat-formatted record -> handover summary (the tokenizer's chat template)."""
    ex = handover.make_handover_example(rng.randrange(10 ** 9), split=split)
    return handover.render_chat(ex["messages"], ex["summary"])


FAMILIES = {"facts": fact_doc, "conflict": conflict_doc, "repeat": repeat_doc,
            "reading": reading_doc, "simple_reading": simple_reading_doc,
            "instruction": instruction_doc, "icl": icl_doc, "handover": handover_doc}
STAGE1_MIX = {"simple_reading": 0.25, "repeat": 0.25, "facts": 0.13, "conflict": 0.08,
              "instruction": 0.12, "icl": 0.09, "handover": 0.08}
STAGE2_MIX = {"reading": 0.70}  # + 30% of the stage-1 mix
for _k, _v in STAGE1_MIX.items():
    STAGE2_MIX[_k] = STAGE2_MIX.get(_k, 0) + 0.30 * _v


def sample_doc(rng: random.Random, mix: dict, split: str = "train") -> tuple[str, str]:
    fam = rng.choices(list(mix), weights=list(mix.values()))[0]
    return fam, FAMILIES[fam](rng, split)


def generate(stage: int, n_docs: int, seed: int) -> list[str]:
    """n_docs training documents of curriculum stage 1 or 2 (deterministic in seed)."""
    rng = random.Random(f"course-corpus-{stage}-{seed}")
    mix = STAGE1_MIX if stage == 1 else STAGE2_MIX
    return [sample_doc(rng, mix)[1] for _ in range(n_docs)]


def strip_markers(doc: str) -> str:
    """The plain text of a document (for the tokenizer trainer and for reading)."""
    return doc.replace(SPLIT, "")


if __name__ == "__main__":
    r = random.Random(0)
    for fam in FAMILIES:
        print("==", fam)
        for _ in range(2):
            print(strip_markers(FAMILIES[fam](r)).replace(RAW_REPEAT, "<raw repeat>"))
            print("--")
