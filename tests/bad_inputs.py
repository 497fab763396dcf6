"""The bad inputs a learner or instructor is likely to give, and what the course answers.

One table serves two purposes: `tests/test_bad_inputs.py` runs every case against the course
model and checks the message, and the README's troubleshooting table is generated from it:

    python tests/bad_inputs.py      # rewrite the table between the markers in README.md

Each case: what was done (a sentence for the README), the call, the exception type and a part
of its message that must appear.
"""
from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
START, END = "<!-- troubleshooting:start -->", "<!-- troubleshooting:end -->"


@dataclass(frozen=True)
class Case:
    id: str
    what: str                      # what the learner did, as the README says it
    call: Callable                 # call(ctx) must raise `error` with `message` in its text
    error: str                     # exception class name
    message: str                   # a part of the message (the README quotes it)


def _folder(ctx, name: str, files: dict[str, str]) -> str:
    folder = ctx.tmp / name
    folder.mkdir(parents=True, exist_ok=True)
    for file_name, text in files.items():
        (folder / file_name).write_text(text)
    return str(folder)


def _load(name):
    from utils.models import load_model
    return load_model(name, device="cpu", verbose=False)


def _transplant(ctx, heads, vectors):
    import torch
    from solutions.function_vectors import transplant_heads
    with transplant_heads(ctx.model, heads, torch.as_tensor(vectors)):
        pass


def _lrp(ctx, target):
    from solutions.input_attribution import lrp_relevance
    from utils.tokens import encode
    return lrp_relevance(ctx.model, encode(ctx.tokenizer, "The sky is", ctx.model), target)


def _explorer(ctx, k, prompt="The sky is"):
    from solutions.input_attribution import lrp_relevance
    from utils.explorer import RelevanceExplorer
    return RelevanceExplorer(ctx.model, ctx.tokenizer, prompt, k=k, relevance_fn=lrp_relevance)


def _head_clusters(ctx, prompt):
    from solutions.attention_heads import attention_relevance
    from utils.head_explorer import head_clusters
    return head_clusters(ctx.model, ctx.tokenizer, prompt, relevance_fn=attention_relevance)


def _viewer(ctx, prompt, layer=0, head=0):
    from utils.attention_viewer import attention_viewer
    return attention_viewer(ctx.model, ctx.tokenizer, prompt, layer, head)


def _other_cache(ctx):
    from utils.patching import Patch, align_prompts, cache_activations, run_with_patches
    pair = align_prompts(ctx.tokenizer, "It costs 3 euros and", "It costs 4 euros and", " 5")
    other = align_prompts(ctx.tokenizer, "She has 7 cats and", "She has 8 cats and", " 5")
    cache = cache_activations(ctx.model, other.clean_inputs())
    return run_with_patches(ctx.model, pair, cache, [Patch("resid", 0)])


def _long_prompt(ctx):
    from utils.tokens import encode
    return encode(ctx.tokenizer, "dust " * 3200, ctx.model)


def _monitor_nan(ctx):
    from utils.monitor import monitor_html
    return monitor_html(["a", "b"], [0.2, float("nan")])


def _colour(ctx, legend):
    from utils.plotting import colored_tokens_html, legend_items_html
    evil = 'red" onmouseover="alert(1)'
    return legend_items_html([("x", evil)]) if legend else colored_tokens_html(["x"], [evil])


CUSTOM_CODE = {"config.json": json.dumps({
    "model_type": "marker_model",
    "auto_map": {"AutoConfig": "configuration_marker.MarkerConfig"}})}

CASES = [
    Case("custom-code", "load a model folder that ships its own Python code (`auto_map`)",
         lambda ctx: _load(_folder(ctx, "custom", CUSTOM_CODE)),
         "ModelLoadError", "ships its own Python code"),
    Case("empty-folder", "load an empty folder (even one named `my-bert-test`)",
         lambda ctx: _load(_folder(ctx, "my-bert-test", {})),
         "ModelLoadError", "has no config.json, so it is not a saved model"),
    Case("no-model-type", "load a folder whose config.json names no model type",
         lambda ctx: _load(_folder(ctx, "typeless", {"config.json": "{}"})),
         "ModelLoadError", "names no model_type"),
    Case("name-not-text", "`load_model(123)`",
         lambda ctx: _load(123), "ModelLoadError", "The model name must be text"),
    Case("prompt-too-long", "explain a prompt longer than the model's context",
         _long_prompt, "ValueError", "but this model reads at most 2,048"),
    Case("prompt-none", "pass `None` as the prompt (head clusters)",
         lambda ctx: _head_clusters(ctx, None), "TypeError", "The prompt must be text"),
    Case("prompt-number", "pass a number as the prompt (attention viewer)",
         lambda ctx: _viewer(ctx, 3.14), "TypeError", "The prompt must be text"),
    Case("prompt-number-explorer", "pass a number as the explorer's prompt",
         lambda ctx: _explorer(ctx, 5, prompt=42), "TypeError", "The prompt must be text"),
    Case("head-negative", "transplant into head -1",
         lambda ctx: _transplant(ctx, [(0, -1)], [[0.0] * 32]),
         "ValueError", "(-1 is not read as the last one)"),
    Case("head-too-large", "transplant into head 8 of an 8-head model",
         lambda ctx: _transplant(ctx, [(0, 8)], [[0.0] * 32]),
         "ValueError", "does not exist: the model has layers 0..5 and heads 0..7"),
    Case("vectors-fewer-than-heads", "transplant two heads with one vector",
         lambda ctx: _transplant(ctx, [(0, 1), (0, 2)], [[0.0] * 32]),
         "ValueError", "Give one vector per head"),
    Case("vector-wrong-size", "transplant a vector of the wrong size",
         lambda ctx: _transplant(ctx, [(0, 1)], [[0.0] * 31]),
         "ValueError", "Each vector must have 32 values"),
    Case("target-negative", "explain target token -1",
         lambda ctx: _lrp(ctx, -1), "ValueError",
         "target_id must be between 0 and 4095, got -1. Counting from the end (-1) is not supported"),
    Case("target-too-large", "explain target token 5000 (past the vocabulary)",
         lambda ctx: _lrp(ctx, 5000), "ValueError", "target_id must be between 0 and 4095, got 5000"),
    Case("explorer-k-zero", "open the explorer with k = 0",
         lambda ctx: _explorer(ctx, 0), "ValueError", "k must be between 1 and 10, got 0"),
    Case("explorer-k-large", "open the explorer with k = 5000",
         lambda ctx: _explorer(ctx, 5000), "ValueError", "k must be between 1 and 10, got 5000"),
    Case("viewer-layer-negative", "open the attention viewer at layer -1",
         lambda ctx: _viewer(ctx, "The sky is", layer=-1), "ValueError",
         "layer -1, head 0 does not exist"),
    Case("cache-of-other-pair", "patch with the cache of a different prompt pair",
         _other_cache, "ValueError", "This cache belongs to another prompt pair"),
    Case("monitor-nan", "colour a text by monitor probabilities that contain NaN",
         _monitor_nan, "ValueError", "contain 1 NaN or infinite values"),
    Case("colour-markup", "give a token colour that is not `#rrggbb`",
         lambda ctx: _colour(ctx, legend=False), "ValueError", "is not a colour of the form '#rrggbb'"),
    Case("legend-colour-markup", "give a legend colour that is not `#rrggbb`",
         lambda ctx: _colour(ctx, legend=True), "ValueError", "is not a colour of the form '#rrggbb'"),
]


def readme_table() -> str:
    """The README's troubleshooting table, rendered from CASES."""
    rows = ["| what you did | what the course says (start of the message) |", "|---|---|"]
    for case in CASES:
        rows.append(f"| {case.what} | `{case.error}: ...{case.message}...` |")
    return "\n".join(rows)


_BLOCK = re.compile(re.escape(START) + r"\n?(.*?)\n?" + re.escape(END), re.S)


def readme_block(text: str) -> str:
    match = _BLOCK.search(text)
    if not match:
        raise ValueError(f"README.md has no {START} ... {END} block.")
    return match.group(1)


def write_readme() -> None:
    text = README.read_text(encoding="utf-8")
    if not _BLOCK.search(text):
        raise ValueError(f"README.md has no {START} ... {END} block.")
    new = f"{START}\n{readme_table()}\n{END}"
    README.write_text(_BLOCK.sub(lambda _m: new, text), encoding="utf-8")


if __name__ == "__main__":
    write_readme()
    print(f"rewrote the troubleshooting table in {README.relative_to(ROOT)}")
    sys.exit(0)
