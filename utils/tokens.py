"""Tokens as a learner reads them, and the token ids an explanation targets."""
from __future__ import annotations

import torch

from utils.models import input_device
from utils.validate import check_prompt, check_prompt_length


def encode(tokenizer, prompt: str, model=None) -> torch.Tensor:
    """Prompt -> input ids [1, seq] (with the tokenizer's BOS), on the model's input device.

    With a model, the length is checked against its context (an error past it, a warning when
    the prompt is long enough to be slow; see utils.validate).
    """
    check_prompt(prompt)
    ids = tokenizer(prompt, return_tensors="pt").input_ids
    if model is None:
        return ids
    check_prompt_length(model, ids.shape[1])
    return ids.to(input_device(model))


def readable_token(tokenizer, token_id: int) -> str:
    """One token as text a person can read: spaces as '␣', newlines as '↵', bytes as <0xNN>."""
    raw = tokenizer.convert_ids_to_tokens(int(token_id))
    text = tokenizer.convert_tokens_to_string([raw])
    if "\ufffd" in text:  # part of a multi-byte character: show its bytes instead
        if raw.startswith("<0x"):
            return raw
        from transformers.models.gpt2.tokenization_gpt2 import bytes_to_unicode
        byte_of = {char: byte for byte, char in bytes_to_unicode().items()}
        return "".join(f"<0x{byte_of[c]:02X}>" if c in byte_of else c for c in raw)
    return text.replace(" ", "␣").replace("\n", "↵").replace("\t", "⇥")


def readable_tokens(tokenizer, ids) -> list[str]:
    """Readable text of every token in `ids` ([seq] or [1, seq])."""
    ids = torch.as_tensor(ids).reshape(-1).tolist()
    return [readable_token(tokenizer, i) for i in ids]


def answer_token_id(tokenizer, prompt: str, answer: str) -> int:
    """The first token the model must produce to start `answer` right after `prompt`.

    Tokenizes prompt+answer and prompt alone and returns the first token where they differ, so
    "A: " + "27" and "A:" + " 27" both give the token that actually follows the prompt.
    """
    if not answer:
        raise ValueError("The answer is empty: give the text whose first token to explain.")
    base = tokenizer(prompt).input_ids
    full = tokenizer(prompt + answer).input_ids
    for i, tok in enumerate(full):
        if i >= len(base) or base[i] != tok:
            return tok
    raise ValueError(f"{answer!r} adds no new token after the prompt.")


def first_divergent_tokens(tokenizer, prompt: str, answer_a: str, answer_b: str):
    """Where two answers first differ: (prompt ids incl. their shared prefix [1, seq], id_a, id_b).

    With digit-per-token tokenizers "10" and "11" share the token "1"; the contest between the
    two answers is decided one token later, so the shared prefix is appended to the prompt.
    """
    ids_a = tokenizer(prompt + answer_a).input_ids
    ids_b = tokenizer(prompt + answer_b).input_ids
    n = 0
    while n < min(len(ids_a), len(ids_b)) and ids_a[n] == ids_b[n]:
        n += 1
    if n >= len(ids_a) or n >= len(ids_b):
        raise ValueError(f"{answer_a!r} and {answer_b!r} do not differ after the prompt.")
    return torch.tensor([ids_a[:n]]), ids_a[n], ids_b[n]
