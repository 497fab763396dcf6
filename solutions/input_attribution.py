"""Notebook 01: input attribution by occlusion, Input x Gradient and LRP.

Every function explains one number: the logit of `target_id` at the last position of
`input_ids` ([1, seq]), or with a `foil_id` the difference logit(target) - logit(foil).
Relevance comes back as a CPU float tensor [seq], one value per input token.
"""
from __future__ import annotations

from contextlib import nullcontext
from typing import NamedTuple

import torch

from utils.lrp import attnlrp
from utils.models import input_device
from utils.progress import progress
from utils.validate import check_relevance_inputs, check_token_id


def occlusion(model, input_ids, target_id, baseline_id, batch_size=32):
    """Relevance of each input token by occlusion.

    input_ids: [1, seq]; returns [seq] in [-1, 1]: the drop of the target logit at the last
    position when that token is replaced by `baseline_id`, divided by the largest absolute drop.
    """
    check_relevance_inputs(model, input_ids, target_id)
    check_token_id(model, baseline_id, "baseline_id")
    input_ids = input_ids.to(input_device(model))
    seq_len = input_ids.shape[1]
    with torch.no_grad():
        clean_logit = model(input_ids).logits[0, -1, target_id]
        # One occluded copy of the prompt per position, run in batches.
        occluded = input_ids.repeat(seq_len, 1)
        occluded[torch.arange(seq_len), torch.arange(seq_len)] = baseline_id
        occluded_logits = []
        for start in progress(range(0, seq_len, batch_size), desc="occlusion"):
            batch = occluded[start:start + batch_size]
            occluded_logits.append(model(batch).logits[:, -1, target_id])
        drop = clean_logit - torch.cat(occluded_logits).to(clean_logit.device)
    drop = drop.float().cpu()
    return drop / drop.abs().max().clamp_min(1e-12)


def input_x_gradient(model, input_ids, target_id, foil_id=None):
    """Input x Gradient relevance of each input token; LRP relevance inside `attnlrp(model)`.

    input_ids: [1, seq]; returns [seq] (not normalised): the gradient of the target logit at the
    last position (minus the foil's logit, if given) w.r.t. the input embeddings, times the
    embeddings, summed over the hidden dimension.
    """
    check_relevance_inputs(model, input_ids, target_id, foil_id)
    input_ids = input_ids.to(input_device(model))
    embeds = model.get_input_embeddings()(input_ids).detach().requires_grad_(True)  # [1, seq, d]
    logits = model(inputs_embeds=embeds, use_cache=False).logits[0, -1]
    score = logits[target_id] if foil_id is None else logits[target_id] - logits[foil_id]
    score.backward()
    return (embeds * embeds.grad).sum(-1)[0].float().detach().cpu()


def lrp_relevance(model, input_ids, target_id, foil_id=None):
    """AttnLRP relevance of each input token: [seq], not normalised.

    The same Input x Gradient computation, run while AttnLRP's rules replace the model's
    attention, normalisation and MLP forward functions; the rules are removed on exit.
    """
    with attnlrp(model):
        return input_x_gradient(model, input_ids, target_id, foil_id)


# ---------------------------------------------------------------------------------------------
# Helpers the notebook uses around the exercises (not exercises themselves).

class Prediction(NamedTuple):
    """One candidate next token."""
    token_id: int
    token: str          # readable text (spaces as '␣')
    probability: float
    logit: float


def top_k_predictions(model, tokenizer, input_ids, k=5):
    """The k most likely next tokens after `input_ids` [1, seq], most likely first."""
    from utils.tokens import readable_token

    vocab = model.get_output_embeddings().weight.shape[0]
    if not isinstance(k, int) or not 1 <= k <= vocab:
        raise ValueError(f"k must be a whole number between 1 and the vocabulary size ({vocab}), "
                         f"got {k!r}.")
    with torch.no_grad():
        logits = model(input_ids.to(input_device(model))).logits[0, -1].float()
    probs = logits.softmax(-1)
    top = probs.topk(k)
    return [Prediction(int(i), readable_token(tokenizer, int(i)), float(p), float(logits[i]))
            for p, i in zip(top.values, top.indices)]


def target_logit(model, input_ids, target_id, foil_id=None) -> float:
    """The number every method here explains: logit(target) [- logit(foil)] at the last position."""
    with torch.no_grad():
        logits = model(input_ids.to(input_device(model))).logits[0, -1].float()
    return float(logits[target_id] - (logits[foil_id] if foil_id is not None else 0.0))


def baseline_token_id(tokenizer) -> int:
    """A token with as little meaning as possible to occlude with: a lone space, else padding.

    There is no truly neutral token; a space keeps the prompt's length and rarely carries
    content. Tokenizers that merge the space into its neighbour fall back to the pad token.
    """
    ids = tokenizer(" ", add_special_tokens=False).input_ids
    if len(ids) == 1:
        return int(ids[0])
    if tokenizer.pad_token_id is not None:
        return int(tokenizer.pad_token_id)
    return int(tokenizer.eos_token_id)


def gradient_norm(model, input_ids, target_id, input_embeds=None):
    """Plain gradient saliency: the L2 norm of d logit / d embedding of each token, [seq].

    input_embeds: optional [1, seq, d] embeddings to differentiate at (e.g. slightly perturbed
    ones); by default those of `input_ids`.
    """
    if input_embeds is None:
        input_embeds = model.get_input_embeddings()(input_ids)
    embeds = input_embeds.detach().requires_grad_(True)
    model(inputs_embeds=embeds, use_cache=False).logits[0, -1, target_id].backward()
    return embeds.grad[0].float().norm(dim=-1).detach().cpu()


def relevance_at(model, input_embeds, target_id, method):
    """Relevance [seq] computed at given embeddings [1, seq, d] ('gradient', 'ixg' or 'lrp').

    Used to see how each method reacts to tiny changes of its input (gradient shattering).
    """
    if method == "gradient":
        return gradient_norm(model, None, target_id, input_embeds)
    if method not in ("ixg", "lrp"):
        raise ValueError(f"method must be 'gradient', 'ixg' or 'lrp', not {method!r}.")
    embeds = input_embeds.detach().requires_grad_(True)
    # The same computation as input_x_gradient, but starting from embeddings instead of ids.
    with attnlrp(model) if method == "lrp" else nullcontext():
        model(inputs_embeds=embeds, use_cache=False).logits[0, -1, target_id].backward()
    return (embeds * embeds.grad).sum(-1)[0].float().detach().cpu()
