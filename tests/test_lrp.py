"""utils.lrp: AttnLRP on and off, conservation, and gradients restored bit for bit."""
import warnings

import torch
import transformers.models.llama.modeling_llama as modeling_llama
import pytest

from solutions.attention_heads import head_relevance
from solutions.input_attribution import input_x_gradient
from utils import COURSE_MODEL_DIR
from checks.core import random_ids, tiny_llama
from utils.lrp import CONSERVATION_BAND, attnlrp, disable_lrp, enable_lrp, lrp_is_enabled


def _originals():
    return (vars(modeling_llama.LlamaMLP)["forward"], vars(modeling_llama.LlamaRMSNorm)["forward"],
            vars(torch.nn.Dropout)["forward"], modeling_llama.eager_attention_forward,
            modeling_llama.ALL_ATTENTION_FUNCTIONS)


def test_patch_replaces_five_things_and_restores_them():
    model = tiny_llama()
    before = _originals()
    with attnlrp(model):
        during = _originals()
        assert all(a is not b for a, b in zip(before, during))
    assert all(a is b for a, b in zip(before, _originals()))
    assert not lrp_is_enabled(model)


def test_restored_also_after_an_error():
    model = tiny_llama()
    before = _originals()
    with pytest.raises(RuntimeError):
        with attnlrp(model):
            raise RuntimeError("boom")
    assert all(a is b for a, b in zip(before, _originals()))


def test_gradients_after_lrp_equal_gradients_before():
    model, ids = tiny_llama(), random_ids(0, 10)
    before = input_x_gradient(model, ids, 3)
    with attnlrp(model):
        lrp = input_x_gradient(model, ids, 3)
    after = input_x_gradient(model, ids, 3)
    assert torch.equal(before, after)
    assert not torch.allclose(before, lrp, atol=1e-3)
    enable_lrp(model)   # switching on again after off works too
    assert torch.equal(input_x_gradient(model, ids, 3), lrp)
    disable_lrp(model)


def test_attention_weights_get_gradients_under_lrp():
    model, ids = tiny_llama(), random_ids(1, 8)
    with attnlrp(model):
        relevance = head_relevance(model, ids, 7)
    assert relevance.shape == (2, 4)
    assert relevance.abs().sum() > 0


@pytest.mark.skipif(not (COURSE_MODEL_DIR / "model.safetensors").exists(), reason="course model not built")
def test_conservation_band_on_course_model():
    from utils.models import load_model
    model, tokenizer = load_model("course", device="cpu", verbose=False)
    ratios, plain = [], []
    for prompt in ["The capital of France is", "Q: What color is the sky? A:",
                   "The Quapem bridge spans 4521 meters. How long is the Quapem bridge? It is"]:
        ids = tokenizer(prompt, return_tensors="pt").input_ids
        logits = model(ids).logits[0, -1]
        target = int(logits.argmax())
        with attnlrp(model):
            ratios.append(float(input_x_gradient(model, ids, target).sum() / logits[target]))
        plain.append(float(input_x_gradient(model, ids, target).sum() / logits[target]))
    lo, hi = CONSERVATION_BAND
    assert all(lo <= r <= hi for r in ratios), ratios
    # plain Input x Gradient does not conserve the logit the way LRP does
    assert any(abs(p - r) > 0.05 for p, r in zip(plain, ratios)), (plain, ratios)


@pytest.mark.skipif(not (COURSE_MODEL_DIR / "model.safetensors").exists(), reason="course model not built")
def test_a_model_patched_outside_is_refused_with_how_to_restart():
    from utils.lrp import PatchedOutsideError, _patch_targets, import_lxt_efficient
    from utils.models import load_model

    model, tokenizer = load_model("course", device="cpu", verbose=False)
    ids = tokenizer("The capital of France is", return_tensors="pt").input_ids
    plain = input_x_gradient(model, ids, 5)
    targets = _patch_targets(model)
    saved = [(owner, attr, vars(owner).get(attr) if isinstance(owner, type) else getattr(owner, attr))
             for owner, attr in targets]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import_lxt_efficient().monkey_patch(modeling_llama)   # as lxt's README does it
        assert not torch.allclose(input_x_gradient(model, ids, 5), plain, atol=1e-3)   # LRP is on
        with pytest.raises(PatchedOutsideError, match="restart the kernel"):
            with attnlrp(model):
                pass
        assert not lrp_is_enabled(model)
    finally:
        for owner, attr, value in saved:   # put the originals back by hand for later tests
            setattr(owner, attr, value)
    assert torch.equal(input_x_gradient(model, ids, 5), plain)


def test_cp_lrp_conserves_and_restores_every_attention_function():
    """CP-LRP (softmax weights held constant) conserves relevance; its in-place rewrite of the
    registry of attention functions is undone entry by entry."""
    model, ids = tiny_llama(), random_ids(0, 10)
    registry = dict(modeling_llama.ALL_ATTENTION_FUNCTIONS)
    before = _originals()
    with torch.no_grad():
        logit = float(model(ids).logits[0, -1, 3])
    with attnlrp(model, rule="cp"):
        cp = input_x_gradient(model, ids, 3)
        with pytest.raises(RuntimeError, match="leave its"):
            enable_lrp(model, "attn")
    assert abs(float(cp.sum()) / logit - 1) < 1e-3
    assert all(a is b for a, b in zip(before, _originals()))
    assert dict(modeling_llama.ALL_ATTENTION_FUNCTIONS) == registry
    with pytest.raises(ValueError, match="Unknown LRP rule set"):
        with attnlrp(model, rule="cp-lrp"):
            pass
