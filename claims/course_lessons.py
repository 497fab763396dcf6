"""eval.json's "lessons" section of the course model: entries of the course's registry of claims.

    python -m claims.course_lessons [--model DIR] [--fast]    # writes eval.json (make eval-model)
    res = lessons(model, tok)     # the section: scores, thresholds, pass, and each lesson's figures

Each threshold of `course_model.lessons.THRESHOLDS` is one `Claim` in `LESSONS` (measurement,
control, threshold), decided by `claims.report` like the notebooks' claims; the figures are
those eval.json has always had (same items, same seeds). The measurements that need only the
library stay in `course_model.lessons`; those that run the course's answer key (the function
vectors and the transplant) live here, so that `course_model` never imports `solutions`.

The function-vector measurement follows Todd et al. (2024) and notebook 03: mean head outputs
at the last position over in-context prompts; heads ranked by their causal indirect effect on
prompts with shuffled labels; the vector is the sum of the chosen heads' mean outputs through
o_proj, added to the residual stream after a middle layer of a bare zero-shot prompt ("fast ->").
"""
from __future__ import annotations

import random
import sys

import torch

from claims import Claim, Context, Measurement, Threshold, report
from course_model.families import describe, word_tasks as W
from course_model.lessons import (FV_HEADS, THRESHOLDS, atlantic, conflicts, everyday, first_token,
                                  monitor, sentiment, table)
from utils.logits import last_position_logits


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
            return (last_position_logits(model, tok, prompts, batch_size=64).argmax(-1) == targets).float().mean().item()
        with fv.add_to_residual(model, vector, layer):
            return (last_position_logits(model, tok, prompts, batch_size=64).argmax(-1) == targets).float().mean().item()

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


# ------------------------------------------------------------------------------ the registry
def _measured(ctx: Context) -> dict:
    """Every lesson measurement once per model (the order of the former `lessons`)."""
    def compute():
        m, t = ctx.model, ctx.tokenizer
        out = {"function_vectors": function_vectors(m, t), "transplant": transplant(m, t),
               "atlantic": atlantic(m, t), "sentiment": sentiment(m, t),
               "conflicts": conflicts(m, t), "monitor": monitor(m, t), "everyday": everyday(m, t)}
        fv, se, at = out["function_vectors"], out["sentiment"], out["atlantic"]
        # beside each everyday figure, its in-corpus held-out twin
        out["everyday"]["in_corpus"] = {"sentiment_clean": se["heldout_clean"],
                                        "sentiment_corrupted": se["heldout_corrupted"],
                                        "describe_asked_list": at["heldout_asked_list"],
                                        "word_tasks_icl_5_demos": fv["mean"]["icl_5_demos"]}
        return out
    return ctx.memo("course_lessons", compute)


# metric -> (notebook, sentence, control, section, how to read the score and its n)
_SCORES = {
    "atlantic_names_listed": ("03", "The Atlantic prompt's greedy answer names something the "
                              "passage lists", "held-out questions: an item of another list",
                              lambda r: (r["atlantic"]["score"], 1)),
    "fv_gain_mean": ("03", "The function vector lifts zero-shot accuracy on held-out words",
                     "a vector of as many random heads",
                     lambda r: (r["function_vectors"]["gain"],
                                sum(t["n"] for t in r["function_vectors"]["per_task"].values()))),
    "fv_random_gain_max": ("03", "A vector of random heads lifts it by less than 0.10",
                           "no vector", lambda r: (r["function_vectors"]["random_gain"],
                           sum(t["n"] for t in r["function_vectors"]["per_task"].values()))),
    "icl_course_clean": ("05", "The course's four reviews are labelled right in context",
                         "chance 0.25", lambda r: (r["sentiment"]["course_clean"], 4)),
    "icl_course_corrupted": ("05", "With swapped labels the four reviews follow the swap",
                             "chance 0.25", lambda r: (r["sentiment"]["course_corrupted"], 4)),
    "icl_course_gap_nats": ("05", "The smallest logit gap of the four reviews, clean or swapped",
                            "no gap (0)", lambda r: (r["sentiment"]["course_min_gap"], 4)),
    "icl_heldout_clean": ("05", "Held-out in-context reviews are labelled right", "chance 0.25",
                          lambda r: (r["sentiment"]["heldout_clean"], r["sentiment"]["n_heldout"])),
    "icl_heldout_corrupted": ("05", "Held-out reviews follow swapped labels", "chance 0.25",
                              lambda r: (r["sentiment"]["heldout_corrupted"],
                                         r["sentiment"]["n_heldout"])),
    "conflict_memory_rises": ("04", "Memory answers rise with the fact's familiarity tier",
                              "the rarest tier", lambda r: (float(r["conflicts"]["rises"]),
                                                            r["conflicts"]["n_per_tier"] * 3)),
    "monitor_balanced_accuracy": ("04", "The provenance monitor reaches balanced accuracy 0.80 "
                                  "on held-out patients' own summaries", "constant guess 0.50",
                                  lambda r: (r["monitor"]["balanced accuracy"],
                                             r["monitor"]["n_test_patients"])),
    "transplant_beats_random": ("03", "Transplanted question heads make the answer a number "
                                "more often than random heads", "as many random heads",
                                lambda r: (float(r["transplant"]["beats_random"]),
                                           r["transplant"]["n_pairs"])),
}


def _lesson(metric: str) -> Claim:
    notebook, text, control, read = _SCORES[metric]

    def measure(ctx: Context) -> Measurement:
        score, n = read(_measured(ctx))
        return Measurement(float(score), None, metric, control, n_items=int(n))
    # the random-head gain must stay below its threshold; every other score reach its own
    threshold = (Threshold("mean", "<", THRESHOLDS[metric]) if metric == "fv_random_gain_max"
                 else Threshold("mean", ">=", THRESHOLDS[metric] - 1e-9))
    return Claim(notebook, metric, text, measure, threshold, control, course=False)


LESSONS = [_lesson(metric) for metric in THRESHOLDS]


def lessons(model, tok) -> dict:
    """eval.json's lessons section: every lesson's score, threshold and pass, and its figures."""
    ctx = Context(model, tok, "course")
    results = report(ctx, entries=LESSONS)
    failed = [v.figure for _, v in results if v.measurement is None]
    if failed:   # on the course model every measurement must run; say which did not
        raise RuntimeError("a lesson could not be measured: " + "; ".join(failed))
    return {"scores": {c.id: v.measurement.value("mean") for c, v in results},
            "thresholds": THRESHOLDS, "pass": {c.id: v.holds for c, v in results},
            **_measured(ctx)}


def main(argv=None):
    from course_model import evaluate
    return evaluate.main(argv, lessons=(lessons, table))


if __name__ == "__main__":
    main(sys.argv[1:])
