"""Notebook 02: head relevance, its checks, the attention viewer, the head explorer and plots."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from solutions.attention_heads import attention_relevance, head_relevance
from checks import check_attention_relevance, check_head_relevance
from checks.core import random_ids, tiny_llama
from utils.heads import relevance_concentration
from utils.lrp import attnlrp

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def model():
    return tiny_llama(seed=3)


def _weights_and_grads(model, ids, target):
    embeds = model.get_input_embeddings()(ids).detach().requires_grad_(True)
    out = model(inputs_embeds=embeds, output_attentions=True, use_cache=False)
    for w in out.attentions:
        w.retain_grad()
    out.logits[0, -1, target].backward()
    return [w[0].detach() for w in out.attentions], [w.grad[0] for w in out.attentions]


# --- the reference against a hand computation --------------------------------------------

def test_head_relevance_equals_gradient_of_a_per_head_gate(model):
    """Scaling a head's attention weights by g scales its output by g, so d logit / d g at g = 1
    is sum over (q, k) of weight x gradient: an independent route to head relevance."""
    n_layers, n_heads = model.config.num_hidden_layers, model.config.num_attention_heads
    head_dim = model.config.hidden_size // n_heads
    ids, target = random_ids(4, 10), 9
    gates = torch.ones(n_layers, n_heads, requires_grad=True)

    def gate_hook(layer):
        def hook(_module, args):
            x = args[0]                                   # [1, seq, n_heads * head_dim]
            scale = gates[layer].repeat_interleave(head_dim)
            return (x * scale,)
        return hook

    handles = [model.model.layers[i].self_attn.o_proj.register_forward_pre_hook(gate_hook(i))
               for i in range(n_layers)]
    try:
        model(ids).logits[0, -1, target].backward()
    finally:
        for h in handles:
            h.remove()
    expected = head_relevance(model, ids, target)
    assert expected.shape == (n_layers, n_heads)
    assert torch.allclose(expected, gates.grad, rtol=1e-4, atol=1e-8)


def test_attention_relevance_is_weights_times_gradient(model):
    ids, target = random_ids(5, 8), 2
    weights, grads = _weights_and_grads(model, ids, target)
    maps = attention_relevance(model, ids, target)
    assert maps.shape == (2, 4, 8, 8)
    assert torch.allclose(maps, torch.stack(weights) * torch.stack(grads), atol=1e-9)
    # causal: a query never puts relevance on a later key
    assert torch.all(maps.triu(diagonal=1) == 0)


def test_foil_gives_the_difference_of_two_explanations(model):
    ids = random_ids(6, 8)
    both = head_relevance(model, ids, 4, foil_id=9)
    assert torch.allclose(both, head_relevance(model, ids, 4) - head_relevance(model, ids, 9), atol=1e-7)


def test_lrp_changes_relevance_and_is_switched_off_afterwards(model):
    ids, target = random_ids(7, 9), 5
    plain = head_relevance(model, ids, target)
    with attnlrp(model):
        lrp = head_relevance(model, ids, target)
    assert torch.isfinite(lrp).all() and not torch.allclose(lrp, plain)
    assert torch.equal(head_relevance(model, ids, target), plain)


@pytest.mark.filterwarnings("ignore:`output_attentions=True` is not supported")
def test_missing_attention_weights_give_a_clear_error():
    model = tiny_llama(seed=0)
    model.config._attn_implementation = "sdpa"
    with pytest.raises(RuntimeError, match="eager"):
        attention_relevance(model, random_ids(0, 5), 1)


def test_relevance_concentration():
    even = torch.ones(4, 5)
    assert relevance_concentration(even, 0.1) == (pytest.approx(0.1), 2)
    one = torch.zeros(4, 5)
    one[2, 3] = -7.0
    assert relevance_concentration(one, 0.1)[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="fraction"):
        relevance_concentration(even, 0)


# --- the checks name typical mistakes ----------------------------------------------------

def _run(capsys, check, fn):
    used = check(fn)
    return used, capsys.readouterr().out


def test_checks_accept_the_reference(capsys):
    used, out = _run(capsys, check_attention_relevance, attention_relevance)
    assert used is attention_relevance and out.startswith("✓"), out
    used, out = _run(capsys, check_head_relevance, head_relevance)
    assert used is head_relevance and out.startswith("✓"), out


def test_check_attention_relevance_names_mistakes(capsys):
    def weights_only(model, input_ids, target_id, foil_id=None):
        out = model(input_ids, output_attentions=True)
        return torch.stack([w[0] for w in out.attentions])

    def absolute(model, input_ids, target_id, foil_id=None):
        return attention_relevance(model, input_ids, target_id, foil_id).abs()

    def no_foil(model, input_ids, target_id, foil_id=None):
        return attention_relevance(model, input_ids, target_id)

    def lrp_inside(model, input_ids, target_id, foil_id=None):
        with attnlrp(model):
            return attention_relevance(model, input_ids, target_id, foil_id)

    expectations = [(weights_only, "weights alone"), (_grad_only, "gradient alone"),
                    (absolute, "absolute values"), (no_foil, "`foil_id` is ignored"),
                    (lrp_inside, "differs from the reference")]
    for fn, phrase in expectations:
        used, out = _run(capsys, check_attention_relevance, fn)
        assert used is attention_relevance and out.startswith("✗") and phrase in out, (phrase, out)


def _grad_only(model, input_ids, target_id, foil_id=None):
    embeds = model.get_input_embeddings()(input_ids).detach().requires_grad_(True)
    out = model(inputs_embeds=embeds, output_attentions=True)
    for w in out.attentions:
        w.retain_grad()
    logits = out.logits[0, -1]
    (logits[target_id] - (logits[foil_id] if foil_id is not None else 0)).backward()
    return torch.stack([w.grad[0] for w in out.attentions])


def test_check_head_relevance_names_mistakes(capsys):
    def weights_only(model, input_ids, target_id, foil_id=None):
        out = model(input_ids, output_attentions=True)
        return torch.stack([w[0] for w in out.attentions]).sum((-2, -1))

    def absolute(model, input_ids, target_id, foil_id=None):
        return attention_relevance(model, input_ids, target_id, foil_id).abs().sum((-2, -1))

    def last_row(model, input_ids, target_id, foil_id=None):
        return attention_relevance(model, input_ids, target_id, foil_id)[:, :, -1].sum(-1)

    def mean(model, input_ids, target_id, foil_id=None):
        return attention_relevance(model, input_ids, target_id, foil_id).mean((-2, -1))

    def argmax_target(model, input_ids, target_id, foil_id=None):
        top = int(model(input_ids).logits[0, -1].argmax())
        return head_relevance(model, input_ids, top)

    def wrong_axes(model, input_ids, target_id, foil_id=None):
        return attention_relevance(model, input_ids, target_id, foil_id).sum(-1)

    expectations = [(weights_only, "without their gradient"), (absolute, "absolute values"),
                    (last_row, "only the last query row"), (mean, "the mean instead"),
                    (argmax_target, "instead of `target_id`"), (wrong_axes, "has shape")]
    for fn, phrase in expectations:
        used, out = _run(capsys, check_head_relevance, fn)
        assert used is head_relevance and out.startswith("✗") and phrase in out, (phrase, out)


def test_checks_report_an_unfinished_stub(capsys):
    def stub(model, input_ids, target_id, foil_id=None):
        raise NotImplementedError
    for check, reference in ((check_attention_relevance, attention_relevance),
                             (check_head_relevance, head_relevance)):
        used, out = _run(capsys, check, stub)
        assert used is reference and "not implemented yet" in out


# --- head explorer -----------------------------------------------------------------------

def test_select_top_heads_orders_and_rejects_too_many():
    from utils.heads import select_top_heads

    scores = torch.tensor([[0.1, 0.9, -2.0], [0.5, 0.0, 0.7]])
    assert select_top_heads(scores, 3) == [(0, 1), (1, 2), (1, 0)]
    with pytest.raises(ValueError, match=r"2 layers x 3 heads = 6"):
        select_top_heads(scores, 7)
    with pytest.raises(ValueError, match="positive"):
        select_top_heads(scores, 0)
    # heads without a score (NaN, e.g. never patched) come last, not first
    assert select_top_heads(torch.tensor([[float("nan"), 1.0], [0.5, float("nan")]]), 2) == \
        [(0, 1), (1, 0)]


def test_cluster_heads_shapes_and_labels():
    from utils.head_explorer import cluster_heads

    gen = torch.Generator().manual_seed(0)
    # two groups of maps pointing in clearly different directions, plus noise
    base = torch.randn(2, 6, 6, generator=gen)
    maps = torch.cat([base[0] + 0.05 * torch.randn(5, 6, 6, generator=gen),
                      base[1] + 0.05 * torch.randn(4, 6, 6, generator=gen)])
    coords, labels = cluster_heads(maps, 2)
    assert coords.shape == (9, 2) and labels.shape == (9,)
    assert list(labels) == [0] * 5 + [1] * 4         # recovered, numbered largest first
    coords_flat, labels_flat = cluster_heads(maps.flatten(1), 2)
    assert np.array_equal(labels_flat, labels) and np.allclose(coords_flat, coords)
    with pytest.raises(ValueError, match="n_clusters"):
        cluster_heads(maps, 10)


@pytest.fixture(scope="module")
def loaded(tiny_model_dir):
    from utils.models import load_model
    return load_model(str(tiny_model_dir), device="cpu", verbose=False)


@pytest.fixture(scope="module")
def clusters(loaded):
    from utils.head_explorer import head_clusters
    model, tokenizer = loaded
    return head_clusters(model, tokenizer, "The capital of France is",
                         relevance_fn=attention_relevance)


def test_head_clusters_adapts_to_the_model(loaded, clusters):
    from utils.head_explorer import head_clusters
    model, tokenizer = loaded
    n_tokens = len(tokenizer("The capital of France is").input_ids)
    k = len(clusters["heads"])
    assert k == 8                                    # all 2 x 4 heads of the tiny model
    assert clusters["maps"].shape == (k, n_tokens, n_tokens)
    assert clusters["coords"].shape == (k, 2) and clusters["labels"].shape == (k,)
    assert clusters["scores"].shape == (2, 4)
    firsts = [float(clusters["scores"][h]) for h in clusters["heads"]]
    assert firsts == sorted(firsts, reverse=True)
    with pytest.raises(ValueError, match="larger than the number of heads"):
        head_clusters(model, tokenizer, "The capital of France is", k=9,
                      relevance_fn=attention_relevance)
    with pytest.raises(ValueError, match="empty"):
        head_clusters(model, tokenizer, "   ", relevance_fn=attention_relevance)


def test_explorer_selection_updates_the_map(clusters):
    from utils.head_explorer import HeadExplorer, describe_clusters

    explorer = HeadExplorer(clusters)
    first_image = explorer.image.value
    assert explorer.selected == 0 and len(first_image) > 0
    explorer.scatter.selection([3])                  # what a click in the browser does
    layer, head = clusters["heads"][3]
    assert explorer.selected == 3
    assert f"Layer {layer}, head {head}" in explorer.caption.value
    assert explorer.image.value != first_image
    explorer.color_choice.value = "layer"
    assert explorer.scatter.color()["by"] == "layer"
    table = describe_clusters(clusters)
    assert len(table) == clusters["labels"].max() + 1
    assert sum(len(h.split()) for h in table["heads"]) == len(clusters["heads"])
    shares = table[["first token", "diagonal", "previous token", "last row"]].to_numpy()
    assert ((shares >= 0) & (shares <= 1)).all()
    assert repr(explorer.widget) == f"[head explorer: 8 heads in {len(table)} clusters]"


def test_static_fallbacks_are_printed(loaded, clusters, capsys):
    from utils.attention_viewer import attention_viewer
    from utils.head_explorer import HeadExplorer

    model, tokenizer = loaded
    attention_viewer(model, tokenizer, "The capital of France is").display()
    HeadExplorer(clusters).display()
    out = capsys.readouterr().out
    assert out.count("Static view") == 2
    assert "[attention viewer: 2 layers x 4 heads]" in out and "Layer 0, head 0" in out
    assert "last row reads" in out                   # the cluster table


# --- attention viewer and plots ----------------------------------------------------------

def test_attention_viewer_sliders_redraw_and_escape(loaded):
    from utils.attention_viewer import AttentionViewer, attention_viewer

    model, tokenizer = loaded
    viewer = attention_viewer(model, tokenizer, "The capital of France is", layer=1, head=2)
    before = viewer.image.value
    viewer.head_slider.value = 0
    assert "Layer 1, head 0" in viewer.caption.value and viewer.image.value != before
    with pytest.raises(ValueError, match="heads 0..3"):
        viewer.show(0, 4)
    with pytest.raises(ValueError, match="does not exist"):
        attention_viewer(model, tokenizer, "The capital", layer=5)
    maps = torch.softmax(torch.randn(1, 1, 3, 3), -1).tril()
    tricky = AttentionViewer(maps, ["<b>", "&", "x"])
    assert "<b>" not in tricky.caption.value and "&lt;b&gt;" in tricky.caption.value


def test_head_atlas_layout_and_legend():
    from utils.head_plots import head_atlas

    task = torch.zeros(3, 4)
    task[1, 2] = 2.0
    retrieval = torch.zeros(3, 4)
    retrieval[2, 0], retrieval[0, 3] = 1.0, -1.0     # negative scores are not drawn
    fig = head_atlas({"task heads": task, "retrieval heads": retrieval}, "Atlas")
    ax = fig.axes[0]
    bottom, top = ax.get_ylim()
    assert top < bottom                              # layer 0 on top
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["task heads (1)", "retrieval heads (1)"]
    assert ax.get_xlabel() == "head" and ax.get_ylabel() == "layer"
    assert fig._repr_png_().startswith(b"\x89PNG")   # display(fig) shows it under any backend
    with pytest.raises(ValueError, match="same"):
        head_atlas({"a": torch.zeros(2, 2), "b": torch.zeros(3, 2)}, "x")


def test_bar_chart_and_token_map():
    from utils.head_plots import head_bar_chart, token_map

    fig = head_bar_chart(torch.randn(3, 4, generator=torch.Generator().manual_seed(0)), "bars")
    assert len(fig.axes) == 2 and fig.axes[0].get_title() == "bars"
    with pytest.raises(ValueError, match="3 tokens"):
        token_map(torch.zeros(4, 4), ["a", "b", "c"], "map")


def test_the_umap_fit_keeps_torchs_thread_count():
    """Fitting UMAP raises torch's thread count as a side effect (1 -> 2 under
    OMP_NUM_THREADS=1 on the course's machine); the course's fit puts it back. A fresh process,
    because the side effect happens when numba first starts its threads."""
    code = ("import numpy as np, torch\n"
            "from utils.head_explorer import cluster_heads\n"
            "x = np.random.RandomState(0).rand(9, 36)\n"
            "before = torch.get_num_threads()\n"
            "cluster_heads(x, 2)\n"
            "print(before, torch.get_num_threads())\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    before, after = result.stdout.split()[-2:]
    assert before == after == "1", result.stdout


def test_torch_threads_kept_restores_on_exit_and_on_errors():
    from utils.threads import torch_threads_kept

    found = torch.get_num_threads()
    with torch_threads_kept():
        torch.set_num_threads(found + 1)
    assert torch.get_num_threads() == found
    with pytest.raises(KeyError), torch_threads_kept():
        torch.set_num_threads(found + 1)
        raise KeyError("stop")
    assert torch.get_num_threads() == found
