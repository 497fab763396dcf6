"""utils.setup: the first cell of every notebook."""
import utils.setup as course_setup
from utils import COURSE_MODEL_DIR


def test_colab_requirements_keep_colab_torch_and_skip_test_tools():
    reqs = course_setup.colab_requirements()
    names = [r.split("==")[0] for r in reqs]
    assert "torch" not in names and "nbval" not in names and "jupyterlab" not in names
    assert any(r.startswith("transformers==4.") for r in reqs)
    assert not any(r.startswith("lxt") for r in reqs)  # installed with --no-deps separately


def test_doctor_reports_each_item(capsys):
    course_setup.doctor("course")
    out = capsys.readouterr().out
    assert "transformers 4." in out and "lxt 2.1" in out
    assert "Device: cpu" in out and "Memory:" in out
    assert "Model to load: course-llama (bundled)" in out
    if (COURSE_MODEL_DIR / "model.safetensors").exists():
        assert "✓ LRP rules apply: CP-LRP relevance sums to 1.00 of the logit" in out, out
    else:
        assert "make model" in out


def test_doctor_names_the_fix_for_a_bad_model(capsys):
    course_setup.doctor("not-a-model")
    assert "✗ Model: Unknown model 'not-a-model'" in capsys.readouterr().out


def test_seeding_makes_torch_repeatable():
    import torch
    course_setup.seed_everything()
    a = torch.rand(3)
    course_setup.seed_everything()
    assert torch.equal(a, torch.rand(3))


def test_doctor_names_a_session_patched_outside(capsys, monkeypatch):
    from utils import lrp

    def patched(*args, **kwargs):
        raise lrp.PatchedOutsideError("transformers.models.llama.modeling_llama is already patched")
    monkeypatch.setattr(course_setup, "lrp_self_test", patched)
    course_setup.doctor("course")
    out = capsys.readouterr().out
    if (COURSE_MODEL_DIR / "model.safetensors").exists():
        assert "✗ LRP check: this Python session is already patched by lxt" in out, out


def test_the_health_check_names_the_model_the_notebook_loads(capsys, monkeypatch):
    """A notebook that loads the course model on a CPU by default (no `solved_with` in its
    metadata) passes the same offline_default to its first cell, so the health check names that
    model and not SmolLM2."""
    monkeypatch.delenv("XAI_MODEL", raising=False)
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    course_setup.doctor(offline_default="course")
    out = capsys.readouterr().out
    assert "Model to load: course-llama (bundled)" in out and "this notebook's default" in out
