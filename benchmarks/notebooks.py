"""Wall time of each solved notebook, executed top to bottom on CPU.

Each notebook runs on the model it is built and tested with (its metadata's
`course.solved_with`: SmolLM2-135M-Instruct for 01-03 and 06, the course model for 04-05), or on one
model for all (`model="smollm2"`). It is executed from a copy in memory (outputs cleared) with
the same harness that builds the solved notebooks; the committed files are never written.
"""
from __future__ import annotations

import copy
import os
import time

import nbformat

from utils.notebook_execution import SOLVED, execute, numbered_notebooks, solved_with


def solved_paths(selection: list[str] | None = None):
    return numbered_notebooks(SOLVED, selection)


def notebook_times(selection: list[str] | None = None, log=print, model: str | None = None) -> list[dict]:
    """[{notebook, model, seconds, status}] for every solved notebook (status 'ok' or the
    error). model: None = each notebook's own (`solved_with`), else this model for all."""
    rows = []
    env_before = os.environ.get("XAI_MODEL")
    try:
        for path in solved_paths(selection):
            nb = copy.deepcopy(nbformat.read(path, as_version=4))
            runs_on = model or solved_with(nb)
            if model:
                nb.metadata.setdefault("course", {})["solved_with"] = model
            os.environ["XAI_MODEL"] = runs_on
            for cell in nb.cells:
                if cell.cell_type == "code":
                    cell.outputs, cell.execution_count = [], None
            start = time.perf_counter()
            try:
                execute(nb, cwd=SOLVED)
                status = "ok"
            except Exception as err:   # report and go on: one broken notebook is a result too
                status = f"failed: {type(err).__name__}: {str(err).splitlines()[0][:120] if str(err) else ''}"
            seconds = time.perf_counter() - start
            log(f"  {path.name} on {runs_on}: {seconds:.0f} s ({status})")
            rows.append({"notebook": path.name, "model": runs_on, "seconds": seconds,
                         "status": status})
    finally:
        if env_before is None:
            os.environ.pop("XAI_MODEL", None)
        else:
            os.environ["XAI_MODEL"] = env_before
    return rows
