"""Many independent items for the claims: the course's own prompts plus held-out generated ones.

Generated items come from the course model's corpus generators with split="eval" (names,
numbers and reviews its training never used), so on the course model they are held out and on
any other model they are ordinary text. Every list is seeded: the same items on every run.

    course_prompts()                      # the notebooks' 23 prompts [str]
    reading_items(n, seed)                # [(prompt, question, answer)] held-out reading
    passages(n)                           # course prompts, then reading prompts: n [str]
    conflict_samples(n, seed)             # [Counterfactual] made-up facts against a context
    sentiment_triples(n, seed)            # [(clean, corrupted, label)] label-swapped ICL prompts
"""
from __future__ import annotations

import random

from utils.prompts import (ATLANTIC_PROMPT, COUNTERFACTUALS, DUST_PROMPT, OPPOSITE_PROMPT,
                           READING_PROMPTS, TRANSLATION_PROMPT, Counterfactual, LABEL_SWAP)


def course_prompts() -> list[str]:
    """The prompts notebooks 01-06 explain: 8 passages and the 15 knowledge-conflict prompts."""
    return ([DUST_PROMPT, ATLANTIC_PROMPT, TRANSLATION_PROMPT, OPPOSITE_PROMPT, *READING_PROMPTS]
            + [c.prompt for c in COUNTERFACTUALS])


def reading_items(n: int, seed: int = 0) -> list[tuple[str, str, str]]:
    """n held-out reading prompts (a quantity fact, a filler sentence, the question): (prompt
    ending in "A:", the question line, the answer as written in the passage)."""
    from course_model.families import reading

    rng, items = random.Random(f"claims-reading-{seed}"), []
    while len(items) < n:
        fact, question, answer = reading.num_fact(rng, "eval")
        if not answer[:1].isdigit() or answer not in fact:
            continue
        q = f"Q: {question}?"
        items.append((f"{fact}. {rng.choice(reading.FILLERS)}\n{q}\nA:", q, answer))
    return items


def describe_prompts(n: int, seed: int = 0) -> list[str]:
    """n held-out descriptive questions ("Q: What are its animals?"): transplant targets."""
    from course_model.families import describe

    rng = random.Random(f"claims-describe-{seed}")
    return [describe.describe_item(rng, "eval")[0] for _ in range(n)]


def passages(n: int) -> list[str]:
    """n prompts: the course's own first, then held-out reading prompts."""
    own = course_prompts()
    return own[:n] + [p for p, _, _ in reading_items(max(0, n - len(own)))]


def conflict_samples(n: int, seed: int = 0) -> list[Counterfactual]:
    """n knowledge conflicts over the course model's made-up world (course_model.families
    .familiar): a context states another value than the one learned; every fact appears at most
    once, tiers interleaved."""
    from course_model.families import familiar

    rng, samples = random.Random(f"claims-conflicts-{seed}"), []
    facts = sorted(familiar.FACTS, key=lambda f: (list(familiar.FACTS).index(f) % familiar.PER_TIER))
    for fact in facts[:n]:
        prompt, memory, context = familiar.conflict_item(rng, fact, "eval")
        statement, rest = prompt.split(".\nQ: ", 1)
        question, stem = rest.split("? A: ", 1)
        sample = Counterfactual(statement, question, stem, memory, context)
        if sample.prompt != prompt:   # the generator's format changed: say so, never guess
            raise ValueError(f"conflict item does not parse as a Counterfactual: {prompt!r}")
        samples.append(sample)
    return samples


def sentiment_triples(n: int, seed: int = 0, labels=None) -> list[tuple[str, str, str]]:
    """n in-context sentiment prompts, each with its own 2-6 held-out demonstrations:
    (clean prompt, the same prompt with the demonstrations' labels swapped as notebook 05 swaps
    them, the query's label). labels: the sentiments used (default all four; a set closed under
    the swap, e.g. ("positive", "negative"))."""
    from course_model.families import icl

    from utils.patching_analysis import check_sentiment_labels

    labels = check_sentiment_labels(icl.LABELS if labels is None else labels)
    rng, same = random.Random(f"claims-sentiment-{seed}"), {l: l for l in icl.LABELS}
    triples = []
    for _ in range(n):
        label, k, s = rng.choice(labels), rng.randint(2, 6), rng.random()
        clean, answer = icl.remapped_prompt(random.Random(s), "eval", same, k, label, labels)
        corrupted, _ = icl.remapped_prompt(random.Random(s), "eval", dict(LABEL_SWAP), k, label,
                                           labels)
        triples.append((clean, corrupted, answer))
    return triples
