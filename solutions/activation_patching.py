"""Notebook 05: activation patching of in-context learning, and how it compares with LRP."""
import torch

from utils.hooks import decoder_layers, o_proj_pre_hooks
from utils.models import model_shape
from utils.validate import check_activations, check_int_in_range, check_layer


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
    check_activations(pair, clean_resid, "clean_resid", (n_layers, pair.seq_len, None))
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


def attribution_patching(model, pair, cache, metric):
    """Attribution patching of every head's output: [L, H] from one forward and one backward pass.

    First-order Taylor estimate of `patch_heads(..., "z", ...)`: the metric's gradient with
    respect to each head's output in the corrupted run, times (clean - corrupted) output,
    summed over the valid positions (`pair.valid_positions`) and the head's dimensions.
    cache: the clean run's activations (`cache_activations`), with "z" [L, S, H, dh].
    """
    n_layers, n_heads, head_dim = model_shape(model)
    check_activations(pair, cache["z"], 'cache["z"]', (n_layers, pair.seq_len, n_heads, head_dim))
    outputs, probes = {}, {}

    def keep(layer):
        # z + a zero tensor that requires grad: d score / d probe = d score / d z, and unlike a
        # detached copy of z it keeps the paths from this layer through the later heads
        def hook(module, args):
            outputs[layer] = args[0].detach()
            probes[layer] = torch.zeros_like(args[0], requires_grad=True)
            return (args[0] + probes[layer], *args[1:])
        return hook

    with torch.enable_grad(), o_proj_pre_hooks(model, {layer: keep(layer) for layer in range(n_layers)}):
        score = metric(model(**pair.corrupted_inputs()).logits[:, -1]).sum()
        grads = torch.autograd.grad(score, [probes[layer] for layer in range(n_layers)])
    where = pair.valid_positions
    result = torch.zeros(n_layers, n_heads)
    for layer, grad in enumerate(grads):
        z = outputs[layer][0].unflatten(-1, (n_heads, head_dim))               # [S, H, dh]
        g = grad[0].unflatten(-1, (n_heads, head_dim))
        delta = cache["z"][layer].to(z) - z
        result[layer] = (delta[where] * g[where]).sum(dim=(0, 2)).float().cpu()
    return result


def patch_head_output(model, pair, clean_z, layer, head, metric):
    """Patch one head's clean output into the corrupted run, at every valid position.

    clean_z: [n_layers, seq, n_heads, head_dim], each head's output (the input of o_proj) in the
    clean run; metric: logits [1, vocab] -> [1]. Returns the metric of the patched run: a 0-dim
    tensor.
    """
    n_layers, n_heads, head_dim = model_shape(model)
    check_activations(pair, clean_z, "clean_z", (n_layers, pair.seq_len, n_heads, head_dim))
    layer = check_layer(model, layer)
    head = check_int_in_range(head, 0, n_heads - 1, "head", f"The model has heads 0..{n_heads - 1}.")
    positions = pair.valid_positions

    def hook(module, args):
        z = args[0].clone().unflatten(-1, (n_heads, head_dim))     # [1, S, H, dh], a copy
        z[:, positions, head] = clean_z[layer, positions, head].to(z.dtype)
        return (z.flatten(-2), *args[1:])

    with torch.no_grad(), o_proj_pre_hooks(model, {layer: hook}):   # removed on exit
        logits = model(**pair.corrupted_inputs()).logits[:, -1]
    return metric(logits)[0]
