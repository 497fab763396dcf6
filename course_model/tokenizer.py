"""Train the course model's byte-level BPE tokenizer (once, on the union of both stages).

Byte-level: every string encodes, no unknown token. Digits are split one per token (so a number
is copied digit by digit, and " 27" is " " + "2" + "7"). BOS is prepended by the post-processor;
pad is its own token. The chat template follows Llama-3.2-Instruct's header/eot layout.
"""
from __future__ import annotations

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

BOS, EOS, PAD = "<|begin_of_text|>", "<|end_of_text|>", "<|pad|>"
SPECIALS = [BOS, EOS, PAD, "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
VOCAB_SIZE = 4096

# Llama-3.2-like: bos, then per message a role header, blank line, trimmed content, <|eot_id|>.
CHAT_TEMPLATE = (
    "{{- bos_token }}"
    "{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{%- endif %}"
)


def train_tokenizer(texts, vocab_size: int = VOCAB_SIZE) -> PreTrainedTokenizerFast:
    """Fit BPE on an iterable of plain-text documents; returns the HF fast tokenizer."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  min_frequency=2, show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    bos_id = tok.token_to_id(BOS)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, bos_id)])
    return wrap(tok)


def wrap(tok: Tokenizer) -> PreTrainedTokenizerFast:
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS,
                                 pad_token=PAD, clean_up_tokenization_spaces=False,
                                 model_max_length=2048)
    hf.chat_template = CHAT_TEMPLATE
    hf.add_bos_token = True   # documented in tokenizer_config.json; the post-processor does it
    hf.padding_side = "left"  # batched generation
    hf.model_input_names = ["input_ids", "attention_mask"]  # Llama takes no token_type_ids
    return hf
