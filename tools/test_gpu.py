"""`make test-gpu`: the course checked on a CUDA GPU, four parts, each logged to one folder.

    python tools/test_gpu.py                       # all parts, logs in gpu-check/
    python tools/test_gpu.py --out /tmp/logs unit solved
    python tools/test_gpu.py --cpu-dry-run          # the same commands on the CPU (see below)

Parts (independent, run side by side; each is one pytest process with its own log):
- unit: every unit test; the device-dependent ones (tests/test_devices.py) also on CUDA
  (XAI_TEST_DEVICE=cuda), in fp32 and bf16.
- exercises: every exercise notebook with its stubs, course model on CUDA (bf16).
- solved: nbval on every solved notebook, each on the model it was built with (SmolLM2 or the
  course model, tests/nbval_models.py) on CUDA in fp32, against the stored CPU
  outputs: words, integers and layout exactly, printed floats within a tolerance
  (tests/nbval_tolerance.py); device, memory and version lines sanitized
  (tests/nbval_sanitize_gpu.cfg). Why fp32: in bf16 the course model reorders rankings whose
  margin is small and moves counts near a threshold (in a bf16 run on the CPU, 24 of 112 cells
  differed beyond the bf16 tolerance: swapped heads and tokens of near-equal relevance, "11 of
  12" for "12 of 12", small per-token LRP values; verdicts stayed), so a bf16 run cannot be
  held to the stored text; fp32 on CUDA differs from the CPU only by kernel rounding (the same
  check on the CPU in fp32: 112 of 112 pass). bf16 is checked by the unit tests
  (bf16 tolerances), the exercise notebooks and the `llama` part, which all run in bf16.
- llama: every solved notebook on a Llama-3.2-1B-shaped model with random weights in bf16
  (tools/random_llama.py), loaded from a local folder with device_map="auto", run lax: its
  outputs mean nothing, but every cell must run (placement, bf16, memory), except where
  notebook 04 stops with its own error because random weights know no facts
  (EXPECTED_ON_RANDOM_WEIGHTS; any other failure fails the part).

Named only: `solved-bf16`, the solved notebooks in bf16 (what a learner's GPU runs) compared
with the looser bf16 tolerance; informational: its result is recorded, it does not fail the run.

Without CUDA it stops at once with one line. `--cpu-dry-run` runs the same parts on the CPU
instead, in bf16 (XAI_DTYPE) where the GPU run uses bf16, with a tiny random model for `llama`: it checks
the commands and the notebooks' code paths, not the GPU.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PARTS = ("unit", "exercises", "solved", "llama")
INFORMATIONAL = ("solved-bf16",)
# Printed floats may move by this much (REL of the stored value, ABS; plus one unit of the last
# printed digit): fp32 on CUDA differs from the CPU in the last bits only; bf16 by about 1 %.
FLOAT_TOLERANCE = {"solved": "0.02,0.005", "solved-bf16": "0.1,0.02"}
SANITIZE = ROOT / "tests" / "nbval_sanitize.cfg"
SANITIZE_GPU = ROOT / "tests" / "nbval_sanitize_gpu.cfg"
NEEDS_GPU = ("make test-gpu needs a CUDA GPU: torch sees none here ({}). "
             "On a CPU run `make test`.")


def base_env(cpu_dry_run: bool) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", MPLBACKEND="Agg",
               XAI_PROGRESS="static", XAI_MODEL="course", PYTHONHASHSEED="0")
    env.setdefault("OMP_NUM_THREADS", "1")
    env.pop("XAI_DTYPE", None)
    if cpu_dry_run:
        env.pop("XAI_TEST_DEVICE", None)
    else:
        env["XAI_TEST_DEVICE"] = "cuda"
    return env


def commands(out: Path, cpu_dry_run: bool, model_dir: Path) -> dict[str, tuple[list[str], dict]]:
    """part -> (pytest command, extra environment)."""
    py = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfE"]
    # a dry run on the CPU takes the GPU's dtype where the GPU run uses the default (bf16)
    bf16_on_cpu = {"XAI_DTYPE": "bfloat16"} if cpu_dry_run else {}
    # nbval reads one sanitize file: the course's patterns, then the device-specific ones
    sanitize = out / "nbval_sanitize_gpu_combined.cfg"
    sanitize.write_text(SANITIZE.read_text() + "\n" + SANITIZE_GPU.read_text())

    def solved(part):
        # tests.nbval_models: each solved notebook runs on the model it was built with
        return py + ["-p", "tests.nbval_tolerance", "-p", "tests.nbval_models",
                     "solutions/notebooks", "--nbval",
                     "--nbval-sanitize-with", str(sanitize),
                     "--nbval-float-tolerance", FLOAT_TOLERANCE[part],
                     f"--junitxml={out / (part + '.xml')}"]
    return {
        "unit": (py + ["tests", "-m", "not notebooks", f"--junitxml={out / 'unit.xml'}"], {}),
        "exercises": (py + ["tests/test_notebooks.py", "-m", "notebooks",
                            f"--junitxml={out / 'exercises.xml'}"], bf16_on_cpu),
        "solved": (solved("solved"), {"XAI_DTYPE": "float32"}),
        "solved-bf16": (solved("solved-bf16"), {"XAI_DTYPE": "bfloat16"}),
        "llama": (py + ["solutions/notebooks", "--nbval-lax", f"--junitxml={out / 'llama.xml'}"],
                  {"XAI_MODEL": str(model_dir), "XAI_DEVICE_MAP": "auto", **bf16_on_cpu}),
    }


# A model with random weights knows no facts: notebook 04 needs samples whose two answers are
# both among its top predictions and stops with its own error where there are none; the cells
# that use those samples then miss their names. Only these failures are expected in `llama`.
EXPECTED_ON_RANDOM_WEIGHTS = {"04_knowledge_conflicts": "No sample has both answers"}


def unexpected_failures(junit: Path) -> tuple[list[str], list[str]]:
    """(unexpected, expected) failing cells of the `llama` part, from its JUnit file.

    Expected: in a notebook of EXPECTED_ON_RANDOM_WEIGHTS, the cell raising the named error,
    and later cells of that notebook failing with a NameError (the names it did not define).
    """
    import xml.etree.ElementTree as ET

    unexpected, expected, stopped = [], [], set()
    for case in ET.parse(junit).iter("testcase"):
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is None:
            continue
        notebook = case.get("classname", "").rsplit(".", 2)[-2] if case.get("classname") else "?"
        text = problem.text or ""
        label = f"{notebook} {case.get('name')}"
        marker = EXPECTED_ON_RANDOM_WEIGHTS.get(notebook)
        if marker and marker in text:
            stopped.add(notebook)
            expected.append(label)
        elif notebook in stopped and "NameError" in text:
            expected.append(label)
        else:
            unexpected.append(label)
    return unexpected, expected


def summary_line(log: str) -> str:
    """pytest's last line ('12 passed, 1 failed in 3.2s'), or the log's last line."""
    lines = [re.sub(r"=+", "", line).strip() for line in log.strip().splitlines()]
    found = [line for line in lines if re.search(r"\d+ (passed|failed|error)", line)]
    return found[-1] if found else (lines[-1] if lines else "(no output)")


def run_parts(parts, out: Path, cpu_dry_run: bool, model_dir: Path, log=print,
              time_limit: float | None = None) -> list[dict]:
    """Start every part at once, wait for all; [{part, rc, seconds, summary, log}].

    A part still running after `time_limit` seconds is stopped (with its pytest children) and
    reported as such, so a run with a hard limit still writes what finished.
    """
    env = base_env(cpu_dry_run)
    running = {}
    for part in parts:
        cmd, extra = commands(out, cpu_dry_run, model_dir)[part]
        log_path = out / f"{part}.log"
        handle = open(log_path, "w")
        handle.write("$ " + " ".join(cmd) + "\n" + "".join(f"  {k}={v}\n" for k, v in extra.items()))
        handle.flush()
        proc = subprocess.Popen(cmd, cwd=ROOT, env={**env, **extra}, stdout=handle,
                                stderr=subprocess.STDOUT, start_new_session=True)
        running[part] = (proc, handle, log_path, time.perf_counter())
        log(f"started {part}: log {log_path}")
    begun = time.perf_counter()
    finished = {}
    while len(finished) < len(running):
        for part, (proc, handle, log_path, started) in running.items():
            if part in finished or proc.poll() is None:
                continue
            finished[part] = (proc.returncode, time.perf_counter() - started, False)
        if time_limit is not None and time.perf_counter() - begun > time_limit:
            for part, (proc, handle, log_path, started) in running.items():
                if part not in finished:
                    os.killpg(proc.pid, signal.SIGTERM)   # its own session: pytest and kernels
                    proc.wait()
                    finished[part] = (None, time.perf_counter() - started, True)
        time.sleep(1)
    results = []
    for part, (proc, handle, log_path, started) in running.items():
        handle.close()
        rc, seconds, stopped = finished[part]
        line = summary_line(log_path.read_text())
        if stopped:
            line = f"stopped at the time limit ({time_limit:.0f} s); last line: {line}"
        info = part in INFORMATIONAL
        result = {"part": part, "rc": rc, "seconds": round(seconds, 1), "summary": line,
                  "log": log_path.name, "informational": info}
        junit = out / f"{part}.xml"
        if part == "llama" and rc == 1 and junit.exists():
            unexpected, expected = unexpected_failures(junit)
            result.update(expected_failures=expected, unexpected_failures=unexpected)
            if not unexpected:
                result["rc"] = rc = 0
                line += (f" (all {len(expected)} failures expected on random weights: "
                         "notebook 04 needs a model that knows the facts)")
                result["summary"] = line
        results.append(result)
        verdict = "ok" if rc == 0 else ("differs (informational)" if info else
                                        "STOPPED" if stopped else f"FAILED (exit {rc})")
        log(f"{part}: {verdict} in {seconds:.0f} s: {line}")
    return results


def cuda_problem() -> str | None:
    """None when torch sees a CUDA GPU, else why not (one phrase)."""
    try:
        import torch
    except ImportError:
        return "torch is not installed: run `make setup`"
    if not torch.cuda.is_available():
        return f"torch {torch.__version__}, torch.cuda.is_available() is False"
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("parts", nargs="*", help=f"some of {', '.join(PARTS)} (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "gpu-check", help="folder for the logs")
    parser.add_argument("--model-dir", type=Path, default=None,
                        help="the random Llama folder (built there if missing; default: in --out)")
    parser.add_argument("--time-limit", type=float, default=None,
                        help="stop parts still running after this many seconds (reported)")
    parser.add_argument("--check-only", action="store_true",
                        help="only check that a CUDA GPU is there (exit 2 with one line if not)")
    parser.add_argument("--cpu-dry-run", action="store_true",
                        help="the same parts on the CPU (bf16 course model, tiny random Llama)")
    args = parser.parse_args(argv)
    unknown = [p for p in args.parts if p not in PARTS + INFORMATIONAL]
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}: choose from "
                     f"{', '.join(PARTS + INFORMATIONAL)}")
    args.parts = args.parts or list(PARTS)
    if not args.cpu_dry_run:
        problem = cuda_problem()
        if problem:
            print(NEEDS_GPU.format(problem))
            return 2
        if args.check_only:
            return 0
    args.out.mkdir(parents=True, exist_ok=True)
    model_dir = args.model_dir or args.out / ("tiny-random-llama" if args.cpu_dry_run
                                              else "llama-3.2-1b-shape-random")
    started = time.perf_counter()
    if "llama" in args.parts and not (model_dir / "config.json").exists():
        sys.path.insert(0, str(ROOT))
        from tools.random_llama import build

        build(model_dir, tiny=args.cpu_dry_run, device="cpu" if args.cpu_dry_run else "cuda")
        print(f"built {model_dir} in {time.perf_counter() - started:.0f} s")
    limit = None if args.time_limit is None else args.time_limit - (time.perf_counter() - started)
    results = run_parts(args.parts, args.out, args.cpu_dry_run, model_dir, time_limit=limit)
    summary = {"device": "cpu (dry run)" if args.cpu_dry_run else _gpu_name(),
               "seconds": round(time.perf_counter() - started, 1), "parts": results,
               "passed": all(r["rc"] == 0 for r in results if r["part"] not in INFORMATIONAL)}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(f"{'passed' if summary['passed'] else 'FAILED'} in {summary['seconds']:.0f} s; "
          f"summary in {args.out / 'summary.json'}")
    return 0 if summary["passed"] else 1


def _gpu_name() -> str:
    import torch

    return torch.cuda.get_device_name(0)


if __name__ == "__main__":
    sys.exit(main())
