"""Chapter 9 benchmark: our tiled (FlashAttention-style) attention vs torch's SDPA, time and peak memory.

The time columns come from ``harness.compare``. Peak memory is measured with the CPU
allocator's own events (``torch.profiler`` with ``profile_memory=True``), which also see the
scratch buffers inside torch's fused kernel; it is reported in the ``size`` column as
ours / SDPA / explicit (the chapter-7 ``scaled_dot_product_attention``, which stores the
N x N scores). torch 2.13 on CPU dispatches SDPA to its fused flash kernel
(``torch._fused_sdp_choice`` returns FLASH_ATTENTION), so both sides are O(N) in memory;
ours runs the tile loops in Python. The profiler prints two lines per window to stderr.

Run: python benchmarks/run.py flash_attention
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from harness import Result, compare
from torch.profiler import ProfilerActivity, profile

from interviewlib.inference import flash_attn_forward, flash_attn_func, flash_decoding
from interviewlib.transformer import scaled_dot_product_attention


def _max_err(a, b):
    return float((a.double() - b.double()).abs().max())


def _allocator_peak(fn) -> int:
    """Peak bytes of the CPU allocator's alloc/free events while ``fn`` runs."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events() if e.name() == "[memory]")
    current = peak = 0
    for _, nbytes in events:
        current += nbytes
        peak = max(peak, current)
    return peak


def _fresh(*ts):
    return tuple(t.detach().clone().requires_grad_() for t in ts)


def _train_step(attn, q, k, v, **kw):
    q, k, v = _fresh(q, k, v)  # new leaves: no .grad from an earlier call
    attn(q, k, v, is_causal=True, **kw).sum().backward()
    return torch.cat([q.grad.flatten(), k.grad.flatten(), v.grad.flatten()])


def _mib(nbytes: int) -> str:
    return f"{nbytes / 2**20:.1f}"


def run() -> list[Result]:
    torch.manual_seed(0)
    results = []
    B, H, d, blk = 1, 8, 64, 128
    for n in (512, 1024, 2048):
        q, k, v = (torch.randn(B, H, n, d) for _ in range(3))
        mem = [
            _allocator_peak(
                lambda q=q, k=k, v=v: flash_attn_forward(q, k, v, is_causal=True, block_q=blk, block_k=blk)
            ),
            _allocator_peak(lambda q=q, k=k, v=v: F.scaled_dot_product_attention(q, k, v, is_causal=True)),
            _allocator_peak(lambda q=q, k=k, v=v: scaled_dot_product_attention(q, k, v, is_causal=True)),
        ]
        results.append(
            compare(
                "flash_attn_forward (causal) vs F.scaled_dot_product_attention",
                f"B={B} H={H} n={n} d={d} blocks {blk}; peak MiB ours/SDPA/explicit " + "/".join(_mib(m) for m in mem),
                lambda q=q, k=k, v=v: flash_attn_forward(q, k, v, is_causal=True, block_q=blk, block_k=blk)[0],
                lambda q=q, k=k, v=v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                error=_max_err,
                repeats=5,
            )
        )
    kw = {"block_q": blk, "block_k": blk}
    for n in (512, 1024):
        q, k, v = (torch.randn(B, H, n, d) for _ in range(3))
        mem = [
            _allocator_peak(lambda q=q, k=k, v=v: _train_step(flash_attn_func, q, k, v, **kw)),
            _allocator_peak(lambda q=q, k=k, v=v: _train_step(F.scaled_dot_product_attention, q, k, v)),
            _allocator_peak(lambda q=q, k=k, v=v: _train_step(scaled_dot_product_attention, q, k, v)),
        ]
        results.append(
            compare(
                "flash_attn_func forward+backward (causal) vs SDPA",
                f"B={B} H={H} n={n} d={d} blocks {blk}; peak MiB ours/SDPA/explicit " + "/".join(_mib(m) for m in mem),
                lambda q=q, k=k, v=v: _train_step(flash_attn_func, q, k, v, **kw),
                lambda q=q, k=k, v=v: _train_step(F.scaled_dot_product_attention, q, k, v),
                error=_max_err,
                repeats=3,
            )
        )
    # Decoding: one query per sequence against a long KV cache, split-K; MHA, then GQA 32 -> 8 heads.
    # Ours stacks the 4 query heads of a group as rows of one matmul per K/V tile. torch's CPU flash
    # kernel also avoids copying K/V for GQA (profiler peak ~64 KB), so its slower time there is not
    # a copy; we have not profiled it further.
    S = 16384
    for H_q, H_kv in ((8, 8), (32, 8)):
        q = torch.randn(4, H_q, 1, 128)
        k, v = (torch.randn(4, H_kv, S, 128) for _ in range(2))
        gqa = H_q != H_kv
        results.append(
            compare(
                f"flash_decoding (num_splits=16) vs SDPA{' enable_gqa' if gqa else ''}",
                f"B=4 H={H_q} H_kv={H_kv} T=1 S={S} d=128",
                lambda q=q, k=k, v=v, gqa=gqa: flash_decoding(q, k, v, num_splits=16, block_k=1024, enable_gqa=gqa)[0],
                lambda q=q, k=k, v=v, gqa=gqa: F.scaled_dot_product_attention(q, k, v, enable_gqa=gqa),
                error=_max_err,
                repeats=5,
            )
        )
    return results
