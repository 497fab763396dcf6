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


def pytest_configure(config):
    config.addinivalue_line("markers", "notebooks: executes notebooks (minutes)")


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
