"""K-means clustering: Lloyd's algorithm with k-means++ seeding, optionally weighted.

See question q05-01.
"""

from __future__ import annotations

import numpy as np

from interviewlib._rng import as_generator
from interviewlib._validation import as_float_array, as_matrix, check_is_fitted, check_option, check_scalar
from interviewlib.classic_ml._checks import check_sample_weight, reject_sparse

_DENSE = "a dense array_like of shape (n_samples, n_features)"

__all__ = ["KMeans", "kmeans_plusplus", "squared_distances"]


def squared_distances(X: np.ndarray, C: np.ndarray) -> np.ndarray:
    r"""Squared Euclidean distances between the rows of ``X`` and of ``C``.

    Uses :math:`\|x-c\|^2 = \|x\|^2 - 2x^\top c + \|c\|^2`, one matrix product
    (BLAS) instead of an ``(n, k, d)`` broadcast; tiny negative round-off is clipped to 0.

    Parameters
    ----------
    X : array_like, shape (n, d)
    C : array_like, shape (k, d)

    Returns
    -------
    numpy.ndarray, shape (n, k)

    Raises
    ------
    ValueError
        If the inputs are not 2-D with the same number of columns.

    Notes
    -----
    See question q05-01.

    Examples
    --------
    >>> squared_distances([[0.0, 0.0], [3.0, 4.0]], [[0.0, 0.0]]).ravel().tolist()
    [0.0, 25.0]
    """
    reject_sparse(X, "X", _DENSE)
    reject_sparse(C, "C", "a dense array_like of shape (k, n_features)")
    X = as_matrix(X, "X")
    C = as_matrix(C, "C")
    if X.shape[1] != C.shape[1]:
        raise ValueError(f"X and C must have the same number of columns; got {X.shape[1]} and {C.shape[1]}.")
    return _sqdist(X, C)


def _sqdist(X: np.ndarray, C: np.ndarray) -> np.ndarray:
    # C @ X.T, not X @ C.T: OpenBLAS is several times faster with the long dimension last
    D = (X * X).sum(1)[:, None] - 2.0 * (C @ X.T).T + (C * C).sum(1)[None, :]
    return np.maximum(D, 0.0)


def kmeans_plusplus(X, n_clusters: int, *, sample_weight=None, rng=None) -> np.ndarray:
    r"""k-means++ seeding (Arthur & Vassilvitskii 2007).

    The first centre is a uniformly drawn point; each next centre is drawn with
    probability proportional to :math:`D(x)^2`, the squared distance to the nearest centre
    chosen so far. The expected inertia of the seeding alone is within
    :math:`8(\ln k + 2)` of the optimum. With weights the first draw is proportional to
    :math:`w_i` and the next ones to :math:`w_i D(x_i)^2` (scikit-learn's rule), which is
    the unweighted rule on data where point :math:`i` is repeated :math:`w_i` times.

    Parameters
    ----------
    X : array_like, shape (n, d)
    n_clusters : int
        Number of centres, ``1 <= n_clusters <= n``.
    sample_weight : array_like, shape (n,), optional
        Non-negative weights with a positive sum; ``None`` means all ones.
    rng : numpy.random.Generator, int or None

    Returns
    -------
    numpy.ndarray, shape (n_clusters, d)
        Rows of ``X`` chosen as initial centres.

    Raises
    ------
    ValueError
        On bad shapes, non-finite values, ``n_clusters > n`` or bad ``sample_weight``.
    TypeError
        If ``X`` is a scipy.sparse matrix (dense input only).

    Notes
    -----
    See question q05-01. This is the plain version (one candidate per step); scikit-learn
    adds "greedy" trials (``2 + ln k`` candidates, keep the best).

    References
    ----------
    Arthur, D. and Vassilvitskii, S. (2007). k-means++: the advantages of careful seeding. SODA.

    Examples
    --------
    >>> X = [[0.0], [0.1], [10.0], [10.1]]
    >>> C = kmeans_plusplus(X, 2, rng=0)
    >>> sorted(round(float(c[0])) for c in C)
    [0, 10]
    """
    reject_sparse(X, "X", _DENSE)
    X = as_matrix(X, "X", allow_empty=False)
    n_clusters = check_scalar(n_clusters, "n_clusters", kind="int", low=1, high=X.shape[0])
    w = None if sample_weight is None else check_sample_weight(sample_weight, X.shape[0])
    return _kmeans_plusplus_core(X, n_clusters, as_generator(rng), w)


def _kmeans_plusplus_core(X: np.ndarray, k: int, rng: np.random.Generator, w: np.ndarray | None = None) -> np.ndarray:
    n = X.shape[0]
    # unweighted draws stay uniform integers, so seeded results do not change when weights are all ones
    idx = [int(rng.integers(n)) if w is None else int(rng.choice(n, p=w / w.sum()))]
    d2 = _sqdist(X, X[idx])[:, 0]
    for _ in range(1, k):
        pot = d2 if w is None else w * d2
        total = pot.sum()
        if total > 0:
            j = int(rng.choice(n, p=pot / total))
        else:  # every point of positive weight coincides with a centre: draw by weight alone
            j = int(rng.integers(n)) if w is None else int(rng.choice(n, p=w / w.sum()))
        idx.append(j)
        d2 = np.minimum(d2, _sqdist(X, X[j : j + 1])[:, 0])
    return X[idx].copy()


class KMeans:
    r"""K-means clustering by Lloyd's algorithm, optionally with sample weights.

    Minimises the inertia :math:`J=\sum_i w_i\|x_i-\mu_{c(i)}\|^2` by alternating the
    assignment step (each point to its nearest centre) and the update step (each centre to
    the weighted mean of its points). Neither step can increase :math:`J`, and there are
    finitely many partitions, so the algorithm stops at a local minimum. Without weights
    :math:`w_i = 1`.

    Parameters
    ----------
    n_clusters : int, default 8
    init : {"k-means++", "random"} or array_like of shape (n_clusters, d), default "k-means++"
        ``"random"`` picks ``n_clusters`` distinct data points, with probability
        proportional to their weight (uniformly without weights).
    n_init : int, default 1
        Number of restarts (ignored when ``init`` is an array); the lowest inertia wins.
    max_iter : int, default 300
    tol : float, default 1e-4
        Stop when the summed squared centre shift is at most ``tol`` times the mean
        per-feature variance of ``X`` (scikit-learn's rule), or when labels stop changing.
    rng : numpy.random.Generator, int or None

    Attributes
    ----------
    cluster_centers_ : numpy.ndarray, shape (n_clusters, d)
    labels_ : numpy.ndarray of int, shape (n,)
    inertia_ : float
        Weighted sum of squared distances to the nearest centre.
    n_iter_ : int
        Lloyd iterations of the best run.

    Notes
    -----
    See question q05-01. Sample weights follow scikit-learn's semantics: centres are
    weighted means, the inertia is weighted, the seeding draws by weight, and the stopping
    tolerance stays relative to the unweighted per-feature variance. An integer weight
    :math:`w_i` gives the same centres and inertia as repeating row :math:`i` :math:`w_i`
    times. Zero weights are allowed (the point is labelled but pulls on no centre);
    negative, NaN or infinite weights are rejected (scikit-learn silently accepts
    negative ones).

    Empty-cluster policy: a cluster whose total weight is zero after the assignment step
    is re-seeded at the point farthest from its current centre (the largest unweighted
    contributor to the inertia), and that point leaves its old cluster's mean, as
    scikit-learn does; with several empty clusters the farthest points are used in
    decreasing order of distance. If all points sit on their centres nothing is relocated,
    and a cluster that still has zero weight keeps its previous centre (scikit-learn moves
    it onto the heaviest cluster's centre instead).

    Only dense input: a scipy.sparse ``X`` raises ``TypeError`` asking for ``X.toarray()``
    (scikit-learn's ``KMeans`` accepts CSR).

    References
    ----------
    Lloyd, S. (1982). Least squares quantization in PCM. IEEE Trans. Inf. Theory 28(2).

    Examples
    --------
    >>> X = [[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0]]
    >>> km = KMeans(n_clusters=2, init=[[0.0, 0.0], [10.0, 0.0]]).fit(X)
    >>> km.labels_.tolist(), float(km.inertia_)
    ([0, 0, 1, 1], 1.0)

    A weight of 3 on the point (0, 1) pulls the first centre to a weighted mean:

    >>> km = KMeans(n_clusters=2, init=[[0.0, 0.0], [10.0, 0.0]]).fit(X, sample_weight=[1, 3, 1, 1])
    >>> km.cluster_centers_[0].tolist(), float(km.inertia_)
    ([0.0, 0.75], 1.25)
    """

    def __init__(self, *, n_clusters=8, init="k-means++", n_init=1, max_iter=300, tol=1e-4, rng=None):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.rng = rng

    def fit(self, X, y=None, sample_weight=None) -> KMeans:
        """Cluster ``X``; returns ``self``.

        Parameters
        ----------
        X : array_like, shape (n, d)
            Dense data (a scipy.sparse matrix raises ``TypeError``).
        y : None
            Ignored; present for scikit-learn API compatibility.
        sample_weight : array_like, shape (n,), optional
            Non-negative, finite weights with a positive sum; ``None`` means all ones.

        Raises
        ------
        ValueError
            On bad shapes, non-finite ``X``, bad hyperparameters or bad ``sample_weight``.
        TypeError
            If ``X`` is sparse or not numeric.
        """
        reject_sparse(X, "X", _DENSE)
        X = as_matrix(X, "X", allow_empty=False)
        n, d = X.shape
        k = check_scalar(self.n_clusters, "n_clusters", kind="int", low=1)
        if k > n:
            raise ValueError(f"n_clusters must be <= n_samples; got n_clusters={k} for {n} samples.")
        max_iter = check_scalar(self.max_iter, "max_iter", kind="int", low=1)
        n_init = check_scalar(self.n_init, "n_init", kind="int", low=1)
        tol = check_scalar(self.tol, "tol", low=0)
        if isinstance(self.init, str):
            check_option(self.init, "init", ("k-means++", "random"))
            inits = None
        else:
            C0 = as_float_array(self.init, "init", ndim=2)
            if C0.shape != (k, d):
                raise ValueError(f"init must have shape (n_clusters, n_features) = {(k, d)}; got {C0.shape}.")
            inits, n_init = [C0], 1
        w = None if sample_weight is None else check_sample_weight(sample_weight, n)
        if w is not None and inits is None and self.init == "random" and np.count_nonzero(w) < k:
            raise ValueError(
                f'init="random" needs at least n_clusters={k} points of positive sample_weight; '
                f"got {np.count_nonzero(w)}. Use init=\"k-means++\" or an array of centres."
            )
        rng = as_generator(self.rng)
        # centre the data (as scikit-learn does) so that the ||x||^2 - 2x.c + ||c||^2 trick loses less precision
        mean = X.mean(axis=0)
        Xc = X - mean
        tol_abs = float(np.mean(np.var(X, axis=0))) * tol
        best = None
        for r in range(n_init):
            if inits is not None:
                C = inits[r] - mean
            elif self.init == "random":
                p = None if w is None else w / w.sum()
                C = Xc[rng.choice(n, size=k, replace=False, p=p)].copy()
            else:
                C = _kmeans_plusplus_core(Xc, k, rng, w)
            out = _lloyd(Xc, C, max_iter, tol_abs, w)
            if best is None or out[2] < best[2]:
                best = out
        C, labels, inertia, n_iter = best
        self.cluster_centers_ = C + mean
        self.labels_ = labels
        self.inertia_ = inertia
        self.n_iter_ = n_iter
        return self

    def predict(self, X) -> np.ndarray:
        """Index of the nearest learned centre for each row of ``X``."""
        check_is_fitted(self, "cluster_centers_")
        reject_sparse(X, "X", _DENSE)
        X = as_matrix(X, "X")
        if X.shape[1] != self.cluster_centers_.shape[1]:
            raise ValueError(f"X must have {self.cluster_centers_.shape[1]} features; got {X.shape[1]}.")
        return _nearest(X, self.cluster_centers_)

    def fit_predict(self, X, y=None, sample_weight=None) -> np.ndarray:
        """``fit(X, sample_weight=sample_weight).labels_``."""
        return self.fit(X, sample_weight=sample_weight).labels_


def _class_sums(X: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Row sums per label, ``sums[j] = X[labels == j].sum(0)``, as one BLAS product."""
    onehot = (labels[None, :] == np.arange(k)[:, None]).astype(np.float64)  # (k, n)
    return onehot @ X


def _nearest(X: np.ndarray, C: np.ndarray) -> np.ndarray:
    """Index of the nearest centre, argmin_j (||c_j||^2 - 2 x.c_j), ties to the lowest index."""
    G = (-2.0 * C) @ X.T  # (k, n): OpenBLAS is much faster this way round than X @ C.T for small k
    G += (C * C).sum(1)[:, None]
    # running minimum over the k contiguous rows (a loop over centres, not points): cheaper
    # than argmin along axis 0, which numpy performs on a transposed copy
    best = G[0].copy()
    labels = np.zeros(X.shape[0], dtype=np.intp)
    for j in range(1, C.shape[0]):
        closer = G[j] < best
        np.copyto(best, G[j], where=closer)
        labels[closer] = j
    return labels


def _lloyd(X: np.ndarray, C: np.ndarray, max_iter: int, tol: float, w: np.ndarray | None = None):
    """Lloyd iterations from centres ``C``; returns (centres, labels, inertia, n_iter).

    ``w`` are the sample weights (``None``: all ones). The weighted centre sums are
    updated incrementally: only points whose label changed are subtracted from their old
    cluster and added to the new one, so late iterations (few changes) cost one distance
    product and one argmin.
    """
    k = C.shape[0]
    Xw = X if w is None else X * w[:, None]  # weighted rows: the centre sums are sums of these
    ones = w is None
    n_iter = 0
    labels_old = None
    recompute = True
    strict = False
    for it in range(max_iter):
        n_iter = it + 1
        # assignment step: argmin_j ||x - c_j||^2 = argmin_j (||c_j||^2 - 2 x.c_j)
        labels = _nearest(X, C)
        if recompute:
            sums = _class_sums(Xw, labels, k)
            counts = np.bincount(labels, weights=None if ones else w, minlength=k).astype(np.float64)
        else:
            moved = np.flatnonzero(labels != labels_old)
            if moved.size:
                sums += _class_sums(Xw[moved], labels[moved], k) - _class_sums(Xw[moved], labels_old[moved], k)
                counts = np.bincount(labels, weights=None if ones else w, minlength=k).astype(np.float64)
        # update step: each centre moves to the (weighted) mean of its points; "empty" = zero total weight
        empty = np.flatnonzero(counts == 0)
        if empty.size:
            own = ((X - C[labels]) ** 2).sum(1)
            if own.max() > 0:  # re-seed empty clusters at the points farthest from their centre
                far = np.argsort(-own, kind="stable")[: empty.size]
                sums, counts = sums.copy(), counts.copy()
                for j, i in zip(empty, far):  # loop over empty clusters, not over data
                    wi = 1.0 if ones else w[i]
                    sums[labels[i]] -= Xw[i]
                    counts[labels[i]] -= wi
                    sums[j], counts[j] = Xw[i], wi
        # a cluster that still has zero weight keeps its centre
        C_new = np.where(counts[:, None] > 0, sums / np.where(counts > 0, counts, 1.0)[:, None], C)
        # after a relocation the sums no longer match the labels: rebuild them next round
        recompute = bool(empty.size)
        shift = float(((C_new - C) ** 2).sum())
        C = C_new
        if labels_old is not None and np.array_equal(labels, labels_old):
            strict = True
            break
        if shift <= tol:
            break
        labels_old = labels
    if not strict:  # labels must belong to the final centres
        labels = _nearest(X, C)
    sq = ((X - C[labels]) ** 2).sum(1)
    inertia = float(sq.sum() if ones else sq @ w)
    return C, labels, inertia, n_iter
