"""utils.hooks (the one hook layer) and the transplant of notebook 03: hooks always come off."""
import pytest
import torch

from checks.core import random_ids, tiny_llama
from solutions.function_vectors import transplant_heads
from utils.hooks import (attention_projection, capture_head_outputs, decoder_layers,
                         layer_pre_hooks, o_proj_pre_hooks, out_projections, projection_hooks,
                         split_heads)
from utils.transplant import generate


def _no_hooks_left(model):
    return all(not p._forward_pre_hooks and not p._forward_hooks for p in out_projections(model))


def _tiny_qwen(model_type):
    from transformers import Qwen2Config, Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(0)
    config_cls, model_cls = {"qwen2": (Qwen2Config, Qwen2ForCausalLM),
                             "qwen3": (Qwen3Config, Qwen3ForCausalLM)}[model_type]
    # Qwen3 with head_dim != hidden / heads: o_proj's input is not the hidden size.
    extra = {"head_dim": 12} if model_type == "qwen3" else {}
    config = config_cls(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                        attn_implementation="eager", **extra)
    return model_cls(config).eval().requires_grad_(False)


def test_capture_matches_the_attention_output_split_per_head():
    model, ids = tiny_llama(), random_ids(0, 9)
    seen = {}
    handle = model.model.layers[1].self_attn.o_proj.register_forward_pre_hook(
        lambda m, args: seen.__setitem__("x", args[0].clone()))
    try:
        with capture_head_outputs(model) as outputs, torch.no_grad():
            model(ids)
    finally:
        handle.remove()
    assert set(outputs) == {0, 1}
    assert outputs[1].shape == (1, 9, 4, 8)
    assert torch.equal(outputs[1].flatten(-2), seen["x"])
    assert _no_hooks_left(model)


@pytest.mark.parametrize("model_type", ["qwen2", "qwen3"])
def test_capture_and_replace_work_on_qwen_layouts(model_type):
    model, ids = _tiny_qwen(model_type), random_ids(1, 7)
    head_dim = model.config.head_dim if model_type == "qwen3" else 8
    with torch.no_grad():
        clean = model(ids).logits
        with capture_head_outputs(model) as outputs:
            model(ids)
        assert outputs[0].shape == (1, 7, 4, head_dim)
        with transplant_heads(model, [(1, 2)], outputs[1][0, -1, 2:3]):
            same = model(ids).logits
        with transplant_heads(model, [(1, 2)], torch.ones(1, head_dim), scale=5.0):
            changed = model(ids).logits
    assert torch.equal(same, clean)
    assert not torch.equal(changed, clean)
    assert _no_hooks_left(model)


def test_outputs_bit_identical_after_exit_and_after_an_exception():
    model, ids = tiny_llama(), random_ids(2, 8)
    with torch.no_grad():
        before = model(ids).logits
        with transplant_heads(model, [(0, 1)], torch.randn(1, 8), 3.0):
            during = model(ids).logits
        assert not torch.equal(during, before)
        assert torch.equal(model(ids).logits, before)
        with pytest.raises(RuntimeError, match="boom"):
            with layer_pre_hooks(model, {1: lambda m, a: (a[0] * 0, *a[1:])}):
                raise RuntimeError("boom")
        assert torch.equal(model(ids).logits, before)
        with pytest.raises(RuntimeError, match="boom"):
            with projection_hooks(model, "v_proj", {0: lambda m, a, out: out * 0}):
                raise RuntimeError("boom")
        assert torch.equal(model(ids).logits, before)
        with pytest.raises(RuntimeError, match="boom"):
            with transplant_heads(model, [(1, 0)], torch.randn(1, 8), 2.0):
                raise RuntimeError("boom")
        assert torch.equal(model(ids).logits, before)
    assert _no_hooks_left(model)


def test_hooks_removed_when_generation_raises():
    model = tiny_llama()

    class FakeTokenizer:
        eos_token_id = None

        def __call__(self, text, return_tensors=None):
            return type("Enc", (), {"input_ids": random_ids(3, 6)})()

        def decode(self, ids, skip_special_tokens=True):
            raise ValueError("decoding failed")

    ids = random_ids(3, 6)
    with torch.no_grad():
        before = model(ids).logits
    with pytest.raises(ValueError, match="decoding failed"):
        with transplant_heads(model, [(0, 0), (1, 3)], torch.randn(2, 8)):
            generate(model, FakeTokenizer(), "any prompt", max_new_tokens=3)
    with torch.no_grad():
        assert torch.equal(model(ids).logits, before)
    assert _no_hooks_left(model)


def test_transplanting_own_output_changes_nothing(own_outputs_transplanted):
    model, ids = tiny_llama(seed=1), random_ids(4, 10)
    clean, patched = own_outputs_transplanted(model, ids, [(0, 0), (0, 3), (1, 1), (1, 2)])
    assert torch.equal(patched, clean)


def test_transplant_changes_only_the_last_position_and_agrees_with_a_hand_written_hook():
    model, ids = tiny_llama(seed=2), random_ids(5, 10)
    vectors = torch.randn(2, 8, generator=torch.Generator().manual_seed(0))
    heads = [(0, 2), (1, 1)]
    with torch.no_grad():
        clean = model(ids).logits
        with transplant_heads(model, heads, vectors, scale=2.0):
            ours = model(ids).logits
        def write(layer, head, vector):
            def hook(module, args):
                x = args[0].clone()
                x[:, -1, head * 8:(head + 1) * 8] = 2.0 * vector
                return (x,)
            return hook
        handles = [out_projections(model)[layer].register_forward_pre_hook(write(layer, head, v))
                   for (layer, head), v in zip(heads, vectors)]
        try:
            lib = model(ids).logits
        finally:
            for handle in handles:
                handle.remove()
    assert torch.equal(ours[:, :-1], clean[:, :-1])        # causal: earlier positions untouched
    assert not torch.equal(ours[:, -1], clean[:, -1])
    assert torch.allclose(ours, lib)


def test_transplant_patches_every_generation_step():
    model, ids = tiny_llama(seed=3), random_ids(6, 5)
    steps = []
    counter = model.model.layers[0].self_attn.o_proj.register_forward_pre_hook(
        lambda m, args: steps.append(args[0].shape[1]))
    try:
        with transplant_heads(model, [(0, 0)], torch.zeros(1, 8)), \
                capture_head_outputs(model, layers=[0]) as outputs, torch.no_grad():
            model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=3,
                           do_sample=False, pad_token_id=0)
    finally:
        counter.remove()
    assert steps == [5, 1, 1]                  # the prompt, then one new token per step
    # the capture hook runs after the replacing one: the newest step's head 0 was zeroed
    assert torch.equal(outputs[0][0, -1, 0], torch.zeros(8))
    assert _no_hooks_left(model)


def test_clear_errors():
    model = tiny_llama()
    with pytest.raises(ValueError, match="Layer 5 does not exist"):
        with layer_pre_hooks(model, {0: lambda m, a: None, 5: lambda m, a: None}):
            pass
    with pytest.raises(ValueError, match="Unknown projection"):
        attention_projection(model, 0, "out_proj")
    with pytest.raises(ValueError, match="Layer 9"):
        with o_proj_pre_hooks(model, {9: lambda m, a: None}):
            pass
    assert _no_hooks_left(model)
    with pytest.raises(ValueError, match="Llama, Qwen2 and Qwen3"):
        out_projections(torch.nn.Linear(2, 2))
    model.config.model_type = "mistral"        # same layout, but not a family the course covers
    try:
        with pytest.raises(ValueError, match="model_type 'mistral'"):
            decoder_layers(model)
    finally:
        model.config.model_type = "llama"
    assert split_heads(torch.zeros(2, 3, 12), 4).shape == (2, 3, 4, 3)


def test_generation_stops_at_every_end_token():
    from utils.generation import stop_token_ids

    model = tiny_llama()
    model.generation_config.eos_token_id = [5, 7]   # e.g. <|end_of_text|> and <|eot_id|>
    tokenizer = type("T", (), {"eos_token_id": 3})()
    assert stop_token_ids(model, tokenizer) == {3, 5, 7}


@pytest.mark.parametrize("model_type", ["qwen2", "qwen3"])
def test_the_hook_layer_finds_every_projection_of_qwen_models(model_type):
    model = _tiny_qwen(model_type)
    assert len(decoder_layers(model)) == 2
    for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
        assert attention_projection(model, 1, name) is getattr(model.model.layers[1].self_attn, name)
