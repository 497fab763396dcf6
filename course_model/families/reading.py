"""Reading comprehension: families "reading" and "simple_reading".

A passage states facts about made-up entities and people (numbers, years, names, places,
corrections of an earlier figure); the question asks for one, so the answer is copied from the
passage. Version 1 (stages 1-2) answers with numbers and names of attributes; version 2
(stage 3) asks about names more often, through relations between people and things;
version 3 (stage 4) adds names asked for through a noun, roles, named things and prizes.
"""
from __future__ import annotations

import random

from course_model.families import register
from course_model.families.text import cap, long_name, made_up_name, number, qa, year

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


def entity(rng, kind, split):
    x = made_up_name(rng, split)
    form = rng.choice(ENTITY_DET)
    return form.format(X=x, k=kind)


def num_fact(rng, split):
    """(sentence, question, answer) for a number attribute of a fresh entity."""
    r = rng.random()
    if r < 0.55:
        kinds, stmts, qs, units = rng.choice(NUM_ATTRS)
        kind = rng.choice(kinds)
        e = entity(rng, kind, split)
        u = rng.choice(units)
        n = number(rng, split)
        scale = rng.choice(SCALES) if "people" in u or "tons" in u or "dollars" in u else ""
        s = rng.choice(stmts).format(E=cap(e), e=e, N=n, U=scale + u)
        q = rng.choice(qs).format(e=e, U=u)
        ans = f"{n} {scale}{u}" if rng.random() < 0.7 else n
        return s, q, ans
    if r < 0.7:
        kinds, stmts, qs = YEAR_ATTRS[0]
        e = entity(rng, rng.choice(kinds), split)
        n = year(rng)
        return (rng.choice(stmts).format(E=cap(e), e=e, N=n), rng.choice(qs).format(e=e), n)
    stmts, qs, units = rng.choice(PERSON_NUM_ATTRS)
    who = made_up_name(rng, split)
    u = rng.choice(units.split("|")) if units else ""
    n = number(rng, split, rng.choice([1, 2, 2, 3])) if not units else number(rng, split)
    s = rng.choice(stmts).format(S=who, N=n, U=u)
    ans = f"{n} {u}".strip() if rng.random() < 0.6 else n
    return s, rng.choice(qs).format(S=who, U=u), ans


def attribute_name_fact(rng, split):
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
    e = entity(rng, rng.choice(kinds), split)
    return rng.choice(stmts).format(E=cap(e), e=e, Y=y), rng.choice(qs).format(e=e), y


def correction_fact(rng, split):
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


@register("reading", 1, heldout="names and numbers")
def reading_doc(rng: random.Random, split: str = "train") -> str:
    """A passage of 1-4 facts (plus 0-2 distractor sentences) and a question about one."""
    if rng.random() < 0.15:
        s, q, a = correction_fact(rng, split)
        facts = [(s, q, a)]
    else:
        facts = []
        for _ in range(rng.choice([1, 2, 2, 3, 4])):
            facts.append(num_fact(rng, split) if rng.random() < 0.55
                         else attribute_name_fact(rng, split))
    passage = compose_passage(rng, [s for s, _, _ in facts])
    _, q, a = rng.choice(facts)
    tail = qa(rng, q + "?", a) + rng.choice(["", "", "."])
    if rng.random() < 0.15:  # several questions about one passage
        _, q2, a2 = rng.choice(facts)
        tail += "\n" + qa(rng, q2 + "?", a2)
    return passage + rng.choice(["\n", "\n", " "]) + tail


@register("simple_reading", 1, heldout="names and numbers")
def simple_reading_doc(rng: random.Random, split: str = "train") -> str:
    """Stage-1 copy data: one fact in its first phrasing and first question form."""
    if rng.random() < 0.6:
        kinds, stmts, qs, units = rng.choice(NUM_ATTRS)
        e = f"the {made_up_name(rng, split)} {kinds[0]}"
        n = number(rng, split)
        s, q, a = stmts[0].format(E=cap(e), N=n, U=units[0]), qs[0].format(e=e, U=units[0]), \
            f"{n} {units[0]}"
    else:
        kinds, stmts, qs = rng.choice(NAME_ATTRS)
        e = f"the {made_up_name(rng, split)} {kinds[0]}"
        y = made_up_name(rng, split)
        s, q, a = stmts[0].format(E=cap(e), e=e, Y=y), qs[0].format(e=e), y
    return f"{s}.\n" + qa(rng, q + "?", a, ("Q: ", "\n", "A:"))


# relations between people, and between things and people (versions 2 and 3)
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


def _person_fact(rng, split, rels):
    stmts, qs = rng.choice(rels)
    s, y = long_name(rng, split), long_name(rng, split)
    while y == s:
        y = long_name(rng, split)
    return rng.choice(stmts).format(S=s, Y=y), rng.choice(qs).format(S=s), y


def _thing_fact(rng, split, rels):
    kinds, stmts, qs = rng.choice(rels)
    x = long_name(rng, split)
    e = rng.choice(ENTITY_DET).format(X=x, k=rng.choice(kinds))
    y = long_name(rng, split)
    return rng.choice(stmts).format(E=cap(e), e=e, Y=y), rng.choice(qs).format(e=e), y


def relation_name_fact(rng, split, people=PEOPLE_REL, things=THING_REL):
    """(statement, question, answer name): a relation between people (35%), a thing and a
    person (25%) or an attribute's name (`attribute_name_fact`)."""
    r = rng.random()
    if r < 0.35:
        return _person_fact(rng, split, people)
    if r < 0.6:
        return _thing_fact(rng, split, things)
    return attribute_name_fact(rng, split)


def passage_questions_doc(rng: random.Random, split: str, name_fact) -> str:
    """A passage of 1-4 facts (60% with a name answer, drawn by `name_fact`) and 0-2 fillers;
    one or two questions about them."""
    if rng.random() < 0.08:
        facts = [correction_fact(rng, split)]
    else:
        facts = [name_fact(rng, split) if rng.random() < 0.6 else num_fact(rng, split)
                 for _ in range(rng.choice([1, 2, 2, 3, 3, 4]))]
    passage = compose_passage(rng, [s for s, _, _ in facts])
    order = rng.sample(range(len(facts)), k=min(len(facts), rng.choice([1, 1, 2])))
    tail = "\n".join(qa(rng, facts[i][1] + "?", facts[i][2]) for i in order)
    return passage + rng.choice(["\n", "\n", " "]) + tail


@register("reading", 2, heldout="names and numbers")
def relation_reading_doc(rng: random.Random, split: str = "train") -> str:
    """A passage whose facts are mostly names from relations between people and things, and
    one or two questions about it."""
    return passage_questions_doc(rng, split, relation_name_fact)


# version 3: a role noun in front of the answer's name, asked about by role
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
WIDER_PEOPLE_REL = PEOPLE_REL + [
    (stmts, [q.replace("{r}", role) for q in _ROLE_QUESTIONS] + _ROLE_VERB_Q.get(role, []))
    for role, stmts in _ROLES]

NAMED_THINGS = ["shop", "boat", "inn", "band", "newspaper", "bakery", "farm", "house",
                "company", "café", "garage", "choir"]
_NAMED_STMTS = ["{S} runs a {k} called {Y}", "{S} owns a {k} named {Y}",
                "The {k} of {S} is called {Y}", "{S} has a {k}, and it is called {Y}",
                "{S} started a {k} and named it {Y}"]
_NAMED_QS = ["What is the name of the {k} of {S}", "What is the {k} of {S} called",
             "What did {S} name the {k}", "What is {S}'s {k} called", "Name the {k} of {S}"]


def named_thing_fact(rng, split):
    """A thing that carries a name ("S runs a shop called Y"), asked for by its name."""
    s, y, k = long_name(rng, split), long_name(rng, split), rng.choice(NAMED_THINGS)
    while y == s:
        y = long_name(rng, split)
    return (rng.choice(_NAMED_STMTS).format(S=s, Y=y, k=k),
            rng.choice(_NAMED_QS).format(S=s, k=k), y)


WIDER_THING_REL = THING_REL + [
    (["medal", "cup", "trophy", "gold medal", "first place"],
     ["{E} went to {Y}", "{E} was given to {Y}", "{Y} won {e}", "{Y} took home {e}"],
     ["Who won {e}", "Who got {e}", "Who was given {e}", "Who took home {e}"]),
]


def wider_name_fact(rng, split):
    """A named thing (15%), else a relation from the wider lists (roles, prizes)."""
    if rng.random() < 0.15:
        return named_thing_fact(rng, split)
    return relation_name_fact(rng, split, WIDER_PEOPLE_REL, WIDER_THING_REL)


@register("reading", 3, heldout="names and numbers")
def wider_reading_doc(rng: random.Random, split: str = "train") -> str:
    """A passage as in version 2 whose names are also asked for through a noun ("What is the
    name of the coach of S"), a role, a named thing or a prize."""
    return passage_questions_doc(rng, split, wider_name_fact)
