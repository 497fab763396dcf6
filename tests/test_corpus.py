"""The course model's corpus generator: deterministic, and held-out data stays held out."""
import random

import pytest

from course_model import corpus, corpus_stage3
from course_model import evaluate as ev
from utils import prompts as P


@pytest.fixture(scope="module")
def stage3_docs():
    return corpus_stage3.generate(3000, seed=0)


def test_stage3_is_deterministic(stage3_docs):
    assert corpus_stage3.generate(300, seed=0) == stage3_docs[:300]
    assert corpus_stage3.generate(300, seed=1) != stage3_docs[:300]


def test_stage3_mix_is_a_distribution():
    assert set(corpus_stage3.MIX) <= set(corpus_stage3.FAMILIES)
    assert abs(sum(corpus_stage3.MIX.values()) - 1) < 1e-9


def test_names_split_train_and_eval():
    rng = random.Random(0)
    train = {corpus_stage3._name(rng, "train") for _ in range(500)}
    held = {corpus_stage3._name(rng, "eval") for _ in range(500)}
    assert not train & held
    assert all(corpus.heldout("name:" + n) for n in held)


# words that only the evaluation's new passage shapes use (course_model.evaluate.NEW_SHAPES)
NEW_SHAPE_MARKERS = ["lends out", "oak saplings", "days to dig", "Read the note", "grew up",
                     "captain", "parrot", "married", "harbour facts", "prize was awarded"]


@pytest.mark.parametrize("stage", [1, 2, 3])
def test_new_shapes_stay_out_of_training(stage, stage3_docs):
    docs = stage3_docs if stage == 3 else corpus.generate(stage, 3000, seed=0)
    text = "\n".join(corpus.strip_markers(d) for d in docs)
    for marker in NEW_SHAPE_MARKERS:
        assert marker not in text, (stage, marker)
    assert len(ev.NEW_SHAPES) >= 8


def test_course_prompts_stay_out_of_stage3(stage3_docs):
    text = "\n".join(corpus.strip_markers(d) for d in stage3_docs)
    assert "I love AI research" not in text
    for c in P.COUNTERFACTUALS:  # the course's exact conflicts are evaluation only
        assert f"{c.statement}.\nQ: {c.question}?" not in text
    for review, _ in P.SENTIMENT_TESTS:
        assert review not in text


def test_stage3_bare_answers():
    """After a bare question the answer follows "A:" directly, never a restated sentence."""
    rng = random.Random(3)
    for _ in range(300):
        for line in corpus_stage3.fact_doc(rng).split("\n"):
            if corpus.SPLIT in line and "?" in line:
                answer = line.split(corpus.SPLIT, 1)[1].strip()
                assert not answer.startswith("The "), line


def test_stage3_chat_reply_is_tokenised_apart():
    """The split falls right after the assistant header, where apply_chat_template ends."""
    doc = corpus_stage3.handover_doc(random.Random(0))
    prompt, reply = doc.split(corpus.SPLIT)
    assert prompt.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n")
    assert reply.endswith("<|eot_id|>") and not reply.startswith("\n")
