"""The course's claims hold on the course model; on another model the report says which hold."""
import pytest

from claims import Context, claims, markdown, report

CLAIMS = claims()


@pytest.fixture(scope="module")
def course_context():
    from utils.models import load_model
    model, tokenizer = load_model("course", device="cpu", verbose=False)
    return Context(model, tokenizer, "course")


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: f"{c.notebook}-{c.id}")
def test_claim_holds_on_the_course_model(claim, course_context):
    verdict = claim.decide(course_context)
    assert verdict.holds, f"{claim.notebook} {claim.text!r} {verdict.line()}"


def test_every_claim_is_registered_once_with_text():
    keys = [(c.notebook, c.id) for c in CLAIMS]
    assert len(keys) == len(set(keys)) and CLAIMS
    assert all(c.text.strip() and callable(c.decide) for c in CLAIMS)


def test_the_report_says_which_claims_hold_on_a_tiny_random_qwen2(tmp_path, tiny_model_dir):
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM
    from utils.models import load_model

    tok = AutoTokenizer.from_pretrained(tiny_model_dir, trust_remote_code=False)
    tok.save_pretrained(tmp_path)
    Qwen2ForCausalLM(Qwen2Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                                 num_hidden_layers=2, num_attention_heads=4,
                                 num_key_value_heads=2)).save_pretrained(tmp_path)
    model, tokenizer = load_model(str(tmp_path), device="cpu", verbose=False)
    results = report(Context(model, tokenizer, "tiny-qwen2"))
    assert [c for c, _ in results] == CLAIMS
    assert all(isinstance(v.holds, bool) and v.figure for _, v in results)
    table = markdown(results, "tiny-qwen2")
    assert table.startswith("Claims on tiny-qwen2:") and table.count("\n| ") == len(CLAIMS) + 1
