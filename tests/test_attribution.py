"""Notebook 01's reference solutions and checks: occlusion, Input x Gradient, LRP."""
import pytest
import torch

from solutions import input_attribution as ref
from utils import attribution
from utils import COURSE_MODEL_DIR
from checks import check_input_x_gradient, check_lrp_relevance, check_occlusion
from checks.core import random_ids, tiny_llama
from utils.lrp import CONSERVATION_BAND, attnlrp, enable_lrp, lrp_is_enabled


class ToyLM(torch.nn.Module):
    """Logits at the last position = sum of fixed per-token scores (a bag of tokens).

    Occluding token i changes the target logit by score[i] - score[baseline]: easy to do by hand.
    """

    def __init__(self, scores):
        super().__init__()
        self.scores = torch.tensor(scores)
        self.embed = torch.nn.Embedding(len(scores), 1)

    def get_input_embeddings(self):
        return self.embed

    def forward(self, input_ids):
        vocab = len(self.scores)
        total = self.scores[input_ids].sum(-1)                      # [batch]
        logits = total[:, None, None] * torch.ones(1, input_ids.shape[1], vocab)
        return type("Out", (), {"logits": logits})()


def test_occlusion_matches_a_hand_computed_case():
    model = ToyLM([0.0, 1.0, -2.0, 4.0])     # token 0 is the baseline (score 0)
    ids = torch.tensor([[1, 2, 3, 0]])
    # drops: removing token 1 loses 1, token 2 gains 2, token 3 loses 4, token 0 changes nothing
    expected = torch.tensor([1.0, -2.0, 4.0, 0.0]) / 4.0
    assert torch.allclose(ref.occlusion(model, ids, target_id=2, baseline_id=0), expected)
    # batching must not change the result
    assert torch.allclose(ref.occlusion(model, ids, 2, 0, batch_size=1), expected)


def test_input_x_gradient_equals_autograd_on_a_tiny_model():
    model, ids = tiny_llama(seed=3), random_ids(4, 10)
    embeds = model.get_input_embeddings()(ids).detach().requires_grad_(True)
    logits = model(inputs_embeds=embeds).logits[0, -1]
    grad, = torch.autograd.grad(logits[7] - logits[9], embeds)
    expected = (grad * embeds).sum(-1)[0]
    assert torch.allclose(ref.input_x_gradient(model, ids, 7, foil_id=9), expected, atol=1e-6)
    # and without a foil it is the plain logit's
    grad, = torch.autograd.grad(model(inputs_embeds=embeds).logits[0, -1, 7], embeds)
    assert torch.allclose(ref.input_x_gradient(model, ids, 7), (grad * embeds).sum(-1)[0], atol=1e-6)


def test_input_x_gradient_is_first_order_taylor_for_a_linear_model():
    # For a model linear in its embeddings, the relevances sum exactly to the logit.
    class Linear(ToyLM):
        def forward(self, input_ids=None, inputs_embeds=None, use_cache=None):
            x = self.embed(input_ids) if inputs_embeds is None else inputs_embeds   # [1, seq, 1]
            logits = x.sum(1, keepdim=True).expand(-1, x.shape[1], 3) * torch.tensor([1.0, 2.0, 3.0])
            return type("Out", (), {"logits": logits})()
    model = Linear([0.5, 1.5, -1.0])
    ids = torch.tensor([[0, 1, 2, 1]])
    rel = ref.input_x_gradient(model, ids, 2)
    logit = model(ids).logits[0, -1, 2]
    assert torch.allclose(rel.sum(), logit, atol=1e-5)


def test_lrp_relevance_restores_the_model_and_differs_from_gradients():
    model, ids = tiny_llama(seed=5), random_ids(6, 9)
    lrp = ref.lrp_relevance(model, ids, 4)
    assert not lrp_is_enabled(model)
    assert not torch.allclose(lrp, ref.input_x_gradient(model, ids, 4), atol=1e-4)
    with attnlrp(model):
        assert torch.allclose(lrp, ref.input_x_gradient(model, ids, 4))


def test_contrastive_lrp_is_the_difference_of_two_explanations():
    # Relevance is linear in the explained output: R(target - foil) = R(target) - R(foil).
    model, ids = tiny_llama(seed=6), random_ids(7, 8)
    both = ref.lrp_relevance(model, ids, 3, foil_id=11)
    apart = ref.lrp_relevance(model, ids, 3) - ref.lrp_relevance(model, ids, 11)
    assert torch.allclose(both, apart, atol=1e-5)


def test_top_k_predictions_sorted_and_validated(tiny_model_dir):
    from utils.models import load_model
    model, tokenizer = load_model(str(tiny_model_dir), device="cpu", verbose=False)
    ids = tokenizer("The capital of France is", return_tensors="pt").input_ids
    preds = attribution.top_k_predictions(model, tokenizer, ids, 4)
    assert len(preds) == 4
    assert all(a.probability >= b.probability for a, b in zip(preds, preds[1:]))
    assert preds[0].token_id == int(model(ids).logits[0, -1].argmax())
    for bad in (0, 10**6):
        with pytest.raises(ValueError, match="k must be"):
            attribution.top_k_predictions(model, tokenizer, ids, bad)
    for bad in (2.5, True):          # True would count as 1
        with pytest.raises(TypeError, match="k must be a whole number"):
            attribution.top_k_predictions(model, tokenizer, ids, bad)


def test_baseline_token_is_a_single_space_or_padding(tiny_model_dir):
    from transformers import AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    baseline = attribution.baseline_token_id(tokenizer)
    assert tokenizer.decode([baseline]) == " " or baseline == tokenizer.pad_token_id


def test_relevance_at_matches_the_id_based_methods():
    model, ids = tiny_llama(seed=8), random_ids(9, 7)
    embeds = model.get_input_embeddings()(ids)
    assert torch.allclose(attribution.relevance_at(model, embeds, 5, "ixg"), ref.input_x_gradient(model, ids, 5))
    assert torch.allclose(attribution.relevance_at(model, embeds, 5, "lrp"), ref.lrp_relevance(model, ids, 5))
    assert (attribution.relevance_at(model, embeds, 5, "gradient") >= 0).all()
    with pytest.raises(ValueError, match="method must be"):
        attribution.relevance_at(model, embeds, 5, "shap")


# -- checks: accept the reference, name typical mistakes ----------------------------------------

def _run(check, fn, capsys):
    used = check(fn)
    return used, capsys.readouterr().out


def test_check_input_x_gradient_names_mistakes(capsys):
    used, out = _run(check_input_x_gradient, ref.input_x_gradient, capsys)
    assert used is ref.input_x_gradient and out.startswith("✓")

    def embeds_grad(model, ids, target, foil=None):
        e = model.get_input_embeddings()(ids).detach().requires_grad_(True)
        logits = model(inputs_embeds=e).logits[0, -1]
        (logits[target] - (logits[foil] if foil is not None else 0)).backward()
        return e, e.grad

    cases = {
        "gradient alone": lambda m, i, t, foil_id=None: embeds_grad(m, i, t, foil_id)[1].sum(-1)[0],
        "norm per token": lambda m, i, t, foil_id=None: embeds_grad(m, i, t, foil_id)[1].norm(dim=-1)[0],
        "is normalised": lambda m, i, t, foil_id=None: (lambda r: r / r.abs().max())(ref.input_x_gradient(m, i, t, foil_id)),
        "`foil_id` is ignored": lambda m, i, t, foil_id=None: ref.input_x_gradient(m, i, t),
        "wrong sign": lambda m, i, t, foil_id=None: -ref.input_x_gradient(m, i, t, foil_id),
        "forget to sum": lambda m, i, t, foil_id=None: (lambda e, g: (e * g)[0])(*embeds_grad(m, i, t, foil_id)),
    }
    for message, wrong in cases.items():
        used, out = _run(check_input_x_gradient, wrong, capsys)
        assert used is ref.input_x_gradient, message
        assert out.startswith("✗") and message in out, (message, out)


def test_check_lrp_names_mistakes_and_a_leaked_patch(capsys):
    used, out = _run(check_lrp_relevance, ref.lrp_relevance, capsys)
    assert used is ref.lrp_relevance and out.startswith("✓")

    def leaky(model, ids, target, foil_id=None):
        enable_lrp(model)             # switched on, never off
        return ref.input_x_gradient(model, ids, target, foil_id)

    cases = {
        "AttnLRP rules are off": lambda m, i, t, foil_id=None: ref.input_x_gradient(m, i, t, foil_id),
        "is normalised": lambda m, i, t, foil_id=None: (lambda r: r / r.abs().max())(ref.lrp_relevance(m, i, t, foil_id)),
        "`foil_id` is ignored": lambda m, i, t, foil_id=None: ref.lrp_relevance(m, i, t),
        "still switched on": leaky,
    }
    for message, wrong in cases.items():
        used, out = _run(check_lrp_relevance, wrong, capsys)
        assert used is ref.lrp_relevance, message
        assert out.startswith("✗") and message in out, (message, out)
        assert not lrp_is_enabled(tiny_llama()), "the check must switch a leaked patch off"

    def stub(*args, **kwargs):
        raise NotImplementedError
    used, out = _run(check_lrp_relevance, stub, capsys)
    assert used is ref.lrp_relevance and "not implemented yet" in out


def test_check_occlusion_names_deletion_and_probability(capsys):
    def deleted(model, ids, target, baseline_id, batch_size=32):
        with torch.no_grad():
            clean = model(ids).logits[0, -1, target]
            drops = torch.stack([clean - model(torch.cat([ids[:, :i], ids[:, i + 1:]], 1)).logits[0, -1, target]
                                 for i in range(ids.shape[1])])
        return drops / drops.abs().max()
    used, out = _run(check_occlusion, deleted, capsys)
    assert used is ref.occlusion and "deletes the token" in out

    def probability(model, ids, target, baseline_id, batch_size=32):
        with torch.no_grad():
            p = lambda x: model(x).logits[0, -1].softmax(-1)[target]   # noqa: E731
            drops = []
            for i in range(ids.shape[1]):
                x = ids.clone()
                x[0, i] = baseline_id
                drops.append(p(ids) - p(x))
        drops = torch.stack(drops)
        return drops / drops.abs().max()
    used, out = _run(check_occlusion, probability, capsys)
    assert "probability (softmax)" in out


# -- the course model: LRP conserves the logit within the band ---------------------------------

@pytest.mark.skipif(not (COURSE_MODEL_DIR / "model.safetensors").exists(), reason="course model not built")
def test_lrp_conserves_the_logit_on_the_course_prompts():
    """LRP relevance sums to the explained logit within CONSERVATION_BAND on the notebook's
    prompts (the dust passage and the 15 conflicts); plain Input x Gradient does not."""
    from utils.models import load_model
    from utils.prompts import COUNTERFACTUALS, DUST_PROMPT
    from utils.tokens import encode
    model, tokenizer = load_model("course", device="cpu", verbose=False)
    lrp_ratios, ixg_ratios = [], []
    for prompt in [DUST_PROMPT] + [s.prompt for s in COUNTERFACTUALS]:
        ids = encode(tokenizer, prompt, model)
        top = attribution.top_k_predictions(model, tokenizer, ids, 1)[0]
        lrp_ratios.append(float(ref.lrp_relevance(model, ids, top.token_id).sum()) / top.logit)
        ixg_ratios.append(float(ref.input_x_gradient(model, ids, top.token_id).sum()) / top.logit)
    lo, hi = CONSERVATION_BAND
    inside = [lo <= r <= hi for r in lrp_ratios]
    assert sum(inside) >= 0.75 * len(inside), lrp_ratios
    assert lo <= sorted(lrp_ratios)[len(lrp_ratios) // 2] <= hi, lrp_ratios
    # plain gradients scatter far more around the logit
    spread = lambda rs: sum(abs(r - 1) for r in rs) / len(rs)   # noqa: E731
    assert spread(ixg_ratios) > spread(lrp_ratios), (ixg_ratios, lrp_ratios)
