"""utils.plotting: token heatmaps as escaped HTML and as static PNG figures."""
import html

import numpy as np
import pytest
import torch

from utils.plotting import (TokenHeatmap, colorbar_html, colored_tokens_html, legend_items_html,
                            relevance_colors, show_html_file, text_color_for, token_heatmap,
                            vmax_without_ends)

EVIL = ["<s>", "NASA", "␣<script>alert('x')</script>", "␣&amp;", '␣"quoted"', "↵", "A", ":"]


def test_html_escapes_token_text():
    page = token_heatmap(EVIL, torch.linspace(-1, 1, len(EVIL)), title="<b>title</b>").html()
    assert "<script>" not in page and "</script>" not in page
    assert html.escape("<script>alert('x')</script>") in page
    assert "&amp;amp;" in page              # an '&' in token text is escaped, not interpreted
    assert "&lt;b&gt;title&lt;/b&gt;" in page
    assert page.count("<br>") == 1          # the newline token ends its line


def test_colours_are_diverging_and_centred_on_zero():
    neg, zero, pos = relevance_colors([-1.0, 0.0, 1.0])
    r, g, b = (int(zero[i:i + 2], 16) for i in (1, 3, 5))
    assert min(r, g, b) > 230                       # zero is (near) white
    assert int(neg[5:7], 16) > int(neg[1:3], 16)    # negative is blue
    assert int(pos[1:3], 16) > int(pos[5:7], 16)    # positive is red
    # the scale is symmetric: +-vmax map to the ends, values beyond are clipped
    assert relevance_colors([-5.0, 5.0], vmax=1.0) == relevance_colors([-1.0, 1.0])


def test_text_colour_switches_with_background_brightness():
    assert text_color_for("#ffffff") == "#000000"
    assert text_color_for("#f0f0a0") == "#000000"
    assert text_color_for("#08306b") == "#ffffff"
    page = token_heatmap(["a", "b"], [1.0, 0.0]).html()
    assert "color:#ffffff" in page and "color:#000000" in page


def test_heatmap_has_legend_and_static_png():
    heatmap = TokenHeatmap(EVIL, np.arange(len(EVIL)) - 3.0, title="relevance")
    assert "linear-gradient" in heatmap.html()          # the colour bar
    png = heatmap._repr_png_()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    fig = heatmap.figure()
    assert fig._suptitle.get_text() == "relevance"
    assert "relevance" in fig.axes[1].get_xlabel()      # colour bar label
    assert "most for: ':' +4.00, 'A' +3.00" in repr(heatmap)


def test_bad_input_gets_clear_errors():
    with pytest.raises(ValueError, match="one score per token"):
        token_heatmap(["a", "b"], [1.0])
    with pytest.raises(ValueError, match="NaN"):
        token_heatmap(["a", "b"], [1.0, float("nan")])
    with pytest.raises(ValueError, match="one colour per token"):
        colored_tokens_html(["a"], [])


def test_all_zero_scores_do_not_divide_by_zero():
    assert "nan" not in token_heatmap(["a", "b"], [0.0, 0.0]).html().lower()


def test_coloured_tokens_with_own_colours_and_legend():
    page = colored_tokens_html(["x<", "y"], ["#1f77b4", "#d62728"], title="monitor",
                               tooltips=['"from context"', "memory"],
                               legend_html=legend_items_html([("context <", "#1f77b4")]))
    assert "x&lt;" in page and "&quot;from context&quot;" in page and "context &lt;" in page
    assert "background:#1f77b4" in page
    assert "linear-gradient" in colorbar_html(2.0, low_label="context", high_label="memory")


def test_show_html_file_inlines_the_page(tmp_path, capsys):
    from unittest import mock
    page = tmp_path / "p.html"
    page.write_text('<html><body><script>let a = "x";</script></body></html>')
    with mock.patch("IPython.display.display") as display:
        show_html_file(page)
    shown = display.call_args[0][0].data
    assert shown.startswith("<div><iframe srcdoc=") and "&lt;script&gt;" in shown
    assert "p.html" in capsys.readouterr().out
    with pytest.raises(FileNotFoundError, match="make_assets"):
        show_html_file(tmp_path / "missing.html")


def test_vmax_without_ends_ignores_first_and_last_token():
    assert vmax_without_ends([9.0, 0.5, -2.0, 1.0, 30.0]) == 2.0
    assert vmax_without_ends([5.0, 7.0]) is None          # nothing between the ends
    assert vmax_without_ends([5.0, 0.0, 7.0]) is None
    heatmap = token_heatmap(list("abcde"), [9.0, 0.5, -2.0, 1.0, 30.0], vmax=2.0)
    assert heatmap.html().count("color:#ffffff") >= 2     # the clipped ends are darkest


def test_asset_pages_are_self_contained_and_escaped(tiny_model_dir, tmp_path):
    import json
    import re

    from tools import make_assets
    from utils.models import load_model
    model, tokenizer = load_model(str(tiny_model_dir), device="cpu", verbose=False)
    evil = "The <script>alert(1)</script> & capital of France is"
    paths = make_assets.build(model, tokenizer, "a tiny test model", tmp_path, prompt=evil)
    for path in paths:
        page = path.read_text()
        assert page.count("<script") == 1 and "src=" not in page and "http" not in page
        assert "alert(1)</script>" not in page          # token text cannot close the script
        data = json.loads(re.search(r"const DATA = (.*?);\n", page).group(1))
        assert "".join(data["tokens"]).replace("␣", " ").endswith("capital of France is")
    noise = json.loads(re.search(r"const DATA = (.*?);\n", paths[1].read_text()).group(1))
    assert noise["levels"][0]["level"] == 0.0
    assert noise["levels"][0]["draws"][0]["lrp_corr"] == 1.0   # noise-free map equals itself


def test_figures_take_the_course_colours(tiny_model_dir, tmp_path):
    """Signs, maps, groups and the asset pages' methods use utils/colours.py, so a method or a
    sign has one colour in every notebook."""
    import json
    import re

    from matplotlib.colors import to_hex

    from tools import make_assets
    from utils import colours
    from utils.head_plots import head_atlas, head_bar_chart, last_query_overview, token_map
    from utils.models import load_model

    bars = head_bar_chart(torch.tensor([[2.0, -1.0], [0.5, -0.2]]), "bars").axes[0]
    assert {to_hex(p.get_facecolor()) for p in bars.patches} == {colours.SUPPORTS, colours.OPPOSES}
    maps = torch.rand(2, 2, 3, 3)
    for kind, cmap in [("relevance", colours.RELEVANCE_CMAP), ("attention", colours.ATTENTION_CMAP)]:
        assert token_map(maps[0, 0], ["a", "b", "c"], "m", kind=kind).axes[0].images[0].cmap.name == cmap
        assert last_query_overview(maps, ["a", "b", "c"], "o", kind=kind).axes[0].images[0].cmap.name == cmap
    atlas = head_atlas({"cluster 0": torch.ones(2, 2), "cluster 1": torch.ones(2, 2)}, "a",
                       legend_title="cluster").axes[0]
    assert [to_hex(c.get_facecolor()[0], keep_alpha=False) for c in atlas.collections] == colours.GROUPS[:2]
    assert not {colours.CONTEXT, colours.MEMORY, colours.SUPPORTS, colours.OPPOSES} & set(colours.GROUPS)

    model, tokenizer = load_model(str(tiny_model_dir), device="cpu", verbose=False)
    _, noise_page = make_assets.build(model, tokenizer, "a tiny test model", tmp_path)
    data = json.loads(re.search(r"const DATA = (.*?);\n", noise_page.read_text()).group(1))
    assert data["colours"] == {"gradient": colours.METHODS["gradient"],
                               "ixg": colours.METHODS["Input x Gradient"],
                               "lrp": colours.METHODS["LRP"]}
