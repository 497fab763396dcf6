"""The course prompts' values the training corpus depends on, frozen.

Copied from `utils/prompts.py` as they were when the shipped model's corpus was generated: the
corpus draws the course's facts more often, keeps its conflicts, test reviews and prompts out
of training, and writes handover chats in its layout. A course prompt added or edited later
changes the lessons, never the corpus (tests/test_curriculum.py checks no corpus module reads
utils.prompts).
"""
from __future__ import annotations

from typing import NamedTuple


class CourseFact(NamedTuple):
    """A course conflict: the false statement, the question, the answer stem, the answer from
    memory and the one the false context suggests."""
    statement: str
    question: str
    stem: str
    parametric: str
    contextual: str


COUNTERFACTUALS = [
    CourseFact("The capital of France is London", "What is the capital of France",
               "The capital of France is", "Paris", "London"),
    CourseFact("The capital of Germany is Paris", "What is the capital of Germany",
               "The capital of Germany is", "Berlin", "Paris"),
    CourseFact("The capital of Italy is Milan", "What is the capital of Italy",
               "The capital of Italy is", "Rome", "Milan"),
    CourseFact("The iPhone is made by Samsung", "Which company makes the iPhone",
               "The iPhone is made by", "Apple", "Samsung"),
    CourseFact("Elon Musk is the CEO of Ford", "Which company does Elon Musk run",
               "Elon Musk is the CEO of", "Tesla", "Ford"),
    CourseFact("YouTube is owned by Yahoo", "Which company owns YouTube",
               "YouTube is owned by", "Google", "Yahoo"),
    CourseFact("Snow is green", "What color is snow", "Snow is", "white", "green"),
    CourseFact("The sky is red", "What color is the sky", "The sky is", "blue", "red"),
    CourseFact("The sun is purple", "What color is the sun", "The sun is", "yellow", "purple"),
    CourseFact("2+2 equals 5", "What is 2+2", "2+2 equals", "4", "5"),
    CourseFact("3+3 equals 7", "What is 3+3", "3+3 equals", "6", "7"),
    CourseFact("5+5 equals 11", "What is 5+5", "5+5 equals", "10", "11"),
    CourseFact("The animal that barks is the cat", "Which animal barks",
               "The animal that barks is the", "dog", "cat"),
    CourseFact("The animal that meows is the dog", "Which animal meows",
               "The animal that meows is the", "cat", "dog"),
    CourseFact("Milk comes from the goat", "Which animal gives us milk",
               "Milk comes from the", "cow", "goat"),
]

# the course's in-context demonstrations (review, label), its test reviews and its label swap
SENTIMENT_DEMOS = [
    ("This restaurant was amazing! The food was delicious and service was top-notch.", "positive"),
    ("Terrible experience. Rude staff and cold food. Would not recommend.", "negative"),
    ("Pretty average place. Food was okay but nothing special.", "neutral"),
    ("Great atmosphere but the prices are way too high.", "mixed"),
    ("The best movie I've seen all year! A masterpiece!", "positive"),
    ("Complete waste of time and money. The plot made no sense.", "negative"),
]
SENTIMENT_TEST_REVIEWS = [
    "Exceeded all my expectations. Outstanding in every way!",
    "Disappointing product. Broke after two uses.",
    "Decent value for money but shipping took forever.",
    "Absolutely fantastic service and quality!",
]
LABEL_SWAP = {"positive": "negative", "negative": "positive", "neutral": "mixed", "mixed": "neutral"}

# a handover chat: this system message, then the record and this request as the user's turn
HANDOVER_SYSTEM = "You are a careful clinical assistant."
HANDOVER_REQUEST = "Write a short ward handover summary for the next shift."
