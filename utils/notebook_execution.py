"""Run a notebook of the course top to bottom, offline, on the model its metadata names, as the
solved notebooks are built (tools/solved_notebooks.py) and timed (benchmarks/notebooks.py).

    execute(nbformat.read(SOLVED / "01_input_attribution.ipynb", as_version=4), cwd=SOLVED)
"""
from __future__ import annotations

import os
from pathlib import Path

from utils import COURSE_ROOT

SOLVED = COURSE_ROOT / "solutions" / "notebooks"   # the generated solved notebooks


def numbered_notebooks(folder: Path, selection: list[str] | None = None) -> list[Path]:
    """The notebooks NN_*.ipynb of `folder` in order; with `selection` (e.g. ["01", "03"]) only
    those whose names start with one of its entries."""
    paths = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if selection:
        paths = [p for p in paths if any(p.name.startswith(s) for s in selection)]
    return paths


def solved_with(nb) -> str:
    """The model a notebook is built and checked with: its metadata's `course.solved_with`
    ("smollm2"), else the course model (tests/nbval_models.py re-runs it on the same one)."""
    return nb.metadata.get("course", {}).get("solved_with", "course")


def execute(nb, cwd: Path, timeout: int = 1800, model: str | None = None):
    """Run `nb` (an nbformat notebook, filled in place and returned) top to bottom in `cwd` on
    `model`, by default its own (`solved_with`), offline; widget state is not stored.

    Each cell keeps the outputs it printed itself: a later cell's update of an earlier display
    (the explorer's snapshot follows its widget) is not written back, because nbval compares
    every cell with what that cell alone displays when it runs.
    """
    from nbclient import NotebookClient

    class AsRun(NotebookClient):
        def _update_display_id(self, display_id, msg):
            if msg["header"]["msg_type"] != "update_display_data":
                super()._update_display_id(display_id, msg)

    env_before = dict(os.environ)
    os.environ.update({"HF_HUB_OFFLINE": "1", "XAI_MODEL": model or solved_with(nb),
                       "TOKENIZERS_PARALLELISM": "false", "PYTHONHASHSEED": "0",
                       "XAI_PROGRESS": "static"})
    try:
        client = AsRun(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(cwd)}}, store_widget_state=False)
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    nb.metadata.pop("widgets", None)
    return nb
