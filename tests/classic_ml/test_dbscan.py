import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import pdist, squareform
from sklearn.cluster import DBSCAN as SKDBSCAN
from sklearn.datasets import make_blobs, make_moons

from interviewlib.classic_ml import DBSCAN, eps_neighbour_pairs, k_distance


def _datasets():
    rng = np.random.default_rng(0)
    # integer grids: many pairs at exactly eps (distance 1 or 2), the tie case
    grid = rng.choice(12, size=(60, 2)).astype(float) * 2.0
    grid_ties = np.array([[0, 0], [1, 0], [2, 0], [3, 0], [10, 0], [11, 0], [12, 0], [5, 0], [20, 20]], float)
    return [
        (make_moons(300, noise=0.08, random_state=0)[0], 0.15, 5),
        (make_blobs(400, centers=4, cluster_std=[0.3, 0.6, 1.0, 1.5], random_state=1)[0], 0.5, 8),
        (grid, 2.0, 3),
        (grid_ties, 1.0, 3),
        (rng.normal(size=(200, 5)), 1.2, 6),
    ]


@pytest.mark.parametrize(("X", "eps", "m"), _datasets())
def test_matches_sklearn(X, eps, m):
    ours = DBSCAN(eps=eps, min_samples=m).fit(X)
    ref = SKDBSCAN(eps=eps, min_samples=m).fit(X)
    np.testing.assert_array_equal(ours.core_sample_indices_, ref.core_sample_indices_)
    np.testing.assert_array_equal(ours.labels_ == -1, ref.labels_ == -1)
    # labels equal up to relabelling: a bijection between the two label sets
    pairs = {(a, b) for a, b in zip(ours.labels_, ref.labels_)}
    assert len(pairs) == len(set(ours.labels_)) == len(set(ref.labels_))
    # and in fact identical numbering (clusters in order of their first core point)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)


def test_hand_worked_core_border_noise():
    # points on a line: 0,1,2 dense; 3.0 is border (within 1 of core 2); 10 is noise
    X = np.array([[0.0], [1.0], [2.0], [3.0], [10.0]])
    db = DBSCAN(eps=1.0, min_samples=3).fit(X)  # neighbourhood is inclusive and counts the point
    np.testing.assert_array_equal(db.core_sample_indices_, [1, 2])
    np.testing.assert_array_equal(db.labels_, [0, 0, 0, 0, -1])


def test_pairs_and_k_distance_vs_brute_force():
    rng = np.random.default_rng(2)
    X = rng.integers(0, 5, size=(40, 2)).astype(float)
    D = squareform(pdist(X))
    i, j = np.nonzero(np.triu(D <= 1.0, k=1))
    got = eps_neighbour_pairs(X, 1.0)
    assert {tuple(p) for p in got} == set(zip(i.tolist(), j.tolist()))
    np.testing.assert_allclose(k_distance(X, 4), np.sort(D, axis=1)[:, 3])


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.2, 2.0), st.integers(1, 6))
def test_properties(seed, eps, m):
    X = np.random.default_rng(seed).normal(size=(60, 2))
    db = DBSCAN(eps=eps, min_samples=m).fit(X)
    D = squareform(pdist(X))
    core = (D <= eps).sum(1) >= m
    np.testing.assert_array_equal(np.flatnonzero(core), db.core_sample_indices_)
    # every core point is clustered; noise points have no core neighbour
    assert np.all(db.labels_[core] >= 0)
    noise = db.labels_ == -1
    assert not np.any(D[np.ix_(noise, core)] <= eps)


def test_no_core_points_all_noise_and_no_mutation():
    X = np.array([[0.0, 0.0], [5.0, 5.0]])
    X0 = X.copy()
    db = DBSCAN(eps=1.0, min_samples=2).fit(X)
    np.testing.assert_array_equal(db.labels_, [-1, -1])
    assert db.components_.shape == (0, 2)
    np.testing.assert_array_equal(X, X0)


def test_bad_input():
    X = np.zeros((3, 2))
    with pytest.raises(ValueError, match="eps must be > 0"):
        DBSCAN(eps=0.0).fit(X)
    with pytest.raises(ValueError, match="min_samples must be >= 1"):
        DBSCAN(min_samples=0).fit(X)
    with pytest.raises(ValueError, match="X must be 2-D"):
        DBSCAN().fit(np.zeros(3))
    with pytest.raises(ValueError, match="finite"):
        DBSCAN().fit([[np.inf, 0.0]])
    with pytest.raises(ValueError, match="k must be <= 3"):
        k_distance(X, 4)
