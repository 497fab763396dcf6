"""Activation patching (utils.patching, solutions.activation_patching, its checks)."""
import pytest
import torch

from solutions import activation_patching as ref
from checks.core import tiny_llama
from checks.patching import (check_normalised_logit_diff, check_patch_residual_stream,
                                   check_spearman, tiny_pair)
from utils.patching import (HEAD_SITES, Patch, align_prompts, cache_activations, normalised_logprob,
                            clean_and_corrupted_logprob, head_patches, patch_heads,
                            patch_residual_batched, patching_hooks, residual_patches,
                            run_with_patches, site_heads)


def gqa_llama(seed=0):
    """A tiny Llama with grouped-query attention (4 query heads share 2 key/value heads)."""
    return tiny_llama(seed=seed, n_kv_heads=2)


@pytest.fixture(scope="module")
def setting():
    model = gqa_llama()
    pair = tiny_pair(model, seed=0, seq_len=7, differ=(2, 4))
    clean_lp, corrupted_lp = clean_and_corrupted_logprob(model, pair)
    metric = lambda logits: normalised_logprob(logits, pair.answer_id, clean_lp, corrupted_lp)  # noqa: E731
    return model, pair, metric


def test_clean_cache_into_clean_run_gives_one_everywhere(setting):
    model, pair, metric = setting
    cache = cache_activations(model, pair.clean_inputs())
    # run the *clean* prompt as the "corrupted" side: every patch is a no-op, metric stays 1
    same = type(pair)(pair.clean_ids, pair.clean_ids, pair.clean_mask, pair.clean_mask,
                      pair.labels, pair.answer_id)
    resid = patch_residual_batched(model, same, cache, metric)
    assert torch.allclose(resid, torch.ones_like(resid), atol=1e-4)
    for site in HEAD_SITES:
        scores = patch_heads(model, same, cache, site, metric)
        assert scores.shape == (2, site_heads(model, site))
        assert torch.allclose(scores, torch.ones_like(scores), atol=1e-4), site


def test_nothing_patched_gives_zero_and_everything_patched_gives_one(setting):
    model, pair, metric = setting
    cache = cache_activations(model, pair.clean_inputs())
    logits = run_with_patches(model, pair, cache, [None, Patch("resid", 0)])
    scores = metric(logits)
    assert abs(float(scores[0])) < 1e-4          # the plain corrupted run
    assert abs(float(scores[1]) - 1) < 1e-4      # whole residual stream at layer 0 is clean


def test_corrupted_cache_into_corrupted_run_changes_nothing(setting):
    model, pair, metric = setting
    cache = cache_activations(model, pair.corrupted_inputs())
    for site in HEAD_SITES:
        scores = patch_heads(model, pair, cache, site, metric)
        assert torch.allclose(scores, torch.zeros_like(scores), atol=1e-4), site


def test_batched_equals_one_patch_per_run(setting):
    model, pair, metric = setting
    cache = cache_activations(model, pair.clean_inputs())
    patches = [p for p in residual_patches(model, pair) if p is not None]
    for site in HEAD_SITES:
        patches += head_patches(model, site)
        patches.append(Patch(site, 1, head=0, position=pair.seq_len - 1))
    batched = run_with_patches(model, pair, cache, patches, batch_size=64)
    looped = run_with_patches(model, pair, cache, patches, batch_size=1)
    assert torch.allclose(batched, looped, atol=1e-5)
    loop = ref.patch_residual_stream(model, pair, cache["resid"], metric)
    fast = patch_residual_batched(model, pair, cache, metric, batch_size=5)
    assert torch.allclose(loop, fast, atol=1e-5, equal_nan=True)


def test_runs_from_the_first_patched_layer_equal_whole_runs(setting):
    """run_with_patches starts each batch at its lowest patched layer: the same logits as running
    every layer of the corrupted prompt with the same hooks."""
    model, pair, metric = setting
    cache = cache_activations(model, pair.clean_inputs())
    patches = [None, (Patch("z", 1, head=2), Patch("v", 1, head=0))]
    for site in HEAD_SITES:
        patches += [Patch(site, 1, head=0), Patch(site, 0, head=1, position=pair.seq_len - 2)]
    patches.append(Patch("resid", 1, position=pair.seq_len - 1))
    for batch_size in (1, 4, 64):
        fast = run_with_patches(model, pair, cache, patches, batch_size=batch_size)
        whole = []
        for start in range(0, len(patches), batch_size):
            chunk = patches[start:start + batch_size]
            with torch.no_grad(), patching_hooks(model, cache, chunk, pair.valid_positions):
                whole.append(model(**pair.corrupted_inputs(len(chunk))).logits[:, -1])
        assert torch.allclose(fast, torch.cat(whole), atol=1e-5), batch_size


def test_pattern_patch_equals_recomputed_head_output(setting):
    """Patching a head's pattern = clean pattern applied to the corrupted values."""
    model, pair, metric = setting
    clean = cache_activations(model, pair.clean_inputs())
    corrupted = cache_activations(model, pair.corrupted_inputs())
    # patch layer 1 head 3 pattern; its output must be clean pattern @ corrupted values of kv 1
    seen = {}
    with torch.no_grad(), patching_hooks(model, clean, [Patch("pattern", 1, head=3)],
                                         pair.valid_positions):
        # registered after the patching hook, so it sees the patched head output
        handle = model.model.layers[1].self_attn.o_proj.register_forward_pre_hook(
            lambda m, a: seen.__setitem__("z", a[0][0].view(pair.seq_len, 4, 8)[:, 3].clone()))
        try:
            model(**pair.corrupted_inputs())
        finally:
            handle.remove()
    expected = clean["pattern"][1, 3] @ corrupted["v"][1, :, 3 // 2]
    assert torch.allclose(seen["z"], expected, atol=1e-5)


def test_hooks_are_removed_on_errors(setting):
    model, pair, _ = setting
    cache = cache_activations(model, pair.clean_inputs())
    with pytest.raises(RuntimeError):
        with patching_hooks(model, cache, [Patch("z", 0, head=1), Patch("pattern", 1, head=0)],
                            pair.valid_positions):
            raise RuntimeError("boom")
    for module in model.modules():
        assert not module._forward_hooks and not module._forward_pre_hooks


def test_bad_patches_are_refused(setting):
    model, pair, _ = setting
    cache = cache_activations(model, pair.clean_inputs())
    with pytest.raises(ValueError, match="key/value|0 .. 1"):
        run_with_patches(model, pair, cache, [Patch("k", 0, head=3)])   # only 2 kv heads
    with pytest.raises(ValueError, match="layers"):
        run_with_patches(model, pair, cache, [Patch("resid", 5)])
    with pytest.raises(ValueError, match="Unknown site"):
        run_with_patches(model, pair, cache, [Patch("mlp", 0)])
    with pytest.raises(ValueError, match="outside the prompt"):
        run_with_patches(model, pair, cache, [Patch("resid", 0, position=99)])


def test_prompts_of_different_lengths_are_aligned_with_masked_pads(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, attn_implementation="eager").eval()
    # one label swapped: " neutral" and " mixed" are different numbers of tokens here
    clean = "Review: It was fine. Sentiment: neutral\nReview: Good. Sentiment:"
    corrupted = clean.replace("neutral", "mixed")
    n_clean, n_corrupted = len(tokenizer(clean).input_ids), len(tokenizer(corrupted).input_ids)
    assert n_clean != n_corrupted   # this tokenizer splits the labels unevenly
    pair = align_prompts(tokenizer, clean, corrupted, " positive")
    assert pair.clean_ids.shape == pair.corrupted_ids.shape
    assert int(pair.clean_mask.sum()) == n_clean and int(pair.corrupted_mask.sum()) == n_corrupted
    with torch.no_grad():   # the pads change nothing the model computes
        for prompt, inputs in ((clean, pair.clean_inputs()), (corrupted, pair.corrupted_inputs())):
            plain = model(tokenizer(prompt, return_tensors="pt").input_ids).logits[0, -1]
            padded = model(**inputs).logits[0, -1]
            assert torch.allclose(plain, padded, atol=1e-5)
    assert all(p in range(pair.seq_len) for p in pair.valid_positions.tolist())
    assert len(pair.valid_positions) < pair.seq_len


def test_alignment_refuses_bad_prompts(tiny_model_dir):
    from transformers import AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    with pytest.raises(ValueError, match="empty"):
        align_prompts(tokenizer, "", "Paris", " x")
    with pytest.raises(ValueError, match="nothing to patch"):
        align_prompts(tokenizer, "The capital", "The capital", " x")
    with pytest.raises(ValueError, match="extra tokens at its end"):
        align_prompts(tokenizer, "The capital of France", "The capital of France is", " x")


def test_checks_accept_the_reference():
    assert check_normalised_logit_diff(ref.normalised_logit_diff) is ref.normalised_logit_diff
    assert check_patch_residual_stream(ref.patch_residual_stream) is ref.patch_residual_stream
    assert check_spearman(ref.spearman) is ref.spearman


def _says(capsys, check, fn, words):
    used = check(fn)
    out = capsys.readouterr().out
    assert out.startswith("✗") and words in out, out
    return used


def test_metric_check_names_typical_mistakes(capsys):
    def answer_only(logits, answer_id, foil_id, clean, corrupted):
        return (logits[..., answer_id] - corrupted) / (clean - corrupted)

    def backwards(logits, answer_id, foil_id, clean, corrupted):
        return (logits[..., foil_id] - logits[..., answer_id] - corrupted) / (clean - corrupted)

    def swapped(logits, answer_id, foil_id, clean, corrupted):
        return (clean - (logits[..., answer_id] - logits[..., foil_id])) / (clean - corrupted)

    def unnormalised(logits, answer_id, foil_id, clean, corrupted):
        return logits[..., answer_id] - logits[..., foil_id]

    def in_place(logits, answer_id, foil_id, clean, corrupted):
        logits -= logits[..., foil_id:foil_id + 1].clone()      # shifts the caller's logits
        return (logits[..., answer_id] - corrupted) / (clean - corrupted)

    def log_prob_of_answer(logits, answer_id, foil_id, clean, corrupted):
        return (logits.log_softmax(-1)[..., answer_id] - corrupted) / (clean - corrupted)

    def probabilities(logits, answer_id, foil_id, clean, corrupted):
        p = logits.softmax(-1)
        return (p[..., answer_id] - p[..., foil_id] - corrupted) / (clean - corrupted)

    def log_prob_difference(logits, answer_id, foil_id, clean, corrupted):
        lp = logits.log_softmax(-1)        # the same numbers: the normaliser cancels
        return (lp[..., answer_id] - lp[..., foil_id] - corrupted) / (clean - corrupted)

    assert check_normalised_logit_diff(log_prob_difference) is log_prob_difference
    assert capsys.readouterr().out.startswith("✓")
    for fn, words in ((log_prob_of_answer, "log-probability of the correct label alone"),
                      (probabilities, "difference of probabilities"),
                      (answer_only, "swapped label's logit"), (backwards, "wrong way"),
                      (swapped, "clean and corrupted are swapped"), (unnormalised, "not normalised"),
                      (in_place, "in place")):
        assert _says(capsys, check_normalised_logit_diff, fn, words) is ref.normalised_logit_diff


def test_residual_check_names_mistakes_without_placeholder_values(capsys):
    def pads_filled(model, pair, resid, metric):
        return ref.patch_residual_stream(model, pair, resid, metric).nan_to_num(0.0)

    def in_place(model, pair, resid, metric):
        resid.mul_(1.0001)                                   # edits the caller's cache
        return ref.patch_residual_stream(model, pair, resid, metric)

    _says(capsys, check_patch_residual_stream, pads_filled, "should stay NaN")
    _says(capsys, check_patch_residual_stream, in_place, "in place")
    for fn in (pads_filled,):
        check_patch_residual_stream(fn)
        assert "-99" not in capsys.readouterr().out


def _write_at(module, value, pos):
    """(module, a pre-hook that writes value[pos] into a copy of its input and returns it)."""
    def hook(m, args):
        h = args[0].clone(); h[:, pos] = value[pos]
        return (h, *args[1:])
    return module, hook


def test_residual_check_names_typical_mistakes(capsys, one_run_per_patch):
    def clean_run(model, pair, clean_resid, metric):
        def hook_at(layer, pos):
            return _write_at(model.model.layers[layer], clean_resid[layer], pos)
        return one_run_per_patch(model, pair, pair.clean_inputs(), hook_at, metric)

    def forward_hook_late(model, pair, clean_resid, metric):
        n = model.config.num_hidden_layers
        shifted = torch.cat([clean_resid[1:], clean_resid[-1:]])
        def hook_at(layer, pos):     # the input of the next layer (of the final norm at the end)
            if layer + 1 < n:
                return _write_at(model.model.layers[layer + 1], clean_resid[layer + 1], pos)
            return _write_at(model.model.norm, shifted[layer], pos)
        return one_run_per_patch(model, pair, pair.corrupted_inputs(), hook_at, metric)

    def all_zero(model, pair, clean_resid, metric):
        return torch.zeros(model.config.num_hidden_layers, pair.seq_len)

    _says(capsys, check_patch_residual_stream, clean_run, "runs the clean prompt")
    _says(capsys, check_patch_residual_stream, forward_hook_late, "one layer too late")
    def hook_returns_nothing(model, pair, clean_resid, metric):
        def hook_at(layer, pos):
            def hook(m, args):
                hidden = args[0].clone()
                hidden[:, pos] = clean_resid[layer, pos]          # no return: lost
            return model.model.layers[layer], hook
        return one_run_per_patch(model, pair, pair.corrupted_inputs(), hook_at, metric)

    # zeros everywhere is what a run without any patch scores
    _says(capsys, check_patch_residual_stream, all_zero, "no patch takes effect")
    _says(capsys, check_patch_residual_stream, hook_returns_nothing, "does not return it")


def test_spearman_check_names_typical_mistakes(capsys):
    def pearson(a, b):
        a, b = a.flatten() - a.mean(), b.flatten() - b.mean()
        return a @ b / (a.norm() * b.norm())

    def order_not_rank(a, b):
        return pearson(a.flatten().argsort().float(), b.flatten().argsort().float())

    def no_ties(a, b):
        return pearson(a.flatten().argsort().argsort().float(), b.flatten().argsort().argsort().float())

    _says(capsys, check_spearman, pearson, "Pearson")
    _says(capsys, check_spearman, order_not_rank, "argsort twice")
    _says(capsys, check_spearman, no_ties, "tie")


def test_unfinished_exercise_falls_back_to_reference(capsys):
    def stub(*args):
        raise NotImplementedError
    assert check_spearman(stub) is ref.spearman
    assert "not implemented yet" in capsys.readouterr().out


def test_fast_residual_patching_with_pads_and_a_subset_equals_the_loop():
    model = gqa_llama(seed=1)
    pair = tiny_pair(model, seed=3, seq_len=9, differ=(2, 5), pad_at=4)
    clean_lp, corrupted_lp = clean_and_corrupted_logprob(model, pair)
    metric = lambda logits: normalised_logprob(logits, pair.answer_id, clean_lp, corrupted_lp)  # noqa: E731
    cache = cache_activations(model, pair.clean_inputs())
    for p in (pair, pair.subset([0, 2, 4, 5, 8])):
        loop = ref.patch_residual_stream(model, p, cache["resid"], metric)
        fast = patch_residual_batched(model, p, cache, metric, batch_size=2)
        assert torch.equal(loop.isnan(), fast.isnan())
        assert torch.allclose(loop, fast, atol=1e-5, equal_nan=True)
    assert pair.subset([0, 2, 4, 5, 8]).valid_positions.tolist() == [0, 2, 5, 8]   # 4 is a pad
    with pytest.raises(ValueError, match="within"):
        pair.subset([99])


def test_attribution_patching_check_names_typical_mistakes(capsys):
    from checks.patching import _attribution_variant, check_attribution_patching

    assert check_attribution_patching(ref.attribution_patching) is ref.attribution_patching
    capsys.readouterr()
    for variant, words in ((dict(detached=True), "detached copy"), (dict(clean_run=True), "clean run"),
                           (dict(reversed_delta=True), "wrong way"), (dict(last_only=True), "last position")):
        assert check_attribution_patching(_attribution_variant(**variant)) is ref.attribution_patching
        out = capsys.readouterr().out
        assert out.startswith("✗") and words in out, out

    def edits_the_cache(model, pair, cache, metric):
        result = ref.attribution_patching(model, pair, cache, metric)
        cache["z"][0] -= cache["z"][0]                # the caller's clean activations, zeroed
        return result

    assert check_attribution_patching(edits_the_cache) is ref.attribution_patching
    out = capsys.readouterr().out
    assert out.startswith("✗") and "argument 3['z'] in place" in out, out


def test_head_patch_check_names_typical_mistakes(capsys):
    from checks.patching import _head_variant, check_patch_head_output
    from utils.hooks import attention_projection

    assert check_patch_head_output(ref.patch_head_output) is ref.patch_head_output
    capsys.readouterr()
    for variant, words in ((dict(whole_layer=True), "every head of the layer"),
                           (dict(after_mixing=True), "already mixed"),
                           (dict(clean_run=True), "clean prompt"), (dict(last_only=True), "last position"),
                           (dict(returns=False), "does not return it")):
        assert check_patch_head_output(_head_variant(**variant)) is ref.patch_head_output
        out = capsys.readouterr().out
        assert out.startswith("✗") and words in out, out

    def hook_kept(model, pair, clean_z, layer, head, metric):
        result = ref.patch_head_output(model, pair, clean_z, layer, head, metric)
        attention_projection(model, layer, "o_proj").register_forward_pre_hook(
            lambda m, a: (a[0] * 0.5,))                                              # never removed
        return result

    check_patch_head_output(hook_kept)
    assert "leaves its hook" in capsys.readouterr().out


def test_head_patch_equals_the_batched_head_patching(setting):
    model, pair, metric = setting
    cache = cache_activations(model, pair.clean_inputs())
    batched = patch_heads(model, pair, cache, "z", metric)
    for layer, head in ((0, 0), (1, 3)):
        one = ref.patch_head_output(model, pair, cache["z"], layer, head, metric)
        assert torch.allclose(one, batched[layer, head], atol=1e-5)
