"""The notebooks: exercise notebooks clean and runnable, solved notebooks generated and fresh."""
import json
import os
from pathlib import Path

import nbformat
import pytest

import tools.solved_notebooks as harness

ROOT = Path(__file__).resolve().parent.parent
EXERCISE_NOTEBOOKS = harness.exercise_notebooks()


def test_harness_swaps_exercise_cells_for_solution_source(tmp_path):
    nb = nbformat.v4.new_notebook()
    stub = nbformat.v4.new_code_cell("def occlusion(model, input_ids, target_id, baseline_id):\n"
                                     "    raise NotImplementedError")
    stub.metadata = {"tags": ["exercise"], "solution": "input_attribution.occlusion"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), stub, nbformat.v4.new_code_cell("print(1)")]
    path = tmp_path / "99_demo.ipynb"
    nbformat.write(nb, path)
    solved = harness.build_solved(path)
    assert [c.cell_type for c in solved.cells] == ["markdown", "code", "code"]
    assert "clean_logit - torch.cat(occluded_logits)" in solved.cells[1].source
    assert "exercise" not in solved.cells[1].metadata["tags"]


def test_exercise_cell_without_solution_is_an_error(tmp_path):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("pass")
    cell.metadata = {"tags": ["exercise"]}
    nb.cells = [cell]
    nbformat.write(nb, tmp_path / "98_bad.ipynb")
    with pytest.raises(ValueError, match="names no `solution`"):
        harness.build_solved(tmp_path / "98_bad.ipynb")


@pytest.mark.parametrize("path", EXERCISE_NOTEBOOKS, ids=lambda p: p.name)
def test_exercise_notebook_has_no_outputs_and_names_solutions(path):
    nb = nbformat.read(path, as_version=4)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), \
        (f"{path.name} has stored outputs. notebooks/ holds the course's masters, committed "
         "without outputs; learners work in workspace/ (make lab). `make strip` keeps a copy of "
         "it in workspace/, then clears the master's outputs.")
    exercises = [c for c in nb.cells if "exercise" in c.metadata.get("tags", [])]
    assert exercises, f"{path.name} has no exercise cell"
    for cell in exercises:
        assert "NotImplementedError" in cell.source, "an exercise stub must raise NotImplementedError"
        harness.solution_source(cell.metadata["solution"])  # the named solution exists


def test_solved_notebooks_are_up_to_date():
    assert harness.stale_notebooks() == [], "rebuild with `make solved`"


@pytest.mark.notebooks
@pytest.mark.parametrize("path", EXERCISE_NOTEBOOKS, ids=lambda p: p.name)
def test_exercise_notebook_runs_with_its_stubs(path, tmp_path):
    """Top to bottom with every exercise unfinished: checks fall back to the reference.
    On the course model (XAI_MODEL, `make test`'s default): this tests the stubs and their
    checks, which do not depend on the model; the solved notebooks run on their own model
    under nbval."""
    nb = nbformat.read(path, as_version=4)
    executed = harness.execute(nb, cwd=path.parent, model=os.environ.get("XAI_MODEL", "course"))
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert all(e.ename == "NotImplementedError" for e in errors), \
        [(e.ename, e.evalue) for e in errors]
    text = json.dumps([c.outputs for c in executed.cells if c.cell_type == "code"])
    n_exercises = sum("exercise" in c.metadata.get("tags", []) for c in nb.cells)
    assert text.count("not implemented yet") >= n_exercises, \
        "each unfinished exercise should be reported once by its check"


def test_a_later_display_update_leaves_the_earlier_cell_as_it_ran(tmp_path):
    """nbval compares each cell with what it displayed when it ran; the builder stores the same."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("from IPython.display import display\n"
                                          "handle = display('as it ran', display_id=True)"),
                nbformat.v4.new_code_cell("handle.update('updated later')")]
    executed = harness.execute(nb, cwd=tmp_path, timeout=120)
    assert executed.cells[0].outputs[0]["data"]["text/plain"] == "'as it ran'"


@pytest.mark.notebooks
def test_notebook_04_runs_on_a_tiny_random_qwen2(tmp_path, tiny_model_dir, monkeypatch):
    """A model that ranks the answers low gets a widened top k, not a dead end; a tokenizer
    without a chat template gets the plain prompt; the monitors still train and score."""
    from nbclient import NotebookClient
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    import torch

    folder = tmp_path / "tiny-qwen2"
    tok = AutoTokenizer.from_pretrained(tiny_model_dir, trust_remote_code=False)
    tok.save_pretrained(folder)
    torch.manual_seed(0)   # the same random model every run
    Qwen2ForCausalLM(Qwen2Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                                 num_hidden_layers=2, num_attention_heads=4,
                                 num_key_value_heads=2)).save_pretrained(folder)
    nb = harness.build_solved(ROOT / "notebooks" / "04_knowledge_conflicts.ipynb")
    # the monitor (Part 4) watches the course model unless MONITOR_MODEL names another: this one
    switches = [c for c in nb.cells if c.cell_type == "code" and 'MONITOR_MODEL = "course"' in c.source]
    assert len(switches) == 1
    switches[0].source = switches[0].source.replace('MONITOR_MODEL = "course"',
                                                    f"MONITOR_MODEL = {str(folder)!r}")
    for name, value in {"HF_HUB_OFFLINE": "1", "XAI_MODEL": str(folder), "XAI_PROGRESS": "static",
                        "TOKENIZERS_PARALLELISM": "false"}.items():
        monkeypatch.setenv(name, value)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                      for o in c.outputs)
    assert "samples kept" in printed and "balanced accuracy" in printed


def test_a_solved_notebooks_model_does_not_leak_into_later_tests(monkeypatch):
    """tests/nbval_models.py sets XAI_MODEL for a solved notebook's kernel; a test that a worker
    runs after it (an exercise notebook, on the course model) gets the run's own model back."""
    from types import SimpleNamespace

    import tests.nbval_models as plugin
    monkeypatch.setattr(plugin, "_DEFAULT_MODEL", "course")
    monkeypatch.setenv("XAI_MODEL", "smollm2")
    plugin.pytest_runtest_setup(SimpleNamespace(fspath=__file__, parent=None))
    assert os.environ["XAI_MODEL"] == "course"


def test_make_test_starts_the_longest_files_first():
    """The solved notebooks on SmolLM2 first (longest first), then the files that execute
    notebooks, then the short test files: a file runs on one worker, and a long one started
    last leaves the other worker idle."""
    from types import SimpleNamespace

    import tests.nbval_models as plugin

    def item(path, slow=False):
        marker = (lambda name: object() if slow and name == "notebooks" else None)
        return SimpleNamespace(fspath=str(path), get_closest_marker=marker)

    solved = ROOT / "solutions" / "notebooks"
    items = [item(ROOT / "tests" / "test_stats.py"),
             item(ROOT / "tests" / "test_notebooks.py", slow=True),
             item(ROOT / "tests" / "test_notebooks.py"),   # the same file: it moves with it
             item(solved / "02_attention_heads.ipynb"),
             item(solved / "06_faithfulness.ipynb")]
    plugin.pytest_collection_modifyitems(None, items)
    assert [Path(i.fspath).name for i in items] == [
        "06_faithfulness.ipynb", "02_attention_heads.ipynb", "test_notebooks.py",
        "test_notebooks.py", "test_stats.py"]
