"""Tiny random models of several families, with small trained tokenizers: no download at all.

Six layers each, so the papers' layer settings (read-out at depth - 5, TP's and CP's layers
scaled to the depth) exist on them too.
"""

from __future__ import annotations

import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
from transformers import (
    AutoModel,
    AutoModelForCausalLM,
    Gemma3TextConfig,
    GPT2Config,
    LlamaConfig,
    PreTrainedTokenizerFast,
    Qwen2Config,
)

CORPUS = [
    "The bank raised interest rates again this year.",
    "We sat on the river bank and watched the boats.",
    "A bat flew out of the cave at dusk.",
    "He swung the bat and hit the ball over the fence.",
    "我们去银行取钱，然后去河边散步。",
    "这个苹果很甜，那家公司叫苹果。",
    "Embeddings from causal language models miss what comes later in the text.",
    "Repetition lets early tokens see the whole sentence.",
] * 4


def make_tokenizer(with_bos: bool) -> PreTrainedTokenizerFast:
    """Byte-level BPE; ``with_bos`` adds a BOS prefix like Llama/Gemma (else GPT-2/Qwen style)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<pad>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(CORPUS, trainer)
    from tokenizers import decoders

    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=True)
    if with_bos:
        tok.post_processor = processors.Sequence(
            [
                processors.ByteLevel(trim_offsets=True),
                processors.TemplateProcessing(
                    single="<s> $A", special_tokens=[("<s>", tok.token_to_id("<s>"))]
                ),
            ]
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )


def _common(vocab: int) -> dict:
    return dict(
        vocab_size=vocab, initializer_range=0.3, bos_token_id=1, eos_token_id=2, pad_token_id=0
    )


CONFIGS = {
    "llama": lambda v: LlamaConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=6,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        **_common(v),
    ),
    "qwen2": lambda v: Qwen2Config(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=6,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        **_common(v),
    ),
    "gemma3": lambda v: Gemma3TextConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=6,
        num_attention_heads=4,
        num_key_value_heads=1,
        head_dim=8,
        sliding_window=16,
        max_position_embeddings=512,
        # Layer 1 is full: CP's layer on six layers; through two 16-token windows the auxiliary
        # and main prompts' last states can coincide (a - b would be rounding noise).
        layer_types=["sliding_attention", "full_attention", "sliding_attention"] * 2,
        **_common(v),
    ),
    "gpt2": lambda v: GPT2Config(n_embd=32, n_layer=6, n_head=4, n_positions=512, **_common(v)),
}
# Which families put a BOS before the text (Llama, Gemma) and which do not (Qwen, GPT-2).
WITH_BOS = {"llama": True, "gemma3": True, "qwen2": False, "gpt2": False}


def make_model(family: str, seed: int = 0):
    """(base model in float32, tokenizer) for a tiny random model of ``family``."""
    tokenizer = make_tokenizer(WITH_BOS[family])
    torch.manual_seed(seed)
    model = AutoModel.from_config(CONFIGS[family](len(tokenizer)), attn_implementation="sdpa")
    return model.float().eval(), tokenizer


def make_causal_lm(family: str, seed: int = 0):
    """(causal LM with its head, in float32, tokenizer): Llama and Qwen2 untied (their
    configurations' default), Gemma 3 and GPT-2 tied."""
    tokenizer = make_tokenizer(WITH_BOS[family])
    torch.manual_seed(seed)
    config = CONFIGS[family](len(tokenizer))
    model = AutoModelForCausalLM.from_config(config, attn_implementation="sdpa")
    return model.float().eval(), tokenizer
