"""Checks of notebooks 01 and 02 name the mistakes that used to pass or crash unnamed:
batching bugs of occlusion, a wrong summation axis, a missing retain_grad, LRP switched off or
left on, a session patched by lxt's own monkey_patch, and the last-row head relevance. Every
check of the two notebooks meets at least two typical wrong answers here or in
test_checks_core.py."""
import numpy as np
import pytest
import torch
import transformers.models.llama.modeling_llama as modeling_llama

from checks import (check_attention_relevance, check_head_relevance, check_input_x_gradient,
                    check_last_row_head_relevance, check_lrp_relevance, check_occlusion)
from checks.attribution import _embedding_grad, _score
from solutions import attention_heads as ah
from solutions import input_attribution as ia
from utils.lrp import import_lxt_efficient, patched_outside
from checks.core import tiny_llama


def _out(capsys, check, fn):
    used = check(fn)
    return used, capsys.readouterr().out


def _named(capsys, check, reference_fn, wrong: dict):
    used, out = _out(capsys, check, reference_fn)
    assert used is reference_fn and out.startswith("✓"), out
    for phrase, fn in wrong.items():
        used, out = _out(capsys, check, fn)
        assert used is reference_fn and out.startswith("✗") and phrase in out, (phrase, out)


def _occluded(model, input_ids, target_id, baseline_id):
    """The clean target logit and the prompt once per position, that position occluded."""
    seq = input_ids.shape[1]
    occ = input_ids.repeat(seq, 1)
    occ[torch.arange(seq), torch.arange(seq)] = baseline_id
    return model(input_ids).logits[0, -1, target_id], occ


def test_occlusion_batching_bugs_are_named(capsys):
    def rerun_first_rows(model, input_ids, target_id, baseline_id, batch_size=32):
        seq = input_ids.shape[1]
        with torch.no_grad():
            clean, occ = _occluded(model, input_ids, target_id, baseline_id)
            out = []
            for start in range(0, seq, batch_size):
                n = min(batch_size, seq - start)
                out.append(model(occ[:n]).logits[:, -1, target_id])     # the bug
            drop = clean - torch.cat(out)
        return drop / drop.abs().max()

    def returns_inside_loop(model, input_ids, target_id, baseline_id, batch_size=32):
        with torch.no_grad():
            clean, occ = _occluded(model, input_ids, target_id, baseline_id)
            for start in range(0, len(occ), batch_size):
                drop = clean - model(occ[start:start + batch_size]).logits[:, -1, target_id]
                return drop / drop.abs().max()                            # the bug

    _named(capsys, check_occlusion, ia.occlusion, {
        "every batch runs the first rows again": rerun_first_rows,
        "only the first batch is kept": returns_inside_loop,
    })


def test_input_x_gradient_wrong_axis_is_named(capsys):
    def summed_over_tokens(model, input_ids, target_id, foil_id=None):
        embeds, grad = _embedding_grad(model, input_ids, _score(target_id, foil_id))
        return (embeds * grad).sum(0)

    def gradient_only(model, input_ids, target_id, foil_id=None):
        _, grad = _embedding_grad(model, input_ids, _score(target_id, foil_id))
        return grad.sum(-1)

    _named(capsys, check_input_x_gradient, ia.input_x_gradient, {
        "sums over the tokens instead of the hidden dimension": summed_over_tokens,
        "the gradient alone": gradient_only,
    })


def _no_retain_grad(model, input_ids, target_id, foil_id=None):
    embeds = model.get_input_embeddings()(input_ids).detach().requires_grad_(True)
    out = model(inputs_embeds=embeds, use_cache=False, output_attentions=True)
    logits = out.logits[0, -1]
    (logits[target_id] - (logits[foil_id] if foil_id is not None else 0)).backward()
    return torch.stack([(w * w.grad)[0] for w in out.attentions])     # w.grad is None


def test_lrp_relevance_mistakes_are_named(capsys):
    """LRP switched off, the foil dropped, and AttnLRP left on after the function returns."""
    from utils.lrp import attnlrp, enable_lrp, lrp_is_enabled

    def plain(model, input_ids, target_id, foil_id=None):
        return ia.input_x_gradient(model, input_ids, target_id, foil_id)

    def drops_foil(model, input_ids, target_id, foil_id=None):
        with attnlrp(model):
            return ia.input_x_gradient(model, input_ids, target_id)

    def never_switches_off(model, input_ids, target_id, foil_id=None):
        enable_lrp(model)                 # the rules are switched on and never removed
        return ia.input_x_gradient(model, input_ids, target_id, foil_id)

    _named(capsys, check_lrp_relevance, ia.lrp_relevance, {
        "the AttnLRP rules are off": plain, "`foil_id` is ignored": drops_foil,
        "still switched on after the function returned": never_switches_off,
    })
    assert not lrp_is_enabled(tiny_llama())


@pytest.mark.filterwarnings("ignore:The .grad attribute")
def test_missing_retain_grad_and_wrong_axes_are_named(capsys):
    def wrong_axes(model, input_ids, target_id, foil_id=None):
        return ah.attention_relevance(model, input_ids, target_id, foil_id).sum((1, 2))

    def gradient_only(model, input_ids, target_id, foil_id=None):
        embeds = model.get_input_embeddings()(input_ids).detach().requires_grad_(True)
        out = model(inputs_embeds=embeds, use_cache=False, output_attentions=True)
        for w in out.attentions:
            w.retain_grad()
        logits = out.logits[0, -1]
        (logits[target_id] - (logits[foil_id] if foil_id is not None else 0)).backward()
        return torch.stack([w.grad[0] for w in out.attentions])       # never times the weights

    def absolute(model, input_ids, target_id, foil_id=None):
        return ah.attention_relevance(model, input_ids, target_id, foil_id).abs()

    _named(capsys, check_attention_relevance, ah.attention_relevance, {
        ".retain_grad()": _no_retain_grad, "the gradient alone": gradient_only,
        "absolute values": absolute,
    })
    _named(capsys, check_head_relevance, ah.head_relevance, {
        ".retain_grad()": lambda m, i, t, f=None: _no_retain_grad(m, i, t, f).sum((-2, -1)),
        "wrong axes": wrong_axes,
    })


def test_last_row_head_relevance_mistakes_are_named(capsys):
    def all_rows(model, input_ids, target_id, foil_id=None):
        return ah.head_relevance(model, input_ids, target_id, foil_id)

    def last_column(model, input_ids, target_id, foil_id=None):
        return ah.attention_relevance(model, input_ids, target_id, foil_id)[..., :, -1].sum(-1)

    def first_row(model, input_ids, target_id, foil_id=None):
        return ah.attention_relevance(model, input_ids, target_id, foil_id)[..., 0, :].sum(-1)

    _named(capsys, check_last_row_head_relevance, ah.last_row_head_relevance, {
        "sums every query row": all_rows, "last key column": last_column,
        "first query row": first_row,
    })


def test_a_session_patched_by_lxt_is_named_and_restored(capsys):
    """A learner who calls lxt's monkey_patch inside lrp_relevance is told so; the test puts
    every original back itself (the check cannot: the originals are lost to it)."""
    lxt = import_lxt_efficient()
    saved = [(cls, vars(cls)["forward"]) for cls in (modeling_llama.LlamaMLP,
                                                      modeling_llama.LlamaRMSNorm,
                                                      torch.nn.Dropout)]
    attention = (modeling_llama.eager_attention_forward, modeling_llama.ALL_ATTENTION_FUNCTIONS,
                 dict(modeling_llama.ALL_ATTENTION_FUNCTIONS))

    def patches_for_good(model, input_ids, target_id, foil_id=None):
        lxt.monkey_patch(modeling_llama)
        return ia.input_x_gradient(model, input_ids, target_id, foil_id)

    try:
        used, out = _out(capsys, check_lrp_relevance, patches_for_good)
        assert used is ia.lrp_relevance and out.startswith("✗"), out
        assert "lxt's own `monkey_patch`" in out and "restart the kernel" in out, out
        assert patched_outside(tiny_llama())
        used, out = _out(capsys, check_lrp_relevance, ia.lrp_relevance)   # still patched
        assert out.startswith("✗ lrp_relevance cannot be checked"), out
    finally:
        for cls, forward in saved:
            cls.forward = forward
        modeling_llama.eager_attention_forward = attention[0]
        modeling_llama.ALL_ATTENTION_FUNCTIONS = attention[1]
        attention[1].clear()
        attention[1].update(attention[2])
    assert not patched_outside(tiny_llama())


def test_conservation_ratios_mistakes_are_named(capsys):
    from checks import check_conservation_ratios
    from checks.attribution import ratios_variant

    def stub(model, tokenizer, prompts, relevance_fn):
        raise NotImplementedError
    used, out = _out(capsys, check_conservation_ratios, stub)
    assert used is ia.conservation_ratios and "not implemented yet" in out
    _named(capsys, check_conservation_ratios, ia.conservation_ratios, {
        "divides the logit by the relevance sum": ratios_variant(inverted=True),
        "divides by the probability": ratios_variant(score="probability"),
        "explains the prompt's last token": ratios_variant(target="last"),
        "sums absolute relevance": ratios_variant(total=lambda r: r.abs().sum()),
    })


def test_conservation_is_decided_by_the_registry_on_the_notebooks_ratios():
    from claims import find
    from claims.nb01 import conservation_measurement
    from utils.attribution import conservation_line
    cp = find("cp-lrp-conservation")
    assert cp.decide_on(conservation_measurement(np.full(24, 1.004), "CP-LRP")).holds
    assert not cp.decide_on(conservation_measurement(np.full(24, 0.9), "CP-LRP")).holds
    attn = find("attnlrp-conservation").decide_on(
        conservation_measurement(np.linspace(0.3, 0.5, 24), "AttnLRP"))
    assert attn.holds and attn.n == 24 and "n = 24" in attn.figure
    with pytest.raises(ValueError, match="AttnLRP"):
        conservation_measurement([1.0], "Input x Gradient")
    assert "from 0.30 to 0.50 on 2 prompts" in conservation_line(torch.tensor([0.3, 0.5]), "IxG")


# ---------------------------------------------------------------- misdiagnoses and padded cases
def test_a_wrong_single_number_is_shown_not_diagnosed():
    """One number has no pattern: every wrong scalar used to read "normalisation?"."""
    from checks.core import describe_difference

    for wrong, right in ((2.0, 1.0), (0.3, -0.7), (5.0, 0.5)):
        said = describe_difference(torch.tensor(wrong), torch.tensor(right))
        assert f"is {wrong:.4g} instead of {right:.4g}" in said, said
        assert "normalisation" not in said and "wrong sign" not in said, said
    said = describe_difference(torch.tensor(-1.5), torch.tensor(1.5))
    assert "the opposite sign" in said and "subtract" not in said, said
    # a vector with a single non-zero entry has no pattern either
    said = describe_difference(torch.tensor([0.0, 4.0, 0.0]), torch.tensor([0.0, 1.0, 0.0]))
    assert "normalisation" not in said and "largest difference" in said, said


def test_a_wrong_head_patch_value_is_not_called_a_normalisation(capsys):
    from checks import check_patch_head_output
    from solutions import activation_patching as ap

    def doubled(model, pair, clean_z, layer, head, metric):
        return 2 * ap.patch_head_output(model, pair, clean_z, layer, head, metric)

    def shifted(model, pair, clean_z, layer, head, metric):
        return ap.patch_head_output(model, pair, clean_z, layer, head, metric) + 0.25

    for fn in (doubled, shifted):
        used, out = _out(capsys, check_patch_head_output, fn)
        assert used is ap.patch_head_output and "instead of" in out, out
        assert "normalisation" not in out, out


def test_absolute_values_in_the_patching_metric_are_named(capsys):
    from checks import check_normalised_logit_diff
    from solutions.activation_patching import normalised_logit_diff

    def abs_difference(logits, a, f, clean, corrupted):
        return ((logits[..., a] - logits[..., f]).abs() - corrupted) / (clean - corrupted)

    def abs_difference_in_steps(logits, a, f, clean, corrupted):
        diff = torch.abs(logits[..., a].float() - logits[..., f].float())
        return (diff - corrupted) / (clean - corrupted)

    def abs_span(logits, a, f, clean, corrupted):
        return (logits[..., a] - logits[..., f] - corrupted) / abs(clean - corrupted)

    def abs_span_as_tensor(logits, a, f, clean, corrupted):
        span = torch.tensor(clean - corrupted).abs()
        return (logits[..., a] - logits[..., f] - corrupted) / span

    def abs_result(logits, a, f, clean, corrupted):
        return ((logits[..., a] - logits[..., f] - corrupted) / (clean - corrupted)).abs()

    def abs_result_as_function(logits, a, f, clean, corrupted):
        return torch.abs(normalised_logit_diff(logits, a, f, clean, corrupted))

    _named(capsys, check_normalised_logit_diff, normalised_logit_diff, {
        "absolute value of the logit difference": abs_difference,
        "absolute value of the logit difference; keep": abs_difference_in_steps,
        "absolute value of (clean_diff - corrupted_diff)": abs_span,
        "divide by the signed span": abs_span_as_tensor,
        "absolute value of the result": abs_result,
        "absolute value of the result;": abs_result_as_function,
    })
    for fn in (abs_difference, abs_span):   # the sign diagnosis misread these before
        _, out = _out(capsys, check_normalised_logit_diff, fn)
        assert "wrong sign" not in out and "wrong way" not in out, out


def test_absolute_values_in_the_curve_normalisation_are_named(capsys):
    from checks import check_normalise_curve
    from solutions.faithfulness import normalise_curve

    def guarded(rescale):
        def fn(curve, full, empty, min_span=1e-6):
            if abs(full - empty) < min_span:
                raise ValueError("Removing every token barely moves the logit: pick another prompt.")
            return rescale(curve, full, empty)
        return fn

    _named(capsys, check_normalise_curve, normalise_curve, {
        "absolute value of the span": guarded(lambda c, f, e: (c - e) / abs(f - e)),
        "divide by the signed span": guarded(lambda c, f, e: (c - e) / torch.tensor(f - e).abs()),
        "absolute distance from empty_value": guarded(lambda c, f, e: (c - e).abs() / (f - e)),
        "absolute distance": guarded(lambda c, f, e: torch.abs(c.clone() - e) / (f - e)),
    })


def test_patching_pad_positions_is_named(capsys):
    """The head-patch and attribution-patching checks have a case with a pad in the clean
    prompt: patching or summing over every position (pads included) is named."""
    from checks import check_attribution_patching, check_patch_head_output
    from checks.patching import _attribution_variant, _head_variant
    from solutions import activation_patching as ap
    from utils.hooks import o_proj_pre_hooks
    from utils.models import model_shape

    def head_patch_everywhere(model, pair, clean_z, layer, head, metric):
        n_heads, head_dim = model_shape(model)[1:]

        def hook(module, args):
            z = args[0].clone().unflatten(-1, (n_heads, head_dim))
            z[:, :, head] = clean_z[layer, :, head]          # every position, pads too
            return (z.flatten(-2),)
        with torch.no_grad(), o_proj_pre_hooks(model, {layer: hook}):
            return metric(model(**pair.corrupted_inputs()).logits[:, -1])[0]

    def attribution_over_all_positions(model, pair, cache, metric):
        n_layers, n_heads, head_dim = model_shape(model)
        z, probes = {}, {}

        def keep(layer):
            def hook(module, args):
                z[layer] = args[0].detach()
                probes[layer] = torch.zeros_like(args[0], requires_grad=True)
                return (args[0] + probes[layer],)
            return hook
        with torch.enable_grad(), o_proj_pre_hooks(model, {l: keep(l) for l in range(n_layers)}):
            score = metric(model(**pair.corrupted_inputs()).logits[:, -1]).sum()
            grads = torch.autograd.grad(score, [probes[l] for l in range(n_layers)])
        return torch.stack([
            ((cache["z"][l] - z[l][0].unflatten(-1, (n_heads, head_dim)))      # every position
             * g[0].unflatten(-1, (n_heads, head_dim))).sum((0, 2)) for l, g in enumerate(grads)])

    _named(capsys, check_patch_head_output, ap.patch_head_output, {
        "pads included": _head_variant(with_pads=True),
        "patch pair.valid_positions only": head_patch_everywhere,
    })
    _named(capsys, check_attribution_patching, ap.attribution_patching, {
        "pads included": _attribution_variant(with_pads=True),
        "sum over pair.valid_positions only": attribution_over_all_positions,
    })


def test_hooks_that_write_into_their_args_in_place_are_caught(capsys, one_run_per_patch):
    """Editing the tensor a pre-hook receives gives the same logits (so no output comparison
    sees it); the transplant (03 Exercise 1b), head-patch and residual-patch checks catch it."""
    from contextlib import contextmanager

    from checks import check_patch_head_output, check_patch_residual_stream, check_transplant_heads
    from solutions import activation_patching as ap
    from solutions import function_vectors as fv
    from utils.hooks import decoder_layers, o_proj_pre_hooks, split_heads

    def transplant_in_place(returns_args):
        @contextmanager
        def cm(model, heads, vectors, scale=1.0):
            n = model.config.num_attention_heads

            def hook_for(layer):
                def hook(module, args):
                    per_head = split_heads(args[0], n)          # a view of the model's tensor
                    for (l, h), v in zip(heads, vectors):
                        if l == layer:
                            per_head[:, -1, h] = scale * v
                    return args if returns_args else None
                return hook
            with o_proj_pre_hooks(model, {l: hook_for(l) for l, _ in heads}):
                yield
        return cm

    def head_patch_in_place(flat):
        def patch(model, pair, clean_z, layer, head, metric):
            n, d = model.config.num_attention_heads, model.config.hidden_size // model.config.num_attention_heads
            where = pair.valid_positions

            def hook(module, args):
                if flat:
                    args[0][:, where, head * d:(head + 1) * d] = clean_z[layer, where, head]
                else:
                    split_heads(args[0], n)[:, where, head] = clean_z[layer, where, head]
                    return args
            with torch.no_grad(), o_proj_pre_hooks(model, {layer: hook}):
                return metric(model(**pair.corrupted_inputs()).logits[:, -1])[0]
        return patch

    def residual_in_place(add):
        def patch(model, pair, clean_resid, metric):
            def hook_at(layer, pos):
                def hook(module, args):
                    hidden = args[0]
                    if add:
                        hidden[:, pos] += clean_resid[layer, pos] - hidden[:, pos]
                    else:
                        hidden[:, pos] = clean_resid[layer, pos]
                return decoder_layers(model)[layer], hook
            return one_run_per_patch(model, pair, pair.corrupted_inputs(), hook_at, metric)
        return patch

    _named(capsys, check_transplant_heads, fv.transplant_heads, {
        "in place": transplant_in_place(returns_args=True),
        "`args[0]` of layer": transplant_in_place(returns_args=False)})
    _named(capsys, check_patch_head_output, ap.patch_head_output, {
        "z = args[0].clone()": head_patch_in_place(flat=True),
        "in place": head_patch_in_place(flat=False)})
    _named(capsys, check_patch_residual_stream, ap.patch_residual_stream, {
        "hidden = args[0].clone()": residual_in_place(add=False),
        "of decoder layer": residual_in_place(add=True)})


# ---------------------------------------------------------------- second wrong answers
# Hand-written as a learner would write them (registering hooks directly, other indexing), so
# that each named mistake of these checks meets a second wrong answer beside the check's own
# variant (tests/test_named_mistakes.py feeds those).

def _o_proj(model, layer):
    from utils.hooks import attention_projection
    return attention_projection(model, layer, "o_proj")


def _learner_head_patch(where="valid", whole_layer=False, after=False, clean=False, returns=True):
    def patch(model, pair, clean_z, layer, head, metric):
        n = model.config.num_attention_heads
        d = model.config.hidden_size // n
        positions = {"valid": pair.valid_positions, "last": [pair.seq_len - 1]}[where]
        cols = slice(None) if whole_layer else slice(head * d, (head + 1) * d)
        value = clean_z[layer].flatten(-2)                     # [seq, n * d]

        def pre(module, args):
            x = args[0].clone()
            for p in positions:
                x[0, int(p), cols] = value[int(p), cols]
            if returns:
                return (x,)

        def post(module, args, output):
            y = output.clone()
            for p in positions:
                y[0, int(p), cols] = value[int(p), cols]
            return y
        module = _o_proj(model, layer)
        handle = module.register_forward_hook(post) if after else module.register_forward_pre_hook(pre)
        try:
            with torch.no_grad():
                out = model(**(pair.clean_inputs() if clean else pair.corrupted_inputs()))
        finally:
            handle.remove()
        return metric(out.logits[:, -1])[0]
    return patch


def _learner_attribution(leaf="probe", clean=False, flip=False, where="valid"):
    def attribution(model, pair, cache, metric):
        from utils.patching import cache_activations
        n_layers, n = model.config.num_hidden_layers, model.config.num_attention_heads
        d = model.config.hidden_size // n
        seen, leaves, handles = {}, {}, []

        def hook_for(layer):
            def hook(module, args):
                seen[layer] = args[0].detach()
                if leaf == "detached":
                    leaves[layer] = args[0].detach().clone().requires_grad_(True)
                    return (leaves[layer],)
                leaves[layer] = torch.zeros_like(args[0]).requires_grad_(True)
                return (args[0] + leaves[layer],)
            return hook
        for layer in range(n_layers):
            handles.append(_o_proj(model, layer).register_forward_pre_hook(hook_for(layer)))
        try:
            with torch.enable_grad():
                run = pair.clean_inputs() if clean else pair.corrupted_inputs()
                metric(model(**run).logits[:, -1]).sum().backward()
        finally:
            for h in handles:
                h.remove()
        other = cache_activations(model, pair.corrupted_inputs())["z"] if clean else None
        positions = {"valid": pair.valid_positions, "last": torch.tensor([pair.seq_len - 1])}[where]
        rows = []
        for layer in range(n_layers):
            z = other[layer] if clean else seen[layer][0].view(-1, n, d)
            delta = cache["z"][layer] - z
            if flip:
                delta = z - cache["z"][layer]
            grad = leaves[layer].grad[0].view(-1, n, d)
            rows.append((delta * grad)[positions].sum(0).sum(-1))
        return torch.stack(rows)
    return attribution


def test_patching_checks_name_second_wrong_answers(capsys):
    from checks import check_attribution_patching, check_normalised_logit_diff, check_patch_head_output
    from solutions import activation_patching as ap

    def first_row(logits, a, f, clean, corrupted):
        rows = logits.reshape(-1, logits.shape[-1])
        score = (rows[0, a] - rows[0, f] - corrupted) / (clean - corrupted)
        return score * torch.ones(logits.shape[:-1])

    _named(capsys, check_normalised_logit_diff, ap.normalised_logit_diff,
           {"scores only the first row": first_row})
    _named(capsys, check_patch_head_output, ap.patch_head_output, {
        "every head of the layer": _learner_head_patch(whole_layer=True),
        "already mixed": _learner_head_patch(after=True),
        "runs the clean prompt": _learner_head_patch(clean=True),
        "last position only": _learner_head_patch(where="last"),
        "does not return it": _learner_head_patch(returns=False),
    })
    _named(capsys, check_attribution_patching, ap.attribution_patching, {
        "detached copy": _learner_attribution(leaf="detached"),
        "taken in the clean run": _learner_attribution(clean=True),
        "wrong way": _learner_attribution(flip=True),
        "last position only": _learner_attribution(where="last"),
    })


def test_residual_check_names_second_wrong_answers(capsys):
    from checks import check_patch_residual_stream
    from solutions import activation_patching as ap
    from utils.hooks import decoder_layers

    def learner(upto=False, keep_hooks=False, plain=False):
        def patch(model, pair, clean_resid, metric):
            n = model.config.num_hidden_layers
            result = torch.full((n, pair.seq_len), float("nan"))
            kept = []
            try:
                for layer in range(n):
                    for pos in pair.valid_positions.tolist():
                        def hook(module, args, layer=layer, pos=pos):
                            h = args[0].clone()
                            if upto:
                                h[0, :pos + 1] = clean_resid[layer, :pos + 1]
                            else:
                                h[0, pos] = clean_resid[layer, pos]
                            return (h,) + args[1:]
                        handle = decoder_layers(model)[layer].register_forward_pre_hook(hook)
                        run = {"input_ids": pair.corrupted_ids} if plain else pair.corrupted_inputs()
                        with torch.no_grad():
                            result[layer, pos] = metric(model(**run).logits[:, -1])[0]
                        (kept.append if keep_hooks else lambda h: h.remove())(handle)
            finally:
                for handle in kept:
                    handle.remove()
            return result
        return patch

    _named(capsys, check_patch_residual_stream, ap.patch_residual_stream, {
        "up to `position`": learner(upto=True),
        "never removed": learner(keep_hooks=True),
        "corrupted ids alone": learner(plain=True),
    })


def test_curve_and_transplant_checks_name_second_wrong_answers(capsys):
    from contextlib import contextmanager

    from checks import check_normalise_curve, check_transplant_heads
    from solutions import function_vectors as fv
    from solutions.faithfulness import normalise_curve

    def refusing(rescale):
        def fn(curve, full, empty, min_span=1e-6):
            if abs(full - empty) < min_span:
                raise ValueError("Removing every token barely moves the logit: pick another prompt.")
            return rescale(curve.clone(), full, empty)
        return fn

    _named(capsys, check_normalise_curve, normalise_curve, {
        "divides by full_value": refusing(lambda c, f, e: c.sub(e).div(f)),
        "upside down": refusing(lambda c, f, e: (f - c) / (f - e)),
        "own minimum and maximum": refusing(
            lambda c, f, e: (c - c.amin(-1, keepdim=True)) / (c.amax(-1, keepdim=True) - c.amin(-1, keepdim=True))),
    })

    def transplant(write):
        @contextmanager
        def cm(model, heads, vectors, scale=1.0):
            n = model.config.num_attention_heads
            handles = []

            def hook_for(layer):
                def hook(module, args):
                    x = args[0].clone().view(*args[0].shape[:-1], n, -1)
                    for (l, h), v in zip(heads, vectors):
                        if l == layer:
                            write(x, h, v, scale)
                    return (x.flatten(-2),)
                return hook
            for layer in {l for l, _ in heads}:
                handles.append(_o_proj(model, layer).register_forward_pre_hook(hook_for(layer)))
            try:
                yield
            finally:
                for handle in handles:
                    handle.remove()
        return cm

    def every_position(x, h, v, scale):
        x[0, :, h] = v * scale

    def unscaled(x, h, v, scale):
        x[0, -1, h] = v

    def added(x, h, v, scale):
        x[0, -1, h] = x[0, -1, h] + scale * v

    _named(capsys, check_transplant_heads, fv.transplant_heads, {
        "every position": transplant(every_position), "ignores `scale`": transplant(unscaled),
        "adds the vector": transplant(added)})


def test_deletion_curve_check_names_second_wrong_answers(capsys):
    from checks import check_deletion_curve
    from solutions.faithfulness import deletion_curve

    def rows_for(input_ids, order, baseline_id):
        rows = [input_ids[0].clone()]
        for k in range(1, len(order) + 1):
            row = input_ids[0].clone()
            row[order[:k]] = baseline_id
            rows.append(row)
        return torch.stack(rows)

    def left_to_right(model, input_ids, target_id, order, baseline_id, batch_size=32):
        rows = rows_for(input_ids, torch.as_tensor(order).sort().values, baseline_id)
        with torch.no_grad():
            return model(rows).logits[:, -1, target_id]

    def top_token(model, input_ids, target_id, order, baseline_id, batch_size=32):
        rows = rows_for(input_ids, torch.as_tensor(order), baseline_id)
        with torch.no_grad():
            logits = model(rows).logits[:, -1]
        return logits[:, int(logits[0].argmax())]

    _named(capsys, check_deletion_curve, deletion_curve, {
        "from left to right": left_to_right, "instead of `target_id`": top_token})


def test_conservation_ratios_check_names_second_wrong_answers(capsys):
    from checks import check_conservation_ratios

    def written(score="logit", target="top", total="signed", inverted=False):
        def ratios(model, tokenizer, prompts, relevance_fn):
            out = []
            for prompt in prompts:
                ids = tokenizer(prompt, return_tensors="pt").input_ids
                with torch.no_grad():
                    logits = model(ids).logits[0, -1]
                token = int(logits.argmax()) if target == "top" else int(ids[0, -1])
                relevance = relevance_fn(model, ids, token)
                summed = relevance.abs().sum() if total == "abs" else relevance.sum()
                value = logits.softmax(-1)[token] if score == "probability" else logits[token]
                out.append(float(value / summed) if inverted else float(summed / value))
            return torch.tensor(out)
        return ratios

    _named(capsys, check_conservation_ratios, ia.conservation_ratios, {
        "divides the logit by the relevance sum": written(inverted=True),
        "divides by the probability": written(score="probability"),
        "explains the prompt's last token": written(target="last"),
        "sums absolute relevance": written(total="abs"),
    })


def _attention_and_grads(model, input_ids, score):
    """A learner's own route to the weights and their gradients: autograd.grad, no retain_grad."""
    embeds = model.get_input_embeddings()(input_ids).detach().requires_grad_(True)
    out = model(inputs_embeds=embeds, use_cache=False, output_attentions=True)
    grads = torch.autograd.grad(score(out.logits[0, -1]), list(out.attentions))
    return torch.cat([w.detach() for w in out.attentions]), torch.cat(grads)   # [L, H, q, k]


def _head_learner(combine, pick="target", use_foil=True, probability=False):
    def fn(model, input_ids, target_id, foil_id=None):
        def score(logits):
            token = int(logits.argmax()) if pick == "top" else target_id
            value = logits.softmax(-1) if probability else logits
            out = value[token]
            if use_foil and foil_id is not None:
                out = out - value[foil_id]
            return out
        weights, grads = _attention_and_grads(model, input_ids, score)
        return combine(weights, grads)
    return fn


def test_head_checks_name_second_wrong_answers(capsys):
    import operator

    from checks import check_attention_relevance, check_head_relevance

    product = operator.mul
    _named(capsys, check_attention_relevance, ah.attention_relevance, {
        "the attention weights alone": _head_learner(lambda w, g: w.clone()),
        "the gradient alone": _head_learner(lambda w, g: g.clone()),
        "absolute values": _head_learner(lambda w, g: torch.abs(w * g)),
        "most likely token": _head_learner(product, pick="top"),
        "the probability (softmax)": _head_learner(product, probability=True),
        "`foil_id` is ignored": _head_learner(product, use_foil=False),
    })
    _named(capsys, check_head_relevance, ah.head_relevance, {
        "summed without their gradient": _head_learner(lambda w, g: w.sum(-1).sum(-1)),
        "gradient summed without": _head_learner(lambda w, g: g.sum(-1).sum(-1)),
        "absolute values summed": _head_learner(lambda w, g: (w * g).abs().sum(-1).sum(-1)),
        "only the last query row": _head_learner(lambda w, g: (w * g)[:, :, -1].sum(-1)),
        "the mean instead of the sum": _head_learner(lambda w, g: (w * g).flatten(2).mean(-1)),
        "wrong axes": _head_learner(lambda w, g: (w * g).sum(2).sum(1)),
        "most likely token": _head_learner(lambda w, g: (w * g).flatten(2).sum(-1), pick="top"),
    })


def test_attribution_checks_name_second_wrong_answers(capsys):
    from utils.lrp import attnlrp

    def ixg(position=-1, pick="target", log_prob=False, times_input=True):
        def fn(model, input_ids, target_id, foil_id=None):
            embeds = model.get_input_embeddings()(input_ids).detach().requires_grad_(True)
            logits = model(inputs_embeds=embeds, use_cache=False).logits[0, position]
            scores = logits.log_softmax(-1) if log_prob else logits
            token = int(logits.argmax()) if pick == "top" else target_id
            value = scores[token] - (scores[foil_id] if foil_id is not None else 0)
            (grad,) = torch.autograd.grad(value, embeds)
            return ((embeds * grad) if times_input else grad)[0].sum(-1).detach()
        return fn

    def under_lrp(fn):
        def wrapped(model, input_ids, target_id, foil_id=None):
            with attnlrp(model):
                return fn(model, input_ids, target_id, foil_id)
        return wrapped

    def occlusion_raw(model, input_ids, target_id, baseline_id, batch_size=32):
        with torch.no_grad():
            clean = model(input_ids).logits[0, -1, target_id]
            rows = input_ids.repeat(input_ids.shape[1], 1)
            rows.fill_diagonal_(baseline_id)
            return clean - model(rows).logits[:, -1, target_id]      # never divided

    def last_row_abs(model, input_ids, target_id, foil_id=None):
        maps = ah.attention_relevance(model, input_ids, target_id, foil_id)
        return maps[:, :, -1, :].abs().sum(-1)

    _named(capsys, check_input_x_gradient, ia.input_x_gradient, {
        "most likely token": ixg(pick="top"), "log-probability": ixg(log_prob=True),
        "first position": ixg(position=0)})
    _named(capsys, check_lrp_relevance, ia.lrp_relevance, {
        "most likely token": under_lrp(ixg(pick="top")),
        "LRP gradient alone": under_lrp(ixg(times_input=False))})
    _named(capsys, check_occlusion, ia.occlusion, {"not normalised": occlusion_raw})
    _named(capsys, check_last_row_head_relevance, ah.last_row_head_relevance,
           {"absolute values": last_row_abs})


def test_conflict_checks_name_second_wrong_answers(capsys):
    import numpy as np

    from checks import check_conflict_head_relevance, check_leave_one_out_accuracy
    from solutions import knowledge_conflicts as kc
    from utils.conflicts import contrastive_scores, monitor_dataset, split_heads_by_source
    from utils.lrp import attnlrp
    from utils.monitor import fit_monitor
    from utils.tokens import first_divergent_tokens

    def conflict(at_prompt=False, swap=False, lrp=True, space=" "):
        def fn(model, tokenizer, sample, top_k=10):
            if at_prompt:
                ids = tokenizer(sample.prompt, return_tensors="pt").input_ids
                first = lambda answer: tokenizer(sample.prompt + space + answer).input_ids[ids.shape[1]]  # noqa: E731
                param, context = first(sample.parametric), first(sample.contextual)
            else:
                ids, param, context = first_divergent_tokens(tokenizer, sample.prompt,
                                                             space + sample.parametric,
                                                             space + sample.contextual)
            with torch.no_grad():
                top = model(ids).logits[0, -1].topk(top_k).indices.tolist()
            if param not in top or context not in top:
                return None
            if lrp:
                with attnlrp(model):
                    rows = [ah.head_relevance(model, ids, t) for t in (param, context)]
            else:
                rows = [ah.head_relevance(model, ids, t) for t in (param, context)]
            return torch.stack(rows[::-1] if swap else rows)
        return fn

    _named(capsys, check_conflict_head_relevance, kc.conflict_head_relevance, {
        "where they differ": conflict(at_prompt=True), "rows are swapped": conflict(swap=True),
        "without AttnLRP": conflict(lrp=False), "leading space": conflict(space="")})

    def loo(heads_from="train", monitor_from="train", first_label=1, stride=2):
        def fn(relevance, k):
            n = len(relevance)
            predictions = np.zeros(2 * n, dtype=int)
            for i in range(n):
                keep = [j for j in range(n) if j != i]
                pick = relevance if heads_from == "all" else relevance[keep]
                fit = relevance if monitor_from == "all" else relevance[keep]
                param_heads, context_heads = split_heads_by_source(contrastive_scores(pick), k)
                heads = param_heads + context_heads
                monitor = fit_monitor(*monitor_dataset(fit, heads))
                predictions[stride * i:stride * i + 2] = monitor.predict(
                    monitor_dataset(relevance[i:i + 1], heads)[0])
            labels = np.array([first_label, 1 - first_label] * n)
            return float(np.mean(predictions == labels)), predictions
        return fn

    _named(capsys, check_leave_one_out_accuracy, kc.leave_one_out_accuracy, {
        "heads are chosen on all samples": loo(heads_from="all"),
        "monitor is fitted on all samples": loo(monitor_from="all"),
        "nothing is held out": loo(heads_from="all", monitor_from="all"),
        "labels are in the wrong order": loo(first_label=0),
        "overwrite each other": loo(stride=1),
    })


# Notebook 03's checks (other than the transplant above): learner-written wrong answers that
# take each o_proj input with their own hook, indexing and reduction.
def _o_proj_inputs(model, ids):
    """Every layer's o_proj input and output [seq, n_heads, head_dim] for one prompt."""
    n = model.config.num_attention_heads
    ins, outs, handles = {}, {}, []
    for layer in range(model.config.num_hidden_layers):
        def hook(module, args, output, layer=layer):
            ins[layer] = args[0][0].reshape(args[0].shape[1], n, -1)
            outs[layer] = output[0].reshape(output.shape[1], n, -1)
        handles.append(_o_proj(model, layer).register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(ids)
    finally:
        for h in handles:
            h.remove()
    return ins, outs


def test_function_vector_checks_name_second_wrong_answers(capsys):
    from checks import (check_function_vector, check_head_outputs_at_last, check_indirect_effects,
                        check_mean_head_outputs, check_substring_head_scores)
    from solutions import function_vectors as fv
    from utils.lrp import attnlrp
    from utils.tokens import answer_token_id

    def capture(take):
        def fn(model, input_ids, heads):
            ins, outs = _o_proj_inputs(model, input_ids)
            return torch.stack([take(ins[l], outs[l], h) for l, h in heads])
        return fn

    _named(capsys, check_head_outputs_at_last, fv.head_outputs_at_last, {
        "first position": capture(lambda x, o, h: x[0, h]),
        "wrong way round": capture(lambda x, o, h: x[-1].flatten().view(-1, x.shape[1]).T[h]),
        "output of o_proj": capture(lambda x, o, h: o[-1, h]),
    })

    def means(take, reduce="mean"):
        def fn(model, tokenizer, prompts):
            rows = []
            for prompt in prompts:
                ins, outs = _o_proj_inputs(model, tokenizer(prompt, return_tensors="pt").input_ids)
                rows.append(torch.stack([take(ins[l], outs[l]) for l in sorted(ins)]))
            stacked = torch.stack(rows)
            return stacked.sum(0) if reduce == "sum" else stacked.mean(0)
        return fn

    _named(capsys, check_mean_head_outputs, fv.mean_head_outputs, {
        "every position of the prompt": means(lambda x, o: x.mean(0)),
        "sums over the prompts": means(lambda x, o: x[-1], reduce="sum"),
        "output of o_proj": means(lambda x, o: o[-1]),
        "first position": means(lambda x, o: x[0]),
    })

    def effects(logit=False, drop=False, total=False):
        def fn(model, tokenizer, prompts, answers, mean_outputs):
            L, H = mean_outputs.shape[:2]
            out = torch.zeros(L, H)
            for prompt, answer in zip(prompts, answers):
                ids = tokenizer(prompt, return_tensors="pt").input_ids
                target = answer_token_id(tokenizer, prompt, answer)
                score = (lambda z: z[target]) if logit else (lambda z: z.softmax(-1)[target])
                with torch.no_grad():
                    base = score(model(ids).logits[0, -1])
                    for l in range(L):
                        for h in range(H):
                            with fv.transplant_heads(model, [(l, h)], mean_outputs[l, h].unsqueeze(0)):
                                moved = score(model(ids).logits[0, -1])
                            out[l, h] += float(base - moved) if drop else float(moved - base)
            return out if total else out / len(prompts)
        return fn

    _named(capsys, check_indirect_effects, fv.indirect_effects, {
        "rise of the answer's logit": effects(logit=True), "reports the drop": effects(drop=True),
        "sums over the prompts": effects(total=True)})

    def vector(pick, scale=1.0):
        def fn(model, mean_outputs, heads):
            d = mean_outputs.shape[-1]
            return scale * sum(pick(_o_proj(model, l).weight.detach(), mean_outputs, l, h, d)
                               for l, h in heads)
        return fn

    _named(capsys, check_function_vector, fv.function_vector, {
        "rows of o_proj": vector(lambda w, m, l, h, d: w[h * d:(h + 1) * d, :].t() @ m[l, h]),
        "raw outputs": vector(lambda w, m, l, h, d: m[l, h].clone()),
        "averages over the heads": lambda model, m, heads: vector(
            lambda w, mm, l, h, d: w[:, h * d:(h + 1) * d] @ mm[l, h])(model, m, heads) / len(heads),
        "whole layer": vector(lambda w, m, l, h, d: w @ m[l].reshape(-1)),
    })

    def scores(rows="last", positive="clamp", lrp=True):
        def fn(model, tokenizer, prompt, substring, target_id=None):
            positions = fv.substring_token_positions(tokenizer, prompt, substring)
            ids = tokenizer(prompt, return_tensors="pt").input_ids
            if target_id is None:
                with torch.no_grad():
                    target_id = int(model(ids).logits[0, -1].argmax())
            if lrp:
                with attnlrp(model):
                    maps = ah.attention_relevance(model, ids, target_id)
            else:
                maps = ah.attention_relevance(model, ids, target_id)
            keys = maps[..., positions]                              # [L, H, q, k]
            picked = keys[:, :, -1] if rows == "last" else keys.sum(2)
            picked = {"clamp": torch.relu, "abs": torch.abs, "none": lambda t: t}[positive](picked)
            return picked.sum(-1)
        return fn

    _named(capsys, check_substring_head_scores, fv.substring_head_scores, {
        "every query row": scores(rows="all"), "negative relevance is kept": scores(positive="none"),
        "absolute values": scores(positive="abs"), "without AttnLRP": scores(lrp=False)})
