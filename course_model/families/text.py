"""Text pieces every document family shares: the prompt|answer marker, held-out keys, made-up
names and numbers, and question/answer framing.

A document is one string. Where a prompt and its answer must be tokenised apart (so that
"A: " + "Paris" is learnt as well as "A:" + " Paris"), the text holds SPLIT between them; the
packer (`course_model.data`) encodes each side separately and drops the marker.
RAW_REPEAT documents are placeholders the packer fills with a repeated random token-id run.
"""
from __future__ import annotations

import random
import zlib

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


def spaced_answer(text: str, answer: str) -> str:
    """text + SPLIT + " answer": the answer is also learnt after a bare space."""
    return f"{text}{SPLIT} {answer}"


def cap(s: str) -> str:
    return s[0].upper() + s[1:]


# Longer names on average than made_up_name's: held-out names split into several tokens, so
# copying must work for multi-token names too (stages 3-4).
LONGER_NAMES = (2, 3, 3)


def long_name(rng: random.Random, split: str) -> str:
    return made_up_name(rng, split, LONGER_NAMES)


def strip_markers(doc: str) -> str:
    """The plain text of a document (for the tokenizer trainer and for reading)."""
    return doc.replace(SPLIT, "")
