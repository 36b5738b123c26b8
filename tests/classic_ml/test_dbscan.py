import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
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


# ---- sample weights, precomputed distances, sparse input -----------------------------------


def _sparse_blobs(seed=0, n=240, d=40):
    """Bag-of-words-like data: each of 3 groups uses its own 8 of the d features (CSR)."""
    rng = np.random.default_rng(seed)
    g = rng.integers(0, 3, size=n)
    X = np.zeros((n, d))
    for c in range(3):  # loop over groups, not points
        rows = np.flatnonzero(g == c)
        cols = np.arange(8 * c, 8 * c + 8)
        X[np.ix_(rows, cols)] = 3.0 + rng.normal(scale=0.4, size=(rows.size, 8))
    X[rng.random(X.shape) < 0.25] = 0.0  # each row keeps about 6 of its 8 features
    X[rng.integers(0, n, 10)] = rng.uniform(0, 6, size=(10, d)) * (rng.random((10, d)) < 0.2)  # noise rows
    return sparse.csr_matrix(X)


@pytest.mark.parametrize(("X", "eps", "m"), _datasets())
@pytest.mark.parametrize("kind", ["integer", "dyadic", "with_zeros"])
def test_weighted_matches_sklearn(X, eps, m, kind):
    rng = np.random.default_rng(len(X))
    # dyadic fractions (k/4) add exactly in any order, so the >= min_samples tests cannot differ by round-off
    w = {
        "integer": rng.integers(1, 4, size=len(X)),
        "dyadic": rng.integers(1, 12, size=len(X)) / 4.0,
        "with_zeros": rng.integers(0, 3, size=len(X)),
    }[kind].astype(float)
    w[0] = m  # a point whose own weight reaches min_samples is core even when isolated
    ours = DBSCAN(eps=eps, min_samples=m).fit(X, sample_weight=w)
    ref = SKDBSCAN(eps=eps, min_samples=m).fit(X, sample_weight=w)
    np.testing.assert_array_equal(ours.core_sample_indices_, ref.core_sample_indices_)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    assert 0 in ours.core_sample_indices_


def test_hand_worked_weights():
    X = np.array([[0.0], [1.0], [2.0], [10.0], [20.0]])
    # point 1 sees weights 1 + 0 + 2 = 3 >= 3: core; point 2 sees 0 + 2 = 2: border; 10 has weight 3: core alone
    db = DBSCAN(eps=1.0, min_samples=3).fit(X, sample_weight=[1.0, 0.0, 2.0, 3.0, 1.0])
    np.testing.assert_array_equal(db.core_sample_indices_, [1, 3])
    np.testing.assert_array_equal(db.labels_, [0, 0, 0, 1, -1])


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.2, 1.5), st.integers(1, 8))
def test_integer_weights_equal_repeated_points(seed, eps, m):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(50, 2))
    w = rng.integers(1, 4, size=50)
    a = DBSCAN(eps=eps, min_samples=m).fit(X, sample_weight=w)
    b = DBSCAN(eps=eps, min_samples=m).fit(np.repeat(X, w, axis=0))
    first = np.cumsum(w) - w  # index of the first copy of each point; copies keep the order
    np.testing.assert_array_equal(a.labels_, b.labels_[first])


@pytest.mark.parametrize(("X", "eps", "m"), _datasets())
def test_precomputed_dense_matches_sklearn_and_features(X, eps, m):
    D = squareform(pdist(X))
    ours = DBSCAN(eps=eps, min_samples=m, metric="precomputed").fit(D)
    ref = SKDBSCAN(eps=eps, min_samples=m, metric="precomputed").fit(D)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_array_equal(ours.core_sample_indices_, ref.core_sample_indices_)
    np.testing.assert_array_equal(ours.components_, ref.components_)  # rows of D
    np.testing.assert_array_equal(ours.labels_, DBSCAN(eps=eps, min_samples=m).fit(X).labels_)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "lil"])
def test_precomputed_sparse_graph_matches_sklearn(fmt):
    from sklearn.neighbors import radius_neighbors_graph

    X = make_moons(300, noise=0.08, random_state=0)[0]
    X = np.r_[X, X[:20]]  # exact duplicates: distance 0, stored as explicit zeros in the graph
    w = np.random.default_rng(0).integers(0, 3, size=len(X)).astype(float)
    G = radius_neighbors_graph(X, radius=0.2, mode="distance").asformat(fmt)
    assert G.diagonal().max() == 0  # no self loops stored: the diagonal must still count as distance 0
    assert np.count_nonzero(G.tocsr().data == 0) >= 40  # the duplicates' explicit zeros survive the format
    for eps, m in [(0.15, 5), (0.2, 8)]:  # eps below the graph radius: stored entries > eps are dropped
        ours = DBSCAN(eps=eps, min_samples=m, metric="precomputed").fit(G, sample_weight=w)
        ref = SKDBSCAN(eps=eps, min_samples=m, metric="precomputed").fit(G.tocsr(), sample_weight=w)
        np.testing.assert_array_equal(ours.labels_, ref.labels_)
        np.testing.assert_array_equal(ours.core_sample_indices_, ref.core_sample_indices_)
        direct = DBSCAN(eps=eps, min_samples=m).fit(X, sample_weight=w)
        np.testing.assert_array_equal(ours.labels_, direct.labels_)


def test_precomputed_diagonal_and_infinity():
    # a stored diagonal above eps takes the point out of its own ball, as in scikit-learn
    D = np.array([[5.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    for Din in (D, sparse.csr_matrix(D)):
        ours = DBSCAN(eps=1.0, min_samples=3, metric="precomputed").fit(Din)
        ref = SKDBSCAN(eps=1.0, min_samples=3, metric="precomputed").fit(Din)
        np.testing.assert_array_equal(ours.core_sample_indices_, ref.core_sample_indices_)
        np.testing.assert_array_equal(ours.core_sample_indices_, [1, 2])
    # +inf means "never a neighbour" (scikit-learn rejects inf; compare with a large finite distance)
    Dinf = squareform(pdist(make_blobs(60, centers=2, random_state=0)[0]))
    Dinf[Dinf > 3.0] = np.inf
    ours = DBSCAN(eps=1.0, min_samples=4, metric="precomputed").fit(Dinf)
    ref = SKDBSCAN(eps=1.0, min_samples=4, metric="precomputed").fit(np.where(np.isinf(Dinf), 1e9, Dinf))
    np.testing.assert_array_equal(ours.labels_, ref.labels_)


@pytest.mark.parametrize("seed", range(3))
def test_sparse_features_match_sklearn_and_dense(seed):
    Xs = _sparse_blobs(seed)
    for eps, m in [(4.0, 5), (5.0, 5)]:
        ours = DBSCAN(eps=eps, min_samples=m).fit(Xs)
        ref = SKDBSCAN(eps=eps, min_samples=m).fit(Xs)
        np.testing.assert_array_equal(ours.labels_, ref.labels_)
        np.testing.assert_array_equal(ours.core_sample_indices_, ref.core_sample_indices_)
        assert sparse.issparse(ours.components_)
        np.testing.assert_array_equal(ours.components_.toarray(), ref.components_.toarray())
        np.testing.assert_array_equal(ours.labels_, DBSCAN(eps=eps, min_samples=m).fit(Xs.toarray()).labels_)
        assert ours.labels_.max() == 2 and np.any(ours.labels_ == -1)  # the three groups and some noise


def test_sparse_input_not_mutated_and_blocks():
    import interviewlib.classic_ml.dbscan as mod

    Xs = _sparse_blobs(1)
    before = (Xs.data.copy(), Xs.indices.copy(), Xs.indptr.copy())
    full = DBSCAN(eps=4.0, min_samples=5).fit(Xs).labels_
    chunk = mod._CHUNK
    try:
        mod._CHUNK = 7 * Xs.shape[0]  # force blocks of 7 rows: the block seams must not matter
        np.testing.assert_array_equal(DBSCAN(eps=4.0, min_samples=5).fit(Xs).labels_, full)
    finally:
        mod._CHUNK = chunk
    for a, b in zip(before, (Xs.data, Xs.indices, Xs.indptr)):
        np.testing.assert_array_equal(a, b)


def test_bad_input_weights_precomputed_sparse():
    X = np.random.default_rng(0).normal(size=(5, 2))
    D = squareform(pdist(X))
    pre = DBSCAN(eps=1.0, min_samples=2, metric="precomputed")
    with pytest.raises(ValueError, match=r"square \(n_samples, n_samples\) distance matrix .* got shape \(5, 2\)"):
        pre.fit(X)
    with pytest.raises(ValueError, match="square"):
        pre.fit(sparse.csr_matrix(D[:, :4]))
    Dneg = D.copy()
    Dneg[0, 1] = -1.0
    with pytest.raises(ValueError, match="non-negative distances; got 1 negative"):
        pre.fit(Dneg)
    with pytest.raises(ValueError, match="NaN"):
        pre.fit(np.where(np.eye(5, dtype=bool), np.nan, D))
    Dasym = D.copy()
    Dasym[0, 1], Dasym[1, 0] = 0.5, 3.0
    with pytest.raises(ValueError, match="symmetric distance matrix .* 1 pairs"):
        pre.fit(Dasym)
    with pytest.raises(ValueError, match="symmetric"):
        pre.fit(sparse.csr_matrix(np.triu(D)))
    with pytest.raises(TypeError, match=r"formats \('csr', 'csc', 'coo', 'lil'\) .* got format 'dok'"):
        pre.fit(sparse.dok_matrix(D))
    with pytest.raises(ValueError, match="metric must be one of"):
        DBSCAN(metric="cosine").fit(X)
    db = DBSCAN(eps=1.0, min_samples=2)
    with pytest.raises(ValueError, match="sample_weight must be non-negative"):
        db.fit(X, sample_weight=[1, 1, -1, 1, 1])
    with pytest.raises(ValueError, match="sample_weight must contain only finite"):
        db.fit(X, sample_weight=[1, 1, np.nan, 1, 1])
    with pytest.raises(ValueError, match=r"one entry per sample, shape \(5,\); got shape \(4,\)"):
        db.fit(X, sample_weight=np.ones(4))
    with pytest.raises(ValueError, match="finite"):
        db.fit(sparse.csr_matrix(np.where(np.eye(5, 2, dtype=bool), np.inf, X)))
    with pytest.raises(TypeError, match="real numbers"):
        db.fit(sparse.csr_matrix(X.astype(complex)))
    with pytest.raises(TypeError, match=r"X must be a dense array_like .*X.toarray\(\)"):
        eps_neighbour_pairs(sparse.csr_matrix(X), 1.0)
    with pytest.raises(TypeError, match="scipy.sparse"):
        k_distance(sparse.csr_matrix(X), 2)
    # all-zero weights are allowed: nothing is dense, everything is noise
    np.testing.assert_array_equal(db.fit(X, sample_weight=np.zeros(5)).labels_, -1)


def test_fit_signature_and_hyperparameters_unchanged():
    X = np.random.default_rng(0).normal(size=(20, 2))
    db = DBSCAN(eps=0.8, min_samples=3, metric="euclidean")
    assert db.fit(X, None, np.ones(20)) is db
    assert (db.eps, db.min_samples, db.metric) == (0.8, 3, "euclidean")
    np.testing.assert_array_equal(db.fit_predict(X, sample_weight=np.ones(20)), db.labels_)


def test_single_point_and_empty_sparse():
    for X, metric in [([[1.0, 2.0]], "euclidean"), (sparse.csr_matrix([[1.0, 0.0]]), "euclidean"),
                      ([[0.0]], "precomputed"), (sparse.csr_matrix((1, 1)), "precomputed")]:
        np.testing.assert_array_equal(DBSCAN(eps=1.0, min_samples=1, metric=metric).fit(X).labels_, [0])
        np.testing.assert_array_equal(DBSCAN(eps=1.0, min_samples=2, metric=metric).fit(X).labels_, [-1])
    with pytest.raises(ValueError, match=r"non-empty 2-D matrix; got shape \(0, 3\)"):
        DBSCAN().fit(sparse.csr_matrix((0, 3)))
