"""Around function vectors (notebook 03): greedy generation with and without heads
transplanted from another prompt, and the heads to transplant."""
from __future__ import annotations

from utils.generation import greedy_ids
from utils.head_explorer import head_clusters
from utils.models import model_shape
from utils.tokens import encode, readable_token


def generate(model, tokenizer, prompt, max_new_tokens=20):
    """Greedy continuation of `prompt` as text (`utils.generation`: one token per forward
    pass, so a transplant hook's "last position" is always the newest token)."""
    input_ids = encode(tokenizer, prompt, model)
    new_ids = greedy_ids(model, tokenizer, input_ids, max_new_tokens)[0, input_ids.shape[1]:]
    return tokenizer.decode(new_ids.tolist(), skip_special_tokens=True)


def compare_transplant(model, tokenizer, source_prompt, heads, target_prompt, scale=1.0,
                       max_new_tokens=20, *, capture, transplant):
    """Generate on `target_prompt` without and with `heads` carrying their output from
    `source_prompt`. Returns (normal text, patched text).

    capture(model, input_ids, heads) -> [len(heads), head_dim] and the context manager
    transplant(model, heads, vectors, scale): notebook 03's `head_outputs_at_last` and
    `transplant_heads`.
    """
    vectors = capture(model, encode(tokenizer, source_prompt, model), heads)
    normal = generate(model, tokenizer, target_prompt, max_new_tokens)
    with transplant(model, heads, vectors, scale):
        patched = generate(model, tokenizer, target_prompt, max_new_tokens)
    return normal, patched


def default_k(model) -> int:
    """How many heads an experiment transplants: about a tenth of all heads, 4 to 20."""
    n_layers, n_heads, _ = model_shape(model)
    return min(20, max(4, (n_layers * n_heads) // 10))


def head_groups(model, tokenizer, prompt, k=None, n_clusters=None, *, relevance_fn):
    """Top-k heads of `prompt` grouped by their relevance maps: dict(heads, labels).

    relevance_fn: notebook 02's `attention_relevance` (see `utils.head_explorer.head_clusters`).
    """
    found = head_clusters(model, tokenizer, prompt, k=k, n_clusters=n_clusters,
                          relevance_fn=relevance_fn)
    return {"heads": [tuple(map(int, h)) for h in found["heads"]],
            "labels": [int(c) for c in found["labels"]]}


def answered_fact(model, tokenizer, prompt, facts, max_new_tokens=8):
    """Which of `facts` (substrings of `prompt`) the model's greedy answer gives: the one whose
    first word appears earliest in the answer, or None when the answer names none of them.
    Returns (fact or None, the answer text)."""
    missing = [f for f in facts if f not in prompt]
    if missing:
        raise ValueError(f"{missing[0]!r} is not in the prompt: each fact must be copied from it.")
    answer = generate(model, tokenizer, prompt, max_new_tokens)
    found = [(answer.find(f.split()[0]), f) for f in facts if f.split()[0] in answer]
    return (min(found)[1] if found else None), answer


def answered_pairs(model, tokenizer, rows, max_new_tokens=8):
    """Transplant pairs whose substring is the fact the model actually answers.

    rows: (source prompt, candidate facts, target prompt). Returns (pairs, set_aside): pairs as
    (source, the fact answered, target); set_aside as (source, answer text) where the model's
    answer names none of the candidates (reported, never scored as if it did).
    """
    pairs, set_aside = [], []
    for source, facts, target in rows:
        fact, answer = answered_fact(model, tokenizer, source, facts, max_new_tokens)
        if fact is None:
            set_aside.append((source, answer))
        else:
            pairs.append((source, fact, target))
    return pairs, set_aside


def transplant_effects(model, tokenizer, pairs, k, *, scores_fn, capture, transplant,
                       n_random=3, scale=1.0, greedy_tokens=8):
    """Measure a head transplant over several prompt pairs, beside random heads.

    pairs: (source prompt, substring, target prompt) rows; for each, the top-k heads of
    scores_fn(model, tokenizer, source, substring) ([n_layers, n_heads]) carry their output at
    the source's last position into the target's last position. The effect is the rise of the
    log-probability, on the target, of the source's own next token (does the target move toward
    the source's answer?), reported with the probability before and after, and the greedy
    continuation of the target with and without the top heads (greedy_tokens=0 skips it). The
    control transplants k random heads (n_random seeded draws).
    Returns a pandas DataFrame, one row per pair: top-k rise, mean random rise, probabilities,
    texts, the heads.
    """
    import pandas as pd
    import torch

    from utils.function_vectors import random_heads
    from utils.heads import select_top_heads

    rows = []
    for i, (source, substring, target) in enumerate(pairs):
        source_ids, target_ids = encode(tokenizer, source, model), encode(tokenizer, target, model)
        with torch.no_grad():
            answer = int(model(source_ids).logits[0, -1].argmax())
            clean = float(model(target_ids).logits[0, -1].float().log_softmax(-1)[answer])

        def patched_logp(heads):
            vectors = capture(model, source_ids, heads)
            with transplant(model, heads, vectors, scale), torch.no_grad():
                return float(model(target_ids).logits[0, -1].float().log_softmax(-1)[answer])

        top = select_top_heads(scores_fn(model, tokenizer, source, substring), k)
        top_logp = patched_logp(top)
        controls = [patched_logp(random_heads(model, k, seed=100 * i + s)) for s in range(n_random)]
        row = {"substring": substring, "source answer": readable_token(tokenizer, answer),
               "log p before": clean, "rise, top heads": top_logp - clean,
               "rise, random heads": sum(controls) / n_random - clean,
               "p before": float(torch.tensor(clean).exp()),
               "p top heads": float(torch.tensor(top_logp).exp()),
               "p random heads": float(torch.tensor(controls).exp().mean()),
               "mean layer": mean_layer(top), "heads": " ".join(f"L{l}H{h}" for l, h in top)}
        if greedy_tokens:
            normal, patched = compare_transplant(model, tokenizer, source, top, target, scale,
                                                 greedy_tokens, capture=capture,
                                                 transplant=transplant)
            row.update({"greedy before": normal, "greedy, top heads": patched})
        rows.append(row)
    return pd.DataFrame(rows)


def mean_layer(heads) -> float:
    """Mean layer of a list of (layer, head)."""
    return sum(layer for layer, _ in heads) / len(heads)


def layer_takeaway(tables: dict, first: str = "task", second: str = "retrieval") -> str:
    """Where two kinds of heads sit, from transplant_effects tables (name -> table): their mean
    layer over all pairs, and which sits earlier (a difference under half a layer counts as
    the same depth)."""
    a, b = tables[first]["mean layer"].mean(), tables[second]["mean layer"].mean()
    if abs(a - b) < 0.5:
        where = "at about the same depth"
    else:
        where = f"{first} heads earlier" if a < b else f"{second} heads earlier"
    return (f"{first} heads: mean layer {a:.1f}; {second} heads: mean layer {b:.1f} "
            f"(over {len(tables[first])} and {len(tables[second])} prompts): {where}.")
