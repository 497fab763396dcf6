"""nbval plugin: each solved notebook re-runs on the model it was built with.

A master notebook names that model in its metadata (`"course": {"solved_with": "smollm2"}`;
no entry means the course model); `tools/solved_notebooks.py` builds the solved notebook with
it, and this plugin sets XAI_MODEL to it before the notebook's kernel starts, so nbval compares
like with like. Loaded by `make test` (`-p tests.nbval_models`).
"""
from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from utils.notebook_execution import solved_with


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    # nbval starts a notebook's kernel when its first cell is set up, with this environment
    path = Path(str(item.fspath))
    if path.suffix == ".ipynb" and item.parent is not None and getattr(item.parent, "kernel", None) is None:
        os.environ["XAI_MODEL"] = solved_with(nbformat.read(path, as_version=4))
