"""Build the solved notebooks from the exercise notebooks plus the solution modules.

    python tools/solved_notebooks.py               # build and execute every solved notebook
    python tools/solved_notebooks.py 01 03         # only these
    python tools/solved_notebooks.py --check       # fail if a committed solved notebook is stale

One source of truth: an exercise cell in `notebooks/NN_name.ipynb` carries the tag `exercise` and
the metadata `"solution": "module.function"` (several separated by commas). The solved notebook
`solutions/notebooks/NN_name.ipynb` is the same notebook with each such cell replaced by the
source of `solutions/module.py`'s functions, executed top to bottom on the CPU with the model its
metadata names (`course.solved_with`: "smollm2", or the course model when absent).
"""
from __future__ import annotations

import argparse
import copy
import importlib
import inspect
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = ROOT / "notebooks"
sys.path.insert(0, str(ROOT))

from utils.notebook_execution import SOLVED, execute, numbered_notebooks  # noqa: E402


def exercise_notebooks(selection: list[str] | None = None) -> list[Path]:
    return numbered_notebooks(EXERCISES, selection)


def solution_source(spec: str) -> str:
    """Source code of 'module.function[, module.function]' from the `solutions` package."""
    parts = []
    for item in (s.strip() for s in spec.split(",")):
        module_name, _, attr = item.rpartition(".")
        module = importlib.import_module(f"solutions.{module_name}")
        parts.append(inspect.getsource(getattr(module, attr)).rstrip())
    return "\n\n\n".join(parts)


class MasterInUse(ValueError):
    """A master notebook has outputs: someone worked in it, and its cells may be theirs."""


def build_solved(exercise_path: Path) -> nbformat.NotebookNode:
    """The solved notebook's cells (not executed): exercise cells swapped for their solutions."""
    nb = nbformat.read(exercise_path, as_version=4)
    if any(c.get("outputs") for c in nb.cells if c.cell_type == "code"):
        # Never copy a learner's cells into the reference: refuse rather than guess.
        raise MasterInUse(
            f"{exercise_path.name} in notebooks/ has outputs, so someone has worked in this master "
            "and its cells may be their own. Learners work in workspace/ (make lab). `make strip` "
            "keeps a copy of it in workspace/ and clears its outputs; check its cells before "
            "building the solved notebooks.")
    solved = copy.deepcopy(nb)
    solved.cells = []
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        cell = copy.deepcopy(cell)
        if "exercise" in tags:
            spec = cell.metadata.get("solution")
            if not spec:
                raise ValueError(f"{exercise_path.name}: an `exercise` cell names no `solution`:\n"
                                 f"{cell.source[:200]}")
            cell.source = solution_source(spec)
            cell.metadata["tags"] = [t for t in tags if t != "exercise"]
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        solved.cells.append(cell)
    solved.metadata.pop("widgets", None)
    return solved


def sources(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source) for c in nb.cells]


def stale_notebooks(selection: list[str] | None = None) -> list[str]:
    """Names of solved notebooks that are missing, unexecuted or out of date with their sources."""
    problems = []
    for path in exercise_notebooks(selection):
        target = SOLVED / path.name
        if not target.exists():
            problems.append(f"{target.relative_to(ROOT)} is missing")
            continue
        committed = nbformat.read(target, as_version=4)
        try:
            expected = build_solved(path)
        except MasterInUse as err:
            problems.append(str(err))
            continue
        if sources(committed) != sources(expected):
            problems.append(f"{target.relative_to(ROOT)} differs from {path.relative_to(ROOT)} + solutions/")
        elif not any(c.get("outputs") for c in committed.cells if c.cell_type == "code"):
            problems.append(f"{target.relative_to(ROOT)} has no outputs (not executed)")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", help="number prefixes, e.g. 01 02 (default: all)")
    parser.add_argument("--check", action="store_true", help="only check that they are up to date")
    args = parser.parse_args()
    if args.check:
        problems = stale_notebooks(args.notebooks)
        for p in problems:
            print(f"stale: {p}")
        if problems and not any("has outputs" in p for p in problems):
            print("Rebuild with `make solved`.")
        return 1 if problems else 0
    SOLVED.mkdir(parents=True, exist_ok=True)
    for path in exercise_notebooks(args.notebooks):
        start = time.time()
        solved = execute(build_solved(path), cwd=SOLVED)
        nbformat.write(solved, SOLVED / path.name)
        print(f"built {SOLVED.relative_to(ROOT) / path.name} in {time.time() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
