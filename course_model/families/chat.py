"""Handover chats: family "handover". A patient record in the course's chat layout, then the
handover summary whose every span has a known source (`course_model.handover`)."""
from __future__ import annotations

import random

from course_model import handover
from course_model.families import register
from course_model.families.text import SPLIT


@register("handover", 1, heldout="1 in 6 patient names and the course's patient")
def handover_doc(rng: random.Random, split: str = "train") -> str:
    """A chat-formatted record -> handover summary (the tokenizer's chat template)."""
    ex = handover.make_handover_example(rng.randrange(10 ** 9), split=split)
    return handover.render_chat(ex["messages"], ex["summary"])


@register("handover", 2, heldout="1 in 6 patient names and the course's patient")
def split_reply_handover_doc(rng: random.Random, split: str = "train") -> str:
    """A chat record -> summary, the reply tokenised apart from its header, exactly as a prompt
    from `apply_chat_template(..., add_generation_prompt=True)` ends."""
    ex = handover.make_handover_example(rng.randrange(10 ** 9), split=split)
    return handover.render_chat(ex["messages"]) + SPLIT + ex["summary"].strip() + "<|eot_id|>"
