"""Bad input gets a clear error, no model folder's code runs, and a learner's work is never lost."""
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from tests.bad_inputs import CASES, README, readme_block, readme_table

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    from utils.models import load_model
    model, tokenizer = load_model("course", device="cpu", verbose=False)
    return SimpleNamespace(model=model, tokenizer=tokenizer, tmp=tmp_path_factory.mktemp("bad"))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input_gets_a_clear_message(case, ctx):
    with pytest.raises(BaseException) as raised:     # SystemExit too (a command's answer)
        case.call(ctx)
    assert type(raised.value).__name__ == case.error, repr(raised.value)
    assert case.message in str(raised.value), str(raised.value)


def test_readme_troubleshooting_table_is_generated_from_the_cases():
    assert readme_block(README.read_text(encoding="utf-8")) == readme_table(), \
        "regenerate it: python tests/bad_inputs.py"


# -- no model folder's code ever runs ---------------------------------------------------------

def _custom_code_folder(folder: Path, marker: Path, model_type: str) -> None:
    folder.mkdir()
    (folder / "config.json").write_text(
        '{"model_type": "%s", "auto_map": {"AutoConfig": "configuration_marker.MarkerConfig", '
        '"AutoModelForCausalLM": "modeling_marker.MarkerModel"}}' % model_type)
    code = (f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n"
            "from transformers import PretrainedConfig\n"
            f"class MarkerConfig(PretrainedConfig):\n    model_type = {model_type!r}\n")
    (folder / "configuration_marker.py").write_text(code)
    (folder / "modeling_marker.py").write_text(code)


@pytest.mark.parametrize("model_type", ["marker_model", "llama"])
@pytest.mark.parametrize("how", ["course", "transformers"])
def test_a_model_folders_code_never_runs_even_when_answering_yes(tmp_path, model_type, how):
    """transformers asks "run the custom code? [y/N]" unless told no; we answer y on stdin."""
    marker = tmp_path / "MARKER"
    folder = tmp_path / "custom-model"
    _custom_code_folder(folder, marker, model_type)
    if how == "course":
        code = ("from utils.models import load_model\n"
                f"load_model({str(folder)!r}, device='cpu')")
    else:  # past the course's own folder check: transformers itself, as load_model calls it
        code = ("from transformers import AutoConfig\n"
                f"AutoConfig.from_pretrained({str(folder)!r}, trust_remote_code=False)")
    result = subprocess.run([sys.executable, "-c", code], input="y\ny\ny\n", text=True,
                            capture_output=True, cwd=ROOT, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"})
    assert not marker.exists(), "the folder's Python code ran"
    assert "[y/N]" not in result.stdout + result.stderr
    if how == "course":
        assert "ships its own Python code" in result.stderr, result.stderr[-2000:]


def test_every_from_pretrained_call_refuses_remote_code():
    import ast
    folders = ("utils", "solutions", "checks", "claims", "tools", "course_model", "benchmarks")
    for path in [p for folder in folders for p in ROOT.glob(f"{folder}/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "from_pretrained":
                names = {k.arg: k.value for k in node.keywords}
                value = names.get("trust_remote_code")
                assert isinstance(value, ast.Constant) and value.value is False, \
                    f"{path.relative_to(ROOT)}:{node.lineno} must pass trust_remote_code=False"


# -- context length ----------------------------------------------------------------------------

def test_a_long_but_valid_prompt_warns_with_its_cost(ctx):
    from utils.tokens import encode
    from utils.validate import LongPromptWarning
    with pytest.warns(LongPromptWarning, match=r"1,\d{3} tokens long and will be slow.*1\.6 GB"):
        encode(ctx.tokenizer, "dust " * 1100, ctx.model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        encode(ctx.tokenizer, "dust " * 100, ctx.model)      # short: silent


def test_patching_checks_the_prompt_length(ctx):
    from utils.patching import align_prompts
    with pytest.raises(ValueError, match="reads at most 2,048"):
        align_prompts(ctx.tokenizer, "a " * 3000 + "b", "a " * 3000 + "c", " d", model=ctx.model)


# -- the explorer says which prompt its snapshot shows ----------------------------------------

def test_explorer_snapshot_names_its_prompt_and_follows_a_new_one(ctx):
    from utils.explorer import RelevanceExplorer
    explorer = RelevanceExplorer(ctx.model, ctx.tokenizer, "The sky is", k=3,
                                 relevance_fn=lambda m, ids, t, f: ids[0].float() * 0)
    assert "Prompt: The sky is" in explorer.snapshot_html()
    explorer.prompt_box.value = "Paris <b>is</b>"
    explorer.predict()
    snapshot = explorer.snapshot_html()
    assert "Prompt: Paris &lt;b&gt;is&lt;/b&gt;" in snapshot and "The sky is" not in snapshot


# -- a learner's work is never touched --------------------------------------------------------

def _learner_notebook(path: Path) -> bytes:
    nb = nbformat.read(ROOT / "notebooks" / "01_input_attribution.ipynb", as_version=4)
    note = nbformat.v4.new_markdown_cell("My own notes: occlusion is slow!")
    code = nbformat.v4.new_code_cell("x = 1", outputs=[nbformat.v4.new_output(
        "stream", name="stdout", text="my output\n")], execution_count=3)
    nb.cells += [note, code]
    nbformat.write(nb, path)
    return path.read_bytes()


def test_workspace_copies_are_made_once_and_never_overwritten(tmp_path):
    from tools import workspace
    made = workspace.ensure_copies(tmp_path, ["01"])
    assert [p.name for p in made] == ["01_input_attribution.ipynb"]
    mine = _learner_notebook(tmp_path / "01_input_attribution.ipynb")
    assert workspace.ensure_copies(tmp_path, ["01"]) == []
    assert (tmp_path / "01_input_attribution.ipynb").read_bytes() == mine
    fresh, old = workspace.fresh_copy("01", tmp_path)
    assert old.read_bytes() == mine and old.parent == tmp_path and old != fresh
    assert fresh.read_bytes() == (ROOT / "notebooks" / fresh.name).read_bytes()


def test_a_learners_notebook_survives_strip_solved_and_test(tmp_path, monkeypatch):
    """`make strip`, `make solved` and the notebook tests read or write the masters only."""
    from tools import solved_notebooks, workspace
    space = tmp_path / "workspace"
    space.mkdir()
    learner = space / "01_input_attribution.ipynb"
    mine = _learner_notebook(learner)

    # A master somebody ran cells in (a learner before workspace/ existed): strip keeps a copy.
    masters = tmp_path / "notebooks"
    masters.mkdir()
    used_master = masters / "01_input_attribution.ipynb"
    worked = _learner_notebook(used_master)
    monkeypatch.setattr(workspace, "MASTERS", masters)
    kept = workspace.strip_masters(space)
    assert learner.read_bytes() == mine
    [(master, copy)] = kept
    assert copy.read_bytes() == worked and copy.parent == space
    assert not workspace.has_outputs(used_master)

    # make solved refuses a master with outputs instead of copying its cells into the reference
    _learner_notebook(used_master)
    with pytest.raises(solved_notebooks.MasterInUse, match="workspace/"):
        solved_notebooks.build_solved(used_master)
    assert learner.read_bytes() == mine

    # the builder and the notebook tests only ever glob the masters folder
    assert solved_notebooks.EXERCISES == ROOT / "notebooks"
    assert all(p.parent == ROOT / "notebooks" for p in solved_notebooks.exercise_notebooks())


def test_workspace_is_ignored_by_git():
    result = subprocess.run(["git", "check-ignore", "-q", "workspace/01_input_attribution.ipynb"],
                            cwd=ROOT)
    assert result.returncode == 0


def test_no_message_advises_a_command_that_destroys_work():
    texts = [p.read_text() for p in [ROOT / "tests" / "test_notebooks.py",
                                     ROOT / "tools" / "solved_notebooks.py", ROOT / "Makefile"]]
    for text in texts:
        assert "nbconvert --clear-output --inplace" not in text
    assert "run `make strip`\"" not in texts[0]


# -- assets rebuild byte for byte -------------------------------------------------------------

def test_assets_rebuild_byte_for_byte(tmp_path):
    from tools.make_assets import build
    from utils.models import load_model
    model, tokenizer = load_model("course", device="cpu", verbose=False)
    for path in build(model, tokenizer, "the course model (course-llama)", tmp_path):
        rebuilt, committed = path.read_text(), (ROOT / "assets" / path.name).read_text()
        assert _same_up_to_float_noise(rebuilt, committed), \
            f"assets/{path.name} differs from a rebuild: run python tools/make_assets.py"


_NUMBER = re.compile(r"-?\d+\.\d+")


def _same_up_to_float_noise(a: str, b: str) -> bool:
    """Equal text, and equal numbers to the last printed digit (another CPU's float kernels may
    round the third decimal the other way: 1.641 vs 1.64)."""
    if _NUMBER.sub("#", a) != _NUMBER.sub("#", b):
        return False
    pairs = zip(_NUMBER.findall(a), _NUMBER.findall(b))
    return all(abs(float(x) - float(y)) <= 2e-3 + 1e-4 * abs(float(y)) for x, y in pairs)
