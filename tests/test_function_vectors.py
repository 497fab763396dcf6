"""Notebook 03: substring positions, head scores, and checks that name the typical mistakes."""
from contextlib import contextmanager

import pytest
import torch

from solutions import function_vectors as fv
from solutions.attention_heads import attention_relevance
from utils import transplant
from utils.head_plots import head_atlas
from utils.heads import select_top_heads
from checks import (check_head_outputs_at_last, check_substring_head_scores,
                    check_substring_token_positions, check_transplant_heads)
from checks.core import tiny_llama, tiny_tokenizer
from checks.function_vectors import (capture_variant, head_writer, write_added,
                                     write_every_position, write_last, write_unscaled)
from utils.hooks import split_heads

PROMPT = "Task: Translation into German: I love AI research\nAnswer:"


def _run(capsys, check, fn):
    used = check(fn)
    return used, capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
# the functions themselves

def test_substring_positions_cover_exactly_the_substring():
    tok = tiny_tokenizer()
    positions = fv.substring_token_positions(tok, PROMPT, "Translation into German")
    offsets = tok(PROMPT, return_offsets_mapping=True)["offset_mapping"]
    text = "".join(PROMPT[a:b] for a, b in (offsets[i] for i in positions))
    assert "Translation into German" in text
    assert positions.tolist() == list(range(positions[0], positions[-1] + 1))   # contiguous
    assert 0 not in positions.tolist()                                          # never BOS
    # a substring that starts inside a token still gets that token
    inner = fv.substring_token_positions(tok, PROMPT, "ranslation")
    assert inner[0] == positions[0]


@pytest.mark.parametrize("bad", ["Translation into French", ""])
def test_substring_missing_gives_a_clear_error(bad):
    with pytest.raises(ValueError, match="not in the prompt. Copy the substring exactly"):
        fv.substring_token_positions(tiny_tokenizer(), PROMPT, bad)


def test_substring_head_scores_are_positive_last_row_sums():
    tok = tiny_tokenizer()
    model = tiny_llama(seed=5, vocab_size=len(tok))
    scores = fv.substring_head_scores(model, tok, PROMPT, "German", target_id=3)
    assert scores.shape == (2, 4)
    assert (scores >= 0).all() and scores.sum() > 0


def test_top_heads_and_k_errors():
    scores = torch.tensor([[0.1, 0.9], [0.5, 0.3]])
    assert select_top_heads(scores, 2) == [(0, 1), (1, 0)]
    with pytest.raises(ValueError, match="larger than the number of heads|has 4 heads"):
        select_top_heads(scores, 5)


def test_atlas_gives_a_titled_figure():
    scores = {"task heads": torch.rand(2, 4), "retrieval heads": torch.rand(2, 4)}
    fig = head_atlas(scores, "atlas", top_k=2)
    ax = fig.axes[0]
    assert "atlas" in ax.get_title() and ax.get_xlabel() == "head" and ax.get_ylabel() == "layer"
    assert ax.get_legend() is not None


# ---------------------------------------------------------------------------------------------
# checks: accept the reference, fall back on a stub, name at least three mistakes each

def test_check_head_outputs_names_mistakes(capsys):
    used, out = _run(capsys, check_head_outputs_at_last, fv.head_outputs_at_last)
    assert used is fv.head_outputs_at_last and out.startswith("✓")

    def stub(model, input_ids, heads):
        raise NotImplementedError
    used, out = _run(capsys, check_head_outputs_at_last, stub)
    assert used is fv.head_outputs_at_last and "not implemented yet" in out

    wrong = {
        "first position": capture_variant(lambda x, o, n: split_heads(x, n)[0, 0]),
        "wrong way round": capture_variant(lambda x, o, n: x[0, -1].unflatten(-1, (x.shape[-1] // n, n)).T),
        "output of o_proj": capture_variant(lambda x, o, n: split_heads(o, n)[0, -1]),
    }
    for phrase, fn in wrong.items():
        used, out = _run(capsys, check_head_outputs_at_last, fn)
        assert used is fv.head_outputs_at_last and out.startswith("✗") and phrase in out, out


def _wrong_transplant(edit, remove=True):
    @contextmanager
    def cm(model, heads, vectors, scale=1.0):
        n = model.config.num_attention_heads
        handles = [model.model.layers[l].self_attn.o_proj.register_forward_pre_hook(
            head_writer(l, heads, vectors, scale, n, edit)) for l in {l for l, _ in heads}]
        yield
        if remove:   # deliberately not in a `finally`
            for handle in handles:
                handle.remove()
    return cm


def test_check_transplant_names_mistakes(capsys):
    used, out = _run(capsys, check_transplant_heads, fv.transplant_heads)
    assert used is fv.transplant_heads and out.startswith("✓")

    @contextmanager
    def stub(model, heads, vectors, scale=1.0):
        raise NotImplementedError
        yield
    used, out = _run(capsys, check_transplant_heads, stub)
    assert used is fv.transplant_heads and "not implemented yet" in out

    for phrase, cm in {"every position": _wrong_transplant(write_every_position),
                       "ignores `scale`": _wrong_transplant(write_unscaled),
                       "adds the vector": _wrong_transplant(write_added),
                       "when the block raises": _wrong_transplant(write_last, remove=True),
                       # named by the guard every check runs the learner's code in
                       "left a forward pre-hook on model.layers.0.self_attn.o_proj":
                           _wrong_transplant(write_last, remove=False)}.items():
        used, out = _run(capsys, check_transplant_heads, cm)
        assert used is fv.transplant_heads and out.startswith("✗") and phrase in out, out


def test_check_substring_positions_names_mistakes(capsys):
    ref = fv.substring_token_positions
    used, out = _run(capsys, check_substring_token_positions, ref)
    assert used is ref and out.startswith("✓")

    def no_bos(tok, prompt, substring):
        return ref(tok, prompt, substring) - 1

    def last(tok, prompt, substring):
        start = prompt.rfind(substring)
        return ref(tok, prompt[:start].replace(substring, "?" * len(substring)) + prompt[start:],
                   substring)

    def inside_only(tok, prompt, substring):
        start, end = prompt.find(substring), prompt.find(substring) + len(substring)
        offsets = tok(prompt, return_offsets_mapping=True)["offset_mapping"]
        return torch.tensor([i for i, (a, b) in enumerate(offsets) if b > a and a >= start and b <= end])

    def silent(tok, prompt, substring):
        if substring not in prompt:
            return torch.tensor([], dtype=torch.long)
        return ref(tok, prompt, substring)

    for phrase, fn in {"off by one": no_bos, "last occurrence": last,
                       "overlap the substring only partly": inside_only,
                       "does not raise a ValueError": silent}.items():
        used, out = _run(capsys, check_substring_token_positions, fn)
        assert used is ref and out.startswith("✗") and phrase in out, out


def test_check_substring_scores_names_mistakes(capsys):
    from checks.function_vectors import _scores_variant

    used, out = _run(capsys, check_substring_head_scores, fv.substring_head_scores)
    assert used is fv.substring_head_scores and out.startswith("✓")
    for phrase, fn in {"every query row": _scores_variant(rows="all"),
                       "negative relevance is kept": _scores_variant(positive="none"),
                       "absolute values": _scores_variant(positive="abs"),
                       "without AttnLRP": _scores_variant(lrp=False)}.items():
        used, out = _run(capsys, check_substring_head_scores, fn)
        assert used is fv.substring_head_scores and out.startswith("✗") and phrase in out, out


def test_head_groups_and_substring_scores_on_a_tiny_model():
    tok = tiny_tokenizer()
    model = tiny_llama(seed=5, vocab_size=len(tok))
    groups = transplant.head_groups(model, tok, PROMPT, k=4, n_clusters=2,
                                    relevance_fn=attention_relevance)
    assert len(groups["heads"]) == 4 and set(groups["labels"]) <= {0, 1}
    scores = fv.substring_head_scores(model, tok, PROMPT, "German", target_id=3)
    assert scores.shape == (2, 4)
    assert (scores >= 0).all() and scores.sum() > 0


# ---------------------------------------------------------------------------------------------
# function vectors: prompts, the residual addition, the answers and their checks

from checks import check_function_vector, check_indirect_effects, check_mean_head_outputs
from checks.function_vectors import (FV_CHECK_ANSWERS, FV_CHECK_PROMPTS, _averaged,
                                     _rows_not_columns, _unprojected, _whole_layer,
                                     effects_variant, mean_outputs_variant)
from utils import function_vectors as fvu
from utils.prompts import FV_TASKS


def test_prompt_formats_are_the_agreed_ones():
    demo = [("hot", "cold"), ("big", "small")]
    assert fvu.icl_prompt(demo, "fast") == "hot -> cold\nbig -> small\nfast ->"
    assert fvu.icl_prompt(demo, "fast", "colon") == "hot: cold\nbig: small\nfast:"
    assert fvu.icl_prompt(demo, "fast", "qa") == "Q: hot\nA: cold\nQ: big\nA: small\nQ: fast\nA:"
    assert fvu.zero_shot_prompt("fast") == "fast ->"
    with pytest.raises(ValueError, match="Unknown prompt format"):
        fvu.icl_prompt(demo, "fast", "arrows")


def test_tasks_and_prompts():
    assert set(FV_TASKS) == {"antonym", "english_german", "country_capital", "singular_plural",
                             "lower_upper", "object_colour", "english_french", "present_past",
                             "adjective_comparative", "verb_gerund", "adjective_adverb",
                             "number_word", "country_adjective", "first_letter"}
    prompts, answers = fvu.icl_prompts("antonym", 5, n_demos=3, seed=1)
    demos, held_out = fvu.task_pairs("antonym")
    assert len(prompts) == 5 and all(a.startswith(" ") for a in answers)
    assert all(p.count("\n") == 3 and p.endswith(" ->") for p in prompts)
    assert not {x for x, _ in demos} & {x for x, _ in held_out}
    shuffled, same_answers = fvu.icl_prompts("antonym", 5, n_demos=3, seed=1, shuffled=True)
    assert same_answers == answers and shuffled != prompts
    for prompt in shuffled:     # no demonstration keeps its own label
        for line in prompt.split("\n")[:-1]:
            x, y = line.split(" -> ")
            assert dict(demos)[x] != y
    queries, _ = fvu.zero_shot_queries("antonym")
    assert queries[0] == f"{held_out[0][0]} ->"


def test_add_to_residual_adds_at_the_last_position_and_comes_off():
    tok = tiny_tokenizer()
    model = tiny_llama(seed=6, vocab_size=len(tok))
    ids = tok(FV_CHECK_PROMPTS[0], return_tensors="pt").input_ids
    seen = {}
    from utils.hooks import layer_pre_hooks
    vector = torch.randn(32)
    with torch.no_grad():
        clean = model(ids).logits
        with layer_pre_hooks(model, {1: lambda m, a: seen.__setitem__("x", a[0].clone())}):
            model(ids)
            before = seen["x"]
            with fvu.add_to_residual(model, vector, 0):
                patched = model(ids).logits
            after = seen["x"]
        assert torch.allclose(after[0, -1] - before[0, -1], vector, atol=1e-5)
        assert torch.equal(after[0, :-1], before[0, :-1])
        assert not torch.equal(patched, clean)
        assert torch.equal(model(ids).logits, clean)
    with pytest.raises(ValueError, match=r"shape \[d_model\]"):
        with fvu.add_to_residual(model, torch.zeros(5), 0):
            pass


def test_accuracy_and_verdict():
    tok = tiny_tokenizer()
    model = tiny_llama(seed=6, vocab_size=len(tok))
    acc = fvu.first_token_accuracy(model, tok, FV_CHECK_PROMPTS, FV_CHECK_ANSWERS)
    assert 0 <= acc <= 1
    with pytest.raises(ValueError, match="both `vector` and `layer`"):
        fvu.first_token_accuracy(model, tok, FV_CHECK_PROMPTS, FV_CHECK_ANSWERS, torch.zeros(32))
    import pandas as pd
    table = pd.DataFrame({"no vector": [0.0, 0.1], "function vector": [0.6, 0.5],
                          "random heads": [0.0, 0.2]})
    holds, figure = fvu.function_vector_verdict(table)
    assert holds and "0.55 with the function vector" in figure
    assert not fvu.function_vector_verdict(table.assign(**{"function vector": [0.1, 0.2]}))[0]


def test_function_vector_is_o_proj_of_the_heads_slice():
    model = tiny_llama(seed=6)
    means = torch.randn(2, 4, 8)
    vector = fv.function_vector(model, means, [(1, 2)])
    x = torch.zeros(32)
    x[16:24] = means[1, 2]
    assert torch.allclose(vector, model.model.layers[1].self_attn.o_proj(x), atol=1e-6)


def test_lrp_head_relevance_shape_and_restores_the_model():
    from utils.lrp import lrp_is_enabled
    tok = tiny_tokenizer()
    model = tiny_llama(seed=6, vocab_size=len(tok))
    scores = fvu.lrp_head_relevance(model, tok, FV_CHECK_PROMPTS[:2], FV_CHECK_ANSWERS[:2])
    assert scores.shape == (2, 4) and torch.isfinite(scores).all() and scores.abs().sum() > 0
    assert not lrp_is_enabled(model)


def _check_names(capsys, check, reference_fn, stub, wrong):
    used, out = _run(capsys, check, reference_fn)
    assert used is reference_fn and out.startswith("✓"), out
    used, out = _run(capsys, check, stub)
    assert used is reference_fn and "not implemented yet" in out
    for phrase, fn in wrong.items():
        used, out = _run(capsys, check, fn)
        assert used is reference_fn and out.startswith("✗") and phrase in out, (phrase, out)


def test_check_mean_head_outputs_names_mistakes(capsys):
    def stub(model, tokenizer, prompts):
        raise NotImplementedError
    _check_names(capsys, check_mean_head_outputs, fv.mean_head_outputs, stub, {
        "every position": mean_outputs_variant(lambda x, out: x[0].mean(0)),
        "sums over the prompts": mean_outputs_variant(lambda x, out: x[0, -1], reduce="sum"),
        "output of o_proj": mean_outputs_variant(lambda x, out: out[0, -1]),
        "first position": mean_outputs_variant(lambda x, out: x[0, 0]),
    })


def test_check_indirect_effects_names_mistakes(capsys):
    def stub(model, tokenizer, prompts, answers, mean_outputs):
        raise NotImplementedError
    _check_names(capsys, check_indirect_effects, fv.indirect_effects, stub, {
        "rise of the answer's logit": effects_variant(score="logit"),
        "reports the drop": effects_variant(sign=-1),
        "sums over the prompts": effects_variant(reduce="sum"),
    })


def test_check_function_vector_names_mistakes(capsys):
    def stub(model, mean_outputs, heads):
        raise NotImplementedError
    _check_names(capsys, check_function_vector, fv.function_vector, stub, {
        "rows of o_proj": _rows_not_columns, "raw outputs": _unprojected,
        "averages over the heads": _averaged, "whole layer": _whole_layer,
    })
