"""utils.families: one table says where each family keeps its parts; nothing else reaches them.

A family added through the registry alone is found by the hooks, and no module of the course
reaches `model.model`, `lm_head` or `.norm` itself (only utils/families.py walks those paths).
"""
import ast
from pathlib import Path

import pytest
import torch

from checks.core import random_ids, tiny_llama
from utils.families import FAMILIES, Family, family, part, registered_family
from utils.hooks import (capture_head_outputs, decoder_body, decoder_layers, final_norm,
                         head_output_x_gradient, head_outputs_in_graph, out_projections,
                         replaced_part, unembedding)

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("utils", "checks", "solutions", "claims", "benchmarks", "tools", "course_model")
# utils/families.py walks the paths by name; course_model/ writes and reads weights by their
# state-dict keys ("lm_head.weight" as text), which the scan does not count as access.
EXEMPT = {"utils/families.py"}


def _attribute_chains(path: Path) -> list[tuple[int, str]]:
    """(line, source) of every attribute access in the file that names a model part:
    `<model>.model` (the inner decoder stack), `.lm_head`, and `.norm` not called as a function
    (x.norm(dim=-1) is torch's vector norm)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        if (node.attr == "lm_head" or (node.attr == "norm" and id(node) not in called)
                or (node.attr == "model" and _is_model_object(node.value))):
            found.append((node.lineno, ast.unparse(node)))
    return sorted(found)


def _is_model_object(value: ast.expr) -> bool:
    """Whether `value` names a model (`model`, `self.model`, `lm`): its attribute `model` is a
    Hugging Face causal LM's inner decoder stack."""
    name = value.attr if isinstance(value, ast.Attribute) else getattr(value, "id", "")
    return "model" in name.lower() or name in ("m", "lm")


def _sources():
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel not in EXEMPT:
                yield rel, path


def test_no_module_reaches_model_parts_past_the_registry():
    wrong = [f"{rel}:{line}: {code}" for rel, path in _sources()
             for line, code in _attribute_chains(path)]
    assert not wrong, ("These reach a model's parts directly; go through utils.hooks "
                       "(decoder_layers, decoder_body, final_norm, unembedding, replaced_part):\n"
                       + "\n".join(wrong))


def test_the_scan_sees_each_kind_of_direct_access(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("h = model.model(x)\nlogits = model.lm_head(h)\nn = model.model.norm\n"
                   "ok = x.norm(dim=-1)\nalso_ok = config.model_type\n")
    found = _attribute_chains(bad)
    assert [line for line, _ in found] == [1, 2, 3, 3]     # nothing on lines 4 and 5
    assert {code for _, code in found} == {"model.model", "model.lm_head", "model.model.norm"}


class _Block(torch.nn.Module):
    """A decoder layer whose attention lives at `mixer` and its output projection at `out`."""

    def __init__(self, d, n_heads):
        super().__init__()
        self.mixer = torch.nn.Module()
        self.mixer.out = torch.nn.Linear(d, d, bias=False)
        self.mixer.n_heads = n_heads

    def forward(self, x):
        return x + self.mixer.out(torch.tanh(x))


class _ToyLM(torch.nn.Module):
    """A causal-LM-shaped toy: blocks at `trunk.blocks`, norm at `trunk.final`, head at `head`."""

    def __init__(self, d=8, n_heads=2, n_layers=3, vocab=11):
        super().__init__()
        self.config = type("Config", (), {"model_type": "toy", "num_hidden_layers": n_layers,
                                          "num_attention_heads": n_heads, "hidden_size": d,
                                          "head_dim": d // n_heads})()
        self.embed = torch.nn.Embedding(vocab, d)
        self.trunk = torch.nn.Module()
        self.trunk.blocks = torch.nn.ModuleList(_Block(d, n_heads) for _ in range(n_layers))
        self.trunk.final = torch.nn.LayerNorm(d)
        self.head = torch.nn.Linear(d, vocab, bias=False)

    def forward(self, ids):
        x = self.embed(ids)
        for block in self.trunk.blocks:
            x = block(x)
        return self.head(self.trunk.final(x))


TOY = Family(lrp_rules="lxt.efficient.models.llama", layers="trunk.blocks", attention="mixer",
             o_proj="out", body="trunk", final_norm="trunk.final", unembedding="head",
             rotary="trunk.rotary")


def test_a_family_added_through_the_registry_alone_is_found_by_the_hooks():
    torch.manual_seed(0)
    model, ids = _ToyLM().eval(), torch.tensor([[1, 4, 2, 7]])
    with pytest.raises(ValueError, match="model_type 'toy'"):
        decoder_layers(model)
    with registered_family("toy", TOY):
        assert decoder_layers(model) is model.trunk.blocks
        assert out_projections(model) == [b.mixer.out for b in model.trunk.blocks]
        assert final_norm(model) is model.trunk.final and unembedding(model) is model.head
        assert decoder_body(model) is model.trunk
        with capture_head_outputs(model) as outputs, torch.no_grad():
            model(ids)
        assert set(outputs) == {0, 1, 2} and outputs[2].shape == (1, 4, 2, 4)
        assert torch.equal(outputs[0].flatten(-2), torch.tanh(model.embed(ids)))
        with replaced_part(model, "final_norm", torch.nn.Identity()):
            assert isinstance(model.trunk.final, torch.nn.Identity)
        assert isinstance(model.trunk.final, torch.nn.LayerNorm)
        with pytest.raises(ValueError, match="no rotary at `trunk.rotary`"):
            part(model, "rotary")
        # its LRP rules are the module the entry names (here lxt's Llama rules)
        from utils.lrp import import_lxt_efficient, patch_map

        import_lxt_efficient()
        import lxt.efficient.models.llama as llama_rules
        assert patch_map(model) is llama_rules.attnLRP and patch_map(model, "cp") is llama_rules.cp_LRP
    assert "toy" not in FAMILIES
    assert all(not o._forward_pre_hooks for o in model.modules())


def test_the_registry_names_the_course_families_and_refuses_a_second_entry():
    assert set(FAMILIES) == {"llama", "qwen2", "qwen3"}
    from utils.models import SUPPORTED_MODEL_TYPES

    assert SUPPORTED_MODEL_TYPES == tuple(FAMILIES)
    with pytest.raises(ValueError, match="already registered"):
        with registered_family("llama", TOY):
            pass
    assert FAMILIES["llama"].layers == "model.layers"
    model = tiny_llama()
    assert family(model) is FAMILIES["llama"]
    with pytest.raises(ValueError, match="Unknown model part"):
        part(model, "lm_head")


def test_replaced_part_puts_the_original_back_after_an_error():
    model, ids = tiny_llama(), random_ids(0, 6)
    with torch.no_grad():
        before = model(ids).logits
        with pytest.raises(RuntimeError, match="boom"):
            with replaced_part(model, "layers", torch.nn.ModuleList()):
                assert len(decoder_layers(model)) == 0
                raise RuntimeError("boom")
        assert torch.equal(model(ids).logits, before)


def test_head_output_x_gradient_of_one_position_is_the_sum_of_its_heads():
    model, ids = tiny_llama(seed=1), random_ids(1, 7)
    embeds = model.get_input_embeddings()(ids).detach().requires_grad_(True)
    with head_outputs_in_graph(model) as kept:
        logit = model(inputs_embeds=embeds).logits[0, -1, 3]
    grads = torch.autograd.grad(logit, [kept[0], kept[1]])
    every = head_output_x_gradient(kept[1], grads[1], 4)
    last = head_output_x_gradient(kept[1], grads[1], 4, position=-1)
    by_hand = (kept[1] * grads[1]).unflatten(-1, (4, 8))
    assert torch.allclose(every, by_hand.sum(dim=(0, 1, 3)))
    assert torch.allclose(last, by_hand[0, -1].sum(-1))
    assert all(not o._forward_pre_hooks for o in out_projections(model))
