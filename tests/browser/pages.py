"""What the browser test looks at: trimmed notebook copies, widget errors, scatter points, pixels.

Images are read with Pillow and NumPy; a point of a jupyter-scatter plot is found in a screenshot
of its canvas (a blob of non-background pixels), because the plot is drawn by WebGL and exposes
no DOM element per point.
"""
from __future__ import annotations

import io
import re
import time
from pathlib import Path

import nbformat
import numpy as np

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
WIDGET_ERROR = "Error displaying widget"


def trimmed_copy(solved: Path, last_marker: str, dest: Path) -> Path:
    """Copy of the solved notebook `solved`, cut after the last code cell in which the regex
    `last_marker` matches (multi-line: ^ is the start of any line).

    Outputs are cleared (the browser must produce them) and the kernel is named, so the lab
    starts it without asking. Only code cells are kept: the prose is not under test.
    """
    if not solved.exists():
        raise FileNotFoundError(f"{solved} is missing: build it with `make solved NB={solved.name[:2]}`.")
    nb = nbformat.read(solved, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    last = max((i for i, c in enumerate(code) if re.search(last_marker, c.source, re.MULTILINE)),
               default=None)
    if last is None:
        raise ValueError(f"{solved.name} has no code cell containing {last_marker!r}: the browser "
                         "test needs that widget; update tests/test_browser.py if it was renamed.")
    nb.cells = code[:last + 1]
    for cell in nb.cells:
        cell.outputs, cell.execution_count = [], None
    nb.metadata["kernelspec"] = KERNELSPEC
    nb.metadata.pop("widgets", None)
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dest)
    return dest


def output_with(page, selector: str):
    """The last output area that contains an element matching `selector`."""
    areas = page.locator(".jp-OutputArea-output").filter(has=page.locator(selector))
    count = areas.count()
    if count == 0:
        raise AssertionError(f"no output shows {selector!r}")
    return areas.nth(count - 1)


def scatter_canvas(area):
    """The drawing canvas of the jupyter-scatter plot inside `area` (the overlay canvas has
    pointer-events none and only draws the lasso)."""
    canvas = area.locator("canvas:not([style*='pointer-events: none'])").first
    canvas.wait_for(state="visible", timeout=30_000)
    area.scroll_into_view_if_needed()   # clicks and elementFromPoint work in the viewport only
    return canvas


def image(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int16)


def pixel_spread(pixels: np.ndarray) -> tuple[float, int]:
    """(standard deviation of grey levels, number of distinct colours): ~0 and 1 when blank."""
    grey = pixels.mean(-1)
    colours = len(np.unique(pixels.reshape(-1, 3), axis=0))
    return float(grey.std()), colours


def canvas_pixels(canvas) -> np.ndarray:
    """What a 2-D canvas holds, without anything drawn over it on the page: [height, width, 3].

    jupyter-scatter renders with WebGL offscreen and copies each frame into this 2-D canvas, so
    its pixels can be read back (a WebGL canvas would read back blank).
    """
    import base64

    url = canvas.evaluate("el => el.toDataURL('image/png')")
    return image(base64.b64decode(url.split(",", 1)[1]))


def point_centres(pixels: np.ndarray, min_area: int = 4, margin: int = 8) -> list[tuple[float, float, float]]:
    """Centres (x, y) of the dots in a scatter image, with each dot's distance to the nearest
    other dot: [(x, y, isolation)], most isolated first (the safest to click). Dots cut by the
    image's edge (centre within `margin` pixels of it) are left out."""
    from scipy import ndimage

    background = np.median(pixels.reshape(-1, 3), axis=0)
    mask = np.abs(pixels - background).sum(-1) > 60
    labels, n = ndimage.label(mask)
    centres = []
    for index, (sl_y, sl_x) in enumerate(ndimage.find_objects(labels), start=1):
        area = int((labels[sl_y, sl_x] == index).sum())
        if area >= min_area:
            y, x = ndimage.center_of_mass(labels == index)
            if margin <= x < pixels.shape[1] - margin and margin <= y < pixels.shape[0] - margin:
                centres.append((float(x), float(y)))
    if not centres:
        return []
    xy = np.array(centres)
    dist = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1)) + np.eye(len(xy)) * 1e9
    isolation = dist.min(1)
    order = np.argsort(-isolation)
    return [(centres[i][0], centres[i][1], float(isolation[i])) for i in order]


def to_page(canvas, x: float, y: float) -> tuple[float, float]:
    """Canvas pixel (x, y) -> page coordinates (the canvas may be scaled by CSS)."""
    box = canvas.bounding_box()
    scale_x, scale_y = canvas.evaluate("el => [el.clientWidth / el.width, el.clientHeight / el.height]")
    return box["x"] + x * scale_x, box["y"] + y * scale_y


def clickable(page, canvas, x: float, y: float) -> bool:
    """True when the canvas itself is on top at that pixel (no legend or tooltip over it)."""
    px, py = to_page(canvas, x, y)
    return canvas.evaluate("(el, [px, py]) => document.elementFromPoint(px, py) === el", [px, py])


_TOOLTIP = """el => {
  const plot = el.parentElement.parentElement;
  for (const div of plot.querySelectorAll('div')) {
    const style = getComputedStyle(div);
    if (style.transitionProperty.includes('opacity') && Number(style.opacity) > 0.5)
      return div.innerText;
  }
  return '';
}"""


def hover(page, canvas, x: float, y: float, expect: str, timeout_s: float = 4) -> str:
    """Move onto canvas pixel (x, y) in small steps; return the plot's tooltip text once it
    matches the regex `expect` ('' if no such tooltip shows within `timeout_s`).

    The pointer first rests on an empty corner so that a tooltip left from an earlier point
    fades: a hidden tooltip keeps its old text, and its new values arrive a moment after it shows.
    """
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 2, box["y"] + box["height"] - 2)
    time.sleep(0.6)
    px, py = to_page(canvas, x, y)
    page.mouse.move(px - 12, py - 12)
    page.mouse.move(px, py, steps=6)
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        time.sleep(0.4)
        # The tooltip is the one element of the plot that fades in and out.
        text = canvas.evaluate(_TOOLTIP)
        if re.search(expect, text):
            return text
    return ""


def click_in_place(page) -> None:
    """Press and release the mouse where it rests (after `hover`).

    A click that arrives with no mouse moves before it is taken by the plot's camera as the end
    of a pan, which moves the view instead of selecting the point: hover first.
    """
    page.mouse.down()
    time.sleep(0.1)
    page.mouse.up()


def wait_for_text(locator, pattern: str, timeout_s: float = 30) -> str:
    """Wait until `locator`'s text matches the regex `pattern`; returns the text."""
    deadline = time.time() + timeout_s
    while True:
        text = locator.inner_text()
        if re.search(pattern, text):
            return text
        if time.time() > deadline:
            raise AssertionError(f"{pattern!r} did not appear within {timeout_s:.0f} s; text: {text[:300]!r}")
        time.sleep(0.5)


def screenshot(locator, path: Path) -> Path:
    """Screenshot of one output, centred in the window first (the notebook's toolbar stays
    on top of whatever is scrolled to the very top)."""
    locator.evaluate("el => el.scrollIntoView({block: 'center'})")
    time.sleep(0.3)
    return save_png(locator.screenshot(), path)


def save_png(png: bytes, path: Path) -> Path:
    """Write a screenshot atomically (a half-written PNG never replaces a committed one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".png.tmp")
    tmp.write_bytes(png)
    tmp.replace(path)
    return path
