"""What depends on the device and the dtype: run on the CPU always, and also on CUDA when
XAI_TEST_DEVICE=cuda (`make test-gpu`). Each test takes `device` (see conftest.py) and runs in
fp32 and in bf16, the dtype the course loads on a GPU.

bf16 keeps 8 bits of mantissa (a relative rounding step of 2**-8, about 0.4 %), so two ways of
computing the same thing that reduce in another order (a batch of 64 rows or one row at a time)
agree only to about that much per layer: comparisons in bf16 allow BF16_REL of the largest value.
Bit-exact claims (restored gradients, hooks that leave no trace) stay bit-exact on every device.
"""
from contextlib import contextmanager

import pytest
import torch

from checks.core import random_ids, tiny_llama
from checks.patching import tiny_pair
from solutions import activation_patching as ref
from solutions.attention_heads import head_relevance
from solutions.function_vectors import transplant_heads
from solutions.input_attribution import input_x_gradient
from utils import COURSE_MODEL_DIR
from utils.conflicts import token_head_relevance_batched, token_head_relevance_loop
from utils.hooks import out_projections
from utils.lrp import CONSERVATION_BAND, attnlrp
from utils.patching import (HEAD_SITES, Patch, cache_activations, clean_and_corrupted_logprob,
                            normalised_logprob,
                            head_patches, patch_residual_batched, patching_hooks,
                            residual_patches, run_with_patches)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
BF16_REL = 0.05      # of the largest absolute value (measured on the CPU: see the tests' notes)
FP32_ABS = 1e-5      # as the CPU-only tests of the same functions


@pytest.fixture(params=list(DTYPES))
def dtype(request):
    return DTYPES[request.param]


@contextmanager
def deterministic():
    """Deterministic kernels inside the block (cuBLAS reduction order fixed), restored after.
    warn_only: an op without a deterministic kernel warns instead of raising; if it mattered,
    the bit-exact comparison after the block says so."""
    before = (torch.are_deterministic_algorithms_enabled(),
              torch.is_deterministic_algorithms_warn_only_enabled())
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])


def agree(a: torch.Tensor, b: torch.Tensor, dtype) -> bool:
    """Equal within the dtype's tolerance (NaNs where both have them)."""
    a, b = a.detach().float().cpu(), b.detach().float().cpu()
    if a.shape != b.shape or not torch.equal(a.isnan(), b.isnan()):
        return False
    a, b = a.nan_to_num(), b.nan_to_num()
    if dtype == torch.float32:
        return bool((a - b).abs().max() <= FP32_ABS)
    return bool((a - b).abs().max() <= BF16_REL * a.abs().max())


def small(seed, device, dtype, **kwargs):
    return tiny_llama(seed=seed, **kwargs).to(device=device, dtype=dtype)


def no_hooks_left(model) -> bool:
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


@pytest.mark.skipif(not (COURSE_MODEL_DIR / "model.safetensors").exists(), reason="course model not built")
def test_conservation_band_on_course_model(device, dtype):
    """AttnLRP's relevance sums to a share of the logit inside the band the notebooks assert."""
    from utils.models import load_model

    model, tokenizer = load_model("course", device=device, verbose=False)
    model.to(dtype)
    ratios = []
    for prompt in ["The capital of France is", "Q: What color is the sky? A:",
                   "The Quapem bridge spans 4521 meters. How long is the Quapem bridge? It is"]:
        ids = tokenizer(prompt, return_tensors="pt").input_ids.to(device)
        with torch.no_grad():
            logits = model(ids).logits[0, -1].float()
        target = int(logits.argmax())
        with attnlrp(model):
            relevance = input_x_gradient(model, ids, target)
        assert relevance.dtype == torch.float32 and relevance.device.type == "cpu"
        ratios.append(float(relevance.sum() / logits[target]))
    lo, hi = CONSERVATION_BAND
    assert all(lo <= r <= hi for r in ratios), ratios


def test_gradients_restored_bit_for_bit_after_attnlrp(device, dtype):
    model, ids = small(0, device, dtype), random_ids(0, 10).to(device)
    with deterministic():
        before = input_x_gradient(model, ids, 3)
        with attnlrp(model):
            lrp = input_x_gradient(model, ids, 3)
        after = input_x_gradient(model, ids, 3)
        with pytest.raises(RuntimeError, match="boom"):
            with attnlrp(model):
                raise RuntimeError("boom")
        after_error = input_x_gradient(model, ids, 3)
    assert torch.equal(before, after)
    assert torch.equal(before, after_error)
    assert not torch.equal(before, lrp)


def test_hooks_removed_on_exceptions(device, dtype):
    model, ids = small(2, device, dtype), random_ids(2, 8).to(device)
    pair = tiny_pair(model, seed=0, seq_len=7, differ=(2, 4))
    with deterministic(), torch.no_grad():
        before = model(ids).logits
        with pytest.raises(RuntimeError, match="boom"):
            with transplant_heads(model, [(0, 1)], torch.randn(1, 8, device=device, dtype=dtype), 3.0):
                assert not no_hooks_left(model)
                raise RuntimeError("boom")
        cache = cache_activations(model, _on(pair, device).clean_inputs())
        with pytest.raises(RuntimeError, match="boom"):
            with patching_hooks(model, cache, [Patch("z", 0, head=1), Patch("pattern", 1, head=0)],
                                _on(pair, device).valid_positions):
                raise RuntimeError("boom")
        after = model(ids).logits
    assert torch.equal(before, after)
    assert no_hooks_left(model)
    assert all(not p._forward_pre_hooks for p in out_projections(model))


def _on(pair, device):
    """The pair's tensors on `device` (tiny_pair builds them on the CPU)."""
    import dataclasses

    return dataclasses.replace(pair, **{f: getattr(pair, f).to(device) for f in
                                        ("clean_ids", "corrupted_ids", "clean_mask", "corrupted_mask")})


def test_batched_patching_equals_one_patch_per_run(device, dtype):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)   # grouped-query attention: 4 query heads share 2 key/value heads
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, attn_implementation="eager")
    model = LlamaForCausalLM(config).eval().requires_grad_(False).to(device=device, dtype=dtype)
    pair = _on(tiny_pair(model, seed=0, seq_len=7, differ=(2, 4)), device)
    clean_lp, corrupted_lp = clean_and_corrupted_logprob(model, pair)

    def metric(logits):
        return normalised_logprob(logits, pair.answer_id, clean_lp, corrupted_lp)

    cache = cache_activations(model, pair.clean_inputs())
    patches = [p for p in residual_patches(model, pair) if p is not None]
    for site in HEAD_SITES:
        patches += head_patches(model, site)
    batched = run_with_patches(model, pair, cache, patches, batch_size=64)
    looped = run_with_patches(model, pair, cache, patches, batch_size=1)
    assert agree(batched, looped, dtype)
    loop = ref.patch_residual_stream(model, pair, cache["resid"], metric)
    fast = patch_residual_batched(model, pair, cache, metric, batch_size=5)
    assert loop.abs().nan_to_num().max() > 0.1          # not trivially zero
    assert agree(loop, fast, dtype)


@pytest.mark.parametrize("route", ["heads", "tokens"])
def test_batched_per_token_relevance_equals_the_loop(device, dtype, route):
    model, ids = small(7, device, dtype), random_ids(8, 24).to(device)
    with attnlrp(model):
        loop = token_head_relevance_loop(model, ids, 14, head_relevance=head_relevance)
        batched = token_head_relevance_batched(model, ids, 14, route=route)
    assert loop.shape == batched.shape == (10, 2, 4)
    assert loop.abs().max() > 1e-3
    assert agree(loop, batched, dtype)
