"""Checks for notebook 02 (attention heads): relevance of attention weights and of whole heads.

Cases run on a tiny random Llama with plain gradients and once inside `attnlrp(model)`, so a
function that switches LRP on by itself, or detaches something LRP needs, is caught too.
"""
import torch

from checks.core import NamedMistake, random_ids, run_check, tiny_llama
from checks.references import reference
from utils.lrp import attnlrp

# The tiny model's relevances are small (~1e-3): compare them tightly.
_TOLERANCE = dict(rtol=1e-3, atol=1e-7)


_NO_RETAIN_GRAD = (
    "finds no gradient on the attention weights (`.grad` is None): they are not leaves of the "
    "graph, so call `.retain_grad()` on each layer's weights before `backward()`.")


def _with_lrp_switch(fn):
    """fn(model, ids, target, foil) that runs inside attnlrp(model) when called with lrp=True;
    a crash on a missing gradient is reported as the retain_grad mistake."""
    def call(model, input_ids, target_id, foil_id):
        try:
            return fn(model, input_ids, target_id, foil_id)
        except (TypeError, AttributeError) as err:
            if "NoneType" in str(err):
                raise NamedMistake(_NO_RETAIN_GRAD) from err
            raise

    def run(model, input_ids, target_id, foil_id=None, lrp=False):
        if lrp:
            with attnlrp(model):
                return call(model, input_ids, target_id, foil_id)
        return call(model, input_ids, target_id, foil_id)
    return run


def _cases():
    model = tiny_llama(seed=1)
    return [
        ((model, random_ids(0, 9), 5), {}),
        ((model, random_ids(1, 7), 11), {"foil_id": 3}),
        ((model, random_ids(2, 8), 7), {"lrp": True}),
    ]


def _weights_and_grads(model, input_ids, target_id, foil_id=None, score="logit"):
    """Attention weights and their gradients [L, H, q, k] for a chosen (possibly wrong) score."""
    embeds = model.get_input_embeddings()(input_ids).detach().requires_grad_(True)
    out = model(inputs_embeds=embeds, use_cache=False, output_attentions=True)
    for w in out.attentions:
        w.retain_grad()
    logits = out.logits[0, -1]
    if score == "probability":
        value = logits.softmax(-1)[target_id]
    elif score == "argmax":
        value = logits[int(logits.argmax())]
    elif score == "no foil" or foil_id is None:
        value = logits[target_id]
    else:
        value = logits[target_id] - logits[foil_id]
    value.backward()
    weights = torch.stack([w[0].detach() for w in out.attentions])
    grads = torch.stack([w.grad[0] for w in out.attentions])
    return weights, grads


def _mistake(combine, score="logit"):
    def wrong(model, input_ids, target_id, foil_id=None):
        weights, grads = _weights_and_grads(model, input_ids, target_id, foil_id, score)
        return combine(weights, grads)
    return wrong


_MAP_MISTAKES = {
    "the attention weights alone: multiply them by their gradient": _mistake(lambda w, g: w),
    "the gradient alone: multiply it by the attention weights": _mistake(lambda w, g: g),
    "absolute values: keep the sign of weights x gradient (negative = against the target)":
        _mistake(lambda w, g: (w * g).abs()),
    "it explains the most likely token instead of `target_id`": _mistake(lambda w, g: w * g, "argmax"),
    "it explains the probability (softmax) instead of the logit": _mistake(lambda w, g: w * g, "probability"),
    "`foil_id` is ignored: explain logit[target] - logit[foil] when a foil is given":
        _mistake(lambda w, g: w * g, "no foil"),
}

_HEAD_MISTAKES = {
    "the attention weights summed without their gradient (every row of weights sums to 1)":
        _mistake(lambda w, g: w.sum((-2, -1))),
    "the gradient summed without the attention weights": _mistake(lambda w, g: g.sum((-2, -1))),
    "absolute values summed: keep the sign so that heads against the target count negative":
        _mistake(lambda w, g: (w * g).abs().sum((-2, -1))),
    "only the last query row is summed: sum over all query AND key positions":
        _mistake(lambda w, g: (w * g)[..., -1, :].sum(-1)),
    "the mean instead of the sum over query and key positions":
        _mistake(lambda w, g: (w * g).mean((-2, -1))),
    "it sums over the wrong axes (heads and queries): sum each head's [query, key] map, "
    "the last two axes": _mistake(lambda w, g: (w * g).sum((1, 2))),
    "it explains the most likely token instead of `target_id`":
        _mistake(lambda w, g: (w * g).sum((-2, -1)), "argmax"),
}


def _check(name, learner_fn, reference_fn, mistakes):
    learner, reference = _with_lrp_switch(learner_fn), _with_lrp_switch(reference_fn)
    wrapped = {label: _with_lrp_switch(fn) for label, fn in mistakes.items()}
    used = run_check(name, learner, reference, _cases(), wrapped, **_TOLERANCE)
    return learner_fn if used is learner else reference_fn


def check_attention_relevance(attention_relevance_fn):
    """Compare the learner's attention_relevance [L, H, q, k] with the reference; returns the fn to use."""
    return _check("attention_relevance", attention_relevance_fn, reference("attention_relevance"),
                  _MAP_MISTAKES)


def check_head_relevance(head_relevance_fn):
    """Compare the learner's head_relevance [L, H] with the reference; returns the fn to use."""
    return _check("head_relevance", head_relevance_fn, reference("head_relevance"), _HEAD_MISTAKES)


_LAST_ROW_MISTAKES = {
    "it sums every query row (that is head_relevance): keep only the last query row":
        _mistake(lambda w, g: (w * g).sum((-2, -1))),
    "it takes the last key column (what the last token is read for) instead of the last query "
    "row (what the prediction reads)": _mistake(lambda w, g: (w * g)[..., :, -1].sum(-1)),
    "it takes the first query row: the prediction is made at the last position ([..., -1, :])":
        _mistake(lambda w, g: (w * g)[..., 0, :].sum(-1)),
    "absolute values: keep the sign (negative = against the target)":
        _mistake(lambda w, g: (w * g)[..., -1, :].abs().sum(-1)),
}


def check_last_row_head_relevance(last_row_fn):
    """Compare the learner's last-row head relevance [L, H] with the reference."""
    return _check("last_row_head_relevance", last_row_fn, reference("last_row_head_relevance"),
                  _LAST_ROW_MISTAKES)
