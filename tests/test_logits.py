"""Batched next-token logits equal one prompt at a time, whatever the padding."""
import pytest
import torch

from utils.logits import last_position_logits, left_padded
from utils.tokens import encode


def test_batched_logits_equal_single_prompts(course_model):
    model, tokenizer = course_model
    prompts = ["The sky is", "The capital of France is", "A"]
    batched = last_position_logits(model, tokenizer, prompts, batch_size=2)
    single = torch.stack([model(encode(tokenizer, p, model)).logits[0, -1] for p in prompts])
    assert batched.shape == (3, model.config.vocab_size)
    assert torch.allclose(batched, single.float(), atol=1e-4)


def test_left_padding_ends_every_prompt_in_the_last_column(course_model):
    _, tokenizer = course_model
    ids, mask, pos = left_padded(tokenizer, ["The sky is blue today", "A"])
    assert mask[:, -1].tolist() == [1, 1] and mask[1, 0] == 0
    assert pos[0, -1] == mask[0].sum() - 1 and pos[1, -1] == mask[1].sum() - 1


@pytest.mark.parametrize("bad", [0, -1, True, 2.0])
def test_bad_batch_size_is_refused(course_model, bad):
    model, tokenizer = course_model
    with pytest.raises(ValueError, match="batch_size"):
        last_position_logits(model, tokenizer, ["x"], batch_size=bad)
