"""utils.models: choosing and loading a model, with clear errors."""
import pytest
import torch

import utils.models as models
from utils import COURSE_MODEL_DIR
from utils.models import (DEFAULT_HUB_MODEL, ModelLoadError, load_model, model_shape,
                          resolve_model_name)


def test_local_folder_loads_frozen_eager_fp32(tiny_model_dir, capsys):
    model, tokenizer = load_model(str(tiny_model_dir), device="cpu")
    assert not model.training
    assert all(not p.requires_grad for p in model.parameters())
    assert model.config._attn_implementation == "eager"
    assert next(model.parameters()).dtype == torch.float32
    assert model_shape(model) == (2, 4, 8)
    printed = capsys.readouterr().out
    assert "Loaded" in printed and "Why this model: asked for by name: a local folder" in printed
    assert tokenizer.pad_token_id is not None


def test_env_variable_and_auto_without_gpu(monkeypatch, tiny_model_dir):
    monkeypatch.setenv("XAI_MODEL", str(tiny_model_dir))
    assert resolve_model_name().path == str(tiny_model_dir)
    monkeypatch.delenv("XAI_MODEL")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(models, "smollm2_available", lambda: True)
    choice = resolve_model_name()
    assert choice.source == "smollm2" and "no GPU" in choice.reason
    assert "SmolLM2-135M-Instruct" in choice.reason and "Apache-2.0" in choice.reason


def test_auto_with_gpu_but_offline_hub_picks_smollm2(monkeypatch):
    monkeypatch.delenv("XAI_MODEL", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(models, "smollm2_available", lambda: True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    choice = resolve_model_name("auto")
    assert choice.source == "smollm2" and "not reachable" in choice.reason


def test_auto_without_smollm2_falls_back_to_the_course_model_and_says_how(monkeypatch):
    monkeypatch.delenv("XAI_MODEL", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(models, "smollm2_available", lambda: False)
    choice = resolve_model_name("auto")
    assert choice.source == "course" and "no GPU" in choice.reason
    assert "not installed" in choice.reason and "make setup" in choice.reason
    with pytest.raises(ModelLoadError, match="not installed.*make setup"):
        resolve_model_name("smollm2")


def test_course_still_loads_the_course_model():
    assert resolve_model_name("course").path == str(COURSE_MODEL_DIR)


def test_auto_with_gpu_and_hub_picks_default(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(models, "hub_is_reachable", lambda timeout_s=3.0: True)
    assert resolve_model_name("auto").path == DEFAULT_HUB_MODEL


@pytest.mark.parametrize("name, message", [
    ("", "empty"),
    ("gpt2", "Unknown model 'gpt2'"),
    ("./no/such/folder", "does not exist"),
])
def test_bad_names_say_what_to_do(name, message):
    with pytest.raises(ModelLoadError, match=message):
        load_model(name)


def test_offline_hub_id_names_the_fix():
    # HF_HUB_OFFLINE=1 (conftest): nothing cached, so the error must say how to get the model.
    with pytest.raises(ModelLoadError, match="huggingface-cli download"):
        load_model("some-org/some-model-not-cached")


def test_unsupported_architecture_is_refused(tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel
    GPT2LMHeadModel(GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=50)).save_pretrained(tmp_path)
    with pytest.raises(ModelLoadError, match="supports llama, qwen2, qwen3"):
        load_model(str(tmp_path))


def test_qwen2_folder_loads(tmp_path, tiny_model_dir):
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    tok.save_pretrained(tmp_path)
    Qwen2ForCausalLM(Qwen2Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                                 num_hidden_layers=1, num_attention_heads=4,
                                 num_key_value_heads=2)).save_pretrained(tmp_path)
    model, _ = load_model(str(tmp_path), device="cpu", verbose=False)
    assert model.config.model_type == "qwen2"


@pytest.mark.skipif(not (COURSE_MODEL_DIR / "model.safetensors").exists(), reason="course model not built")
def test_course_model_loads_offline_quickly():
    import time
    start = time.time()
    model, tokenizer = load_model("course", verbose=False)
    assert time.time() - start < 20
    assert model.config.model_type == "llama"
    n_layers, n_heads, _ = model_shape(model)
    assert n_layers * n_heads >= 48


def test_a_notebook_can_keep_the_course_model_as_its_cpu_default(monkeypatch):
    monkeypatch.delenv("XAI_MODEL", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(models, "smollm2_available", lambda: True)
    choice = resolve_model_name(None, offline_default="course")
    assert choice.source == "course" and "this notebook's default" in choice.reason
    monkeypatch.setenv("XAI_MODEL", "smollm2")          # an explicit choice still wins
    assert resolve_model_name(None, offline_default="course").source == "smollm2"
    with pytest.raises(ModelLoadError, match="offline_default"):
        resolve_model_name("auto", offline_default="gpt2")
