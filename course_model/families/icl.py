"""In-context learning: family "icl". Review demonstrations "Review: ... Sentiment: label"
whose labels are sometimes remapped, then queries; following the demonstrations pays.
Version 1 (stages 1-2) remaps half of the documents, version 2 (stages 3-4) 85%."""
from __future__ import annotations

import random

from course_model.course_tables import LABEL_SWAP, SENTIMENT_DEMOS, SENTIMENT_TEST_REVIEWS
from course_model.families import register
from course_model.families.text import heldout, spaced_answer

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


def review(rng: random.Random, label: str, split: str) -> str:
    """One or two review sentences of `label`; 1 in 6 texts and the course's test reviews are
    held out."""
    while True:
        parts = rng.sample(REVIEW_PARTS[label], rng.choice([1, 2, 2]))
        text = " ".join(parts)
        if text not in SENTIMENT_TEST_REVIEWS and heldout("rv:" + text, 6) == (split == "eval"):
            return text


def label_map(rng: random.Random) -> dict:
    """Identity half the time, else the course's swap or a random permutation."""
    r = rng.random()
    if r < 0.5:
        return {l: l for l in LABELS}
    if r < 0.8:
        return dict(LABEL_SWAP)
    perm = LABELS[:]
    rng.shuffle(perm)
    return dict(zip(LABELS, perm))


def _demos_then_queries(rng, split, m, course_share, n_queries) -> str:
    """4-8 demonstrations labelled through `m` (the course's own, relabelled, with probability
    course_share), then n_queries queries."""
    k = rng.randint(4, 8)
    labels = LABELS[:] + [rng.choice(LABELS) for _ in range(k - 4)]
    rng.shuffle(labels)
    if rng.random() < course_share:
        lines = [f"Review: {t} Sentiment: {m[l]}" for t, l in SENTIMENT_DEMOS]
    else:
        lines = [f"Review: {review(rng, l, split)} Sentiment: {m[l]}" for l in labels]
    for _ in range(rng.choice(n_queries)):
        l = rng.choice(LABELS)
        lines.append(spaced_answer(f"Review: {review(rng, l, split)} Sentiment:", m[l]))
    return "\n".join(lines)


@register("icl", 1, heldout="1 in 6 review texts and the course's test reviews")
def icl_doc(rng: random.Random, split: str = "train") -> str:
    """Review demonstrations, remapped half of the time, then one or two queries."""
    return _demos_then_queries(rng, split, label_map(rng), 0.3, [1, 1, 2])


@register("icl", 2, heldout="1 in 6 review texts and the course's test reviews")
def remapped_icl_doc(rng: random.Random, split: str = "train") -> str:
    """Review demonstrations whose labels are remapped 85% of the time, then 1-2 queries."""
    while True:
        m = label_map(rng)
        if any(m[k] != k for k in m) or rng.random() < 0.3:
            break
    return _demos_then_queries(rng, split, m, 0.2, [1, 2])
