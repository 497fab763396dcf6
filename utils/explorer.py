"""Interactive top-k relevance explorer (ipywidgets): which input tokens drive each candidate?

    explorer = RelevanceExplorer(model, tokenizer, DUST_PROMPT, k=5, relevance_fn=lrp_relevance)
    explorer.show()          # the widget, plus a static snapshot for readers without a kernel

Type a prompt, choose k, press "Predict": the k most likely next tokens appear with their
probabilities. Click one to see its relevance heatmap; pick a foil among the others to explain
logit(target) - logit(foil) instead. Every callback is a plain method (`predict`, `select`,
`set_foil`), so tests and scripts drive the explorer without a browser.
"""
from __future__ import annotations

import html

import ipywidgets as widgets

from utils.attribution import top_k_predictions
from utils.plotting import TokenHeatmap, vmax_without_ends
from utils.tokens import encode, readable_tokens
from utils.validate import check_int_in_range, check_prompt

NO_FOIL = -1
MAX_K = 10


class RelevanceExplorer:
    """Widgets and state of the explorer; `relevance_fn(model, ids, target_id, foil_id)` -> [seq]."""

    def __init__(self, model, tokenizer, prompt: str = "", k: int = 5, *, relevance_fn,
                 method_name: str = "LRP"):
        if prompt != "":
            check_prompt(prompt)   # before the text box: it would raise a raw TraitError
        self.model, self.tokenizer = model, tokenizer
        self.relevance_fn, self.method_name = relevance_fn, method_name
        self.predictions: list = []
        self.input_ids = None
        self.heatmap: TokenHeatmap | None = None
        self._cache: dict = {}

        self.prompt_box = widgets.Textarea(value=prompt, description="Prompt",
                                           layout=widgets.Layout(width="98%", height="90px"))
        k = check_int_in_range(k, 1, MAX_K, "k",
                               f"The explorer lists between 1 and {MAX_K} next tokens.")
        self._snapshot_handle = None
        self.k_slider = widgets.IntSlider(value=k, min=1, max=MAX_K,
                                          description="top-k")
        self.predict_button = widgets.Button(description="Predict", button_style="primary")
        self.choices = widgets.RadioButtons(options=[], description="Explain")
        self.foil_menu = widgets.Dropdown(options=[("none", NO_FOIL)], value=NO_FOIL,
                                          description="Foil")
        self.cap_box = widgets.Checkbox(value=True, indent=False,
                                        description="colour scale without first and last token")
        self.status = widgets.HTML()
        self.view = widgets.HTML()

        self.predict_button.on_click(lambda _button: self.predict())
        self.choices.observe(self._on_choice, names="value")
        self.foil_menu.observe(self._on_foil, names="value")
        self.cap_box.observe(self._on_foil, names="value")
        self.widget = widgets.VBox([
            self.prompt_box,
            widgets.HBox([self.k_slider, self.predict_button]),
            widgets.HBox([self.choices, widgets.VBox([self.foil_menu, self.cap_box])]),
            self.status, self.view])
        if prompt.strip():
            self.predict()

    # -- callbacks (drivable from Python) ---------------------------------------------------
    def predict(self) -> None:
        """Read prompt and k, list the top-k next tokens, and explain the most likely one."""
        try:
            self.input_ids = encode(self.tokenizer, self.prompt_box.value, self.model)
            self.predictions = top_k_predictions(self.model, self.tokenizer, self.input_ids,
                                                 int(self.k_slider.value))
        except (ValueError, TypeError) as err:
            self.predictions, self.input_ids, self.heatmap = [], None, None
            self._set_options([])
            self._message(str(err), error=True)
            self.view.value = ""
            self._refresh_snapshot()
            return
        self._set_options(self.predictions)
        self.render()

    def select(self, index: int) -> None:
        """Explain the prediction at `index` (0 = most likely)."""
        self._require_predictions()
        if not 0 <= index < len(self.predictions):
            raise ValueError(f"Choose a prediction between 0 and {len(self.predictions) - 1}.")
        self.choices.value = index   # the observer renders

    def set_foil(self, index: int | None) -> None:
        """Contrast with the prediction at `index` (None: no foil, explain the logit alone)."""
        self._require_predictions()
        value = NO_FOIL if index is None else index
        if value != NO_FOIL and not 0 <= value < len(self.predictions):
            raise ValueError(f"Choose a foil between 0 and {len(self.predictions) - 1}, or None.")
        self.foil_menu.value = value

    def index_of(self, token: str) -> int:
        """Position of a readable token (e.g. '␣Paris') among the current predictions."""
        self._require_predictions()
        for i, p in enumerate(self.predictions):
            if p.token == token:
                return i
        shown = ", ".join(repr(p.token) for p in self.predictions)
        raise ValueError(f"{token!r} is not among the top-{len(self.predictions)} predictions "
                         f"({shown}): raise top-k or pick one of these.")

    def render(self) -> None:
        """Compute (or reuse) the relevance of the chosen target (minus the foil) and show it."""
        if not self.predictions:
            return
        target = self.predictions[self.choices.value]
        foil_index = self.foil_menu.value
        if foil_index == self.choices.value:
            self._message("The foil is the target itself: pick a different foil (or none).",
                          error=True)
            self.view.value, self.heatmap = "", None
            return
        foil = None if foil_index == NO_FOIL else self.predictions[foil_index]
        key = (self.prompt_box.value, target.token_id, foil.token_id if foil else None)
        if key not in self._cache:
            self._cache[key] = self.relevance_fn(self.model, self.input_ids, target.token_id,
                                                 foil.token_id if foil else None)
        relevance = self._cache[key]
        # quoted, so a token such as '1' reads as the token, not as an index
        explained = f"logit({target.token!r})" + (f" - logit({foil.token!r})" if foil else "")
        value = target.logit - (foil.logit if foil else 0.0)
        # First and last token often dominate; capping the scale there keeps the rest visible
        # (clipped tokens show in the darkest colour, their values in the tooltip).
        vmax = vmax_without_ends(relevance) if self.cap_box.value else None
        self.heatmap = TokenHeatmap(readable_tokens(self.tokenizer, self.input_ids), relevance,
                                    title=f"{self.method_name} relevance for {explained}", vmax=vmax)
        self._message(f"Explaining {explained} = {value:.2f}; the relevance sums to "
                      f"{float(relevance.sum()):.2f}.")
        self.view.value = self.heatmap.html()
        self._refresh_snapshot()

    # -- static output ------------------------------------------------------------------------
    def snapshot_html(self) -> str:
        """What the explorer shows now, as plain HTML (no kernel or widget manager needed)."""
        rows = "".join(
            f"<tr><td>{i}</td><td><code>{html.escape(p.token)}</code></td>"
            f"<td style='text-align:right'>{100 * p.probability:.1f} %</td></tr>"
            for i, p in enumerate(self.predictions))
        table = ("<table><tr><th>#</th><th>next token</th><th>probability</th></tr>"
                 f"{rows}</table>") if rows else ""
        shown = self.tokenizer.decode(self.input_ids[0], skip_special_tokens=True) \
            if self.input_ids is not None else ""
        prompt = (f"<div style='white-space:pre-wrap;font-family:monospace;font-size:12px'>"
                  f"Prompt: {html.escape(shown)}</div>") if shown else "<div>No prompt yet.</div>"
        return (f"<div><b>Explorer snapshot</b> (static copy of the view above, for the prompt "
                f"below; it follows the widget while the kernel runs)</div>{prompt}{table}"
                f"<div>{self.status.value}</div>{self.view.value}")

    def show(self) -> None:
        """Display the widget, then the static snapshot as a normal output that follows it."""
        from IPython.display import HTML, display

        display(self.widget)
        self._snapshot_handle = display(HTML(self.snapshot_html()), display_id=True)

    # -- internals ---------------------------------------------------------------------------
    def _set_options(self, predictions) -> None:
        # Replace options without triggering a render per change; render once afterwards.
        self.choices.unobserve(self._on_choice, names="value")
        self.foil_menu.unobserve(self._on_foil, names="value")
        # the browser collapses runs of spaces: brackets keep token and probability apart
        self.choices.options = [(f"{p.token}  ({100 * p.probability:.1f} %)", i)
                                for i, p in enumerate(predictions)]
        self.choices.value = 0 if predictions else None
        self.foil_menu.options = [("none", NO_FOIL)] + [(p.token, i) for i, p in enumerate(predictions)]
        self.foil_menu.value = NO_FOIL
        self.choices.observe(self._on_choice, names="value")
        self.foil_menu.observe(self._on_foil, names="value")

    def _on_choice(self, change) -> None:
        if change["new"] is not None:
            self.render()

    def _on_foil(self, change) -> None:
        self.render()

    def _message(self, text: str, error: bool = False) -> None:
        color = "#b00020" if error else "#333333"
        self.status.value = f'<span style="color:{color}">{html.escape(text)}</span>'

    def _refresh_snapshot(self) -> None:
        if self._snapshot_handle is not None:
            from IPython.display import HTML
            self._snapshot_handle.update(HTML(self.snapshot_html()))

    def _require_predictions(self) -> None:
        if not self.predictions:
            raise ValueError("No predictions yet: type a prompt and press Predict first.")
