"""Architecture shapes the course builds with random weights: the cost of a real model without
a download (benchmarks, the GPU runner's random model).

    LlamaConfig(**LLAMA_1B_SHAPE)     # Llama-3.2-1B as published (its hub config.json)
    LlamaConfig(**TINY_SHAPE)         # the same architecture cut down to seconds on a CPU
"""
LLAMA_1B_SHAPE = dict(
    hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
    num_key_value_heads=8, head_dim=64, vocab_size=128256, tie_word_embeddings=True,
    max_position_embeddings=131072, rope_theta=500000.0, rms_norm_eps=1e-5,
    rope_scaling={"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                  "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
    bos_token_id=128000, eos_token_id=128001)
# The code paths of the full shape; its vocabulary holds the course tokenizer's ids (4096) and
# filler entries above them (tools/random_llama.py).
TINY_SHAPE = dict(LLAMA_1B_SHAPE, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, head_dim=16, vocab_size=5000)
