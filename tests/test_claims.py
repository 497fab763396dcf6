"""The claims registry: every claim reports n, its control's spread and a verdict on any model;
the claims marked `course=True` hold on the course model; a failing one stays in the table."""
import numpy as np
import pytest

from claims import Claim, Context, Measurement, Threshold, as_dict, claims, markdown, report
from utils.stats import MIN_ITEMS, against_draws, mean_interval

CLAIMS = claims()


@pytest.fixture(scope="module")
def course_results():
    from utils.models import load_model
    model, tokenizer = load_model("course", device="cpu", verbose=False)
    return dict((c.id, (c, v)) for c, v in report(Context(model, tokenizer, "course")))


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: f"{c.notebook}-{c.id}")
def test_claim_reports_n_control_spread_and_verdict(claim, course_results):
    _, verdict = course_results[claim.id]
    assert verdict.measurement is not None, verdict.figure      # it ran on the course model
    assert verdict.n >= MIN_ITEMS - 4, (claim.id, verdict.n)      # many items, never one prompt
    assert f"n = {verdict.n}" in verdict.figure
    assert verdict.control and verdict.threshold and isinstance(verdict.holds, bool)
    row = as_dict(claim, verdict)
    assert row["n"] == verdict.n and "effect" in row


@pytest.mark.parametrize("claim", [c for c in CLAIMS if c.course],
                         ids=lambda c: f"{c.notebook}-{c.id}")
def test_course_claims_hold_on_the_course_model(claim, course_results):
    _, verdict = course_results[claim.id]
    assert verdict.holds, f"{claim.notebook} {claim.text!r} {verdict.line()}"


def test_random_controls_have_at_least_100_draws(course_results):
    from utils.stats import DrawComparison
    draws = [v.measurement.control for _, v in course_results.values()
             if v.measurement is not None and isinstance(v.measurement.control, DrawComparison)]
    assert draws and all(d.n_draws >= 100 for d in draws)


def test_every_claim_is_registered_once_with_text():
    keys = [(c.notebook, c.id) for c in CLAIMS]
    assert len(keys) == len(set(keys)) and CLAIMS
    assert all(c.text.strip() and callable(c.measure) and c.control for c in CLAIMS)


def test_a_failing_claim_stays_in_the_table_with_its_figure():
    always_low = Claim("00", "too-low", "an effect above 1", lambda ctx: Measurement(
        mean_interval(np.linspace(0.1, 0.3, 24)), against_draws(0.2, np.zeros(100))),
        Threshold("low", ">", 1.0), "zeros")
    broken = Claim("00", "broken", "cannot run", lambda ctx: 1 / 0, Threshold("p", "<=", 0.05),
                   "none")
    results = report(Context(None, None, "none"), entries=[always_low, broken])
    table = markdown(results, "none")
    assert table.count("FAILS") == 2 and "effect 0.20 [" in table and "n = 24" in table
    assert "ZeroDivisionError" in table


def test_thresholds_read_the_interval_or_the_control():
    m = Measurement(mean_interval(np.linspace(0.4, 0.6, 30)), against_draws(0.5, np.zeros(100)))
    assert Threshold("low", ">", 0.3).passes(m) and not Threshold("low", ">", 0.5).passes(m)
    assert Threshold("p", "<=", 0.05).passes(m) and Threshold("beats", ">=", 1.0).passes(m)
    assert Threshold("extent", "<", 0.7).passes(m) and not Threshold("extent", "<", 0.5).passes(m)
    with pytest.raises(ValueError, match="a threshold reads"):
        Threshold("median", ">", 0)
    with pytest.raises(ValueError, match="n_items"):
        Measurement(0.5, None)


def test_the_report_runs_on_a_tiny_random_qwen2(tmp_path, tiny_model_dir):
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM
    from utils.models import load_model

    tok = AutoTokenizer.from_pretrained(tiny_model_dir, trust_remote_code=False)
    tok.save_pretrained(tmp_path)
    Qwen2ForCausalLM(Qwen2Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                                 num_hidden_layers=2, num_attention_heads=4,
                                 num_key_value_heads=2)).save_pretrained(tmp_path)
    model, tokenizer = load_model(str(tmp_path), device="cpu", verbose=False)
    # few items and draws: this shows the code runs on another family, not what it finds
    results = report(Context(model, tokenizer, "tiny-qwen2", draws=10, items=0.25))
    assert [c for c, _ in results] == CLAIMS
    assert all(isinstance(v.holds, bool) and v.figure for _, v in results)
    table = markdown(results, "tiny-qwen2")
    assert table.startswith("Claims on tiny-qwen2:") and table.count("\n| ") == len(CLAIMS) + 1


def test_the_lessons_file_writes_json_and_markdown(tmp_path, tiny_model_dir):
    import json

    from claims.lessons_file import main
    out = tmp_path / "lessons" / "tiny"
    assert main(["--model", str(tiny_model_dir), "--out", str(out), "--items", "0.25",
                 "--draws", "10", "01", "04"]) == 0
    data = json.loads(out.with_suffix(".json").read_text())
    ids = [row["id"] for row in data["entries"]]
    assert "cp-lrp-conservation" in ids and "conflict-ranks" in ids
    assert all("n" in row and "control_spread" in row and "holds" in row for row in data["entries"])
    assert out.with_suffix(".md").read_text().startswith("# Lessons on ")
    # --update re-runs one notebook and keeps the other's rows and settings
    assert main(["--model", str(tiny_model_dir), "--out", str(out), "--items", "0.25",
                 "--draws", "12", "--update", "01"]) == 0
    updated = json.loads(out.with_suffix(".json").read_text())
    assert [row["id"] for row in updated["entries"]] == ids
    assert updated["runs"]["01"]["draws"] == 12 and updated["runs"]["04"]["draws"] == 10
    assert [r for r in updated["entries"] if r["notebook"] == "04"] == \
        [r for r in data["entries"] if r["notebook"] == "04"]
    text = out.with_suffix(".md").read_text()
    assert "01: items x0.25, 12 draws" in text and "04: items x0.25, 10 draws" in text


def test_one_verdict_is_printed_by_id(course_model, capsys):
    from claims import find, verdict
    model, tokenizer = course_model
    result = verdict("conflict-ranks", model, tokenizer)
    printed = capsys.readouterr().out.strip()
    assert printed == result.statement(find("conflict-ranks")) and result.n == 15
    assert printed.startswith("Claim (conflict-ranks): ") and f"n = {result.n}" in printed
    assert find("cp-lrp-conservation").notebook == "01"
    with pytest.raises(KeyError, match="no claim"):
        find("no-such-claim")


def test_judge_decides_a_measurement_the_notebook_made(capsys):
    from claims import judge
    m = Measurement(mean_interval(np.full(24, 0.005)), None, "CP-LRP |relevance / logit - 1|")
    result = judge("cp-lrp-conservation", m)
    assert result.holds and result.n == 24 and "holds on this model" in capsys.readouterr().out
    assert not judge("cp-lrp-conservation", Measurement(mean_interval(np.full(24, 0.2)),
                                                        None)).holds
    with pytest.raises(TypeError, match="claims.Measurement"):
        judge("cp-lrp-conservation", 0.005)


def _master_sources() -> dict[str, str]:
    import json
    from pathlib import Path
    root = Path(__file__).resolve().parents[1] / "notebooks"
    return {p.name[:2]: "\n".join("".join(c["source"]) for c in json.loads(p.read_text())["cells"]
                                  if c["cell_type"] == "code")
            for p in sorted(root.glob("[0-9][0-9]_*.ipynb"))}


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: f"{c.notebook}-{c.id}")
def test_each_claim_is_the_verdict_its_notebook_prints(claim):
    """The notebook's verdict cell and the claims table are one decision: the master decides
    every claim of its notebook through the registry (`verdict` or `judge`)."""
    source = _master_sources()[claim.notebook]
    assert (f'verdict("{claim.id}"' in source or f'judge("{claim.id}"' in source), (
        f"notebook {claim.notebook} never decides claim {claim.id!r} through the registry: "
        f"add claims.verdict(\"{claim.id}\", model, tokenizer) or claims.judge(...) to it")


def test_notebooks_decide_verdicts_only_through_the_registry():
    import re
    for nb, source in _master_sources().items():
        own = re.findall(r"\b(\w+_verdicts?)\b", source)
        assert not own, f"notebook {nb} decides with {sorted(set(own))}, outside the claims registry"


def test_a_claim_on_the_course_models_own_data_is_not_applicable_elsewhere(course_model):
    model, tokenizer = course_model
    ran = []
    own = Claim("00", "own-data", "labels from the course model's training data",
                lambda ctx: ran.append(1) or Measurement(mean_interval(np.ones(24)), None),
                Threshold("mean", ">=", 0.5), "none", known_data=True)
    [(_, on_course)] = report(Context(model, tokenizer, "course"), entries=[own])
    assert on_course.holds and on_course.applicable and ran == [1]
    [(_, elsewhere)] = report(Context(object(), tokenizer, "other"), entries=[own])
    assert not elsewhere.applicable and not elsewhere.holds and ran == [1]
    table = markdown([(own, elsewhere)], "other")
    assert "| n/a |" in table and "0 of 0 hold (1 not applicable to this model)" in table


def test_the_smollm2_lessons_file_is_the_registry_on_smollm2():
    """lessons/smollm2.json (`make lessons-smollm2`) lists every registry entry of the notebooks
    it covers, each with n, its control's spread and a verdict, decided with today's thresholds:
    a changed claim or threshold means rebuilding the file."""
    import json
    from pathlib import Path

    from claims.lessons_file import entries
    data = json.loads((Path(__file__).resolve().parents[1] / "lessons" / "smollm2.json").read_text())
    rows = {row["id"]: row for row in data["entries"]}
    covered = {row["notebook"] for row in data["entries"]}
    expected = [c for c in entries(tuple(sorted(covered)))]
    assert list(rows) == [c.id for c in expected], "rebuild with make lessons-smollm2"
    import nbformat

    from utils.notebook_execution import solved_with
    by_default = {path.name[:2] for path in (Path(__file__).resolve().parents[1] / "notebooks").glob("0*.ipynb")
                  if solved_with(nbformat.read(path, as_version=4)) == "smollm2"}
    assert {"01", "02", "03", "06"} <= by_default <= covered   # the notebooks SmolLM2 runs by default
    for claim in expected:
        row = rows[claim.id]
        assert row["threshold"] == " and ".join(map(str, claim.thresholds)), claim.id
        assert row["claim"] == claim.text, claim.id
        if row.get("applicable", True):
            assert row["n"] >= 1 and row["control_spread"] and isinstance(row["holds"], bool)
            assert f"n = {row['n']}" in row["sentence"], claim.id
