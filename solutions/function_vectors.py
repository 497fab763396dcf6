"""Notebook 03: capture what attention heads write and transplant it into another prompt."""
from __future__ import annotations

from collections import defaultdict
from contextlib import contextmanager

import torch

from solutions.attention_heads import attention_relevance
from utils.generation import greedy_ids
from utils.head_explorer import select_top_heads as top_heads
from utils.hooks import o_proj_pre_hooks, split_heads
from utils.lrp import attnlrp
from utils.models import input_device, model_shape
from utils.tokens import encode
from utils.validate import check_head_vectors


# ---------------------------------------------------------------------------------------------
# Exercise 5: capture and transplant

def head_outputs_at_last(model, input_ids, heads):
    """What each head in `heads` writes at the last position of `input_ids` [1, seq].

    heads: list of (layer, head); returns [len(heads), head_dim], the head's slice of the input
    of the attention output projection (o_proj), on the CPU.
    """
    _, n_heads, _ = model_shape(model)
    stored = {}  # layer -> [n_heads, head_dim] at the last position

    def store(layer):
        def hook(module, args):
            stored[layer] = split_heads(args[0], n_heads)[0, -1].detach()
        return hook

    layers = sorted({layer for layer, _ in heads})
    with o_proj_pre_hooks(model, {layer: store(layer) for layer in layers}), torch.no_grad():
        model(input_ids.to(input_device(model)))
    return torch.stack([stored[layer][head].float().cpu() for layer, head in heads])


@contextmanager
def transplant_heads(model, heads, vectors, scale=1.0):
    """Inside the block, head `heads[i]` writes `scale * vectors[i]` at the last position.

    heads: list of (layer, head); vectors: [len(heads), head_dim]. The last position of every
    forward pass is patched: during cached generation, the prompt's last token, then each new one.
    """
    heads, vectors = check_head_vectors(model, heads, vectors)
    _, n_heads, _ = model_shape(model)
    by_layer = defaultdict(list)
    for (layer, head), vector in zip(heads, vectors):
        by_layer[layer].append((head, vector))

    def replace(layer):
        def hook(module, args):
            x = args[0].clone()                 # the model's own tensor stays untouched
            per_head = split_heads(x, n_heads)  # a view of the clone: writes land in x
            for head, vector in by_layer[layer]:
                per_head[:, -1, head] = scale * vector.to(x.device, x.dtype)
            return (x,) + tuple(args[1:])
        return hook

    with o_proj_pre_hooks(model, {layer: replace(layer) for layer in by_layer}):
        yield


# ---------------------------------------------------------------------------------------------
# Exercise 6: heads that read a substring

def substring_token_positions(tokenizer, prompt, substring):
    """Positions of the tokens of `prompt` (BOS included) that overlap `substring`: [n] (long).

    Characters are mapped to tokens with the tokenizer's offsets; the first occurrence counts.
    """
    start = prompt.find(substring) if substring else -1
    if start < 0:
        raise ValueError(f"{substring!r} is not in the prompt. Copy the substring exactly from the "
                         "prompt (case, spaces and punctuation matter).")
    end = start + len(substring)
    offsets = tokenizer(prompt, return_offsets_mapping=True)["offset_mapping"]
    # A token overlaps the substring when its span [a, b) intersects [start, end); special
    # tokens such as BOS have empty spans and never count.
    positions = [i for i, (a, b) in enumerate(offsets) if b > a and a < end and b > start]
    return torch.tensor(positions, dtype=torch.long)


def substring_head_scores(model, tokenizer, prompt, substring, target_id=None):
    """Per head, the positive AttnLRP relevance the last query position puts on `substring`.

    target_id: the token to explain (default: the model's top prediction after `prompt`).
    Returns [n_layers, n_heads].
    """
    positions = substring_token_positions(tokenizer, prompt, substring)
    input_ids = encode(tokenizer, prompt, model)
    if target_id is None:
        with torch.no_grad():
            target_id = int(model(input_ids).logits[0, -1].argmax())
    with attnlrp(model):
        maps = attention_relevance(model, input_ids, target_id)   # [L, H, q, k]
    return maps[:, :, -1, positions].clamp(min=0).sum(-1)


# ---------------------------------------------------------------------------------------------
# Experiments (not exercises)

def generate(model, tokenizer, prompt, max_new_tokens=20):
    """Greedy continuation of `prompt` as text (`utils.generation`: one token per forward
    pass, so a transplant hook's "last position" is always the newest token)."""
    input_ids = encode(tokenizer, prompt, model)
    new_ids = greedy_ids(model, tokenizer, input_ids, max_new_tokens)[0, input_ids.shape[1]:]
    return tokenizer.decode(new_ids.tolist(), skip_special_tokens=True)


def compare_transplant(model, tokenizer, source_prompt, heads, target_prompt, scale=1.0,
                       max_new_tokens=20):
    """Generate on `target_prompt` without and with `heads` carrying their output from
    `source_prompt`. Returns (normal text, patched text)."""
    vectors = head_outputs_at_last(model, encode(tokenizer, source_prompt, model), heads)
    normal = generate(model, tokenizer, target_prompt, max_new_tokens)
    with transplant_heads(model, heads, vectors, scale):
        patched = generate(model, tokenizer, target_prompt, max_new_tokens)
    return normal, patched


def default_k(model) -> int:
    """How many heads an experiment transplants: about a tenth of all heads, 4 to 20."""
    n_layers, n_heads, _ = model_shape(model)
    return min(20, max(4, (n_layers * n_heads) // 10))


def head_groups(model, tokenizer, prompt, k=None, n_clusters=None):
    """Top-k heads of `prompt` grouped by their relevance maps: dict(heads, labels).

    Uses notebook 02's `utils.head_explorer.head_clusters` when present; otherwise a local
    fallback clusters the L2-normalised flattened maps with KMeans (cosine-like, no UMAP).
    """
    try:
        from utils.head_explorer import head_clusters
        found = head_clusters(model, tokenizer, prompt, k=k, n_clusters=n_clusters)
        return {"heads": [tuple(map(int, h)) for h in found["heads"]],
                "labels": [int(c) for c in found["labels"]]}
    except ImportError:
        pass
    from sklearn.cluster import KMeans

    k = k or default_k(model)
    n_clusters = n_clusters or 3
    input_ids = encode(tokenizer, prompt, model)
    with torch.no_grad():
        target_id = int(model(input_ids).logits[0, -1].argmax())
    with attnlrp(model):
        maps = attention_relevance(model, input_ids, target_id)   # [L, H, q, k]
    heads = top_heads(maps.sum(dim=(-2, -1)), k)
    flat = torch.stack([maps[layer, head].flatten() for layer, head in heads])
    flat = flat / flat.norm(dim=1, keepdim=True).clamp_min(1e-12)
    labels = KMeans(n_clusters=n_clusters, n_init=10, random_state=0).fit_predict(flat.numpy())
    return {"heads": heads, "labels": [int(c) for c in labels]}


def plot_head_atlas(scores_by_type, title, top_k=None):
    """Layer x head bubble chart: dot size = score, colour = head type. Returns the figure.

    scores_by_type: {name: [n_layers, n_heads]}; top_k: draw each type's k best heads only.
    Uses `utils.head_plots.head_atlas` when present, else a local matplotlib version.
    """
    try:
        from utils.head_plots import head_atlas
        return head_atlas(scores_by_type, title, top_k=top_k)
    except ImportError:
        pass
    from matplotlib.figure import Figure

    first = next(iter(scores_by_type.values()))
    n_layers, n_heads = first.shape
    fig = Figure(figsize=(min(12, 2 + 0.35 * n_heads), min(10, 1.5 + 0.45 * n_layers)))
    ax = fig.subplots()
    top = max(float(s.clamp(min=0).max()) for s in scores_by_type.values()) or 1.0
    for i, (name, scores) in enumerate(scores_by_type.items()):
        scores = scores.clamp(min=0)
        if top_k is not None:
            scores = torch.where(scores >= scores.flatten().topk(top_k).values[-1], scores, 0)
        layers, heads = torch.nonzero(scores > 0, as_tuple=True)
        sizes = 400 * scores[layers, heads] / top
        ax.scatter(heads.numpy() + 0.12 * (i - 1), layers.numpy(), s=sizes.numpy(),
                   alpha=0.6, label=name, color=f"C{i}")
    ax.set_xticks(range(n_heads))
    ax.set_yticks(range(n_layers))
    ax.set_xlim(-0.7, n_heads - 0.3)
    ax.set_ylim(n_layers - 0.5, -0.5)   # layer 0 on top, as information flows downwards
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_title(title)
    ax.legend(title="head type (dot size = score)", loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig
