import os
import sys
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # a missing local path must fail fast, not retry the hub
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("XAI_MODEL", "course")  # notebooks under test use the course model
os.environ.setdefault("OMP_NUM_THREADS", "1")  # as when the solved notebooks were built
os.environ.setdefault("MPLBACKEND", "Agg")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def devices_under_test() -> list[str]:
    """Devices the device-dependent tests run on: always cpu, plus those in XAI_TEST_DEVICE
    (e.g. XAI_TEST_DEVICE=cuda, as `make test-gpu` sets it)."""
    wanted = [d.strip() for d in os.environ.get("XAI_TEST_DEVICE", "").split(",") if d.strip()]
    return ["cpu"] + [d for d in wanted if d != "cpu"]



def pytest_configure(config):
    config.addinivalue_line("markers", "notebooks: executes notebooks (minutes)")
    config.addinivalue_line("markers", "gpu: runs on a CUDA device (XAI_TEST_DEVICE=cuda)")
    if any(d.startswith("cuda") for d in devices_under_test()):
        # bit-exact comparisons on CUDA need deterministic cuBLAS; set before CUDA starts
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        import torch

        if not torch.cuda.is_available():
            raise pytest.UsageError(
                "XAI_TEST_DEVICE asks for cuda, but torch sees no CUDA GPU "
                f"(torch {torch.__version__}). Unset XAI_TEST_DEVICE to test on the CPU only.")


def pytest_generate_tests(metafunc):
    """A test that takes a `device` argument runs once per device of `devices_under_test()`."""
    if "device" in metafunc.fixturenames:
        metafunc.parametrize("device", [
            pytest.param(d, marks=[pytest.mark.gpu] if d.startswith("cuda") else [], id=d)
            for d in devices_under_test()])


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A small random Llama and a byte-level tokenizer, saved to a folder like a hub model."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from checks.core import tiny_tokenizer

    folder = tmp_path_factory.mktemp("tiny-llama")
    fast = tiny_tokenizer()
    fast.save_pretrained(folder)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(fast), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
                         bos_token_id=0, eos_token_id=1, pad_token_id=2)
    LlamaForCausalLM(config).save_pretrained(folder, safe_serialization=True)
    return folder


@pytest.fixture(scope="session")
def course_model():
    """(model, tokenizer) of the bundled course model on the CPU, loaded once per session."""
    from utils.models import load_model
    return load_model("course", device="cpu", verbose=False)
