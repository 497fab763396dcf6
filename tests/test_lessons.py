"""The lesson families' held-out splits, the lesson measurements' building blocks, and the
lesson figures re-measured on the shipped model (cheap ones; `make eval-model` runs all)."""
import json
import os
import random
import re

os.environ["HF_HUB_OFFLINE"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402

from course_model import MODEL_DIR, handover, lessons as L  # noqa: E402
from course_model import evaluate as ev  # noqa: E402
from claims import course_lessons as CL  # noqa: E402
from course_model.families import familiar, icl, word_tasks as W  # noqa: E402
from course_model.families.text import strip_markers  # noqa: E402


def test_word_tasks_hold_out_fifty_words_per_task():
    for task in W.TASKS:
        held, train = W.heldout_pairs(task), W.task_pairs(task, "train")
        assert len(held) >= 50, task
        assert len(train) >= 9, task   # room for 8 demonstrations and a query
        assert not {a for a, _ in held} & {a for a, _ in train}, task


def _task_pairs_shown(doc: str) -> set[tuple[str, str]]:
    """The (input, output) pairs a document shows in a task format (arrow, colon, Q/A)."""
    pairs, lines = set(), doc.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("Q: ") and i + 1 < len(lines) and lines[i + 1].startswith("A: "):
            pairs.add((line[3:], lines[i + 1][3:]))
        elif not line.startswith(("Q:", "A:")):
            m = re.fullmatch(r"(\S+)(?: ->|:) (\S+)", line)
            if m:
                pairs.add(m.groups())
    return pairs


@pytest.mark.parametrize("version", [1, 2])
def test_heldout_pairs_never_appear_in_a_task_format(version):
    """Training documents show a held-out pair only in sentences ("The opposite of fast is
    slow."), never as a demonstration or a query (nor a bare zero-shot item: none exists). A
    word may be held out in one task and a training word of another ("dog": held out for
    English to German, a training word for singular to plural)."""
    tasks, pairs_of = (W.TASKS, W.task_pairs) if version == 1 else (W.TASKS_V2, W.task_pairs_v2)
    make = W.word_task_doc if version == 1 else W.word_task_doc_v2
    held = {p for t in tasks for p in pairs_of(t, "eval")}
    train = {p for t in tasks for p in pairs_of(t, "train")}
    seen, rng = set(), random.Random(0)
    for _ in range(3000):
        seen |= _task_pairs_shown(strip_markers(make(rng, "train")))
    assert seen and seen <= train
    assert not seen & held
    assert not any(re.search(r"(^|\n)\S+ ->$", strip_markers(make(rng, "train")))
                   for _ in range(500))


def test_version_2_words_belong_to_several_tasks():
    """Version 2's point: many query words have answers in two or more tasks, so only the
    demonstrations (or a function vector) say which task is meant."""
    assert len(W._SHARED) >= 100
    rng = random.Random(1)

    def query(doc: str) -> str:
        lines = strip_markers(doc).split("\n")
        return lines[-2][3:] if lines[-1].startswith("A:") else re.split(r" ->|:", lines[-1])[0]
    queries = [query(W._icl_doc_v2(rng, t, "train")) for t in W.TASKS_V2 for _ in range(50)]
    assert sum(q in W._SHARED for q in queries) > 0.5 * len(queries)


def test_notebook_query_words_are_held_out():
    """The notebook's own word pairs (utils.prompts.FV_TASKS, where present) are never shown in
    a task format in training."""
    from utils import prompts as P
    if not hasattr(P, "FV_TASKS"):
        pytest.skip("utils.prompts has no FV_TASKS yet")
    train = {t: {a for a, _ in W.task_pairs(t, "train")} for t in W.TASKS}
    for task, pairs in P.FV_TASKS.items():
        assert not {a for a, _ in pairs} & train.get(task, set()), task


def test_prompt_formats():
    pairs = [("hot", "cold"), ("big", "small")]
    assert W.icl_prompt(pairs, "fast") == "hot -> cold\nbig -> small\nfast ->"
    assert W.icl_prompt(pairs, "fast", "colon") == "hot: cold\nbig: small\nfast:"
    assert W.icl_prompt(pairs, "fast", "qa") == "Q: hot\nA: cold\nQ: big\nA: small\nQ: fast\nA:"
    assert W.zero_shot_prompt("fast") == "fast ->"
    assert W.instruction_prompt("antonym", "fast") == "The opposite of fast is"
    with pytest.raises(ValueError, match="arrow"):
        W.icl_prompt(pairs, "fast", "json")


def test_sentiment_prompts_show_the_query_label_anywhere():
    rng = random.Random(1)
    places = set()
    for _ in range(200):
        label = rng.choice(icl.LABELS)
        p, a = icl.remapped_prompt(rng, "eval", dict(icl.LABEL_SWAP), rng.randint(2, 6), label)
        assert a == icl.LABEL_SWAP[label]
        demos = p.split("\n")[:-1]
        assert 2 <= len(demos) <= 6 and p.endswith("Sentiment:")
        hits = [i - len(demos) for i, d in enumerate(demos) if d.endswith(f"Sentiment: {a}")]
        assert hits
        places |= set(hits)
    assert len(places) >= 4   # not only the last demonstration


def test_provenance_spans():
    record, summary, spans = handover.provenance(3, "eval")
    assert spans[0][0] == 0 and spans[-1][1] == len(summary)
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    for start, end, source in spans:
        if source == "record":
            assert summary[start:end] in record
    memory = "".join(summary[s:e] for s, e, src in spans if src == "memory")
    assert any(len(summary[s:e]) > 20 and summary[s:e] not in record
               for s, e, src in spans if src == "memory"), memory


def test_familiar_world_tiers():
    assert [f[0] for f in familiar.FACTS].count("rare") == familiar.PER_TIER
    p, mem, ctx = familiar.conflict_item(random.Random(0), familiar.FACTS[0], "eval")
    assert mem != ctx and p.endswith(familiar.stem(*familiar.FACTS[0][1:3]))


@pytest.fixture(scope="module")
def model_tok():
    model, tok = ev.load(MODEL_DIR)
    return model, tok


def test_function_vector_lesson_uses_the_course_answers(model_tok):
    """eval.json's function vectors are what a learner who solved notebook 03 computes: the
    lesson calls the answer key and the library (their maths is tested in
    test_function_vectors.py), on prompts in the notebook's formats."""
    from solutions import function_vectors as answers
    from utils import function_vectors as fv
    assert CL._fv_tools() == (answers, fv)
    demos = [("hot", "cold"), ("big", "small")]
    assert W.icl_prompt(demos, "up") == fv.icl_prompt(demos, "up")
    assert W.zero_shot_prompt("up") == fv.zero_shot_prompt("up")
    prompts, answers_ = CL._task_prompts(random.Random(0), "antonym", 3, shuffled=True)
    assert len(prompts) == 3 and all(p.endswith(" ->") for p in prompts)


def _shipped_lessons() -> dict:
    return json.loads((MODEL_DIR / "eval.json").read_text()).get("lessons", {})


def _lesson_case(metric):
    """A lesson threshold the shipped model's eval.json misses is an expected failure."""
    shipped = _shipped_lessons()
    if not shipped.get("pass", {}).get(metric, False):
        return pytest.param(metric, marks=pytest.mark.xfail(
            reason=f"shipped model misses {metric} (eval.json lessons)", strict=False))
    return metric


@pytest.fixture(scope="module")
def cheap_lessons(model_tok):
    model, tok = model_tok
    se = L.sentiment(model, tok, n=48)
    co = L.conflicts(model, tok)
    at = L.atlantic(model, tok)
    return {"atlantic_names_listed": at["score"], "icl_course_clean": se["course_clean"],
            "icl_course_corrupted": se["course_corrupted"],
            "icl_course_gap_nats": se["course_min_gap"],
            "icl_heldout_clean": se["heldout_clean"],
            "icl_heldout_corrupted": se["heldout_corrupted"],
            "conflict_memory_rises": float(co["rises"])}


@pytest.mark.parametrize("metric", [_lesson_case(m) for m in
                                    ("atlantic_names_listed", "icl_course_clean",
                                     "icl_course_corrupted", "icl_course_gap_nats",
                                     "icl_heldout_clean", "icl_heldout_corrupted",
                                     "conflict_memory_rises")])
def test_lesson_threshold(cheap_lessons, metric):
    assert cheap_lessons[metric] >= L.THRESHOLDS[metric] - 1e-9, (metric, cheap_lessons[metric])


def test_eval_json_has_the_lessons():
    les = _shipped_lessons()
    if not les:
        pytest.xfail("eval.json has no lessons section yet (run make eval-model)")
    assert set(les["scores"]) == set(L.THRESHOLDS) == set(les["pass"])
    fv = les["function_vectors"]
    assert all(r["n"] >= 50 for r in fv["per_task"].values())
    assert les["sentiment"]["n_heldout"] >= 200


def test_course_model_never_imports_the_answer_key_or_the_checks():
    """The lessons that run the answer key live in claims/course_lessons.py; the training
    package imports neither `solutions` nor `checks`, at module level or inside a function."""
    import ast
    from pathlib import Path
    root = Path(L.__file__).parent
    for path in sorted(root.rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        assert not names & {"solutions", "checks", "claims"}, (path.name, names)


def test_every_lesson_threshold_is_one_registry_entry():
    assert [c.id for c in CL.LESSONS] == list(L.THRESHOLDS)
    assert all(c.threshold.value <= L.THRESHOLDS[c.id] for c in CL.LESSONS)

