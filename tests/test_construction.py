"""Properties that hold by construction of the methods (formerly listed as claims): an identity
transplant changes nothing, CP-LRP conserves the logit, AttnLRP's softmax rule loses part of it.
They test the implementation, not what the model learned."""
import torch

from solutions.input_attribution import conservation_ratios, input_x_gradient, lrp_relevance
from utils.lrp import attnlrp
from utils.models import model_shape
from utils.prompts import ATLANTIC_PROMPT, COUNTERFACTUALS, DUST_PROMPT, READING_PROMPTS
from utils.tokens import encode


def test_transplanting_heads_own_outputs_changes_nothing(course_model, own_outputs_transplanted):
    model, tokenizer = course_model
    n_layers, n_heads, _ = model_shape(model)
    heads = [(layer, head) for layer in range(n_layers) for head in (0, n_heads - 1)]
    ids = encode(tokenizer, ATLANTIC_PROMPT, model)
    clean, patched = own_outputs_transplanted(model, ids, heads)
    assert torch.equal(patched, clean)


def test_cp_lrp_conserves_the_logit(course_model):
    model, tokenizer = course_model

    def cp_lrp(m, ids, target_id):
        with attnlrp(m, rule="cp"):
            return input_x_gradient(m, ids, target_id)
    ratios = conservation_ratios(model, tokenizer, [c.prompt for c in COUNTERFACTUALS], cp_lrp)
    assert ((ratios - 1).abs() <= 0.01).all(), ratios


def test_attnlrp_loses_part_of_the_logit(course_model):
    model, tokenizer = course_model
    ratios = conservation_ratios(model, tokenizer, [DUST_PROMPT, *READING_PROMPTS], lrp_relevance)
    assert ((ratios > 0) & (ratios < 0.95)).all(), ratios
