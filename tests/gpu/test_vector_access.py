"""Tests for interviewlib.gpu.vector_access: copy instruction counts, alignment, half2 packing and HFMA2.

References: closed-form counts; Python's ``struct`` module for the half2 bit layout; an exact
rational (``fractions.Fraction``) computation of a*b+c rounded to the nearest float16 (ties to even)
for the fused multiply-add.
"""

from __future__ import annotations

import struct
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewlib.gpu import hfma2, pack_half2, unpack_half2, vector_copy_cost


@pytest.mark.parametrize("n", [0, 1, 31, 32, 4096, 4099, 10_000])
@pytest.mark.parametrize("width", [1, 2, 4])
def test_copy_counts_closed_form(n, width):
    c = vector_copy_cost(n, width=width)
    vec, tail = n // width, n % width
    assert c.thread_accesses == vec + tail
    assert c.warp_instructions == 2 * (-(-vec // 32) + -(-tail // 32))
    # contiguous and 256-byte aligned: sectors are the bytes over 32, rounded up (body and tail apart)
    body, rest = 4 * width * vec, 4 * tail
    assert c.sectors == 2 * (-(-body // 32) + (-(-(body + rest) // 32) - body // 32 if rest else 0))
    if n:
        assert c.bytes_per_instruction == pytest.approx(8 * n / c.warp_instructions)


def test_wider_accesses_fewer_instructions_same_sectors():
    costs = [vector_copy_cost(1 << 14, width=w) for w in (1, 2, 4)]
    assert [c.warp_instructions for c in costs] == [1024, 512, 256]
    assert len({c.sectors for c in costs}) == 1
    assert [c.bytes_per_instruction for c in costs] == [128.0, 256.0, 512.0]


def test_misaligned_vector_access_raises_and_scalar_is_fine():
    with pytest.raises(ValueError, match="misaligned"):
        vector_copy_cost(1024, width=4, offset_bytes=4)
    with pytest.raises(ValueError, match="misaligned"):
        vector_copy_cost(1024, width=2, offset_bytes=12)
    # 16-byte aligned but not 32: each warp's 512 bytes start mid-sector and touch 17 sectors, not 16
    assert vector_copy_cost(1024, width=4, offset_bytes=16).sectors == 2 * (1024 // 128) * 17
    assert vector_copy_cost(1024, width=1, offset_bytes=4).warp_instructions == 64


def test_bad_input():
    with pytest.raises(TypeError, match="n must be an integer"):
        vector_copy_cost(None)
    with pytest.raises(TypeError, match="n must be an integer"):
        vector_copy_cost(float("nan"))
    with pytest.raises(ValueError, match="n must be >= 0"):
        vector_copy_cost(-1)
    with pytest.raises(ValueError, match="width must be 1, 2 or 4"):
        vector_copy_cost(8, width=3)
    with pytest.raises(TypeError, match="lo"):
        pack_half2("not valid", [1.0])
    with pytest.raises(ValueError, match="same shape"):
        pack_half2([1.0, 2.0], [1.0])
    with pytest.raises(TypeError, match="packed"):
        unpack_half2(np.zeros(3, dtype=np.float32))
    with pytest.raises(TypeError, match="a must be"):
        hfma2(None, np.zeros(1, np.uint32), np.zeros(1, np.uint32))
    with pytest.raises(ValueError, match="same shape"):
        hfma2(np.zeros(2, np.uint32), np.zeros(1, np.uint32), np.zeros(1, np.uint32))


def test_pack_layout_matches_struct():
    rng = np.random.default_rng(0)
    lo, hi = rng.normal(size=50).astype(np.float16), rng.normal(size=50).astype(np.float16)
    packed = pack_half2(lo, hi)
    ref = [struct.unpack("<I", struct.pack("<ee", float(a), float(b)))[0] for a, b in zip(lo, hi)]
    assert packed.dtype == np.uint32 and packed.tolist() == ref
    x, y = unpack_half2(packed)
    np.testing.assert_array_equal(x, lo)
    np.testing.assert_array_equal(y, hi)
    # a float32 buffer viewed as float4 rows is a reshape of the same memory, no copy
    buf = np.arange(16, dtype=np.float32)
    f4 = buf.reshape(-1, 4)
    assert np.shares_memory(buf, f4) and f4[1].tolist() == [4.0, 5.0, 6.0, 7.0]


def _nearest_half(q: Fraction) -> np.float16:
    """Round an exact rational to float16, ties to even, by comparing the neighbours exactly."""
    f = np.float16(float(q))
    cands = {f, np.nextafter(f, np.float16(np.inf)), np.nextafter(f, np.float16(-np.inf))}
    cands = [c for c in cands if np.isfinite(c)]
    dist = [abs(Fraction(float(c)) - q) for c in cands]
    best = min(dist)
    ties = [c for c, d in zip(cands, dist) if d == best]
    return min(ties, key=lambda c: int(np.array(c).view(np.uint16)) & 1)


halves = st.floats(-60.0, 60.0, width=16)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(halves, halves, halves), min_size=2, max_size=2))
def test_hfma2_is_the_fused_rounded_result(triples):
    (a0, b0, c0), (a1, b1, c1) = triples
    r = hfma2(pack_half2([a0], [a1]), pack_half2([b0], [b1]), pack_half2([c0], [c1]))
    x, y = unpack_half2(r)
    for got, (a, b, c) in zip((x[0], y[0]), triples):
        assert got == _nearest_half(Fraction(a) * Fraction(b) + Fraction(c))


def test_hfma2_differs_from_rounding_twice():
    rng = np.random.default_rng(3)
    a, b, c = (rng.uniform(-4, 4, size=4000).astype(np.float16) for _ in range(3))
    fused, _ = unpack_half2(hfma2(pack_half2(a, a), pack_half2(b, b), pack_half2(c, c)))
    twice = (a * b) + c  # float16 multiply rounds, then the add rounds again
    ref = np.array([_nearest_half(Fraction(float(p)) * Fraction(float(q)) + Fraction(float(s))) for p, q, s in zip(a[:300], b[:300], c[:300])])
    np.testing.assert_array_equal(fused[:300], ref)
    assert np.any(fused != twice)  # one rounding vs two: some results differ in the last bit
