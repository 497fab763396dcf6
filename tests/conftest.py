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


def _one_run_per_patch(model, pair, inputs, hook_at, metric):
    """metric of one run of `inputs` per valid (layer, position) of `pair` (NaN elsewhere), each
    with the forward pre-hook hook_at(layer, position) -> (module, hook) on for that run only."""
    import torch

    n = model.config.num_hidden_layers
    result = torch.full((n, pair.seq_len), float("nan"))
    for layer in range(n):
        for pos in pair.valid_positions.tolist():
            module, hook = hook_at(layer, pos)
            handle = module.register_forward_pre_hook(hook)
            try:
                with torch.no_grad():
                    result[layer, pos] = metric(model(**inputs).logits[:, -1])[0]
            finally:
                handle.remove()
    return result


@pytest.fixture
def one_run_per_patch():
    """The loop of a hand-written residual patch: one run per valid (layer, position)."""
    return _one_run_per_patch


@pytest.fixture
def own_outputs_transplanted():
    """(model, ids, heads) -> (clean, patched): the logits of `ids`, then of the same run with
    the heads' own last-position outputs transplanted back in."""
    import torch

    from solutions.function_vectors import head_outputs_at_last, transplant_heads

    def run(model, ids, heads):
        own = head_outputs_at_last(model, ids, heads)
        with torch.no_grad():
            clean = model(ids).logits
            with transplant_heads(model, heads, own):
                patched = model(ids).logits
        return clean, patched
    return run
