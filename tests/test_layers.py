"""The layers of the course (the picture is in CONTRIBUTING.md, "The layers").

Dependencies point one way: no module of `utils` (the library) imports `course_model`,
`solutions`, `checks` or `claims`, at any depth; `solutions` never imports `checks`;
`course_model` never imports `solutions`; `tools` and `benchmarks` do not import each other.
`solutions/` holds only the reference answers of exercises, and the checks reach each of them
through `checks.references`.
"""
import ast
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UTILS = sorted(p for p in (ROOT / "utils").rglob("*.py"))
SOLUTIONS = sorted((ROOT / "solutions").glob("*.py"))
COURSE_MODEL = sorted((ROOT / "course_model").rglob("*.py"))
TOOLS = sorted((ROOT / "tools").rglob("*.py"))
BENCHMARKS = sorted((ROOT / "benchmarks").rglob("*.py"))
ABOVE_UTILS = {"course_model", "solutions", "checks", "claims"}
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(path: Path) -> set[str]:
    """Top-level package of every import in the file, and of import_module("...") strings."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", ""))
              in ("import_module", "__import__") and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.add(node.args[0].value.split(".")[0])
    return found


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("path", UTILS, ids=lambda p: p.name)
def test_no_utils_file_imports_a_layer_above(path):
    wrong = _imported(path) & ABOVE_UTILS
    assert not wrong, (f"{_rel(path)} imports {sorted(wrong)}: utils is the library below them "
                       "all. Pass what it needs in as a parameter, or move it into utils.")


@pytest.mark.parametrize("path", COURSE_MODEL, ids=lambda p: _rel(p))
def test_the_course_model_does_not_import_the_answer_key(path):
    assert "solutions" not in _imported(path), (
        f"{_rel(path)} imports solutions: the training package may use utils, never the answers.")


@pytest.mark.parametrize("path", TOOLS + BENCHMARKS, ids=lambda p: _rel(p))
def test_tools_and_benchmarks_do_not_import_each_other(path):
    other = "benchmarks" if _rel(path).startswith("tools/") else "tools"
    assert other not in _imported(path), (
        f"{_rel(path)} imports {other}: tools (builders) and benchmarks (measurements) share "
        "code only through utils.")


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_no_solution_imports_checks(path):
    assert "checks" not in _imported(path), f"{path.relative_to(ROOT)} imports checks"


def test_importing_any_utils_module_loads_no_layer_above():
    """At any depth: import each module of utils in a fresh interpreter and look at sys.modules."""
    names = [_module_name(p) for p in UTILS]
    script = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        f"    bad = sorted(m for m in sys.modules if m.split('.')[0] in {sorted(ABOVE_UTILS)!r})\n"
        "    if bad:\n"
        "        sys.exit(f'importing {name} loaded {bad}')\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]


def _exercise_specs() -> set[str]:
    specs = set()
    for path in NOTEBOOKS:
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if "exercise" in cell.get("metadata", {}).get("tags", []):
                specs |= {s.strip() for s in cell["metadata"]["solution"].split(",")}
    return specs


def test_the_registry_names_every_exercise_and_nothing_else():
    from checks.references import REFERENCES, reference

    assert set(REFERENCES.values()) == _exercise_specs()
    for name, spec in REFERENCES.items():
        assert spec.rsplit(".", 1)[1] == name
        assert callable(reference(name))
    with pytest.raises(KeyError, match="register it"):
        reference("no_such_exercise")


@pytest.mark.parametrize("path", [p for p in SOLUTIONS if p.name != "__init__.py"],
                         ids=lambda p: p.name)
def test_solutions_hold_only_answers_of_exercises(path):
    import importlib

    module = importlib.import_module(_module_name(path))
    defined = {name for name, obj in vars(module).items()
               if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == module.__name__}
    answers = {spec.rsplit(".", 1)[1] for spec in _exercise_specs()
               if spec.startswith(path.stem + ".")}
    extra = defined - answers
    assert not extra, (f"{path.relative_to(ROOT)} defines {sorted(extra)}, which no exercise "
                       "asks for: move helpers to a topic module of utils/.")


def test_the_patching_core_loads_no_widgets():
    """utils.patching is plain PyTorch: importing it loads neither widgets nor the head explorer."""
    script = ("import sys, utils.patching\n"
              "loaded = [m for m in ('ipywidgets', 'utils.head_explorer') if m in sys.modules]\n"
              "sys.exit(f'utils.patching loaded {loaded}' if loaded else 0)\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
