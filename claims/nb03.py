"""Notebook 03's claims: heads that carry a task or a fact, transplanted over many prompt pairs.

Each pair takes a held-out reading prompt (a quantity fact and its question) as the source and a
held-out descriptive question as the target. The top-k heads by `substring_head_scores` on the
question (task heads) or on the answer in the passage (retrieval heads) carry their output at the
source's last position into the target's; the effect is the rise of log p(the source's answer)
on the target. The control is the distribution of `ctx.draws` random sets of k heads, each set
transplanted into every pair.

Transplanting heads' own outputs back into the same prompt changes nothing by construction: an
implementation test (tests/test_construction.py), not a claim.

The function vector (`function-vector-gain` in MEASUREMENTS) comes from
`utils.function_vectors.function_vector_report`, run on notebook 03's word tasks
(`utils.prompts.FV_NOTEBOOK_TASKS`): minutes per task on a CPU, so it is measured for the
lessons files and decided in the notebook on the reports it has already run.
"""
from __future__ import annotations

import numpy as np

from claims import Claim, Context, Measurement, Threshold
from claims.items import describe_prompts, reading_items
from utils.stats import against_draws, mean_interval

N_PAIRS = 20


def _pairs(ctx: Context) -> list[dict]:
    """Per pair: source/target ids, the source's answer, every head's output at the source's
    last position, and the clean log p of the answer on the target."""
    def compute():
        import torch

        from solutions.function_vectors import head_outputs_at_last
        from utils.models import model_shape
        from utils.tokens import encode
        n_layers, n_heads, _ = model_shape(ctx.model)
        every = [(l, h) for l in range(n_layers) for h in range(n_heads)]
        n = ctx.n_items(N_PAIRS)
        pairs = []
        for (source, question, answer), target in zip(reading_items(n), describe_prompts(n)):
            sid, tid = encode(ctx.tokenizer, source, ctx.model), encode(ctx.tokenizer, target, ctx.model)
            with torch.no_grad():
                token = int(ctx.model(sid).logits[0, -1].argmax())
                clean = float(ctx.model(tid).logits[0, -1].float().log_softmax(-1)[token])
            outputs = head_outputs_at_last(ctx.model, sid, every)
            pairs.append(dict(source=source, question=question, answer=answer, target_ids=tid,
                              token=token, clean=clean,
                              outputs=outputs.reshape(n_layers, n_heads, -1)))
        return pairs
    return ctx.memo("nb03.pairs", compute)


def _rise(ctx: Context, pair: dict, heads) -> float:
    import torch

    from solutions.function_vectors import transplant_heads
    vectors = torch.stack([pair["outputs"][l, h] for l, h in heads])
    with transplant_heads(ctx.model, heads, vectors), torch.no_grad():
        logits = ctx.model(pair["target_ids"]).logits[0, -1].float()
    return float(logits.log_softmax(-1)[pair["token"]]) - pair["clean"]


def _batched_rises(ctx: Context, heads) -> np.ndarray:
    """Rise of log p(source answer) per pair [n_pairs] with `heads` transplanted, every target
    in one left-padded batch (each row gets its own source's head outputs).

    A transplant writes at the last position only, so nothing before it changes: the targets'
    prefixes run once and are kept as a key/value cache, and each set of heads runs the last
    token alone (about as many times faster as the targets have tokens)."""
    import torch

    from utils.hooks import o_proj_pre_hooks
    from utils.logits import left_padded
    from utils.models import input_device, model_shape
    pairs = _pairs(ctx)
    _, n_heads, head_dim = model_shape(ctx.model)
    device = input_device(ctx.model)
    batch = ctx.memo("nb03.batch", lambda: [t.to(device) for t in left_padded(
        ctx.tokenizer, [p["target_ids"][0].tolist() for p in pairs])])
    outputs = ctx.memo("nb03.outputs", lambda: torch.stack([p["outputs"] for p in pairs]))
    tokens = torch.tensor([p["token"] for p in pairs])
    by_layer: dict[int, list[int]] = {}
    for layer, head in heads:
        by_layer.setdefault(int(layer), []).append(int(head))

    def write(layer):
        def hook(module, args):
            x = args[0].clone().unflatten(-1, (n_heads, head_dim))   # the model's tensor stays
            for head in by_layer[layer]:
                x[:, -1, head] = outputs[:, layer, head].to(x)
            return (x.flatten(-2),) + tuple(args[1:])
        return hook

    ids, mask, pos = batch
    prefix = ids.shape[1] - 1

    def run_prefix():
        with torch.no_grad():
            return ctx.model(input_ids=ids[:, :-1], attention_mask=mask[:, :-1],
                             position_ids=pos[:, :-1], use_cache=True).past_key_values
    cache = ctx.memo("nb03.prefix_cache", run_prefix)

    def log_p(hooks):
        try:
            with torch.no_grad(), o_proj_pre_hooks(ctx.model, hooks):
                logits = ctx.model(input_ids=ids[:, -1:], attention_mask=mask,
                                   position_ids=pos[:, -1:], past_key_values=cache,
                                   use_cache=True).logits[:, -1]
        finally:
            cache.crop(prefix)   # back to the prefix for the next set of heads
        return logits.float().cpu().log_softmax(-1)[torch.arange(len(pairs)), tokens].numpy()
    clean = ctx.memo("nb03.batch_clean", lambda: log_p({}))
    return log_p({layer: write(layer) for layer in by_layer}) - clean


def _random_draws(ctx: Context) -> np.ndarray:
    """Mean rise over the pairs for each of ctx.draws random sets of k heads [draws]."""
    def compute():
        from utils.function_vectors import random_heads
        from utils.transplant import default_k
        k = default_k(ctx.model)
        return np.array([_batched_rises(ctx, random_heads(ctx.model, k, seed=d)).mean()
                         for d in range(ctx.draws)])
    return ctx.memo("nb03.random", compute)


def _transplant(kind: str):
    def measure(ctx: Context) -> Measurement:
        from solutions.function_vectors import substring_head_scores
        from utils.heads import select_top_heads
        from utils.transplant import default_k
        k = default_k(ctx.model)
        rises = []
        for p in _pairs(ctx):
            substring = p["question"] if kind == "task" else p["answer"]
            top = select_top_heads(substring_head_scores(ctx.model, ctx.tokenizer, p["source"],
                                                         substring), k)
            rises.append(_rise(ctx, p, top))
        effect = mean_interval(rises)
        return Measurement(effect, against_draws(effect.mean, _random_draws(ctx)),
                           f"rise of log p(source answer), {k} {kind} heads",
                           f"{k} random heads", {"k": k})
    return measure


def function_vector_measurement(reports: dict) -> Measurement:
    """The function vector's gain pooled over tasks, from `function_vector_report`s
    ({task: report}): per scored query, right with the vector minus right zero-shot (n = all
    scored queries of the tasks with a vector); the control is each random-head draw's gain,
    pooled the same way (one figure per draw). Notebook 03 decides its verdict with it."""
    done = {t: r for t, r in reports.items() if "skipped" not in r}
    if not done:
        raise ValueError("no task has a function vector on this model (each was skipped: the "
                         "model solves too few of its queries in context), so there is no gain "
                         "to decide; try other tasks or another model")
    gains = np.concatenate([np.asarray(r["with_vector_right"], float)
                            - np.asarray(r["zero_shot_right"], float) for r in done.values()])
    weights = np.array([r["n_scored"] for r in done.values()], float)
    n_draws = min(len(r["random_heads"]) for r in done.values())
    random_gains = [float(np.dot([r["random_heads"][d] - r["zero_shot"] for r in done.values()],
                                 weights) / weights.sum()) for d in range(n_draws)]
    effect = mean_interval(gains)
    details = {t: {k: r[k] for k in ("in_context", "zero_shot", "with_vector", "n_scored",
                                     "layer", "heads", "random_heads")} for t, r in done.items()}
    details["skipped"] = sorted(set(reports) - set(done))
    return Measurement(effect, against_draws(effect.mean, random_gains),
                       f"function-vector gain per scored query ({len(done)} tasks)",
                       "random heads", details)


# Issue-level bar of one task (Todd et al.'s protocol on a real model): the 95 % interval of the
# vector's gain starts at TASK_GAIN or above, on at least TASK_MIN_SCORED held-out queries the
# model solves in context, and none of at least TASK_MIN_DRAWS random-head draws lifts the task
# by more than TASK_RANDOM_MAX.
TASK_GAIN, TASK_MIN_SCORED, TASK_RANDOM_MAX, TASK_MIN_DRAWS = 0.40, 20, 0.10, 10


def task_bar(report: dict) -> dict:
    """One task's report against the per-task bar: its gain interval, n, best random gain and
    whether it passes. A task without a vector (skipped) does not pass."""
    if "skipped" in report:
        return {"passes": False, "why": report["skipped"]}
    gain = mean_interval(np.asarray(report["with_vector_right"], float)
                         - np.asarray(report["zero_shot_right"], float))
    best_random = max(r - report["zero_shot"] for r in report["random_heads"])
    why = [text for fails, text in (
        (gain.low < TASK_GAIN, f"gain interval starts at {gain.low:.2f} < {TASK_GAIN}"),
        (report["n_scored"] < TASK_MIN_SCORED, f"n = {report['n_scored']} < {TASK_MIN_SCORED}"),
        (best_random > TASK_RANDOM_MAX, f"a random draw lifts it by {best_random:.2f} > {TASK_RANDOM_MAX}"),
        (len(report["random_heads"]) < TASK_MIN_DRAWS,
         f"{len(report['random_heads'])} random draws < {TASK_MIN_DRAWS}")) if fails]
    return {"passes": not why, "gain": gain, "n": report["n_scored"],
            "best_random": best_random, "why": "; ".join(why)}


def function_vector_tasks_measurement(reports: dict) -> Measurement:
    """How many tasks pass the per-task bar (`task_bar`), of the tasks tried ({task: report});
    n = all scored queries. The label lists which tasks pass and why the others do not; the
    control counts, per random-head draw, the tasks that draw alone lifts by TASK_GAIN."""
    if not reports:
        raise ValueError("no task reports: run function_vector_report on at least one task")
    bars = {task: task_bar(r) for task, r in reports.items()}
    passing = [t for t, b in bars.items() if b["passes"]]
    failing = [f"{t} ({b['why']})" for t, b in bars.items() if not b["passes"]]
    label = (f"tasks passing the per-task bar, of {len(bars)} tried "
             f"[pass: {', '.join(passing) or 'none'}"
             + (f"; fail: {'; '.join(failing)}" if failing else "") + "]")
    n_scored = sum(r.get("n_scored", 0) for r in reports.values())
    # the control: each random draw taken as the vector, the tasks it lifts by TASK_GAIN or more
    # (its accuracy alone is kept, so its point estimate: a lenient bar for the control)
    done = [r for r in reports.values() if "skipped" not in r]
    n_draws = min((len(r["random_heads"]) for r in done), default=0)
    control = against_draws(len(passing), [
        sum(r["random_heads"][d] - r["zero_shot"] >= TASK_GAIN for r in done)
        for d in range(n_draws)]) if n_draws else None
    return Measurement(len(passing), control, label,
                       f"random heads as the vector (tasks lifted by {TASK_GAIN} or more)", details={
        t: {k: (str(v) if k == "gain" else v) for k, v in b.items()} for t, b in bars.items()},
        n_items=max(n_scored, 1))


def head_choice_overlap_measurement(reports: dict, draws: int = 1000, seed: int = 0) -> Measurement:
    """How many of the k heads the indirect effect and LRP both choose, per task with a vector
    (n = tasks), against `draws` seeded pairs of random k-head choices per task, averaged over
    the tasks the same way (one figure per draw)."""
    done = [r for r in reports.values() if "skipped" not in r]
    if not done:
        raise ValueError("no task has a function vector on this model, so there are no head "
                         "choices to compare")
    rng = np.random.default_rng(seed)
    n_heads = len(done[0]["effects"]) * len(done[0]["effects"][0])
    random_means = np.mean([[len(np.intersect1d(rng.choice(n_heads, r["k"], replace=False),
                                                rng.choice(n_heads, r["k"], replace=False)))
                             for _ in range(draws)] for r in done], axis=0)
    effect = mean_interval([r["overlap"] for r in done])
    return Measurement(effect, against_draws(effect.mean, random_means),
                       f"heads shared by the indirect-effect and LRP choices (of {done[0]['k']})",
                       "two random choices", {"per_task": [r["overlap"] for r in done]})


def _function_vector_reports(ctx: Context) -> dict:
    """function_vector_report on each of notebook 03's tasks (FV_NOTEBOOK_TASKS)."""
    from utils.function_vectors import function_vector_report
    from utils.prompts import FV_NOTEBOOK_TASKS, FV_TASKS
    return ctx.memo("nb03.fv_reports", lambda: {
        task: function_vector_report(ctx.model, ctx.tokenizer, FV_TASKS[task], verbose=False)
        for task in FV_NOTEBOOK_TASKS})


def _function_vector_gain(ctx: Context) -> Measurement:
    return function_vector_measurement(_function_vector_reports(ctx))


CLAIMS = [
    Claim("03", "task-heads-move-target",
          "Task heads move the target toward the source's answer more than random heads",
          _transplant("task"), Threshold("p", "<=", 0.05), "random sets of k heads"),
    Claim("03", "retrieval-heads-move-target",
          "Retrieval heads move the target toward the source's answer more than random heads",
          _transplant("retrieval"), Threshold("p", "<=", 0.05), "random sets of k heads",
          course=False),   # on held-out pairs the course model's retrieval heads do not beat random
]

MEASUREMENTS = [
    Claim("03", "function-vector-gain",
          "A function vector lifts zero-shot accuracy by at least 0.40, and no random draw of as "
          "many heads lifts it by more than 0.10", _function_vector_gain,
          (Threshold("low", ">=", 0.40), Threshold("control_extreme", "<=", 0.10)),
          "random heads (per draw)", course=False),
    Claim("03", "function-vector-tasks",
          f"On at least 3 tasks a function vector lifts zero-shot accuracy by at least "
          f"{TASK_GAIN} (interval low end) on at least {TASK_MIN_SCORED} held-out queries, and "
          f"no random draw of as many heads lifts that task by more than {TASK_RANDOM_MAX}",
          lambda ctx: function_vector_tasks_measurement(_function_vector_reports(ctx)),
          Threshold("mean", ">=", 3), "random heads as the vector, per draw",
          course=False),
    # n = the notebook's tasks (3): a lessons-file figure, indicative, not a claim
    Claim("03", "ie-lrp-heads-overlap",
          "The indirect-effect and LRP head choices share more heads than two random choices",
          lambda ctx: head_choice_overlap_measurement(_function_vector_reports(ctx)),
          Threshold("p", "<=", 0.05), "random pairs of k-head choices", course=False),
]
