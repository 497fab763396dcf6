"""Checks for notebook 01 (input attribution): occlusion, Input x Gradient, LRP.

Each check runs the learner's function and the reference on a tiny random Llama and names the
typical mistakes (a function per mistake computes what that mistake would return).
"""
import torch

from checks.core import NamedMistake, random_ids, run_check, tiny_llama
from checks.references import reference
from utils.lrp import attnlrp, disable_lrp, lrp_is_enabled, patched_outside

__all__ = ["check_occlusion", "check_input_x_gradient", "check_lrp_relevance",
           "check_conservation_ratios"]


def _cases():
    """Three prompts, the last two longer than their batch (9 and 12 tokens in batches of 4 and
    5), so a batching bug shows."""
    model = tiny_llama(seed=1)
    return [((model, random_ids(0, 9), 5), {"baseline_id": 0}),
            ((model, random_ids(1, 9), 6), {"baseline_id": 0, "batch_size": 4}),
            ((model, random_ids(2, 12), 7), {"baseline_id": 0, "batch_size": 5})]


def _batched_occlusion(model, input_ids, target_id, baseline_id, batch_size=32, rows=None):
    """Occlusion whose batch loop takes rows(occluded, start, batch_size) (a typical slicing
    mistake) and may stop early: [seq] or shorter."""
    seq_len = input_ids.shape[1]
    with torch.no_grad():
        clean = model(input_ids).logits[0, -1, target_id]
        occluded = input_ids.repeat(seq_len, 1)
        occluded[torch.arange(seq_len), torch.arange(seq_len)] = baseline_id
        logits = [model(rows(occluded, start, batch_size)).logits[:, -1, target_id]
                  for start in range(0, seq_len, batch_size)]
        drop = clean - torch.cat(logits)
    return drop / drop.abs().max().clamp_min(1e-12)


def _gradient_cases():
    """Without and with a foil: the learner's function must handle both."""
    model = tiny_llama(seed=2)
    return [((model, random_ids(10, 8), 5), {}),
            ((model, random_ids(11, 11), 17), {}),
            ((model, random_ids(12, 7), 9), {"foil_id": 30})]


def _top_token(model, input_ids):
    with torch.no_grad():
        return int(model(input_ids).logits[0, -1].argmax())


def unnormalised_occlusion(model, input_ids, target_id, baseline_id, **_):
    """Occlusion without the division by the largest drop (a typical mistake): [seq]."""
    with torch.no_grad():
        clean = model(input_ids).logits[0, -1, target_id]
        drops = []
        for i in range(input_ids.shape[1]):
            occluded = input_ids.clone()
            occluded[0, i] = baseline_id
            drops.append(clean - model(occluded).logits[0, -1, target_id])
    return torch.stack(drops)


def check_occlusion(occlusion_fn):
    """Compare the learner's occlusion with the reference on a tiny model; returns the fn to use."""
    def argmax_target(model, input_ids, target_id, baseline_id, **kw):
        return reference("occlusion")(model, input_ids, _top_token(model, input_ids), baseline_id)

    def deleted_token(model, input_ids, target_id, baseline_id, **_):
        with torch.no_grad():
            clean = model(input_ids).logits[0, -1, target_id]
            drops = []
            for i in range(input_ids.shape[1]):
                shorter = torch.cat([input_ids[:, :i], input_ids[:, i + 1:]], dim=1)
                drops.append(clean - model(shorter).logits[0, -1, target_id])
        drops = torch.stack(drops)
        return drops / drops.abs().max()

    def probability(model, input_ids, target_id, baseline_id, **_):
        with torch.no_grad():
            clean = model(input_ids).logits[0, -1].softmax(-1)[target_id]
            drops = []
            for i in range(input_ids.shape[1]):
                occluded = input_ids.clone()
                occluded[0, i] = baseline_id
                drops.append(clean - model(occluded).logits[0, -1].softmax(-1)[target_id])
        drops = torch.stack(drops)
        return drops / drops.abs().max()

    def first_rows_each_batch(model, input_ids, target_id, baseline_id, batch_size=32):
        return _batched_occlusion(model, input_ids, target_id, baseline_id, batch_size,
                                  rows=lambda occ, start, b: occ[:b][:len(occ[start:start + b])])

    def first_batch_only(model, input_ids, target_id, baseline_id, batch_size=32):
        out = _batched_occlusion(model, input_ids, target_id, baseline_id, batch_size,
                                 rows=lambda occ, start, b: occ[start:start + b])
        return out[:batch_size] / out[:batch_size].abs().max().clamp_min(1e-12)

    mistakes = {
        "every batch runs the first rows again (occluded[:batch_size]); slice "
        "occluded[start:start + batch_size]": first_rows_each_batch,
        "only the first batch is kept: concatenate the logits of every batch": first_batch_only,
        "the drops are not normalised (divide by the largest absolute drop)":
            unnormalised_occlusion,
        "it explains the most likely token instead of `target_id`": argmax_target,
        "it deletes the token (a shorter prompt) instead of replacing it with `baseline_id`":
            deleted_token,
        "it measures the drop of the probability (softmax) instead of the logit": probability,
    }
    return run_check("occlusion", occlusion_fn, reference("occlusion"), _cases(), mistakes)


def _embedding_grad(model, input_ids, score_fn):
    embeds = model.get_input_embeddings()(input_ids).detach().requires_grad_(True)
    logits = model(inputs_embeds=embeds, use_cache=False).logits[0]
    score_fn(logits).backward()
    return embeds[0].detach(), embeds.grad[0]


def _score(target_id, foil_id):
    def score(logits):
        last = logits[-1]
        return last[target_id] - (last[foil_id] if foil_id is not None else 0)
    return score


def _misused(name: str):
    """Three typical mistakes around a gradient method's reference `name`: the relevance
    normalised, the foil ignored, and the most likely token explained instead of the target."""
    def normalised(model, input_ids, target_id, foil_id=None):
        relevance = reference(name)(model, input_ids, target_id, foil_id)
        return relevance / relevance.abs().max()

    def ignores_foil(model, input_ids, target_id, foil_id=None):
        return reference(name)(model, input_ids, target_id)

    def argmax_target(model, input_ids, target_id, foil_id=None):
        return reference(name)(model, input_ids, _top_token(model, input_ids), foil_id)

    return normalised, ignores_foil, argmax_target


def check_input_x_gradient(input_x_gradient_fn):
    """Compare the learner's Input x Gradient with the reference; returns the fn to use."""
    def gradient_only(model, input_ids, target_id, foil_id=None):
        _, grad = _embedding_grad(model, input_ids, _score(target_id, foil_id))
        return grad.sum(-1)

    def gradient_norm(model, input_ids, target_id, foil_id=None):
        _, grad = _embedding_grad(model, input_ids, _score(target_id, foil_id))
        return grad.norm(dim=-1)

    normalised, ignores_foil, argmax_target = _misused("input_x_gradient")

    def log_probability(model, input_ids, target_id, foil_id=None):
        def score(logits):
            logp = logits[-1].log_softmax(-1)
            return logp[target_id] - (logp[foil_id] if foil_id is not None else 0)
        embeds, grad = _embedding_grad(model, input_ids, score)
        return (embeds * grad).sum(-1)

    def first_position(model, input_ids, target_id, foil_id=None):
        def score(logits):
            return logits[0, target_id] - (logits[0, foil_id] if foil_id is not None else 0)
        embeds, grad = _embedding_grad(model, input_ids, score)
        return (embeds * grad).sum(-1)

    def wrong_axis(model, input_ids, target_id, foil_id=None):
        embeds, grad = _embedding_grad(model, input_ids, _score(target_id, foil_id))
        return (embeds * grad).sum(0)

    mistakes = {
        "it sums over the tokens instead of the hidden dimension: sum(-1) over [1, seq, d] "
        "keeps one value per token": wrong_axis,
        "the gradient alone, summed over the hidden dimension: multiply it by the embeddings "
        "first": gradient_only,
        "the gradient's norm per token (plain saliency), not gradient times input": gradient_norm,
        "the relevance is normalised: return it unscaled (the notebook normalises for plots)":
            normalised,
        "`foil_id` is ignored: explain logit(target) - logit(foil) when a foil is given":
            ignores_foil,
        "it explains the most likely token instead of `target_id`": argmax_target,
        "it explains the log-probability (log_softmax), not the logit": log_probability,
        "it explains the logit at the first position: use the last one ([0, -1])": first_position,
    }
    return run_check("input_x_gradient", input_x_gradient_fn, reference("input_x_gradient"),
                     _gradient_cases(), mistakes)


_PATCHED_OUTSIDE = (
    "leaves the model patched by lxt's own `monkey_patch` (as lxt's README shows): the rules "
    "stay on for the whole session, so plain Input x Gradient now silently equals LRP. Use "
    "`with attnlrp(model):` instead, then restart the kernel (Kernel > Restart) and run the "
    "notebook again: the original functions are lost in this session.")


def check_lrp_relevance(lrp_relevance_fn):
    """Compare the learner's LRP relevance with the reference; returns the fn to use.

    Also fails when the function leaves AttnLRP switched on (it must restore the model).
    """
    def restores_model(model, input_ids, target_id, foil_id=None):
        try:
            return lrp_relevance_fn(model, input_ids, target_id, foil_id)
        finally:
            if lrp_is_enabled(model):
                disable_lrp(model)
                raise RuntimeError("AttnLRP is still switched on after the function returned: "
                                   "use `with attnlrp(model):` so the rules are removed again")
            if patched_outside(model):
                raise NamedMistake(_PATCHED_OUTSIDE)

    if patched_outside(tiny_llama()):
        print(f"✗ lrp_relevance cannot be checked: {_PATCHED_OUTSIDE}")
        return reference("lrp_relevance")

    def plain_gradient_x_input(model, input_ids, target_id, foil_id=None):
        return reference("input_x_gradient")(model, input_ids, target_id, foil_id)

    normalised, ignores_foil, argmax_target = _misused("lrp_relevance")

    def lrp_gradient_only(model, input_ids, target_id, foil_id=None):
        with attnlrp(model):
            _, grad = _embedding_grad(model, input_ids, _score(target_id, foil_id))
        return grad.sum(-1)

    mistakes = {
        "plain Input x Gradient: the AttnLRP rules are off (compute inside `with attnlrp(model):`)":
            plain_gradient_x_input,
        "the relevance is normalised: return it unscaled, so it can be compared with the logit":
            normalised,
        "`foil_id` is ignored: pass it on to input_x_gradient": ignores_foil,
        "it explains the most likely token instead of `target_id`": argmax_target,
        "the LRP gradient alone, summed over the hidden dimension: multiply it by the embeddings":
            lrp_gradient_only,
    }
    used = run_check("lrp_relevance", restores_model, reference("lrp_relevance"), _gradient_cases(),
                     mistakes)
    return lrp_relevance_fn if used is restores_model else used


def ratios_variant(score: str = "logit", target: str = "top", total=lambda r: r.sum(),
                   inverted: bool = False):
    """conservation_ratios with one typical change: the score divided by (logit, probability),
    the token explained (top prediction, the prompt's last token), how the relevance is summed,
    or the ratio turned upside down."""
    def conservation_ratios(model, tokenizer, prompts, relevance_fn):
        ratios = []
        for prompt in prompts:
            ids = tokenizer(prompt, return_tensors="pt").input_ids
            with torch.no_grad():
                logits = model(ids).logits[0, -1].float()
            target_id = int(logits.argmax()) if target == "top" else int(ids[0, -1])
            value = logits[target_id] if score == "logit" else logits.softmax(-1)[target_id]
            r = float(total(relevance_fn(model, ids, target_id)))
            ratios.append(float(value) / r if inverted else r / float(value))
        return torch.tensor(ratios)
    return conservation_ratios


def check_conservation_ratios(fn):
    """Exercise 4: relevance sum / logit of the top prediction, prompt by prompt."""
    from checks.core import CHECK_TEXTS, tiny_tokenizer

    tok = tiny_tokenizer()
    model = tiny_llama(seed=7, vocab_size=len(tok))
    cases = [((model, tok, CHECK_TEXTS, reference("input_x_gradient")), {}),
             ((model, tok, CHECK_TEXTS[:2], reference("lrp_relevance")), {})]
    mistakes = {
        "it divides the logit by the relevance sum: the ratio is relevance sum / logit":
            ratios_variant(inverted=True),
        "it divides by the probability; LRP explains the logit, so divide by the logit":
            ratios_variant(score="probability"),
        "it explains the prompt's last token; explain the most likely next token (argmax)":
            ratios_variant(target="last"),
        "it sums absolute relevance; signed relevance is what adds up to the logit":
            ratios_variant(total=lambda r: r.abs().sum()),
    }
    return run_check("conservation_ratios", fn, reference("conservation_ratios"), cases, mistakes)
