"""Repeated sequences: family "repeat". Copying is the only way to lower the loss on the
second copy, so these documents grow induction heads."""
from __future__ import annotations

import random

from course_model.families import register
from course_model.families.text import RAW_REPEAT, long_name, made_up_name, number

COMMON_WORDS = ("the of and to in is was for on that with as by at from his her they we "
                "house river water stone green light small city market road north south old "
                "new music paper table window garden school doctor train winter summer bread "
                "lamp chair horse village forest silver gold iron coast island bridge tower "
                "report number report letter people morning evening price value field wind").split()



@register("repeat", 1, heldout="names and numbers")
def repeat_doc(rng: random.Random, split: str = "train") -> str:
    """A run of raw token ids, common words, numbers or made-up names, repeated 2-3 times."""
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



@register("repeat", 2, heldout="names")
def name_or_token_repeat_doc(rng: random.Random, split: str = "train") -> str:
    """A run of raw token ids or of longer made-up names (multi-token copying), repeated."""
    if rng.random() < 0.5:
        return RAW_REPEAT
    seq = " ".join(long_name(rng, split) for _ in range(rng.randint(3, 12)))
    return rng.choice(["\n", " | ", ". "]).join([seq] * rng.choice([2, 2, 3]))
