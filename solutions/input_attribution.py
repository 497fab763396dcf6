"""Notebook 01: input attribution by occlusion, Input x Gradient and LRP.

Every function explains one number: the logit of `target_id` at the last position of
`input_ids` ([1, seq]), or with a `foil_id` the difference logit(target) - logit(foil).
Relevance comes back as a CPU float tensor [seq], one value per input token.
"""
from __future__ import annotations

import torch

from utils.lrp import attnlrp
from utils.models import input_device
from utils.progress import progress
from utils.tokens import encode
from utils.validate import check_int_in_range, check_relevance_inputs, check_token_id


def occlusion(model, input_ids, target_id, baseline_id, batch_size=32):
    """Relevance of each input token by occlusion.

    input_ids: [1, seq]; returns [seq] in [-1, 1]: the drop of the target logit at the last
    position when that token is replaced by `baseline_id`, divided by the largest absolute drop.
    """
    check_relevance_inputs(model, input_ids, target_id)
    check_token_id(model, baseline_id, "baseline_id")
    check_int_in_range(batch_size, 1, 2**31, "batch_size", "32 is usual.")
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


def conservation_ratios(model, tokenizer, prompts, relevance_fn):
    """How much of the explained logit a method's relevance adds up to, prompt by prompt.

    For each prompt, explain the most likely next token with
    relevance_fn(model, input_ids, target_id) -> [seq]; returns [len(prompts)] (float): the
    relevance sum divided by that token's logit (1 = conserved).
    """
    ratios = []
    for prompt in prompts:
        input_ids = encode(tokenizer, prompt, model)
        with torch.no_grad():
            logits = model(input_ids).logits[0, -1].float()
        target_id = int(logits.argmax())
        relevance = relevance_fn(model, input_ids, target_id)
        ratios.append(float(relevance.sum()) / float(logits[target_id]))
    return torch.tensor(ratios)
