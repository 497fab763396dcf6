"""The GPU runner's notebook comparison: small float changes pass, a wrong answer fails."""
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tests.nbval_tolerance import (align_outputs, float_differences, parse_tolerance,
                                   within_tolerance)

ROOT = Path(__file__).resolve().parent.parent


def test_floats_within_tolerance_pass_and_far_ones_fail():
    stored = "Relevance sums to 0.42 of the logit; top head L3H5 scores 1.234e-02."
    assert within_tolerance(stored, stored)
    assert within_tolerance(stored, "Relevance sums to 0.43 of the logit; top head L3H5 scores 1.251e-02.")
    assert not within_tolerance(stored, "Relevance sums to 0.85 of the logit; top head L3H5 scores 1.234e-02.")
    assert float_differences(stored, stored.replace("0.42", "0.85")) == ["0.42 -> 0.85"]


def test_words_integers_and_order_must_match_exactly():
    stored = "Greedy answer: ' Paris' (p=0.93). Top heads: L3H5 0.21, L1H2 0.18. Shape (6, 8)."
    wrong_answer = stored.replace("Paris", "Rome")
    wrong_head = stored.replace("L3H5", "L3H4")
    swapped = "Greedy answer: ' Paris' (p=0.93). Top heads: L1H2 0.18, L3H5 0.21. Shape (6, 8)."
    wrong_shape = stored.replace("(6, 8)", "(6, 7)")
    verdict = "✓ check passes"
    for new in (wrong_answer, wrong_head, swapped, wrong_shape):
        assert not within_tolerance(stored, new), new
    assert not within_tolerance(verdict, "✗ check fails")
    assert not within_tolerance("0.42", "0.42 0.1")            # an extra number is layout


def test_nan_must_stay_nan_and_padding_may_move():
    assert within_tolerance("score  nan", "score  nan")
    assert not within_tolerance("score 0.50", "score nan")
    assert within_tolerance("| 0.01 |", "| -0.01 |")            # within abs tolerance
    assert within_tolerance("x =  0.010", "x = -0.001")          # padding moved with the sign


def test_alignment_copies_stored_text_only_where_it_matches():
    stored = [nbformat.v4.new_output("stream", name="stdout", text="ratio 0.42\n"),
              nbformat.v4.new_output("execute_result", data={"text/plain": "'Paris'"},
                                     execution_count=1)]
    close = [nbformat.v4.new_output("stream", name="stdout", text="ratio 0.44\n"),
             nbformat.v4.new_output("execute_result", data={"text/plain": "'Rome'"},
                                    execution_count=1)]
    aligned = align_outputs(close, stored, 0.1, 0.02)
    assert aligned[0]["text"] == "ratio 0.42\n"          # accepted: nbval sees the stored text
    assert aligned[1]["data"]["text/plain"] == "'Rome'"  # refused: nbval reports the difference
    assert close[0]["text"] == "ratio 0.44\n"            # the input is not modified


def test_tolerance_option_is_checked():
    assert parse_tolerance("0.1,0.02") == (0.1, 0.02)
    with pytest.raises(ValueError, match="REL,ABS"):
        parse_tolerance("0.1")
    with pytest.raises(ValueError, match=">= 0"):
        parse_tolerance("-1,0")


def _stored_notebook(path: Path, printed: str, stored_output: str) -> None:
    cell = nbformat.v4.new_code_cell(f"print({printed!r})")
    cell.execution_count = 1
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=stored_output + "\n")]
    nb = nbformat.v4.new_notebook()
    nb.cells = [cell]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def _nbval(path: Path, tolerance: str | None) -> subprocess.CompletedProcess:
    args = [sys.executable, "-m", "pytest", "-p", "tests.nbval_tolerance", str(path), "--nbval",
            "-p", "no:cacheprovider", "-q", "--rootdir", str(path.parent)]
    if tolerance:
        args += ["--nbval-float-tolerance", tolerance]
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.notebooks
def test_nbval_with_tolerance_accepts_last_digits_and_catches_a_wrong_answer(tmp_path):
    """End to end through nbval: the stored output is a CPU run, the 'new' one a GPU-like run."""
    stored = "Answer: ' Paris' with p=0.9312, relevance ratio 0.42"
    _stored_notebook(tmp_path / "close.ipynb", "Answer: ' Paris' with p=0.9297, relevance ratio 0.43",
                     stored)
    _stored_notebook(tmp_path / "wrong.ipynb", "Answer: ' Rome' with p=0.9312, relevance ratio 0.42",
                     stored)
    assert _nbval(tmp_path / "close.ipynb", "0.1,0.02").returncode == 0
    assert _nbval(tmp_path / "close.ipynb", None).returncode != 0    # plain nbval: exact text
    wrong = _nbval(tmp_path / "wrong.ipynb", "0.1,0.02")
    assert wrong.returncode != 0
    assert "Rome" in wrong.stdout
