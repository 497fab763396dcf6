"""What each lesson teaches, measured on the course model: the "lessons" section of eval.json.

    res = lessons(model, tok)        # dict: one entry per lesson, each with its figures, the
                                     # baseline or control beside them, thresholds and pass

Every item is held out from training (`split="eval"` of the families, the course's own
prompts). The function-vector measurement follows Todd et al. (2024) and notebook 03:
mean head outputs at the last position over in-context prompts; heads ranked by their causal
indirect effect on prompts with shuffled labels; the vector is the sum of the chosen heads'
mean outputs through o_proj, added to the residual stream after a middle layer of a bare
zero-shot prompt ("fast ->").
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


# ------------------------------------------------------------------------------ model helpers
def _batch(tok, prompts: list[str]):
    """Left-padded input_ids, attention_mask and position_ids [n, seq] (last column: the end)."""
    ids = [tok(p)["input_ids"] for p in prompts]
    L = max(map(len, ids))
    x = torch.full((len(ids), L), tok.pad_token_id)
    m = torch.zeros((len(ids), L), dtype=torch.long)
    for j, s in enumerate(ids):
        x[j, L - len(s):] = torch.tensor(s)
        m[j, L - len(s):] = 1
    return x, m, (m.cumsum(1) - 1).clamp(min=0)


@torch.no_grad()
def last_logits(model, tok, prompts: list[str], bs: int = 64) -> torch.Tensor:
    """[n, vocab] logits at each prompt's last position."""
    out = []
    for i in range(0, len(prompts), bs):
        x, m, p = _batch(tok, prompts[i:i + bs])
        out.append(model(input_ids=x, attention_mask=m, position_ids=p).logits[:, -1].float())
    return torch.cat(out)


def first_token(tok, answer: str) -> int:
    return tok(" " + answer, add_special_tokens=False)["input_ids"][0]


# ------------------------------------------------------------------------------ function vectors
# The course's own answers (notebook 03's exercises) and library measure the vector, so the
# figures here are what a learner who solves the exercises gets.
def _fv_tools():
    from solutions import function_vectors as answers
    from utils import function_vectors as fv
    return answers, fv


def _task_prompts(rng, task: str, n: int, shuffled: bool = False, k: int = 5):
    """n arrow-format ICL prompts over training pairs (answers: the query's output); with
    shuffled=True the demonstrations' outputs are permuted (the task is hidden)."""
    pool = W.task_pairs(task, "train")
    prompts, answers = [], []
    for _ in range(n):
        pairs = rng.sample(pool, k + 1)
        demos = pairs[:k]
        if shuffled:
            outs = [b for _, b in demos]
            rng.shuffle(outs)
            demos = [(a, b) for (a, _), b in zip(demos, outs)]
        prompts.append(W.icl_prompt(demos, pairs[k][0]))
        answers.append(pairs[k][1])
    return prompts, answers


def function_vectors(model, tok, n_prompts: int = 20, n_shuffled: int = 6, seed: int = 0) -> dict:
    """Per task: zero-shot accuracy on held-out words without and with the task's vector,
    with a vector from as many random heads (control), and the ICL accuracy on the same
    words (what the model can do with demonstrations). Heads are ranked by their indirect
    effect on n_shuffled label-shuffled prompts per task. The vector is added after layer
    n_layers // 3 (as Todd et al.). Beside them, the same on the training words (their pairs
    appear in task formats in the corpus; not a threshold)."""
    from utils.models import model_shape
    answers, fv = _fv_tools()
    rng = random.Random(f"lesson-fv-{seed}")
    n_layers, n_heads, _ = model_shape(model)
    means, effects = {}, []
    for task in W.TASKS:
        prompts, _ = _task_prompts(rng, task, n_prompts)
        means[task] = answers.mean_head_outputs(model, tok, prompts)
        sp, sa = _task_prompts(rng, task, n_shuffled, shuffled=True)
        effects.append(answers.indirect_effects(model, tok, sp, [" " + a for a in sa],
                                                means[task]))
    aie = torch.stack(effects).mean(0)   # average over tasks: heads that carry "the task"
    top = aie.flatten().topk(FV_HEADS).indices.tolist()
    heads = [(i // n_heads, i % n_heads) for i in top]
    all_heads = [(l, h) for l in range(n_layers) for h in range(n_heads)]
    random_heads = random.Random(f"lesson-fv-random-{seed}").sample(
        [h for h in all_heads if h not in heads], FV_HEADS)

    def acc(prompts, words, vector=None):
        """Share of prompts whose greedy next token starts the word: utils'
        `first_token_accuracy` in left-padded batches (the same figures, faster)."""
        targets = torch.tensor([first_token(tok, w) for w in words])
        if vector is None:
            return (last_logits(model, tok, prompts).argmax(-1) == targets).float().mean().item()
        with fv.add_to_residual(model, vector, layer):
            return (last_logits(model, tok, prompts).argmax(-1) == targets).float().mean().item()

    def zero_shot(task, split):
        pairs = W.task_pairs(task, split)
        return [fv.zero_shot_prompt(a) for a, _ in pairs], [b for _, b in pairs]
    layer = n_layers // 3
    per_task, in_corpus = {}, {}
    for task in W.TASKS:
        v = answers.function_vector(model, means[task], heads)
        rv = answers.function_vector(model, means[task], random_heads)
        p, a = zero_shot(task, "eval")
        demos = W.task_pairs(task, "train")
        icl_p = [fv.icl_prompt(rng.sample(demos, 5), q) for q, _ in W.heldout_pairs(task)]
        per_task[task] = {"n": len(p), "zero_shot": acc(p, a), "with_vector": acc(p, a, v),
                          "random_heads": acc(p, a, rv), "icl_5_demos": acc(icl_p, a)}
        p, a = zero_shot(task, "train")
        icl_p = [fv.icl_prompt(rng.sample([d for d in demos if d[0] != q], 5), q)
                 for q, _ in demos]
        in_corpus[task] = {"n": len(p), "zero_shot": acc(p, a), "with_vector": acc(p, a, v),
                           "icl_5_demos": acc(icl_p, a)}
    mean = {k: sum(r[k] for r in per_task.values()) / len(per_task)
            for k in ("zero_shot", "with_vector", "random_heads", "icl_5_demos")}
    in_mean = {k: sum(r[k] for r in in_corpus.values()) / len(in_corpus)
               for k in ("zero_shot", "with_vector", "icl_5_demos")}
    return {"per_task": per_task, "mean": mean, "layer": layer, "heads": heads,
            "training_words": in_corpus, "training_words_mean": in_mean,
            "random_heads": random_heads, "gain": mean["with_vector"] - mean["zero_shot"],
            "random_gain": mean["random_heads"] - mean["zero_shot"]}


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
    clean = last_logits(model, tok, [P.sentiment_prompt(t) for t, _ in P.SENTIMENT_TESTS])
    corr = last_logits(model, tok, [P.sentiment_prompt(t, corrupted=True)
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
    held_clean = acc(last_logits(model, tok, cp, bs=32), ca)
    held_corr = acc(last_logits(model, tok, sp, bs=32), sa)
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
        lg = last_logits(model, tok, [p for p, _, _ in items])
        mem = [float(lg[i, first_token(tok, m)] > lg[i, first_token(tok, c)])
               for i, (_, m, c) in enumerate(items)]
        rates[tier] = sum(mem) / len(mem)
    r = list(rates.values())
    return {"memory_rate": rates, "n_per_tier": familiar.PER_TIER,
            "rises": all(a < b for a, b in zip(r, r[1:]))}


def _quantity_source(rng) -> tuple[str, str]:
    """(prompt ending in "A:", its question as the substring): a held-out number fact."""
    from course_model.families import reading
    while True:
        sentence, question, answer = reading.num_fact(rng, "eval")
        if answer[:1].isdigit():
            q = f"Q: {question}?"
            return f"{sentence} {rng.choice(reading.FILLERS)}\n{q}\nA:", q


def _is_number(text: str) -> bool:
    return text.strip()[:1].isdigit()


def transplant(model, tok, n_pairs: int = 24, n_random: int = 2, max_new: int = 4) -> dict:
    """Notebook 03's transplant over n_pairs held-out pairs: the heads that read a quantity
    question (top k by LRP relevance on the question) carry their last-position output into a
    descriptive question ("Which animals live ...?"). How often does the target's greedy answer
    (max_new tokens) become a number, with those heads, with k random heads (control, n_random
    draws) and with none? Uses the notebook's functions (`compare_transplant` with the course's
    capture and transplant answers, heads by `substring_head_scores`)."""
    from solutions import function_vectors as answers
    from utils.function_vectors import random_heads
    from utils.heads import select_top_heads
    from utils.transplant import compare_transplant, default_k
    rng = random.Random("lesson-transplant")
    k = default_k(model)
    counts = {"before": 0, "task_heads": 0, "random_heads": 0.0}
    rows = []

    def run(source, target, heads):
        return compare_transplant(model, tok, source, heads, target, max_new_tokens=max_new,
                                  capture=answers.head_outputs_at_last,
                                  transplant=answers.transplant_heads)
    for i in range(n_pairs):
        source, question = _quantity_source(rng)
        target = describe.describe_item(rng, "eval")[0]
        top = select_top_heads(answers.substring_head_scores(model, tok, source, question), k)
        before, after = run(source, target, top)
        rand = [_is_number(run(source, target, random_heads(model, k, seed=100 * i + j))[1])
                for j in range(n_random)]
        counts["before"] += _is_number(before)
        counts["task_heads"] += _is_number(after)
        counts["random_heads"] += sum(rand) / n_random
        rows.append({"before": before, "task_heads": after})
    rates = {key: v / n_pairs for key, v in counts.items()}
    return {"number_rate": rates, "k": k, "n_pairs": n_pairs, "examples": rows[:6],
            "beats_random": rates["task_heads"] > rates["random_heads"]}


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
    clean = last_logits(model, tok, [P.sentiment_prompt(t) for t, _, _ in E.SENTIMENT])
    corr = last_logits(model, tok, [P.sentiment_prompt(t, corrupted=True)
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


def lessons(model, tok) -> dict:
    """Every lesson's figures, thresholds and pass/fail (see THRESHOLDS)."""
    fv = function_vectors(model, tok)
    tr = transplant(model, tok)
    at = atlantic(model, tok)
    se = sentiment(model, tok)
    co = conflicts(model, tok)
    mo = monitor(model, tok)
    ed = everyday(model, tok)
    # beside each everyday figure, its in-corpus held-out twin
    ed["in_corpus"] = {"sentiment_clean": se["heldout_clean"],
                       "sentiment_corrupted": se["heldout_corrupted"],
                       "describe_asked_list": at["heldout_asked_list"],
                       "word_tasks_icl_5_demos": fv["mean"]["icl_5_demos"]}
    scores = {"atlantic_names_listed": at["score"], "fv_gain_mean": fv["gain"],
              "fv_random_gain_max": fv["random_gain"],
              "icl_course_clean": se["course_clean"], "icl_course_corrupted": se["course_corrupted"],
              "icl_course_gap_nats": se["course_min_gap"], "icl_heldout_clean": se["heldout_clean"],
              "icl_heldout_corrupted": se["heldout_corrupted"],
              "conflict_memory_rises": float(co["rises"]),
              "monitor_balanced_accuracy": mo["balanced accuracy"],
              "transplant_beats_random": float(tr["beats_random"])}
    passed = {k: (scores[k] < THRESHOLDS[k]) if k == "fv_random_gain_max"
              else scores[k] >= THRESHOLDS[k] - 1e-9 for k in THRESHOLDS}
    return {"scores": scores, "thresholds": THRESHOLDS, "pass": passed,
            "function_vectors": fv, "transplant": tr, "atlantic": at, "sentiment": se,
            "conflicts": co, "monitor": mo, "everyday": ed}


def table(res: dict) -> str:
    lines = [f"{'lesson metric':<26}{'score':>8}{'threshold':>11}  pass"]
    for k, th in res["thresholds"].items():
        cmp = "<" if k == "fv_random_gain_max" else ">="
        lines.append(f"{k:<26}{res['scores'][k]:>8.3f}{cmp:>3}{th:>8.3f}  "
                     f"{'yes' if res['pass'][k] else 'NO'}")
    return "\n".join(lines)
