"""utils.progress: live bars for learners, one deterministic line in saved notebooks."""
from tqdm.auto import tqdm

from utils.progress import progress


def test_static_mode_prints_one_summary_line(monkeypatch, capsys):
    monkeypatch.setenv("XAI_PROGRESS", "static")
    assert list(progress(range(10), desc="occlusion")) == list(range(10))
    assert capsys.readouterr().out == "occlusion: 10/10\n"


def test_static_mode_reports_a_loop_left_early(monkeypatch, capsys):
    monkeypatch.setenv("XAI_PROGRESS", "static")
    for i in progress(range(10), desc="heads"):
        if i == 3:
            break
    assert capsys.readouterr().out == "heads: 3/10\n"


def test_short_loops_and_silenced_bars_print_nothing(monkeypatch, capsys):
    monkeypatch.setenv("XAI_PROGRESS", "static")
    assert list(progress(range(3), desc="short")) == [0, 1, 2]
    monkeypatch.setenv("XAI_PROGRESS", "0")
    assert list(progress(range(20), desc="silenced")) == list(range(20))
    assert capsys.readouterr().out == ""


def test_default_is_a_live_bar(monkeypatch):
    monkeypatch.delenv("XAI_PROGRESS", raising=False)
    bar = progress(range(10), desc="live")
    assert isinstance(bar, tqdm) and not bar.disable
    bar.close()


def test_an_inner_static_loop_prints_nothing(monkeypatch, capsys):
    """One line per outer loop: the inner loops' lines would repeat once per outer step."""
    monkeypatch.setenv("XAI_PROGRESS", "static")
    for _ in progress(range(8), desc="summaries"):
        assert list(progress(range(9), desc="heads")) == list(range(9))
    assert list(progress(range(9), desc="heads")) == list(range(9))   # outside again: prints
    assert capsys.readouterr().out == "summaries: 8/8\nheads: 9/9\n"


def test_a_loop_that_raises_leaves_the_next_loop_printing(monkeypatch, capsys):
    monkeypatch.setenv("XAI_PROGRESS", "static")
    try:
        for i in progress(range(10), desc="failing"):
            if i == 2:
                raise RuntimeError("stop")
    except RuntimeError:
        pass
    assert list(progress(range(8), desc="after")) == list(range(8))
    assert capsys.readouterr().out == "failing: 2/10\nafter: 8/8\n"
