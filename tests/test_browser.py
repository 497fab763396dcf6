"""The widgets in a real browser: JupyterLab + Debian's Chromium driven by Playwright.

nbval sees only text outputs; whether the ipywidgets controls and the jupyter-scatter plot
actually render, and whether a click reaches Python and back, needs a browser. Each test opens a
copy of a committed solved notebook cut after the widget under test, runs it in a fresh kernel on
the course model, checks the page, and saves screenshots that it then inspects (a blank canvas or
map fails): to the git-ignored tests/browser/shots/, so a test run leaves the tree clean, or to
the folder in XAI_SCREENSHOTS (`make screenshots` refreshes the committed
tests/browser/screenshots/ that way).

Chromium comes from apt (`make test` and .ci/run install it where missing); where it cannot be
installed these tests skip and say so. About 1-3 minutes on a 2-core CPU.
"""
from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from pathlib import Path

import pytest

from browser.lab import (chromium_page, chromium_path, error_outputs, jupyter_lab, open_notebook,
                         output_texts, run_all_cells)
from browser.pages import (WIDGET_ERROR, canvas_pixels, click_in_place, clickable, hover, image,
                           output_with, pixel_spread, point_centres, scatter_canvas, screenshot,
                           trimmed_copy, wait_for_text)

ROOT = Path(__file__).resolve().parent.parent
SOLVED = ROOT / "solutions" / "notebooks"
WORK = ROOT / "tests" / "browser" / "work"          # git-ignored; removed after the run
SCREENSHOTS = Path(os.environ.get("XAI_SCREENSHOTS") or ROOT / "tests" / "browser" / "shots")

pytestmark = pytest.mark.notebooks

if chromium_path() is None:
    pytest.skip("Chromium is not installed, so the real-browser check of the widgets did not run. "
                "Install it with `apt-get install -y chromium` (as root; `make test` does this on "
                "Debian/Ubuntu).", allow_module_level=True)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """(base URL, page, folder of the notebook copies relative to the lab root)."""
    run_dir = WORK / f"run-{uuid.uuid4().hex[:8]}"
    run_dir.mkdir(parents=True)
    private = tmp_path_factory.mktemp("jupyter-private")
    try:
        with jupyter_lab(ROOT, private) as url, chromium_page(private) as page:
            yield url, page, run_dir
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def run_copy(lab, solved_name: str, last_marker: str):
    """Open a trimmed copy of a solved notebook, run all its cells, check nothing failed."""
    url, page, run_dir = lab
    copy = trimmed_copy(SOLVED / solved_name, last_marker, run_dir / solved_name)
    open_notebook(page, url, copy.relative_to(ROOT).as_posix())
    shown = run_all_cells(page, timeout_s=600)
    errors = error_outputs(page)
    assert not errors, f"a cell failed in the browser's kernel: {errors}"
    assert all(re.fullmatch(r"\[\d+\]:", p) for p in shown), f"not every cell ran: {shown}"
    broken = [t for t in output_texts(page) if WIDGET_ERROR in t]
    assert not broken, f"a widget did not render: {broken[0][:300]}"
    return page


def test_head_explorer_renders_and_a_click_shows_that_heads_map(lab):
    page = run_copy(lab, "02_attention_heads.ipynb", r"HeadExplorer\(")

    # The attention viewer: two sliders; moving the head slider redraws the caption.
    viewer = output_with(page, ".widget-slider")
    sliders = viewer.locator(".widget-slider")
    assert sliders.count() >= 2, "the attention viewer should show a layer and a head slider"
    caption = viewer.locator(".widget-html").first
    layer, head = map(int, re.search(r"Layer (\d+), head (\d+)",
                                     wait_for_text(caption, r"Layer \d+, head \d+")).groups())
    sliders.nth(1).locator(".noUi-handle").focus()
    page.keyboard.press("ArrowRight" if head == 0 else "ArrowLeft")
    wait_for_text(caption, rf"Layer {layer}, head {1 if head == 0 else head - 1}\b")

    # The head explorer: jupyter-scatter canvas with points, a caption and the map beside it.
    explorer = output_with(page, "canvas")
    assert explorer.locator(".widget-toggle-buttons").count() == 1, "'colour by' buttons missing"
    canvas = scatter_canvas(explorer)
    time.sleep(1)   # the first frames are drawn after the canvas appears
    pixels = canvas_pixels(canvas)
    spread, colours = pixel_spread(pixels)
    assert spread > 1 and colours >= 3, f"the scatter canvas is blank (grey std {spread:.2f})"
    points = [p for p in point_centres(pixels) if clickable(page, canvas, p[0], p[1])]
    assert len(points) >= 3, f"found only {len(points)} clickable points in the scatter"

    head_caption = explorer.locator(".widget-html").first
    shown = re.search(r"Layer (\d+), head (\d+)", head_caption.inner_text())
    assert shown, "the explorer should show the most relevant head before any click"
    map_before = explorer.locator("img").first.get_attribute("src")

    # Hover points until one's tooltip names a head other than the one shown, then click it.
    for x, y, _ in points:
        tooltip = re.search(r"L(\d+)H(\d+)", hover(page, canvas, x, y, expect=r"L\d+H\d+"))
        if tooltip and tooltip.groups() != shown.groups():
            break
    else:
        pytest.fail("no point showed a tooltip naming another head (L<layer>H<head>)")
    click_in_place(page)
    layer, head = tooltip.groups()
    wait_for_text(head_caption, rf"Layer {layer}, head {head}\b")
    deadline = time.time() + 20
    while explorer.locator("img").first.get_attribute("src") == map_before and time.time() < deadline:
        time.sleep(0.5)
    assert explorer.locator("img").first.get_attribute("src") != map_before, \
        f"the caption moved to L{layer}H{head} but the map was not redrawn"

    # Screenshot, then inspect the saved file: the canvas region and the map must not be blank.
    page.mouse.move(0, 0)   # no tooltip in the picture
    time.sleep(0.5)
    shot = screenshot(explorer, SCREENSHOTS / "02_head_explorer.png")
    saved = image(shot.read_bytes())
    area_box = explorer.bounding_box()
    for name, element, min_spread in [("scatter canvas", canvas, 1.0),
                                      ("head map", explorer.locator("img").first, 10.0)]:
        box = element.bounding_box()
        top, left = int(box["y"] - area_box["y"]), int(box["x"] - area_box["x"])
        region = saved[top:top + int(box["height"]), left:left + int(box["width"])]
        spread, colours = pixel_spread(region)
        assert region.size and spread > min_spread and colours >= 3, \
            f"the {name} looks blank in {shot.name} (grey std {spread:.2f}, {colours} colours)"
    screenshot(viewer, SCREENSHOTS / "02_attention_viewer.png")


def test_topk_explorer_renders_and_a_choice_redraws_the_heatmap(lab):
    page = run_copy(lab, "01_input_attribution.ipynb", r"^explorer = RelevanceExplorer\(")

    explorer = output_with(page, ".widget-radio-box")
    for selector, what in [("textarea", "prompt box"), (".widget-slider", "top-k slider"),
                           ("button", "Predict button"), (".widget-dropdown select", "foil menu")]:
        assert explorer.locator(selector).count() >= 1, f"the explorer's {what} is missing"
    options = explorer.locator(".widget-radio-box label")
    assert options.count() >= 2, "the explorer should list at least two predictions"
    status = explorer.locator(".widget-html").first
    wait_for_text(status, r"Explaining logit\(")
    heatmap_before = explorer.inner_html()

    second = options.nth(1).inner_text().split()[0]   # e.g. '␣27' from '␣27   12.3 %'
    options.nth(1).click()
    # the explorer quotes the token (logit('1'), not logit(1), which would read as an index)
    wait_for_text(status, rf"Explaining logit\({re.escape(repr(second))}\)")
    assert explorer.inner_html() != heatmap_before, "choosing another prediction changed nothing"

    shot = screenshot(explorer, SCREENSHOTS / "01_topk_explorer.png")
    spread, colours = pixel_spread(image(shot.read_bytes()))
    assert spread > 10 and colours >= 20, f"{shot.name} looks blank (grey std {spread:.2f})"
