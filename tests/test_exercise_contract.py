"""The exercise contract, read from the notebooks' JSON and the solution modules.

- An exercise cell holds only the function definitions its `solution` metadata names.
- Each stub keeps the solution's signature, decorators and docstring.
- The next code cell checks every function of the exercise (`f = check_f(f)`).
- Every name a solution uses is defined in a cell above it or imported there, so the solved
  notebook runs (a solution may use helpers of `utils` and earlier answers).
- The markdown right above states difficulty, importance and time.
"""
import ast
import builtins
import importlib
import inspect
import json
import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
HEADER = re.compile(r"\*\*Difficulty:\*\* [1-5]/5 · \*\*Importance:\*\* [1-5]/5 · \*\*Time:\*\* \S")


def _source(cell) -> str:
    text = "".join(cell["source"])
    # IPython's `!command` and `%magic` lines are not Python
    return "\n".join(line[:len(line) - len(line.lstrip())] + "pass"
                     if line.lstrip().startswith(("!", "%")) else line for line in text.splitlines())


def _exercises():
    """(notebook name, cell index, cells, [(function name, "module.function")]) per exercise."""
    found = []
    for path in NOTEBOOKS:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for i, cell in enumerate(cells):
            if "exercise" in cell.get("metadata", {}).get("tags", []):
                specs = [s.strip() for s in cell["metadata"]["solution"].split(",")]
                found.append((path.name, i, cells, [(s.rsplit(".", 1)[1], s) for s in specs]))
    return found


EXERCISES = _exercises()
IDS = [f"{name}:{'+'.join(f for f, _ in fns)}" for name, _, _, fns in EXERCISES]


def _solution(spec: str):
    module, attr = spec.rsplit(".", 1)
    return getattr(importlib.import_module(f"solutions.{module}"), attr)


def _definition(source: str) -> ast.FunctionDef:
    return ast.parse(textwrap.dedent(source)).body[0]


def _signature(fn: ast.FunctionDef) -> tuple:
    return (ast.dump(fn.args), [ast.dump(d) for d in fn.decorator_list], ast.get_docstring(fn))


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_exercise_cell_holds_only_its_functions(exercise):
    name, i, cells, fns = exercise
    body = ast.parse(_source(cells[i])).body
    assert all(isinstance(node, ast.FunctionDef) for node in body), \
        f"{name} cell {i}: an exercise cell holds only function definitions"
    assert [node.name for node in body] == [f for f, _ in fns]


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_stub_keeps_the_solutions_signature_and_docstring(exercise):
    name, i, cells, fns = exercise
    stubs = {node.name: node for node in ast.parse(_source(cells[i])).body}
    for fn, spec in fns:
        solution = _definition(inspect.getsource(_solution(spec)))
        assert _signature(stubs[fn]) == _signature(solution), \
            f"{name}: the stub of {fn} differs from solutions/{spec} in signature or docstring"


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_every_exercise_is_followed_by_its_check(exercise):
    name, i, cells, fns = exercise
    following = next(c for c in cells[i + 1:] if c["cell_type"] == "code")
    for fn, _ in fns:
        assert re.search(rf"^{fn} = check_{fn}\({fn}\)", _source(following), re.M), \
            f"{name}: the code cell after the exercise must run `{fn} = check_{fn}({fn})`"


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_exercise_has_a_difficulty_importance_time_header(exercise):
    name, i, cells, _ = exercise
    text = []
    for cell in reversed(cells[:i]):
        if cell["cell_type"] == "code":
            break
        text.append("".join(cell["source"]))
    assert HEADER.search("\n".join(text)), \
        f"{name} cell {i}: the markdown above needs '> **Difficulty:** n/5 · **Importance:** n/5 · **Time:** ...'"


def _bound_at_top(source: str) -> set[str]:
    """Names a cell binds in the notebook's namespace."""
    names = set()
    for node in ast.parse(source).body:
        for sub in ast.walk(node) if not isinstance(node, (ast.FunctionDef, ast.ClassDef)) else [node]:
            if isinstance(sub, (ast.Import, ast.ImportFrom)):
                names |= {(a.asname or a.name).split(".")[0] for a in sub.names}
            elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(sub.name)
            elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                names.add(sub.id)
    return names


def _free_names(fn: ast.FunctionDef) -> set[str]:
    """Names the function reads that none of its own (nested) scopes binds."""
    bound, loaded = set(), set()
    for node in ast.walk(fn):
        if isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node is not fn:
            bound.add(node.name)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return loaded - bound - set(dir(builtins))


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_every_name_a_solution_uses_is_defined_above_it(exercise):
    name, i, cells, fns = exercise
    available = set()
    for cell in cells[:i]:
        if cell["cell_type"] == "code":
            available |= _bound_at_top(_source(cell))
    for fn, spec in fns:
        missing = _free_names(_definition(inspect.getsource(_solution(spec)))) - available
        assert not missing, (f"{name}: solutions/{spec} uses {sorted(missing)}, which no cell "
                             "above it defines or imports")
        available.add(fn)
