"""A model folder with the shape of Llama-3.2-1B and random weights, loadable like a hub model.

    python tools/random_llama.py /tmp/llama-1b-random               # the real shape, bf16
    python tools/random_llama.py /tmp/tiny-random --tiny --device cpu   # a tiny one (tests)

The GPU runner explains it with every solved notebook (XAI_MODEL=<folder>) and the GPU
benchmark measures its memory: the cost of the real model, without a download. The tokenizer
is the course model's, its vocabulary padded with filler entries to the shape's 128256 ids, so
every id the random model can generate decodes to text. Special-token ids are the course
tokenizer's (BOS 0, ends 1 and 5, pad 2); the shape is Llama-3.2-1B's.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from utils import COURSE_MODEL_DIR  # noqa: E402
from utils.model_shapes import LLAMA_1B_SHAPE, TINY_SHAPE  # noqa: E402

FILLER = "<|filler_{}|>"


def padded_tokenizer(folder: Path, vocab_size: int) -> None:
    """Write the course tokenizer to `folder` with its vocabulary padded to `vocab_size` ids."""
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        (folder / name).write_text((COURSE_MODEL_DIR / name).read_text())
    spec = json.loads((COURSE_MODEL_DIR / "tokenizer.json").read_text())
    vocab = spec["model"]["vocab"]
    used = set(vocab.values()) | {t["id"] for t in spec.get("added_tokens", [])}
    if max(used) >= vocab_size:
        raise ValueError(f"The course tokenizer already uses id {max(used)}: pick a vocabulary "
                         f"of more than {max(used) + 1} ids.")
    # filler tokens are never produced by the merges: encoding is unchanged, decoding works
    vocab.update({FILLER.format(i): i for i in range(vocab_size) if i not in used})
    (folder / "tokenizer.json").write_text(json.dumps(spec, ensure_ascii=False))


def build(folder: Path, tiny: bool = False, dtype: torch.dtype = torch.bfloat16,
          device: str = "cpu", seed: int = 0) -> Path:
    """Write config, random weights (safetensors) and tokenizer to `folder`; returns it."""
    from transformers import LlamaConfig, LlamaForCausalLM

    shape = TINY_SHAPE if tiny else LLAMA_1B_SHAPE
    course = json.loads((COURSE_MODEL_DIR / "config.json").read_text())
    special = {k: course[k] for k in ("bos_token_id", "eos_token_id", "pad_token_id")}
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    config = LlamaConfig(**{**shape, **special}, attn_implementation="eager")
    with torch.device(device):   # initialise where it will run: seconds on a GPU
        model = LlamaForCausalLM(config).to(dtype)
    model.generation_config.eos_token_id = special["eos_token_id"]
    model.save_pretrained(folder, safe_serialization=True)
    padded_tokenizer(folder, shape["vocab_size"])
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--tiny", action="store_true", help="a tiny model of the same architecture")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", choices=("bfloat16", "float32"), default="bfloat16")
    args = parser.parse_args()
    build(args.folder, args.tiny, getattr(torch, args.dtype), args.device)
    print(f"Wrote a random {'tiny' if args.tiny else 'Llama-3.2-1B-shaped'} model to {args.folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
