"""Registry of the corpus's document families.

Each family is a small seeded generator `make(rng, split) -> str` with a name, a version and a
held-out split: `split="eval"` draws only names, numbers, combos or patients that `"train"`
never does (`heldout` says which). A family that changed between stages keeps each behaviour
as its own version ("reading@1" for stages 1-2, "reading@2" for stage 3, "reading@3" for
stage 4), so every shipped corpus can be regenerated. `course_model.curriculum` mixes them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Family:
    name: str
    version: int
    make: Callable   # (random.Random, split) -> one document
    heldout: str     # what only split="eval" draws

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def about(self) -> str:
        """The first sentence of the generator's docstring (the model card lists it)."""
        return " ".join((self.make.__doc__ or "").split("\n\n")[0].split())


REGISTRY: dict[str, Family] = {}


def register(name: str, version: int, heldout: str):
    """Decorator: add the generator as family `name@version`."""
    def add(make):
        fam = Family(name, version, make, heldout)
        if fam.key in REGISTRY:
            raise ValueError(f"family {fam.key} is registered twice")
        REGISTRY[fam.key] = fam
        return make
    return add


def family(key: str) -> Family:
    if key not in REGISTRY:
        raise KeyError(f"no document family {key!r}; known: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[key]


# the family modules register themselves on import
from course_model.families import (chat, describe, facts, familiar, icl,  # noqa: E402,F401
                                   instructions, layouts, reading, repeat, word_tasks)
