"""A function vector for any word task, by Todd et al.'s protocol, in one call.

    report = function_vector_report(model, tokenizer, [("hot", "cold"), ("big", "small"), ...])
    report["zero_shot"], report["with_vector"], report["random_heads"], report["n_scored"]

The pairs are split (seeded) into a demonstration pool, a selection split and a scoring split.
Only queries the model answers right with demonstrations count (the correctness filter). The
heads (causal indirect effect on >= 25 prompts with shuffled labels, batched), the layer and
the scale are chosen on the selection split; every reported accuracy is on the scoring split.

Rebuild the course's SmolLM2 table (lessons/smollm2_function_vectors.json, and its .md beside it):

    python -m utils.function_vector_report --model smollm2 --out lessons/smollm2_function_vectors.json
"""
from __future__ import annotations

import random
import time
from contextlib import contextmanager

import torch

from utils.hooks import (decoder_layers, layer_pre_hooks, o_proj_pre_hooks, out_projections,
                         replaced_part, split_heads)
from utils.logits import left_padded, last_position_logits
from utils.models import input_device, model_shape
from utils.progress import progress
from utils.tokens import answer_token_id

SPLIT = (0.2, 0.25)     # shares of the pairs: demonstration pool, selection; the rest is scored


# ---------------------------------------------------------------------------------------------
# the pairs and their splits


def shuffled_labels(shown: list[tuple[str, str]], rng, tries: int = 50) -> list[tuple[str, str]]:
    """`shown` (input, output) pairs with the outputs shuffled among them: a derangement where
    possible (no pair keeps its own output); with repeated outputs the last try is kept."""
    outputs = [y for _, y in shown]
    for _ in range(tries):
        rng.shuffle(outputs)
        if all(o != y for o, (_, y) in zip(outputs, shown)):
            break
    return [(x, o) for (x, _), o in zip(shown, outputs)]

def required_pairs(n_demos: int, split=SPLIT, min_selection: int = 4, min_scoring: int = 4) -> int:
    """The fewest pairs the protocol accepts: a demonstration pool of n_demos + 1 (a prompt's
    query is never one of its own demonstrations), and a few selection and scoring queries."""
    n = n_demos + 1 + min_selection + min_scoring
    while not (int(n * split[0]) >= n_demos + 1 and int(n * split[1]) >= min_selection
               and n - int(n * split[0]) - int(n * split[1]) >= min_scoring):
        n += 1
    return n


def check_pairs(pairs, n_demos: int, split=SPLIT) -> list[tuple[str, str]]:
    """Validated (input, output) pairs: strings, each input once, enough of them."""
    if isinstance(pairs, dict):
        pairs = list(pairs.items())
    pairs = [tuple(p) for p in pairs]
    if any(len(p) != 2 or not all(isinstance(s, str) and s.strip() for s in p) for p in pairs):
        raise ValueError("Give the task as a list of (input, output) pairs of non-empty strings, "
                         "e.g. [('hot', 'cold'), ('big', 'small'), ...].")
    inputs = [x for x, _ in pairs]
    repeated = sorted({x for x in inputs if inputs.count(x) > 1})
    if repeated:
        raise ValueError(f"Each input may appear once; repeated: {', '.join(repeated[:5])}. "
                         "Keep one output per input.")
    need = required_pairs(n_demos, split)
    if len(pairs) < need:
        raise ValueError(f"{len(pairs)} pairs are too few: with n_demos={n_demos} the protocol "
                         f"needs at least {need} (a demonstration pool, a selection split and a "
                         "scoring split), and about 60 for 20 or more scored queries. Add pairs.")
    return pairs


def split_pairs(pairs, seed: int = 0, split=SPLIT) -> dict[str, list[tuple[str, str]]]:
    """Shuffle (seeded) and cut into {"demos", "selection", "scoring"}."""
    shuffled = list(pairs)
    random.Random(seed).shuffle(shuffled)
    n_demo, n_sel = int(len(shuffled) * split[0]), int(len(shuffled) * split[1])
    return {"demos": shuffled[:n_demo], "selection": shuffled[n_demo:n_demo + n_sel],
            "scoring": shuffled[n_demo + n_sel:]}


def with_demos(queries, demos, n_demos: int, rng: random.Random, fmt: str,
               shuffled: bool = False) -> tuple[list[str], list[str]]:
    """One in-context prompt per query pair: n_demos demonstrations drawn from `demos` (never the
    query itself), then the query; and the answers (" word"). shuffled=True gives the
    demonstrations each other's outputs (no demonstration keeps its own)."""
    from utils.function_vectors import icl_prompt

    prompts, answers = [], []
    # labels shuffle on their own stream, so the same rng state gives the same demonstrations
    # with and without shuffled labels
    label_rng = random.Random(rng.random())
    for x, y in queries:
        shown = rng.sample([d for d in demos if d[0] != x], n_demos)
        if shuffled:
            shown = shuffled_labels(shown, label_rng)
        prompts.append(icl_prompt(shown, x, fmt))
        answers.append(" " + y)
    return prompts, answers


def cycle(items, n: int, rng: random.Random) -> list:
    """n items drawn from `items` in shuffled rounds (each used once per round)."""
    out = []
    while len(out) < n:
        round_ = list(items)
        rng.shuffle(round_)
        out += round_
    return out[:n]


# ---------------------------------------------------------------------------------------------
# batched measurements

def target_ids(tokenizer, prompts, answers) -> torch.Tensor:
    """The first token of each answer as it follows its prompt: [n] (long)."""
    return torch.tensor([answer_token_id(tokenizer, p, a) for p, a in zip(prompts, answers)])


def solved(model, tokenizer, prompts, targets, batch_size: int = 16) -> torch.Tensor:
    """Which prompts' greedy next token is their target: [n] (bool)."""
    return last_position_logits(model, tokenizer, prompts, batch_size).argmax(-1) == targets


@torch.no_grad()
def mean_last_head_outputs(model, tokenizer, prompts, batch_size: int = 16) -> torch.Tensor:
    """Mean over prompts of every head's output at the last position (the batched form of
    notebook 03's Exercise 2): [n_layers, n_heads, head_dim] (float, CPU)."""
    n_layers, n_heads, head_dim = model_shape(model)
    total = torch.zeros(n_layers, n_heads, head_dim)

    def add(layer):
        def hook(module, args):
            total[layer] += split_heads(args[0], n_heads)[:, -1].float().sum(0).cpu()
        return hook

    with o_proj_pre_hooks(model, {layer: add(layer) for layer in range(n_layers)}):
        last_position_logits(model, tokenizer, prompts, batch_size)
    return total / len(prompts)


@contextmanager
def heads_write_at_last(model, layer: int, heads: torch.Tensor, vectors: torch.Tensor):
    """Inside the block, in decoder layer `layer`, batch row i's head heads[i] writes vectors[i]
    [head_dim] at the last position: one patched head per row."""
    _, n_heads, _ = model_shape(model)

    def hook(module, args):
        x = args[0].clone()                       # the model's own tensor stays untouched
        rows = torch.arange(x.shape[0], device=x.device)
        split_heads(x, n_heads)[rows, -1, heads.to(x.device)] = vectors.to(x.device, x.dtype)
        return (x,) + tuple(args[1:])

    with o_proj_pre_hooks(model, {layer: hook}):
        yield


@contextmanager
def running_from_layer(model, layer: int):
    """Inside the block the model runs only decoder layers `layer`.. (feed it the residual
    stream entering `layer` as inputs_embeds). Each layer keeps its own index into the key/value
    cache, so a cache filled by the whole model still serves. The full stack returns on exit,
    errors too."""
    layers = decoder_layers(model)
    with replaced_part(model, "layers", torch.nn.ModuleList(list(layers)[layer:])):
        yield


@torch.no_grad()
def batched_indirect_effects(model, tokenizer, prompts, answers, mean_outputs,
                             chunk: int = 8, desc: str = "indirect effects") -> torch.Tensor:
    """Causal indirect effect of every head (notebook 03's Exercise 3, batched): [n_layers,
    n_heads], the mean rise of p(answer's first token) when the head writes its mean output at
    the last position of a shuffled-label prompt.

    Patching the last position changes nothing before it, so each prompt's prefix runs once
    and is kept as a key/value cache; every patch then runs the last token alone, and only
    through the patched layer and those after it (the layers below see the clean input). One
    forward pass per layer and chunk of prompts patches all heads of that layer at once (one
    head per row).
    """
    n_layers, n_heads, _ = model_shape(model)
    device = input_device(model)
    targets = target_ids(tokenizer, prompts, answers)
    effects = torch.zeros(n_layers, n_heads)
    starts = list(range(0, len(prompts), chunk))
    for start in progress(starts, desc, total=len(starts), min_steps=2):
        ids, mask, pos = (t.to(device) for t in left_padded(tokenizer, prompts[start:start + chunk]))
        if ids.shape[1] < 2:
            raise ValueError("The in-context prompts need at least two tokens each.")
        n = ids.shape[0]
        out = model(input_ids=ids[:, :-1], attention_mask=mask[:, :-1], position_ids=pos[:, :-1],
                    use_cache=True)
        cache, prefix = out.past_key_values, ids.shape[1] - 1
        target = targets[start:start + n]
        entering = {}      # layer -> the clean residual stream entering it at the last token

        def keep(layer):
            return lambda module, args: entering.__setitem__(layer, args[0].detach())

        with layer_pre_hooks(model, {layer: keep(layer) for layer in range(n_layers)}):
            clean = model(input_ids=ids[:, -1:], attention_mask=mask, position_ids=pos[:, -1:],
                          past_key_values=cache, use_cache=True).logits[:, -1].float().softmax(-1).cpu()
        clean_p = clean[torch.arange(n), target]
        cache.crop(prefix)
        cache.batch_repeat_interleave(n_heads)    # row p * n_heads + h patches head h of prompt p
        heads = torch.arange(n_heads).repeat(n)
        full_mask = mask.repeat_interleave(n_heads, 0)
        last_pos = pos[:, -1:].repeat_interleave(n_heads, 0)
        for layer in range(n_layers):
            # the hook goes on first: inside running_from_layer the layer list is shortened
            with heads_write_at_last(model, layer, heads, mean_outputs[layer][heads]), \
                    running_from_layer(model, layer):
                logits = model(inputs_embeds=entering[layer].repeat_interleave(n_heads, 0),
                               attention_mask=full_mask, position_ids=last_pos,
                               past_key_values=cache, use_cache=True).logits[:, -1]
            cache.crop(prefix)
            p = logits.float().softmax(-1).cpu()[torch.arange(n * n_heads),
                                                 target.repeat_interleave(n_heads)]
            effects[layer] += (p.view(n, n_heads) - clean_p[:, None]).sum(0)
    return effects / len(prompts)


def heads_vector(model, mean_outputs, heads) -> torch.Tensor:
    """o_proj applied to the chosen heads' mean outputs, every other head silent: [d_model].
    (The same vector as notebook 03's Exercise 4, computed through the module itself.)"""
    n_layers, n_heads, head_dim = model_shape(model)
    vector = torch.zeros(model.config.hidden_size)
    for layer in sorted({l for l, _ in heads}):
        x = torch.zeros(n_heads, head_dim)
        for l, h in heads:
            if l == layer:
                x[h] = mean_outputs[layer, h]
        o_proj = out_projections(model)[layer]
        weight = o_proj.weight
        with torch.no_grad():
            vector += (o_proj(x.flatten().to(weight.device, weight.dtype))
                       - (o_proj.bias if o_proj.bias is not None else 0)).float().cpu()
    return vector


def vector_outcomes(model, tokenizer, prompts, targets, vector=None, layer=None,
                    batch_size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Per zero-shot prompt: (first token right [n] bool, log p of the target [n]), with
    `vector` [d_model] added after decoder layer `layer` at the last position when given."""
    from utils.function_vectors import add_to_residual

    if vector is None:
        logits = last_position_logits(model, tokenizer, prompts, batch_size)
    else:
        with add_to_residual(model, vector, layer):
            logits = last_position_logits(model, tokenizer, prompts, batch_size)
    logp = logits.log_softmax(-1)[torch.arange(len(targets)), targets]
    return logits.argmax(-1) == targets, logp


def vector_scores(model, tokenizer, prompts, targets, vector=None, layer=None,
                  batch_size: int = 32) -> tuple[float, float]:
    """(first-token accuracy, mean log p of the target): vector_outcomes averaged."""
    right, logp = vector_outcomes(model, tokenizer, prompts, targets, vector, layer, batch_size)
    return float(right.float().mean()), float(logp.mean())


def random_head_draws(model, k: int, n_draws: int, seed: int) -> list[list[tuple[int, int]]]:
    """n_draws seeded choices of k heads out of all the model's heads."""
    n_layers, n_heads, _ = model_shape(model)
    gen = torch.Generator().manual_seed(seed)
    return [[divmod(int(i), n_heads) for i in torch.randperm(n_layers * n_heads, generator=gen)[:k]]
            for _ in range(n_draws)]


# ---------------------------------------------------------------------------------------------
# the protocol

def function_vector_report(model, tokenizer, pairs, *, fmt: str = "qa", n_demos: int = 5,
                           n_mean: int = 30, n_shuffled: int = 30, n_lrp: int = 12,
                           ks=(10,), scales=(2.0, 1.0, 4.0), layers=None, n_random: int = 10,
                           seed: int = 0, function_vector=None, split=SPLIT,
                           random_at_selection: int = 0, verbose: bool = True) -> dict:
    """Todd et al.'s protocol on one task given as (input, output) word pairs.

    1. Split the pairs (seeded): demonstration pool, selection split, scoring split.
    2. Correctness filter: each selection and scoring query is asked once with n_demos
       demonstrations from the pool; only those the model answers right stay.
    3. Mean head outputs over n_mean clean prompts it solves (demonstrations from the pool,
       queries from the selection split); causal indirect effects on n_shuffled prompts with
       shuffled labels whose clean version it solves; LRP head relevance on n_lrp clean prompts.
    4. On the selection split: sweep every layer (or `layers`) with ks[0] heads at scales[0]
       (the layer-sweep curve), then try every k and scale at the sweep's three best layers;
       keep the best zero-shot accuracy with the vector (ties: the higher mean log p). With
       random_at_selection=n, keep instead the best margin over the best of n random-head
       vectors at the same setting, also on the selection split.
    5. On the scoring split: zero-shot accuracy without and with the vector, and with
       n_random vectors of k random heads (one figure per draw).

    function_vector(model, mean_outputs, heads) -> [d_model]: notebook 03's Exercise 4 (the
    learner's or the reference); default: the same sum computed by `heads_vector`.
    Returns a dict: in_context, zero_shot, with_vector, random_heads (list), n_scored, layer,
    heads, k, scale, layer_sweep (list of {layer, accuracy, logp} at ks[0], scales[0]),
    heads_lrp, overlap, overlap_chance, effects and lrp ([L, H] lists), and the sizes, seconds.
    """
    from utils.function_vectors import FORMATS, lrp_head_relevance
    from utils.heads import select_top_heads

    if fmt not in FORMATS:
        raise ValueError(f"Unknown prompt format {fmt!r}: choose one of {', '.join(FORMATS)}.")
    if not isinstance(n_demos, int) or n_demos < 1:
        raise ValueError(f"n_demos must be a whole number >= 1, got {n_demos!r}.")
    if n_random < 1 or n_shuffled < 1 or n_mean < 1:
        raise ValueError("n_random, n_shuffled and n_mean must each be at least 1.")
    pairs = check_pairs(pairs, n_demos, split)
    n_layers, n_heads, _ = model_shape(model)
    n_total = n_layers * n_heads
    if any(not 1 <= k <= n_total for k in ks):
        raise ValueError(f"Every k must lie in 1..{n_total} (this model's heads).")
    layers = list(range(n_layers)) if layers is None else list(layers)
    vector_of = function_vector or heads_vector
    began = time.perf_counter()
    say = print if verbose else (lambda *a, **k: None)
    rng = random.Random(seed)
    parts = split_pairs(pairs, seed, split)
    demos = parts["demos"]

    # 2. correctness filter
    kept, in_context = {}, {}
    for name in ("selection", "scoring"):
        prompts, answers = with_demos(parts[name], demos, n_demos, rng, fmt)
        ok = solved(model, tokenizer, prompts, target_ids(tokenizer, prompts, answers))
        in_context[name] = float(ok.float().mean())
        kept[name] = [pair for pair, good in zip(parts[name], ok.tolist()) if good]
    def skipped(reason: str) -> dict:
        report = {"in_context": in_context["scoring"], "in_context_selection": in_context["selection"],
                  "n_scored": len(kept["scoring"]), "n_selection": len(kept["selection"]),
                  "n_pairs": len(pairs), "format": fmt, "n_demos": n_demos, "skipped": reason,
                  "seconds": round(time.perf_counter() - began, 1)}
        say(report_line(report))
        return report

    if len(kept["selection"]) < 2 or not kept["scoring"]:
        # nothing to extract: the model does not do this task in context
        return skipped("the model solves too few queries in context")

    # 3. mean outputs, indirect effects, LRP relevance, all on the selection side
    # candidates are drawn until enough pass the filter (three times as many at most)
    clean, clean_answers = with_demos(cycle(kept["selection"], 3 * n_mean, rng), demos, n_demos,
                                      rng, fmt)
    ok = solved(model, tokenizer, clean, target_ids(tokenizer, clean, clean_answers)).tolist()
    clean = [p for p, good in zip(clean, ok) if good][:n_mean]
    clean_answers = [a for a, good in zip(clean_answers, ok) if good][:n_mean]
    means = mean_last_head_outputs(model, tokenizer, clean)
    queries = cycle(kept["selection"], 3 * n_shuffled, rng)
    state = rng.getstate()
    shown, _ = with_demos(queries, demos, n_demos, rng, fmt)
    rng.setstate(state)                           # the same demonstrations, labels shuffled
    shuffled, shuffled_answers = with_demos(queries, demos, n_demos, rng, fmt, shuffled=True)
    # the indirect effect asks whether a head restores a task the clean prompt shows: keep the
    # shuffled prompts whose clean version the model solves
    keep = solved(model, tokenizer, shown, target_ids(tokenizer, shown, shuffled_answers)).tolist()
    shuffled = [p for p, good in zip(shuffled, keep) if good][:n_shuffled]
    shuffled_answers = [a for a, good in zip(shuffled_answers, keep) if good][:n_shuffled]
    if not clean or not shuffled:
        return skipped("the model solves none of the prompts built for the head choice")
    t0 = time.perf_counter()
    effects = batched_indirect_effects(model, tokenizer, shuffled, shuffled_answers, means)
    seconds_ie = time.perf_counter() - t0
    t0 = time.perf_counter()
    lrp = lrp_head_relevance(model, tokenizer, clean[:n_lrp], clean_answers[:n_lrp])
    seconds_lrp = time.perf_counter() - t0

    # 4. choose k, scale and layer on the selection split
    from utils.function_vectors import zero_shot_prompt
    sel_prompts = [zero_shot_prompt(x, fmt) for x, _ in kept["selection"]]
    sel_targets = target_ids(tokenizer, sel_prompts, [" " + y for _, y in kept["selection"]])
    # every layer at the first k and scale (the layer-sweep curve), then the other k and scales
    # at the sweep's three best layers
    def selection_score(k, scale, layer):
        vector = scale * vector_of(model, means, select_top_heads(effects, k))
        return vector_scores(model, tokenizer, sel_prompts, sel_targets, vector, layer)

    curve = [dict(zip(("layer", "accuracy", "logp"), (layer, *selection_score(ks[0], scales[0], layer))))
             for layer in progress(layers, "layer sweep", total=len(layers))]
    tried = {(ks[0], scales[0], c["layer"]): (c["accuracy"], c["logp"]) for c in curve}
    top_layers = [c["layer"] for c in sorted(curve, key=lambda c: (-c["accuracy"], -c["logp"]))[:3]]
    for k in ks:
        for scale in scales:
            for layer in top_layers:
                if (k, scale, layer) not in tried:
                    tried[(k, scale, layer)] = selection_score(k, scale, layer)
    if random_at_selection:
        draws = random_head_draws(model, max(ks), random_at_selection, seed + 2)
        margins = {}
        for (kk, ss, ll), (acc, logp) in tried.items():
            if ll in top_layers:
                best_random = max(vector_scores(model, tokenizer, sel_prompts, sel_targets,
                                                ss * vector_of(model, means, d[:kk]), ll)[0]
                                  for d in draws)
                margins[(kk, ss, ll)] = (acc - best_random, acc, logp)
        (k, scale, layer), _ = max(margins.items(), key=lambda item: item[1])
    else:
        (k, scale, layer), _ = max(tried.items(), key=lambda item: item[1])
    heads = select_top_heads(effects, k)
    heads_lrp = select_top_heads(lrp, k)

    # 5. score on the scoring split
    score_prompts = [zero_shot_prompt(x, fmt) for x, _ in kept["scoring"]]
    score_targets = target_ids(tokenizer, score_prompts, [" " + y for _, y in kept["scoring"]])
    # per query, kept so that a verdict can pool the tasks' queries with their spread
    zero_right, zero_lp = vector_outcomes(model, tokenizer, score_prompts, score_targets)
    vector = scale * vector_of(model, means, heads)
    fv_right, fv_lp = vector_outcomes(model, tokenizer, score_prompts, score_targets, vector, layer)
    zero_acc, zero_logp = float(zero_right.float().mean()), float(zero_lp.mean())
    fv_acc, fv_logp = float(fv_right.float().mean()), float(fv_lp.mean())
    lrp_acc, _ = vector_scores(model, tokenizer, score_prompts, score_targets,
                               scale * vector_of(model, means, heads_lrp), layer)
    randoms = [vector_scores(model, tokenizer, score_prompts, score_targets,
                             scale * vector_of(model, means, drawn), layer)
               for drawn in random_head_draws(model, k, n_random, seed + 1)]
    shared = len(set(heads) & set(heads_lrp))
    report = {
        "in_context": in_context["scoring"], "in_context_selection": in_context["selection"],
        "zero_shot": zero_acc, "with_vector": fv_acc,
        "zero_shot_right": zero_right.int().tolist(), "with_vector_right": fv_right.int().tolist(),
        "random_heads": [a for a, _ in randoms], "with_lrp_vector": lrp_acc,
        "zero_shot_logp": zero_logp, "with_vector_logp": fv_logp,
        "random_heads_logp": [lp for _, lp in randoms],
        "n_scored": len(kept["scoring"]), "n_selection": len(kept["selection"]),
        "n_pairs": len(pairs), "n_demo_pool": len(demos), "n_demos": n_demos, "format": fmt,
        "random_at_selection": random_at_selection, "n_mean_prompts": len(clean), "n_shuffled_prompts": len(shuffled),
        "n_lrp_prompts": min(n_lrp, len(clean)),
        "layer": layer, "k": k, "scale": scale, "heads": [list(h) for h in heads],
        "layer_sweep": curve, "sweep_k": ks[0], "sweep_scale": scales[0],
        "selection_tried": [{"k": kk, "scale": ss, "layer": ll, "accuracy": a, "logp": lp}
                            for (kk, ss, ll), (a, lp) in tried.items()],
        "heads_lrp": [list(h) for h in heads_lrp], "overlap": shared,
        "overlap_chance": k * k / n_total,
        "effects": effects.tolist(), "lrp": lrp.tolist(),
        "vector": vector, "scoring_pairs": kept["scoring"],
        "seconds_indirect_effects": round(seconds_ie, 1), "seconds_lrp": round(seconds_lrp, 1),
        "seconds": round(time.perf_counter() - began, 1),
    }
    say(report_line(report))
    return report


def report_line(report: dict, task: str = "the task") -> str:
    """One sentence with the figures and n of a function_vector_report."""
    r = report
    if "skipped" in r:
        return (f"{task}: no function vector to extract: {r['skipped']} (in context "
                f"{r['in_context']:.2f} of the scoring split, {r['n_scored']} solved; selection "
                f"{r['n_selection']} solved)")
    return (f"{task}: zero-shot {r['zero_shot']:.2f} -> {r['with_vector']:.2f} with the vector "
            f"(layer {r['layer']}, {r['k']} heads, x{r['scale']:g}) on {r['n_scored']} scored "
            f"queries solved in context ({r['in_context']:.2f} of the scoring split); "
            f"{len(r['random_heads'])} random-head draws {min(r['random_heads']):.2f}-"
            f"{max(r['random_heads']):.2f}; IE/LRP heads share {r['overlap']} of {r['k']} "
            f"(chance {r['overlap_chance']:.2f})")


# ---------------------------------------------------------------------------------------------
# several tasks side by side (notebook 03)

def report_table(reports: dict):
    """One row per task of function_vector_report results (task -> report): a pandas DataFrame
    with the accuracies, the random-head spread, n and the choices."""
    import pandas as pd

    rows = {}
    for task, r in reports.items():
        row = {"in context": r["in_context"], "n scored": r["n_scored"]}
        if "skipped" not in r:
            row.update({"zero-shot": r["zero_shot"], "function vector": r["with_vector"],
                        "random heads, best": max(r["random_heads"]),
                        "random heads, median": float(torch.tensor(r["random_heads"]).median()),
                        "LRP heads' vector": r["with_lrp_vector"],
                        "layer": r["layer"], "heads": r["k"], "scale": r["scale"],
                        "IE/LRP shared": r["overlap"]})
            if "another task's vector" in r:
                row["another task's vector"] = r["another task's vector"]
        rows[task] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def add_another_task_control(model, tokenizer, reports: dict) -> None:
    """For each task, the next task's vector (at this task's layer) on this task's scored
    queries: does any function vector help, or this task's? Adds "another task's vector" to
    each report in place."""
    from utils.function_vectors import zero_shot_prompt

    done = [t for t, r in reports.items() if "skipped" not in r]
    if len(done) < 2:
        return
    for i, task in enumerate(done):
        r, other = reports[task], reports[done[(i + 1) % len(done)]]
        prompts = [zero_shot_prompt(x, r["format"]) for x, _ in r["scoring_pairs"]]
        targets = target_ids(tokenizer, prompts, [" " + y for _, y in r["scoring_pairs"]])
        r["another task's vector"] = vector_scores(model, tokenizer, prompts, targets,
                                                   other["vector"], r["layer"])[0]


def plot_reports(reports: dict, title: str = "Function vectors, task by task"):
    """Left: each task's layer sweep (selection accuracy with the vector added after each
    layer); right: the scored accuracies, each random-head draw a dot. A matplotlib Figure."""
    from matplotlib.figure import Figure

    from utils.colours import CONTROLS, GROUPS, method_colour

    done = {t: r for t, r in reports.items() if "skipped" not in r}
    fig = Figure(figsize=(11, 3.8), layout="constrained")
    sweep_ax, spread_ax = fig.subplots(1, 2, width_ratios=[1.2, 1])
    for i, (task, r) in enumerate(done.items()):
        layers = [c["layer"] for c in r["layer_sweep"]]
        sweep_ax.plot(layers, [c["accuracy"] for c in r["layer_sweep"]], marker=".",
                      color=GROUPS[i % len(GROUPS)], label=f"{task} (n = {r['n_selection']})")
    sweep_ax.set_xlabel("layer the vector is added after")
    sweep_ax.set_ylabel("zero-shot accuracy, selection split")
    sweep_ax.set_ylim(-0.05, 1.05)
    sweep_ax.set_title("Layer sweep (chooses the layer)", fontsize=11)
    if done:
        sweep_ax.legend(fontsize=8)
    names = list(done)
    for i, task in enumerate(names):
        r = done[task]
        draws = r["random_heads"]
        jitter = [(j - (len(draws) - 1) / 2) * 0.02 for j in range(len(draws))]
        spread_ax.scatter([i + 0.15 + d for d in jitter], draws, s=14, color=CONTROLS["random heads"],
                          edgecolor="#555555", linewidth=0.4,
                          label="random heads (one dot per draw)" if i == 0 else None, zorder=2)
        spread_ax.scatter([i - 0.15], [r["zero_shot"]], marker="s", s=40, color=CONTROLS["no vector"],
                          label="no vector" if i == 0 else None, zorder=3)
        spread_ax.scatter([i], [r["with_vector"]], marker="*", s=140,
                          color=method_colour("function vector"),
                          label="function vector" if i == 0 else None, zorder=3)
    spread_ax.set_xticks(range(len(names)), [f"{t}\nn = {done[t]['n_scored']}" for t in names],
                         fontsize=9)
    spread_ax.set_ylabel("zero-shot accuracy, scoring split")
    spread_ax.set_xlabel("task (n = scored queries solved in context)")
    spread_ax.set_ylim(-0.05, 1.3)
    spread_ax.set_xlim(-0.6, max(len(names), 1) - 0.4)
    spread_ax.set_title("Held-out queries: the vector beside its controls", fontsize=11)
    if done:
        spread_ax.legend(fontsize=8, loc="upper center", ncols=3, handletextpad=0.2)
    fig.suptitle(f"{title} ({len(done)} of {len(reports)} tasks with a vector)", fontsize=12)
    return fig


def json_ready(report: dict) -> dict:
    """The report without its tensors (the vector), for a JSON file."""
    return {key: value for key, value in report.items() if not isinstance(value, torch.Tensor)}


def tasks_markdown(result: dict) -> str:
    """The per-task table of a `main` run (its JSON: settings and task -> report) as markdown:
    every task tried, those without a vector included, with the figures the course's bar reads
    (lift on the scored queries, n, the best random-head draw's lift)."""
    settings = result.get("settings", {})
    rows = []
    tried = {**result.get("tasks", {}), **result.get("variants", {})}   # variants: other settings
    for task, r in tried.items():
        if "skipped" in r or "with_vector" not in r:
            why = r.get("skipped", "no report")
            solved = (f"{r['in_context']:.2f}" if "in_context" in r else "-")
            rows.append(f"| {task} | {solved} | {r.get('n_scored', '-')} | - | - | - | - | - | "
                        f"no vector: {why} |")
            continue
        best = max(r["random_heads"]) if r["random_heads"] else float("nan")
        rows.append(f"| {task} | {r['in_context']:.2f} | {r['n_scored']} | {r['zero_shot']:.2f} | "
                    f"{r['with_vector']:.2f} | {r['with_vector'] - r['zero_shot']:+.2f} | "
                    f"{best - r['zero_shot']:+.2f} ({len(r['random_heads'])} draws) | "
                    f"{r['with_lrp_vector']:.2f} | layer {r['layer']}, {r['k']} heads, "
                    f"x{r['scale']:g} |")
    return "\n".join([
        f"# Function vectors on every word task: {settings.get('model', 'a model')}", "",
        "Written by `python -m utils.function_vector_report` (`make fv-smollm2`) from the JSON "
        "beside this file, which also holds each task's heads, layer sweep and timings. Each "
        "task runs notebook 03's protocol: heads, layer and scale chosen on a selection split; "
        "the figures below on held-out scored queries that the model solves in context (n). "
        "The course's bar for one task: a lift of at least 0.40 (the 95 % interval's low end, "
        "decided for the notebook's tasks in `lessons/smollm2.md`), n at least 20, and no "
        "random-head draw lifting it by more than 0.10.", "",
        "| task | solved in context | n scored | zero-shot | with the vector | lift | best random "
        "draw's lift | LRP heads' vector | setting |",
        "|---|---|---|---|---|---|---|---|---|", *rows, ""])


def main(argv=None) -> None:
    """Run the protocol on every task of utils.prompts.FV_TASKS with enough pairs, and write
    one JSON file: the settings, then per task the report (figures, heads, curves, seconds)."""
    import argparse
    import json
    import os
    from pathlib import Path

    from utils.models import load_model
    from utils.prompts import FV_TASKS

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--model", default="smollm2", help="a name or folder for load_model")
    parser.add_argument("--out", required=True, help="the JSON file to write")
    parser.add_argument("--tasks", nargs="*", help="default: every task with enough pairs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--random-at-selection", type=int, default=0,
                        help="choose the setting by its margin over this many random-head draws")
    parser.add_argument("--markdown-only", action="store_true",
                        help="write the .md table from the existing JSON and run nothing")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if args.markdown_only:
        out.with_suffix(".md").write_text(tasks_markdown(json.loads(out.read_text())))
        return
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    torch.manual_seed(args.seed)
    model, tokenizer = load_model(args.model, device="cpu")
    need = required_pairs(5)
    tasks = args.tasks or [t for t, pairs in FV_TASKS.items() if len(pairs) >= need]
    result = json.loads(out.read_text()) if out.exists() else {}
    result["settings"] = {"model": args.model, "seed": args.seed, "torch_threads": torch.get_num_threads(),
                          "protocol": "utils.function_vector_report.function_vector_report defaults"}
    result.setdefault("tasks", {})
    for task in tasks:
        if len(FV_TASKS[task]) < need:
            result["tasks"][task] = {"skipped": f"only {len(FV_TASKS[task])} pairs (needs {need})"}
            continue
        report = function_vector_report(model, tokenizer, FV_TASKS[task], seed=args.seed,
                                        random_at_selection=args.random_at_selection,
                                        verbose=False)
        report["task"] = task
        print(report_line(report, task), f"[{report['seconds']:.0f} s]", flush=True)
        result["tasks"][task] = json_ready(report)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")   # after each task
        out.with_suffix(".md").write_text(tasks_markdown(result))


if __name__ == "__main__":
    main()
