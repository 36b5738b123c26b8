"""Tests for interviewlib.gpu.roofline: closed forms, byte counts from real numpy arrays,
roofline properties, reuse of chapter 9's GPU records, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewlib.gpu.roofline import (
    H200_SXM,
    ROOFLINE_GPUS,
    V100_SXM2,
    attainable_flops,
    attention_intensity,
    elementwise_intensity,
    matmul_intensity,
    ridge_point,
)
from interviewlib.inference import cost_model
from interviewlib.inference.cost_model import A100_SXM_80GB, H100_SXM

REL = 1e-12  # pure float64 arithmetic on exact integers; only rounding of the final division


def test_reuses_chapter9_records():
    assert ROOFLINE_GPUS["H100 SXM"] is cost_model.H100_SXM
    assert ROOFLINE_GPUS["A100 80GB SXM"] is cost_model.A100_SXM_80GB
    assert isinstance(H200_SXM, cost_model.GPUSpec) and isinstance(V100_SXM2, cost_model.GPUSpec)


def test_ridge_points_by_hand():
    assert ridge_point(H100_SXM) == pytest.approx(989 / 3.35, rel=REL)
    assert ridge_point(A100_SXM_80GB) == pytest.approx(312 / 2.039, rel=REL)
    assert ridge_point(H200_SXM) == pytest.approx(989 / 4.8, rel=REL)
    assert ridge_point(V100_SXM2) == pytest.approx(125 / 0.9, rel=REL)


def test_attainable_by_hand():
    i_star = ridge_point(H100_SXM)
    got = attainable_flops(H100_SXM, [0.0, 1 / 6, i_star, 10 * i_star])
    want = [0.0, 3.35e12 / 6, 989e12, 989e12]
    np.testing.assert_allclose(got, want, rtol=REL)
    assert isinstance(attainable_flops(A100_SXM_80GB, 2), float)
    assert attainable_flops(A100_SXM_80GB, [[1.0, 2.0]]).shape == (1, 2)


@settings(max_examples=25, deadline=None)
@given(
    gpu=st.sampled_from(list(ROOFLINE_GPUS.values())),
    i=st.floats(0, 1e6, allow_nan=False, allow_infinity=False),
    j=st.floats(0, 1e6, allow_nan=False, allow_infinity=False),
)
def test_attainable_bounded_and_monotone(gpu, i, j):
    a, b = attainable_flops(gpu, min(i, j)), attainable_flops(gpu, max(i, j))
    assert 0 <= a <= b <= gpu.peak_flops
    assert a <= min(i, j) * gpu.mem_bandwidth * (1 + REL)


def _matmul_reference(m, n, k, dtype):
    # Independent count: FLOPs of the triple loop, bytes of the actual operand and result arrays.
    a, b, c = np.empty((m, k), dtype), np.empty((k, n), dtype), np.empty((m, n), dtype)
    return 2 * m * n * k / (a.nbytes + b.nbytes + c.nbytes)


@pytest.mark.parametrize(("m", "n", "k"), [(1, 4096, 4096), (64, 4096, 14336), (4096, 4096, 4096), (3, 5, 7)])
def test_matmul_intensity_matches_array_byte_count(m, n, k):
    assert matmul_intensity(m, n, k) == pytest.approx(_matmul_reference(m, n, k, np.float16), rel=REL)
    assert matmul_intensity(m, n, k, bytes_per_elem=4) == pytest.approx(_matmul_reference(m, n, k, np.float32), rel=REL)


def test_matmul_intensity_closed_forms():
    n = 3000
    assert matmul_intensity(n, n, n) == pytest.approx(n / 3, rel=REL)  # 2n^3 / (2 * 3n^2)
    # Decode: batch m against a k x n weight, m << k, n -> intensity ~ m (bf16).
    for m in (1, 8, 64):
        assert matmul_intensity(m, 8192, 8192) == pytest.approx(m, rel=0.02)


def test_elementwise_intensity():
    assert elementwise_intensity(1) == pytest.approx(1 / 6, rel=REL)  # bf16 add
    assert elementwise_intensity(1, bytes_per_elem=4) == pytest.approx(1 / 12, rel=REL)  # fp32 add
    assert elementwise_intensity(5, reads=1, writes=1) == pytest.approx(5 / 4, rel=REL)
    assert elementwise_intensity(0) == 0.0


def _attention_reference(q, s, h, hkv, d):
    qa, o = np.empty((h, q, d), np.float16), np.empty((h, q, d), np.float16)
    k, v = np.empty((hkv, s, d), np.float16), np.empty((hkv, s, d), np.float16)
    return (2 * h * q * s * d + 2 * h * q * s * d) / (qa.nbytes + o.nbytes + k.nbytes + v.nbytes)


@pytest.mark.parametrize(
    ("q", "s", "h", "hkv", "d"), [(1, 8192, 32, 8, 128), (4096, 4096, 32, 8, 128), (7, 11, 4, 4, 16)]
)
def test_attention_intensity_matches_array_byte_count(q, s, h, hkv, d):
    got = attention_intensity(q, s, n_heads=h, n_kv_heads=hkv, head_dim=d)
    assert got == pytest.approx(_attention_reference(q, s, h, hkv, d), rel=REL)


def test_decode_attention_intensity_is_about_group_size():
    for h, hkv in [(32, 32), (32, 8), (64, 8)]:
        got = attention_intensity(1, 32768, n_heads=h, n_kv_heads=hkv, head_dim=128)
        assert got == pytest.approx(h / hkv, rel=0.01)


def test_bad_input():
    with pytest.raises(TypeError, match="gpu must be a GPUSpec"):
        ridge_point("H100")
    with pytest.raises(TypeError, match="gpu must be a GPUSpec"):
        attainable_flops(None, 1.0)
    with pytest.raises(ValueError, match="intensity must be >= 0"):
        attainable_flops(H100_SXM, [-1.0])
    with pytest.raises(ValueError, match="intensity must contain only finite"):
        attainable_flops(H100_SXM, [np.nan])
    with pytest.raises(TypeError, match="intensity must be array-like"):
        attainable_flops(H100_SXM, [[1.0], [1.0, 2.0]])
    with pytest.raises(ValueError, match="m must be >= 1"):
        matmul_intensity(0, 1, 1)
    with pytest.raises(TypeError, match="m must be an integer"):
        matmul_intensity(None, 1, 1)
    with pytest.raises(ValueError, match="bytes_per_elem must be > 0"):
        matmul_intensity(1, 1, 1, bytes_per_elem=0)
    with pytest.raises(TypeError, match="flops_per_elem must be a real number"):
        elementwise_intensity("1")
    with pytest.raises(ValueError, match="flops_per_elem must be >= 0"):
        elementwise_intensity(float("nan"))
    with pytest.raises(ValueError, match="reads \\+ writes must be >= 1"):
        elementwise_intensity(1, reads=0, writes=0)
    with pytest.raises(ValueError, match="must be a multiple of n_kv_heads"):
        attention_intensity(1, 1, n_heads=6, n_kv_heads=4, head_dim=8)
    with pytest.raises(TypeError, match="q_len must be an integer"):
        attention_intensity([1, [2]], 1, n_heads=1, n_kv_heads=1, head_dim=1)


def test_memory_hierarchy_records():
    from interviewlib.gpu.occupancy import GPU_ARCHS
    from interviewlib.gpu.roofline import MEMORY_HIERARCHIES

    kb, mb = 1024, 1024**2
    h = MEMORY_HIERARCHIES["H100 SXM"]
    assert h.levels() == {"registers": 132 * 256 * kb, "L1/shared": 132 * 256 * kb, "L2": 50 * mb, "HBM": 80 * 10**9}
    assert MEMORY_HIERARCHIES["A100 80GB SXM"].l1_shared_per_sm == 192 * kb
    # Consistent with the occupancy records (same SM counts and maximum shared-memory carveouts).
    for mem_name, arch_name in [("V100 SXM2", "V100"), ("A100 80GB SXM", "A100"), ("H100 SXM", "H100 SXM")]:
        mem, arch = MEMORY_HIERARCHIES[mem_name], GPU_ARCHS[arch_name]
        assert mem.sm_count == arch.sm_count
        assert mem.max_shared_per_sm == arch.compute_capability.max_shared_per_sm
        assert mem.registers_per_sm == arch.compute_capability.registers_per_sm * 4
        assert mem.max_shared_per_sm < mem.l1_shared_per_sm
        assert mem.levels()["L2"] < mem.levels()["HBM"]  # (V100's L1s together exceed its 6 MB L2)


def test_memory_hierarchy_validates():
    from interviewlib.gpu.roofline import MemoryHierarchy

    with pytest.raises(TypeError, match="spec must be a GPUSpec"):
        MemoryHierarchy("H100", 132, 1, 2, 1, 1)
    with pytest.raises(ValueError, match="max_shared_per_sm .* must be <= l1_shared_per_sm"):
        MemoryHierarchy(H100_SXM, 132, 1, 2, 3, 1)
