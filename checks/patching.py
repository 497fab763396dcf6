"""Checks for notebook 05 (activation patching)."""
import torch

from checks.core import random_ids, run_check, tiny_llama
from checks.hook_inputs import edited_module_input, in_place_message
from checks.references import reference
from utils.hooks import decoder_layers, final_norm, out_projections
from utils.patching import (AlignedPair, cache_activations, clean_and_corrupted_logprob,
                            normalised_logprob)

__all__ = ["check_normalised_logit_diff", "check_patch_residual_stream", "check_spearman",
           "check_attribution_patching", "check_patch_head_output",
           "tiny_pair"]


# ---------------------------------------------------------------- normalised_logit_diff
def _metric_cases():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 64, generator=gen) * 3
    # case 1: the logit differences of the rows have both signs (so abs() of them is seen);
    # case 4: clean below corrupted, a negative span (so dividing by its absolute value is seen)
    return [((logits, 9, 17, 4.0, -2.5), {}), ((logits, 5, 9, 4.0, -2.5), {}),
            ((logits[:1], 17, 3, 1.5, -6.0), {}), ((logits[2], 3, 40, -1.0, 2.0), {})]


def _leaves_logits_alone(fn) -> str | None:
    logits = torch.randn(3, 64, generator=torch.Generator().manual_seed(1))
    before = logits.clone()
    fn(logits, 5, 9, 4.0, -2.5)
    if not torch.equal(logits, before):
        return ("it changes the logits it is given (an in-place operation such as -= or "
                "log_softmax_ on the input): compute on a copy; the caller reuses these logits.")
    return None


def check_normalised_logit_diff(fn):
    """Compare the learner's metric with the reference on random logits."""
    def log_prob_of_answer(logits, answer_id, foil_id, clean, corrupted):
        lp = logits.float().log_softmax(-1)
        return (lp[..., answer_id] - corrupted) / (clean - corrupted)

    def probabilities(logits, answer_id, foil_id, clean, corrupted):
        p = logits.float().softmax(-1)
        return (p[..., answer_id] - p[..., foil_id] - corrupted) / (clean - corrupted)

    def answer_only(logits, answer_id, foil_id, clean, corrupted):
        return (logits.float()[..., answer_id] - corrupted) / (clean - corrupted)

    def foil_minus_answer(logits, answer_id, foil_id, clean, corrupted):
        return (logits.float()[..., foil_id] - logits.float()[..., answer_id] - corrupted) / (clean - corrupted)

    def reversed_scale(logits, answer_id, foil_id, clean, corrupted):
        diff = logits.float()[..., answer_id] - logits.float()[..., foil_id]
        return (clean - diff) / (clean - corrupted)

    def unnormalised(logits, answer_id, foil_id, clean, corrupted):
        return logits.float()[..., answer_id] - logits.float()[..., foil_id]

    def absolute_difference(logits, answer_id, foil_id, clean, corrupted):
        diff = (logits.float()[..., answer_id] - logits.float()[..., foil_id]).abs()
        return (diff - corrupted) / (clean - corrupted)

    def absolute_span(logits, answer_id, foil_id, clean, corrupted):
        diff = logits.float()[..., answer_id] - logits.float()[..., foil_id]
        return (diff - corrupted) / abs(clean - corrupted)

    def absolute_result(logits, answer_id, foil_id, clean, corrupted):
        diff = logits.float()[..., answer_id] - logits.float()[..., foil_id]
        return ((diff - corrupted) / (clean - corrupted)).abs()

    def first_row_only(logits, answer_id, foil_id, clean, corrupted):
        diff = logits.float()[0, answer_id] - logits.float()[0, foil_id] if logits.dim() > 1 else \
            logits.float()[answer_id] - logits.float()[foil_id]
        return ((diff - corrupted) / (clean - corrupted)).expand(logits.shape[:-1])

    mistakes = {
        "it scores the log-probability of the correct label alone; the metric is a difference: "
        "logit of answer_id minus logit of foil_id": log_prob_of_answer,
        "it takes a difference of probabilities; use the raw logits (a probability saturates "
        "near 0 and 1, a logit difference does not)": probabilities,
        "it uses the correct label's logit alone: subtract the swapped label's logit (foil_id)":
            answer_only,
        "the difference runs the wrong way: correct label (answer_id) minus swapped label (foil_id)":
            foil_minus_answer,
        "clean and corrupted are swapped: the corrupted run must score 0 and the clean run 1":
            reversed_scale,
        "the logit difference is not normalised by (clean_diff - corrupted_diff)": unnormalised,
        "it scores only the first row: index the last dimension with [..., answer_id] so every "
        "row of a batch gets its score": first_row_only,
        "it takes the absolute value of the logit difference; keep its sign (a run that prefers "
        "the foil has a negative difference)": absolute_difference,
        "it divides by the absolute value of (clean_diff - corrupted_diff); divide by the "
        "signed span, so that the corrupted run scores 0 and the clean run 1 whichever is "
        "larger": absolute_span,
        "it takes the absolute value of the result; a patch can push the run past the corrupted "
        "one (below 0), keep the sign": absolute_result,
    }
    return run_check("normalised_logit_diff", fn, reference("normalised_logit_diff"),
                     _metric_cases(), mistakes, extra=_leaves_logits_alone)


# ---------------------------------------------------------------- patch_residual_stream
def tiny_pair(model, seed: int, seq_len: int = 6, differ=(1, 3), pad_at=None) -> AlignedPair:
    """A clean/corrupted pair of random ids differing at `differ`; `pad_at`: a position that is
    a pad in the clean prompt (as when a label is one token shorter)."""
    vocab = model.config.vocab_size
    clean = random_ids(seed, seq_len, vocab)
    corrupted = clean.clone()
    for pos in differ:
        corrupted[0, pos] = (clean[0, pos] + 7) % (vocab - 1) + 1
    clean_mask = torch.ones_like(clean)
    if pad_at is not None:
        clean[0, pad_at] = 0
        clean_mask[0, pad_at] = 0
    labels = [str(int(t)) for t in clean[0]]
    answer = int(random_ids(seed + 100, 1, vocab)[0, 0])
    return AlignedPair(clean, corrupted, clean_mask, torch.ones_like(clean), labels, answer,
                       [bool(d) for d in (clean != corrupted)[0]])


def _residual_cases():
    model = tiny_llama(seed=3)
    cases = []
    # a pad in the clean prompt, then one in the corrupted prompt (the swapped pair), where
    # running the corrupted ids without their mask and positions gives other numbers
    for seed, pad_at, swap in ((0, None, False), (2, 4, False), (4, 3, True)):
        pair = tiny_pair(model, seed, pad_at=pad_at)
        pair = pair.swapped() if swap else pair
        resid = cache_activations(model, pair.clean_inputs())["resid"]
        cases.append(((model, pair, resid, _metric_of(model, pair)), {}))
    return cases


def _metric_of(model, pair):
    """The normalised log-prob of pair's answer: 0 on the corrupted run, 1 on the clean one."""
    clean_lp, corrupted_lp = clean_and_corrupted_logprob(model, pair)

    def metric(logits):
        return normalised_logprob(logits, pair.answer_id, clean_lp, corrupted_lp)
    return metric


def _loop(model, pair, run_inputs, make_hook, metric, remove=True):
    """One patched run per valid (layer, position); make_hook(layer, position) -> pre-hook."""
    n_layers = model.config.num_hidden_layers
    result = torch.full((n_layers, pair.seq_len), float("nan"))
    kept = []
    try:
        for layer in range(n_layers):
            for position in pair.valid_positions.tolist():
                hook, where = make_hook(layer, position)
                handle = where.register_forward_pre_hook(hook) if hook.__name__ == "pre" \
                    else where.register_forward_hook(hook)
                with torch.no_grad():
                    logits = model(**run_inputs).logits[:, -1]
                if remove:
                    handle.remove()
                else:
                    kept.append(handle)
                result[layer, position] = metric(logits)[0]
    finally:
        for handle in kept:
            handle.remove()
    return result


def check_patch_residual_stream(fn):
    """Compare the learner's residual patching loop with the reference on a tiny model."""
    def replacing(resid, layer, position, upto=False, returns=True):
        def pre(module, args):
            hidden = args[0].clone()
            where = slice(0, position + 1) if upto else position
            hidden[:, where] = resid[layer, where]
            return (hidden, *args[1:]) if returns else None
        return pre

    def one_layer_late(model, pair, resid, metric):
        layers = decoder_layers(model)
        n = len(layers)

        def make(layer, position):
            if layer + 1 < n:
                return replacing(resid, layer + 1, position), layers[layer + 1]
            # after the last layer: the final norm's input
            return replacing(torch.cat([resid[1:], resid[-1:]]), layer, position), final_norm(model)
        return _loop(model, pair, pair.corrupted_inputs(), make, metric)

    def up_to_position(model, pair, resid, metric):
        return _loop(model, pair, pair.corrupted_inputs(),
                     lambda l, p: (replacing(resid, l, p, upto=True), decoder_layers(model)[l]), metric)

    def clean_run(model, pair, resid, metric):
        return _loop(model, pair, pair.clean_inputs(),
                     lambda l, p: (replacing(resid, l, p), decoder_layers(model)[l]), metric)

    def hooks_kept(model, pair, resid, metric):
        return _loop(model, pair, pair.corrupted_inputs(),
                     lambda l, p: (replacing(resid, l, p), decoder_layers(model)[l]), metric,
                     remove=False)

    def returns_nothing(model, pair, resid, metric):
        return _loop(model, pair, pair.corrupted_inputs(),
                     lambda l, p: (replacing(resid, l, p, returns=False), decoder_layers(model)[l]),
                     metric)

    def plain_ids(model, pair, resid, metric):
        ids = {"input_ids": pair.corrupted_ids}
        return _loop(model, pair, ids,
                     lambda l, p: (replacing(resid, l, p), decoder_layers(model)[l]), metric)

    mistakes = {
        "it patches one layer too late (the output of the layer instead of its input; use a "
        "forward *pre*-hook)": one_layer_late,
        "it patches every position up to `position`, not that one position": up_to_position,
        "it runs the clean prompt; patch into the corrupted run (pair.corrupted_inputs())": clean_run,
        "hooks are never removed, so patches pile up run after run (remove them in `finally`)":
            hooks_kept,
        "no patch takes effect, every run scores like the corrupted one: the hook edits a copy "
        "but does not return it (return (hidden, *args[1:]))": returns_nothing,
        "it runs the corrupted ids alone; pass **pair.corrupted_inputs() (mask and positions "
        "keep pads out of attention)": plain_ids,
    }
    # Pads leave NaN in the result; the comparison treats NaN in the same places as equal.
    return run_check("patch_residual_stream", fn, reference("patch_residual_stream"),
                     _residual_cases(), mistakes, rtol=1e-3, atol=1e-4,
                     extra=_residual_writes_in_place)


def _residual_writes_in_place(fn) -> str | None:
    """The patch must edit a copy of the layer's input, never the residual stream it receives."""
    (model, pair, resid, metric), _ = _residual_cases()[0]
    modules = {f"decoder layer {i}": layer for i, layer in enumerate(decoder_layers(model))}
    edited = edited_module_input(modules, lambda: fn(model, pair, resid, metric))
    return in_place_message(edited, "hidden = args[0].clone()") if edited else None


# ---------------------------------------------------------------- spearman
def _spearman_cases():
    gen = torch.Generator().manual_seed(1)
    a = torch.randn(6, 8, generator=gen)
    b = a.pow(3) + 0.5 * torch.randn(6, 8, generator=gen)   # monotone-ish, not linear
    ties = torch.tensor([2.0, 0.0, 2.0, 3.0, 5.0, 1.0, 5.0, 5.0])
    spread = torch.tensor([3.0, 1.0, 4.0, 1.5, 9.0, 2.6, 5.0, 0.5])
    return [((a, b), {}), ((a.exp(), -b), {}), ((ties, spread), {})]


def check_spearman(fn):
    """Compare the learner's rank correlation with the reference."""
    def pearson(a, b):
        a, b = a.flatten().double(), b.flatten().double()
        a, b = a - a.mean(), b - b.mean()
        return (a @ b / (a.norm() * b.norm())).float()

    def argsort_once(a, b):
        return pearson(a.flatten().argsort().double(), b.flatten().argsort().double())

    def ties_ignored(a, b):
        return pearson(a.flatten().argsort().argsort().double(),
                       b.flatten().argsort().argsort().double())

    mistakes = {
        "it is the Pearson correlation of the values; correlate their ranks instead": pearson,
        "argsort gives the order, not the ranks: argsort twice (or scatter positions)": argsort_once,
        "tied values get different ranks; give each tie the mean of its ranks": ties_ignored,
    }
    return run_check("spearman", fn, reference("spearman"), _spearman_cases(), mistakes,
                     rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- attribution_patching
def _attribution_variant(detached=False, clean_run=False, reversed_delta=False, last_only=False,
                         with_pads=False):
    """A typical wrong attribution patching (with_pads: it sums over every position, pads too)."""
    from utils.hooks import o_proj_pre_hooks
    from utils.models import model_shape

    def approx(model, pair, cache, metric):
        n_layers, n_heads, head_dim = model_shape(model)
        outputs, leaves = {}, {}

        def keep(layer):
            def hook(module, args):
                outputs[layer] = args[0].detach()
                if detached:   # a detached leaf instead of z: cuts the paths through later heads
                    leaves[layer] = args[0].detach().requires_grad_(True)
                    return (leaves[layer], *args[1:])
                leaves[layer] = torch.zeros_like(args[0], requires_grad=True)
                return (args[0] + leaves[layer], *args[1:])
            return hook

        inputs = pair.clean_inputs() if clean_run else pair.corrupted_inputs()
        with torch.enable_grad(), o_proj_pre_hooks(model, {l: keep(l) for l in range(n_layers)}):
            score = metric(model(**inputs).logits[:, -1]).sum()
            grads = torch.autograd.grad(score, [leaves[l] for l in range(n_layers)])
        where = (torch.tensor([pair.seq_len - 1]) if last_only else
                 torch.arange(pair.seq_len) if with_pads else pair.valid_positions)
        result = torch.zeros(n_layers, n_heads)
        for layer, grad in enumerate(grads):
            z = outputs[layer][0].unflatten(-1, (n_heads, head_dim))
            g = grad[0].unflatten(-1, (n_heads, head_dim))
            if clean_run:   # the "corrupted" activations are then the cache's counterpart
                z = cache_activations(model, pair.corrupted_inputs())["z"][layer].to(z)
            delta = cache["z"][layer].to(z) - z
            delta = -delta if reversed_delta else delta
            result[layer] = (delta[where] * g[where]).sum(dim=(0, 2)).float()
        return result
    return approx


def _attribution_cases():
    cases = []
    for seed, pad_at in ((0, None), (1, None), (2, 5)):   # the third: a pad in the clean prompt
        model = tiny_llama(seed=seed, n_kv_heads=2)
        pair = tiny_pair(model, seed=seed, seq_len=7, differ=(2, 4), pad_at=pad_at)
        cache = cache_activations(model, pair.clean_inputs())
        cases.append(((model, pair, cache, _metric_of(model, pair)), {}))
    return cases


def check_attribution_patching(fn):
    """Exercise 4: gradient in the corrupted run times (clean - corrupted) head outputs."""
    mistakes = {
        "the hook returns a detached copy of z as the leaf: that cuts the paths from a head "
        "through the heads of later layers (add a zero tensor that requires grad instead)":
            _attribution_variant(detached=True),
        "the gradient is taken in the clean run; attribution patching linearises around the "
        "corrupted run (pair.corrupted_inputs())": _attribution_variant(clean_run=True),
        "the difference runs the wrong way: use the clean minus the corrupted head output":
            _attribution_variant(reversed_delta=True),
        "it sums over the last position only; a head's output is patched at every valid "
        "position (pair.valid_positions)": _attribution_variant(last_only=True),
        "it sums over every position, pads included; a pad holds no token, so sum over "
        "pair.valid_positions only": _attribution_variant(with_pads=True),
    }
    return run_check("attribution_patching", fn, reference("attribution_patching"),
                     _attribution_cases(), mistakes, rtol=1e-3, atol=1e-5)


# ---------------------------------------------------------------- patch_head_output
def _head_variant(whole_layer=False, after_mixing=False, clean_run=False, last_only=False,
                  returns=True, with_pads=False):
    """A typical wrong single-head patch (with_pads: it patches every position, pads too)."""
    from utils.hooks import o_proj_pre_hooks, projection_hooks
    from utils.models import model_shape

    def patch(model, pair, clean_z, layer, head, metric):
        n_heads, head_dim = model_shape(model)[1:]
        positions = (torch.tensor([pair.seq_len - 1]) if last_only else
                     torch.arange(pair.seq_len) if with_pads else pair.valid_positions)

        def pre(module, args):
            z = args[0].clone().unflatten(-1, (n_heads, head_dim))
            chosen = slice(None) if whole_layer else head
            z[:, positions, chosen] = clean_z[layer, positions, chosen].to(z.dtype)
            return (z.flatten(-2), *args[1:]) if returns else None

        def post(module, args, output):   # o_proj's output: heads already mixed
            out = output.clone()
            out[:, positions, head * head_dim:(head + 1) * head_dim] = clean_z[layer, positions, head]
            return out

        context = (projection_hooks(model, "o_proj", {layer: post}) if after_mixing
                   else o_proj_pre_hooks(model, {layer: pre}))
        inputs = pair.clean_inputs() if clean_run else pair.corrupted_inputs()
        with torch.no_grad(), context:
            logits = model(**inputs).logits[:, -1]
        return metric(logits)[0]
    return patch


def _head_cases():
    model = tiny_llama(seed=4, n_kv_heads=2)
    cases = []
    # the last two cases have a pad in the clean prompt: a patch there must leave it alone
    for pad_at, heads in ((None, ((0, 1), (1, 2), (0, 3))), (3, ((0, 2), (1, 1)))):
        pair = tiny_pair(model, seed=5, seq_len=7, differ=(2, 4), pad_at=pad_at)
        z = cache_activations(model, pair.clean_inputs())["z"]
        metric = _metric_of(model, pair)
        cases += [((model, pair, z, layer, head, metric), {}) for layer, head in heads]
    return cases


def _hooks_removed(fn) -> str | None:
    (model, pair, z, layer, head, metric), _ = _head_cases()[0]
    with torch.no_grad():
        before = model(**pair.corrupted_inputs()).logits
    fn(model, pair, z, layer, head, metric)
    with torch.no_grad():
        after = model(**pair.corrupted_inputs()).logits
    if not torch.allclose(before, after):
        return ("leaves its hook on the model: later runs are still patched. Register it in a "
                "`with` block or remove it in `finally`.")
    return None


def _head_patch_writes_in_place(fn) -> str | None:
    """The patch must edit a copy of o_proj's input, never the tensor the hook receives."""
    (model, pair, z, layer, head, metric), _ = _head_cases()[0]
    modules = {f"layer {i}'s o_proj": module for i, module in enumerate(out_projections(model))}
    edited = edited_module_input(modules, lambda: fn(model, pair, z, layer, head, metric))
    return in_place_message(edited, "z = args[0].clone()") if edited else None


def check_patch_head_output(fn):
    """Exercise 3: one head's output, every valid position, through a pre-hook on o_proj."""
    mistakes = {
        "it patches every head of the layer: replace only `head`'s slice [..., head, :]":
            _head_variant(whole_layer=True),
        "it patches o_proj's output, where the heads are already mixed: patch its input "
        "(a forward *pre*-hook on o_proj)": _head_variant(after_mixing=True),
        "it runs the clean prompt; patch into the corrupted run (pair.corrupted_inputs())":
            _head_variant(clean_run=True),
        "it patches the last position only; a head's output is patched at every valid "
        "position (pair.valid_positions)": _head_variant(last_only=True),
        "it patches every position, pads included: where the clean prompt has a pad there is "
        "no clean token to copy; patch pair.valid_positions only": _head_variant(with_pads=True),
        "the patch has no effect, the run scores like the corrupted one: the hook edits a copy "
        "but does not return it (return (z.flatten(-2), *args[1:]))": _head_variant(returns=False),
    }
    return run_check("patch_head_output", fn, reference("patch_head_output"), _head_cases(),
                     mistakes, extra=lambda f: _hooks_removed(f) or _head_patch_writes_in_place(f),
                     rtol=1e-4, atol=1e-5)
