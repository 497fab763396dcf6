"""The browser test's own helpers, without a browser: finding points, blank images, trimming."""
import nbformat
import numpy as np
import pytest

from browser.pages import pixel_spread, point_centres, trimmed_copy


def canvas_with_dots(dots, size=(100, 120)):
    pixels = np.full((*size, 3), 255, dtype=np.int16)
    for x, y in dots:
        pixels[y - 2:y + 3, x - 2:x + 3] = (31, 119, 180)
    return pixels


def test_point_centres_finds_dots_most_isolated_first_and_skips_cut_ones():
    pixels = canvas_with_dots([(30, 30), (36, 30), (90, 70), (1, 50)])   # the last is cut by the edge
    found = point_centres(pixels)
    assert [(round(x), round(y)) for x, y, _ in found] == [(90, 70), (30, 30), (36, 30)]
    assert found[0][2] > found[1][2] == pytest.approx(6.0)


def test_pixel_spread_tells_a_blank_image_from_one_with_points():
    blank = canvas_with_dots([])
    assert pixel_spread(blank) == (0.0, 1)
    spread, colours = pixel_spread(canvas_with_dots([(30, 30), (90, 70)]))
    assert spread > 1 and colours == 2


def test_trimmed_copy_keeps_code_up_to_the_marker_without_outputs(tmp_path):
    nb = nbformat.v4.new_notebook()
    cells = [nbformat.v4.new_markdown_cell("# title"), nbformat.v4.new_code_cell("a = 1"),
             nbformat.v4.new_code_cell("explorer = Explorer(a)\nexplorer.show()"),
             nbformat.v4.new_code_cell("other_explorer = Explorer(2)"),
             nbformat.v4.new_code_cell("print('after')")]
    cells[1].outputs = [nbformat.v4.new_output("stream", text="old output")]
    nb.cells = cells
    solved = tmp_path / "01_demo.ipynb"
    nbformat.write(nb, solved)
    copy = nbformat.read(trimmed_copy(solved, r"^explorer = Explorer\(", tmp_path / "copy.ipynb"), 4)
    assert [c.source for c in copy.cells] == ["a = 1", "explorer = Explorer(a)\nexplorer.show()"]
    assert all(c.outputs == [] and c.execution_count is None for c in copy.cells)
    assert copy.metadata.kernelspec.name == "python3"
    with pytest.raises(ValueError, match="no code cell containing"):
        trimmed_copy(solved, r"HeadExplorer\(", tmp_path / "none.ipynb")
    with pytest.raises(FileNotFoundError, match="make solved NB=02"):
        trimmed_copy(tmp_path / "02_missing.ipynb", "x", tmp_path / "missing.ipynb")
