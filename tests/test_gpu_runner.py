"""The GPU runner's tooling, on the CPU: `make test-gpu` refuses to pass without CUDA, its
commands are what the README says, and the random Llama folder loads like a hub model."""
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import torch

from tools import test_gpu
from tools.random_llama import FILLER, build

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_test_gpu_stops_at_once_without_cuda():
    started = time.perf_counter()
    done = subprocess.run(["make", "--no-print-directory", "test-gpu", "OUT=/nonexistent/gpu-check"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1 and "needs a CUDA GPU" in lines[0], done.stdout
    assert "passed" not in done.stdout + done.stderr      # no test ran
    assert time.perf_counter() - started < 60
    assert not Path("/nonexistent/gpu-check").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_driver_refuses_without_cuda(tmp_path, capsys):
    assert test_gpu.main(["--out", str(tmp_path / "logs")]) == 2
    assert "needs a CUDA GPU" in capsys.readouterr().out
    assert not (tmp_path / "logs").exists()


def test_commands_test_cuda_and_compare_with_tolerance(tmp_path):
    cmds = test_gpu.commands(tmp_path, cpu_dry_run=False, model_dir=tmp_path / "m")
    assert set(cmds) == set(test_gpu.PARTS + test_gpu.INFORMATIONAL)
    assert test_gpu.base_env(False)["XAI_TEST_DEVICE"] == "cuda"
    assert "XAI_TEST_DEVICE" not in test_gpu.base_env(True)
    solved, env = cmds["solved"]
    assert "--nbval" in solved and "--nbval-lax" not in solved      # compares outputs
    assert "--nbval-float-tolerance" in solved and "tests.nbval_tolerance" in solved
    assert "tests.nbval_models" in solved           # each notebook on the model it was built with
    assert "tests.nbval_models" not in cmds["llama"][0]   # there the hub model is the point
    assert env == {"XAI_DTYPE": "float32"}
    sanitize = Path(solved[solved.index("--nbval-sanitize-with") + 1]).read_text()
    assert "0xADDRESS" in sanitize and "on DEVICE in DTYPE" in sanitize   # course's + GPU's
    assert cmds["solved-bf16"][1] == {"XAI_DTYPE": "bfloat16"}
    assert test_gpu.commands(tmp_path, True, tmp_path)["exercises"][1] == {"XAI_DTYPE": "bfloat16"}
    llama, env = cmds["llama"]
    assert "--nbval-lax" in llama
    assert env == {"XAI_MODEL": str(tmp_path / "m"), "XAI_DEVICE_MAP": "auto"}   # bf16 default
    unit, _ = cmds["unit"]
    assert unit[unit.index("-m", 3) + 1] == "not notebooks"


def test_summary_line_is_pytests_last_result():
    log = "....F\n=== short test summary ===\nFAILED x\n==== 1 failed, 4 passed in 3.21s ====\n"
    assert test_gpu.summary_line(log) == "1 failed, 4 passed in 3.21s"
    assert test_gpu.summary_line("Traceback\nImportError: boom\n") == "ImportError: boom"


def test_unknown_part_is_refused(capsys):
    with pytest.raises(SystemExit):
        test_gpu.main(["--cpu-dry-run", "units"])
    assert "unknown part" in capsys.readouterr().err


def test_random_llama_folder_loads_and_decodes_every_id(tmp_path):
    from transformers import AutoTokenizer

    from utils import COURSE_MODEL_DIR
    from utils.models import load_model

    folder = build(tmp_path / "tiny", tiny=True, device="cpu")
    config = json.loads((folder / "config.json").read_text())
    assert config["num_key_value_heads"] < config["num_attention_heads"]   # GQA, as the 1B shape
    assert config["rope_scaling"]["rope_type"] == "llama3"
    model, tokenizer = load_model(str(folder), device="cpu", verbose=False)
    assert len(tokenizer) == model.config.vocab_size == 5000
    course = AutoTokenizer.from_pretrained(COURSE_MODEL_DIR)
    text = "The capital of France is"
    assert tokenizer(text).input_ids == course(text).input_ids         # encoding unchanged
    assert tokenizer.decode([4999]) == FILLER.format(4999)
    assert tokenizer.chat_template == course.chat_template
    ids = tokenizer(text, return_tensors="pt").input_ids
    out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=3,
                         do_sample=False, pad_token_id=tokenizer.pad_token_id)
    assert isinstance(tokenizer.decode(out[0]), str)


def test_full_shape_is_llama_3_2_1b():
    from benchmarks.attribution import LLAMA_1B_SHAPE

    assert {k: LLAMA_1B_SHAPE[k] for k in ("hidden_size", "num_hidden_layers",
            "num_attention_heads", "num_key_value_heads", "intermediate_size", "vocab_size",
            "tie_word_embeddings")} == dict(hidden_size=2048, num_hidden_layers=16,
                                            num_attention_heads=32, num_key_value_heads=8,
                                            intermediate_size=8192, vocab_size=128256,
                                            tie_word_embeddings=True)


def test_workflow_has_a_cpu_and_a_gpu_job():
    import yaml

    jobs = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())["jobs"]
    runs = {name: " ".join(step.get("run", "") for step in job["steps"]) for name, job in jobs.items()}
    assert "make test" in runs["cpu"] and "make test-gpu" not in runs["cpu"]
    assert jobs["gpu"]["runs-on"] == ["self-hosted", "gpu"]
    assert "make test-gpu" in runs["gpu"]


def test_only_notebook_04s_own_stop_is_expected_on_random_weights(tmp_path):
    def case(notebook, cell, text):
        return (f'<testcase classname="solutions.notebooks.{notebook}.ipynb" name="Cell {cell}">'
                f'<failure message="failed">{text}</failure></testcase>')

    stop = "ValueError: No sample has both answers among the top 10 next tokens"
    junit = tmp_path / "llama.xml"
    junit.write_text("<testsuites><testsuite>"
                     + case("04_knowledge_conflicts", 6, stop)
                     + case("04_knowledge_conflicts", 7, "NameError: name 'relevance' is not defined")
                     + case("02_attention_heads", 3, "NameError: name 'x' is not defined")
                     + case("05_activation_patching", 4, "torch.OutOfMemoryError: CUDA out of memory")
                     + "</testsuite></testsuites>")
    unexpected, expected = test_gpu.unexpected_failures(junit)
    assert expected == ["04_knowledge_conflicts Cell 6", "04_knowledge_conflicts Cell 7"]
    assert unexpected == ["02_attention_heads Cell 3", "05_activation_patching Cell 4"]


def test_load_model_dtype_and_device_map_options(tiny_model_dir, monkeypatch):
    """XAI_DTYPE picks the dtype on any device; XAI_DEVICE_MAP=auto asks accelerate to place
    the model on a single GPU too (checked here with CUDA faked: only the arguments matter)."""
    import transformers

    from utils.models import ModelLoadError, load_model

    monkeypatch.setenv("XAI_DTYPE", "bfloat16")
    model, _ = load_model(str(tiny_model_dir), device="cpu", verbose=False)
    assert next(model.parameters()).dtype == torch.bfloat16
    monkeypatch.setenv("XAI_DTYPE", "float16")
    with pytest.raises(ModelLoadError, match="bfloat16 or float32"):
        load_model(str(tiny_model_dir), device="cpu", verbose=False)
    monkeypatch.delenv("XAI_DTYPE")

    seen = {}
    real = transformers.AutoModelForCausalLM.from_pretrained

    def spy(path, **kwargs):
        seen.update(kwargs)
        kwargs.pop("device_map", None)
        return real(path, **kwargs)

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", spy)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setenv("XAI_DEVICE_MAP", "auto")
    model, _ = load_model(str(tiny_model_dir), verbose=False)
    assert seen["device_map"] == "auto" and seen["dtype"] == torch.bfloat16
    assert next(model.parameters()).device.type == "cpu"     # not moved: accelerate places it
    monkeypatch.delenv("XAI_DEVICE_MAP")
    seen.clear()
    with pytest.raises((RuntimeError, AssertionError)):      # now it would move to the fake GPU
        load_model(str(tiny_model_dir), verbose=False)
    assert "device_map" not in seen


def test_parts_past_the_time_limit_are_stopped_and_reported(tmp_path, monkeypatch):
    import sys

    fake = {"unit": ([sys.executable, "-c", "print('4 passed in 0.1s')"], {}),
            "llama": ([sys.executable, "-c", "import time; time.sleep(60)"], {})}
    monkeypatch.setattr(test_gpu, "commands", lambda out, dry, model_dir: fake)
    started = time.perf_counter()
    results = test_gpu.run_parts(["unit", "llama"], tmp_path, True, tmp_path, log=lambda m: None,
                                 time_limit=3)
    assert time.perf_counter() - started < 30
    by = {r["part"]: r for r in results}
    assert by["unit"]["rc"] == 0 and by["unit"]["summary"] == "4 passed in 0.1s"
    assert by["llama"]["rc"] is None and "stopped at the time limit" in by["llama"]["summary"]


def test_gpu_run_script_parses():
    done = subprocess.run(["bash", "-n", str(ROOT / "tools" / "gpu_run.sh")], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
