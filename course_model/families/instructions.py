"""Instructions: family "instruction". English -> German over a small vocabulary, and "write
the opposite" of a short sentence. Held out: 1 in 7 combinations, and the course's two
prompts ("I love AI research", "The car is going very fast.")."""
from __future__ import annotations

import random

from course_model.families import register
from course_model.families.text import SPLIT, heldout, spaced_answer

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


@register("instruction", 1, heldout="1 in 7 sentence combinations and the course's two prompts")
def instruction_doc(rng: random.Random, split: str = "train") -> str:
    """A translation into German or the opposite of a sentence, after "Answer:"."""
    if rng.random() < 0.5:
        en, de = translation_pair(rng, split)
        head, answer = f"Task: Translation into German: {en}\nAnswer:", de
    else:
        s, answer = opposite_pair(rng, split)
        head = f"Write the opposite of this sentence: {s}\nAnswer:"
    # the split before or after the answer's space, at random
    return spaced_answer(head, answer) if rng.random() < 0.5 else f"{head} {SPLIT}{answer}"
