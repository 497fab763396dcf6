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


def test_heldout_pairs_never_appear_in_a_task_format():
    """Training documents show a held-out pair only in sentences ("The opposite of fast is
    slow."), never as a demonstration or a query (nor a bare zero-shot item: none exists). A
    word may be held out in one task and a training word of another ("dog": held out for
    English to German, a training word for singular to plural)."""
    held = {p for t in W.TASKS for p in W.heldout_pairs(t)}
    train = {p for t in W.TASKS for p in W.task_pairs(t, "train")}
    seen, rng = set(), random.Random(0)
    for _ in range(3000):
        seen |= _task_pairs_shown(strip_markers(W.word_task_doc(rng, "train")))
    assert seen and seen <= train
    assert not seen & held
    assert not any(re.search(r"(^|\n)\S+ ->$", strip_markers(W.word_task_doc(rng, "train")))
                   for _ in range(500))


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


def test_function_vector_pieces(model_tok):
    model, tok = model_tok
    n_layers, n_heads, hd = L._shape(model)
    prompts = [W.icl_prompt([("hot", "cold"), ("big", "small")], q) for q in ("up", "good")]
    means = L.mean_head_outputs(model, tok, prompts)
    assert means.shape == (n_layers, n_heads, hd)
    v = L.function_vector(model, means, [(1, 2), (3, 4)])
    w = model.model.layers[1].self_attn.o_proj.weight
    one = L.function_vector(model, means, [(1, 2)])
    assert torch.allclose(one, w[:, 2 * hd:3 * hd] @ means[1, 2], atol=1e-5)
    assert v.shape == (model.config.hidden_size,)
    before = L.last_logits(model, tok, ["fast ->"])
    with L.add_to_residual(model, 10 * v, 2):
        during = L.last_logits(model, tok, ["fast ->"])
    assert not torch.allclose(before, during)
    assert torch.equal(before, L.last_logits(model, tok, ["fast ->"]))   # hook removed
    with pytest.raises(RuntimeError), L.add_to_residual(model, v, 2):
        raise RuntimeError("inside")
    assert torch.equal(before, L.last_logits(model, tok, ["fast ->"]))


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
