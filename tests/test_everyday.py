"""The everyday-wording items are outside the training corpus: their key words occur in no
training document (a sample of every stage's corpus), and each item is well formed."""
import re

import pytest

from course_model import everyday as E
from course_model.curriculum import STAGES, generate
from course_model.families.text import strip_markers


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_key_words_never_occur_in_training_documents(stage):
    seen = set()
    for doc in generate(stage, 2000, 0):
        seen.update(w.lower() for w in re.findall(r"[A-Za-z]+", strip_markers(doc)))
    assert not E.key_words() & seen


def test_items_are_well_formed():
    assert {label for _, label, _ in E.SENTIMENT} == {"positive", "negative", "neutral", "mixed"}
    assert all(thing in text.lower() for text, _, thing in E.SENTIMENT)
    for passage, question, asked, other in E.DESCRIBE:
        assert question.endswith("?") and all(x in passage for x in asked + other)
    assert all(len(pairs) >= 8 for pairs in E.WORD_TASKS.values())
