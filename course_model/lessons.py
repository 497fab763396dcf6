"""The lessons' measurements that need only the library and the corpus generators, and the
thresholds of eval.json's "lessons" section.

The lessons are entries of the course's one registry (`claims.course_lessons`), which also
holds the measurements that run the course's answer key (function vectors, transplants): this
package never imports `solutions` or `checks`.

Every item is held out from training (`split="eval"` of the families, the course's own
prompts).
"""
from __future__ import annotations

import random

import torch

from course_model.families import describe, familiar, icl, word_tasks as W

THRESHOLDS = {"atlantic_names_listed": 1.0, "fv_gain_mean": 0.40, "fv_random_gain_max": 0.10,
              "icl_course_clean": 1.0, "icl_course_corrupted": 1.0, "icl_course_gap_nats": 2.0,
              "icl_heldout_clean": 0.90, "icl_heldout_corrupted": 0.75,
              "conflict_memory_rises": 1.0, "monitor_balanced_accuracy": 0.80,
              "transplant_beats_random": 1.0}
FV_HEADS = 6        # heads summed into a function vector (of 48)
ATLANTIC_LISTED = ["plankton", "fish", "whales", "deep-sea organisms", "coral reef",
                   "polar waters", "tropical", "marine biomes"]


def _logits(model, tok, prompts, batch_size: int = 64) -> torch.Tensor:
    """[n, vocab] next-token logits (utils.logits; imported here so that importing this
    module imports no utils, see tests/test_curriculum.py)."""
    from utils.logits import last_position_logits
    return last_position_logits(model, tok, prompts, batch_size=batch_size)


def first_token(tok, answer: str) -> int:
    return tok(" " + answer, add_special_tokens=False)["input_ids"][0]


# ------------------------------------------------------------------------------ other lessons
def atlantic(model, tok) -> dict:
    """The course's Atlantic prompt: the greedy answer names something the passage lists;
    beside it, held-out descriptive questions (answer starts with an item of the asked list;
    control: it starts with an item of another list in the passage)."""
    from course_model.evaluate import greedy
    from utils import prompts as P
    ans = greedy(model, tok, [P.ATLANTIC_PROMPT], max_new=16)[0]
    named = [w for w in ATLANTIC_LISTED if w in ans]
    rng = random.Random("lesson-describe")
    items = [describe.describe_item(rng, "eval") for _ in range(100)]
    gens = greedy(model, tok, [p for p, _, _ in items], max_new=16)
    asked = other = 0
    for (p, _, lst), g in zip(items, gens):
        g = g.strip()
        every = [x for xs in describe.LISTS.values() for x in xs if x in p]
        asked += any(g.startswith(x) for x in lst)
        other += any(g.startswith(x) for x in every if x not in lst)
    return {"answer": ans, "names": named, "score": float(bool(named)),
            "heldout_asked_list": asked / len(items), "heldout_other_list": other / len(items),
            "n_heldout": len(items)}


def sentiment(model, tok, n: int = 200) -> dict:
    """Course ICL prompts clean and corrupted (label swap), with the logit gap correct minus
    swapped label; held-out prompts (everyday reviews, 2-6 demonstrations) with labels kept
    and swapped as the course swaps them."""
    from utils import prompts as P
    ids = {l: first_token(tok, l) for l in icl.LABELS}
    clean = _logits(model, tok, [P.sentiment_prompt(t) for t, _ in P.SENTIMENT_TESTS])
    corr = _logits(model, tok, [P.sentiment_prompt(t, corrupted=True)
                                    for t, _ in P.SENTIMENT_TESTS])
    rows = []
    for i, (t, l) in enumerate(P.SENTIMENT_TESTS):
        s = P.LABEL_SWAP[l]
        rows.append({"review": t, "label": l,
                     "clean": tok.decode([int(clean[i].argmax())]).strip(),
                     "clean_gap": round(float(clean[i, ids[l]] - clean[i, ids[s]]), 3),
                     "corrupted": tok.decode([int(corr[i].argmax())]).strip(),
                     "corrupted_gap": round(float(corr[i, ids[s]] - corr[i, ids[l]]), 3)})
    rng = random.Random("lesson-sentiment")
    ident = {l: l for l in icl.LABELS}
    cp, ca, sp, sa = [], [], [], []
    for _ in range(n):
        label, k = rng.choice(icl.LABELS), rng.randint(2, 6)
        seed = rng.random()
        p, a = icl.remapped_prompt(random.Random(seed), "eval", ident, k, label)
        cp.append(p), ca.append(a)
        p, a = icl.remapped_prompt(random.Random(seed), "eval", dict(P.LABEL_SWAP), k, label)
        sp.append(p), sa.append(a)
    acc = lambda lg, ans: sum(int(lg[i].argmax()) == ids[a]   # noqa: E731
                              for i, a in enumerate(ans)) / len(ans)
    held_clean = acc(_logits(model, tok, cp, batch_size=32), ca)
    held_corr = acc(_logits(model, tok, sp, batch_size=32), sa)
    return {"course": rows,
            "course_clean": sum(r["clean"] == r["label"] for r in rows) / 4,
            "course_corrupted": sum(r["corrupted"] == P.LABEL_SWAP[r["label"]] for r in rows) / 4,
            "course_min_gap": min(min(r["clean_gap"], r["corrupted_gap"]) for r in rows),
            "heldout_clean": held_clean, "heldout_corrupted": held_corr, "n_heldout": n,
            "chance": 0.25}


def conflicts(model, tok) -> dict:
    """Memory answers against a false context, per familiarity tier of the made-up facts
    (held-out false values): the memory answer's first token scores above the context's."""
    rng = random.Random("lesson-conflicts")
    rates = {}
    for tier in familiar.TIERS:
        items = [familiar.conflict_item(rng, f, "eval") for f in familiar.FACTS if f[0] == tier]
        lg = _logits(model, tok, [p for p, _, _ in items])
        mem = [float(lg[i, first_token(tok, m)] > lg[i, first_token(tok, c)])
               for i, (_, m, c) in enumerate(items)]
        rates[tier] = sum(mem) / len(mem)
    r = list(rates.values())
    return {"memory_rate": rates, "n_per_tier": familiar.PER_TIER,
            "rises": all(a < b for a, b in zip(r, r[1:]))}


def monitor(model, tok, n_train: int = 5, n_test: int = 20, max_new: int = 100) -> dict:
    """Notebook 04's provenance monitor: fitted on n_train generated patients' reference
    summaries, scored on the model's own greedy summaries of n_test held-out patients, labelled
    by the generator's exact spans (`utils.provenance.summary_labels`). Balanced accuracy and
    ROC AUC beside the majority baseline."""
    import numpy as np
    from utils.conflicts import token_head_relevance_batched as relevance
    from utils.generation import greedy_ids
    from utils.lrp import attnlrp
    from utils.monitor import fit_monitor, score_against_truth
    from utils.provenance import (handover_examples, monitor_features, prompt_ids,
                                  provenance_dataset, summary_labels)
    with attnlrp(model):
        train = provenance_dataset(model, tok, handover_examples(range(n_train), "train"),
                                   token_relevance=relevance)
    fitted = fit_monitor(train.features, train.labels)
    features, truth, rules = [], [], []
    for example in handover_examples(range(n_test), "eval"):
        chat = prompt_ids(tok, example["messages"])
        full = greedy_ids(model, tok, chat, max_new_tokens=max_new)
        labels, rule = summary_labels(tok, example["record"], full[0, chat.shape[1]:].tolist())
        with attnlrp(model):
            features.append(monitor_features(relevance(model, full, chat.shape[1])))
        truth.append(labels)
        rules.append(rule)
    features, truth = np.concatenate(features), np.concatenate(truth).astype(bool)
    p_memory = fitted.predict_proba(features)[:, 1]
    score = score_against_truth(p_memory > 0.5, truth, p_memory)
    return {**{k: (round(float(v), 4) if isinstance(v, float) else v) for k, v in score.items()},
            "n_train_patients": n_train, "n_test_patients": n_test,
            "labels": {r: rules.count(r) for r in set(rules)}}


def everyday(model, tok, seed: int = 0) -> dict:
    """The descriptive, sentiment and word-task abilities on everyday wording
    (`course_model.everyday`: key words and templates the corpus never uses). No thresholds:
    `lessons` puts each figure beside its in-corpus held-out twin."""
    from course_model import everyday as E
    from course_model.evaluate import greedy
    from utils import prompts as P
    from utils.function_vectors import first_token_accuracy, icl_prompt
    ids = {l: first_token(tok, l) for l in icl.LABELS}
    clean = _logits(model, tok, [P.sentiment_prompt(t) for t, _, _ in E.SENTIMENT])
    corr = _logits(model, tok, [P.sentiment_prompt(t, corrupted=True)
                                    for t, _, _ in E.SENTIMENT])
    n = len(E.SENTIMENT)
    sentiment_ = {"clean": sum(int(clean[i].argmax()) == ids[l]
                               for i, (_, l, _) in enumerate(E.SENTIMENT)) / n,
                  "corrupted": sum(int(corr[i].argmax()) == ids[P.LABEL_SWAP[l]]
                                   for i, (_, l, _) in enumerate(E.SENTIMENT)) / n, "n": n}
    gens = greedy(model, tok, [f"{p}\nQ: {q}\nA:" for p, q, _, _ in E.DESCRIBE], max_new=8)
    describe_ = {"asked_list": sum(any(g.strip().startswith(x) for x in asked)
                                   for g, (_, _, asked, _) in zip(gens, E.DESCRIBE)) / len(gens),
                 "other_list": sum(any(g.strip().startswith(x) for x in other)
                                   for g, (_, _, _, other) in zip(gens, E.DESCRIBE)) / len(gens),
                 "n": len(gens), "answers": [g.strip() for g in gens]}
    rng = random.Random(f"lesson-everyday-{seed}")
    words = {}
    for task, pairs in E.WORD_TASKS.items():
        demos = W.task_pairs(task, "train")
        prompts = [icl_prompt(rng.sample(demos, 5), q) for q, _ in pairs]
        words[task] = first_token_accuracy(model, tok, prompts, [" " + a for _, a in pairs])
    return {"sentiment": sentiment_, "describe": describe_,
            "word_tasks_icl_5_demos": words,
            "word_tasks_mean": sum(words.values()) / len(words)}


def table(res: dict) -> str:
    lines = [f"{'lesson metric':<26}{'score':>8}{'threshold':>11}  pass"]
    for k, th in res["thresholds"].items():
        cmp = "<" if k == "fv_random_gain_max" else ">="
        lines.append(f"{k:<26}{res['scores'][k]:>8.3f}{cmp:>3}{th:>8.3f}  "
                     f"{'yes' if res['pass'][k] else 'NO'}")
    return "\n".join(lines)
