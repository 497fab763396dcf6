"""Around faithfulness (notebook 06): insertion curves, orders, the areas of normalised curves,
the relevance of every method on many prompts, summaries and figures.

A curve is [n + 1]: the target logit at the last position with 0 .. n tokens removed or put back;
scored over many prompts, every order of a prompt (each method's and each random one) is read
at the same steps, [s] of them (`score_steps`), so that no order is scored more finely than another.
"""
import torch

from utils.colours import METHODS
from utils.progress import progress
from utils.validate import check_finite, check_input_ids, check_int_in_range, check_positions


def last_token_logits(model, batch_ids, target_id, batch_size):
    """Target logit at the last position for every row of batch_ids [n, seq]: [n] on CPU."""
    batch_size = check_int_in_range(batch_size, 1, 2**31, "batch_size", "32 is usual.")
    out = []
    with torch.no_grad():
        for start in range(0, batch_ids.shape[0], batch_size):
            logits = model(batch_ids[start:start + batch_size], use_cache=False,
                           logits_to_keep=1).logits
            out.append(logits[:, -1, target_id].float().cpu())
    return torch.cat(out)


def insertion_curve(model, input_ids, target_id, order, baseline_id, batch_size=32):
    """Target logit as tokens are put back in `order` into a prompt where all of `order` is the
    baseline. Returns [n + 1]: entry 0 all replaced, entry n the original input."""
    order = check_positions(order, input_ids.shape[-1], "order").to(input_ids.device)
    n = order.numel()
    restored = torch.arange(n + 1, device=input_ids.device)[:, None] > torch.arange(n, device=input_ids.device)
    steps = input_ids.repeat(n + 1, 1)
    steps[:, order] = torch.where(restored, input_ids[0, order], baseline_id)
    return last_token_logits(model, steps, target_id, batch_size)


def relevance_order(relevance, positions):
    """`positions` ([n] ints) sorted by relevance [seq], most relevant first (ties: by position)."""
    relevance = check_finite(relevance, "relevance")
    positions = check_positions(positions, relevance.shape[0])
    scores = relevance.float().cpu()[positions]
    # stable sort of the negated scores: equal relevance keeps the left-to-right order
    return positions[torch.sort(-scores, stable=True).indices]


def area_under_curve(curve):
    """Area under a curve sampled at evenly spaced fractions 0 .. 1 of the tokens (trapezoids)."""
    curve = torch.as_tensor(curve, dtype=torch.float64)
    if curve.numel() < 2:
        raise ValueError("A curve needs at least two points (remove at least one token).")
    return float(((curve[1:] + curve[:-1]) / 2).mean())


def score_steps(n: int, n_points: int = 11) -> torch.Tensor:
    """The numbers of removed tokens k at which every order of a prompt is scored: `n_points`
    evenly spaced fractions of the n candidates, rounded to whole tokens, each once ([m] ints,
    0 and n included). With n_points > n every step is scored."""
    if n < 1:
        raise ValueError("A prompt needs at least one candidate token to remove.")
    if n_points < 2:
        raise ValueError(f"n_points must be at least 2 (the two ends), got {n_points}.")
    return torch.linspace(0, n, min(n_points, n + 1)).round().long().unique()


def order_logits(model, input_ids, target_id, orders, baseline_id, steps, batch_size=128):
    """Raw target logits of the deletion and insertion curves of many orders at the same steps.

    orders: [m, n] positions (each a permutation of the same n candidates); steps: [s] numbers
    of tokens k (from `score_steps`). Deletion at k: the first k of the order replaced by
    `baseline_id`; insertion at k: all but the first k replaced. Returns (deletion, insertion),
    each [m, s]. The two ends are the same for every order and run once.
    """
    orders = torch.as_tensor(orders, device=input_ids.device).long()
    n_orders, n = orders.shape
    steps = [int(k) for k in steps]
    inner = [k for k in steps if 0 < k < n]
    empty_ids = input_ids[0].clone()
    empty_ids[orders[0]] = baseline_id
    rows = [input_ids[0], empty_ids]
    for order in orders:                  # the first k of the order removed / put back
        for k in inner:
            deleted = input_ids[0].clone()
            deleted[order[:k]] = baseline_id
            inserted = input_ids[0].clone()
            inserted[order[k:]] = baseline_id
            rows += [deleted, inserted]
    logits = last_token_logits(model, torch.stack(rows), target_id, batch_size)
    full, empty = float(logits[0]), float(logits[1])
    middle = logits[2:].reshape(n_orders, len(inner), 2)
    deletion = torch.empty(n_orders, len(steps))
    insertion = torch.empty(n_orders, len(steps))
    for j, k in enumerate(steps):
        if k == 0:
            deletion[:, j], insertion[:, j] = full, empty
        elif k == n:
            deletion[:, j], insertion[:, j] = empty, full
        else:
            deletion[:, j] = middle[:, inner.index(k), 0]
            insertion[:, j] = middle[:, inner.index(k), 1]
    return deletion, insertion


def faithfulness_curves(model, input_ids, target_id, relevances: dict, positions, baseline_id,
                        batch_size=128, min_span=0.5, *, normalise_curve, n_random=10, seed=0,
                        n_points=11):
    """Normalised deletion and insertion curves of every method on one prompt, every order
    (each method's and each random one) scored at the same steps (`score_steps(n, n_points)`).

    relevances: method -> relevance [seq]; positions: the candidate positions (e.g. all but BOS).
    Returns {method: {"deletion": [s], "insertion": [s], "steps": [s]}}, 1 = original logit,
    0 = every candidate replaced by the baseline. Raises ValueError when that removal moves
    the logit by less than `min_span` (the scale would divide by almost nothing).
    A method named "random" is not read from `relevances`: its curves are the mean over
    `n_random` seeded random orders (one order is a noisy floor), and its entry also holds
    "orders": [n_random], the area between the curves of each order, for the spread.
    normalise_curve: notebook 06's answer (curve, full_value, empty_value, min_span) -> rescaled.
    """
    check_input_ids(model, input_ids)
    seq_len = input_ids.shape[1]
    positions = check_positions(positions, seq_len)
    for method, relevance in relevances.items():
        if method == "random":
            continue
        relevance = check_finite(relevance, f"relevances[{method!r}]")
        if tuple(relevance.shape) != (seq_len,):
            raise ValueError(f"relevances[{method!r}] has shape {tuple(relevance.shape)} but the "
                             f"prompt has {seq_len} tokens: give one value per token of this "
                             "prompt ([seq]).")
    steps = score_steps(len(positions), n_points)
    named = [m for m in relevances if m != "random"]
    orders = [relevance_order(relevances[m], positions) for m in named]
    if "random" in relevances:
        gen = torch.Generator().manual_seed(seed)
        orders += [positions[torch.randperm(len(positions), generator=gen)] for _ in range(n_random)]
    deletion, insertion = order_logits(model, input_ids, target_id, torch.stack(orders),
                                       baseline_id, steps, batch_size)
    full, empty = float(deletion[0, 0]), float(deletion[0, -1])
    deletion = normalise_curve(deletion, full, empty, min_span)
    insertion = normalise_curve(insertion, full, empty, min_span)
    curves = {m: {"deletion": deletion[i], "insertion": insertion[i], "steps": steps}
              for i, m in enumerate(named)}
    if "random" in relevances:
        rd, ri = deletion[len(named):], insertion[len(named):]
        between = torch.tensor([area_under_curve(i) - area_under_curve(d) for d, i in zip(rd, ri)])
        curves["random"] = {"deletion": rd.mean(0), "insertion": ri.mean(0), "steps": steps,
                            "orders": between}
    # keep the methods' order of `relevances`
    return {m: curves[m] for m in relevances}


def random_spread(all_curves: list[dict]) -> tuple[float, float, float]:
    """(mean over prompts of the random orders' mean area between curves, mean over prompts of
    their standard deviation across orders, the same for a single order's typical distance
    from zero) from `faithfulness_curves` results."""
    orders = [c["random"]["orders"] for c in all_curves]
    return (float(torch.stack([o.mean() for o in orders]).mean()),
            float(torch.stack([o.std() for o in orders]).mean()),
            float(torch.stack([o.abs().mean() for o in orders]).mean()))


def compare_methods(between: dict, pairs, alpha: float = 0.05) -> list[dict]:
    """Paired comparisons of methods over the same prompts, corrected for their number.

    between: method -> [prompts] area between curves; pairs: [(a, b), ...]. Each pair gets a
    two-sided sign-flip test of the mean of a - b (utils.stats.paired_test), and the p-values
    of all pairs are Holm-adjusted together. Returns one dict per pair: a, b, n, wins (prompts
    where a is ahead), difference (an Interval), p, p_holm and verdict ("ahead", "behind" or
    "not clearly different" at `alpha` after the correction).
    """
    from utils.stats import holm, paired_test

    results = []
    for a, b in pairs:
        x, y = between[a].double().numpy(), between[b].double().numpy()
        greater, less = paired_test(x, y, "greater"), paired_test(x, y, "less")
        results.append(dict(a=a, b=b, n=greater.n, wins=int((x > y).sum()),
                            difference=greater.difference,
                            p=min(1.0, 2 * min(greater.p_value, less.p_value)),
                            exact=greater.exact, n_perm=greater.n_perm))
    for result, adjusted in zip(results, holm([r["p"] for r in results])):
        result["p_holm"] = float(adjusted)
        mean = result["difference"].mean
        result["verdict"] = ("not clearly different" if adjusted > alpha else
                             "ahead" if mean > 0 else "behind")
    return results


def comparison_lines(between: dict, pairs, alpha: float = 0.05) -> list[str]:
    """One printed line per pair of `compare_methods`, with n, both p-values and the verdict."""
    from utils.stats import format_p

    results = compare_methods(between, pairs, alpha)
    lines = []
    for r in results:
        how = "exact" if r["exact"] else f"{r['n_perm']} sign flips"
        lines.append(f"{r['a']} vs {r['b']}: ahead on {r['wins']} of {r['n']} prompts, mean "
                     f"difference {r['difference'].mean:+.3f} (95 % interval "
                     f"[{r['difference'].low:+.3f}, {r['difference'].high:+.3f}]), "
                     f"p = {format_p(r['p'])} (paired, two-sided, {how}), Holm over "
                     f"{len(results)}: {format_p(r['p_holm'])}, n = {r['n']} -> {r['verdict']}")
    return lines


def candidate_positions(tokenizer, ids) -> torch.Tensor:
    """The positions of ids [1, seq] that a deletion test may remove: all but a leading BOS
    (it is not part of the text, and models rest attention on it). [n] ints on the CPU."""
    first = 1 if tokenizer.bos_token_id is not None and int(ids[0, 0]) == tokenizer.bos_token_id else 0
    return torch.arange(first, ids.shape[1])


def deletion_baseline_id(model, tokenizer, prompts, exclude=()) -> int:
    """The token that replaces deleted ones: the first of a lone space (the course's occlusion
    token), the pad, the unknown and the end-of-text token that no prompt holds at a position
    the test removes. A baseline equal to the token it replaces changes nothing, so such a
    deletion step would be free. `exclude`: ids not to choose (e.g. a first baseline).
    Raises ValueError when every candidate occurs in the prompts.
    """
    from utils.attribution import baseline_token_id
    from utils.tokens import encode

    candidates = [baseline_token_id(tokenizer), tokenizer.pad_token_id, tokenizer.unk_token_id,
                  tokenizer.eos_token_id]
    present = set()
    for prompt in prompts:
        ids = encode(tokenizer, prompt, model)
        present.update(ids[0, candidate_positions(tokenizer, ids)].tolist())
    for token in candidates:
        if token is not None and token not in present and token not in set(exclude):
            return int(token)
    raise ValueError("Every candidate baseline token (space, pad, unk, end of text) occurs in "
                     "the prompts where tokens are removed, or was excluded: pass a token id "
                     "that the prompts do not contain as baseline_id.")


def explain_prompts(model, tokenizer, prompts, methods: dict, baseline_id, seed=0, max_blank=3):
    """Relevance of every method for the model's top next token with content, on each prompt.

    When the top next token is only a space or a line break (a tokenizer may write the space
    before a number as its own token), the test would explain formatting: the token is appended
    to the input and the next one is explained, up to `max_blank` times. Appended tokens are not
    candidates for removal (the curves remove prompt tokens only).
    methods: name -> fn(model, input_ids, target_id) returning [seq]; a "random" order is
    added (seeded). Returns one dict per prompt: ids (the prompt and any appended blank
    tokens), target_id, positions, relevances, appended (how many blank tokens).
    """
    from utils.tokens import encode

    gen = torch.Generator().manual_seed(seed)
    items = []
    for prompt in progress(prompts, desc="explaining prompts", min_steps=2):
        ids = encode(tokenizer, prompt, model)
        prompt_len = ids.shape[1]
        with torch.no_grad():
            target_id = int(model(ids).logits[0, -1].argmax())
            while (ids.shape[1] - prompt_len < max_blank
                   and not tokenizer.decode([target_id]).strip()):
                ids = torch.cat([ids, ids.new_tensor([[target_id]])], dim=1)
                target_id = int(model(ids).logits[0, -1].argmax())
        positions = candidate_positions(tokenizer, ids)   # never the BOS token
        positions = positions[positions < prompt_len]
        relevances = {name: fn(model, ids, target_id).float().cpu() for name, fn in methods.items()}
        relevances["random"] = torch.rand(ids.shape[1], generator=gen)
        items.append(dict(prompt=prompt, ids=ids, target_id=target_id, positions=positions,
                          relevances=relevances, appended=ids.shape[1] - prompt_len))
    return items


# --------------------------------------------------------------------------------------------
# Summaries and figures
# --------------------------------------------------------------------------------------------
METHOD_COLORS = METHODS   # one colour per method across the course (utils.colours)


def resample(curve, n_points=51):
    """A curve over k = 0 .. n removed tokens, resampled at n_points evenly spaced fractions."""
    curve = torch.as_tensor(curve, dtype=torch.float64)
    source = torch.linspace(0, 1, curve.numel(), dtype=torch.float64)
    target = torch.linspace(0, 1, n_points, dtype=torch.float64)
    idx = torch.searchsorted(source, target).clamp(1, curve.numel() - 1)
    x0, x1 = source[idx - 1], source[idx]
    w = (target - x0) / (x1 - x0)
    return curve[idx - 1] * (1 - w) + curve[idx] * w


def summary(all_curves: list[dict]):
    """Per method: mean and standard error over prompts of the deletion area (lower is better),
    insertion area (higher is better) and area between them (insertion - deletion, higher is
    better), and on how many prompts the method has the largest area between curves.
    Returns (table: a pandas DataFrame, one row per method; between: method -> [prompts])."""
    import pandas as pd

    methods = list(all_curves[0])
    areas = {m: {"deletion": [], "insertion": []} for m in methods}
    for curves in all_curves:
        for m in methods:
            for kind in ("deletion", "insertion"):
                areas[m][kind].append(area_under_curve(curves[m][kind]))
    between = {m: torch.tensor(areas[m]["insertion"]) - torch.tensor(areas[m]["deletion"])
               for m in methods}
    best = torch.stack([between[m] for m in methods]).argmax(0)
    n = len(all_curves)

    def mean_sem(values):
        v = torch.as_tensor(values, dtype=torch.float64)
        sem = float(v.std() / n ** 0.5) if n > 1 else float("nan")
        return float(v.mean()), sem

    rows = []
    for i, m in enumerate(methods):
        d, d_sem = mean_sem(areas[m]["deletion"])
        ins, ins_sem = mean_sem(areas[m]["insertion"])
        b, b_sem = mean_sem(between[m])
        rows.append({"method": m, "deletion AUC (lower better)": d, "deletion sem": d_sem,
                     "insertion AUC (higher better)": ins, "insertion sem": ins_sem,
                     "area between (higher better)": b, "area between sem": b_sem,
                     "best on prompts": int((best == i).sum())})
    return pd.DataFrame(rows).set_index("method"), between


def plot_mean_curves(all_curves: list[dict], title: str):
    """Mean deletion and insertion curves over prompts (x: fraction of tokens), one line per
    method, shaded by the standard error."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.2), layout="constrained")
    axes = fig.subplots(1, 2)
    x = torch.linspace(0, 1, 51)
    for ax, kind in zip(axes, ("deletion", "insertion")):
        for m in all_curves[0]:
            ys = torch.stack([resample(c[m][kind]) for c in all_curves])       # [prompts, 51]
            mean = ys.mean(0)
            sem = ys.std(0) / len(all_curves) ** 0.5 if len(all_curves) > 1 else torch.zeros_like(mean)
            color = METHOD_COLORS.get(m)
            ax.plot(x, mean, label=m, color=color, lw=2 if m != "random" else 1.5,
                    ls="--" if m == "random" else "-")
            ax.fill_between(x, mean - sem, mean + sem, color=color, alpha=0.15)
        ax.axhline(0, color="grey", lw=0.6)
        ax.set_xlabel(f"fraction of tokens {'removed' if kind == 'deletion' else 'put back'}, "
                      "most relevant first")
        ax.set_ylabel("target logit (1 = original, 0 = all removed)")
        ax.set_title(f"{kind.capitalize()} curve "
                     f"({'falls fast = faithful' if kind == 'deletion' else 'rises fast = faithful'})")
        ax.legend()
    fig.suptitle(title)
    return fig


def plot_area_between(table, between: dict, title: str):
    """Bar per method: mean area between insertion and deletion curves, standard-error bars,
    and one dot per prompt."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 4.2), layout="constrained")
    ax = fig.subplots()
    methods = list(table.index)
    means = table["area between (higher better)"].to_numpy()
    sems = table["area between sem"].to_numpy()
    colors = [METHOD_COLORS.get(m, "#333333") for m in methods]
    ax.bar(range(len(methods)), means, yerr=sems, color=colors, alpha=0.75, capsize=4)
    # the legend's bar in a neutral grey: each bar keeps its method's colour
    ax.bar([0], [0], color="#bdbdbd", label="mean ± standard error (bar colour: the method)")
    for i, m in enumerate(methods):
        values = between[m].numpy()
        jitter = torch.linspace(-0.15, 0.15, len(values)).numpy()
        ax.scatter(i + jitter, values, s=10, color="k", zorder=3,
                   label="one prompt" if i == 0 else None)
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_xticks(range(len(methods)), methods, rotation=15, ha="right", rotation_mode="anchor")
    ax.set_xlabel("explanation method")
    ax.set_ylabel("insertion AUC - deletion AUC")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return fig
