"""Figures about attention heads: sorted relevance bars, the head atlas, token-labelled maps.

Every function draws on a matplotlib Figure built without pyplot (so nothing is shown twice
in a notebook) and returns it. The figures display themselves as PNG with `display(fig)` under
any matplotlib backend (also Agg, as in tests); `utils.plotting.figure_png` gives the bytes
for widgets.
"""
from __future__ import annotations

import textwrap

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from utils.colours import (ATTENTION_CMAP, GROUPS as ATLAS_COLOURS, NEUTRAL, OPPOSES,
                           RELEVANCE_CMAP, SUPPORTS)
from utils.plotting import figure_png


class HeadFigure(Figure):
    """A Figure that renders itself as PNG when a notebook displays it, whatever the backend."""

    def _repr_png_(self) -> bytes:
        return figure_png(self)


def head_name(layer: int, head: int) -> str:
    return f"L{layer}H{head}"


def _label(token: str) -> str:
    return token.replace("$", r"\$")   # a bare '$' would start matplotlib's maths mode


def _as_grid(scores) -> np.ndarray:
    grid = torch.as_tensor(scores).detach().float().cpu().numpy()
    if grid.ndim != 2:
        raise ValueError(f"head scores must have shape [n_layers, n_heads], got {grid.shape}.")
    return grid


def head_bar_chart(head_scores, title: str, n_labels: int = 12) -> Figure:
    """Sorted bars of every head's relevance [n_layers, n_heads] and the cumulative share.

    Left: heads sorted by |relevance|, bar colour = sign, the strongest `n_labels` named.
    Right: share of the total |relevance| held by the top x% of heads (the diagonal would be
    an even spread).
    """
    grid = _as_grid(head_scores)
    n_layers, n_heads = grid.shape
    flat = grid.flatten()
    order = np.argsort(-np.abs(flat), kind="stable")
    values = flat[order]
    fig = HeadFigure(figsize=(12, 4))
    ax, ax_share = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2.4, 1]})
    colours = np.where(values >= 0, SUPPORTS, OPPOSES)
    ax.bar(np.arange(len(values)), values, color=colours, width=0.85)
    ax.axhline(0, color="black", linewidth=0.6)
    shown = min(n_labels, len(values))
    ax.set_xticks(np.arange(shown))
    ax.set_xticklabels([head_name(*divmod(int(i), n_heads)) for i in order[:shown]],
                       rotation=90, fontsize=8)
    ax.set_xlabel(f"heads sorted by |relevance| (the strongest {shown} named)")
    ax.set_ylabel("head relevance")
    ax.set_title(title)
    ax.legend(handles=[Line2D([], [], color=SUPPORTS, lw=6, label="supports the target"),
                       Line2D([], [], color=OPPOSES, lw=6, label="speaks against it")],
              loc="upper right", fontsize=8)

    magnitude = np.abs(values)
    share = np.cumsum(magnitude) / max(magnitude.sum(), 1e-12)
    fraction = np.arange(1, len(values) + 1) / len(values)
    ax_share.plot(100 * fraction, 100 * share, color="black", label="this prompt")
    ax_share.plot([0, 100], [0, 100], color=NEUTRAL, linestyle="--", label="even spread")
    ax_share.set_xlabel("top heads (% of all heads)")
    ax_share.set_ylabel("share of total |relevance| (%)")
    ax_share.set_title("How concentrated is relevance?")
    ax_share.legend(loc="lower right", fontsize=8)
    ax_share.set_xlim(0, 100)
    ax_share.set_ylim(0, 101)
    fig.tight_layout()
    return fig


def head_atlas(scores_by_type: dict, title: str, top_k: int | None = None,
               legend_title: str = "head type", colours: dict | None = None) -> Figure:
    """Layer x head grid: x = head, y = layer (layer 0 on top), dot size = score, colour = type.

    scores_by_type: {"task heads": Tensor[n_layers, n_heads], ...}. Only positive scores are
    drawn; sizes are relative to each type's strongest head (types may use different units).
    top_k: draw only each type's k strongest heads (None: all with a positive score).
    legend_title: e.g. "cluster" when the types are clusters.
    colours: optional {type name: colour} (e.g. utils.colours.MEMORY for memory heads), so a
    type keeps the colour it has in the course's other figures; others cycle ATLAS_COLOURS.
    """
    if not scores_by_type:
        raise ValueError("scores_by_type is empty: pass e.g. {'task heads': scores}.")
    grids = {name: _as_grid(s) for name, s in scores_by_type.items()}
    shapes = {g.shape for g in grids.values()}
    if len(shapes) != 1:
        raise ValueError(f"all score grids must have the same [n_layers, n_heads] shape, got {shapes}.")
    n_layers, n_heads = shapes.pop()
    fig = HeadFigure(figsize=(max(5.0, 0.32 * n_heads + 3), max(3.0, 0.32 * n_layers + 1.5)))
    ax = fig.subplots()
    drawn = {}
    for name, grid in grids.items():
        positive = np.clip(grid, 0, None)
        if top_k is not None and 0 < top_k < positive.size:
            cutoff = np.sort(positive.flatten())[-top_k]
            positive = np.where(positive >= cutoff, positive, 0)
        drawn[name] = positive
    # A head of two types is drawn twice, side by side; other heads sit on their grid point.
    shared = sum((p > 0).astype(int) for p in drawn.values()) > 1
    offsets = np.linspace(-0.18, 0.18, len(drawn)) if len(drawn) > 1 else [0.0]
    handles = []
    for i, (name, positive) in enumerate(drawn.items()):
        colour = (colours or {}).get(name, ATLAS_COLOURS[i % len(ATLAS_COLOURS)])
        layers, heads = np.nonzero(positive > 0)
        sizes = 300 * positive[layers, heads] / max(positive.max(), 1e-12)
        x = heads + np.where(shared[layers, heads], offsets[i], 0.0)
        ax.scatter(x, layers, s=sizes, color=colour, alpha=0.7, edgecolors="black", linewidths=0.4)
        handles.append(Line2D([], [], marker="o", linestyle="", markersize=9, color=colour,
                              markeredgecolor="black", label=f"{name} ({len(layers)})"))
    ax.set_xlim(-0.7, n_heads - 0.3)
    ax.set_ylim(n_layers - 0.5, -0.5)   # layer 0 on top
    ax.set_xticks(range(n_heads))
    ax.set_yticks(range(n_layers))
    if n_heads > 16:
        ax.tick_params(axis="x", labelsize=6)
    ax.grid(True, color="#eeeeee", zorder=0)
    ax.set_axisbelow(True)
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    # Wrapped to the figure's width, so a long title is never clipped at the edges.
    kind = legend_title.removeprefix("head ")
    width = max(30, int(fig.get_figwidth() * 9))
    ax.set_title(textwrap.fill(title, width) + "\n" + textwrap.fill(
        f"(dot size = score relative to the strongest head of its {kind})", width), fontsize=11)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8,
              title=legend_title)
    fig.tight_layout()
    return fig


def token_map(matrix, tokens: list[str], title: str, kind: str = "attention",
              ax=None, max_label_tokens: int = 80) -> Figure:
    """Heatmap of one head's [query, key] map with token labels on both axes.

    kind: "attention" (weights in [0, 1], white to dark) or "relevance" (signed, red = for the
    target, blue = against, centred on 0). Positions a query cannot see (key after query) stay
    blank.
    """
    values = torch.as_tensor(matrix).detach().float().cpu().numpy()
    n = len(tokens)
    if values.shape != (n, n):
        raise ValueError(f"the map has shape {values.shape} but there are {n} tokens.")
    if kind not in ("attention", "relevance"):
        raise ValueError(f"kind must be 'attention' or 'relevance', not {kind!r}.")
    masked = np.ma.masked_where(np.triu(np.ones((n, n), dtype=bool), k=1), values)
    if ax is None:
        side = min(11.0, 2.5 + 0.16 * n)
        fig = HeadFigure(figsize=(side + 1.2, side))
        ax = fig.subplots()
    else:
        fig = ax.figure
    if kind == "attention":
        image = ax.imshow(masked, cmap=ATTENTION_CMAP, vmin=0, vmax=max(float(values.max()), 1e-12),
                          interpolation="nearest")   # one flat cell per token pair, no blur
        label = "attention weight"
    else:
        bound = max(float(np.abs(values).max()), 1e-12)
        image = ax.imshow(masked, cmap=RELEVANCE_CMAP, vmin=-bound, vmax=bound, interpolation="nearest")
        label = "relevance (red: for the target, blue: against)"
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.02, label=label)
    if n <= max_label_tokens:
        font = 7 if n <= 60 else 5
        ax.set_xticks(range(n))
        ax.set_xticklabels([_label(t) for t in tokens], rotation=90, fontsize=font)
        ax.set_yticks(range(n))
        ax.set_yticklabels([_label(t) for t in tokens], fontsize=font)
    ax.set_xlabel("key (the token looked at)")
    ax.set_ylabel("query (the token looking)")
    ax.set_title(title)
    return fig


def last_query_overview(maps, tokens: list[str], title: str, kind: str = "attention") -> Figure:
    """Where the last position looks in every head: rows = heads (L0H0 ... ), columns = keys.

    maps: [n_layers, n_heads, seq, seq]; the last query row of each head is drawn.
    """
    maps = torch.as_tensor(maps).detach().float().cpu()
    n_layers, n_heads, seq, _ = maps.shape
    if len(tokens) != seq:
        raise ValueError(f"the maps cover {seq} tokens but {len(tokens)} token labels were given.")
    rows = maps[:, :, -1, :].reshape(n_layers * n_heads, seq).numpy()
    fig = HeadFigure(figsize=(min(14.0, 3 + 0.2 * seq), min(14.0, 1.5 + 0.12 * n_layers * n_heads)))
    ax = fig.subplots()
    if kind == "attention":
        image = ax.imshow(rows, cmap=ATTENTION_CMAP, vmin=0, vmax=max(float(rows.max()), 1e-12),
                          aspect="auto", interpolation="nearest")
        label = "attention weight of the last position"
    else:
        bound = max(float(np.abs(rows).max()), 1e-12)
        image = ax.imshow(rows, cmap=RELEVANCE_CMAP, vmin=-bound, vmax=bound, aspect="auto",
                          interpolation="nearest")
        label = "relevance (red: for the target, blue: against)"
    fig.colorbar(image, ax=ax, fraction=0.03, pad=0.02, label=label)
    ax.set_xticks(range(seq))
    ax.set_xticklabels([_label(t) for t in tokens], rotation=90, fontsize=7 if seq <= 60 else 5)
    # Every row named by its head (L2H5) while that stays readable; beyond 64 rows one tick per
    # layer, in the middle of its heads. Thin lines separate the layers.
    if n_layers * n_heads <= 64:
        ax.set_yticks(range(n_layers * n_heads))
        ax.set_yticklabels([head_name(layer, head) for layer in range(n_layers)
                            for head in range(n_heads)], fontsize=7)
    else:
        ax.set_yticks([layer * n_heads + (n_heads - 1) / 2 for layer in range(n_layers)])
        ax.set_yticklabels([f"layer {layer}" for layer in range(n_layers)], fontsize=7)
    for layer in range(1, n_layers):
        ax.axhline(layer * n_heads - 0.5, color=NEUTRAL, linewidth=0.6)
    ax.set_xlabel("key (the token looked at)")
    ax.set_ylabel(f"heads, layer by layer ({n_heads} per layer)")
    ax.set_title(title)
    fig.tight_layout()
    return fig
