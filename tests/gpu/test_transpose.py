"""Tests for interviewlib.gpu.transpose: the executed address streams transpose correctly and cost
what the closed forms say (naive: R*C store sectors; tiled: R*C/8 each way; plain tile: 32-way reads).
"""

from __future__ import annotations

import numpy as np
import pytest

from interviewlib.gpu import LAYOUTS, transpose_traffic


@pytest.mark.parametrize(("kernel", "layout"), [("naive", "plain")] + [("tiled", lay) for lay in LAYOUTS])
def test_output_is_numpy_transpose(kernel, layout):
    A = np.random.default_rng(0).normal(size=(64, 96))
    t = transpose_traffic(A, kernel=kernel, smem_layout=layout)
    np.testing.assert_array_equal(t.out, A.T)  # exact: only moves, no arithmetic


def test_counts_closed_form():
    R, C = 96, 64
    A = np.zeros((R, C))
    warps = R * C // 32
    naive = transpose_traffic(A, kernel="naive")
    assert (naive.warp_requests, naive.load_sectors, naive.store_sectors) == (warps, R * C // 8, R * C)
    assert naive.smem_load_wavefronts == naive.smem_store_wavefronts == 0
    expected_load = {"plain": 32, "padded": 1, "swizzled": 1}
    for layout in LAYOUTS:
        t = transpose_traffic(A, kernel="tiled", smem_layout=layout)
        assert t.load_sectors == t.store_sectors == R * C // 8  # both global sides coalesced
        assert t.smem_store_degree == 1 and t.smem_store_wavefronts == warps
        assert t.smem_load_degree == expected_load[layout]
        assert t.smem_load_wavefronts == warps * expected_load[layout]


def test_bad_input():
    with pytest.raises(ValueError, match="multiples of 32"):
        transpose_traffic(np.zeros((32, 48)))
    with pytest.raises(ValueError, match="2-D"):
        transpose_traffic(np.zeros(64))
    with pytest.raises(ValueError, match="kernel"):
        transpose_traffic(np.zeros((32, 32)), kernel="fast")
    with pytest.raises(ValueError, match="smem_layout"):
        transpose_traffic(np.zeros((32, 32)), smem_layout="diagonal")
    with pytest.raises(TypeError, match="A"):
        transpose_traffic(None)
