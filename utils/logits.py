"""Next-token logits of many prompts at once: left-padded batches, each prompt's end at -1.

    ids, mask, positions = left_padded(tokenizer, ["The sky is", "Paris is in"])   # [n, seq] each
    logits = last_position_logits(model, tokenizer, prompts, batch_size=32)       # [n, vocab]

Left padding puts every prompt's last token in the last column, so a hook that edits position
-1 (a function vector, a transplant) edits every prompt's end. Position ids restart at 0 after
the pads, so a padded prompt gets the same logits as the prompt alone (to float noise).
"""
from __future__ import annotations

import torch

from utils.models import input_device


def left_padded(tokenizer, prompts) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """input_ids, attention_mask and position_ids [n, seq] of `prompts` (str, or lists of token
    ids), padded on the left with the tokenizer's pad token."""
    if len(prompts) == 0:
        raise ValueError("No prompts given: pass a non-empty list of prompts.")
    ids = [tokenizer(p)["input_ids"] if isinstance(p, str) else [int(t) for t in p]
           for p in prompts]
    if any(len(s) == 0 for s in ids):
        raise ValueError("A prompt has no tokens: every prompt needs some text.")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    length = max(map(len, ids))
    input_ids = torch.full((len(ids), length), int(pad))
    mask = torch.zeros((len(ids), length), dtype=torch.long)
    for row, seq in enumerate(ids):
        input_ids[row, length - len(seq):] = torch.tensor(seq)
        mask[row, length - len(seq):] = 1
    return input_ids, mask, (mask.cumsum(1) - 1).clamp(min=0)


@torch.no_grad()
def last_position_logits(model, tokenizer, prompts, batch_size: int = 32) -> torch.Tensor:
    """Logits [n, vocab] (float, CPU) of the next token after each prompt, `batch_size` at a time.

    Hooks already on the model (e.g. utils.function_vectors.add_to_residual) act on every batch.
    """
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a whole number >= 1, got {batch_size!r}.")
    device = input_device(model)
    rows = []
    for start in range(0, len(prompts), batch_size):
        ids, mask, pos = (t.to(device) for t in left_padded(tokenizer, prompts[start:start + batch_size]))
        rows.append(model(input_ids=ids, attention_mask=mask, position_ids=pos).logits[:, -1].float().cpu())
    return torch.cat(rows)
