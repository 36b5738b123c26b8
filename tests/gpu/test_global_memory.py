"""Tests for interviewlib.gpu.global_memory: sectors and lines vs a set reference and NVIDIA's worked cases.

Worked cases: CUDA C++ Best Practices Guide, "Coalesced Access to Global Memory" (CC 6.0+, 4-byte
words): sequential aligned = four 32-byte sectors; sequential misaligned = five; offsets that are
multiples of 8 words = four; stride 2 = eight sectors and 50 % efficiency; large strides = 32 sectors.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewlib.gpu import coalescing, warp_addresses

LANES = np.arange(32)


def _reference(addresses, access_bytes, active=None):
    lanes = [a for i, a in enumerate(addresses) if active is None or active[i]]
    used = {a + k for a in lanes for k in range(access_bytes)}
    sectors = {b // 32 for b in used}
    lines = {b // 128 for b in used}
    return len(sectors), len(lines), len(used)


def test_best_practices_simple_and_misaligned():
    r = coalescing(warp_addresses(1))
    assert (int(r.sectors), int(r.lines), float(r.efficiency)) == (4, 1, 1.0)
    for offset in range(1, 33):
        expected = 4 if offset % 8 == 0 else 5  # "offsets that are multiples of 8 words result in four"
        assert int(coalescing(warp_addresses(1, offset=offset)).sectors) == expected
    # "if accesses by the threads of the warp had been permuted ... still only four 32-byte transactions"
    assert int(coalescing(np.random.default_rng(1).permutation(warp_addresses(1))).sectors) == 4
    # "not all threads need to participate": a subset still fetches whole sectors
    r = coalescing(warp_addresses(1), active=LANES % 2 == 0)
    assert int(r.sectors) == 4 and float(r.efficiency) == 0.5


def test_best_practices_strided():
    r = coalescing(warp_addresses(2))
    assert int(r.sectors) == 8 and float(r.efficiency) == 0.5  # "eight L2 cache segments", "50% efficiency"
    assert int(coalescing(warp_addresses(8)).sectors) == 32  # every lane in its own sector from stride 8 on
    r = coalescing(warp_addresses(32))
    assert (int(r.sectors), int(r.lines), float(r.efficiency)) == (32, 32, 0.125)


def test_broadcast_and_aos_vs_soa():
    r = coalescing(np.zeros(32, dtype=int))  # all lanes read one float: one sector, 4 of its 32 bytes used
    assert (int(r.sectors), float(r.efficiency)) == (1, 0.125)
    n_fields, n = 3, 1024
    aos = coalescing(warp_addresses(n_fields, offset=1))  # p[lane].y of struct {float x, y, z}
    soa = coalescing(warp_addresses(1, offset=1 * n))  # y[lane]
    assert int(aos.sectors) == 12 and int(soa.sectors) == 4


def test_vector_widths_move_the_same_sectors_per_byte():
    for width in (4, 8, 16):
        r = coalescing(width * LANES, access_bytes=width)
        assert int(r.sectors) == width and int(r.lines) == width // 4 and float(r.efficiency) == 1.0


@pytest.mark.parametrize("access_bytes", [1, 2, 4, 8, 16])
def test_matches_set_reference(access_bytes):
    rng = np.random.default_rng(access_bytes)
    addr = access_bytes * rng.integers(0, 200, size=(30, 32))
    active = rng.random((30, 32)) < 0.7
    r = coalescing(addr, access_bytes=access_bytes, active=active)
    ref = np.array([_reference(a, access_bytes, m) for a, m in zip(addr.tolist(), active)])
    np.testing.assert_array_equal(r.sectors, ref[:, 0])
    np.testing.assert_array_equal(r.lines, ref[:, 1])
    np.testing.assert_array_equal(r.bytes_used, ref[:, 2])


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 10_000), min_size=32, max_size=32), st.sampled_from([1, 2, 4, 8, 16]))
def test_sector_bounds(elems, access_bytes):
    r = coalescing(access_bytes * np.array(elems), access_bytes=access_bytes)
    sectors, lines = int(r.sectors), int(r.lines)
    assert sectors >= -(-int(r.bytes_used) // 32)  # sectors >= ceil(bytes / 32)
    assert lines <= sectors <= min(32, 4 * lines)
    assert 0 < float(r.efficiency) <= 1.0


def test_bad_input():
    with pytest.raises(ValueError, match="32 lanes"):
        coalescing(np.arange(31))
    with pytest.raises(ValueError, match="non-negative"):
        coalescing(LANES - 1)
    with pytest.raises(ValueError, match="aligned to access_bytes=16"):
        coalescing(16 * LANES + 8, access_bytes=16)
    with pytest.raises(TypeError, match="addresses"):
        coalescing(None)
    with pytest.raises(TypeError, match="addresses"):
        coalescing(float("nan"))
    with pytest.raises(ValueError, match="active"):
        coalescing(4 * LANES, active=np.ones(16, dtype=bool))
    with pytest.raises(ValueError, match="stride"):
        warp_addresses(-1)
    with pytest.raises(TypeError, match="stride"):
        warp_addresses(None)
