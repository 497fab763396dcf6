"""The bad inputs a learner or instructor is likely to give, and what the course answers.

One table serves two purposes: `tests/test_bad_inputs.py` runs every case against the course
model and checks the message, and the README's troubleshooting table is generated from it:

    python tests/bad_inputs.py      # rewrite the table between the markers in README.md

Each case: what was done (a sentence for the README), the call, the exception type and a part
of its message that must appear. Most of them used to give a silent wrong answer (a wrapped
index, a NaN curve, an empty generation) or a raw error from deep inside torch.
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


def _transplant_scaled(ctx, scale):
    import torch
    from solutions.function_vectors import transplant_heads
    with transplant_heads(ctx.model, [(0, 1)], torch.zeros(1, 32), scale):
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


def _patch_float_position(ctx):
    from utils.patching import Patch, align_prompts, cache_activations, run_with_patches
    pair = align_prompts(ctx.tokenizer, "It costs 3 euros and", "It costs 4 euros and", " 5")
    cache = cache_activations(ctx.model, pair.clean_inputs())
    return run_with_patches(ctx.model, pair, cache, [Patch("resid", 0, position=2.0)])


def _nan_cache(ctx):
    from utils.patching import Patch, align_prompts, cache_activations, run_with_patches
    pair = align_prompts(ctx.tokenizer, "It costs 3 euros and", "It costs 4 euros and", " 5")
    cache = cache_activations(ctx.model, pair.clean_inputs())
    cache["resid"][1, 2, 3] = NAN
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


NAN = float("nan")


def _ids(ctx, prompt="The sky is"):
    from utils.tokens import encode
    return encode(ctx.tokenizer, prompt, ctx.model)


def _head_features(heads):
    import torch
    from utils.monitor import head_features
    return head_features(torch.rand(3, 6, 8, generator=torch.Generator().manual_seed(0)), heads)


def _random_heads(ctx, k):
    from utils.function_vectors import random_heads
    return random_heads(ctx.model, k)


def _top_k(ctx, k):
    from utils.attribution import top_k_predictions
    return top_k_predictions(ctx.model, ctx.tokenizer, _ids(ctx), k=k)


def _lrp_on(ctx, ids):
    from solutions.input_attribution import lrp_relevance
    return lrp_relevance(ctx.model, ids, 3)


def _out_of_vocabulary(ctx):
    ids = _ids(ctx).clone()
    ids[0, 1] = 5000
    return _lrp_on(ctx, ids)


def _add_to_residual(ctx, vector=None, layer=2, position=-1):
    import torch
    from utils.function_vectors import add_to_residual
    vector = torch.zeros(ctx.model.config.hidden_size) if vector is None else vector
    with add_to_residual(ctx.model, vector, layer, position), torch.no_grad():
        return ctx.model(_ids(ctx)).logits


def _nan_function_vector(ctx):
    import torch
    from utils.function_vectors import first_token_accuracy, zero_shot_queries
    vector = torch.zeros(ctx.model.config.hidden_size)
    vector[0] = NAN
    prompts, answers = zero_shot_queries("antonym")
    return first_token_accuracy(ctx.model, ctx.tokenizer, prompts, answers, vector, 2)


def _monitor_text(p, tokens=("a", "b", "c")):
    from utils.monitor import monitor_text
    return monitor_text(list(tokens), p)


def _curves(ctx, relevance=None, positions=None):
    import torch
    from solutions.faithfulness import normalise_curve
    from utils.faithfulness import faithfulness_curves
    ids = _ids(ctx, "The capital of France is")
    seq = ids.shape[1]
    relevance = torch.arange(seq, dtype=torch.float) if relevance is None else relevance
    positions = list(range(1, seq)) if positions is None else positions
    return faithfulness_curves(ctx.model, ids, 3, {"lrp": relevance}, positions, 4,
                               normalise_curve=normalise_curve)


def _relevance_too_long(ctx):
    import torch
    return _curves(ctx, relevance=torch.ones(_ids(ctx, "The capital of France is").shape[1] + 3))


def _relevance_nan(ctx):
    import torch
    relevance = torch.ones(_ids(ctx, "The capital of France is").shape[1])
    relevance[2] = NAN
    return _curves(ctx, relevance=relevance)


def _capture_head(ctx, heads):
    from solutions.function_vectors import head_outputs_at_last
    return head_outputs_at_last(ctx.model, _ids(ctx), heads)


def _mean_head_outputs(ctx, prompts):
    from solutions.function_vectors import mean_head_outputs
    return mean_head_outputs(ctx.model, ctx.tokenizer, prompts)


def _pair_and_other_cache(ctx):
    from utils.patching import align_prompts, cache_activations
    pair = align_prompts(ctx.tokenizer, "It costs 3 euros and", "It costs 4 euros and", " 5")
    other = align_prompts(ctx.tokenizer, "She has 7 cats and", "She has 8 cats and", " 5")
    return pair, cache_activations(ctx.model, other.clean_inputs()), \
        cache_activations(ctx.model, pair.clean_inputs())


def _patch_head(ctx, layer=2, head=0, other=False):
    from solutions.activation_patching import patch_head_output
    pair, other_cache, own_cache = _pair_and_other_cache(ctx)
    z = (other_cache if other else own_cache)["z"]
    return patch_head_output(ctx.model, pair, z, layer, head, lambda logits: logits[:, 0])


def _patch_residual_other(ctx):
    from solutions.activation_patching import patch_residual_stream
    pair, other_cache, _ = _pair_and_other_cache(ctx)
    return patch_residual_stream(ctx.model, pair, other_cache["resid"], lambda logits: logits[:, 0])


def _occlusion(ctx, batch_size):
    from solutions.input_attribution import occlusion
    return occlusion(ctx.model, _ids(ctx), 3, 4, batch_size=batch_size)


def _fresh(number):
    from tools.workspace import fresh_copy
    return fresh_copy(number)


def _saved_model(ctx, name: str, edit: Callable) -> str:
    """A small random Llama saved to ctx.tmp/name, then damaged by `edit(folder)`."""
    import shutil

    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from checks.core import tiny_tokenizer
    folder = ctx.tmp / name
    shutil.rmtree(folder, ignore_errors=True)
    fast = tiny_tokenizer()
    fast.save_pretrained(folder)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(fast), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4)
    LlamaForCausalLM(config).save_pretrained(folder, safe_serialization=True)
    edit(folder)
    return str(folder)


def _write(relative: str, text: str) -> Callable:
    def edit(folder):
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text)
    return edit


def _escaped_auto_map(folder):
    text = (folder / "config.json").read_text().rstrip().rstrip("}")
    (folder / "config.json").write_text(text + ', "auto\\u005fmap": {"AutoConfig": "x.Y"}}')


def _weights_outside(link: bool) -> Callable:
    def edit(folder):
        from safetensors.torch import load_file
        outside = folder.parent / f"{folder.name}-outside.safetensors"
        (folder / "model.safetensors").replace(outside)
        if link:
            (folder / "model.safetensors").symlink_to(outside)
        else:
            (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {
                key: f"../{outside.name}" for key in load_file(outside)}}))
    return edit


def _drop_layer(folder):
    from safetensors.torch import load_file, save_file
    weights = load_file(folder / "model.safetensors")
    save_file({k: v for k, v in weights.items() if not k.startswith("model.layers.1.")},
              folder / "model.safetensors", metadata={"format": "pt"})


def _truncate(folder):
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])


def _missing_device():
    import torch
    from utils.models import load_model
    device = f"cuda:{torch.cuda.device_count()}" if torch.cuda.is_available() else "cuda"
    return load_model("course", device=device, verbose=False)


CUSTOM_CODE = {"config.json": json.dumps({
    "model_type": "marker_model",
    "auto_map": {"AutoConfig": "configuration_marker.MarkerConfig"}})}

CASES = [
    Case("custom-code", "load a model folder that ships its own Python code (`auto_map`)",
         lambda ctx: _load(_folder(ctx, "custom", CUSTOM_CODE)),
         "ModelLoadError", "ships its own Python code"),
    Case("custom-generate", "load a model folder with a `custom_generate/generate.py`",
         lambda ctx: _load(_saved_model(ctx, "custom-generate", _write(
             "custom_generate/generate.py", "raise SystemExit('ran')"))),
         "ModelLoadError", "custom_generate/ folder"),
    Case("stray-python-file", "load a model folder with a Python file anywhere inside",
         lambda ctx: _load(_saved_model(ctx, "stray-py", _write("extra/notes.py", "x = 1"))),
         "ModelLoadError", "ships its own Python code (extra/notes.py)"),
    Case("escaped-auto-map", "load a folder whose config.json spells `auto_map` with a JSON escape",
         lambda ctx: _load(_saved_model(ctx, "escaped", _escaped_auto_map)),
         "ModelLoadError", "config.json has an auto_map"),
    Case("index-outside", "load a folder whose weight index points outside it",
         lambda ctx: _load(_saved_model(ctx, "index-outside", _weights_outside(link=False))),
         "ModelLoadError", "outside the folder"),
    Case("link-outside", "load a folder whose weights are a link to a file outside it",
         lambda ctx: _load(_saved_model(ctx, "link-outside", _weights_outside(link=True))),
         "ModelLoadError", "leads outside it"),
    Case("missing-weights", "load a folder whose weights lack a layer",
         lambda ctx: _load(_saved_model(ctx, "missing-layer", _drop_layer)),
         "ModelLoadError", "do not match its config.json (missing keys"),
    Case("truncated-weights", "load a folder whose `model.safetensors` is cut short",
         lambda ctx: _load(_saved_model(ctx, "truncated", _truncate)),
         "ModelLoadError", "truncated or damaged"),
    Case("bad-tokenizer", "load a folder whose `tokenizer.json` is damaged",
         lambda ctx: _load(_saved_model(ctx, "bad-tokenizer", _write(
             "tokenizer.json", '{"model": {"type": "nonsense"}}'))),
         "ModelLoadError", "could not be read"),
    Case("device-missing", "`load_model(device=\"cuda\")` on a machine without CUDA",
         lambda ctx: _missing_device(), "ModelLoadError", "asks for a CUDA GPU"),
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
    Case("viewer-head-float", "open the attention viewer at head 1.0",
         lambda ctx: _viewer(ctx, "The sky is", head=1.0), "TypeError",
         "layer and head are whole numbers"),
    Case("patch-position-float", "patch the residual stream at position 2.0 (batched patching)",
         _patch_float_position, "TypeError", "A patch's position must be a whole number"),
    Case("cache-of-other-pair", "patch with the cache of a different prompt pair",
         _other_cache, "ValueError", "This cache belongs to another prompt pair"),
    Case("cache-nan", "patch with a cache that contains NaN",
         _nan_cache, "ValueError", "cache['resid'] contains 1 NaN or infinite values"),
    Case("monitor-nan", "colour a text by monitor probabilities that contain NaN",
         _monitor_nan, "ValueError", "contain 1 NaN or infinite values"),
    Case("monitor-text-nan", "print the monitor's text fallback with a NaN probability",
         lambda ctx: _monitor_text([0.2, NAN, 0.9]), "ValueError", "contain 1 NaN or infinite values"),
    Case("monitor-text-lengths", "print the monitor's text for 3 tokens with 2 probabilities",
         lambda ctx: _monitor_text([0.2, 0.9]), "ValueError",
         "tokens and p_parametric must have the same length"),
    Case("head-features-negative", "pick monitor features of head (-1, 0)",
         lambda ctx: _head_features([(-1, 0)]), "ValueError", "(-1 is not read as the last one)"),
    Case("head-features-float", "pick monitor features of head (1.0, 2)",
         lambda ctx: _head_features([(1.0, 2)]), "TypeError", "layer and head are whole numbers"),
    Case("capture-head-negative", "capture what head (0, -1) writes (reference solution)",
         lambda ctx: _capture_head(ctx, [(0, -1)]), "ValueError", "(-1 is not read as the last one)"),
    Case("random-heads-negative", "draw k = -1 random heads",
         lambda ctx: _random_heads(ctx, -1), "ValueError", "k must be between 1 and 48, got -1"),
    Case("random-heads-too-many", "draw k = 1000 random heads from 48",
         lambda ctx: _random_heads(ctx, 1000), "ValueError", "k must be between 1 and 48, got 1000"),
    Case("top-k-bool", "list the top `k=True` predictions",
         lambda ctx: _top_k(ctx, True), "TypeError",
         "k must be a whole number between 1 and 4096, got bool True"),
    Case("input-ids-float", "explain input ids stored as floats",
         lambda ctx: _lrp_on(ctx, _ids(ctx).float()), "TypeError",
         "input_ids must hold whole-number token ids (torch.long), got torch.float32"),
    Case("input-ids-out-of-vocabulary", "explain input ids from another tokenizer (id 5000)",
         _out_of_vocabulary, "ValueError",
         "input_ids contains token id 5000, but this model knows ids 0..4095"),
    Case("steer-layer-float", "add a vector to the residual stream at layer 2.0",
         lambda ctx: _add_to_residual(ctx, layer=2.0), "TypeError",
         "layer must be a whole number between 0 and 5, got float 2.0"),
    Case("steer-layer-negative", "add a vector to the residual stream at layer -1",
         lambda ctx: _add_to_residual(ctx, layer=-1), "ValueError",
         "layer must be between 0 and 5, got -1. Counting from the end (-1) is not supported"),
    Case("steer-position-float", "add a vector to the residual stream at position 1.5",
         lambda ctx: _add_to_residual(ctx, position=1.5), "TypeError",
         "position must be a whole number (-1 for the last token), got float 1.5"),
    Case("steer-position-negative", "add a vector to the residual stream at position -2",
         lambda ctx: _add_to_residual(ctx, position=-2), "ValueError",
         "position must be -1 (the last token) or a position counted from the start"),
    Case("steer-vector-nan", "score a function vector that contains NaN",
         _nan_function_vector, "ValueError", "vector contains 1 NaN or infinite values"),
    Case("transplant-vector-nan", "transplant a head vector that contains NaN",
         lambda ctx: _transplant(ctx, [(0, 1)], [[NAN] + [0.0] * 31]),
         "ValueError", "vectors contains 1 NaN or infinite values"),
    Case("transplant-scale-nan", "transplant with `scale=nan`",
         lambda ctx: _transplant_scaled(ctx, NAN), "ValueError",
         "scale must be a finite number, got nan"),
    Case("transplant-head-float", "transplant into head (0, 1.0)",
         lambda ctx: _transplant(ctx, [(0, 1.0)], [[0.0] * 32]),
         "TypeError", "layer and head are whole numbers"),
    Case("mean-outputs-no-prompts", "average head outputs over no prompts",
         lambda ctx: _mean_head_outputs(ctx, []), "ValueError", "prompts is empty"),
    Case("patch-head-layer-negative", "patch head 0 of layer -1 (reference solution)",
         lambda ctx: _patch_head(ctx, layer=-1), "ValueError",
         "layer must be between 0 and 5, got -1. Counting from the end (-1) is not supported"),
    Case("patch-head-negative", "patch head -1 of layer 2 (reference solution)",
         lambda ctx: _patch_head(ctx, head=-1), "ValueError",
         "head must be between 0 and 7, got -1. Counting from the end (-1) is not supported"),
    Case("patch-head-float", "patch head 1.0 of layer 2 (reference solution)",
         lambda ctx: _patch_head(ctx, head=1.0), "TypeError",
         "head must be a whole number between 0 and 7, got float 1.0"),
    Case("patch-head-other-pair", "patch a head with activations of another prompt pair",
         lambda ctx: _patch_head(ctx, other=True), "ValueError",
         "clean_z belongs to another prompt pair"),
    Case("patch-residual-other-pair", "patch the residual stream with another pair's activations",
         _patch_residual_other, "ValueError", "clean_resid belongs to another prompt pair"),
    Case("curves-position-negative", "draw faithfulness curves over positions [-1]",
         lambda ctx: _curves(ctx, positions=[-1]), "ValueError",
         "Counting from the end (-1) is not supported"),
    Case("curves-no-positions", "draw faithfulness curves over no positions",
         lambda ctx: _curves(ctx, positions=[]), "ValueError", "positions is empty"),
    Case("curves-relevance-too-long", "draw faithfulness curves with relevance longer than the prompt",
         _relevance_too_long, "ValueError", "but the prompt has 6 tokens"),
    Case("curves-relevance-nan", "draw faithfulness curves from relevance that contains NaN",
         _relevance_nan, "ValueError", "relevances['lrp'] contains 1 NaN or infinite values"),
    Case("occlusion-batch-zero", "run occlusion with `batch_size=0`",
         lambda ctx: _occlusion(ctx, 0), "ValueError", "batch_size must be between 1 and"),
    Case("occlusion-batch-negative", "run occlusion with `batch_size=-1`",
         lambda ctx: _occlusion(ctx, -1), "ValueError", "batch_size must be between 1 and"),
    Case("fresh-one-digit", "`make fresh NB=0`",
         lambda ctx: _fresh("0"), "SystemExit", "Say which notebook by its two digits"),
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
