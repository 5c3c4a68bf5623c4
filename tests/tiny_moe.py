"""Tiny random mixture-of-experts models (Mixtral, Qwen2-MoE, OLMoE) for MoEE's tests: four
layers of width 32, four experts (two per token), the small tokenizers of ``tiny_models``; the
Qwen2-MoE one has dense layers between its MoE layers (``decoder_sparse_step=2``) and a shared
expert, as Qwen1.5-MoE."""

from __future__ import annotations

import torch
from tiny_models import make_tokenizer
from transformers import AutoModel, MixtralConfig, OlmoeConfig, Qwen2MoeConfig

MOE_FAMILIES = ("mixtral", "qwen2_moe", "olmoe")
_SHAPE = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=4,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=512,
    initializer_range=0.3,
    num_experts_per_tok=2,
    bos_token_id=1,
    eos_token_id=2,
    pad_token_id=0,
)
CONFIGS = {
    "mixtral": lambda v: MixtralConfig(vocab_size=v, num_local_experts=4, **_SHAPE),
    "qwen2_moe": lambda v: Qwen2MoeConfig(
        vocab_size=v,
        num_experts=4,
        moe_intermediate_size=16,
        shared_expert_intermediate_size=16,
        decoder_sparse_step=2,
        **_SHAPE,
    ),
    "olmoe": lambda v: OlmoeConfig(vocab_size=v, num_experts=4, **_SHAPE),
}
WITH_BOS = {"mixtral": True, "qwen2_moe": False, "olmoe": False}


def make_moe_model(family: str, seed: int = 0):
    """(base model in float32, tokenizer) for a tiny random MoE model of ``family``."""
    tokenizer = make_tokenizer(WITH_BOS[family])
    torch.manual_seed(seed)
    model = AutoModel.from_config(CONFIGS[family](len(tokenizer)), attn_implementation="sdpa")
    return model.float().eval(), tokenizer
