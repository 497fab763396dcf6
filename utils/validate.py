"""Checks at the course's boundary: one clear error, saying what to do, for every bad input.

Entry points (the reference solutions, widgets and patching tools) call these instead of letting
a bad value reach torch, where it becomes a raw IndexError or, worse, a silent wrong answer
(head -1 quietly meaning the last head, token -1 the last token of the vocabulary).

    check_prompt(prompt)                       # a non-empty str
    check_prompt_length(model, n_tokens)       # within the model's context; warns when slow
    check_int_in_range(k, 1, 10, "k")          # whole numbers, no negatives counted from the end
    check_heads(model, heads)                  # (layer, head) pairs that exist
    check_head_vectors(model, heads, vectors)  # one [head_dim] vector per head
    check_token_id(model, token_id)            # an id the model can score
    check_probabilities(p)                     # finite values in [0, 1]
    check_colour(colour)                       # '#rrggbb', nothing that could carry markup
"""
from __future__ import annotations

import re
import warnings
from numbers import Integral

import numpy as np
import torch

# Above this many tokens a prompt is valid but slow on a CPU. Measured on the course model with
# one torch thread on a busy 2-core machine (2026-11-30): at 1,024 tokens LRP took 3 s and head
# relevance (attention-weight gradients) 3 s with 1.6 GB resident; at 2,048 tokens 7 s and 14 s
# with 4.1 GB. Memory grows with the square of the length (one seq x seq map per head).
SLOW_PROMPT_TOKENS = 1024
SLOW_PROMPT_COST = ("measured on the course model with one CPU thread, head relevance took 3 s "
                    "and 1.6 GB at 1,024 tokens, 14 s and 4.1 GB at 2,048; memory grows with "
                    "the square of the length")


class LongPromptWarning(UserWarning):
    """A prompt fits the model's context but will be slow to explain."""


def check_prompt(prompt, name: str = "prompt") -> str:
    """`prompt` as a non-empty str, or a ValueError that says what to type."""
    if prompt is None or not isinstance(prompt, str):
        raise TypeError(f"The {name} must be text (a str), got {type(prompt).__name__} "
                        f"{prompt!r}: put it in quotes, e.g. \"The capital of France is\".")
    if not prompt.strip():
        raise ValueError(f"The {name} is empty: type some text for the model to continue.")
    return prompt


def context_length(model) -> int | None:
    """The longest input the model was built for (its position table), or None if unknown."""
    return getattr(getattr(model, "config", None), "max_position_embeddings", None)


def check_prompt_length(model, n_tokens: int, warn_above: int = SLOW_PROMPT_TOKENS) -> None:
    """Error when `n_tokens` exceed the model's context; a warning when the prompt will be slow."""
    limit = context_length(model)
    if limit is not None and n_tokens > limit:
        raise ValueError(
            f"The prompt is {n_tokens:,} tokens long, but this model reads at most {limit:,}. "
            "Shorten it (keep the part the prediction depends on, e.g. the last paragraph), "
            "or load a model with a longer context.")
    if n_tokens > warn_above:
        warnings.warn(f"The prompt is {n_tokens:,} tokens long and will be slow to explain: "
                      f"{SLOW_PROMPT_COST}.", LongPromptWarning, stacklevel=3)


def check_int_in_range(value, low: int, high: int, name: str, what_to_do: str = "") -> int:
    """`value` as an int in low..high inclusive. Negative indices are refused, not wrapped."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be a whole number between {low} and {high}, got "
                        f"{type(value).__name__} {value!r}.{' ' + what_to_do if what_to_do else ''}")
    if not low <= value <= high:
        hint = " Counting from the end (-1) is not supported: give the number itself." \
            if value < 0 <= low else ""
        raise ValueError(f"{name} must be between {low} and {high}, got {value}.{hint}"
                         f"{' ' + what_to_do if what_to_do else ''}")
    return int(value)


def _shape(model) -> tuple[int, int, int]:
    from utils.models import model_shape
    return model_shape(model)


def check_heads(model, heads) -> list[tuple[int, int]]:
    """A list of (layer, head) pairs that exist in `model`."""
    n_layers, n_heads, _ = _shape(model)
    checked = []
    for item in heads:
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise ValueError(f"A head is a (layer, head) pair such as (3, 5), got {item!r}.")
        layer, head = item
        where = (f"Head ({layer}, {head}) does not exist: the model has layers 0..{n_layers - 1} "
                 f"and heads 0..{n_heads - 1} in each")
        for value in (layer, head):
            if isinstance(value, bool) or not isinstance(value, Integral):
                raise TypeError(f"{where} (layer and head are whole numbers).")
        if not (0 <= layer < n_layers and 0 <= head < n_heads):
            hint = " (-1 is not read as the last one)" if min(layer, head) < 0 else ""
            raise ValueError(f"{where}{hint}.")
        checked.append((int(layer), int(head)))
    return checked


def check_head_vectors(model, heads, vectors) -> tuple[list[tuple[int, int]], torch.Tensor]:
    """(heads, vectors [len(heads), head_dim]) checked against each other and the model."""
    heads = check_heads(model, heads)
    _, _, head_dim = _shape(model)
    vectors = torch.as_tensor(vectors)
    if vectors.dim() == 1:
        vectors = vectors.unsqueeze(0)
    if vectors.dim() != 2 or vectors.shape[0] != len(heads):
        raise ValueError(f"Give one vector per head: {len(heads)} heads but vectors of shape "
                         f"{tuple(vectors.shape)} (expected [{len(heads)}, {head_dim}]).")
    if vectors.shape[1] != head_dim:
        raise ValueError(f"Each vector must have {head_dim} values (what one head writes in this "
                         f"model), got {vectors.shape[1]}: capture them from the same model.")
    return heads, vectors


def vocabulary_size(model) -> int | None:
    """Rows of the unembedding (what the logits index), or None for a model that hides it."""
    try:
        return model.get_output_embeddings().weight.shape[0]
    except AttributeError:
        return getattr(getattr(model, "config", None), "vocab_size", None)


def check_token_id(model, token_id, name: str = "target_id") -> int:
    """A token id the model can score: 0 <= id < vocabulary size."""
    vocab = vocabulary_size(model)
    if isinstance(token_id, torch.Tensor) and token_id.numel() == 1:
        token_id = int(token_id)
    return check_int_in_range(
        token_id, 0, (vocab or 2**62) - 1, name,
        "Get ids from the tokenizer, e.g. utils.tokens.answer_token_id(tokenizer, prompt, ' 27').")


def check_probabilities(p, name: str = "probabilities") -> np.ndarray:
    """[n] floats that are finite and within [0, 1]."""
    values = np.asarray(p, dtype=float).reshape(-1)
    bad = ~np.isfinite(values)
    if bad.any():
        raise ValueError(f"{name} contain {int(bad.sum())} NaN or infinite values (first at "
                         f"index {int(np.flatnonzero(bad)[0])}): check the features fed to the "
                         "monitor, e.g. a token whose relevance is all zeros.")
    if values.size and (values.min() < 0 or values.max() > 1):
        raise ValueError(f"{name} must lie in [0, 1], got values from {values.min():.3g} to "
                         f"{values.max():.3g}: pass probabilities, not scores or logits.")
    return values


_HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


def check_colour(colour) -> str:
    """A colour as '#rrggbb'; anything else (which could also carry markup) is refused."""
    if not isinstance(colour, str) or not _HEX_COLOUR.fullmatch(colour):
        raise ValueError(f"{colour!r} is not a colour of the form '#rrggbb' (e.g. '#2166ac'): "
                         "convert others with utils.plotting.hex_color((r, g, b)).")
    return colour


def check_relevance_inputs(model, input_ids, target_id, foil_id=None) -> None:
    """input_ids [1, seq] of a non-empty prompt within the context; target and foil ids in range."""
    if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2 or input_ids.shape[0] != 1:
        shape = tuple(input_ids.shape) if isinstance(input_ids, torch.Tensor) else type(input_ids)
        raise ValueError(f"input_ids must be a tensor of shape [1, seq], got {shape}: "
                         "use utils.tokens.encode(tokenizer, prompt, model).")
    if input_ids.shape[1] == 0:
        raise ValueError("input_ids is empty: encode a non-empty prompt.")
    check_prompt_length(model, input_ids.shape[1])
    check_token_id(model, target_id, "target_id")
    if foil_id is not None:
        check_token_id(model, foil_id, "foil_id")
