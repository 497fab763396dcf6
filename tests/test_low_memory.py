"""utils.low_memory: checkpointed layers and head relevance from head outputs give the results
of the plain methods (the GPU benchmark's memory-saving option)."""
import pytest
import torch

from solutions.attention_heads import head_relevance
from solutions.input_attribution import input_x_gradient
from checks.core import random_ids, tiny_llama
from utils.lrp import attnlrp
from utils.low_memory import (checkpointed_layers, head_relevance_low_memory,
                              input_relevance_low_memory)


def gqa_llama(seed=0):
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                         num_attention_heads=4, num_key_value_heads=2, attn_implementation="eager")
    return LlamaForCausalLM(config).eval().requires_grad_(False)


@pytest.mark.parametrize("lrp", [True, False])
@pytest.mark.parametrize("make", [tiny_llama, gqa_llama], ids=["mha", "gqa"])
def test_equal_to_the_plain_methods(lrp, make):
    model, ids = make(seed=3), random_ids(1, 12)
    with attnlrp(model) if lrp else torch.enable_grad():
        heads = head_relevance(model, ids, 5)
        heads_low = head_relevance_low_memory(model, ids, 5)
        inputs = input_x_gradient(model, ids, 5)
        inputs_low = input_relevance_low_memory(model, ids, 5)
        contrast = head_relevance(model, ids, 5, foil_id=9)
        contrast_low = head_relevance_low_memory(model, ids, 5, foil_id=9)
    assert heads.abs().max() > 1e-3
    assert heads_low.shape == heads.shape
    assert torch.allclose(heads, heads_low, atol=1e-6, rtol=1e-5)
    assert torch.allclose(contrast, contrast_low, atol=1e-6, rtol=1e-5)
    assert torch.equal(inputs, inputs_low)        # the same computation, recomputed


def test_layers_restored_also_after_an_error():
    model, ids = tiny_llama(), random_ids(2, 6)
    with torch.no_grad():
        before = model(ids).logits
    with pytest.raises(RuntimeError, match="boom"):
        with checkpointed_layers(model):
            assert all("forward" in vars(layer) for layer in model.model.layers)
            raise RuntimeError("boom")
    assert not any("forward" in vars(layer) for layer in model.model.layers)
    assert not any(m._forward_pre_hooks for m in model.modules())
    with torch.no_grad():
        assert torch.equal(model(ids).logits, before)


def test_checkpointing_keeps_less_for_the_backward_pass():
    """What autograd saves between forward and backward: layer inputs only, with checkpointing."""
    model, ids = tiny_llama(n_layers=2), random_ids(4, 48)

    def saved_bytes(fn):
        total = [0]

        def pack(t):
            total[0] += t.numel() * t.element_size()
            return t
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            fn(model, ids, 5)
        return total[0]

    with attnlrp(model):
        assert saved_bytes(head_relevance_low_memory) < saved_bytes(head_relevance) / 4


def test_clear_error_for_other_models():
    with pytest.raises(ValueError, match="Llama, Qwen2 and Qwen3"):
        with checkpointed_layers(torch.nn.Linear(2, 2)):
            pass
