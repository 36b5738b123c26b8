"""DBSCAN as connected components of the core points' eps-graph.

Input: dense or scipy.sparse features (Euclidean distance), or a precomputed distance
matrix, dense or sparse (a radius-neighbourhood graph); optional sample weights.

See question q05-02.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from interviewlib._validation import as_matrix, check_option, check_scalar
from interviewlib.classic_ml._checks import check_sample_weight, reject_sparse

_DENSE = "a dense array_like of shape (n_samples, n_features)"
_SPARSE_GRAPH_FORMATS = ("csr", "csc", "coo", "lil")  # formats that keep explicit zeros (= distance 0)
_CHUNK = 1 << 22  # entries of one dense block of sparse-feature squared distances (32 MiB of float64)

__all__ = ["DBSCAN", "eps_neighbour_pairs", "k_distance"]


def eps_neighbour_pairs(X, eps: float) -> np.ndarray:
    """All pairs ``i < j`` with ``||x_i - x_j|| <= eps`` (inclusive), via a k-d tree.

    Parameters
    ----------
    X : array_like, shape (n, d)
    eps : float
        Radius, ``> 0``.

    Returns
    -------
    numpy.ndarray of int, shape (m, 2)
        Each unordered pair once, ``i < j``.

    Raises
    ------
    ValueError
        On bad shapes, non-finite values or ``eps <= 0``.
    TypeError
        If ``X`` is a scipy.sparse matrix (use :class:`DBSCAN`, which accepts it).

    Notes
    -----
    See question q05-02. The neighbour search is scipy's; the clustering logic built on
    it (in :class:`DBSCAN`) is ours.

    Examples
    --------
    >>> eps_neighbour_pairs([[0.0], [1.0], [3.0]], 1.0).tolist()
    [[0, 1]]
    """
    reject_sparse(X, "X", _DENSE)
    X = as_matrix(X, "X")
    eps = check_scalar(eps, "eps", low=0, low_inclusive=False)
    return _pairs(X, eps)


def _pairs(X: np.ndarray, eps: float) -> np.ndarray:
    if X.shape[0] < 2:
        return np.empty((0, 2), dtype=np.intp)
    return cKDTree(X).query_pairs(eps, output_type="ndarray").astype(np.intp, copy=False)


def k_distance(X, k: int) -> np.ndarray:
    """Distance from each point to its ``k``-th nearest neighbour, the point itself counted.

    Sorted in decreasing order this is the "k-distance plot" used to pick ``eps`` for
    ``min_samples = k``: the knee separates dense points from noise.

    Parameters
    ----------
    X : array_like, shape (n, d)
    k : int
        ``1 <= k <= n``; ``k = 1`` gives zeros (each point is its own first neighbour).

    Returns
    -------
    numpy.ndarray, shape (n,)

    Raises
    ------
    ValueError
        On bad shapes or ``k`` out of range.
    TypeError
        If ``X`` is a scipy.sparse matrix (dense input only).

    Notes
    -----
    See question q05-02.

    Examples
    --------
    >>> k_distance([[0.0], [1.0], [3.0]], 2).tolist()
    [1.0, 1.0, 2.0]
    """
    reject_sparse(X, "X", _DENSE)
    X = as_matrix(X, "X", allow_empty=False)
    k = check_scalar(k, "k", kind="int", low=1, high=X.shape[0])
    dist, _ = cKDTree(X).query(X, k=[k])
    return dist[:, 0]


class DBSCAN:
    r"""Density-based clustering (Ester et al. 1996), with sample weights and precomputed distances.

    A point is *core* if its closed :math:`\varepsilon`-ball holds at least
    ``min_samples`` points, the point itself included (scikit-learn's convention); with
    ``sample_weight`` it is the total weight in the ball that must reach ``min_samples``.
    Clusters are the connected components of the graph whose nodes are the core points
    and whose edges join core points within :math:`\varepsilon`; a non-core point within
    :math:`\varepsilon` of a core point is a *border* point and joins one of those
    clusters; every other point is *noise* (label -1).

    Parameters
    ----------
    eps : float, default 0.5
        Neighbourhood radius, inclusive: distance ``<= eps`` counts.
    min_samples : int, default 5
        Points (or total weight) needed in the ball of a core point.
    metric : {"euclidean", "precomputed"}, default "euclidean"
        ``"euclidean"``: ``X`` holds features, dense or scipy.sparse.
        ``"precomputed"``: ``X`` is an ``(n, n)`` distance matrix, dense or a scipy.sparse
        graph in CSR, CSC, COO or LIL format, such as
        ``sklearn.neighbors.radius_neighbors_graph(..., mode="distance")``.

    Attributes
    ----------
    labels_ : numpy.ndarray of int, shape (n,)
        Cluster index, -1 for noise. Clusters are numbered in order of their
        lowest-index core point.
    core_sample_indices_ : numpy.ndarray of int
    components_ : numpy.ndarray or scipy.sparse.csr_matrix, shape (n_core, d)
        Copies of the rows of ``X`` of the core points (rows of the distance matrix when
        ``metric="precomputed"``); sparse when ``X`` is sparse.

    Notes
    -----
    See question q05-02. The classic algorithm expands clusters point by point; the
    result is the same partition of core points, computed here with one neighbour query
    and a sparse connected-components call. A border point reachable from several
    clusters is order dependent in the classic algorithm; here it joins the cluster with
    the smallest index, which is what scikit-learn's depth-first expansion (clusters in
    order of their first core point) produces, so labels agree exactly, not only up to
    relabelling.

    *Neighbour search.* Dense features: a k-d tree (``scipy.spatial.cKDTree``). Sparse
    features: blocks of :math:`\|x\|^2 - 2x^\top y + \|y\|^2` from sparse products, so the
    cost is :math:`O(n^2)` like scikit-learn's brute force on sparse input. Precomputed
    dense: ``X[i, j] <= eps``; ``+inf`` means "never a neighbour". Precomputed sparse:
    only stored entries can be neighbours (an unstored off-diagonal entry is an infinite
    distance, a stored zero is distance 0), and the diagonal counts as distance 0 unless
    stored, as in scikit-learn. The neighbour relation of a precomputed matrix must be
    symmetric (``X[i, j] <= eps`` exactly when ``X[j, i] <= eps``): clusters are then
    connected components. A k-nearest-neighbour graph is not symmetric; symmetrise it
    first (e.g. ``G.maximum(G.T)``).

    *Weights.* Non-negative, finite, as in scikit-learn except that scikit-learn also
    accepts negative weights (which can stop a neighbour from being core); here they
    raise ``ValueError``. A point of weight at least ``min_samples`` is core on its own;
    a zero-weight point is clustered like any other but adds nothing to the counts.
    Integer weights are equivalent to repeating points; with fractional weights, sums
    that land within round-off of ``min_samples`` may be decided differently from
    scikit-learn, which adds the same numbers in another order.

    References
    ----------
    Ester, M., Kriegel, H.-P., Sander, J. and Xu, X. (1996). A density-based algorithm for
    discovering clusters in large spatial databases with noise. KDD.

    Examples
    --------
    >>> X = [[0.0], [0.5], [1.0], [5.0], [5.5], [6.0], [20.0]]
    >>> DBSCAN(eps=0.5, min_samples=2).fit(X).labels_.tolist()
    [0, 0, 0, 1, 1, 1, -1]
    >>> DBSCAN(eps=0.5, min_samples=2).fit(X, sample_weight=[1, 1, 1, 1, 1, 1, 2]).labels_.tolist()
    [0, 0, 0, 1, 1, 1, 2]
    >>> D = [[0.0, 1.0, 9.0], [1.0, 0.0, 9.0], [9.0, 9.0, 0.0]]
    >>> DBSCAN(eps=1.0, min_samples=2, metric="precomputed").fit(D).labels_.tolist()
    [0, 0, -1]
    """

    def __init__(self, *, eps=0.5, min_samples=5, metric="euclidean"):
        self.eps = eps
        self.min_samples = min_samples
        self.metric = metric

    def fit(self, X, y=None, sample_weight=None) -> DBSCAN:
        """Cluster ``X``; returns ``self``.

        Parameters
        ----------
        X : array_like or scipy.sparse matrix, shape (n, d), or (n, n) if ``metric="precomputed"``
            Features, or distances between samples.
        y : None
            Ignored; present for scikit-learn API compatibility.
        sample_weight : array_like, shape (n,), optional
            Non-negative, finite weights; ``None`` means all ones.

        Raises
        ------
        ValueError
            On bad hyperparameters, non-finite features, a precomputed matrix that is not
            square, has negative or NaN entries or an asymmetric neighbour relation, or bad
            ``sample_weight``.
        TypeError
            If ``X`` is not numeric, or is a sparse graph in a format that drops explicit zeros.
        """
        eps = check_scalar(self.eps, "eps", low=0, low_inclusive=False)
        min_samples = check_scalar(self.min_samples, "min_samples", kind="int", low=1)
        metric = check_option(self.metric, "metric", ("euclidean", "precomputed"))
        if metric == "precomputed":
            X, pairs, self_in = _precomputed_graph(X, eps)
        elif sparse.issparse(X):
            X = _as_csr(X, "X")
            pairs, self_in = _sparse_pairs(X, eps), None
        else:
            X = as_matrix(X, "X", allow_empty=False)
            pairs, self_in = _pairs(X, eps), None
        n = X.shape[0]
        w = None if sample_weight is None else check_sample_weight(sample_weight, n, positive_sum=False)
        self.labels_, core = _dbscan_core(n, pairs, min_samples, w, self_in)
        self.core_sample_indices_ = np.flatnonzero(core)
        self.components_ = X[self.core_sample_indices_] if sparse.issparse(X) else X[core].copy()
        return self

    def fit_predict(self, X, y=None, sample_weight=None) -> np.ndarray:
        """``fit(X, sample_weight=sample_weight).labels_``."""
        return self.fit(X, sample_weight=sample_weight).labels_


def _as_csr(X, name: str) -> sparse.csr_matrix:
    """A float64 CSR copy of a sparse matrix, duplicates summed, explicit zeros kept."""
    if np.issubdtype(X.dtype, np.complexfloating) or not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise TypeError(f"{name} must contain real numbers; got a sparse matrix of dtype {X.dtype}.")
    if X.ndim != 2 or 0 in X.shape:
        raise ValueError(f"{name} must be a non-empty 2-D matrix; got shape {X.shape}.")
    G = sparse.csr_matrix(X, dtype=np.float64, copy=True)
    G.sum_duplicates()
    return G


def _sparse_pairs(X: sparse.csr_matrix, eps: float) -> np.ndarray:
    """Pairs ``i < j`` within ``eps`` for sparse features, one dense block of rows at a time."""
    if not np.all(np.isfinite(X.data)):
        bad = int(X.data.size - np.count_nonzero(np.isfinite(X.data)))
        raise ValueError(f"X must contain only finite values; got {bad} NaN or infinite stored entries.")
    n = X.shape[0]
    sq = np.asarray(X.multiply(X).sum(axis=1)).ravel()
    XT = X.T.tocsc()
    step = max(1, _CHUNK // max(n, 1))
    found = []
    for start in range(0, n, step):  # loop over blocks of rows, each one sparse product
        stop = min(n, start + step)
        D2 = sq[start:stop, None] - 2.0 * (X[start:stop] @ XT).toarray() + sq[None, :]  # (block, n)
        a, b = np.nonzero(D2 <= eps * eps)
        a += start
        keep = a < b
        found.append(np.column_stack([a[keep], b[keep]]))
    return np.concatenate(found).astype(np.intp, copy=False)


def _precomputed_graph(X, eps: float):
    """Validate a precomputed distance matrix; return (X, pairs i < j within eps, self-in-ball flags)."""
    if sparse.issparse(X):
        if X.format not in _SPARSE_GRAPH_FORMATS:
            raise TypeError(
                f"X must be a dense array or a scipy.sparse graph in one of the formats {_SPARSE_GRAPH_FORMATS} "
                f"when metric='precomputed'; got format {X.format!r}. Convert it with X.tocsr()."
            )
        X = _as_csr(X, "X")
        vals = X.data
    else:
        X = as_matrix(X, "X", allow_empty=False, finite=False)
        vals = X
    if X.shape[0] != X.shape[1]:
        raise ValueError(
            f"X must be a square (n_samples, n_samples) distance matrix when metric='precomputed'; got shape {X.shape}."
        )
    if np.any(np.isnan(vals)):
        raise ValueError(f"X must not contain NaN distances; got {int(np.isnan(vals).sum())} NaN entries.")
    if np.any(vals < 0):
        raise ValueError(f"X must hold non-negative distances; got {int((vals < 0).sum())} negative entries.")
    n = X.shape[0]
    if sparse.issparse(X):
        r = np.repeat(np.arange(n), np.diff(X.indptr))
        c = X.indices.astype(np.intp)
        near = X.data <= eps
        self_in = np.ones(n, dtype=bool)  # an unstored diagonal entry is distance 0
        diag = r == c
        self_in[r[diag]] = near[diag]
        off = near & ~diag
        r, c = r[off], c[off]
        asym = np.setxor1d(r * n + c, c * n + r).size // 2  # keys of (i, j) vs (j, i), no duplicates after _as_csr
    else:
        A = X <= eps
        self_in = np.diag(A).copy()
        asym = int(np.count_nonzero(A != A.T)) // 2
        r, c = np.nonzero(np.triu(A, k=1))
    if asym:
        raise ValueError(
            f"X must be a symmetric distance matrix when metric='precomputed': {asym} pairs have X[i, j] <= eps "
            "but X[j, i] > eps (or unstored). Symmetrise it, e.g. np.minimum(X, X.T) or G.maximum(G.T) for a "
            "sparse neighbours graph."
        )
    keep = r < c
    return X, np.column_stack([r[keep], c[keep]]).astype(np.intp), self_in


def _dbscan_core(n: int, pairs: np.ndarray, min_samples: int, w=None, self_in=None) -> tuple[np.ndarray, np.ndarray]:
    i, j = pairs[:, 0], pairs[:, 1]
    if w is None:  # integer counts; the point itself counts when it is in its own ball (always, for features)
        own = 1 if self_in is None else self_in.astype(np.intp)
        n_neigh = own + np.bincount(i, minlength=n) + np.bincount(j, minlength=n)
    else:
        own = w if self_in is None else w * self_in
        n_neigh = own + np.bincount(i, weights=w[j], minlength=n) + np.bincount(j, weights=w[i], minlength=n)
    core = n_neigh >= min_samples
    labels = np.full(n, -1, dtype=np.intp)
    core_idx = np.flatnonzero(core)
    if core_idx.size == 0:
        return labels, core
    # 1) clusters = connected components of the core-core eps-graph
    pos = np.full(n, -1, dtype=np.intp)
    pos[core_idx] = np.arange(core_idx.size)
    cc = core[i] & core[j]
    m = core_idx.size
    graph = sparse.coo_matrix((np.ones(int(cc.sum()), dtype=np.int8), (pos[i[cc]], pos[j[cc]])), shape=(m, m))
    _, comp = connected_components(graph, directed=False)
    # number components by their lowest-index core point (core_idx is sorted)
    _, first = np.unique(comp, return_index=True)
    rank = np.empty_like(first)
    rank[np.argsort(first)] = np.arange(first.size)
    labels[core_idx] = rank[comp]
    # 2) border points: non-core points next to a core point take the smallest such label
    big = np.iinfo(np.intp).max
    border = np.full(n, big, dtype=np.intp)
    a = core[i] & ~core[j]
    np.minimum.at(border, j[a], labels[i[a]])
    b = core[j] & ~core[i]
    np.minimum.at(border, i[b], labels[j[b]])
    has = border != big
    labels[has] = border[has]
    return labels, core
