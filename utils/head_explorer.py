"""Head explorer: the most relevant heads, grouped by the shape of their relevance maps.

    result = head_clusters(model, tokenizer, prompt, relevance_fn=attention_relevance)
    explorer = HeadExplorer(result)
    explorer.display()     # jupyter-scatter + the clicked head's map, then a static summary

Each of the top-k heads (by AttnLRP head relevance) contributes its [query, key] relevance map,
flattened. Heads whose maps point the same way (cosine) do similar work on this prompt: UMAP
draws them near each other in 2-D, and KMeans on the normalised maps assigns the clusters.
"""
from __future__ import annotations

import html
import math
import warnings

import numpy as np
import torch

from utils.attention_viewer import Panel
from utils.heads import select_top_heads
from utils.head_plots import ATLAS_COLOURS, HeadFigure, head_name, token_map
from utils.lrp import attnlrp
from utils.models import model_shape
from utils.plotting import figure_png, show_figure
from utils.threads import torch_threads_kept
from utils.tokens import encode, readable_tokens
from utils.validate import check_relevance_inputs


def default_k(n_layers: int, n_heads: int) -> int:
    """A quarter of all heads, at least 8 (or all heads) and at most 64 (UMAP stays quick)."""
    total = n_layers * n_heads
    return min(total, max(8, min(64, total // 4)))


def default_n_clusters(k: int) -> int:
    """About sqrt(k) clusters, between 2 and 6 (and fewer than k)."""
    return max(1, min(k - 1, 6, max(2, round(math.sqrt(k)))))


def _features(maps) -> np.ndarray:
    """[n, q, k] or [n, features] -> unit-length rows [n, features] (cosine geometry)."""
    x = torch.as_tensor(maps).detach().float().cpu()
    if x.dim() == 3:
        x = x.flatten(1)
    if x.dim() != 2:
        raise ValueError(f"maps must be [n, q, k] or [n, features], got shape {tuple(x.shape)}.")
    x = x.numpy().astype(np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    # An all-zero map has no direction; a tiny constant keeps cosine distances defined.
    x = np.where(norms > 0, x / np.maximum(norms, 1e-30), 1.0 / math.sqrt(x.shape[1]))
    return x


def cluster_heads(maps, n_clusters: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """2-D UMAP (cosine) coordinates [n, 2] and KMeans cluster labels [n] of n heads' maps.

    maps: [n, q, k] relevance maps (or already flattened [n, features]). Clusters come from
    KMeans on the unit-normalised maps, not from the 2-D picture; they are numbered by size,
    largest first, so the numbering does not depend on KMeans' random start.
    """
    from sklearn.cluster import KMeans

    x = _features(maps)
    n = x.shape[0]
    if n < 3:
        raise ValueError(f"clustering needs at least 3 heads, got {n}: increase k.")
    if not isinstance(n_clusters, int) or not 1 <= n_clusters <= n:
        raise ValueError(f"n_clusters must be between 1 and the number of heads ({n}), got {n_clusters!r}.")
    raw = KMeans(n_clusters=n_clusters, n_init=10, random_state=seed).fit_predict(x)
    sizes = np.bincount(raw, minlength=n_clusters)
    rank = {int(c): r for r, c in enumerate(np.argsort(-sizes, kind="stable"))}
    labels = np.array([rank[int(c)] for c in raw])
    return _umap_2d(x, seed), labels


def _umap_2d(x: np.ndarray, seed: int) -> np.ndarray:
    """UMAP to 2-D with cosine distance; neighbours adapted to few points; quiet; torch's thread
    count is left as it was (the fit would raise it)."""
    with warnings.catch_warnings(), torch_threads_kept():
        # umap warns that a random_state forces one thread; numba may warn while compiling.
        warnings.simplefilter("ignore")
        import umap

        n = x.shape[0]
        reducer = umap.UMAP(n_components=2, metric="cosine", n_neighbors=max(2, min(15, n - 1)),
                            min_dist=0.3, random_state=seed, init="spectral" if n > 4 else "random")
        return reducer.fit_transform(x).astype(np.float32)


def head_clusters(model, tokenizer, prompt: str, target_id: int | None = None, k: int | None = None,
                  n_clusters: int | None = None, seed: int = 0, *, relevance_fn) -> dict:
    """Top-k heads by AttnLRP relevance, their relevance maps, 2-D coordinates and clusters.

    relevance_fn(model, input_ids, target_id) -> [n_layers, n_heads, seq, seq]: the relevance
    of every attention weight (notebook 02's `attention_relevance`), run under AttnLRP here.
    target_id: the token to explain (None: the model's most likely next token).
    Returns {"heads": [(layer, head)] best first, "labels": [k], "coords": [k, 2],
    "maps": Tensor[k, seq, seq], "scores": Tensor[n_layers, n_heads], "tokens": [seq],
    "target_id": int}.
    """
    n_layers, n_heads, _ = model_shape(model)
    k = default_k(n_layers, n_heads) if k is None else k
    select_top_heads(torch.zeros(n_layers, n_heads), k)      # a bad k fails before the slow part
    ids = encode(tokenizer, prompt, model)
    if target_id is None:
        with torch.no_grad():
            target_id = int(model(ids, use_cache=False).logits[0, -1].argmax())
    check_relevance_inputs(model, ids, target_id)
    with attnlrp(model):
        maps = relevance_fn(model, ids, target_id)               # [L, H, seq, seq]
    scores = maps.sum(dim=(-2, -1))
    heads = select_top_heads(scores, k)
    n_clusters = default_n_clusters(k) if n_clusters is None else n_clusters
    head_maps = torch.stack([maps[layer, head] for layer, head in heads])
    coords, labels = cluster_heads(head_maps, n_clusters, seed)
    return {"heads": heads, "labels": labels, "coords": coords, "maps": head_maps,
            "scores": scores, "tokens": readable_tokens(tokenizer, ids), "target_id": target_id}


def describe_clusters(result: dict):
    """One row per cluster: its heads and where their relevance sits (a pandas DataFrame).

    Shares are of the cluster's summed |relevance|: on the first token (often an 'attention
    sink'), on the diagonal (a token on itself), one token back (previous-token heads), and in
    the last position's row (what the prediction reads directly); then the keys the last
    position draws most relevance from.
    """
    import pandas as pd

    maps = result["maps"].abs()
    tokens, heads, labels = result["tokens"], result["heads"], result["labels"]
    seq = maps.shape[-1]
    rows = []
    for cluster in range(int(labels.max()) + 1):
        members = [i for i in range(len(heads)) if labels[i] == cluster]
        total = maps[members].sum(0)                      # [seq, seq]
        mass = float(total.sum()) or 1.0
        last_row = total[-1]
        top = last_row.topk(min(3, seq)).indices.tolist()
        rows.append({
            "cluster": cluster,
            "heads": " ".join(head_name(*heads[i]) for i in members),
            "layers": " ".join(str(x) for x in sorted({heads[i][0] for i in members})),
            "relevance": round(sum(float(result["scores"][heads[i]]) for i in members), 3),
            "first token": round(float(total[:, 0].sum()) / mass, 2),
            "diagonal": round(float(total.diagonal().sum()) / mass, 2),
            "previous token": round(float(total.diagonal(-1).sum()) / mass, 2),
            "last row": round(float(last_row.sum()) / mass, 2),
            "last row reads": " ".join(repr(tokens[p]) for p in top),
        })
    return pd.DataFrame(rows).set_index("cluster")


def cluster_scatter_figure(result: dict, title: str):
    """Static 2-D map of the heads: colour = cluster, each point named L<layer>H<head>."""
    from matplotlib.lines import Line2D

    coords, labels, heads = result["coords"], result["labels"], result["heads"]
    fig = HeadFigure(figsize=(7, 5.5))
    ax = fig.subplots()
    colours = [ATLAS_COLOURS[int(c) % len(ATLAS_COLOURS)] for c in labels]
    ax.scatter(coords[:, 0], coords[:, 1], c=colours, s=60, edgecolors="black", linewidths=0.4)
    for (x, y), (layer, head) in zip(coords, heads):
        ax.annotate(head_name(layer, head), (x, y), fontsize=7, xytext=(3, 3),
                    textcoords="offset points")
    ax.legend(handles=[Line2D([], [], marker="o", linestyle="", color=ATLAS_COLOURS[c % len(ATLAS_COLOURS)],
                              label=f"cluster {c}") for c in range(int(labels.max()) + 1)],
              loc="best", fontsize=8, title="KMeans cluster")
    ax.set_xlabel("UMAP 1")
    ax.set_ylabel("UMAP 2")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def cluster_maps_figure(result: dict, title: str):
    """Mean relevance map of each cluster (each scaled to its own largest value), side by side."""
    labels, maps, tokens = result["labels"], result["maps"], result["tokens"]
    n_clusters = int(labels.max()) + 1
    # One map per row, about 0.15 inch per token: every token label stays readable (7 pt) at
    # the width a notebook displays the figure, instead of a grid of small maps.
    columns = 1
    rows = n_clusters
    side = min(6.5, 2.5 + 0.12 * len(tokens))   # capped: six maps of a long prompt stay a few hundred KB
    fig = HeadFigure(figsize=(side + 1.6, rows * (side + 0.4)))
    axes = np.atleast_1d(fig.subplots(rows, columns)).flatten()
    for cluster in range(n_clusters):
        members = torch.as_tensor(labels == cluster)
        mean = maps[members].mean(0)
        mean = mean / mean.abs().max().clamp_min(1e-12)
        token_map(mean, tokens, f"cluster {cluster} ({int(members.sum())} heads), scaled",
                  kind="relevance", ax=axes[cluster], max_label_tokens=60)
    for ax in axes[n_clusters:]:
        ax.set_visible(False)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.5 / fig.get_figheight()))   # room for the suptitle
    return fig


def _padded_range(values, margin: float = 0.12) -> tuple[float, float]:
    lo, hi = float(values.min()), float(values.max())
    pad = margin * (hi - lo) if hi > lo else 1.0
    return lo - pad, hi + pad


class HeadExplorer:
    """jupyter-scatter of the clustered heads; clicking a head shows its relevance map beside it."""

    def __init__(self, result: dict, color_by: str = "cluster"):
        import ipywidgets as widgets
        import pandas as pd

        with warnings.catch_warnings():
            # jupyter-scatter 1.0.1 loads its fonts with a pandas argument pandas 3.1 deprecates
            warnings.simplefilter("ignore")
            import jscatter

        self.result = result
        heads = result["heads"]
        self.table = pd.DataFrame({
            "x": result["coords"][:, 0], "y": result["coords"][:, 1],
            "head": [head_name(layer, head) for layer, head in heads],
            "layer": pd.Categorical([str(layer) for layer, _ in heads],
                                    categories=sorted({str(layer) for layer, _ in heads}, key=int)),
            "cluster": pd.Categorical([str(c) for c in result["labels"]],
                                      categories=[str(c) for c in range(int(result["labels"].max()) + 1)]),
            "relevance": [float(result["scores"][layer, head]) for layer, head in heads],
        })
        # a margin around the points, so none sits cut off at the canvas edge
        x_domain, y_domain = (_padded_range(self.table[axis]) for axis in ("x", "y"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.scatter = jscatter.Scatter(data=self.table, x="x", y="y", width=440, height=380, size=9,
                                            x_scale=x_domain, y_scale=y_domain,
                                            tooltip=True, legend=True,
                                            tooltip_properties=["head", "cluster", "layer", "relevance"])
        self.color_choice = widgets.ToggleButtons(options=["cluster", "layer"], value=color_by,
                                                  description="colour by")
        self.color_choice.observe(lambda change: self.recolour(change["new"]), names="value")
        self.recolour(color_by)
        self.caption = widgets.HTML()
        self.image = widgets.Image(format="png", width=560)
        self.selected: int | None = None
        self.show_head(0)   # the most relevant head until the learner clicks another
        self.scatter.widget.observe(self._on_selection, names="selection")
        self.widget = Panel([widgets.HBox([
            widgets.VBox([self.color_choice, self.scatter.show()],
                         layout=widgets.Layout(min_width="460px")),
            widgets.VBox([self.caption, self.image]),
        ])], summary=f"[head explorer: {len(heads)} heads in "
                     f"{len(self.table['cluster'].cat.categories)} clusters]")

    def recolour(self, by: str) -> None:
        if by not in ("cluster", "layer"):
            raise ValueError(f"colour by 'cluster' or 'layer', not {by!r}.")
        self.scatter.color(by=by, map=ATLAS_COLOURS[: len(self.table[by].cat.categories)])

    def _on_selection(self, change) -> None:
        picked = list(np.asarray(change["new"]).reshape(-1))
        if picked:
            self.show_head(int(picked[0]))

    def describe(self, index: int) -> str:
        layer, head = self.result["heads"][index]
        return (f"Layer {layer}, head {head} (cluster {int(self.result['labels'][index])}): "
                f"relevance {float(self.result['scores'][layer, head]):.3g}. Click another point "
                "to compare.")

    def show_head(self, index: int) -> None:
        """Draw the relevance map of the `index`-th head (the scatter's selection calls this)."""
        if not 0 <= index < len(self.result["heads"]):
            raise ValueError(f"there are {len(self.result['heads'])} heads; index {index} does not exist.")
        self.selected = index
        layer, head = self.result["heads"][index]
        fig = token_map(self.result["maps"][index], self.result["tokens"],
                        f"Relevance map of layer {layer}, head {head}", kind="relevance")
        self.image.value = figure_png(fig, dpi=100)
        self.caption.value = html.escape(self.describe(index))

    def display(self) -> None:
        """The widget, then the static summary (visible without a kernel, e.g. on GitHub)."""
        from IPython.display import display

        display(self.widget)
        print("Static view (also readable without a running kernel):")
        show_figure(cluster_scatter_figure(self.result, "The most relevant heads, placed by the "
                                                    "shape of their relevance maps"))
        display(describe_clusters(self.result))
