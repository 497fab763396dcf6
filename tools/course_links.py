"""Write the course's repository address into every place a reader meets it.

    python tools/course_links.py           # rewrite set-up cells and README badges
    python tools/course_links.py --check   # fail if any of them differs from utils.COURSE_REPOSITORY

The address is kept once, in `utils.COURSE_REPOSITORY`. The set-up cell of each notebook in
notebooks/ (its first code cell: on Colab it clones that repository) and the "Open In Colab"
badges of README.md are generated from it. The set-up cell's health check names the model the
notebook loads on a CPU: the one its solved version shows (`course.solved_with`). Solved
notebooks follow their notebooks (tools/solved_notebooks.py).
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from utils import COURSE_REPOSITORY  # noqa: E402
from utils.notebook_execution import solved_with  # noqa: E402

NOTEBOOKS = ROOT / "notebooks"
README = ROOT / "README.md"
BADGE = re.compile(r"\(https://colab\.research\.google\.com/github/[^)]*/blob/main/notebooks/"
                   r"(\d\d_\w+\.ipynb)\)")


def setup_cell(repository: str = COURSE_REPOSITORY, offline_default: str = "smollm2") -> str:
    """The first code cell of every notebook: clone on Colab, find the course elsewhere, set up.
    offline_default: the model the notebook's `load_model` call takes on a CPU ("smollm2", or
    "course" where the notebook says why), so that the health check names the same one."""
    folder = f"/content/{repository.rstrip('/').rsplit('/', 1)[1]}"
    return (
        "# Set-up: on Colab this clones the course and installs it; elsewhere it only finds the course\n"
        "# folder. It ends with a health check (versions, device, memory, model, AttnLRP).\n"
        "import sys\n"
        "from pathlib import Path\n"
        "\n"
        f'if "google.colab" in sys.modules and not Path("{folder}").exists():\n'
        f"    !git clone --depth 1 {repository} {folder}\n"
        f'COURSE = Path("{folder}") if "google.colab" in sys.modules else next(\n'
        '    p for p in [Path.cwd(), *Path.cwd().parents] if (p / "utils" / "setup.py").exists())\n'
        "sys.path.insert(0, str(COURSE))\n"
        "\n"
        "from utils.setup import setup\n"
        + ("setup()" if offline_default == "smollm2" else
           f'setup(offline_default="{offline_default}")   # as this notebook\'s model cell'))


def notebook_setup_cell(nb) -> str:
    """`setup_cell` for notebook `nb`: the course model's default where its solved version
    shows the course model, SmolLM2's elsewhere."""
    return setup_cell(offline_default="course" if solved_with(nb) == "course" else "smollm2")


def colab_link(notebook: str, repository: str = COURSE_REPOSITORY) -> str:
    """The "Open In Colab" address of notebooks/<notebook> on the main branch."""
    path = repository.split("github.com/", 1)[1].rstrip("/")
    return f"https://colab.research.google.com/github/{path}/blob/main/notebooks/{notebook}"


def readme_with_badges(text: str) -> str:
    return BADGE.sub(lambda m: f"({colab_link(m.group(1))})", text)


def differences() -> list[str]:
    """Places that do not show COURSE_REPOSITORY as generated (empty when all agree)."""
    problems = []
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        first = next(c for c in nb.cells if c.cell_type == "code")
        if first.source != notebook_setup_cell(nb):
            problems.append(f"{path.relative_to(ROOT)}: the set-up cell")
    text = README.read_text(encoding="utf-8")
    if text != readme_with_badges(text):
        problems.append("README.md: the Colab badges")
    if len(BADGE.findall(text)) != len(list(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))):
        problems.append("README.md: one Colab badge per notebook")
    return problems


def write() -> None:
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        first = next(c for c in nb.cells if c.cell_type == "code")
        if first.source != notebook_setup_cell(nb):
            first.source = notebook_setup_cell(nb)
            nbformat.write(nb, path)
    text = README.read_text(encoding="utf-8")
    README.write_text(readme_with_badges(text), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report what differs")
    if parser.parse_args().check:
        problems = differences()
        for problem in problems:
            print(f"differs from utils.COURSE_REPOSITORY: {problem}")
        return 1 if problems else 0
    write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
