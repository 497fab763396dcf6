#!/usr/bin/env bash
# The whole GPU check in one run (under 10 minutes: the benchmark at most 230 s, the tests 330 s): `make test-gpu`'s parts
# and the GPU benchmark, logs and results in one folder.
#
#   bash tools/gpu_run.sh                    # results in $OUT, else gpu-run/
#   DRY_RUN=cpu bash tools/gpu_run.sh        # the same steps on the CPU with tiny sizes (no GPU
#                                            # figures; checks the script and the code paths)
# A machine without a package index (torch with CUDA installed, nothing else of the course):
# run `bash tools/gpu_wheels.sh` where pip works, carry .whl/ with the tree; installed here.
#
# Steps: (1) the benchmark alone on the GPU (its timings must not share the GPU): LRP and LRP
# with head relevance at 512, 2048 and 4096 tokens on the Llama-3.2-1B shape in bf16, plain and
# with checkpointed layers, the saved-tensor count, and the course on CUDA; (2) tools/test_gpu.py
# with every part side by side (unit tests also on CUDA, exercise notebooks, solved notebooks
# against the stored outputs, the random 1B shape lax, and the informational bf16 comparison).
# Afterwards: `python -m benchmarks.report --add <folder>/bench/results.json` (bench_results.json
# where packed) puts the figures into benchmarks/results.md; test/summary.json (test_summary.json)
# has make test-gpu's summary; all.tgz holds every log and JUnit file.
set -uo pipefail
cd "$(dirname "$0")/.."
RESULTS="${OUT:-gpu-run}"
mkdir -p "$RESULTS"
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
# A machine without a package index gets the course's Python packages as carried wheels
# (tools/gpu_wheels.sh); they go first on the path, before the machine's own versions.
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 3
  export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false MPLBACKEND=Agg XAI_PROGRESS=static
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
LOG="$RESULTS/gpu_run.log"
say() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$LOG"; }

# fail fast, with the reason, where a package the course needs does not import
"$PY" -c "import transformers, nbval, nbclient, ipykernel, ipywidgets, jscatter, umap, torch
from utils.lrp import import_lxt_efficient; import_lxt_efficient()
print('python', __import__('sys').version.split()[0], 'torch', torch.__version__, 'transformers', transformers.__version__)" \
  2>&1 | tee -a "$LOG"
[ "${PIPESTATUS[0]}" = 0 ] || { say "a package the course needs is missing: see above"; exit 3; }

if [ "${DRY_RUN:-}" = cpu ]; then
  BENCH=(--device cpu --tiny --lengths 16 32 64 --saved-lengths 64 128 --no-course)
  TEST=(--cpu-dry-run)
  PARTS=(${PARTS:-llama})             # a dry run picks parts: the others are `make test`'s own
else
  "$PY" tools/test_gpu.py --check-only | tee -a "$LOG" || exit 2
  "$PY" -c "import torch; print(torch.__version__, torch.cuda.get_device_name(0))" | tee -a "$LOG"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >>"$LOG" 2>&1 || true
  BENCH=(--device cuda)
  TEST=(--model-dir /tmp/llama-3.2-1b-shape-random)   # 2.5 GB: kept out of the results
  PARTS=(${PARTS:-unit exercises solved llama solved-bf16})
fi

started=$(date +%s)
say "benchmark: $PY -m benchmarks.gpu --out $RESULTS/bench ${BENCH[*]}"
timeout "${BENCH_TIMEOUT:-230}" "$PY" -m benchmarks.gpu --out "$RESULTS/bench" "${BENCH[@]}" \
  >"$RESULTS/bench.log" 2>&1
bench_rc=$?
say "benchmark: exit $bench_rc after $(( $(date +%s) - started )) s (log $RESULTS/bench.log)"

say "tests: $PY tools/test_gpu.py --out $RESULTS/test ${TEST[*]} ${PARTS[*]}"
"$PY" tools/test_gpu.py --out "$RESULTS/test" --time-limit "${TEST_TIMEOUT:-330}" "${TEST[@]}" \
  "${PARTS[@]}" 2>&1 | tee -a "$LOG"
test_rc=${PIPESTATUS[0]}
say "tests: exit $test_rc; whole run $(( $(date +%s) - started )) s"
rm -rf "$RESULTS/test/tiny-random-llama"
# Everything in one archive; where few files may come back ($OUT on a lent machine: PACK=1),
# only the archive, this log, the benchmark's results and the tests' summary stay beside it.
tar czf /tmp/gpu-run-all.tgz -C "$RESULTS" . && mv /tmp/gpu-run-all.tgz "$RESULTS/all.tgz"
if [ "${PACK:-$([ -n "${OUT:-}" ] && echo 1)}" = 1 ]; then
  cp "$RESULTS/bench/results.json" "$RESULTS/bench_results.json" 2>/dev/null
  cp "$RESULTS/test/summary.json" "$RESULTS/test_summary.json" 2>/dev/null
  rm -rf "$RESULTS/bench" "$RESULTS/test" "$RESULTS/bench.log"
fi
say "results in $RESULTS: $(ls "$RESULTS" | tr '\n' ' ')"
[ "$bench_rc" = 0 ] && [ "$test_rc" = 0 ]
