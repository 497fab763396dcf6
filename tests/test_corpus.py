"""The course model's corpus generator: deterministic, and held-out data stays held out."""
import random
import re

import pytest

from course_model import curriculum
from course_model import evaluate as ev
from course_model.families import chat, facts, layouts, reading
from course_model.families.text import SPLIT, heldout, long_name, strip_markers
from utils import prompts as P


@pytest.fixture(scope="module")
def stage3_docs():
    return curriculum.generate(3, 3000, seed=0)


def test_stage3_is_deterministic(stage3_docs):
    assert curriculum.generate(3, 300, seed=0) == stage3_docs[:300]
    assert curriculum.generate(3, 300, seed=1) != stage3_docs[:300]


def test_names_split_train_and_eval():
    rng = random.Random(0)
    train = {long_name(rng, "train") for _ in range(500)}
    held = {long_name(rng, "eval") for _ in range(500)}
    assert not train & held
    assert all(heldout("name:" + n) for n in held)


# words that only the evaluation's new passage shapes use (course_model.evaluate.NEW_SHAPES)
NEW_SHAPE_MARKERS = ["lends out", "oak saplings", "days to dig", "Read the note", "grew up",
                     "captain", "parrot", "married", "harbour facts", "prize was awarded"]


@pytest.mark.parametrize("stage", [1, 2, 3, 4])
def test_new_shapes_stay_out_of_training(stage, stage3_docs):
    docs = stage3_docs if stage == 3 else curriculum.generate(stage, 3000, seed=0)
    text = "\n".join(strip_markers(d) for d in docs)
    for marker in NEW_SHAPE_MARKERS:
        assert marker not in text, (stage, marker)
    assert len(ev.NEW_SHAPES) >= 8


def test_course_prompts_stay_out_of_stage3(stage3_docs):
    text = "\n".join(strip_markers(d) for d in stage3_docs)
    assert "I love AI research" not in text
    for c in P.COUNTERFACTUALS:  # the course's exact conflicts are evaluation only
        assert f"{c.statement}.\nQ: {c.question}?" not in text
    for review, _ in P.SENTIMENT_TESTS:
        assert review not in text


def test_stage3_bare_answers():
    """After a bare question the answer follows "A:" directly, never a restated sentence."""
    rng = random.Random(3)
    for _ in range(300):
        for line in facts.bare_answer_fact_doc(rng).split("\n"):
            if SPLIT in line and "?" in line:
                answer = line.split(SPLIT, 1)[1].strip()
                assert not answer.startswith("The "), line


def test_stage3_chat_reply_is_tokenised_apart():
    """The split falls right after the assistant header, where apply_chat_template ends."""
    doc = chat.split_reply_handover_doc(random.Random(0))
    prompt, reply = doc.split(SPLIT)
    assert prompt.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n")
    assert reply.endswith("<|eot_id|>") and not reply.startswith("\n")


def test_stage3_fact_docs_never_put_a_statement_before_a_question():
    """A statement then an unrelated question is the layout of a conflict document."""
    rng = random.Random(4)
    for _ in range(300):
        lines = facts.bare_answer_fact_doc(rng).split("\n")
        asks = {"?" in line for line in lines if not line.startswith("A")}
        assert len(asks) == 1, lines


def test_reading_answers_are_copied_from_the_passage():
    """A stage-3 reading question is answered by copying: the answer is in its statement and
    not in the question, so the question alone cannot give it away."""
    rng = random.Random(5)
    # the three kinds of fact that reading_doc builds its passages from
    for make_fact in (reading.relation_name_fact, reading.num_fact, reading.correction_fact):
        for _ in range(300):
            statement, question, answer = make_fact(rng, "train")
            assert answer in statement and answer not in question, (statement, question)


def test_stage4_is_deterministic_and_keeps_stage3s_mix():
    docs = curriculum.generate(4, 300, seed=0)
    assert curriculum.generate(4, 300, seed=0) == docs
    assert docs != curriculum.generate(3, 300, seed=0)
    mix3, mix4 = curriculum.STAGES[3].mix, curriculum.STAGES[4].mix
    assert [k.split("@")[0] for k in mix4] == [k.split("@")[0] for k in mix3]
    assert list(mix4.values()) == list(mix3.values())


def test_stage4_questions_are_answered_from_the_passage():
    """Stage 4's new wordings still ask for something the passage states: a name (from a
    relation, a role or a named thing) or, for two durations, the asked verb's number."""
    rng = random.Random(6)
    for make_fact in (reading.wider_name_fact, reading.named_thing_fact):
        for _ in range(300):
            statement, question, answer = make_fact(rng, "train")
            assert answer in statement and answer not in question, (statement, question)
    for _ in range(300):
        doc = strip_markers(layouts.done_for_doc(rng, "train"))
        text, qa = doc.split("\n", 1)
        question, answer = qa.split("?")[0], qa.rstrip().split()[-1]
        asked = [d for d in layouts.DONE_FOR if re.search(rf"\b{d[1]}$", question)]
        assert len(asked) == 1, (text, question)
        # the clause of the asked verb holds the answer, the other clause the other number
        clauses = re.split(r",|;| and ", text)
        mine = [c for c in clauses if re.search(rf"\b{asked[0][0]}\b", c)]
        assert len(mine) == 1 and re.findall(r"\d+", mine[0]) == [answer], (text, qa)
