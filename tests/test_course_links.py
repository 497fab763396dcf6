"""One place for the course's address: utils.COURSE_REPOSITORY, and everything generated from it."""
import subprocess
from pathlib import Path

import tools.course_links as links
from utils import COURSE_REPOSITORY

ROOT = Path(__file__).resolve().parent.parent
# Where the address may be written: its one source and the files generated from it.
GENERATED_FROM_IT = ("utils/__init__.py", "README.md", "notebooks/", "solutions/notebooks/")


def test_set_up_cells_and_badges_agree_with_the_one_address():
    assert links.differences() == [], "run `python tools/course_links.py`"


def test_the_address_is_written_nowhere_else():
    repo_path = COURSE_REPOSITORY.split("github.com/", 1)[1]
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    elsewhere = []
    for name in tracked:
        path = ROOT / name
        if name.startswith(GENERATED_FROM_IT) or not path.is_file() or path.stat().st_size > 5_000_000:
            continue
        try:
            if repo_path in path.read_text(encoding="utf-8"):
                elsewhere.append(name)
        except UnicodeDecodeError:
            continue
    assert elsewhere == [], f"{elsewhere} write the course's address: read utils.COURSE_REPOSITORY"


def test_another_address_changes_every_generated_place():
    cell = links.setup_cell("https://github.com/someone/their-course")
    assert "!git clone --depth 1 https://github.com/someone/their-course /content/their-course" in cell
    assert links.colab_link("01_x.ipynb", "https://github.com/someone/their-course") == \
        "https://colab.research.google.com/github/someone/their-course/blob/main/notebooks/01_x.ipynb"


def test_the_set_up_cell_names_the_model_its_notebook_loads():
    """A notebook whose solved version shows the course model (04, 05) loads it on a CPU, and its
    health check must say so: its set-up cell passes offline_default="course"."""
    import nbformat

    from utils.notebook_execution import solved_with
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        first = next(c for c in nb.cells if c.cell_type == "code").source
        course = solved_with(nb) == "course"
        assert ('setup(offline_default="course")' in first) == course, path.name
        model_cell = next(c.source for c in nb.cells if c.cell_type == "code" and "load_model(" in c.source)
        assert ('offline_default="course"' in model_cell) == course, path.name
