"""Reciprocal rank fusion vs a brute-force sum over the lists, tie order, recall@k by hand, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewlib.agents import recall_at_k, reciprocal_rank_fusion


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.floats(1.0, 100.0))
def test_rrf_equals_brute_force(seed, k):
    rng = np.random.default_rng(seed)
    rankings = [rng.permutation(8)[: rng.integers(1, 9)].tolist() for _ in range(rng.integers(1, 4))]
    ids, scores = reciprocal_rank_fusion(rankings, k=k)
    for i, s in zip(ids.tolist(), scores):
        expect = sum(1.0 / (k + r.index(i) + 1) for r in rankings if i in r)
        assert s == pytest.approx(expect, rel=1e-12)
    assert set(ids.tolist()) == set().union(*map(set, rankings))
    assert np.all(np.diff(scores) <= 0)


def test_rrf_tie_smaller_id_first():
    ids, scores = reciprocal_rank_fusion([[5, 2], [2, 5]])
    assert ids.tolist() == [2, 5] and scores[0] == scores[1]


def test_recall_at_k():
    assert recall_at_k([[1, 2, 3], [3, 2, 1]], [3, 3], k=1) == 0.5
    assert recall_at_k([[1, 2, 3], [3, 2, 1]], [3, 3], k=3) == 1.0


def test_bad_arguments():
    with pytest.raises(TypeError, match="rankings"):
        reciprocal_rank_fusion(None)
    with pytest.raises(ValueError, match="repeats"):
        reciprocal_rank_fusion([[1, 1]])
    with pytest.raises(TypeError, match=r"rankings\[0\]"):
        reciprocal_rank_fusion([[1.5]])
    with pytest.raises(ValueError, match="relevant"):
        recall_at_k([[1]], [1, 2], k=1)
    with pytest.raises(TypeError, match=r"rankings\[0\]"):
        recall_at_k([[1.0, 2.0], [3.0]], [1, 2], k=1)
    with pytest.raises(ValueError, match="k"):
        reciprocal_rank_fusion([[1]], k=0)
