"""nbval plugin: each solved notebook re-runs on the model it was built with.

A master notebook names that model in its metadata (`"course": {"solved_with": "smollm2"}`;
no entry means the course model); `tools/solved_notebooks.py` builds the solved notebook with
it, and this plugin sets XAI_MODEL to it before the notebook's kernel starts, so nbval compares
like with like. Loaded by `make test` (`-p tests.nbval_models`), which also starts the longest
files first (`pytest_collection_modifyitems`).
"""
from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from utils.notebook_execution import solved_with


def _rank(path: Path, models: dict, slow: set) -> int:
    """0: a solved notebook on SmolLM2 (the longest files), 1: another notebook, 2: a test file
    that executes notebooks (marked `notebooks`: minutes), 3: the rest (seconds each)."""
    if path.suffix != ".ipynb":
        return 2 if path in slow else 3
    if path not in models:
        models[path] = solved_with(nbformat.read(path, as_version=4))
    return 0 if models[path] == "smollm2" else 1


def _measured_seconds() -> dict[str, float]:
    """Each solved notebook's last measured wall time (benchmarks/results.json, `make bench`),
    by file name; empty when there is none."""
    import json

    results = Path(__file__).resolve().parent.parent / "benchmarks" / "results.json"
    try:
        rows = json.loads(results.read_text())["notebooks"]["rows"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {row["notebook"]: float(row["seconds"]) for row in rows if "seconds" in row}


def pytest_collection_modifyitems(config, items):
    """The longest files first: with two workers (`make test`: -n 2 --dist loadfile
    --no-loadscope-reorder) the notebooks on SmolLM2 start at once, the longest of them (by
    their last `make bench` time) first, then the test files that execute notebooks, and the
    short test files fill in last, so both workers end together. (A file runs on one worker:
    the exercise-notebook runs, about four minutes, once came last and left the other worker
    idle for that long.) A stable sort: each file keeps its order."""
    models: dict = {}
    seconds = _measured_seconds()
    slow = {Path(str(item.fspath)) for item in items if item.get_closest_marker("notebooks")}
    items.sort(key=lambda item: (_rank(Path(str(item.fspath)), models, slow),
                                 -seconds.get(Path(str(item.fspath)).name, 0.0)))


# The model the run was started with (`make test`: the course model), for every other test.
_DEFAULT_MODEL = os.environ.get("XAI_MODEL")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    # nbval starts a notebook's kernel when its first cell is set up, with this environment
    path = Path(str(item.fspath))
    if path.suffix == ".ipynb":
        if item.parent is not None and getattr(item.parent, "kernel", None) is None:
            os.environ["XAI_MODEL"] = solved_with(nbformat.read(path, as_version=4))
    elif os.environ.get("XAI_MODEL") != _DEFAULT_MODEL:
        # a solved notebook's model must not leak into the tests a worker runs after it (the
        # exercise notebooks run on the course model; on SmolLM2 one takes 20 minutes)
        if _DEFAULT_MODEL is None:
            os.environ.pop("XAI_MODEL", None)
        else:
            os.environ["XAI_MODEL"] = _DEFAULT_MODEL
