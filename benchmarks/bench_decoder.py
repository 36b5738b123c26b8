"""Chapter 8 benchmarks for the shared decoder: KV-cached vs recomputing generation, our GQA
attention vs torch's SDPA with ``enable_gqa``, and our decoder vs the Hugging Face Llama it loads.

Run: python benchmarks/run.py decoder
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from harness import Result, compare
from transformers import LlamaConfig, LlamaForCausalLM

from interviewlib.transformer import (
    DecoderConfig,
    DecoderLM,
    KVCache,
    MultiHeadLatentAttention,
    RotaryEmbedding,
    from_hf_llama,
    generate,
    scaled_dot_product_attention,
)


def _max_err(a, b):
    return float((a.double() - b.double()).abs().max())


def _token_mismatch(a, b):
    return float((a != b).sum())


def run() -> list[Result]:
    torch.manual_seed(0)
    results = []
    # 1. The KV cache: "ours" = cached generation, "reference" = recompute the prefix every step.
    #    A ratio < 1 is the speed-up of the cache; error = number of differing tokens (must be 0).
    lm = DecoderLM(DecoderConfig(vocab_size=512, d_model=256, n_layers=4, n_heads=8, n_kv_heads=2, max_len=512)).eval()
    prompt = torch.randint(0, 512, (1, 32))
    for n_new in (64, 256):
        results.append(
            compare(
                "generate: KV cache (ours) vs recompute prefix (reference)",
                f"d=256 L=4 prompt=32 new={n_new}",
                lambda n=n_new: generate(lm, prompt, n),
                lambda n=n_new: generate(lm, prompt, n, use_cache=False),
                error=_token_mismatch,
                repeats=3,
            )
        )
    # 2. GQA attention kernel: ours (repeat_interleave + explicit matmuls) vs torch SDPA enable_gqa.
    for h_kv, n in ((8, 512), (2, 512), (1, 512), (2, 1024)):
        q = torch.randn(4, 16, n, 64)
        k, v = (torch.randn(4, h_kv, n, 64) for _ in range(2))
        results.append(
            compare(
                "GQA attention (causal) vs F.scaled_dot_product_attention(enable_gqa=True)",
                f"B=4 H=16 H_kv={h_kv} n={n} d_head=64",
                lambda q=q, k=k, v=v: scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True),
                lambda q=q, k=k, v=v: F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True),
                error=_max_err,
                repeats=5,
            )
        )
    # 3. MLA decode step (one new token against S cached latents): the absorbed path (attention in
    #    the latent space, DeepSeek's inference form) vs decompressing per-head K/V from the cache.
    mla_kw = dict(n_heads=16, q_lora_rank=192, kv_lora_rank=128, qk_nope_head_dim=64, qk_rope_head_dim=32, v_head_dim=64)
    naive = MultiHeadLatentAttention(512, absorb=False, **mla_kw).eval()
    absorbed = MultiHeadLatentAttention(512, absorb=True, **mla_kw).eval()
    absorbed.load_state_dict(naive.state_dict())
    rope = RotaryEmbedding(32)
    for S in (1024, 4096):
        ctx = torch.randn(4, S, 512)
        cache_n, cache_a = KVCache(n_layers=1, max_len=S + 1), KVCache(n_layers=1, max_len=S + 1)
        with torch.no_grad():
            naive(ctx, rope(torch.arange(S)), cache=cache_n)
            absorbed(ctx, rope(torch.arange(S)), cache=cache_a)
            cache_n.advance(S)
            cache_a.advance(S)
            x_new, rope_new = torch.randn(4, 1, 512), rope(torch.tensor([S]))

            def step(module, cache, x=x_new, r=rope_new):
                return module(x, r, cache=cache)  # writes position S (overwritten each repeat)

            results.append(
                compare(
                    "MLA decode step: absorbed (ours) vs naive K/V decompression (ours)",
                    f"B=4 H=16 d_c=128 d_R=32 S={S}",
                    lambda step=step, c=cache_a: step(absorbed, c),
                    lambda step=step, c=cache_n: step(naive, c),
                    error=_max_err,
                    repeats=7,
                )
            )
    # 4. The whole decoder forward vs the Hugging Face model it was loaded from (eager attention).
    hf = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=1024, hidden_size=256, intermediate_size=688, num_hidden_layers=4,
            num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=512,
        )
    ).eval()
    ours = from_hf_llama(hf)
    idx = torch.randint(0, 1024, (4, 256))
    with torch.no_grad():
        results.append(
            compare(
                "DecoderLM forward vs transformers LlamaForCausalLM (same weights)",
                "B=4 T=256 d=256 L=4 H=8 H_kv=2",
                lambda: ours(idx),
                lambda: hf(idx).logits,
                error=_max_err,
                repeats=5,
            )
        )
    return results
