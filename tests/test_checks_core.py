"""checks: the messages a learner sees name the mistake."""
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
