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


# ---- sample weights -------------------------------------------------------------------------

CENTRE_TOL = 1e-9  # weighted means of O(10) data: summation order only


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("kind", ["integer", "float", "with_zeros"])
def test_weighted_matches_sklearn_from_same_init(seed, kind):
    X, _ = make_blobs(500, centers=4, n_features=3, cluster_std=2.0, random_state=seed)
    rng = np.random.default_rng(seed)
    w = {
        "integer": rng.integers(1, 6, size=len(X)).astype(float),
        "float": rng.gamma(2.0, size=len(X)),
        "with_zeros": rng.integers(0, 3, size=len(X)).astype(float),
    }[kind]
    C0 = X[rng.choice(len(X), 4, replace=False)]
    ours = KMeans(n_clusters=4, init=C0).fit(X, sample_weight=w)
    ref = SKKMeans(n_clusters=4, init=C0, n_init=1, algorithm="lloyd").fit(X, sample_weight=w)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_allclose(ours.inertia_, ref.inertia_, rtol=INERTIA_RTOL)
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=CENTRE_TOL, atol=CENTRE_TOL)
    assert ours.n_iter_ == ref.n_iter_
    # and the weighted objective really is sum_i w_i ||x_i - c(i)||^2
    np.testing.assert_allclose(ours.inertia_, w @ ((X - ours.cluster_centers_[ours.labels_]) ** 2).sum(1), rtol=1e-12)


def test_weighted_empty_cluster_relocation_matches_sklearn():
    X = np.r_[np.random.default_rng(1).normal(size=(50, 2)), [[100.0, 100.0]]]
    w = np.random.default_rng(2).uniform(0.5, 2.0, size=len(X))
    C0 = np.array([[0.0, 0.0], [0.1, 0.0], [500.0, 500.0]])  # the third centre starts empty
    ours = KMeans(n_clusters=3, init=C0).fit(X, sample_weight=w)
    ref = SKKMeans(n_clusters=3, init=C0, n_init=1, algorithm="lloyd").fit(X, sample_weight=w)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_allclose(ours.inertia_, ref.inertia_, rtol=INERTIA_RTOL)


def test_zero_weight_cluster_counts_as_empty_like_sklearn():
    # the points near (10, 10) have weight 0: their cluster has zero weight, is "empty" and is
    # re-seeded at the point farthest from its centre, exactly as in scikit-learn
    rng = np.random.default_rng(3)
    X = np.r_[rng.normal(size=(30, 2)), rng.normal(size=(5, 2)) + 10.0, [[-8.0, 0.0]]]
    w = np.r_[np.ones(30), np.zeros(5), 1.0]
    C0 = np.array([[0.0, 0.0], [10.0, 10.0]])
    ours = KMeans(n_clusters=2, init=C0).fit(X, sample_weight=w)
    ref = SKKMeans(n_clusters=2, init=C0, n_init=1, algorithm="lloyd").fit(X, sample_weight=w)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, atol=CENTRE_TOL)
    np.testing.assert_allclose(ours.inertia_, ref.inertia_, rtol=INERTIA_RTOL)


def test_hand_worked_weighted_mean():
    X = np.array([[0.0, 0.0], [0.0, 4.0], [10.0, 0.0]])
    km = KMeans(n_clusters=2, init=[[0.0, 1.0], [10.0, 0.0]]).fit(X, sample_weight=[3.0, 1.0, 2.0])
    np.testing.assert_allclose(km.cluster_centers_, [[0.0, 1.0], [10.0, 0.0]])  # (3*0 + 1*4) / 4 = 1
    assert km.inertia_ == pytest.approx(3 * 1.0 + 1 * 9.0)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 4))
def test_integer_weights_equal_repeated_rows(seed, k):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(30, 2))
    w = rng.integers(1, 4, size=30)
    C0 = X[rng.choice(30, k, replace=False)]
    a = KMeans(n_clusters=k, init=C0).fit(X, sample_weight=w)
    b = KMeans(n_clusters=k, init=C0).fit(np.repeat(X, w, axis=0))
    np.testing.assert_array_equal(a.labels_, b.labels_[np.cumsum(w) - w])  # first copy of each row
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, atol=1e-10)
    np.testing.assert_allclose(a.inertia_, b.inertia_, rtol=1e-10)
    # scaling every weight by c scales the inertia by c and changes nothing else
    c = KMeans(n_clusters=k, init=C0).fit(X, sample_weight=2.5 * w)
    np.testing.assert_array_equal(c.labels_, a.labels_)
    np.testing.assert_allclose(c.inertia_, 2.5 * a.inertia_, rtol=1e-10)


def test_seeding_never_picks_zero_weight_points():
    X = np.r_[np.full((20, 2), 50.0), np.random.default_rng(0).normal(size=(40, 2))]
    w = np.r_[np.zeros(20), np.ones(40)]  # the far-away group is weightless: D^2 sampling must still skip it
    for s in range(10):
        C = kmeans_plusplus(X, 3, sample_weight=w, rng=s)
        assert not np.any(np.all(C == 50.0, axis=1))
    # init="random" with exactly k points of positive weight must seed on those k points,
    # so each is its own centre and the weighted inertia is 0
    pos = np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]])
    Xr = np.r_[pos, np.random.default_rng(1).normal(size=(30, 2)) + 2.0]
    wr = np.r_[np.ones(3), np.zeros(30)]
    for s in range(10):
        km = KMeans(n_clusters=3, init="random", rng=s).fit(Xr, sample_weight=wr)
        assert km.inertia_ == 0.0
        assert {tuple(c) for c in km.cluster_centers_} == {tuple(p) for p in pos}


def test_unit_weights_change_nothing():
    X, _ = make_blobs(200, centers=3, random_state=0)
    a = KMeans(n_clusters=3, rng=0).fit(X)
    b = KMeans(n_clusters=3, init=a.cluster_centers_).fit(X, sample_weight=np.ones(len(X)))
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_allclose(a.inertia_, b.inertia_, rtol=1e-12)


def test_fit_follows_sklearn_signature_and_keeps_hyperparameters():
    X = np.random.default_rng(0).normal(size=(20, 2))
    init = X[:2].copy()
    km = KMeans(n_clusters=2, init=init)
    assert km.fit(X, None, np.ones(20)) is km
    assert km.init is init and km.n_clusters == 2
    np.testing.assert_array_equal(init, X[:2])
    np.testing.assert_array_equal(km.fit_predict(X, sample_weight=np.ones(20)), km.labels_)


def test_bad_sample_weight_and_sparse_input():
    from scipy import sparse

    X = np.random.default_rng(0).normal(size=(6, 2))
    km = KMeans(n_clusters=2, rng=0)
    with pytest.raises(ValueError, match="sample_weight must be non-negative"):
        km.fit(X, sample_weight=[1, 1, 1, 1, 1, -1])
    with pytest.raises(ValueError, match="sample_weight must contain only finite"):
        km.fit(X, sample_weight=[1, 1, 1, 1, 1, np.nan])
    with pytest.raises(ValueError, match=r"one entry per sample, shape \(6,\); got shape \(5,\)"):
        km.fit(X, sample_weight=np.ones(5))
    with pytest.raises(ValueError, match="sample_weight must be 1-D"):
        km.fit(X, sample_weight=np.ones((6, 1)))
    with pytest.raises(ValueError, match="positive sum"):
        km.fit(X, sample_weight=np.zeros(6))
    with pytest.raises(ValueError, match='init="random" needs at least n_clusters=2'):
        KMeans(n_clusters=2, init="random").fit(X, sample_weight=[0, 0, 0, 0, 0, 1])
    with pytest.raises(ValueError, match="sample_weight must be non-negative"):
        kmeans_plusplus(X, 2, sample_weight=-np.ones(6))
    Xs = sparse.csr_matrix(X)
    with pytest.raises(TypeError, match=r"X must be a dense array_like .* got a scipy.sparse csr matrix .*X.toarray\(\)"):
        km.fit(Xs)
    with pytest.raises(TypeError, match="scipy.sparse"):
        KMeans(n_clusters=2, rng=0).fit(X).predict(Xs)
    with pytest.raises(TypeError, match="scipy.sparse"):
        kmeans_plusplus(Xs, 2)
    with pytest.raises(TypeError, match="sample_weight must be a dense"):
        km.fit(X, sample_weight=sparse.csr_matrix(np.ones((1, 6))))
