"""utils.explorer: the top-k relevance explorer, driven from Python (no browser)."""
import pytest
import torch

from solutions.input_attribution import input_x_gradient, lrp_relevance
from utils.explorer import NO_FOIL, RelevanceExplorer
from utils.lrp import lrp_is_enabled


@pytest.fixture(scope="module")
def model_and_tokenizer(tiny_model_dir):
    from utils.models import load_model
    return load_model(str(tiny_model_dir), device="cpu", verbose=False)


def test_predict_lists_top_k_and_explains_the_most_likely(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    explorer = RelevanceExplorer(model, tokenizer, "The capital of France is", k=4,
                                 relevance_fn=lrp_relevance)
    assert len(explorer.predictions) == 4 and len(explorer.choices.options) == 4
    assert "%" in explorer.choices.options[0][0]
    ids = tokenizer("The capital of France is", return_tensors="pt").input_ids
    expected = lrp_relevance(model, ids, explorer.predictions[0].token_id)
    assert torch.allclose(torch.tensor(explorer.heatmap.scores, dtype=torch.float32), expected, atol=1e-5)
    assert not lrp_is_enabled(model)

    explorer.k_slider.value = 6               # the button reads the slider again
    explorer.predict_button.click()
    assert len(explorer.predictions) == 6


def test_clicking_a_prediction_and_a_foil(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    explorer = RelevanceExplorer(model, tokenizer, "2+2 equals", k=3,
                                 relevance_fn=input_x_gradient, method_name="IxG")
    ids = tokenizer("2+2 equals", return_tensors="pt").input_ids
    first = explorer.heatmap.scores.copy()
    explorer.choices.value = 2                # what a click on the third option does
    second, third = explorer.predictions[1], explorer.predictions[2]
    assert torch.allclose(torch.tensor(explorer.heatmap.scores, dtype=torch.float32),
                          input_x_gradient(model, ids, third.token_id), atol=1e-5)
    assert not (explorer.heatmap.scores == first).all()   # relevance depends on the explained token
    explorer.set_foil(1)
    assert torch.allclose(torch.tensor(explorer.heatmap.scores, dtype=torch.float32),
                          input_x_gradient(model, ids, third.token_id, second.token_id), atol=1e-5)
    assert "logit(" in explorer.heatmap.title and " - logit(" in explorer.heatmap.title
    explorer.set_foil(None)
    assert explorer.foil_menu.value == NO_FOIL and " - " not in explorer.heatmap.title


def test_bad_input_is_reported_not_raised_in_the_ui(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    explorer = RelevanceExplorer(model, tokenizer, "The capital", k=3, relevance_fn=lrp_relevance)
    explorer.set_foil(0)                      # the foil is the target itself
    assert "pick a different foil" in explorer.status.value and explorer.heatmap is None
    explorer.prompt_box.value = "   "
    explorer.predict_button.click()
    assert "prompt is empty" in explorer.status.value and explorer.predictions == []
    with pytest.raises(ValueError, match="press Predict"):
        explorer.select(0)


def test_select_out_of_range_and_token_lookup(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    explorer = RelevanceExplorer(model, tokenizer, "The capital of", k=2,
                                 relevance_fn=lrp_relevance)
    with pytest.raises(ValueError, match="between 0 and 1"):
        explorer.select(5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        explorer.set_foil(7)
    token = explorer.predictions[1].token
    assert explorer.index_of(token) == 1
    with pytest.raises(ValueError, match="not among the top-2"):
        explorer.index_of("no such token")


def test_static_snapshot_is_escaped_html(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    explorer = RelevanceExplorer(model, tokenizer, "<script>alert(1)</script> is", k=2,
                                 relevance_fn=lrp_relevance)
    snapshot = explorer.snapshot_html()
    assert "<script" not in snapshot and "&lt;" in snapshot   # pieces of "<script>", escaped
    assert "<table>" in snapshot and "Explorer snapshot" in snapshot


def test_colour_scale_checkbox(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    explorer = RelevanceExplorer(model, tokenizer, "The capital of France is", k=2,
                                 relevance_fn=lrp_relevance)
    scores = explorer.heatmap.scores
    assert explorer.heatmap.vmax == pytest.approx(abs(scores[1:-1]).max())
    explorer.cap_box.value = False            # a click on the check box re-renders
    assert explorer.heatmap.vmax == pytest.approx(abs(scores).max())
