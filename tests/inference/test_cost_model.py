import dataclasses
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import LlamaConfig, LlamaForCausalLM

from interviewlib.inference import (
    A100_SXM_80GB,
    H100_SXM,
    LLAMA_3_1_8B,
    GPUSpec,
    ModelShape,
    kv_capacity_tokens,
    kv_transfer_time,
    step_cost,
    step_time,
)
from interviewlib.transformer import kv_cache_bytes

REL = 1e-12  # sums of a few float64 terms in a different order than the closed form


def _hf_param_count(**kw) -> int:
    """Parameters of a Hugging Face Llama built on the meta device (no memory, no download)."""
    with torch.device("meta"):
        model = LlamaForCausalLM(LlamaConfig(**kw))
    return sum(p.numel() for p in model.parameters())


def _meta_ffn(dim: int, mult: float | None, multiple_of: int) -> int:
    """Meta's FeedForward width rule, restated: 2/3 of 4d, times the multiplier, rounded up."""
    h = int(2 * 4 * dim / 3)
    if mult is not None:
        h = int(mult * h)
    return -(-h // multiple_of) * multiple_of


# ---------------------------------------------------------------- specs and shapes
def test_datasheet_numbers():
    # NVIDIA H100 datasheet (SXM): 1,979 TFLOP/s BF16 with sparsity -> 989 dense; 3.35 TB/s; 80 GB; NVLink 900 GB/s
    assert (H100_SXM.peak_flops, H100_SXM.mem_bandwidth, H100_SXM.mem_bytes) == (989e12, 3.35e12, 80e9)
    assert H100_SXM.link_bandwidth == 900e9
    # NVIDIA A100 datasheet (80GB SXM): 312 TFLOP/s BF16 dense (624 sparse); 2,039 GB/s; NVLink 600 GB/s
    assert (A100_SXM_80GB.peak_flops, A100_SXM_80GB.mem_bandwidth, A100_SXM_80GB.link_bandwidth) == (
        312e12,
        2.039e12,
        600e9,
    )
    assert math.isclose(H100_SXM.ridge_point, 989 / 3.35, rel_tol=REL)


@pytest.mark.parametrize(
    ("dim", "mult", "multiple_of", "hf_intermediate"),
    [(4096, 1.3, 1024, 14336), (8192, 1.3, 4096, 28672), (16384, 1.2, 4096, 53248)],  # Llama-3.1 8B / 70B / 405B
)
def test_meta_ffn_rule_matches_published_widths(dim, mult, multiple_of, hf_intermediate):
    assert _meta_ffn(dim, mult, multiple_of) == hf_intermediate


def test_llama31_8b_param_count_matches_transformers():
    ref = _hf_param_count(
        vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
        num_attention_heads=32, num_key_value_heads=8, tie_word_embeddings=False,
    )  # fmt: skip
    assert LLAMA_3_1_8B.n_params == ref
    assert LLAMA_3_1_8B.embedding_params == 128256 * 4096
    assert (LLAMA_3_1_8B.n_layers, LLAMA_3_1_8B.n_kv_heads, LLAMA_3_1_8B.head_dim) == (32, 8, 128)


@pytest.mark.parametrize(
    ("dim", "layers", "heads", "kv", "vocab", "mult", "mo", "tie"),
    [(64, 2, 4, 2, 100, None, 32, False), (96, 3, 6, 3, 50, 1.5, 64, True), (128, 1, 8, 8, 33, 1.3, 16, False)],
)
def test_from_llama_matches_transformers_tiny(dim, layers, heads, kv, vocab, mult, mo, tie):
    shape = ModelShape.from_llama("tiny", dim=dim, n_layers=layers, n_heads=heads, n_kv_heads=kv, vocab_size=vocab,
                                  ffn_dim_multiplier=mult, multiple_of=mo, tie_embeddings=tie)  # fmt: skip
    ref = _hf_param_count(
        vocab_size=vocab, hidden_size=dim, intermediate_size=_meta_ffn(dim, mult, mo), num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=kv, tie_word_embeddings=tie,
    )  # fmt: skip
    assert shape.n_params == ref
    assert shape.embedding_params == (0 if tie else vocab * dim)


def test_kv_bytes_per_token_matches_kv_cache_bytes():
    ref = kv_cache_bytes(n_layers=32, n_kv_heads=8, head_dim=128, seq_len=1)
    assert LLAMA_3_1_8B.kv_bytes_per_token == ref
    fp8 = dataclasses.replace(LLAMA_3_1_8B, kv_bytes_per_elem=1)
    assert fp8.kv_bytes_per_token == kv_cache_bytes(n_layers=32, n_kv_heads=8, head_dim=128, seq_len=1,
                                                    bytes_per_element=1)  # fmt: skip


# ---------------------------------------------------------------- the roofline
def _by_hand(gpu, m, tokens, read, pairs, ef=0.6, eb=0.8, t0=5e-4):
    n = m.n_params - m.embedding_params
    flops = 2 * n * tokens + 4 * m.n_layers * m.n_heads * m.head_dim * pairs
    nbytes = n * m.weight_bytes_per_param + (read + tokens) * 2 * m.n_layers * m.n_kv_heads * m.head_dim * m.kv_bytes_per_elem
    return max(flops / (ef * gpu.peak_flops), nbytes / (eb * gpu.mem_bandwidth)) + t0


@pytest.mark.parametrize("gpu", [H100_SXM, A100_SXM_80GB])
@pytest.mark.parametrize(("pre", "dec", "read"), [(0, 1, 100), (0, 64, 64 * 900), (512, 8, 8000 + 512), (4096, 0, 4096)])
def test_step_time_closed_form(gpu, pre, dec, read):
    got = step_time(gpu, LLAMA_3_1_8B, prefill_tokens=pre, decode_seqs=dec, kv_tokens_read=read)
    assert math.isclose(got, _by_hand(gpu, LLAMA_3_1_8B, pre + dec, read, read), rel_tol=REL)


def test_decode_is_memory_bound_and_scales_with_bandwidth():
    kw = dict(prefill_tokens=0, decode_seqs=16, kv_tokens_read=16 * 1000, overhead_s=0.0)
    c = step_cost(H100_SXM, LLAMA_3_1_8B, **kw)
    assert c.bound == "memory"
    assert math.isclose(c.time_s, c.bytes / (0.8 * H100_SXM.mem_bandwidth), rel_tol=REL)
    fast = dataclasses.replace(H100_SXM, mem_bandwidth=2 * H100_SXM.mem_bandwidth)
    assert math.isclose(step_time(fast, LLAMA_3_1_8B, **kw), c.time_s / 2, rel_tol=REL)
    # the weights dominate: 16 sequences cost far less than 16 single-sequence steps
    one = step_time(H100_SXM, LLAMA_3_1_8B, prefill_tokens=0, decode_seqs=1, kv_tokens_read=1000, overhead_s=0.0)
    assert c.time_s < 1.2 * one


def test_long_prefill_is_compute_bound_and_scales_with_peak():
    kw = dict(prefill_tokens=8192, decode_seqs=0, kv_tokens_read=8192, overhead_s=0.0)
    c = step_cost(H100_SXM, LLAMA_3_1_8B, **kw)
    assert c.bound == "compute"
    assert math.isclose(c.time_s, c.flops / (0.6 * H100_SXM.peak_flops), rel_tol=REL)
    slow = dataclasses.replace(H100_SXM, peak_flops=H100_SXM.peak_flops / 3)
    assert math.isclose(step_time(slow, LLAMA_3_1_8B, **kw), 3 * c.time_s, rel_tol=REL)


@pytest.mark.parametrize("gpu", [H100_SXM, A100_SXM_80GB])
def test_decode_batch_crossover_at_closed_form(gpu):
    # kv_tokens_read = 0: F = 2NB, Q = N b_w + B k  ->  B* = N b_w ef P / (2N eb BW - k ef P)
    m, ef, eb = LLAMA_3_1_8B, 0.6, 0.8
    n, k = m.matmul_params, m.kv_bytes_per_token
    b_star = n * m.weight_bytes_per_param * ef * gpu.peak_flops / (2 * n * eb * gpu.mem_bandwidth - k * ef * gpu.peak_flops)
    lo, hi = math.floor(b_star), math.ceil(b_star)
    assert step_cost(gpu, m, prefill_tokens=0, decode_seqs=lo, kv_tokens_read=0, attention_pairs=0).bound == "memory"
    assert step_cost(gpu, m, prefill_tokens=0, decode_seqs=hi, kv_tokens_read=0, attention_pairs=0).bound == "compute"


def test_empty_step_costs_nothing_and_pairs_override():
    assert step_time(H100_SXM, LLAMA_3_1_8B, prefill_tokens=0, decode_seqs=0, kv_tokens_read=0) == 0.0
    base = step_cost(H100_SXM, LLAMA_3_1_8B, prefill_tokens=1000, decode_seqs=0, kv_tokens_read=1000)
    exact = step_cost(H100_SXM, LLAMA_3_1_8B, prefill_tokens=1000, decode_seqs=0, kv_tokens_read=1000,
                      attention_pairs=1000 * 1001 // 2)  # fmt: skip
    m = LLAMA_3_1_8B
    assert exact.flops - base.flops == 4 * m.n_layers * m.n_heads * m.head_dim * (1000 * 1001 // 2 - 1000)
    assert exact.bytes == base.bytes


@settings(max_examples=25, deadline=None)
@given(
    pre=st.integers(0, 20000), dec=st.integers(0, 512), read=st.integers(0, 10**6),
    which=st.sampled_from(["pre", "dec", "read"]), extra=st.integers(1, 5000),
)  # fmt: skip
def test_step_time_monotone(pre, dec, read, which, extra):
    kw = dict(prefill_tokens=pre, decode_seqs=dec, kv_tokens_read=read)
    more = dict(kw)
    more[{"pre": "prefill_tokens", "dec": "decode_seqs", "read": "kv_tokens_read"}[which]] += extra
    assert step_time(H100_SXM, LLAMA_3_1_8B, **more) >= step_time(H100_SXM, LLAMA_3_1_8B, **kw)


# ---------------------------------------------------------------- transfer and capacity
def test_kv_transfer_time_closed_form_and_arrays():
    got = kv_transfer_time(LLAMA_3_1_8B, 2048, bandwidth=50e9, latency_s=1e-4)
    assert math.isclose(got, 1e-4 + 2048 * 131072 / 50e9, rel_tol=REL)
    arr = kv_transfer_time(LLAMA_3_1_8B, np.array([0, 10, 100]), bandwidth=1e9)
    np.testing.assert_allclose(arr, np.array([0, 10, 100]) * 131072 / 1e9, rtol=REL)
    assert kv_transfer_time(LLAMA_3_1_8B, 10**6, bandwidth=math.inf, latency_s=0.002) == 0.002


def test_kv_capacity_closed_form():
    free = 0.9 * 80e9 - LLAMA_3_1_8B.n_params * 2
    assert kv_capacity_tokens(H100_SXM, LLAMA_3_1_8B) == int(free // 131072)
    assert kv_capacity_tokens(H100_SXM, LLAMA_3_1_8B, memory_utilization=0.5) < kv_capacity_tokens(H100_SXM, LLAMA_3_1_8B)
    big = ModelShape("70B-ish", 70_000_000_000, 80, 64, 8, 128)
    with pytest.raises(ValueError, match="do not fit"):
        kv_capacity_tokens(A100_SXM_80GB, big)


# ---------------------------------------------------------------- bad input
def test_bad_input():
    kw = dict(prefill_tokens=1, decode_seqs=0, kv_tokens_read=1)
    with pytest.raises(ValueError, match="prefill_tokens must be >= 0"):
        step_time(H100_SXM, LLAMA_3_1_8B, **{**kw, "prefill_tokens": -1})
    with pytest.raises(TypeError, match="decode_seqs must be an integer"):
        step_time(H100_SXM, LLAMA_3_1_8B, **{**kw, "decode_seqs": 1.5})
    with pytest.raises(ValueError, match="efficiencies must be in"):
        step_time(H100_SXM, LLAMA_3_1_8B, **kw, flop_efficiency=1.5)
    with pytest.raises(ValueError, match="overhead_s must be >= 0"):
        step_time(H100_SXM, LLAMA_3_1_8B, **kw, overhead_s=-1.0)
    with pytest.raises(TypeError, match="bandwidth must be a real number"):
        kv_transfer_time(LLAMA_3_1_8B, 10, bandwidth="fast")
    with pytest.raises(ValueError, match="n_tokens must be a non-negative integer"):
        kv_transfer_time(LLAMA_3_1_8B, np.array([1.5]), bandwidth=1e9)
    with pytest.raises(ValueError, match="memory_utilization must be in"):
        kv_capacity_tokens(H100_SXM, LLAMA_3_1_8B, memory_utilization=1.2)
    with pytest.raises(ValueError, match="peak_flops must be > 0"):
        GPUSpec("bad", peak_flops=0, mem_bandwidth=1.0, mem_bytes=1.0, link_bandwidth=1.0)
    with pytest.raises(ValueError, match="multiple of n_kv_heads"):
        ModelShape("bad", 100, 2, 6, 4, 8)
    with pytest.raises(ValueError, match="embedding_params must be < n_params"):
        ModelShape("bad", 100, 2, 4, 4, 8, embedding_params=100)
    with pytest.raises(TypeError, match="n_layers must be an integer"):
        ModelShape("bad", 100, True, 4, 4, 8)
    with pytest.raises(TypeError, match="name must be a str"):
        GPUSpec(None, peak_flops=1.0, mem_bandwidth=1.0, mem_bytes=1.0, link_bandwidth=1.0)
    with pytest.raises(TypeError, match="name must be a str"):
        ModelShape(8, 100, 2, 4, 4, 8)
    with pytest.raises(TypeError, match="model must be a ModelShape"):
        step_time(H100_SXM, "llama", **kw)
    with pytest.raises(TypeError, match="gpu must be a GPUSpec"):
        kv_capacity_tokens("H100", LLAMA_3_1_8B)
    with pytest.raises(ValueError, match="n_tokens must be a non-negative integer"):
        kv_transfer_time(LLAMA_3_1_8B, [[1, 2], [3]], bandwidth=1e9)
