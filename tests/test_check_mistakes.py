"""Checks of notebooks 01 and 02 name the mistakes that used to pass or crash unnamed:
batching bugs of occlusion, a wrong summation axis, a missing retain_grad, LRP switched off or
left on, a session patched by lxt's own monkey_patch, and the last-row head relevance. Every
check of the two notebooks meets at least two typical wrong answers here or in
test_checks_core.py."""
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


def test_occlusion_batching_bugs_are_named(capsys):
    def rerun_first_rows(model, input_ids, target_id, baseline_id, batch_size=32):
        seq = input_ids.shape[1]
        with torch.no_grad():
            clean = model(input_ids).logits[0, -1, target_id]
            occ = input_ids.repeat(seq, 1)
            occ[torch.arange(seq), torch.arange(seq)] = baseline_id
            out = []
            for start in range(0, seq, batch_size):
                n = min(batch_size, seq - start)
                out.append(model(occ[:n]).logits[:, -1, target_id])     # the bug
            drop = clean - torch.cat(out)
        return drop / drop.abs().max()

    def returns_inside_loop(model, input_ids, target_id, baseline_id, batch_size=32):
        seq = input_ids.shape[1]
        with torch.no_grad():
            clean = model(input_ids).logits[0, -1, target_id]
            occ = input_ids.repeat(seq, 1)
            occ[torch.arange(seq), torch.arange(seq)] = baseline_id
            for start in range(0, seq, batch_size):
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


def test_conservation_verdict_reads_ratios_and_tables():
    from utils.attribution import conservation_verdict
    assert conservation_verdict(torch.tensor([1.0, 0.995]), "CP-LRP")[0]
    holds, figure = conservation_verdict([0.3, 0.5], "AttnLRP")
    assert not holds and "from 0.30 to 0.50 on 2 prompts" in figure
