"""Chapter 9 benchmarks for the serving engine: paged vs contiguous attention, continuous vs static batching.

Run: python benchmarks/run.py inference_engine

1. Decode attention through a block table (gather the blocks, then attend) against the same
   attention on contiguous, padded K/V (torch SDPA, and our SDPA): the price of the indirection
   when it is an explicit gather rather than fused into the kernel as in vLLM.
2. The engine on one trace of requests with mixed output lengths, continuous batching (ours)
   against static batching (reference: a new batch only when the whole batch has finished),
   and against running ``generate`` for one request at a time. Error = differing tokens (must be 0).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from harness import Result, compare

from interviewlib.inference import LLMEngine, PagedKVPool, SamplingParams, paged_attention
from interviewlib.transformer import DecoderConfig, DecoderLM, generate, scaled_dot_product_attention


def _max_err(a, b):
    return float((a.double() - b.double()).abs().max())


def _attention_case(B, H, H_kv, d, lens, block_size):
    g = torch.Generator().manual_seed(0)
    S = max(lens)
    nb = [-(-n // block_size) for n in lens]
    pool = PagedKVPool(n_layers=1, num_blocks=sum(nb), block_size=block_size, n_kv_heads=H_kv, head_dim=d)
    perm = torch.randperm(sum(nb), generator=g).tolist()
    k_pad = torch.zeros(B, H_kv, S, d)
    v_pad = torch.zeros(B, H_kv, S, d)
    tables = torch.zeros(B, max(nb), dtype=torch.long)
    for b, n in enumerate(lens):
        table, perm = perm[: nb[b]], perm[nb[b] :]
        tables[b, : nb[b]] = torch.tensor(table)
        k, v = torch.randn(n, H_kv, d, generator=g), torch.randn(n, H_kv, d, generator=g)
        pool.write(0, torch.tensor([table[p // block_size] * block_size + p % block_size for p in range(n)]), k, v)
        k_pad[b, :, S - n :] = k.transpose(0, 1)  # left-padded, like the paged gather
        v_pad[b, :, S - n :] = v.transpose(0, 1)
    q = torch.randn(B, H, 1, d, generator=g)
    ctx = torch.tensor(lens)
    keep = (torch.arange(S)[None] >= S - ctx[:, None])[:, None, None]  # (B, 1, 1, S)
    return q, pool, tables, ctx, k_pad, v_pad, keep


def _attention_results(B, lens):
    q, pool, tables, ctx, k_pad, v_pad, keep = _attention_case(B, 16, 4, 64, lens, 16)
    size = f"B={B} H=16 H_kv=4 d=64 max ctx={max(lens)} block=16"

    def paged():
        return paged_attention(q, pool, 0, tables, ctx)

    return [
        compare(
            "decode attention: paged gather (ours) vs contiguous F.sdpa",
            size,
            paged,
            lambda: F.scaled_dot_product_attention(q, k_pad, v_pad, attn_mask=keep, enable_gqa=True),
            error=_max_err,
            repeats=7,
        ),
        compare(
            "decode attention: paged gather (ours) vs our SDPA on contiguous K/V",
            size,
            paged,
            lambda: scaled_dot_product_attention(q, k_pad, v_pad, keep, is_causal=True, enable_gqa=True),
            error=_max_err,
            repeats=7,
        ),
    ]


def _trace(n, vocab, seed=0):
    rng = np.random.default_rng(seed)
    prompts = np.clip(rng.lognormal(np.log(24), 0.5, n), 4, 96).astype(int)
    outs = np.clip(rng.lognormal(np.log(24), 0.9, n), 2, 128).astype(int)  # heavy-tailed output lengths
    return [(f"r{i}", rng.integers(0, vocab, p).tolist(), int(m)) for i, (p, m) in enumerate(zip(prompts, outs))]


def _serve(lm, trace, batching):
    engine = LLMEngine(
        lm, num_gpu_blocks=256, block_size=16, max_num_seqs=8, max_num_batched_tokens=256, batching=batching
    )
    for rid, prompt, m in trace:
        engine.add_request(rid, prompt, SamplingParams(max_tokens=m))
    return engine.run(), len(engine.stats_history)


def _tokens(outputs):
    return np.concatenate([np.asarray(outputs[k]) for k in sorted(outputs)])


def run() -> list[Result]:
    torch.manual_seed(0)
    results = []
    for B, lens in ((8, [200, 900, 512, 64, 1000, 333, 700, 128]), (32, [256] * 32)):
        results += _attention_results(B, lens)
    lm = DecoderLM(DecoderConfig(vocab_size=512, d_model=128, n_layers=4, n_heads=8, n_kv_heads=2, max_len=256)).eval()
    trace = _trace(24, 512)
    steps = {b: _serve(lm, trace, b)[1] for b in ("continuous", "static")}
    results.append(
        compare(
            "engine: continuous batching (ours) vs static batching",
            f"24 reqs, d=128 L=4, max_num_seqs=8, steps {steps['continuous']} vs {steps['static']}",
            lambda: _tokens(_serve(lm, trace, "continuous")[0]),
            lambda: _tokens(_serve(lm, trace, "static")[0]),
            error=lambda a, b: float((a != b).sum()),
            repeats=3,
        )
    )

    def one_at_a_time():
        return _tokens({rid: generate(lm, torch.tensor([p]), m)[0, len(p) :].tolist() for rid, p, m in trace})

    results.append(
        compare(
            "engine: continuous batching (ours) vs generate() one request at a time",
            "24 reqs, d=128 L=4, max_num_seqs=8",
            lambda: _tokens(_serve(lm, trace, "continuous")[0]),
            one_at_a_time,
            error=lambda a, b: float((a != b).sum()),
            repeats=3,
        )
    )
    return results
