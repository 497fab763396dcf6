"""Checks at the course's boundary: one clear error, saying what to do, for every bad input.

Entry points (the reference solutions, widgets and patching tools) call these instead of letting
a bad value reach torch, where it becomes a raw IndexError or, worse, a silent wrong answer
(head -1 quietly meaning the last head, token -1 the last token of the vocabulary).

    check_prompt(prompt)                       # a non-empty str
    check_prompt_length(model, n_tokens)       # within the model's context; warns when slow
    check_int_in_range(k, 1, 10, "k")          # whole numbers, no negatives counted from the end
    check_layer(model, layer)                  # a decoder layer that exists, never -1
    check_heads(model, heads)                  # (layer, head) pairs that exist
    check_head_pairs(heads, n_layers, n_heads) # the same without a model (e.g. from a tensor's shape)
    check_head_vectors(model, heads, vectors)  # one [head_dim] vector per head
    check_token_id(model, token_id)            # an id the model can score
    check_input_ids(model, input_ids)          # whole-number ids [batch, seq] within the vocabulary
    check_positions(positions, seq_len)        # a non-empty list of positions 0..seq_len-1
    check_position_or_last(position)           # 0, 1, ... or -1 for "the last token"
    check_finite(tensor, "vector")             # no NaN or inf, named by its argument
    check_finite_number(scale, "scale")        # one finite real number
    check_same_length(a, b, "tokens", "p")     # one value per item
    check_not_empty(prompts, "prompts")        # at least one item
    check_activations(pair, cache["z"], ...)   # captured from this prompt pair, of the right shape
    check_probabilities(p)                     # finite values in [0, 1]
    check_colour(colour)                       # '#rrggbb', nothing that could carry markup
"""
from __future__ import annotations

import math
import re
import warnings
from numbers import Integral, Real

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


def check_layer(model, layer, name: str = "layer") -> int:
    """A decoder layer index 0..n_layers-1 as an int (-1 is refused, not read as the last)."""
    n_layers = _shape(model)[0]
    return check_int_in_range(layer, 0, n_layers - 1, name,
                              f"The model has layers 0..{n_layers - 1}.")


def check_head_pairs(heads, n_layers: int, n_heads: int) -> list[tuple[int, int]]:
    """A non-empty list of (layer, head) pairs within n_layers x n_heads, as ints."""
    if isinstance(heads, (str, bytes)) or not hasattr(heads, "__iter__"):
        raise TypeError(f"heads must be a list of (layer, head) pairs such as [(3, 5)], got "
                        f"{type(heads).__name__} {heads!r}.")
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
    if not checked:
        raise ValueError("heads is empty: give at least one (layer, head) pair.")
    return checked


def check_heads(model, heads) -> list[tuple[int, int]]:
    """A non-empty list of (layer, head) pairs that exist in `model`."""
    n_layers, n_heads, _ = _shape(model)
    return check_head_pairs(heads, n_layers, n_heads)


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
    check_finite(vectors, "vectors")
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


def check_input_ids(model, input_ids, name: str = "input_ids") -> torch.Tensor:
    """Token ids [batch, seq] (batch >= 1, seq >= 1) of an integer dtype, each < vocabulary size."""
    if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2:
        shape = tuple(input_ids.shape) if isinstance(input_ids, torch.Tensor) else type(input_ids)
        raise ValueError(f"{name} must be a tensor of shape [1, seq], got {shape}: "
                         "use utils.tokens.encode(tokenizer, prompt, model).")
    if input_ids.dtype.is_floating_point or input_ids.dtype.is_complex or input_ids.dtype == torch.bool:
        raise TypeError(f"{name} must hold whole-number token ids (torch.long), got "
                        f"{input_ids.dtype}: use utils.tokens.encode(tokenizer, prompt, model), "
                        "or .long() on ids you built yourself.")
    if input_ids.shape[0] == 0 or input_ids.shape[1] == 0:
        raise ValueError(f"{name} is empty: encode a non-empty prompt.")
    if input_ids.device.type == "meta":
        return input_ids  # shapes only (memory is counted on the meta device): no values to check
    vocab = vocabulary_size(model)
    low, high = int(input_ids.min()), int(input_ids.max())
    if low < 0 or (vocab is not None and high >= vocab):
        bad = low if low < 0 else high
        raise ValueError(f"{name} contains token id {bad}, but this model knows ids 0..{vocab - 1}"
                         ": encode the prompt with this model's own tokenizer.")
    return input_ids


def check_relevance_inputs(model, input_ids, target_id, foil_id=None) -> None:
    """input_ids [1, seq] of a non-empty prompt within the context; target and foil ids in range."""
    if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2 or input_ids.shape[0] != 1:
        shape = tuple(input_ids.shape) if isinstance(input_ids, torch.Tensor) else type(input_ids)
        raise ValueError(f"input_ids must be a tensor of shape [1, seq], got {shape}: "
                         "use utils.tokens.encode(tokenizer, prompt, model).")
    check_input_ids(model, input_ids)
    check_prompt_length(model, input_ids.shape[1])
    check_token_id(model, target_id, "target_id")
    if foil_id is not None:
        check_token_id(model, foil_id, "foil_id")


def check_positions(positions, seq_len: int, name: str = "positions") -> torch.Tensor:
    """Token positions [n] (n >= 1, no repeats), each a whole number in 0..seq_len-1, as long.

    Negative positions are refused: -1 would silently mean the last token."""
    values = torch.as_tensor(positions)
    if values.numel() == 0:                 # checked first: an empty list reads as float
        raise ValueError(f"{name} is empty: give at least one token position (e.g. all but BOS, "
                         "torch.arange(1, seq)).")
    if values.dtype.is_floating_point or values.dtype == torch.bool or values.dim() > 1:
        raise TypeError(f"{name} must be a list of whole-number positions such as [1, 2, 3], got "
                        f"{values.dtype} of shape {tuple(values.shape)}.")
    values = values.reshape(-1).long()
    low, high = int(values.min()), int(values.max())
    if low < 0 or high >= seq_len:
        bad = low if low < 0 else high
        hint = " Counting from the end (-1) is not supported: give the position itself." \
            if bad < 0 else ""
        raise ValueError(f"{name} must lie in 0..{seq_len - 1} (the prompt has {seq_len} tokens), "
                         f"got {bad}.{hint}")
    if values.unique().numel() != values.numel():
        raise ValueError(f"{name} repeats a position: give each position once.")
    return values


def check_position_or_last(position, name: str = "position") -> int:
    """A position counted from the start (0, 1, ...) or -1, which documents "the last token";
    any other negative would wrap silently and is refused."""
    if isinstance(position, bool) or not isinstance(position, Integral):
        raise TypeError(f"{name} must be a whole number (-1 for the last token), got "
                        f"{type(position).__name__} {position!r}.")
    if position < -1:
        raise ValueError(f"{name} must be -1 (the last token) or a position counted from the "
                         f"start (0, 1, ...), got {position}.")
    return int(position)


def check_finite(values, name: str) -> torch.Tensor:
    """`values` as a tensor without NaN or inf; the error names the argument and the first bad entry."""
    tensor = torch.as_tensor(values)
    if tensor.is_floating_point() or tensor.is_complex():
        bad = ~torch.isfinite(tensor)
        if bad.any():
            first = tuple(int(i) for i in torch.nonzero(bad)[0]) if tensor.dim() else ()
            raise ValueError(f"{name} contains {int(bad.sum())} NaN or infinite values (first at "
                             f"index {first}): recompute it (a division by zero or an empty "
                             "mean upstream?) before passing it on.")
    return tensor


def check_finite_number(value, name: str) -> float:
    """One real, finite number (not a bool) as a float."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number such as 1.0, got {type(value).__name__} {value!r}.")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}.")
    return float(value)


def check_same_length(a, b, name_a: str, name_b: str) -> int:
    """len(a) == len(b), else an error naming both (zip would silently drop the extra items)."""
    n_a, n_b = len(a), len(b)
    if n_a != n_b:
        raise ValueError(f"{name_a} and {name_b} must have the same length (one {name_b} value "
                         f"per {name_a} item), got {n_a} and {n_b}.")
    return n_a


def check_not_empty(items, name: str) -> None:
    """At least one item (a mean over nothing is NaN)."""
    if isinstance(items, (str, bytes)):
        raise TypeError(f"{name} must be a list, got a single {type(items).__name__}: wrap it "
                        f"in a list, [{items!r}].")
    if len(items) == 0:
        raise ValueError(f"{name} is empty: give at least one.")


def check_activations(pair, activations, name: str, shape: tuple) -> torch.Tensor:
    """Activations captured on `pair` (clean or corrupted run): shape `shape` (None: any size),
    finite, and, where they remember their input ids (utils.patching.cache_activations), those
    of this pair."""
    if not isinstance(activations, torch.Tensor):
        raise TypeError(f"{name} must be a tensor from cache_activations, got "
                        f"{type(activations).__name__}.")
    made_from = getattr(activations, "made_from", None)
    if made_from is not None and not any(
            made_from.shape == ids[0].shape and torch.equal(made_from, ids[0].cpu())
            for ids in (pair.clean_ids, pair.corrupted_ids)):
        raise ValueError(f"{name} belongs to another prompt pair (it was captured on other "
                         "tokens): run cache_activations(model, pair.clean_inputs()) for this pair.")
    if activations.dim() != len(shape) or any(
            want is not None and got != want for got, want in zip(activations.shape, shape)):
        expected = ", ".join("*" if s is None else str(s) for s in shape)
        raise ValueError(f"{name} has shape {tuple(activations.shape)}, expected [{expected}]: "
                         "it belongs to another prompt pair or model. Run "
                         "cache_activations(model, pair.clean_inputs()) for this pair.")
    check_finite(activations, name)
    return activations
