"""Your own copies of the exercise notebooks, which no course command ever overwrites.

    python tools/workspace.py              # make missing copies in workspace/ (make lab does this)
    python tools/workspace.py --fresh 01   # a fresh copy of notebook 01; the old one is kept beside
    python tools/workspace.py --strip      # clear outputs of the masters in notebooks/ (make strip)

`notebooks/` holds the masters the course is built and tested from; `workspace/` (ignored by
git) holds the learner's copies. A copy is made once, on first use, and then only ever renamed
aside, never written over. `--strip` touches the masters only, and keeps a copy of any master
that has outputs (somebody worked in it) in workspace/ before clearing it.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
MASTERS = ROOT / "notebooks"
WORKSPACE = ROOT / "workspace"


def masters(selection: list[str] | None = None) -> list[Path]:
    """The exercise notebooks NN_name.ipynb, optionally only those whose name starts with one
    of `selection` (e.g. ["01"])."""
    paths = sorted(MASTERS.glob("[0-9][0-9]_*.ipynb"))
    if selection:
        paths = [p for p in paths if any(p.name.startswith(s) for s in selection)]
        if not paths:
            raise SystemExit(f"No notebook starts with {', '.join(selection)}: choose from "
                             + ", ".join(p.name[:2] for p in sorted(MASTERS.glob('[0-9][0-9]_*.ipynb'))))
    return paths


def _stamp() -> str:
    return time.strftime("%Y%m%d-%H%M%S")


def _aside(path: Path, label: str) -> Path:
    """A free name next to `path`: NN_name.<label>-<time>.ipynb (never an existing file)."""
    stem, n = f"{path.stem}.{label}-{_stamp()}", 0
    target = path.with_name(f"{stem}.ipynb")
    while target.exists():
        n += 1
        target = path.with_name(f"{stem}-{n}.ipynb")
    return target


def ensure_copies(workspace: Path = WORKSPACE, selection: list[str] | None = None) -> list[Path]:
    """Copy each master into `workspace` where no copy exists yet; return the copies made."""
    workspace.mkdir(parents=True, exist_ok=True)
    made = []
    for master in masters(selection):
        copy = workspace / master.name
        if not copy.exists():
            shutil.copy2(master, copy)
            made.append(copy)
    return made


def fresh_copy(number: str, workspace: Path = WORKSPACE) -> tuple[Path, Path | None]:
    """A fresh copy of one master; an existing copy is renamed aside, not deleted.

    Returns (the fresh copy, where the old one went or None)."""
    available = ", ".join(p.name[:2] for p in masters())
    # one notebook's two digits: "0" or "1" would match several masters
    if not (isinstance(number, str) and len(number) == 2 and number.isdigit()):
        raise SystemExit(f"Say which notebook by its two digits, e.g. make fresh NB=01 "
                         f"(got {number!r}); the notebooks are {available}.")
    (master,) = masters([number])
    workspace.mkdir(parents=True, exist_ok=True)
    copy = workspace / master.name
    old = None
    if copy.exists():
        old = _aside(copy, "old")
        copy.rename(old)
    shutil.copy2(master, copy)
    return copy, old


def has_outputs(path: Path) -> bool:
    nb = nbformat.read(path, as_version=4)
    return any(c.get("outputs") or c.get("execution_count") for c in nb.cells if c.cell_type == "code")


def strip_masters(workspace: Path = WORKSPACE) -> list[tuple[Path, Path]]:
    """Clear the outputs of every master in notebooks/; returns (master, kept copy) pairs for the
    masters that had outputs. Nothing outside notebooks/ is written, except those kept copies."""
    kept = []
    for master in masters():
        if not has_outputs(master):
            continue
        workspace.mkdir(parents=True, exist_ok=True)
        keep = _aside(workspace / master.name, "from-notebooks")
        shutil.copy2(master, keep)
        nb = nbformat.read(master, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nb.metadata.pop("widgets", None)
        nbformat.write(nb, master)
        kept.append((master, keep))
    return kept


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fresh", metavar="NN", help="a fresh copy of notebook NN (e.g. 01)")
    parser.add_argument("--strip", action="store_true", help="clear the masters' outputs")
    args = parser.parse_args()
    rel = lambda p: p.relative_to(ROOT)  # noqa: E731
    if args.strip:
        kept = strip_masters()
        for master, keep in kept:
            print(f"{rel(master)} had outputs: cleared them, a copy with the outputs is {rel(keep)}")
        if kept:
            print("Your own notebooks live in workspace/ (make lab opens them). If you also "
                  "edited a master as a learner, your edits are in that copy, and `git checkout "
                  "notebooks/` puts the masters back as the course ships them.")
        else:
            print("The masters in notebooks/ have no outputs.")
        return 0
    if args.fresh:
        copy, old = fresh_copy(args.fresh)
        print(f"Fresh copy: {rel(copy)}" + (f"; your previous one is now {rel(old)}" if old else ""))
        return 0
    for copy in ensure_copies():
        print(f"made your copy {rel(copy)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
