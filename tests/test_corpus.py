"""The course model's corpus generator: deterministic, and held-out data stays held out."""
import random
import re

import pytest

from course_model import corpus, corpus_stage3, corpus_stage4
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


@pytest.mark.parametrize("stage", [1, 2, 3, 4])
def test_new_shapes_stay_out_of_training(stage, stage3_docs):
    docs = (stage3_docs if stage == 3 else corpus_stage4.generate(3000, seed=0) if stage == 4
            else corpus.generate(stage, 3000, seed=0))
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


def test_stage3_fact_docs_never_put_a_statement_before_a_question():
    """A statement then an unrelated question is the layout of a conflict document."""
    rng = random.Random(4)
    for _ in range(300):
        lines = corpus_stage3.fact_doc(rng).split("\n")
        asks = {"?" in line for line in lines if not line.startswith("A")}
        assert len(asks) == 1, lines


def test_split_space_is_an_input_but_never_a_target():
    """'A: ' + 'Paris': the lone space is read but not predicted, so after 'A:' the only
    trained continuation is ' Paris'; 'Paris' after 'A: ' is still learnt."""
    from transformers import AutoTokenizer

    from course_model import MODEL_DIR, data
    tok = AutoTokenizer.from_pretrained(MODEL_DIR)
    space = tok.convert_tokens_to_ids("\u0120")
    docs = [f"Q: Where? A: {corpus.SPLIT}Paris", f"Q: Where? A:{corpus.SPLIT} Paris",
            "A lone space at the end "]
    masked = data.encode_docs(tok, docs, 0, mask_split_space=True)
    plain = data.encode_docs(tok, docs, 0)
    assert all(t >= 0 for ids in plain for t in ids)
    assert [t for t in masked[0] if t < 0] == [~space]
    assert masked[1] == plain[1] and masked[2] == plain[2]  # no split space: nothing masked
    rows = data.pack(masked, tok.pad_token_id, seq_len=64)
    x, labels = data.split_inputs_labels(rows, tok.pad_token_id)
    i = masked[0].index(~space)
    assert x[0, i] == space and labels[0, i] == -100
    paris = tok("Paris", add_special_tokens=False)["input_ids"]
    after = slice(i + 1, i + 1 + len(paris))
    assert labels[0, after].tolist() == paris == x[0, after].tolist()
    assert (labels[x == tok.pad_token_id] == -100).all()
    assert (labels[0, :i] == x[0, :i]).all()


def test_reading_answers_are_copied_from_the_passage():
    """A stage-3 reading question is answered by copying: the answer is in its statement and
    not in the question, so the question alone cannot give it away."""
    rng = random.Random(5)
    # the three kinds of fact that reading_doc builds its passages from
    for make_fact in (corpus_stage3._name_fact, corpus._num_fact, corpus._correction):
        for _ in range(300):
            statement, question, answer = make_fact(rng, "train")
            assert answer in statement and answer not in question, (statement, question)


def test_stage4_is_deterministic_and_keeps_stage3s_mix():
    docs = corpus_stage4.generate(300, seed=0)
    assert corpus_stage4.generate(300, seed=0) == docs
    assert docs != corpus_stage3.generate(300, seed=0)
    assert corpus_stage4.MIX == corpus_stage3.MIX and set(corpus_stage4.MIX) <= set(corpus_stage4.FAMILIES)


def test_stage4_questions_are_answered_from_the_passage():
    """Stage 4's new wordings still ask for something the passage states: a name (from a
    relation, a role or a named thing) or, for two durations, the asked verb's number."""
    rng = random.Random(6)
    for make_fact in (corpus_stage4._name_fact, corpus_stage4._named_thing_fact):
        for _ in range(300):
            statement, question, answer = make_fact(rng, "train")
            assert answer in statement and answer not in question, (statement, question)
    for _ in range(300):
        doc = corpus.strip_markers(corpus_stage4._done_for_doc(rng, "train"))
        text, qa = doc.split("\n", 1)
        question, answer = qa.split("?")[0], qa.rstrip().split()[-1]
        asked = [d for d in corpus_stage4.DONE_FOR if re.search(rf"\b{d[1]}$", question)]
        assert len(asked) == 1, (text, question)
        # the clause of the asked verb holds the answer, the other clause the other number
        clauses = re.split(r",|;| and ", text)
        mine = [c for c in clauses if re.search(rf"\b{asked[0][0]}\b", c)]
        assert len(mine) == 1 and re.findall(r"\d+", mine[0]) == [answer], (text, qa)
