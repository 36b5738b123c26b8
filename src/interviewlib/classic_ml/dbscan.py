"""DBSCAN as connected components of the core points' eps-graph.

See question q05-02.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from interviewlib._validation import as_matrix, check_scalar

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

    Notes
    -----
    See question q05-02. The neighbour search is scipy's; the clustering logic built on
    it (in :class:`DBSCAN`) is ours.

    Examples
    --------
    >>> eps_neighbour_pairs([[0.0], [1.0], [3.0]], 1.0).tolist()
    [[0, 1]]
    """
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

    Notes
    -----
    See question q05-02.

    Examples
    --------
    >>> k_distance([[0.0], [1.0], [3.0]], 2).tolist()
    [1.0, 1.0, 2.0]
    """
    X = as_matrix(X, "X", allow_empty=False)
    k = check_scalar(k, "k", kind="int", low=1, high=X.shape[0])
    dist, _ = cKDTree(X).query(X, k=[k])
    return dist[:, 0]


class DBSCAN:
    r"""Density-based clustering (Ester et al. 1996).

    A point is *core* if its closed :math:`\varepsilon`-ball holds at least
    ``min_samples`` points, the point itself included (scikit-learn's convention).
    Clusters are the connected components of the graph whose nodes are the core points
    and whose edges join core points within :math:`\varepsilon`; a non-core point within
    :math:`\varepsilon` of a core point is a *border* point and joins one of those
    clusters; every other point is *noise* (label -1).

    Parameters
    ----------
    eps : float, default 0.5
        Neighbourhood radius, inclusive: distance ``<= eps`` counts.
    min_samples : int, default 5

    Attributes
    ----------
    labels_ : numpy.ndarray of int, shape (n,)
        Cluster index, -1 for noise. Clusters are numbered in order of their
        lowest-index core point.
    core_sample_indices_ : numpy.ndarray of int
    components_ : numpy.ndarray, shape (n_core, d)
        Copies of the core points.

    Notes
    -----
    See question q05-02. The classic algorithm expands clusters point by point; the
    result is the same partition of core points, computed here with one neighbour query
    and a sparse connected-components call. A border point reachable from several
    clusters is order dependent in the classic algorithm; here it joins the cluster with
    the smallest index, which is what scikit-learn's depth-first expansion (clusters in
    order of their first core point) produces, so labels agree exactly, not only up to
    relabelling.

    References
    ----------
    Ester, M., Kriegel, H.-P., Sander, J. and Xu, X. (1996). A density-based algorithm for
    discovering clusters in large spatial databases with noise. KDD.

    Examples
    --------
    >>> X = [[0.0], [0.5], [1.0], [5.0], [5.5], [6.0], [20.0]]
    >>> DBSCAN(eps=0.5, min_samples=2).fit(X).labels_.tolist()
    [0, 0, 0, 1, 1, 1, -1]
    """

    def __init__(self, *, eps=0.5, min_samples=5):
        self.eps = eps
        self.min_samples = min_samples

    def fit(self, X) -> DBSCAN:
        """Cluster ``X`` (array_like, shape (n, d)); returns ``self``."""
        X = as_matrix(X, "X", allow_empty=False)
        eps = check_scalar(self.eps, "eps", low=0, low_inclusive=False)
        min_samples = check_scalar(self.min_samples, "min_samples", kind="int", low=1)
        self.labels_, core = _dbscan_core(X, eps, min_samples)
        self.core_sample_indices_ = np.flatnonzero(core)
        self.components_ = X[core].copy()
        return self

    def fit_predict(self, X) -> np.ndarray:
        """``fit(X).labels_``."""
        return self.fit(X).labels_


def _dbscan_core(X: np.ndarray, eps: float, min_samples: int) -> tuple[np.ndarray, np.ndarray]:
    n = X.shape[0]
    pairs = _pairs(X, eps)
    i, j = pairs[:, 0], pairs[:, 1]
    n_neigh = 1 + np.bincount(i, minlength=n) + np.bincount(j, minlength=n)  # +1: the point itself
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
    graph = coo_matrix((np.ones(int(cc.sum()), dtype=np.int8), (pos[i[cc]], pos[j[cc]])), shape=(m, m))
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
