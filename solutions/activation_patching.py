"""Notebook 05: activation patching of in-context learning, and how it compares with LRP."""
import torch

from utils.hooks import decoder_layers
from utils.models import model_shape


def normalised_logit_diff(logits, answer_id, foil_id, clean_diff, corrupted_diff):
    """How much of the clean behaviour a patched run recovers.

    logits: [..., vocab] at the last position; returns [...]: the logit of `answer_id` minus
    the logit of `foil_id`, rescaled so that the corrupted run (difference `corrupted_diff`)
    scores 0 and the clean run (`clean_diff`) scores 1. The inputs are not modified.
    """
    diff = logits[..., answer_id].float() - logits[..., foil_id].float()
    return (diff - corrupted_diff) / (clean_diff - corrupted_diff)


def patch_residual_stream(model, pair, clean_resid, metric):
    """Patch the clean residual stream into the corrupted run, one (layer, position) per run.

    pair: utils.patching.AlignedPair; clean_resid: [n_layers, seq, d], the residual stream
    entering each decoder layer in the clean run; metric: logits [1, vocab] -> [1].
    Returns [n_layers, seq]: the metric of each patched run (NaN where a prompt has a pad).
    """
    n_layers = model_shape(model)[0]
    result = torch.full((n_layers, pair.seq_len), float("nan"))
    layers = decoder_layers(model)
    for layer in range(n_layers):
        for position in pair.valid_positions.tolist():
            def hook(module, args, layer=layer, position=position):
                hidden = args[0].clone()   # never edit the model's own tensor in place
                hidden[:, position] = clean_resid[layer, position].to(hidden.dtype)
                return (hidden, *args[1:])

            handle = layers[layer].register_forward_pre_hook(hook)
            try:
                with torch.no_grad():
                    logits = model(**pair.corrupted_inputs()).logits[:, -1]
            finally:
                handle.remove()   # also on errors: a forgotten hook corrupts every later run
            result[layer, position] = metric(logits)[0]
    return result


def spearman(a, b):
    """Spearman rank correlation of two tensors of equal shape (flattened): a float tensor [].

    The Pearson correlation of the ranks; tied values share their average rank.
    """
    def ranks(x):
        x = x.flatten().double()
        order = x.argsort()
        r = torch.empty_like(x)
        r[order] = torch.arange(len(x), dtype=torch.double)
        for value in x.unique():            # ties: every member gets the group's mean rank
            tied = x == value
            r[tied] = r[tied].mean()
        return r

    ra, rb = ranks(a), ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return (ra @ rb / (ra.norm() * rb.norm()).clamp_min(1e-12)).float()
