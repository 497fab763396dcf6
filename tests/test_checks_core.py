"""checks: the messages a learner sees name the mistake."""
import pytest
import torch

from solutions.input_attribution import occlusion
from checks import check_occlusion
from checks.attribution import unnormalised_occlusion
from checks.core import describe_difference


def test_describe_difference_cases():
    e = torch.tensor([1.0, -2.0, 3.0])
    assert describe_difference(e.clone(), e) is None
    assert "wrong sign" in describe_difference(-e, e)
    assert "times the expected" in describe_difference(3 * e, e)
    assert "shape" in describe_difference(e[None], e)
    assert "NaN" in describe_difference(torch.tensor([1.0, float("nan"), 3.0]), e)
    assert "a tensor" in describe_difference([1, 2, 3], e)
    assert "largest difference" in describe_difference(torch.tensor([1.0, 0.0, 3.0]), e)
    named = describe_difference(torch.tensor([1.0, 0.0, 3.0]), e,
                                index_name=lambda where: f"entry number {where[0] + 1}")
    assert "at entry number 2:" in named and "index" not in named


def _printed(capsys, fn):
    used = check_occlusion(fn)
    return used, capsys.readouterr().out


def test_check_occlusion_accepts_reference_and_names_mistakes(capsys):
    used, out = _printed(capsys, occlusion)
    assert used is occlusion and out.startswith("✓")

    used, out = _printed(capsys, unnormalised_occlusion)
    assert used is occlusion and "not normalised" in out

    used, out = _printed(capsys, lambda *a, **k: -occlusion(*a, **k))
    assert "wrong sign" in out

    def wrong_target(model, input_ids, target_id, baseline_id, batch_size=32):
        top = int(model(input_ids).logits[0, -1].argmax())
        return occlusion(model, input_ids, top, baseline_id)
    used, out = _printed(capsys, wrong_target)
    assert "instead of `target_id`" in out

    def stub(*args, **kwargs):
        raise NotImplementedError
    used, out = _printed(capsys, stub)
    assert used is occlusion and "not implemented yet" in out


# -- the learner's function leaves no state behind ---------------------------------------------

def _leaves(what: str):
    """An Input x Gradient that is right but leaves `what` behind ("lrp", "hook", "threads")."""
    from solutions.input_attribution import input_x_gradient
    from utils.lrp import enable_lrp

    def input_x_gradient_leaky(model, input_ids, target_id, foil_id=None):
        relevance = input_x_gradient(model, input_ids, target_id, foil_id)
        if what == "lrp":
            enable_lrp(model)                                    # and never off again
        elif what == "hook":
            model.model.layers[1].register_forward_pre_hook(lambda module, args: None)
        else:
            torch.set_num_threads(torch.get_num_threads() + 1)
        return relevance
    return input_x_gradient_leaky


def _no_hooks(model) -> bool:
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_a_check_names_and_undoes_what_the_learner_left_behind(capsys):
    """Before the guard, LRP left on was misread as "foil_id is ignored" and stayed on."""
    from checks import check_input_x_gradient
    from checks.core import tiny_llama
    from solutions.input_attribution import input_x_gradient
    from utils.lrp import lrp_is_enabled

    threads = torch.get_num_threads()
    expected = {"lrp": "your function left LRP on",
                "hook": "your function left a forward pre-hook on model.layers.1",
                "threads": f"set it from {threads} to {threads + 1}"}
    for what, words in expected.items():
        used = check_input_x_gradient(_leaves(what))
        out = capsys.readouterr().out
        assert used is input_x_gradient and out.startswith("✗") and words in out, (what, out)
        assert "foil_id" not in out and "(the check has put this back)" in out, out
        assert not lrp_is_enabled(tiny_llama()) and torch.get_num_threads() == threads


def test_the_guard_restores_state_after_an_error_and_keeps_it():
    from checks.core import guarded, tiny_llama
    from utils.lrp import enable_lrp, lrp_is_enabled

    model = tiny_llama()
    threads = torch.get_num_threads()

    def crashes(model):
        enable_lrp(model)
        model.model.layers[0].register_forward_hook(lambda *a: None)
        torch.set_num_threads(threads + 1)
        raise ZeroDivisionError("the learner's own error")

    with pytest.raises(ZeroDivisionError, match="the learner's own error"):
        guarded(crashes)(model)
    assert not lrp_is_enabled(model) and _no_hooks(model) and torch.get_num_threads() == threads


def test_the_guard_leaves_state_the_caller_set_up_alone():
    """LRP on and a hook registered before the call stay; switching LRP off is named too."""
    from checks.core import LeftState, guarded, tiny_llama
    from utils.lrp import attnlrp, disable_lrp, lrp_rule

    model = tiny_llama()
    handle = model.model.layers[0].register_forward_hook(lambda *a: None)
    try:
        with attnlrp(model, rule="cp"):
            assert guarded(lambda m: 1)(model) == 1
            assert lrp_rule(model) == "cp" and model.model.layers[0]._forward_hooks
            with pytest.raises(LeftState, match="turned the 'cp' rules off"):
                guarded(disable_lrp)(model)
            assert lrp_rule(model) == "cp"
    finally:
        handle.remove()
    assert _no_hooks(model) and lrp_rule(model) is None
