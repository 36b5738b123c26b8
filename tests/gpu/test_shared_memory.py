"""Tests for interviewlib.gpu.shared_memory: the bank simulator vs a loop reference and NVIDIA's examples.

Hand-worked cases come from NVIDIA's documentation: CUDA C++ Programming Guide (12.x), Compute
Capability 5.x "Shared Memory", Figures 39 and 40; CUDA C++ Best Practices Guide, "Shared Memory in
Matrix Multiplication (C=AA^T)"; CUDA C Programming Guide 4.x, Appendix F.4.3 (64-bit accesses).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewlib.gpu import bank_of, shared_access, tile_offsets

LANES = np.arange(32)


def _reference(addresses, access_bytes=4, active=None):
    """Plain-Python model: phases of lanes, per phase a dict bank -> set of words."""
    n_words = max(access_bytes // 4, 1)
    per_phase = 32 // n_words
    degrees = []
    for p in range(n_words):
        banks: dict[int, set[int]] = {}
        for lane in range(p * per_phase, (p + 1) * per_phase):
            if active is not None and not active[lane]:
                continue
            for k in range(n_words):
                word = int(addresses[lane]) // 4 + k
                banks.setdefault(word % 32, set()).add(word)
        degrees.append(max((len(s) for s in banks.values()), default=0))
    return max(degrees), sum(degrees)


def _degree(addr, **kw):
    return int(shared_access(np.asarray(addr), **kw).degree)


# --- NVIDIA's documented examples -------------------------------------------------------------


def test_programming_guide_figure_39_strided_words():
    assert _degree(4 * LANES) == 1  # stride of one 32-bit word: no bank conflict
    assert _degree(8 * LANES) == 2  # stride of two words: two-way bank conflict
    assert _degree(12 * LANES) == 1  # stride of three words: no bank conflict


def test_programming_guide_figure_40_irregular_and_broadcast():
    rng = np.random.default_rng(0)
    assert _degree(4 * rng.permutation(32)) == 1  # conflict-free access via random permutation
    addr = 4 * LANES.copy()
    addr[[3, 4, 6, 7, 9]] = 4 * 5  # threads 3, 4, 6, 7 and 9 access the same word within bank 5
    addr[5] = 4 * 3  # thread 5 takes the free bank 3: every other bank still serves one word
    assert _degree(addr) == 1
    assert _degree(np.full(32, 4 * 17)) == 1  # broadcast: all threads read one word


def test_byte_access_within_one_word_is_not_a_conflict():
    # CC 5.x: "does not generate a bank conflict between two threads that access any address within the same 32-bit word"
    assert _degree(LANES, access_bytes=1) == 1  # char c[lane]: 4 lanes per word, 8 words, 8 banks
    assert _degree(2 * LANES, access_bytes=2) == 1


def test_best_practices_column_write_and_padding():
    # transposedTile[threadIdx.x][threadIdx.y] with w x w tiles: stride of w banks, every thread hits one bank
    plain, padded = tile_offsets("plain"), tile_offsets("padded")
    assert _degree(plain[LANES, 0]) == 32
    assert _degree(padded[LANES, 0]) == 1  # stride w + 1 = 33 words is a unit stride modulo 32
    assert _degree(tile_offsets("swizzled")[LANES, 7]) == 1


def test_64bit_accesses_conflict_only_within_a_half_warp():
    # CC 2.x guide: no bank conflicts for double data[BaseIndex + tid]; 64-bit accesses go by half-warp
    r = shared_access(8 * LANES, access_bytes=8)
    assert (int(r.degree), int(r.wavefronts), r.phases) == (1, 2, 2)
    # lanes 0 and 16 hit the same banks with different words, but they are in different half-warps
    addr = 8 * (LANES % 16) + 256 * (LANES // 16)
    assert _degree(addr, access_bytes=8) == 1
    # inside one half-warp: lane 1 reads the 8 bytes 128 bytes after lane 0's, same two banks, two-way
    addr = 8 * LANES.copy()
    addr[1] = 128
    assert _degree(addr, access_bytes=8) == 2


def test_128bit_accesses_quarter_warp_phases():
    r = shared_access(16 * LANES, access_bytes=16)  # float4 s[lane]
    assert (int(r.degree), int(r.wavefronts), r.phases) == (1, 4, 4)
    r = shared_access(32 * LANES, access_bytes=16)  # float4 with a stride of 2 float4: 8 lanes on 256 bytes
    assert (int(r.degree), int(r.wavefronts)) == (2, 8)


def test_bank_of_mapping():
    assert bank_of([0, 3, 4, 127, 128, 4 * 33]).tolist() == [0, 0, 1, 31, 0, 1]
    banks = bank_of(tile_offsets("swizzled"))
    assert all(sorted(banks[r]) == list(range(32)) for r in range(32))  # rows are permutations
    assert all(sorted(banks[:, c]) == list(range(32)) for c in range(32))  # and so are columns


# --- against the loop reference ----------------------------------------------------------------


@pytest.mark.parametrize("access_bytes", [1, 2, 4, 8, 16])
def test_matches_loop_reference_on_random_requests(access_bytes):
    rng = np.random.default_rng(access_bytes)
    addr = access_bytes * rng.integers(0, 96, size=(40, 32))  # a small region: many conflicts and repeats
    active = rng.random((40, 32)) < 0.8
    r = shared_access(addr, access_bytes=access_bytes, active=active)
    ref = np.array([_reference(a, access_bytes, m) for a, m in zip(addr, active)])
    np.testing.assert_array_equal(r.degree, ref[:, 0])
    np.testing.assert_array_equal(r.wavefronts, ref[:, 1])


# --- properties ----------------------------------------------------------------------------------

words_strategy = st.lists(st.integers(0, 4095), min_size=32, max_size=32)


@settings(max_examples=25, deadline=None)
@given(words_strategy, st.randoms(use_true_random=False))
def test_permuting_lanes_never_changes_the_degree(words, rnd):
    addr = 4 * np.array(words)
    perm = list(range(32))
    rnd.shuffle(perm)
    assert _degree(addr) == _degree(addr[perm])


@settings(max_examples=25, deadline=None)
@given(words_strategy)
def test_degree_bounds(words):
    addr = 4 * np.array(words)
    d = _degree(addr)
    n_distinct = len(set(words))
    assert -(-n_distinct // 32) <= d <= n_distinct
    assert _degree(np.full(32, addr[0])) == 1


def test_inactive_lanes_and_batches():
    addr = np.stack([4 * 32 * LANES, 4 * LANES])  # (2, 32): a column and a row
    r = shared_access(addr)
    assert r.degree.tolist() == [32, 1]
    only_two = np.zeros(32, dtype=bool)
    only_two[:2] = True
    assert _degree(4 * 32 * LANES, active=only_two) == 2
    assert _degree(4 * LANES, active=np.zeros(32, dtype=bool)) == 0


# --- bad input -----------------------------------------------------------------------------------


def test_bad_input():
    with pytest.raises(ValueError, match="32 lanes"):
        shared_access(4 * np.arange(16))
    with pytest.raises(ValueError, match="non-negative"):
        shared_access(4 * LANES - 8)
    with pytest.raises(ValueError, match="aligned to access_bytes=16"):
        shared_access(16 * LANES + 4, access_bytes=16)
    with pytest.raises(ValueError, match="access_bytes must be one of"):
        shared_access(4 * LANES, access_bytes=12)
    with pytest.raises(TypeError, match="integer byte addresses"):
        shared_access(4.0 * LANES)
    with pytest.raises(TypeError, match="addresses"):
        shared_access(None)
    with pytest.raises(TypeError, match="addresses"):
        shared_access([[1, 2], [3]])
    with pytest.raises(TypeError, match="active"):
        shared_access(4 * LANES, active=np.ones(32))
    with pytest.raises(ValueError, match="non-negative"):
        bank_of([-4])
    with pytest.raises(TypeError, match="addresses"):
        bank_of("not valid")
