"""benchmarks/gpu.py on the CPU with a tiny shape: every code path of the GPU benchmark runs,
its results render, and nothing is presented as a GPU figure."""
import json

import pytest

from benchmarks import gpu
from benchmarks.report import gpu_md, write_markdown


def test_tiny_run_on_cpu_writes_results_and_claims_no_gpu_figure(tmp_path):
    assert gpu.main(["--out", str(tmp_path), "--device", "cpu", "--tiny", "--lengths", "8", "16",
                     "32", "--saved-lengths", "16", "--no-course"]) == 0
    part = json.loads((tmp_path / "results.json").read_text())["gpu"]
    assert part["device"] == "cpu" and part["tiny"]
    assert {(r["method"], r["tokens"]) for r in part["rows"]} == \
        {(m, n) for m in gpu.METHODS for n in (8, 16, 32)}
    assert all(r["status"] == "ok" and r["forward_units"] > 0 for r in part["rows"])
    assert all("peak_gib" not in r for r in part["rows"])          # no CUDA, no peak
    assert set(part["longest_prompt_t4"]) == set(gpu.METHODS)
    assert all(v is None for v in part["longest_prompt_t4"].values())
    saved = {r["method"]: r["saved_gib"] for r in part["saved"]}
    assert saved["lrp_heads_checkpointed"] < saved["lrp_heads"]
    md = (tmp_path / "results.md").read_text()
    assert "Not measured on a GPU yet" in md and "tools/gpu_run.sh" in md
    assert "peak `max_memory_allocated`" not in md


def test_full_shape_saved_tensor_count_shows_the_quadratic_attention():
    rows = gpu.saved_tensor_memory(gpu.LLAMA_1B_SHAPE, [256, 512], ["lrp", "lrp_checkpointed"],
                                   log=lambda m: None)
    by = {(r["method"], r["tokens"]): r for r in rows}
    assert by["lrp", 256]["weights_gib"] == pytest.approx(2.3, abs=0.1)   # 1.24 B params in bf16
    attention = {n: sum(v for k, v in by["lrp", n]["by_kind_gib"].items() if "attention" in k)
                 for n in (256, 512)}
    assert attention[512] == pytest.approx(4 * attention[256], rel=0.01)  # seq^2
    assert by["lrp_checkpointed", 512]["saved_gib"] < by["lrp", 512]["saved_gib"] / 10


def test_longest_prompt_solves_the_fitted_quadratic():
    rows = [{"method": "lrp", "tokens": n, "status": "ok", "peak_gib": 2 + 1e-3 * n + 1e-6 * n * n}
            for n in (512, 2048, 4096)]
    n = gpu.longest_prompt(rows, 14.5)
    assert 2 + 1e-3 * n + 1e-6 * n * n <= 14.5 < 2 + 1e-3 * (n + 2) + 1e-6 * (n + 2) ** 2
    assert gpu.longest_prompt(rows[:2], 14.5) is None
    rows[2]["status"] = "oom"
    assert gpu.longest_prompt(rows, 14.5) is None


def test_measured_cuda_rows_render_as_a_table(tmp_path):
    machine = {"cpu": "x", "cores": 16, "torch_threads": 16, "ram_gib": 128, "torch": "2.13.0",
               "gpu": "A GPU", "date_utc": "2026-01-01 00:00"}
    part = {"machine": machine, "device": "cuda", "tiny": False, "seconds": 60.0, "budget_gib": 15.0,
            "context_reserve_gib": 0.5,
            "rows": [{"method": "lrp", "tokens": 512, "status": "ok", "peak_gib": 3.0,
                      "seconds": 0.2, "forward_units": 2.5},
                     {"method": "lrp_heads", "tokens": 4096, "status": "oom"}],
            "longest_prompt_t4": {"lrp": 3000, "lrp_heads": None}}
    text = "\n".join(gpu_md(part))
    assert "| LRP (AttnLRP) | 512 | 3.00 GiB | 200 ms | 2.5 |" in text
    assert "out of memory" in text and "3000 tokens" in text
    write_markdown({"gpu": part}, tmp_path / "r.md")
    assert "Not measured on a GPU yet" not in (tmp_path / "r.md").read_text()


def test_a_one_model_notebook_table_sits_beside_the_default_one(tmp_path):
    """`make bench BENCH_MODEL=smollm2` adds its own table and keeps the default one."""
    from benchmarks.report import merge

    machine = {"cpu": "cpu", "cores": 2, "torch_threads": 1, "ram_gib": 1.0, "torch": "2",
               "load": 0.1, "date_utc": "2026-12-07 00:00"}
    default = {"notebooks": {"machine": machine, "seconds": 3.0, "rows": [
        {"notebook": "01_x.ipynb", "model": "smollm2", "seconds": 3.0, "status": "ok"}]}}
    one = {"notebooks on smollm2": {"machine": machine, "seconds": 5.0, "rows": [
        {"notebook": "04_x.ipynb", "model": "smollm2", "seconds": 5.0, "status": "ok"}]}}
    merged = merge(merge({}, default), one)
    assert list(merged) == ["notebooks", "notebooks on smollm2"]
    assert list(merge(merged, default)) == ["notebooks", "notebooks on smollm2"]
    write_markdown(merged, tmp_path / "r.md")
    text = (tmp_path / "r.md").read_text()
    assert "each on the model it is built with" in text and "Every solved notebook on smollm2" in text
    assert text.index("01_x.ipynb") < text.index("04_x.ipynb")
