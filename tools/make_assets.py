"""Build the two self-contained pages of notebook 01 from a real model's numbers.

    python tools/make_assets.py                   # the course model (must exist)
    python tools/make_assets.py --model <name>    # any model load_model accepts

assets/attention_viz.html  - the "transformer brain": every layer's and head's attention on the
                             notebook's prompt; click a head, click a token.
assets/gradient_noise.html - gradient shattering: how plain gradients, Input x Gradient and LRP
                             change when the input embeddings are nudged by tiny noise.

Both pages inline their data, CSS and JavaScript (no remote scripts: they open offline), and
put token text into the page with `textContent` only, after escaping `<`, `>` and `&` in the
embedded JSON, so no token can inject markup.
"""
from __future__ import annotations

import argparse
import base64
import html
import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from utils.attribution import relevance_at, top_k_predictions  # noqa: E402
from utils.colours import ATTENTION, OPPOSES, SUPPORTS, method_colour  # noqa: E402
from utils.models import input_device, model_shape  # noqa: E402
from utils.prompts import DUST_PROMPT  # noqa: E402
from utils.tokens import encode, readable_tokens  # noqa: E402

ASSETS = ROOT / "assets"
NOISE_LEVELS = (0.0, 0.001, 0.003, 0.01, 0.03, 0.1)   # noise std / embedding RMS
DRAWS = 6
METHODS = {"gradient": "Gradient (norm per token)", "ixg": "Input x Gradient", "lrp": "LRP"}
# Each curve in the course's colour of its method (utils/colours.py)
METHOD_COLOURS = {"gradient": method_colour("gradient"), "ixg": method_colour("Input x Gradient"),
                  "lrp": method_colour("LRP")}


def _rgb(colour: str) -> list[int]:
    """'#rrggbb' -> [r, g, b]: the pages mix it with white in JavaScript."""
    return [int(colour[i:i + 2], 16) for i in (1, 3, 5)]


def safe_json(value) -> str:
    """JSON that can sit inside a <script> element: no '<', '>' or '&' characters left."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# ---------------------------------------------------------------------------------------------
# Data

def attention_data(model, tokenizer, prompt: str) -> dict:
    """Every head's attention on `prompt`: lower triangle quantised to bytes, base64."""
    ids = encode(tokenizer, prompt, model)
    with torch.no_grad():
        out = model(ids, output_attentions=True, use_cache=False)
    att = torch.stack([a[0].float().cpu() for a in out.attentions])   # [L, H, q, k]
    n_layers, n_heads, seq, _ = att.shape
    rows = torch.tril_indices(seq, seq)
    tri = att[:, :, rows[0], rows[1]]                                 # [L, H, seq*(seq+1)/2]
    quantised = (tri.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    top = top_k_predictions(model, tokenizer, ids, 1)[0]
    return {"tokens": readable_tokens(tokenizer, ids), "layers": n_layers, "heads": n_heads,
            "attention": base64.b64encode(quantised.tobytes()).decode("ascii"),
            "prediction": top.token, "probability": round(top.probability, 3),
            "ink": _rgb(ATTENTION)}


def _rank_corr(a: torch.Tensor, b: torch.Tensor) -> float:
    ra = a.argsort().argsort().float()
    rb = b.argsort().argsort().float()
    return float(torch.corrcoef(torch.stack([ra, rb]))[0, 1])


def noise_data(model, tokenizer, prompt: str, seed: int = 0) -> dict:
    """Relevance of the top prediction under every method, at embeddings nudged by noise.

    For each noise level (std relative to the embeddings' RMS) and draw: the relevance [seq] of
    each method, its rank correlation with the noise-free relevance, and the logit's change.
    """
    ids = encode(tokenizer, prompt, model)
    target = top_k_predictions(model, tokenizer, ids, 1)[0]
    with torch.no_grad():
        clean = model.get_input_embeddings()(ids).float()
    rms = float(clean.pow(2).mean().sqrt())
    gen = torch.Generator().manual_seed(seed)
    noises = [torch.randn(clean.shape, generator=gen) for _ in range(DRAWS)]
    reference = {m: relevance_at(model, clean, target.token_id, m) for m in METHODS}
    levels = []
    for level in NOISE_LEVELS:
        draws = []
        for noise in (noises[:1] if level == 0 else noises):
            embeds = (clean + level * rms * noise.to(clean.device)).to(clean.dtype)
            with torch.no_grad():
                logit = float(model(inputs_embeds=embeds, use_cache=False).logits[0, -1, target.token_id])
            entry = {"logit": round(logit, 3)}
            for m in METHODS:
                rel = relevance_at(model, embeds, target.token_id, m)
                entry[m] = [round(float(v), 3) for v in rel]
                entry[m + "_corr"] = round(_rank_corr(rel, reference[m]), 3)
            draws.append(entry)
        levels.append({"level": level, "draws": draws})
    return {"tokens": readable_tokens(tokenizer, ids), "target": target.token,
            "clean_logit": round(target.logit, 3), "methods": METHODS, "levels": levels,
            "colours": METHOD_COLOURS, "supports": _rgb(SUPPORTS), "opposes": _rgb(OPPOSES)}


# ---------------------------------------------------------------------------------------------
# Pages

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:14px;color:#222}
h1{font-size:20px;margin:0 0 6px} p{max-width:900px;line-height:1.45;margin:6px 0}
.tok{display:inline-block;font-family:monospace;font-size:13px;padding:1px 3px;margin:1px 1px;
 border-radius:3px;white-space:pre;cursor:pointer;border:1px solid transparent}
.note{color:#555;font-size:12px} .row{display:flex;gap:24px;flex-wrap:wrap;align-items:flex-start}
table.grid{border-collapse:collapse} table.grid td{width:22px;height:18px;border:1px solid #fff;cursor:pointer}
table.grid th{font-size:11px;font-weight:normal;color:#555;padding:0 3px}
.sel{outline:3px solid #17becf;outline-offset:-1px} .query{border:1px solid #111 !important}
"""


def _page(title: str, body: str, data: dict, script: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{title}</title><style>{_STYLE}</style></head><body>{body}"
            f"<script>const DATA = {safe_json(data)};\n{script}</script></body></html>\n")


_ATTENTION_JS = r"""
const L = DATA.layers, H = DATA.heads, T = DATA.tokens.length;
const bytes = Uint8Array.from(atob(DATA.attention), c => c.charCodeAt(0));
const tri = T * (T + 1) / 2;
function att(l, h, q, k) {            // attention of query q on key k (k <= q), in [0, 1]
  return bytes[(l * H + h) * tri + q * (q + 1) / 2 + k] / 255;
}
let layer = 0, head = 0, query = T - 1;
function focus(l, h, q) {             // largest weight on any token but the first (the "sink")
  let m = 0; for (let k = 1; k <= q; k++) m = Math.max(m, att(l, h, q, k)); return m;
}
function ink(w) {                     // white (0) to the course's attention colour (1)
  const [r, g, b] = DATA.ink.map(c => Math.round(255 - (255 - c) * w)); return `rgb(${r},${g},${b})`;
}
function drawGrid() {
  const t = document.getElementById('grid'); t.replaceChildren();
  const hr = t.insertRow(); hr.appendChild(document.createElement('th'));
  for (let h = 0; h < H; h++) { const th = document.createElement('th'); th.textContent = h; hr.appendChild(th); }
  for (let l = 0; l < L; l++) {
    const r = t.insertRow(); const th = document.createElement('th'); th.textContent = 'layer ' + l; r.appendChild(th);
    for (let h = 0; h < H; h++) {
      const c = r.insertCell(); const f = focus(l, h, query);
      c.style.background = ink(f); c.title = `layer ${l}, head ${h}: largest weight on a non-first token ${f.toFixed(2)}`;
      if (l === layer && h === head) c.className = 'sel';
      c.onclick = () => { layer = l; head = h; draw(); };
    }
  }
}
function drawText() {
  const box = document.getElementById('text'); box.replaceChildren();
  DATA.tokens.forEach((tok, k) => {
    const s = document.createElement('span'); s.className = 'tok' + (k === query ? ' query' : '');
    s.textContent = tok;
    const w = k <= query ? att(layer, head, query, k) : 0;
    s.style.background = k <= query ? ink(w) : '#f3f3f3'; s.style.color = w > 0.6 ? '#fff' : '#222';
    s.title = k <= query ? `attention ${w.toFixed(3)}` : 'after the query: masked (causal)';
    s.onclick = () => { query = k; draw(); };
    box.appendChild(s);
    if (tok.includes('\u21b5')) box.appendChild(document.createElement('br'));
  });
  document.getElementById('where').textContent =
    `Layer ${layer}, head ${head}: where token ${query} (${DATA.tokens[query]}) looks.`;
}
function draw() { drawGrid(); drawText(); }
// Start on the head whose last position (where the answer is made) looks most sharply at a
// token further back than its neighbour: more telling than the many previous-token heads.
function farFocus(l, h, q) { let m = 0; for (let k = 1; k < q - 1; k++) m = Math.max(m, att(l, h, q, k)); return m; }
for (let l = 0; l < L; l++) for (let h = 0; h < H; h++)
  if (farFocus(l, h, query) > farFocus(layer, head, query)) { layer = l; head = h; }
draw();
"""


def attention_page(data: dict, model_note: str) -> str:
    body = f"""
<h1>A transformer brain: {data['layers']} layers x {data['heads']} attention heads</h1>
<p>Each square on the left is one attention head. Its shade shows how sharply the chosen token's
head looks at one earlier token (darker = more focused; many heads park their attention on the
first token, which is left out of this measure). Click a square to pick that head, click a token
to make it the one that looks. The shading of the text shows where that head sends the token's
attention. The last token is where the model predicts the answer
(<code id="pred"></code>).</p>
<p class="note">{model_note}</p>
<div class="row"><table class="grid" id="grid"></table>
<div style="max-width:720px"><div id="where" style="font-weight:bold;margin-bottom:6px"></div>
<div id="text" style="line-height:1.9"></div>
<p class="note">Colour scale: white = 0, black = 1 (all attention on that token), as in the
course's attention maps.</p></div></div>"""
    script = _ATTENTION_JS + (
        "document.getElementById('pred').textContent = "
        "`${DATA.prediction} with probability ${DATA.probability}`;\n")
    return _page("Attention heads at work", body, data, script)


_NOISE_JS = r"""
const M = Object.keys(DATA.methods);
let li = 0, di = 0;
function color(v) {                    // diverging as in the notebooks: blue < 0 < red, white at 0
  const a = Math.min(1, Math.abs(v)), end = v >= 0 ? DATA.supports : DATA.opposes;
  const [r, g, b] = end.map(c => Math.round(255 - (255 - c) * a)); return `rgb(${r},${g},${b})`;
}
function drawMaps() {
  const lev = DATA.levels[li], d = lev.draws[Math.min(di, lev.draws.length - 1)];
  document.getElementById('lvl').textContent = lev.level;
  document.getElementById('logit').textContent = d.logit.toFixed(3);
  const box = document.getElementById('maps'); box.replaceChildren();
  M.forEach(m => {
    // colour scale set by the tokens between the first and the last (those two often dominate)
    const vals = d[m], mid = vals.slice(1, -1).map(Math.abs);
    const mx = Math.max(...mid) || Math.max(...vals.map(Math.abs)) || 1;
    const h = document.createElement('div'); h.style.margin = '10px 0 2px'; h.style.fontWeight = 'bold';
    h.textContent = `${DATA.methods[m]}: rank correlation with the noise-free map ${d[m + '_corr'].toFixed(2)}`;
    box.appendChild(h);
    const row = document.createElement('div'); row.style.lineHeight = '1.9';
    DATA.tokens.forEach((tok, i) => {
      const s = document.createElement('span'); s.className = 'tok'; s.textContent = tok;
      const v = vals[i] / mx; s.style.background = color(v); s.style.color = Math.abs(v) > 0.6 ? '#fff' : '#222';
      s.title = `${vals[i]}`; row.appendChild(s);
    });
    box.appendChild(row);
  });
}
function drawChart() {
  const svg = document.getElementById("chart"), W = 420, Hh = 220, pad = 48;
  const colors = DATA.colours;         // the course's method colours
  const n = DATA.levels.length, x = i => pad + i * (W - 2 * pad) / (n - 1);
  // y axis from just below the lowest mean correlation (at most 0.8) up to 1
  let low = 1;
  DATA.levels.forEach(l => M.forEach(m => {
    low = Math.min(low, l.draws.reduce((a, d) => a + d[m + '_corr'], 0) / l.draws.length); }));
  low = Math.max(-1, Math.min(0.8, Math.floor(low * 10) / 10));
  const yy = v => (Hh - pad) - (v - low) / (1 - low) * (Hh - 2 * pad);
  let s = `<line x1="${pad}" y1="${Hh - pad}" x2="${W - pad}" y2="${Hh - pad}" stroke="#888"/>` +
          `<line x1="${pad}" y1="${pad}" x2="${pad}" y2="${Hh - pad}" stroke="#888"/>`;
  [low, (low + 1) / 2, 1].forEach(v => { s += `<text x="${pad - 6}" y="${yy(v) + 4}" font-size="10" text-anchor="end">${v.toFixed(2)}</text>`; });
  DATA.levels.forEach((l, i) => { s += `<text x="${x(i)}" y="${Hh - pad + 14}" font-size="10" text-anchor="middle">${l.level}</text>`; });
  s += `<text x="${W / 2}" y="${Hh - 6}" font-size="11" text-anchor="middle">noise std / embedding RMS</text>`;
  s += `<text x="12" y="${Hh / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 12 ${Hh / 2})">rank corr. with noise-free map</text>`;
  M.forEach((m, j) => {
    const pts = DATA.levels.map((l, i) => {
      const c = l.draws.reduce((a, d) => a + d[m + '_corr'], 0) / l.draws.length; return `${x(i)},${yy(c)}`; });
    s += `<polyline fill="none" stroke="${colors[m]}" stroke-width="2" points="${pts.join(' ')}"/>`;
    s += `<rect x="${W - pad - 120}" y="${pad + 14 * j - 8}" width="10" height="10" fill="${colors[m]}"/>`;
    s += `<text x="${W - pad - 106}" y="${pad + 14 * j + 1}" font-size="10" id="legend${j}"></text>`;
  });
  svg.innerHTML = s;   // numbers and fixed labels only; names go in through textContent
  M.forEach((m, j) => { document.getElementById('legend' + j).textContent = DATA.methods[m]; });
}
document.getElementById('level').max = DATA.levels.length - 1;
document.getElementById('level').oninput = e => { li = +e.target.value; drawMaps(); };
document.getElementById('draw').oninput = e => { di = +e.target.value; drawMaps(); };
document.getElementById('target').textContent = DATA.target;
document.getElementById('clean').textContent = DATA.clean_logit.toFixed(3);
drawChart(); drawMaps();
"""


def noise_summary(data: dict) -> str:
    """One sentence on what the numbers show (written from them, true for any model)."""
    def mean_corr(level, method):
        return sum(d[method + "_corr"] for d in level["draws"]) / len(level["draws"])
    names = data["methods"]
    for level in data["levels"][1:]:
        worst = min(names, key=lambda m: mean_corr(level, m))
        if mean_corr(level, worst) < 0.9:
            return (f"Measured here: at noise {level['level']} x RMS the {names[worst]} map keeps a "
                    f"rank correlation of only {mean_corr(level, worst):.2f} with its noise-free "
                    "version; compare the three curves to see which method shatters first.")
    last = data["levels"][-1]
    corr = ", ".join(f"{names[m]} {mean_corr(last, m):.2f}" for m in names)
    return (f"Measured here: even at noise {last['level']} x RMS every map keeps a rank correlation "
            f"of at least 0.9 ({corr}). At these scales this model's gradients do not shatter; "
            "deeper models can behave very differently, so measure before you trust a gradient.")


def noise_page(data: dict, model_note: str) -> str:
    body = f"""
<h1>Gradient shattering: tiny input changes, three explanations</h1>
<p>The model explains its top prediction <code id="target"></code> (logit <span id="clean"></span>).
We add Gaussian noise to the input embeddings, small
against their size (the logit shown beside the sliders moves little), and recompute three
attributions. A trustworthy explanation should barely move; raw gradients of deep
networks are known to jump around ("shatter") between nearby inputs. Slide the noise up and
compare each map with the noise-free one (rank correlation 1 = same order of tokens).</p>
<p><b>{html.escape(noise_summary(data))}</b></p>
<p class="note">{model_note}</p>
<div class="row"><svg id="chart" width="420" height="220" role="img"
 aria-label="rank correlation with the noise-free map per noise level"></svg>
<div><label>noise level <input id="level" type="range" min="0" value="0" step="1"></label>
 <span id="lvl"></span><br><label>noise draw <input id="draw" type="range" min="0" max="{DRAWS - 1}"
 value="0" step="1"></label><br>logit of the target with this noise: <span id="logit"></span></div></div>
<p class="note">Each map's colour scale is set by the tokens between the first and the last,
which often take a large share; hover over a token for its value.</p><div id="maps"></div>"""
    return _page("Gradient shattering", body, data, _NOISE_JS)


def build(model, tokenizer, model_name: str, out_dir: Path = ASSETS, prompt: str = DUST_PROMPT):
    """Write both pages to `out_dir`; returns their paths."""
    n_layers, n_heads, _ = model_shape(model)
    note = html.escape(f"Numbers computed by tools/make_assets.py from {model_name} "
                       f"({n_layers} layers x {n_heads} heads) on the notebook's prompt.")
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = (out_dir / "attention_viz.html", out_dir / "gradient_noise.html")
    # One thread: the order of float additions depends on the thread count, and a last-bit
    # change can flip a rounded value. With it, a rebuild gives the same bytes (tested).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        paths[0].write_text(attention_page(attention_data(model, tokenizer, prompt), note),
                            encoding="utf-8")
        torch.manual_seed(0)
        paths[1].write_text(noise_page(noise_data(model, tokenizer, prompt), note), encoding="utf-8")
    finally:
        torch.set_num_threads(threads)
    return paths


def main() -> int:
    from utils import COURSE_MODEL_DIR
    from utils.models import load_model

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="course", help="'course' (default) or any load_model name")
    parser.add_argument("--out", default=str(ASSETS), help="folder to write the pages to")
    args = parser.parse_args()
    if args.model == "course" and not (COURSE_MODEL_DIR / "model.safetensors").exists():
        print(f"The course model is missing at {COURSE_MODEL_DIR}: no pages written. Train it "
              "(`make model`) or pass --model with another model.")
        return 1
    model, tokenizer = load_model(args.model, device="cpu")
    name = "the course model (course-llama)" if args.model == "course" else args.model
    for path in build(model, tokenizer, name, Path(args.out)):
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} "
              f"({path.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
