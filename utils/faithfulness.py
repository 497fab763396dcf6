"""Around faithfulness (notebook 06): insertion curves, orders, the areas of normalised curves,
the relevance of every method on many prompts, summaries and figures.

A curve is [n + 1]: the target logit at the last position with 0 .. n tokens removed or put back.
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
    if relevance.dim() != 1:
        raise ValueError(f"relevance must be [seq], one value per token, got shape "
                         f"{tuple(relevance.shape)}.")
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


def faithfulness_curves(model, input_ids, target_id, relevances: dict, positions, baseline_id,
                        batch_size=32, min_span=0.5, *, deletion_curve, normalise_curve,
                        n_random=20, seed=0, random_points=5):
    """Normalised deletion and insertion curves of every method on one prompt.

    relevances: method -> relevance [seq]; positions: the candidate positions (e.g. all but BOS).
    Returns {method: {"deletion": [n+1], "insertion": [n+1]}}, 1 = original logit,
    0 = every candidate replaced by the baseline. Raises ValueError when that removal moves
    the logit by less than `min_span` (the scale would divide by almost nothing).
    A method named "random" is not read from `relevances`: its curves are the mean over
    `n_random` seeded random orders (one order is a noisy floor), sampled at `random_points`
    fractions (see `random_order_curves`), and its entry also holds "orders": [n_random], the
    area between the curves of each order, for the spread.
    deletion_curve: notebook 06's answer, with the signature of `insertion_curve`;
    normalise_curve: its answer (curve, full_value, empty_value, min_span) -> rescaled curve.
    """
    check_input_ids(model, input_ids)
    seq_len = input_ids.shape[1]
    positions = check_positions(positions, seq_len)
    for method, relevance in relevances.items():
        relevance = check_finite(relevance, f"relevances[{method!r}]")
        if method != "random" and tuple(relevance.shape) != (seq_len,):
            raise ValueError(f"relevances[{method!r}] has shape {tuple(relevance.shape)} but the "
                             f"prompt has {seq_len} tokens: give one value per token of this "
                             "prompt ([seq]).")
    curves = {}

    def normalised(order):
        deletion = deletion_curve(model, input_ids, target_id, order, baseline_id, batch_size)
        insertion = insertion_curve(model, input_ids, target_id, order, baseline_id, batch_size)
        full, empty = float(deletion[0]), float(deletion[-1])
        return {"deletion": normalise_curve(deletion, full, empty, min_span),
                "insertion": normalise_curve(insertion, full, empty, min_span)}

    gen = torch.Generator().manual_seed(seed)
    for method, relevance in relevances.items():
        if method != "random":
            curves[method] = normalised(relevance_order(relevance, positions))
            continue
        orders = torch.stack([positions[torch.randperm(len(positions), generator=gen)]
                              for _ in range(n_random)])
        curves[method] = random_order_curves(model, input_ids, target_id, orders, baseline_id,
                                             random_points, min_span, batch_size=4 * batch_size,
                                             normalise_curve=normalise_curve)
    return curves


def random_order_curves(model, input_ids, target_id, orders, baseline_id, n_points=5,
                        min_span=0.5, batch_size=128, *, normalise_curve):
    """Mean normalised deletion and insertion curves of many random orders [n_orders, n],
    each sampled at `n_points` evenly spaced fractions of the tokens (rounded to whole tokens):
    a floor estimated from many orders at the cost of a few full curves.

    Returns {"deletion": [n_points], "insertion": [n_points], "orders": [n_orders]} where
    "orders" is each order's area between its insertion and deletion curves.
    normalise_curve: notebook 06's answer, as in `faithfulness_curves`.
    """
    orders = torch.as_tensor(orders, device=input_ids.device).long()
    n_orders, n = orders.shape
    ks = torch.linspace(0, n, n_points).round().long().tolist()[1:-1]   # inner points
    empty_ids = input_ids[0].clone()
    empty_ids[orders[0]] = baseline_id
    rows = [input_ids[0], empty_ids]      # the two ends are the same for every order
    for order in orders:                  # the first k of the order removed / put back
        for k in ks:
            deleted = input_ids[0].clone()
            deleted[order[:k]] = baseline_id
            inserted = input_ids[0].clone()
            inserted[order[k:]] = baseline_id
            rows += [deleted, inserted]
    logits = last_token_logits(model, torch.stack(rows), target_id, batch_size)
    full, empty = float(logits[0]), float(logits[1])
    inner = logits[2:].reshape(n_orders, len(ks), 2)
    ends = lambda first, last: (torch.full((n_orders, 1), first), torch.full((n_orders, 1), last))  # noqa: E731
    start, stop = ends(full, empty)
    deletion = normalise_curve(torch.cat([start, inner[..., 0], stop], 1), full, empty, min_span)
    insertion = normalise_curve(torch.cat([stop, inner[..., 1], start], 1), full, empty, min_span)
    between = torch.tensor([area_under_curve(i) - area_under_curve(d)
                            for d, i in zip(deletion, insertion)])
    return {"deletion": deletion.mean(0), "insertion": insertion.mean(0), "orders": between}


def random_spread(all_curves: list[dict]) -> tuple[float, float, float]:
    """(mean over prompts of the random orders' mean area between curves, mean over prompts of
    their standard deviation across orders, the same for a single order's typical distance
    from zero) from `faithfulness_curves` results."""
    orders = [c["random"]["orders"] for c in all_curves]
    return (float(torch.stack([o.mean() for o in orders]).mean()),
            float(torch.stack([o.std() for o in orders]).mean()),
            float(torch.stack([o.abs().mean() for o in orders]).mean()))


def compare(between: dict, a: str, b: str) -> tuple[str, int, float, float]:
    """Paired comparison of methods a and b over prompts: (verdict, prompts where a is ahead,
    mean difference, its standard error). The verdict needs a mean difference beyond two
    standard errors: "clearly ahead", "clearly behind", else "not clearly different"."""
    diff = between[a] - between[b]
    sem = float(diff.std() / len(diff) ** 0.5) if len(diff) > 1 else float("nan")
    mean = float(diff.mean())
    verdict = ("clearly ahead" if mean > 2 * sem else
               "clearly behind" if mean < -2 * sem else "not clearly different")
    return verdict, int((diff > 0).sum()), mean, sem


def comparison_line(between: dict, a: str, b: str) -> str:
    verdict, wins, mean, sem = compare(between, a, b)
    return (f"{a} vs {b}: ahead on {wins} of {len(between[a])} prompts, mean difference "
            f"{mean:+.3f} ± {sem:.3f} -> {verdict}")


def explain_prompts(model, tokenizer, prompts, methods: dict, baseline_id, seed=0):
    """Relevance of every method for the model's top next token, on each prompt.

    methods: name -> fn(model, input_ids, target_id) returning [seq]; a "random" order is
    added (seeded). Returns one dict per prompt: ids, target_id, positions, relevances.
    """
    from utils.tokens import encode

    gen = torch.Generator().manual_seed(seed)
    items = []
    for prompt in progress(prompts, desc="explaining prompts", min_steps=2):
        ids = encode(tokenizer, prompt, model)
        with torch.no_grad():
            target_id = int(model(ids).logits[0, -1].argmax())
        # the BOS token is kept: it is not part of the text, and models rest attention on it
        first = 1 if tokenizer.bos_token_id is not None and int(ids[0, 0]) == tokenizer.bos_token_id else 0
        positions = torch.arange(first, ids.shape[1])
        relevances = {name: fn(model, ids, target_id).float().cpu() for name, fn in methods.items()}
        relevances["random"] = torch.rand(ids.shape[1], generator=gen)
        items.append(dict(prompt=prompt, ids=ids, target_id=target_id, positions=positions,
                          relevances=relevances))
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
