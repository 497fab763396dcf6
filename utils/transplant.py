"""Around function vectors (notebook 03): greedy generation with and without heads
transplanted from another prompt, and the heads to transplant."""
from __future__ import annotations

from utils.generation import greedy_ids
from utils.head_explorer import head_clusters
from utils.models import model_shape
from utils.tokens import encode


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
