"""Transformer building blocks (chapter 7): attention, masks, MHA, layers, a small LM, FLOPs.

Layout is batch-first ``(B, H, T, d_head)``; masks are bool with True = attend.
"""

from .attention import mask_to_bias, scaled_dot_product_attention
from .decoder import DecoderBlock, DecoderConfig, DecoderLM, convert_kv_heads, from_hf_deepseek_v3, from_hf_llama
from .flops import attention_memory_bytes, crossover_seq_len, decode_step_flops, layer_flops
from .generate import generate, sample_next, top_k_filter, top_p_filter
from .gqa import GroupedQueryAttention, mha_to_gqa
from .kv_cache import KVCache, kv_cache_bytes
from .layers import DecoderLayer, EncoderLayer, FeedForward
from .masks import (
    attention_mask,
    bigbird_mask,
    block_sparse_mask,
    causal_mask,
    dilated_mask,
    fixed_mask,
    longformer_mask,
    lsh_mask,
    mask_density,
    padding_mask,
    sliding_window_mask,
    strided_mask,
)
from .mha import MultiHeadAttention
from .mla import MultiHeadLatentAttention, mla_kv_cache_elements
from .model import TransformerLM, block_grad_norms
from .rmsnorm import RMSNorm, SwiGLU
from .rope import RotaryEmbedding, apply_rope, rope_cos_sin, rope_inv_freq, rotate_half
from .rope_scaling import (
    hf_rope_parameters,
    irope_layer_types,
    mrope_cos_sin,
    mrope_position_ids,
    nope_attn_scale,
    rope_dynamic_ntk,
    rope_linear,
    rope_llama3,
    rope_longrope,
    rope_ntk,
    rope_proportional,
    rope_yarn,
)

__all__ = [
    "scaled_dot_product_attention",
    "mask_to_bias",
    "causal_mask",
    "padding_mask",
    "attention_mask",
    "sliding_window_mask",
    "dilated_mask",
    "strided_mask",
    "fixed_mask",
    "longformer_mask",
    "block_sparse_mask",
    "bigbird_mask",
    "lsh_mask",
    "mask_density",
    "MultiHeadAttention",
    "FeedForward",
    "EncoderLayer",
    "DecoderLayer",
    "TransformerLM",
    "block_grad_norms",
    "layer_flops",
    "crossover_seq_len",
    "attention_memory_bytes",
    "decode_step_flops",
    "rope_inv_freq",
    "rope_cos_sin",
    "rotate_half",
    "apply_rope",
    "RotaryEmbedding",
    "KVCache",
    "kv_cache_bytes",
    "RMSNorm",
    "SwiGLU",
    "GroupedQueryAttention",
    "mha_to_gqa",
    "DecoderConfig",
    "DecoderBlock",
    "DecoderLM",
    "from_hf_llama",
    "convert_kv_heads",
    "generate",
    "sample_next",
    "top_k_filter",
    "top_p_filter",
    "MultiHeadLatentAttention",
    "mla_kv_cache_elements",
    "from_hf_deepseek_v3",
    "rope_linear",
    "rope_ntk",
    "rope_dynamic_ntk",
    "rope_yarn",
    "rope_longrope",
    "rope_llama3",
    "rope_proportional",
    "hf_rope_parameters",
    "mrope_position_ids",
    "mrope_cos_sin",
    "irope_layer_types",
    "nope_attn_scale",
]
