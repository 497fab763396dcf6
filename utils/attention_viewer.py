"""Attention viewer: pick a layer and a head with sliders, see that head's attention map.

    viewer = attention_viewer(model, tokenizer, prompt)
    viewer.display()          # the widget, then a static overview for readers without a kernel

The map is rendered to PNG in Python (an ipywidgets.Image), so the viewer works wherever
ipywidgets do (JupyterLab, Colab, VS Code) without any JavaScript of its own.
"""
from __future__ import annotations

import html

import ipywidgets as widgets
import torch

from utils.head_plots import last_query_overview, token_map
from utils.plotting import figure_png, show_figure
from utils.models import model_shape
from utils.tokens import encode, readable_tokens
from utils.validate import check_head_pairs


def attention_maps(model, input_ids) -> torch.Tensor:
    """Attention weights of every head: input_ids [1, seq] -> [n_layers, n_heads, seq, seq]."""
    with torch.no_grad():
        out = model(input_ids, use_cache=False, output_attentions=True)
    if not out.attentions or out.attentions[0] is None:
        raise RuntimeError("The model returned no attention weights. Load it with "
                           "attn_implementation='eager' (utils.models.load_model does).")
    return torch.stack([a[0].float().cpu() for a in out.attentions])


def top_keys(row: torch.Tensor, tokens: list[str], n: int = 3) -> list[tuple[int, str, float]]:
    """The `n` keys with the largest values in one query row: (position, token, value)."""
    values, positions = row.topk(min(n, row.numel()))
    return [(int(p), tokens[int(p)], float(v)) for v, p in zip(values, positions)]


class Panel(widgets.VBox):
    """A VBox whose text form is a short fixed summary (the default repr would show image bytes)."""

    def __init__(self, children, summary: str, **kwargs):
        super().__init__(children, **kwargs)
        self.summary = summary

    def __repr__(self) -> str:
        return self.summary


class AttentionViewer:
    """Layer and head sliders over precomputed attention maps [n_layers, n_heads, seq, seq]."""

    def __init__(self, maps: torch.Tensor, tokens: list[str], layer: int = 0, head: int = 0):
        if maps.dim() != 4 or maps.shape[-1] != len(tokens):
            raise ValueError(f"maps must be [n_layers, n_heads, seq, seq] with seq = {len(tokens)} "
                             f"tokens, got {tuple(maps.shape)}.")
        self.maps, self.tokens = maps, tokens
        n_layers, n_heads = maps.shape[:2]
        self._check_index(layer, head)
        self.layer_slider = widgets.IntSlider(value=layer, min=0, max=n_layers - 1,
                                              description="layer", continuous_update=False)
        self.head_slider = widgets.IntSlider(value=head, min=0, max=n_heads - 1,
                                             description="head", continuous_update=False)
        self.caption = widgets.HTML()
        self.image = widgets.Image(format="png")
        self.widget = Panel([widgets.HBox([self.layer_slider, self.head_slider]),
                             self.caption, self.image],
                            summary=f"[attention viewer: {n_layers} layers x {n_heads} heads]")
        self._updating = False
        for slider in (self.layer_slider, self.head_slider):
            slider.observe(self._on_slider, names="value")
        self.show(layer, head)

    def _check_index(self, layer: int, head: int) -> None:
        n_layers, n_heads = self.maps.shape[:2]
        if not (0 <= layer < n_layers and 0 <= head < n_heads):
            raise ValueError(f"layer {layer}, head {head} does not exist: this model has layers "
                             f"0..{n_layers - 1} and heads 0..{n_heads - 1}.")
        check_head_pairs([(layer, head)], n_layers, n_heads)    # and whole numbers: 1.0 too

    def describe(self, layer: int, head: int) -> str:
        """One line: where the last position of this head looks most."""
        looks = ", ".join(f"{tok!r} ({value:.2f})"
                          for _, tok, value in top_keys(self.maps[layer, head, -1], self.tokens))
        return f"Layer {layer}, head {head}: the last position looks most at {looks}."

    def _on_slider(self, _change) -> None:
        if not self._updating:   # show() moves both sliders itself and draws once
            self._render()

    def _render(self) -> None:
        layer, head = self.layer_slider.value, self.head_slider.value
        fig = token_map(self.maps[layer, head], self.tokens,
                        f"Attention of layer {layer}, head {head}", kind="attention")
        self.image.value = figure_png(fig, dpi=80)
        self.caption.value = html.escape(self.describe(layer, head))

    def show(self, layer: int, head: int) -> None:
        """Move the sliders to (layer, head) and draw that head's map."""
        self._check_index(layer, head)
        self._updating = True
        try:
            self.layer_slider.value, self.head_slider.value = layer, head
        finally:
            self._updating = False
        self._render()

    def static_overview(self):
        """A figure of every head's last-position attention (the static fallback)."""
        return last_query_overview(self.maps, self.tokens,
                                   "Where the last position looks, in every head")

    def display(self) -> None:
        """Show the widget, then the static overview and a text line (visible without a kernel)."""
        from IPython.display import display

        display(self.widget)
        print("Static view (also readable without a running kernel):")
        print(self.describe(self.layer_slider.value, self.head_slider.value))
        show_figure(self.static_overview())


def attention_viewer(model, tokenizer, prompt: str, layer: int = 0, head: int = 0) -> AttentionViewer:
    """Viewer of the attention maps of `prompt` ([n_layers x n_heads] maps of seq x seq)."""
    ids = encode(tokenizer, prompt, model)
    n_layers, n_heads, _ = model_shape(model)
    if not (0 <= layer < n_layers and 0 <= head < n_heads):
        raise ValueError(f"layer {layer}, head {head} does not exist: this model has layers "
                         f"0..{n_layers - 1} and heads 0..{n_heads - 1}.")
    check_head_pairs([(layer, head)], n_layers, n_heads)        # and whole numbers: 1.0 too
    return AttentionViewer(attention_maps(model, ids), readable_tokens(tokenizer, ids), layer, head)
