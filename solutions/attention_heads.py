"""Notebook 02: relevance of attention heads, from attention weights and their gradients."""
import torch

from utils.validate import check_relevance_inputs


def attention_relevance(model, input_ids, target_id, foil_id=None):
    """Relevance of every attention weight for the target logit at the last position.

    input_ids: [1, seq]; returns [n_layers, n_heads, seq, seq] (query x key): attention weights
    times their gradient. Call inside `attnlrp(model)` for AttnLRP relevance.
    """
    check_relevance_inputs(model, input_ids, target_id, foil_id)
    # The parameters are frozen, so the graph must start at inputs that require a gradient.
    embeds = model.get_input_embeddings()(input_ids).detach().requires_grad_(True)
    out = model(inputs_embeds=embeds, use_cache=False, output_attentions=True)
    if not out.attentions or out.attentions[0] is None:
        raise RuntimeError(
            "The model returned no attention weights. Load it with attn_implementation='eager' "
            "(utils.models.load_model does): fused attention kernels never materialise them.")
    for weights in out.attentions:          # each [1, n_heads, seq, seq]
        weights.retain_grad()
    logits = out.logits[0, -1]
    score = logits[target_id] if foil_id is None else logits[target_id] - logits[foil_id]
    score.backward()
    maps = [(w * w.grad)[0].float().detach().cpu() for w in out.attentions]
    return torch.stack(maps)


def head_relevance(model, input_ids, target_id, foil_id=None):
    """Relevance of each head: [n_layers, n_heads], its relevance map summed over query and key."""
    return attention_relevance(model, input_ids, target_id, foil_id).sum(dim=(-2, -1))


def last_row_head_relevance(model, input_ids, target_id, foil_id=None):
    """Relevance that flows straight into the explained prediction, per head: [n_layers, n_heads].

    Each head's relevance map restricted to the last query row (the position that predicts the
    next token), summed over the keys.
    """
    return attention_relevance(model, input_ids, target_id, foil_id)[:, :, -1, :].sum(-1)
