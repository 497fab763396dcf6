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


# ------------------------------------------------------------------------------ version 3
# Reviews built from parts, with the everyday words of the course's test reviews' kind
# ("outstanding", "disappointing", "broke", "decent value") but never those reviews.
_THINGS = ["food", "service", "staff", "room", "film", "book", "phone", "hotel", "product",
           "delivery", "meal", "show", "app", "camera", "game", "shop", "coffee", "trip",
           "quality", "design", "price", "battery", "screen", "music", "ending", "story"]
_GOOD = ["amazing", "excellent", "outstanding", "fantastic", "wonderful", "brilliant",
         "superb", "great", "perfect", "lovely", "delicious", "friendly", "impressive",
         "fabulous", "terrific", "delightful"]
_BAD = ["terrible", "awful", "disappointing", "horrible", "poor", "dreadful", "rude", "broken",
        "useless", "cold", "boring", "dirty", "slow", "cheap", "faulty", "disgusting"]
_OKAY = ["okay", "fine", "average", "ordinary", "acceptable", "decent", "standard", "alright",
         "adequate", "so-so", "unremarkable", "reasonable"]
_V3_PARTS = {
    "positive": ["The {t} was {g}.", "{G} {t}!", "Absolutely {g} {t}!", "Exceeded my expectations.",
                 "{G} in every way!", "I loved the {t}.", "Highly recommended!", "The {t} was {g} and the {t2} was {g2}.",
                 "Best {t} I have had in years!", "Really {g} {t} and {g2} {t2}.", "Would buy again!",
                 "Five stars, the {t} was {g}.", "Everything was {g}!", "Worth every penny."],
    "negative": ["The {t} was {b}.", "{B} {t}.", "Really {b} {t}.", "Broke after {n} days.",
                 "Stopped working after {n} uses.", "Would not recommend.", "Never again.",
                 "Complete waste of money.", "The {t} was {b} and the {t2} was {b2}.",
                 "{B} experience.", "I want my money back.", "One star, the {t} was {b}.",
                 "Avoid this {t}.", "Everything was {b}."],
    "neutral": ["The {t} was {o}.", "{O} {t}.", "Nothing special.", "It was {o}.",
                "{O} {t}, nothing more.", "Neither good nor bad.", "The {t} was {o}, as expected.",
                "Does the job.", "Pretty {o} overall.", "Not bad, not great."],
    "mixed": ["{G} {t} but {b} {t2}.", "The {t} was {g} but the {t2} was {b}.",
              "{G} {t}, but the {t2} took forever.", "Good value for money but the {t} was {b}.",
              "Loved the {t}, hated the {t2}.", "The {t} was {b} but the {t2} was {g}.",
              "{G} {t}, shame about the {t2}.", "Decent {t} but {b} {t2}."],
}


def _fill(rng: random.Random, part: str) -> str:
    t, t2 = rng.sample(_THINGS, 2)
    g, g2 = rng.sample(_GOOD, 2)
    b, b2 = rng.sample(_BAD, 2)
    o = rng.choice(_OKAY)
    s = part.format(t=t, t2=t2, g=g, g2=g2, b=b, b2=b2, o=o, G=g.capitalize(), B=b.capitalize(),
                    O=o.capitalize(), n=rng.choice(["two", "three", "five", "ten", "2", "3"]))
    return s


def everyday_review(rng: random.Random, label: str, split: str) -> str:
    """One or two sentences of `label` from `_V3_PARTS` (1 in 6 texts held out; the course's
    test reviews never)."""
    while True:
        parts = rng.sample(_V3_PARTS[label], rng.choice([1, 2, 2]))
        text = " ".join(_fill(rng, p) for p in parts)
        if text not in SENTIMENT_TEST_REVIEWS and heldout("rv3:" + text, 6) == (split == "eval"):
            return text


def remapped_prompt(rng: random.Random, split: str, m: dict, n_demos: int,
                    query_label: str, sentiments=tuple(LABELS)) -> tuple[str, str]:
    """n_demos (2-6) demonstrations labelled through `m`, each label at most twice and the
    query's sentiment among them at a random place (so the mapping is read from any
    demonstration, not the last), then the query; returns (prompt, answer label).
    sentiments: the sentiments the demonstrations are drawn from (all four by default)."""
    others = [l for l in sentiments if l != query_label]
    labels = [query_label] + [rng.choice(others) if rng.random() < 0.7 else rng.choice(sentiments)
                              for _ in range(n_demos - 1)]
    rng.shuffle(labels)
    lines = [f"Review: {everyday_review(rng, l, split)} Sentiment: {m[l]}" for l in labels]
    lines.append(f"Review: {everyday_review(rng, query_label, split)} Sentiment:")
    return "\n".join(lines), m[query_label]


@register("icl", 3, heldout="1 in 6 review texts and the course's test reviews")
def mapping_icl_doc(rng: random.Random, split: str = "train") -> str:
    """Everyday-worded reviews, 2-6 demonstrations (a quarter of the time the course's six,
    relabelled), labels kept (1 in 3), swapped as in the course or permuted; 1-3 queries whose
    sentiment a demonstration anywhere in the prompt shows."""
    r = rng.random()
    m = ({l: l for l in LABELS} if r < 0.35 else dict(LABEL_SWAP) if r < 0.7
         else dict(zip(LABELS, rng.sample(LABELS, 4))))
    if rng.random() < 0.25:
        lines = [f"Review: {t} Sentiment: {m[l]}" for t, l in SENTIMENT_DEMOS]
        for _ in range(rng.choice([1, 1, 2])):
            l = rng.choice(["positive", "negative", "neutral", "mixed"])
            lines.append(spaced_answer(f"Review: {everyday_review(rng, l, split)} Sentiment:",
                                       m[l]))
        return "\n".join(lines)
    prompt, ans = remapped_prompt(rng, split, m, rng.randint(2, 6), rng.choice(LABELS))
    doc = spaced_answer(prompt, ans)
    for _ in range(rng.choice([0, 0, 1, 2])):
        l = rng.choice(LABELS)
        doc += "\n" + spaced_answer(f"Review: {everyday_review(rng, l, split)} Sentiment:", m[l])
    return doc
