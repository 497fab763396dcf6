"""Token heatmaps and coloured-token text, as HTML for notebooks and as static PNG figures.

    token_heatmap(tokens, relevance, title="LRP")          # displays in a notebook
    colored_tokens_html(tokens, colors, legend_html=...)   # any colours (e.g. a monitor)

Token text is always HTML-escaped. Relevance uses a diverging colour map centred on zero
(blue = against the explained logit, red = for it); the text colour flips to white on dark
backgrounds so every token stays readable.
"""
from __future__ import annotations

import html
import io
from pathlib import Path
from typing import Sequence

import numpy as np

from utils.colours import RELEVANCE_CMAP as DIVERGING_CMAP   # blue below zero, red above
from utils.validate import check_colour

_BOX = ("display:inline-block;margin:1px 0;padding:1px 2px;border-radius:3px;"
        "font-family:monospace;font-size:13px;line-height:1.5;white-space:pre")


# ---------------------------------------------------------------------------------------------
# Colours

def hex_color(rgb) -> str:
    """(r, g, b) floats in [0, 1] -> '#rrggbb'."""
    r, g, b = (int(round(255 * max(0.0, min(1.0, float(c))))) for c in rgb[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def text_color_for(background: str) -> str:
    """Black or white text, whichever reads better on `background` ('#rrggbb')."""
    r, g, b = (int(background[i:i + 2], 16) / 255 for i in (1, 3, 5))
    # relative luminance (sRGB weights); 0.5 splits light from dark backgrounds
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "#000000" if luminance > 0.5 else "#ffffff"


def relevance_colors(scores, vmax: float | None = None, cmap: str = DIVERGING_CMAP) -> list[str]:
    """One '#rrggbb' per score: -vmax -> one end of the map, 0 -> its centre, +vmax -> the other."""
    import matplotlib

    scores = _as_array(scores)
    vmax = _vmax(scores, vmax)
    colormap = matplotlib.colormaps[cmap]
    return [hex_color(colormap(0.5 + 0.5 * float(np.clip(s / vmax, -1, 1)))) for s in scores]


def _as_array(scores) -> np.ndarray:
    if hasattr(scores, "detach"):
        scores = scores.detach().float().cpu().numpy()
    scores = np.asarray(scores, dtype=float).reshape(-1)
    if not np.isfinite(scores).all():
        raise ValueError("The scores contain NaN or inf: check the attribution before plotting.")
    return scores


def vmax_without_ends(scores) -> float | None:
    """The largest |score| without the first and last token (None if nothing is left).

    Input relevance often piles up on the first token (the attention sink) and on the last one
    (where the prediction is made); a colour scale capped here keeps the other tokens visible.
    """
    middle = _as_array(scores)[1:-1]
    if middle.size == 0 or not np.abs(middle).max() > 0:
        return None
    return float(np.abs(middle).max())


def _vmax(scores: np.ndarray, vmax: float | None) -> float:
    if vmax is None:
        vmax = float(np.abs(scores).max()) if scores.size else 1.0
    return vmax if vmax > 0 else 1.0


# ---------------------------------------------------------------------------------------------
# HTML

def colored_tokens_html(tokens: Sequence[str], colors: Sequence[str], title: str | None = None,
                        tooltips: Sequence[str] | None = None, legend_html: str = "",
                        break_on_newline: bool = True) -> str:
    """Tokens as coloured boxes: one background colour ('#rrggbb') per token, escaped text.

    tooltips: optional hover text per token. legend_html: e.g. from `colorbar_html` or
    `legend_items_html`. A token containing '↵' (a newline) also ends the line.
    """
    if len(tokens) != len(colors):
        raise ValueError(f"{len(tokens)} tokens but {len(colors)} colours: give one colour per token.")
    if tooltips is not None and len(tooltips) != len(tokens):
        raise ValueError(f"{len(tokens)} tokens but {len(tooltips)} tooltips.")
    colors = [check_colour(c) for c in colors]   # a colour string lands inside a style attribute
    parts = []
    if title:
        parts.append(f'<div style="font-weight:bold;margin-bottom:4px">{html.escape(title)}</div>')
    parts.append('<div style="line-height:1.9">')
    for i, (token, color) in enumerate(zip(tokens, colors)):
        tip = f' title="{html.escape(tooltips[i], quote=True)}"' if tooltips is not None else ""
        parts.append(f'<span style="{_BOX};background:{color};color:{text_color_for(color)}"{tip}>'
                     f"{html.escape(token)}</span>")
        if break_on_newline and "↵" in token:
            parts.append("<br>")
    parts.append("</div>")
    if legend_html:
        parts.append(legend_html)
    return "".join(parts)


def colorbar_html(vmax: float = 1.0, cmap: str = DIVERGING_CMAP, low_label: str = "against",
                  high_label: str = "for", steps: int = 11, vmin: float | None = None) -> str:
    """A horizontal colour bar from vmin (default -vmax) to vmax with end labels, as HTML."""
    import matplotlib

    vmin = -vmax if vmin is None else vmin
    colormap = matplotlib.colormaps[cmap]
    stops = ", ".join(hex_color(colormap(i / (steps - 1))) for i in range(steps))
    mid = (vmin + vmax) / 2
    return ('<div style="display:flex;align-items:center;gap:6px;margin-top:6px;font-size:12px">'
            f"<span>{html.escape(low_label)} ({vmin:+.2g})</span>"
            f'<span style="display:inline-block;width:220px;height:12px;border:1px solid #888;'
            f'background:linear-gradient(to right, {stops})" title="centre = {mid:.2g}"></span>'
            f"<span>({vmax:+.2g}) {html.escape(high_label)}</span></div>")


def legend_items_html(items: Sequence[tuple[str, str]]) -> str:
    """A legend of (label, '#rrggbb') swatches, as HTML."""
    items = [(label, check_colour(c)) for label, c in items]
    spans = "".join(
        f'<span style="display:inline-flex;align-items:center;gap:4px;margin-right:12px">'
        f'<span style="display:inline-block;width:14px;height:14px;background:{c};'
        f'border:1px solid #888"></span>{html.escape(label)}</span>' for label, c in items)
    return f'<div style="margin-top:6px;font-size:12px">{spans}</div>'


# ---------------------------------------------------------------------------------------------
# Static figure

def _mpl_text(token: str) -> str:
    return token.replace("$", r"\$")   # '$' would start matplotlib's maths mode


def token_heatmap_figure(tokens: Sequence[str], scores, title: str = "", vmax: float | None = None,
                         cmap: str = DIVERGING_CMAP, chars_per_row: int = 70,
                         low_label: str = "against", high_label: str = "for"):
    """A matplotlib Figure: tokens as coloured boxes wrapped into rows, with a colour bar."""
    import matplotlib
    from matplotlib.figure import Figure

    scores = _as_array(scores)
    if len(tokens) != scores.size:
        raise ValueError(f"{len(tokens)} tokens but {scores.size} scores: give one score per token.")
    vmax = _vmax(scores, vmax)
    colors = relevance_colors(scores, vmax, cmap)
    # Lay tokens out in character cells of a monospace font (no renderer needed to measure).
    rows, row, used = [], [], 0
    for token, color in zip(tokens, colors):
        width = max(len(token), 1) + 1
        if row and used + width > chars_per_row:
            rows.append(row)
            row, used = [], 0
        row.append((token, color, used, width))
        used += width
        if "↵" in token:
            rows.append(row)
            row, used = [], 0
    if row:
        rows.append(row)
    # Sizes in inches, turned into figure fractions: rows of tokens, a title above, and the
    # colour bar with its label below.
    char_w, row_h, top, bottom = 0.1, 0.32, (0.45 if title else 0.1), 1.0
    height = row_h * len(rows) + top + bottom
    fig = Figure(figsize=(chars_per_row * char_w + 0.4, height))
    ax = fig.add_axes((0.02, bottom / height, 0.96, row_h * len(rows) / height))
    ax.set_xlim(0, chars_per_row)
    ax.set_ylim(len(rows), 0)
    ax.axis("off")
    for y, items in enumerate(rows):
        for token, color, x, width in items:
            ax.add_patch(matplotlib.patches.FancyBboxPatch(
                (x + 0.05, y + 0.1), width - 0.1, 0.8, boxstyle="round,pad=0,rounding_size=0.15",
                facecolor=color, edgecolor="none"))
            ax.text(x + width / 2, y + 0.5, _mpl_text(token), ha="center", va="center",
                    family="DejaVu Sans Mono", fontsize=9, color=text_color_for(color))
    if title:
        fig.suptitle(title, fontsize=11, y=1 - 0.12 / height, va="top")
    cax = fig.add_axes((0.3, 0.5 / height, 0.4, 0.16 / height))
    norm = matplotlib.colors.Normalize(-vmax, vmax)
    bar = fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), cax=cax,
                       orientation="horizontal")
    bar.set_label(f"relevance (blue: {low_label}, red: {high_label})", fontsize=9)
    bar.ax.tick_params(labelsize=8)
    return fig


def figure_png(fig, dpi: int = 100) -> bytes:
    """PNG bytes of a matplotlib Figure, cropped to what is drawn (for widgets and notebooks)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def show_figure(fig, dpi: int = 100) -> None:
    """Display a Figure as a PNG: works with any backend (Agg too) and reads on GitHub."""
    from IPython.display import Image, display

    display(Image(data=figure_png(fig, dpi)))


# ---------------------------------------------------------------------------------------------
# The object a notebook displays

class TokenHeatmap:
    """Relevance per token that displays as HTML, PNG (static fallback) or text.

    tokens: readable token strings [seq]; scores: [seq] relevance (any scale; the colour map is
    centred on zero and spans +-vmax, by default the largest absolute score).
    """

    def __init__(self, tokens, scores, title: str = "", vmax: float | None = None,
                 cmap: str = DIVERGING_CMAP, low_label: str = "against", high_label: str = "for"):
        self.tokens = [str(t) for t in tokens]
        self.scores = _as_array(scores)
        if len(self.tokens) != self.scores.size:
            raise ValueError(f"{len(self.tokens)} tokens but {self.scores.size} scores: give one "
                             "score per token (did you drop or keep the BOS token in only one?).")
        self.title, self.cmap = title, cmap
        self.vmax = _vmax(self.scores, vmax)
        self.low_label, self.high_label = low_label, high_label

    def html(self) -> str:
        colors = relevance_colors(self.scores, self.vmax, self.cmap)
        tips = [f"{t}: {s:+.3f}" for t, s in zip(self.tokens, self.scores)]
        legend = colorbar_html(self.vmax, self.cmap, self.low_label, self.high_label)
        return colored_tokens_html(self.tokens, colors, self.title, tips, legend)

    def figure(self, chars_per_row: int = 70):
        return token_heatmap_figure(self.tokens, self.scores, self.title, self.vmax, self.cmap,
                                    chars_per_row, self.low_label, self.high_label)

    def png(self) -> bytes:
        return figure_png(self.figure())

    def summary(self, n: int = 3) -> str:
        """One line of text: the n most positive and n most negative tokens."""
        order = np.argsort(-self.scores, kind="stable")
        fmt = lambda i: f"{self.tokens[i]!r} {self.scores[i]:+.2f}"   # noqa: E731
        top = ", ".join(fmt(i) for i in order[:n])
        bottom = ", ".join(fmt(i) for i in order[::-1][:n])
        name = f"{self.title}: " if self.title else ""
        return f"{name}{len(self.tokens)} tokens; most for: {top}; most against: {bottom}"

    def _repr_html_(self) -> str:
        return self.html()

    def _repr_png_(self) -> bytes:
        return self.png()

    def __repr__(self) -> str:
        return self.summary()


def token_heatmap(tokens, scores, title: str = "", vmax: float | None = None,
                  cmap: str = DIVERGING_CMAP, **labels) -> TokenHeatmap:
    """A TokenHeatmap; as the last line of a cell it displays itself (HTML, PNG fallback)."""
    return TokenHeatmap(tokens, scores, title, vmax, cmap, **labels)


# ---------------------------------------------------------------------------------------------
# Self-contained HTML pages (assets/)

def html_file_iframe(path, height: int = 520) -> str:
    """An <iframe> holding the whole page of `path` inline (srcdoc): works offline, no server."""
    page = Path(path).read_text(encoding="utf-8")
    return (f'<iframe srcdoc="{html.escape(page, quote=True)}" style="width:100%;height:{height}px;'
            'border:1px solid #ccc" sandbox="allow-scripts"></iframe>')


def show_html_file(path, height: int = 520, link: str | None = None) -> None:
    """Display a self-contained page inline plus a line naming it (open it in a browser too)."""
    from IPython.display import HTML, display

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing. Build it with `python tools/make_assets.py`.")
    # wrapped in a <div>: IPython warns about a bare <iframe> (it suggests IFrame, which needs
    # a server to fetch the file; srcdoc does not)
    display(HTML(f"<div>{html_file_iframe(path, height)}</div>"))
    print(f"The same page on its own (opens offline in any browser): {link or path.name}")
