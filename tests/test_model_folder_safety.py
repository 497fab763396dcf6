"""No code from a model folder ever runs, and a broken folder is refused with the file named.

Each unsafe folder carries Python that would write a marker file; the marker must never appear,
whether the course's folder scan or transformers itself is asked to load it.
"""
import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from utils.model_folders import UnsafeModelFolder, no_custom_generate, scan_model_folder
from utils.models import ModelLoadError, load_model


def _marker_code(marker) -> str:
    return (f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n"
            "def generate(model, *args, **kwargs):\n    return 'custom'\n")


@pytest.fixture
def folder(tmp_path, tiny_model_dir):
    """A fresh copy of a valid tiny Llama folder."""
    target = tmp_path / "model"
    shutil.copytree(tiny_model_dir, target)
    return target


def test_a_clean_folder_loads(folder):
    model, _ = load_model(str(folder), device="cpu", verbose=False)
    assert model.config.model_type == "llama"


def test_custom_generate_never_runs(folder, tmp_path):
    marker = tmp_path / "MARKER"
    (folder / "custom_generate").mkdir()
    (folder / "custom_generate" / "generate.py").write_text(_marker_code(marker))
    with pytest.raises(ModelLoadError, match="custom_generate"):
        load_model(str(folder), device="cpu", verbose=False)
    assert not marker.exists()


def test_custom_generate_never_runs_even_past_the_scan(folder, tmp_path):
    """transformers 4.57 imports custom_generate/generate.py with trust_remote_code=False; the
    course switches that loader off while it loads, whatever the scan saw."""
    from transformers import AutoModelForCausalLM
    from transformers.generation.utils import GenerationMixin
    marker = tmp_path / "MARKER"
    (folder / "custom_generate").mkdir()
    (folder / "custom_generate" / "generate.py").write_text(_marker_code(marker))
    original = GenerationMixin.load_custom_generate
    with no_custom_generate():
        model = AutoModelForCausalLM.from_pretrained(folder, trust_remote_code=False)
    assert not marker.exists()
    assert "custom" not in repr(model.generate)
    assert GenerationMixin.load_custom_generate is original  # the switch is scoped


def test_the_switch_comes_off_after_an_error():
    from transformers.generation.utils import GenerationMixin
    original = GenerationMixin.load_custom_generate
    with pytest.raises(RuntimeError):
        with no_custom_generate():
            raise RuntimeError("boom")
    assert GenerationMixin.load_custom_generate is original


@pytest.mark.parametrize("where", ["helper.py", "sub/deeper/utils.py", "cache.pyc"])
def test_a_stray_python_file_anywhere_is_refused(folder, tmp_path, where):
    marker = tmp_path / "MARKER"
    path = folder / where
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_marker_code(marker))
    with pytest.raises(ModelLoadError, match="ships its own Python code"):
        load_model(str(folder), device="cpu", verbose=False)
    assert not marker.exists()


@pytest.mark.parametrize("file_name", ["config.json", "tokenizer_config.json", "extra.json"])
def test_an_escaped_auto_map_is_found_by_parsing(folder, tmp_path, file_name):
    marker = tmp_path / "MARKER"
    (tmp_path / "elsewhere.py").write_text(_marker_code(marker))
    path = folder / file_name
    config = json.loads(path.read_text()) if path.exists() else {}
    text = json.dumps(config)[:-1] + ', "nested": {"auto\\u005fmap": {"AutoConfig": "x.Y"}}}'
    assert "auto_map" not in text  # a text search would miss it
    path.write_text(text)
    with pytest.raises(ModelLoadError, match="auto_map"):
        load_model(str(folder), device="cpu", verbose=False)
    assert not marker.exists()


def test_an_index_pointing_outside_is_refused(folder, tmp_path):
    outside = tmp_path / "outside.safetensors"
    shutil.move(folder / "model.safetensors", outside)
    names = load_file(outside).keys()
    (folder / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {}, "weight_map": {n: "../outside.safetensors" for n in names}}))
    with pytest.raises(ModelLoadError, match="outside the folder"):
        load_model(str(folder), device="cpu", verbose=False)


def test_a_link_leading_outside_is_refused(folder, tmp_path):
    outside = tmp_path / "outside.safetensors"
    shutil.move(folder / "model.safetensors", outside)
    (folder / "model.safetensors").symlink_to(outside)
    with pytest.raises(ModelLoadError, match="leads outside"):
        load_model(str(folder), device="cpu", verbose=False)


def test_a_cached_hub_snapshot_is_scanned(tmp_path, tiny_model_dir, monkeypatch):
    """Hub snapshots link into the repo's blobs/ (allowed), and are refused when they hold code."""
    import huggingface_hub.constants as constants
    from utils.models import check_hub_snapshot
    repo = tmp_path / "hub" / "models--course--tiny"
    snapshot, blobs = repo / "snapshots" / "0", repo / "blobs"
    snapshot.mkdir(parents=True)
    blobs.mkdir()
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0")
    for i, src in enumerate(sorted(tiny_model_dir.iterdir())):
        shutil.copy(src, blobs / f"blob{i}")
        (snapshot / src.name).symlink_to(blobs / f"blob{i}")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    check_hub_snapshot("course/tiny")  # links into blobs/ are fine
    (snapshot / "custom_generate").mkdir()
    (snapshot / "custom_generate" / "generate.py").write_text("raise SystemExit")
    with pytest.raises(ModelLoadError, match="custom_generate"):
        check_hub_snapshot("course/tiny")


def test_the_smollm2_conversion_folder_passes_the_scan():
    from utils import smollm2
    if not smollm2.is_converted():
        pytest.skip("SmolLM2 is not converted here (make setup converts it)")
    scan_model_folder(smollm2.SMOLLM2_DIR)


def _rewrite_weights(folder, edit):
    weights = load_file(folder / "model.safetensors")
    edit(weights)
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})


def test_missing_weights_are_an_error_not_a_random_layer(folder):
    _rewrite_weights(folder, lambda w: [w.pop(k) for k in list(w) if k.startswith("model.layers.1.")])
    with pytest.raises(ModelLoadError, match=r"missing keys: model\.layers\.1\..*random"):
        load_model(str(folder), device="cpu", verbose=False)


def test_unexpected_weights_are_an_error(folder):
    _rewrite_weights(folder, lambda w: w.update({"model.layers.9.extra.weight": torch.zeros(2)}))
    with pytest.raises(ModelLoadError, match="unexpected keys: model.layers.9.extra.weight"):
        load_model(str(folder), device="cpu", verbose=False)


def test_a_truncated_safetensors_file_names_the_problem(folder):
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match="truncated or damaged"):
        load_model(str(folder), device="cpu", verbose=False)


def test_a_broken_tokenizer_names_its_file(folder):
    (folder / "tokenizer.json").write_text('{"version": "1.0", "model": {"type": "nonsense"}}')
    with pytest.raises(ModelLoadError, match=r"tokenizer.*tokenizer\.json.*could not be read"):
        load_model(str(folder), device="cpu", verbose=False)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_cuda_without_a_gpu_says_so(folder):
    with pytest.raises(ModelLoadError, match="CUDA GPU.*device='cpu'"):
        load_model(str(folder), device="cuda", verbose=False)


def test_scan_refuses_directly():
    with pytest.raises(UnsafeModelFolder):
        scan_model_folder(__import__("pathlib").Path(__file__).parent)  # tests/ holds .py files
