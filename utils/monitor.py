"""A monitor that reads head relevance and says: context or memory?

    monitor = fit_monitor(features, labels)          # LDA with shrinkage; 1 = parametric
    p = monitor.predict_proba(token_features)[:, 1]  # per token, probability of "memory"
    display(HTML(monitor_html(tokens, p)))           # blue = contextual, red = parametric
    score_against_truth(p > 0.5, truth)              # accuracy next to a majority baseline

Features are head relevances of chosen heads, each token's vector divided by its total absolute
relevance (`normalise_relevance`): relevance scales with the explained logit, and the monitor
should compare *where* relevance goes, not how confident the model was.
"""
from __future__ import annotations

import html
from collections import Counter

import numpy as np
import torch

from utils.validate import check_finite, check_head_pairs, check_probabilities, check_same_length

PARAMETRIC, CONTEXTUAL = 1, 0
from utils.colours import CONTEXT as BLUE, MEMORY as RED   # ends of the colour scale


def normalise_relevance(relevance: torch.Tensor) -> torch.Tensor:
    """[..., n_layers, n_heads] -> same shape, each [L, H] block divided by its total |relevance|."""
    total = relevance.abs().sum(dim=(-2, -1), keepdim=True).clamp_min(1e-12)
    return relevance / total


def head_features(relevance: torch.Tensor, heads: list[tuple[int, int]]) -> np.ndarray:
    """[n, n_layers, n_heads] -> [n, len(heads)]: the chosen heads' normalised relevance."""
    relevance = check_finite(relevance, "relevance")
    if relevance.dim() != 3:
        raise ValueError(f"relevance must be [n, n_layers, n_heads], got shape "
                         f"{tuple(relevance.shape)}.")
    heads = check_head_pairs(heads, relevance.shape[1], relevance.shape[2])
    relevance = normalise_relevance(relevance.float())
    layers = torch.tensor([layer for layer, _ in heads])
    head_ids = torch.tensor([head for _, head in heads])
    return relevance[:, layers, head_ids].cpu().numpy().astype(np.float64)


def fit_monitor(features: np.ndarray, labels: np.ndarray):
    """LDA with automatic (Ledoit-Wolf) shrinkage: stable with few samples and many features."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    labels = np.asarray(labels)
    if len(set(labels.tolist())) < 2:
        raise ValueError("The monitor needs examples of both classes (parametric and contextual).")
    return LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(features, labels)


def score_against_truth(predicted_parametric, truth_parametric, scores=None) -> dict:
    """Accuracy of boolean predictions [n] against the known source [n], with baselines.

    Returns accuracy, the majority-class baseline (always answer the more frequent source),
    balanced accuracy (mean recall of the two classes: 0.5 for any constant guess) and counts.
    scores: optional [n] p(memory); adds ROC AUC (0.5 = no better than chance at ranking, below
    0.5 = ranks the wrong way round), which needs no threshold.
    """
    pred = np.asarray(predicted_parametric, dtype=bool).reshape(-1)
    truth = np.asarray(truth_parametric, dtype=bool).reshape(-1)
    if pred.shape != truth.shape or pred.size == 0:
        raise ValueError(f"Need one prediction per token: got {pred.size} predictions for "
                         f"{truth.size} known sources.")
    majority = max(truth.mean(), 1 - truth.mean())
    recalls = [float((pred[truth == c] == c).mean()) for c in (True, False) if (truth == c).any()]
    result = {"accuracy": float((pred == truth).mean()), "majority baseline": float(majority),
              "balanced accuracy": float(np.mean(recalls))}
    if scores is not None:
        from sklearn.metrics import roc_auc_score

        scores = np.asarray(scores, dtype=float).reshape(-1)
        if scores.shape != truth.shape:
            raise ValueError(f"Need one score per token: got {scores.size} for {truth.size}.")
        both = truth.any() and (~truth).any()
        result["ROC AUC"] = float(roc_auc_score(truth, scores)) if both else float("nan")
    result.update({"tokens": int(truth.size), "memory tokens": int(truth.sum()),
                   "record tokens": int((~truth).sum())})
    return result


def _mix(a: str, b: str, t: float) -> str:
    """Colour between a (t=0), white (t=0.5) and b (t=1)."""
    rgb = lambda c: np.array([int(c[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)  # noqa: E731
    white = np.array([255.0, 255.0, 255.0])
    mixed = rgb(a) + (white - rgb(a)) * (t / 0.5) if t < 0.5 else white + (rgb(b) - white) * ((t - 0.5) / 0.5)
    return "#" + "".join(f"{int(round(v)):02x}" for v in mixed)


def source_color(p_parametric: float) -> str:
    """Blue (certainly context) -> white (undecided) -> red (certainly memory)."""
    return _mix(BLUE, RED, float(np.clip(p_parametric, 0.0, 1.0)))


def legend_html() -> str:
    stops = ", ".join(source_color(t) for t in np.linspace(0, 1, 11))
    return ('<div style="display:flex;align-items:center;gap:6px;margin-top:6px;font-size:12px">'
            "<span>contextual (copied from the input)</span>"
            f'<span style="display:inline-block;width:200px;height:12px;border:1px solid #888;'
            f'background:linear-gradient(to right, {stops})"></span>'
            "<span>parametric (from memory)</span></div>")


def monitor_html(tokens, p_parametric, title: str | None = None, truth=None) -> str:
    """Tokens coloured by the monitor's probability of "parametric", with a legend.

    tokens: readable token strings; p_parametric: [n] in [0, 1]. truth: optional [n] booleans
    (True = memory); tokens where the monitor disagrees with it get a black frame.
    All token text is HTML-escaped.
    """
    p = check_probabilities(p_parametric, "p_parametric")
    if len(tokens) != p.size:
        raise ValueError(f"{len(tokens)} tokens but {p.size} probabilities: one per token.")
    box = ("display:inline-block;margin:1px 0;padding:1px 2px;border-radius:3px;"
           "font-family:monospace;font-size:13px;white-space:pre")
    parts = [f'<div style="font-weight:bold;margin-bottom:4px">{html.escape(title)}</div>'] if title else []
    parts.append('<div style="line-height:1.9">')
    for i, (token, prob) in enumerate(zip(tokens, p)):
        colour = source_color(prob)
        dark = abs(prob - 0.5) > 0.35
        style = f"{box};background:{colour};color:{'#fff' if dark else '#000'}"
        tip = f"p(parametric) = {prob:.2f}"
        if truth is not None:
            known = "memory" if truth[i] else "record"
            tip += f"; known source: {known}"
            if bool(truth[i]) != bool(prob > 0.5):   # a frame visible on red, blue and white
                style += ";outline:2px solid #000;outline-offset:-1px"
                tip += " (the monitor disagrees)"
        parts.append(f'<span style="{style}" title="{html.escape(tip, quote=True)}">'
                     f"{html.escape(str(token))}</span>")
        if "↵" in str(token):
            parts.append("<br>")
    parts.append("</div>")
    parts.append(legend_html())
    if truth is not None:
        wrong = sum(bool(t) != bool(q > 0.5) for t, q in zip(truth, p))
        parts.append('<div style="font-size:12px"><span style="outline:2px solid #000;'
                     'padding:0 3px">framed</span>: the monitor disagrees with the known source '
                     f"({wrong} of {len(p)} tokens)</div>")
    return "".join(parts)


def monitor_text(tokens, p_parametric, width: int = 90) -> str:
    """A plain-text fallback: each token followed by C (p < 0.35), P (p > 0.65) or ? (between)."""
    p_values = check_probabilities(p_parametric, "p_parametric")   # NaN would read as "?"
    check_same_length(tokens, p_values, "tokens", "p_parametric")
    marks = ["C" if p < 0.35 else "P" if p > 0.65 else "?" for p in p_values]
    words = [f"{t}[{m}]" for t, m in zip(tokens, marks)]
    lines, line = [], ""
    for word in words:
        if line and len(line) + len(word) > width:
            lines.append(line)
            line = ""
        line += word
    lines.append(line)
    counts = Counter(marks)
    lines.append(f"C = contextual: {counts['C']}, P = parametric: {counts['P']}, ? = undecided: {counts['?']}")
    return "\n".join(lines)
