import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import KMeans as SKKMeans
from sklearn.datasets import make_blobs

from interviewlib.classic_ml import KMeans, kmeans_plusplus, squared_distances

INERTIA_RTOL = 1e-9  # issue's requirement: same run up to floating-point summation order
DIST_ATOL = 1e-9  # ||x||^2 - 2x.c + ||c||^2 cancels; data are O(10)


@pytest.mark.parametrize("seed", range(4))
def test_same_labels_and_inertia_as_sklearn_from_same_init(seed):
    X, _ = make_blobs(600, centers=5, n_features=4, cluster_std=2.0, random_state=seed)
    C0 = X[np.random.default_rng(seed).choice(len(X), 5, replace=False)]
    ours = KMeans(n_clusters=5, init=C0).fit(X)
    ref = SKKMeans(n_clusters=5, init=C0, n_init=1, algorithm="lloyd").fit(X)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_allclose(ours.inertia_, ref.inertia_, rtol=INERTIA_RTOL)
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-9, atol=1e-9)
    assert ours.n_iter_ == ref.n_iter_


def test_empty_cluster_relocation_matches_sklearn():
    X = np.r_[np.random.default_rng(1).normal(size=(50, 2)), [[100.0, 100.0]]]
    C0 = np.array([[0.0, 0.0], [0.1, 0.0], [500.0, 500.0], [600.0, 600.0]])  # two centres start empty
    ours = KMeans(n_clusters=4, init=C0).fit(X)
    ref = SKKMeans(n_clusters=4, init=C0, n_init=1, algorithm="lloyd").fit(X)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_allclose(ours.inertia_, ref.inertia_, rtol=INERTIA_RTOL)
    assert np.bincount(ours.labels_, minlength=4).min() > 0


def test_hand_worked_two_clusters():
    X = np.array([[0.0, 0.0], [0.0, 2.0], [10.0, 0.0], [10.0, 2.0]])
    km = KMeans(n_clusters=2, init=[[1.0, 1.0], [9.0, 1.0]]).fit(X)
    np.testing.assert_allclose(km.cluster_centers_, [[0.0, 1.0], [10.0, 1.0]])
    assert km.inertia_ == pytest.approx(4.0)  # four points at distance 1
    np.testing.assert_array_equal(km.predict([[1.0, 1.0], [8.0, 0.0]]), [0, 1])


def test_squared_distances_vs_scipy():
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(0)
    X, C = rng.normal(size=(30, 3)) * 5, rng.normal(size=(4, 3)) * 5
    np.testing.assert_allclose(squared_distances(X, C), cdist(X, C, "sqeuclidean"), atol=DIST_ATOL)


def test_kmeans_plusplus_picks_data_points_and_spreads():
    X = np.r_[np.zeros((50, 2)), np.full((50, 2), 100.0), np.full((1, 2), -100.0)]
    C = kmeans_plusplus(X, 3, rng=0)
    # every centre is a data row, and the D^2 weighting reaches all three far-apart groups
    assert {tuple(c) for c in C} == {(0.0, 0.0), (100.0, 100.0), (-100.0, -100.0)}


def test_kmeanspp_beats_random_init_on_average():
    X, _ = make_blobs(400, centers=10, cluster_std=0.5, random_state=3)
    pp = [KMeans(n_clusters=10, init="k-means++", rng=s).fit(X).inertia_ for s in range(8)]
    rnd = [KMeans(n_clusters=10, init="random", rng=s).fit(X).inertia_ for s in range(8)]
    assert np.mean(pp) < np.mean(rnd)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 5))
def test_lloyd_is_local_optimum(seed, k):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(40, 2))
    km = KMeans(n_clusters=k, rng=seed, tol=0.0).fit(X)
    # converged: labels are nearest centres, centres are their cluster means
    np.testing.assert_array_equal(km.predict(X), km.labels_)
    for j in range(k):
        if np.any(km.labels_ == j):
            np.testing.assert_allclose(km.cluster_centers_[j], X[km.labels_ == j].mean(0), atol=1e-10)
    np.testing.assert_allclose(km.inertia_, ((X - km.cluster_centers_[km.labels_]) ** 2).sum(), rtol=1e-10)


def test_input_not_mutated_and_constant_data():
    X = np.ones((5, 2))
    X0 = X.copy()
    km = KMeans(n_clusters=2, rng=0).fit(X)
    np.testing.assert_array_equal(X, X0)
    assert km.inertia_ == 0.0


def test_bad_input():
    X = np.zeros((3, 2))
    with pytest.raises(ValueError, match="n_clusters must be <= n_samples"):
        KMeans(n_clusters=4).fit(X)
    with pytest.raises(ValueError, match="X must be 2-D"):
        KMeans(n_clusters=1).fit(np.zeros(3))
    with pytest.raises(ValueError, match="finite"):
        KMeans(n_clusters=1).fit([[np.nan, 0.0]])
    with pytest.raises(ValueError, match="init must have shape"):
        KMeans(n_clusters=2, init=np.zeros((3, 2))).fit(X)
    with pytest.raises(ValueError, match="init must be one of"):
        KMeans(n_clusters=2, init="best").fit(X)
    with pytest.raises(ValueError, match="not fitted"):
        KMeans().predict(X)
    with pytest.raises(ValueError, match="X must have 2 features"):
        KMeans(n_clusters=1).fit(X).predict(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="same number of columns"):
        squared_distances(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="n_clusters must be <="):
        kmeans_plusplus(X, 4)
