"""Notebook 05 as the field patches: logit differences, the prompts a model gets right, noising
beside denoising, patches restricted to positions, attribution patching and heads patched together.

    items = sentiment_pairs(model, tokenizer)               # one per test review, with `right`
    metric = normalised_metric(item)                        # logits -> 0 (corrupted) .. 1 (clean)
    denoise = patch_heads(model, pair, clean_cache, "z", metric)
    noise = 1 - patch_heads(model, pair.swapped(), corrupted_cache, "z", metric)
    approx = attribution_patching(...)   # notebook 05's exercise 4 (solutions.activation_patching)
    together = heads_together(model, pair, clean_cache, heads, metric)
"""
from __future__ import annotations

import numpy as np
import torch

from utils.models import model_shape
from utils.patching import Patch, align_prompts, cache_activations, run_with_patches
from utils.tokens import answer_token_id


def logit_diff(logits: torch.Tensor, answer_id: int, foil_id: int) -> torch.Tensor:
    """logits [..., vocab] -> [...]: logit of the correct label minus the swapped label's."""
    logits = logits.float()
    return logits[..., answer_id] - logits[..., foil_id]


def sentiment_pairs(model, tokenizer, prompts=None) -> list[dict]:
    """Review prompts as clean/corrupted pairs with their logit differences.

    prompts: dicts with review, label, clean, corrupted (e.g. `generated_sentiment_prompts`);
    None: notebook 05's four test reviews with the course's six demonstrations.
    Returns dicts: review, label, foil (the swapped label), pair (AlignedPair), answer_id,
    foil_id, clean / corrupted (logit differences, correct - swapped label) and right (the
    clean run's top next token is the correct label's first token).
    """
    from utils.prompts import LABEL_SWAP, SENTIMENT_TESTS, sentiment_prompt

    if prompts is None:
        prompts = [dict(review=review, label=label, clean=sentiment_prompt(review),
                        corrupted=sentiment_prompt(review, corrupted=True))
                   for review, label in SENTIMENT_TESTS]
    items = []
    for prompt in prompts:
        review, label = prompt["review"], prompt["label"]
        clean_prompt, corrupted_prompt = prompt["clean"], prompt["corrupted"]
        pair = align_prompts(tokenizer, clean_prompt, corrupted_prompt, " " + label, model)
        foil_id = answer_token_id(tokenizer, clean_prompt, " " + LABEL_SWAP[label])
        with torch.no_grad():
            clean_logits = model(**pair.clean_inputs()).logits[0, -1]
            corrupted_logits = model(**pair.corrupted_inputs()).logits[0, -1]
        items.append(dict(review=review, label=label, foil=LABEL_SWAP[label], pair=pair,
                          answer_id=pair.answer_id, foil_id=foil_id,
                          clean=float(logit_diff(clean_logits, pair.answer_id, foil_id)),
                          corrupted=float(logit_diff(corrupted_logits, pair.answer_id, foil_id)),
                          right=int(clean_logits.argmax()) == pair.answer_id))
    return items


def normalised_metric(item: dict, normalise=None):
    """logits [n, vocab] -> [n]: the item's logit difference rescaled to 0 (corrupted) .. 1 (clean).

    normalise(logits, answer_id, foil_id, clean_diff, corrupted_diff): the exercise's function
    (None: the same computation here)."""
    if normalise is None:
        def normalise(logits, answer_id, foil_id, clean, corrupted):
            return (logit_diff(logits, answer_id, foil_id) - corrupted) / (clean - corrupted)
    return lambda logits: normalise(logits, item["answer_id"], item["foil_id"], item["clean"],
                                    item["corrupted"])


def usable(items: list[dict], min_gap: float = 1.0) -> tuple[list[dict], list[tuple[dict, str]]]:
    """(kept, left out with the reason): kept = right on the clean run and a gap of at least
    `min_gap` between the clean and corrupted logit differences (else the normalisation
    divides by almost nothing)."""
    kept, left_out = [], []
    for item in items:
        if not item["right"]:
            left_out.append((item, "wrong on the clean run: there is no correct behaviour to restore"))
        elif item["clean"] - item["corrupted"] < min_gap:
            left_out.append((item, f"the logit difference is {item['clean']:.2f} clean and "
                                   f"{item['corrupted']:.2f} corrupted, not lower by {min_gap:g} or more: "
                                   "swapping the labels does not move the answer away from the correct label"))
        else:
            kept.append(item)
    return kept, left_out


def noising_heads(model, pair, metric, batch_size: int = 64) -> torch.Tensor:
    """Noising: each head's output at every position taken from the corrupted run into the clean
    run. Returns [L, H]: how much of the clean behaviour is lost (1 - metric; 0 = nothing)."""
    from utils.patching import patch_heads

    corrupted_cache = cache_activations(model, pair.corrupted_inputs())
    return 1 - patch_heads(model, pair.swapped(), corrupted_cache, "z", metric, batch_size)


def heads_together(model, pair, cache, heads, metric, positions=None) -> float:
    """metric with the outputs of all `heads` [(layer, head)] patched at once (denoising:
    `cache` from the clean run), at `positions` (None: every valid position)."""
    target = pair if positions is None else pair.subset(positions)
    row = tuple(Patch("z", int(layer), head=int(head)) for layer, head in heads)
    return float(metric(run_with_patches(model, target, cache, [row]))[0])


def spearman_rho(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman rank correlation of two equally shaped tensors (average ranks for ties)."""
    from scipy.stats import spearmanr

    return float(spearmanr(a.flatten().numpy(), b.flatten().numpy()).statistic)


def top_overlap(a: torch.Tensor, b: torch.Tensor, k: int = 5) -> int:
    """How many of the k largest entries of a and b are the same heads."""
    top = lambda x: set(x.flatten().argsort(descending=True)[:k].tolist())   # noqa: E731
    return len(top(a) & top(b))


def mean_of(arrays) -> np.ndarray:
    return np.mean(np.stack([np.asarray(a) for a in arrays]), axis=0)


def label_positions(pair) -> list[int]:
    """Positions where the clean and corrupted prompts differ (the demonstration labels)."""
    return [i for i, d in enumerate(pair.differs) if d]


def head_at(scores: torch.Tensor, rank: int = 0) -> tuple[int, int]:
    """The (layer, head) with the rank-th largest score of [L, H]."""
    i = int(scores.flatten().argsort(descending=True)[rank])
    return divmod(i, scores.shape[1])


def top_heads(scores: torch.Tensor, k: int) -> list[tuple[int, int]]:
    return [head_at(scores, r) for r in range(min(k, scores.numel()))]


def self_attention_at(cache, layer: int, head: int, positions) -> float:
    """Mean attention weight a head gives a position from that same position, over `positions`."""
    pattern = cache["pattern"][layer][head]                     # [S, S]
    return float(torch.stack([pattern[p, p] for p in positions]).mean())


def layer0_positions(all_pos, at_labels, at_last, cache, pair) -> dict:
    """Where does the strongest layer-0 head (all-position patching) act? Its effect patched at
    every position, at the label positions alone and at the last position alone, and the share
    of its attention each label position gives to itself. Returns dict: head (layer-0 index),
    every, labels, last, self attention."""
    head = int(all_pos[0].argmax())
    return {"head": head, "every": float(all_pos[0, head]), "labels": float(at_labels[0, head]),
            "last": float(at_last[0, head]),
            "self attention": self_attention_at(cache, 0, head, label_positions(pair))}


def rewrites_label(where: dict) -> bool:
    """From `layer0_positions`: does the head act at the label positions - it restores something
    (above 0.05), at least 80 % of it patched at the label positions alone and under 10 % at the
    last position alone?"""
    full = where["every"]
    return full > 0.05 and where["labels"] >= 0.8 * full and abs(where["last"]) < 0.1 * full


# ---------------------------------------------------------------------------------------------
# Many prompts: reviews with their own demonstration sets, patched at the last position

SENTIMENT_LABELS = ("positive", "negative", "neutral", "mixed")
# Reviews for generated prompts (none is one of the notebook's four test reviews or six
# demonstrations): each prompt draws its demonstrations and its test review from these.
REVIEW_POOL = {
    "positive": ["Lovely hotel and friendly staff.", "The soup was delicious!",
                 "Wonderful film, I loved it.", "Great phone, works perfectly.",
                 "Excellent service from start to finish.", "A brilliant book!",
                 "Superb meal and a warm welcome.", "Fantastic concert, highly recommended."],
    "negative": ["The room was dirty and noisy.", "Awful food and slow service.",
                 "Boring film, I left early.", "The charger broke in a week.",
                 "Rude waiter and a cold meal.", "A dull and pointless book.",
                 "Very poor quality, never again.", "The worst hotel I have stayed in."],
    "neutral": ["The hotel was fine.", "An ordinary lunch.", "The film was okay.",
                "It does the job.", "A standard room, nothing more.", "The book was average.",
                "Service was acceptable.", "Nothing good or bad to say."],
    "mixed": ["Tasty food but rude staff.", "Nice room but a noisy street.",
              "Good film but far too long.", "Fast delivery but the box was broken.",
              "Great view but the bed was hard.", "Cheap but it broke quickly.",
              "Friendly staff but slow service.", "Fun book but a weak ending."],
}


def check_sentiment_labels(labels) -> tuple[str, ...]:
    """labels as a tuple, refused unless they are sentiments of SENTIMENT_LABELS that hold each
    label's swap (`LABEL_SWAP`) too, so that a corrupted prompt uses the same labels."""
    from utils.prompts import LABEL_SWAP

    labels = tuple(labels)
    if not labels or any(l not in SENTIMENT_LABELS or LABEL_SWAP[l] not in labels for l in labels):
        raise ValueError(f"labels {labels} must be sentiments of {SENTIMENT_LABELS} that hold "
                         "each label's swap too (e.g. ('positive', 'negative')), so that the "
                         "corrupted prompt uses the same labels.")
    return labels


def generated_sentiment_prompts(n: int, seed: int = 0, n_demos: int = 6,
                                labels: tuple[str, ...] = SENTIMENT_LABELS) -> list[dict]:
    """n clean/corrupted review prompts, each with its own demonstration set.

    Prompt i asks about a review of label labels[i % len(labels)] (balanced labels); its
    n_demos demonstrations (every label at least once when n_demos >= len(labels), shuffled)
    are other reviews of the pool. The corrupted prompt swaps every demonstration label
    (`LABEL_SWAP`). labels: all four sentiments, or a set closed under the swap, such as
    ("positive", "negative"). Returns dicts: review, label, clean, corrupted.
    """
    from utils.prompts import LABEL_SWAP

    if n < 1 or n_demos < 1:
        raise ValueError(f"Need n >= 1 prompts and n_demos >= 1 demonstrations, got {n}, {n_demos}.")
    labels = check_sentiment_labels(labels)
    rng = np.random.default_rng(seed)
    prompts = []
    for i in range(n):
        label = labels[i % len(labels)]
        review = str(rng.choice(REVIEW_POOL[label]))
        demo_labels = list(labels[:min(len(labels), n_demos)])
        demo_labels += [str(rng.choice(labels)) for _ in range(n_demos - len(demo_labels))]
        rng.shuffle(demo_labels)
        used, lines = {review}, {False: [], True: []}
        for demo_label in demo_labels:
            text = str(rng.choice([r for r in REVIEW_POOL[demo_label] if r not in used]))
            used.add(text)
            for corrupted in (False, True):
                shown = LABEL_SWAP[demo_label] if corrupted else demo_label
                lines[corrupted].append(f"Review: {text} Sentiment: {shown}")
        ending = f"Review: {review} Sentiment:"
        prompts.append(dict(review=review, label=label,
                            clean="\n".join(lines[False] + [ending]),
                            corrupted="\n".join(lines[True] + [ending])))
    return prompts


def patch_last_position(model, pair, cache, head_sets, metric) -> torch.Tensor:
    """metric [n_sets] with each set of heads' outputs patched together (clean into corrupted)
    at the last position only.

    A patch at the last position cannot change the positions before it (a causal model never
    looks ahead), so those run once, from the corrupted prompt, and each patch re-runs only the
    last token on their keys and values: one token per head set instead of a whole prompt.
    head_sets: list of [(layer, head)]; cache: the clean run's `cache_activations` ("z").
    Equal to `heads_together(..., positions=[last])` up to float rounding.
    """
    from utils.hooks import o_proj_pre_hooks

    n_layers, n_heads, head_dim = model_shape(model)
    inputs = pair.corrupted_inputs()
    ids = inputs["input_ids"]
    mask = inputs.get("attention_mask", torch.ones_like(ids))
    positions = inputs.get("position_ids", torch.arange(ids.shape[1], device=ids.device)[None])
    rows = torch.zeros(len(head_sets), n_layers, n_heads, dtype=torch.bool)
    for i, heads in enumerate(head_sets):
        for layer, head in heads:
            rows[i, int(layer), int(head)] = True
    rows = rows.to(ids.device)
    clean_last = cache["z"][:, -1].to(ids.device)                  # [L, H, dh]

    def patch(layer):
        def hook(module, args):
            z = args[0].unflatten(-1, (n_heads, head_dim))           # [sets, 1, H, dh]
            z = torch.where(rows[:, None, layer, :, None], clean_last[layer].to(z), z)
            return (z.flatten(-2),) + tuple(args[1:])
        return hook

    with torch.no_grad():
        prefix = model(input_ids=ids[:, :-1], attention_mask=mask[:, :-1],
                       position_ids=positions[:, :-1], use_cache=True).past_key_values
        prefix.batch_repeat_interleave(len(head_sets))
        layers = [layer for layer in range(n_layers) if rows[:, layer].any()]
        with o_proj_pre_hooks(model, {layer: patch(layer) for layer in layers}):
            logits = model(input_ids=ids[:, -1:].expand(len(head_sets), -1),
                           attention_mask=mask.expand(len(head_sets), -1),
                           position_ids=positions[:, -1:].expand(len(head_sets), -1),
                           past_key_values=prefix, use_cache=True).logits[:, -1]
    return metric(logits).float().cpu()


def prompt_sweep(model, tokenizer, items, attribution_patching) -> dict:
    """Every item patched head by head at the last position, exactly and by attribution patching.

    items: `sentiment_pairs` dicts (the kept ones); attribution_patching(model, pair, cache,
    metric) -> [L, H]: notebook 05's Exercise 5, run on the pair restricted to its last
    position. Returns dict: "effect" and "approx" [n, L, H], "caches" (clean caches, for
    `held_out_carriers`).
    """
    from utils.progress import progress

    n_layers, n_heads, _ = model_shape(model)
    singles = [[(layer, head)] for layer in range(n_layers) for head in range(n_heads)]
    effects, approxes, caches = [], [], []
    for item in progress(items, desc="prompts"):
        pair, metric = item["pair"], normalised_metric(item)
        cache = cache_activations(model, pair.clean_inputs())
        effects.append(patch_last_position(model, pair, cache, singles, metric).reshape(n_layers, n_heads))
        approxes.append(attribution_patching(model, pair.subset([pair.seq_len - 1]), cache,
                                             metric).detach().float().cpu())
        caches.append(cache)
    return {"effect": torch.stack(effects), "approx": torch.stack(approxes), "caches": caches}


def held_out_carriers(model, items, sweep: dict, k: int = 3, n_random: int = 100,
                      seed: int = 0) -> dict:
    """The k heads with the largest mean last-position effect, chosen on one half of the items
    and patched together on the other half (and the reverse): every item is scored with heads
    chosen without it. Control: n_random layer-matched sets (one random head from the layer of
    each chosen head), patched together on the same items.
    Returns dict: "chosen" [n] (metric per item), "random" [n_random, n], "heads" used on each
    half, "halves" (the item indices of each half).
    """
    n = len(items)
    if n < 4:
        raise ValueError(f"Choosing heads on one half and scoring on the other needs at least 4 "
                         f"prompts the model gets right, got {n}: generate more prompts.")
    n_layers, n_heads, _ = model_shape(model)
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    halves = [sorted(order[: n // 2].tolist()), sorted(order[n // 2:].tolist())]
    out = {"chosen": np.zeros(n), "random": np.zeros((n_random, n)), "heads": [], "halves": halves}
    for test, other in (halves, halves[::-1]):
        heads = top_heads(sweep["effect"][other].mean(0), k)
        out["heads"].append(heads)
        random_sets = []
        for _ in range(n_random):
            drawn = []
            for layer, _ in heads:
                free = [h for h in range(n_heads) if (layer, h) not in drawn]
                drawn.append((layer, int(rng.choice(free))))
            random_sets.append(drawn)
        for i in test:
            pair = items[i]["pair"]
            values = patch_last_position(model, pair, sweep["caches"][i], [heads] + random_sets,
                                         normalised_metric(items[i]))
            out["chosen"][i] = float(values[0])
            out["random"][:, i] = values[1:].numpy()
    return out


def carriers_sentence(result: dict) -> str:
    """From `held_out_carriers`: the mean restored by the heads chosen on the other half, with
    its interval, the layer-matched random sets' spread with the share beaten and p (one-sided,
    `utils.stats`), n and the per-prompt range."""
    from utils.stats import against_draws, mean_interval, sentence

    chosen = mean_interval(result["chosen"])
    control = against_draws(chosen.mean, result["random"].mean(axis=1), "greater")
    worst = int(np.argmin(result["chosen"]))
    return (sentence(chosen, control, label="restored by the chosen heads",
                     control_label="layer-matched random heads")
            + f"; per prompt {result['chosen'].min():.2f} (prompt {worst}) to "
              f"{result['chosen'].max():.2f}")


def attribution_agreement(sweep: dict, k: int = 3) -> dict:
    """Attribution vs activation patching per prompt: Spearman over all heads, and on each
    prompt's k strongest heads (by activation patching) the sign agreement and the size ratio
    approx / effect. Returns dict of arrays: "spearman" [n], "same sign" [n * k], "ratio" [n * k]."""
    rhos, same, ratios = [], [], []
    for effect, approx in zip(sweep["effect"], sweep["approx"]):
        rhos.append(spearman_rho(approx, effect))
        for layer, head in top_heads(effect, k):
            e, a = float(effect[layer, head]), float(approx[layer, head])
            same.append(np.sign(a) == np.sign(e))
            ratios.append(a / e if e != 0 else np.nan)
    return {"spearman": np.array(rhos), "same sign": np.array(same), "ratio": np.array(ratios)}


def plot_prompt_sweep(sweep: dict, k: int = 5, main=None):
    """The k heads with the largest mean last-position effect: each prompt's activation-patching
    effect (dots) and attribution-patching estimate (crosses), with the mean as a bar.
    main: optional [L, H] effects of one prompt, marked with a diamond."""
    from matplotlib.figure import Figure

    from utils.colours import METHODS

    effect, approx = sweep["effect"], sweep["approx"]
    heads = top_heads(effect.mean(0), k)
    rng = np.random.default_rng(0)                  # horizontal jitter only, for legibility
    fig = Figure(figsize=(8, 3.6))
    ax = fig.subplots()
    for x, (layer, head) in enumerate(heads):
        jitter = rng.uniform(-0.12, 0.12, effect.shape[0])
        ax.bar(x, float(effect[:, layer, head].mean()), width=0.6, color="none",
               edgecolor=METHODS["activation patching"], label="activation patching: mean" if x == 0 else None)
        ax.scatter(x - 0.15 + jitter, effect[:, layer, head].numpy(), s=12,
                   color=METHODS["activation patching"],
                   label="activation patching: one prompt" if x == 0 else None)
        ax.scatter(x + 0.15 + jitter, approx[:, layer, head].numpy(), s=14, marker="x",
                   color=METHODS["attribution patching"],
                   label="attribution patching: one prompt" if x == 0 else None)
        if main is not None:
            ax.scatter(x, float(main[layer, head]), s=40, marker="D", color="black",
                       label="the prompt of Parts 2-4" if x == 0 else None)
    ax.axhline(0, color="#bbbbbb", linewidth=0.8)
    ax.set_xticks(range(len(heads)), [f"L{l}H{h}" for l, h in heads])
    ax.set_xlabel("head (the largest mean effect first)")
    ax.set_ylabel("recovered at the last position")
    ax.set_title(f"Each head patched at the last position, over {effect.shape[0]} prompts")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
