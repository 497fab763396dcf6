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


# Lists and durations drew on ~20 nouns and 8 verbs in stage 3: the model learnt to look
# those words up, and for an unknown key fell back on the last number. Here keys come from a
# wide vocabulary (and some are made-up words), so the only rule that works is "find the
# question's word in the passage and copy its number".
COUNT_NOUNS = (S3.LIST_NOUNS + """ships trains benches doors tables nurses guards lorries
    stalls pumps tents huts sheds carts wagons cabins kilns looms anvils ladders barrels
    sacks baskets bottles jars kettles lanterns mirrors pillows blankets rugs clocks drums
    flutes violins pianos stoves sinks taps towers bridges tunnels roads paths fences ponds
    fields gardens orchards vineyards hives goats pigs ducks geese hens mules donkeys oxen
    camels dogs cats rabbits owls doctors cooks clerks drivers farmers miners sailors
    soldiers painters singers dancers players judges monks priests pilots bakers tailors
    printers engines mills kites sails oars nets ropes
    flags maps coins stamps medals cups plates forks spoons knives pots pans brooms""".split())
# the evaluation's list uses cranes, boats and piers of a harbour: not here
assert not {"cranes", "boats", "piers", "harbour"} & set(COUNT_NOUNS)
LIST_PLACES = S3.LIST_PLACES + """port station village airport garden castle factory library
    mine quarry abbey fort workshop mill yard ranch bakery laboratory prison temple chapel
    theatre museum zoo stadium shipyard dairy brewery clinic hostel manor""".split()
LIST_TITLES = S3.LIST_TITLES + ["{X} {p}", "Facts about the {X} {p}", "{X} {p}: key numbers",
                                "{X} {p} at a glance", "Counts for {X} {p}", "{X} {p} today",
                                "Survey of the {X} {p}", "{X} {p} (yearly count)"]
LIST_LINES = S3.LIST_LINES + ["{k}: {v}.", "{k} ... {v}", "- {k} {v}", "{k} | {v}"]
LIST_Q = S3.LIST_Q + ["How many {k} does {X} {p} have", "How many {k} has {X} {p} got",
                      "How many {k} are there at {X} {p}", "What number of {k} does {X} {p} have",
                      "How many {k} were counted at the {X} {p}", "How many {k} are at {X} {p}"]


def _list_key(rng, split):
    """A count noun, or (1 in 5) a made-up one: "zorbats"."""
    if rng.random() < 0.2:
        return S3._name(rng, split).lower() + "s"
    return rng.choice(COUNT_NOUNS)


def _list_doc(rng, split):
    keys = set()
    while len(keys) < 5:
        keys.add(_list_key(rng, split))
    return S3._list_doc(rng, split, sorted(keys), LIST_PLACES, LIST_TITLES, LIST_LINES, LIST_Q)


DONE_FOR = [  # (past, base, -ing): no dig or fill (the evaluation's canal)
    (v.split("/")[0], v.split("/")[1], v.split("/")[2]) for v in """walked/walk/walking
    rested/rest/resting waited/wait/waiting worked/work/working slept/sleep/sleeping
    danced/dance/dancing talked/talk/talking trained/train/training painted/paint/painting
    cleaned/clean/cleaning cooked/cook/cooking baked/bake/baking sailed/sail/sailing
    rowed/row/rowing cycled/cycle/cycling climbed/climb/climbing swam/swim/swimming
    drove/drive/driving studied/study/studying read/read/reading wrote/write/writing
    sang/sing/singing played/play/playing fished/fish/fishing knitted/knit/knitting
    sewed/sew/sewing ran/run/running hiked/hike/hiking skated/skate/skating
    repaired/repair/repairing planted/plant/planting washed/wash/washing
    practised/practise/practising rode/ride/riding built/build/building""".split()]
JOBS = ["paint", "clean", "repair", "build", "wash", "inspect", "plan", "decorate", "measure",
        "sweep", "polish", "design", "rebuild", "guard"]   # done to a thing; no dig or fill
THINGS_DONE = ["wall", "boat", "shed", "road", "fence", "roof", "garden", "bridge", "path",
               "barn", "house", "tower"]
DONE_FOR_LAYOUTS = ["{S} {a} for {n} {U} and {b} for {m} {U}.",
                    "First {S} {a} for {n} {U}, then {S} {b} for {m} {U}.",
                    "{S} {a} for {n} {U}; afterwards {S} {b} for {m} {U}.",
                    "{S} spent {n} {U} {ag} and {m} {U} {bg}.",
                    "On Monday {S} spent {n} {U} {ag}; on Tuesday, {m} {U} {bg}."]
DONE_FOR_Q = ["How many {U} did {S} {v}", "For how many {U} did {S} {v}", "How long did {S} {v}",
              "How many {U} did {S} spend {g}"]
NEEDED_LAYOUTS = ["The {W} needed {n} {U} to {a} the {X} {t} and {m} {U} to {b} it.",
                  "The {W} used {n} {U} to {a} the {X} {t}, then {m} {U} to {b} it."]
NEEDED_Q = ["How many {U} did the {W} need to {v} the {X} {t}",
            "How many {U} were needed to {v} the {X} {t}",
            "How many {U} did the {W} use to {v} the {X} {t}"]


def _done_for_doc(rng, split):
    """Two durations of one unit; only the question's verb tells which is asked."""
    (a, a_base, a_ing), (b, b_base, b_ing) = rng.sample(DONE_FOR, 2)
    s, u = S3._name(rng, split), rng.choice(["minutes", "hours", "days", "weeks"])
    n, m = (C.number(rng, split, rng.choice([1, 2, 3])) for _ in range(2))
    ask_a = rng.random() < 0.5
    if rng.random() < 0.25:   # "needed n days to paint the X wall and m days to clean it"
        a_base, b_base = rng.sample(JOBS, 2)
        t, w = rng.choice(THINGS_DONE), rng.choice(["crew", "builders", "workers", "team"])
        text = rng.choice(NEEDED_LAYOUTS).format(a=a_base, b=b_base, n=n, m=m, U=u, X=s, t=t, W=w)
        q = rng.choice(NEEDED_Q).format(U=u, X=s, t=t, W=w, v=a_base if ask_a else b_base)
    else:
        text = rng.choice(DONE_FOR_LAYOUTS).format(S=s, a=a, b=b, ag=a_ing, bg=b_ing, n=n, m=m,
                                                   U=u)
        q = rng.choice(DONE_FOR_Q).format(U=u, S=s, v=a_base if ask_a else b_base,
                                          g=a_ing if ask_a else b_ing)
    return text + "\n" + C.qa(rng, q + "?", n if ask_a else m)


def layout_doc(rng: random.Random, split: str = "train") -> str:
    """A list (35%), two durations told apart by verb (15%), several numbers of one kind (15%)
    or a question-first passage (35%)."""
    r = rng.random()
    if r < 0.35:
        return _list_doc(rng, split)
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
