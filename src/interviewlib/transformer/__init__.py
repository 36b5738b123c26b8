"""Transformer building blocks (chapter 7): attention, masks, MHA, layers, a small LM, FLOPs.

Layout is batch-first ``(B, H, T, d_head)``; masks are bool with True = attend.
"""

from .attention import mask_to_bias, scaled_dot_product_attention
from .flops import attention_memory_bytes, crossover_seq_len, decode_step_flops, layer_flops
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
from .model import TransformerLM, block_grad_norms

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
]
