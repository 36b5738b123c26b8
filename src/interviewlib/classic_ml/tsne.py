r"""Exact t-SNE: perplexity-calibrated affinities, Student-t kernel, KL gradient descent.

See question q05-05.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist
from scipy.special import xlogy

from interviewlib._rng import as_generator
from interviewlib._validation import as_matrix, check_option, check_scalar
from interviewlib.classic_ml.pca import PCA

__all__ = ["TSNE", "conditional_probabilities", "joint_probabilities", "kl_divergence_and_gradient"]

_EPS = np.finfo(np.float64).eps  # floor on p_ij and q_ij (as scikit-learn)
_BLOCK = 128  # rows per strip of the n x n work: at n = 1797 the two strip buffers (3.7 MB) stay in cache
_SYM_RTOL = 1e-10  # P built as P_c + P_c.T is exactly symmetric; allow rounding from user-side arithmetic


def _sq_pdist(X: np.ndarray) -> np.ndarray:
    sq = (X * X).sum(1)
    D = sq[:, None] + sq[None, :] - 2.0 * (X @ X.T)
    np.maximum(D, 0.0, out=D)
    np.fill_diagonal(D, 0.0)
    return D


def conditional_probabilities(D, perplexity: float, *, tol: float = 1e-5, max_steps: int = 100) -> np.ndarray:
    r"""Row-wise Gaussian affinities :math:`p_{j|i}` whose perplexity equals ``perplexity``.

    For each row, binary search on the precision :math:`\beta_i=1/(2\sigma_i^2)` until the
    entropy :math:`H(P_i)=-\sum_j p_{j|i}\ln p_{j|i}` equals :math:`\ln(\text{perplexity})`
    (perplexity :math:`2^{H}` in bits, :math:`e^{H}` in nats: the same number). All rows
    are searched at once: the loop runs over bisection steps, not over points.

    Parameters
    ----------
    D : array_like, shape (n, n)
        Squared distances; the diagonal is ignored.
    perplexity : float
        ``1 <= perplexity < n``; roughly the effective number of neighbours.
    tol : float
        Tolerance on the entropy (nats).
    max_steps : int

    Returns
    -------
    numpy.ndarray, shape (n, n)
        Each row sums to 1; zero diagonal.

    Raises
    ------
    ValueError
        If ``D`` is not square or ``perplexity`` is out of range.

    Notes
    -----
    See question q05-05. Same search as scikit-learn's (start at :math:`\beta=1`, double
    or halve until bracketed, then bisect); subtracting each row's smallest distance
    first leaves :math:`p_{j|i}` and the entropy unchanged but avoids underflow.

    Examples
    --------
    >>> D = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    >>> conditional_probabilities(D, 2.0).round(6).tolist()[0]
    [0.0, 0.5, 0.5]
    """
    D = as_matrix(D, "D", square=True, allow_empty=False)
    n = D.shape[0]
    perplexity = check_scalar(perplexity, "perplexity", low=1, high=n, high_inclusive=False)
    return _conditional_core(D, perplexity, tol, max_steps)


def _conditional_core(D: np.ndarray, perplexity: float, tol: float, max_steps: int) -> np.ndarray:
    n = D.shape[0]
    off = ~np.eye(n, dtype=bool)
    Dm = np.where(off, D, np.inf)
    Dm = Dm - Dm.min(axis=1, keepdims=True)  # shift: P and H unchanged, no underflow
    Dz = np.where(off, Dm, 0.0)
    target = np.log(perplexity)
    beta = np.ones(n)
    lo = np.full(n, -np.inf)
    hi = np.full(n, np.inf)
    active = np.ones(n, dtype=bool)
    P = np.zeros_like(D)
    for _ in range(max_steps):
        E = np.exp(-Dm[active] * beta[active, None])  # exp(-inf) = 0 on the diagonal
        s = np.maximum(E.sum(1), 1e-8)
        Pa = E / s[:, None]
        H = np.log(s) + beta[active] * (Dz[active] * Pa).sum(1)
        P[active] = Pa
        diff = H - target
        idx = np.flatnonzero(active)
        done = np.abs(diff) <= tol
        up = (diff > 0) & ~done  # entropy too high: sharpen (increase beta)
        down = (diff <= 0) & ~done
        b = beta[idx]
        lo[idx[up]] = b[up]
        beta[idx[up]] = np.where(np.isinf(hi[idx[up]]), b[up] * 2.0, (b[up] + hi[idx[up]]) / 2.0)
        hi[idx[down]] = b[down]
        beta[idx[down]] = np.where(np.isinf(lo[idx[down]]), b[down] / 2.0, (b[down] + lo[idx[down]]) / 2.0)
        active[idx[done]] = False
        if not active.any():
            break
    return P


def joint_probabilities(X, perplexity: float = 30.0) -> np.ndarray:
    r"""Symmetric t-SNE input affinities :math:`p_{ij}=(p_{j|i}+p_{i|j})/(2n)`.

    Parameters
    ----------
    X : array_like, shape (n, d)
    perplexity : float, default 30
        ``1 <= perplexity < n``.

    Returns
    -------
    numpy.ndarray, shape (n, n)
        Symmetric, zero diagonal, sums to 1 (off-diagonal entries floored at machine
        epsilon as in scikit-learn).

    Raises
    ------
    ValueError
        On bad shapes, non-finite values or ``perplexity`` out of range.

    Notes
    -----
    See question q05-05. Symmetrising guarantees every point (even an outlier, whose
    :math:`p_{j|i}` are tiny for all :math:`i`) has :math:`\sum_j p_{ij}\ge 1/(2n)`.

    Examples
    --------
    >>> P = joint_probabilities(np.eye(4), perplexity=2.0)
    >>> bool(np.allclose(P, P.T)), round(float(P.sum()), 6)
    (True, 1.0)
    """
    X = as_matrix(X, "X", allow_empty=False)
    n = X.shape[0]
    perplexity = check_scalar(perplexity, "perplexity", low=1, high=n, high_inclusive=False)
    return _joint_core(X, perplexity)


def _joint_core(X: np.ndarray, perplexity: float) -> np.ndarray:
    Pc = _conditional_core(_sq_pdist(X), perplexity, 1e-5, 100)
    P = Pc + Pc.T
    P /= max(P.sum(), _EPS)
    P = np.maximum(P, _EPS)
    np.fill_diagonal(P, 0.0)
    return P


def kl_divergence_and_gradient(P, Y) -> tuple[float, np.ndarray]:
    r"""KL divergence :math:`C=\sum_{i\ne j}p_{ij}\ln(p_{ij}/q_{ij})` and its gradient.

    With :math:`w_{ij}=(1+\|y_i-y_j\|^2)^{-1}` and :math:`q_{ij}=w_{ij}/\sum_{k\ne l}w_{kl}`,

    .. math::

        \frac{\partial C}{\partial y_i} = 4\sum_j (p_{ij}-q_{ij})\,w_{ij}\,(y_i-y_j).

    Parameters
    ----------
    P : array_like, shape (n, n)
        Joint input affinities (symmetric, sum 1); the diagonal is ignored.
    Y : array_like, shape (n, k)
        Embedding.

    Returns
    -------
    kl : float
    grad : numpy.ndarray, shape (n, k)

    Raises
    ------
    ValueError
        On mismatched shapes or a non-symmetric ``P``.

    Notes
    -----
    See question q05-05. :math:`O(n^2)` per call: the exact method. As in scikit-learn,
    :math:`q_{ij}` is floored at machine epsilon inside the logarithm. Only the upper
    triangle is formed (both :math:`p` and :math:`w` are symmetric), hence the check on ``P``.

    Examples
    --------
    >>> P = np.array([[0.0, 0.5], [0.5, 0.0]])
    >>> kl, g = kl_divergence_and_gradient(P, [[0.0], [1.0]])
    >>> round(kl, 12), np.allclose(g, 0)
    (0.0, True)
    """
    P = as_matrix(P, "P", square=True)
    Y = as_matrix(Y, "Y")
    if Y.shape[0] != P.shape[0]:
        raise ValueError(f"Y must have one row per row of P; got {Y.shape[0]} and {P.shape[0]}.")
    if not np.allclose(P, P.T, rtol=_SYM_RTOL, atol=0.0):
        raise ValueError("P must be symmetric (t-SNE joint affinities); symmetrise it, e.g. (P + P.T) / 2.")
    return _kl_grad(_upper_strips(P), Y, True)


def _upper_strips(P: np.ndarray, block: int = _BLOCK) -> list[np.ndarray]:
    """Contiguous copies of the strips ``P[s:s+block, s:]`` that tile the upper triangle.

    ``P`` is symmetric and constant during optimisation, so the gradient never needs the lower
    triangle; contiguous strips are also read faster than row slices of the full matrix.
    """
    return [np.ascontiguousarray(P[s : s + block, s:]) for s in range(0, P.shape[0], block)]


def _strip_sum(T: np.ndarray) -> float:
    """Sum over the full symmetric matrix of a quantity given on one strip ``(b, n - s)``.

    The first ``b`` columns are the diagonal block, which holds both ``ij`` and ``ji``; every
    entry to its right also stands for its mirror image ``ji`` in the lower triangle.
    """
    return 2.0 * T.sum() - T[:, : T.shape[0]].sum()


def _p_terms(P_strips: list[np.ndarray]) -> tuple[float, float]:
    r"""The parts of the KL that depend on ``P`` only: :math:`\sum p\ln p` and :math:`\sum p` off the diagonal.

    Computed once per optimisation phase instead of at every KL evaluation (a log per pair).
    """
    p_log_p = p_sum = 0.0
    for Ps in P_strips:
        T = xlogy(Ps, Ps)
        np.fill_diagonal(T, 0.0)  # the diagonal of the strip's first b columns is p_ii
        p_log_p += _strip_sum(T)
        p_sum += _strip_sum(Ps) - np.trace(Ps)
    return p_log_p, p_sum


def _kl_floored(P_strips: list[np.ndarray], Y: np.ndarray, Z: float) -> float:
    """The KL straight from its definition, with q_ij floored at machine epsilon (scikit-learn's rule)."""
    kl, s = 0.0, 0
    for Ps in P_strips:
        b = Ps.shape[0]
        W = cdist(Y[s : s + b], Y[s:], "sqeuclidean")
        W += 1.0
        np.reciprocal(W, out=W)
        T = xlogy(Ps, Ps / np.maximum(W / Z, _EPS))  # 0 where p_ij = 0
        np.fill_diagonal(T, 0.0)
        kl += _strip_sum(T)
        s += b
    return kl


def _kl_grad(P_strips: list[np.ndarray], Y: np.ndarray, compute_kl: bool,
             p_terms: tuple[float, float] | None = None) -> tuple[float, np.ndarray]:
    r"""KL (optional) and gradient in one pass over the upper triangle, one strip of rows at a time.

    The exact method costs O(n^2) per iteration, so the constant matters:

    * Symmetry: ``w_ij = w_ji`` and ``p_ij = p_ji``, so only the strip ``rows s:e, columns s:n``
      is formed (``P_strips`` from :func:`_upper_strips`). Each entry right of the diagonal
      block stands for its mirror image too, which reaches rows ``e:n`` through a transposed
      product: half the distances, reciprocals and products of the full matrix.
    * Row i of the gradient is ``4 sum_j a_ij (y_i - y_j) = 4 (y_i sum_j a_ij - sum_j a_ij y_j)``.
      With a row of ones appended to ``Y.T`` the same matrix-vector products give both sums. They
      are matrix-vector products (one per coordinate) because OpenBLAS's dgemm is slower than
      k + 1 dgemv calls when the right-hand side has only k + 1 = 3 columns.
    * ``a_ij = p_ij w_ij - w_ij^2 / Z`` needs ``Z = sum w`` only at the end, so the attraction
      ``P * W`` and the repulsion ``W * W`` are accumulated separately (stacked in one
      preallocated buffer, so that each product is one call) and combined after the pass.
    * KL: ``ln q_ij = -ln(1 + d_ij^2) - ln Z``, so ``KL = sum p ln p + sum p ln(1 + d^2) + ln Z sum p``.
      The first and last sums depend on P only (``p_terms``, computed once per phase); the middle
      one is accumulated in the same pass. scikit-learn floors ``q_ij`` at machine epsilon; if any
      ``q_ij`` is below it (points ~1e8 apart) the KL is recomputed from its definition.

    Distances come from ``cdist`` (an exact difference per pair, as scikit-learn's ``pdist``)
    rather than from ``|y_i|^2 + |y_j|^2 - 2 y_i.y_j``, which cancels for close pairs.
    """
    n, k = Y.shape
    Y1T = np.empty((k + 1, n))  # Y^T with a row of ones: products give sum_j a_ij y_j and sum_j a_ij
    Y1T[:k] = Y.T
    Y1T[k] = 1.0
    F = np.zeros((2, k + 1, n))  # [attraction P*W, repulsion W*W] x [k weighted sums, row sum] x rows
    buf = np.empty(2 * P_strips[0].size)  # the largest strip, twice: P*W and W*W stacked
    Z = 0.0
    p_log_d = 0.0  # sum_{i != j} p_ij ln(1 + d_ij^2)
    d_max = 1.0  # largest 1 + d_ij^2, i.e. smallest w_ij: decides whether the q floor is active
    s = 0
    for Ps in P_strips:
        b, m = Ps.shape
        e = s + b
        T = buf[: 2 * Ps.size].reshape(2, b, m)
        PW, W = T[0], T[1]
        cdist(Y[s:e], Y[s:], "sqeuclidean", out=W)
        W += 1.0
        if compute_kl:
            d_max = max(d_max, W.max())
            np.log(W, out=PW)  # PW used as scratch here; ln(1 + d_ii^2) = 0 on the diagonal
            PW *= Ps
            p_log_d += _strip_sum(PW)
        np.divide(1.0, W, out=W)  # w_ij = 1 / (1 + d_ij^2)
        W[np.arange(b), np.arange(b)] = 0.0  # w_ii = 0
        Z += _strip_sum(W)
        np.multiply(Ps, W, out=PW)
        W *= W
        rows = T.reshape(2 * b, m)
        for c in range(k + 1):
            F[:, c, s:e] += (rows @ Y1T[c, s:]).reshape(2, b)  # this strip's own rows
            F[:, c, e:] += Y1T[c, s:e] @ T[:, :, b:]  # mirror images: rows e:n, columns s:e
        s = e
    grad = F[0, k] * Y.T - F[0, :k]
    grad -= (F[1, k] * Y.T - F[1, :k]) / Z
    grad *= 4.0
    kl = np.nan
    if compute_kl:
        if 1.0 / d_max / Z >= _EPS:
            p_log_p, p_sum = _p_terms(P_strips) if p_terms is None else p_terms
            kl = p_log_p + p_log_d + np.log(Z) * p_sum
        else:
            kl = _kl_floored(P_strips, Y, Z)
    return float(kl), np.ascontiguousarray(grad.T)


class TSNE:
    r"""Exact t-SNE (van der Maaten & Hinton 2008) with scikit-learn's optimisation schedule.

    Parameters
    ----------
    n_components : int, default 2
    perplexity : float, default 30.0
    early_exaggeration : float, default 12.0
        :math:`P` is multiplied by this for the first ``n_exaggeration`` iterations.
    learning_rate : float or "auto", default "auto"
        ``"auto"`` is :math:`\max(n/\text{early\_exaggeration}/4,\,50)` (Belkina et al. 2019).
    max_iter : int, default 1000
        Total iterations, exaggeration phase included.
    n_exaggeration : int, default 250
    init : {"pca", "random"}, default "pca"
        PCA projection rescaled so that its first column has standard deviation 1e-4, or
        Gaussian noise with standard deviation 1e-4.
    n_iter_without_progress : int, default 300
    min_grad_norm : float, default 1e-7
    rng : numpy.random.Generator, int or None

    Attributes
    ----------
    embedding_ : numpy.ndarray, shape (n, n_components)
    kl_divergence_ : float
    n_iter_ : int
    learning_rate_ : float

    Notes
    -----
    See question q05-05. Optimiser (as scikit-learn's ``_gradient_descent``): momentum 0.5
    during exaggeration and 0.8 after (velocity and gains restart at the switch), per-coordinate gains (+0.2 where the gradient and
    the previous update have opposite signs, i.e. the descent direction persists; times 0.8
    otherwise; floored at 0.01); the KL is
    evaluated every 50 iterations to stop after ``n_iter_without_progress`` iterations
    without improvement or when the gradient norm drops below ``min_grad_norm``. The
    low-dimensional kernel is a Student t with one degree of freedom for every
    ``n_components`` (scikit-learn uses ``n_components - 1`` degrees of freedom above 2).

    References
    ----------
    van der Maaten, L. and Hinton, G. (2008). Visualizing data using t-SNE. JMLR 9.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(0, 1, (20, 5)), rng.normal(8, 1, (20, 5))]
    >>> Y = TSNE(perplexity=5.0, max_iter=300, rng=0).fit_transform(X)
    >>> Y.shape
    (40, 2)
    """

    def __init__(self, *, n_components=2, perplexity=30.0, early_exaggeration=12.0, learning_rate="auto",
                 max_iter=1000, n_exaggeration=250, init="pca", n_iter_without_progress=300,
                 min_grad_norm=1e-7, rng=None):
        self.n_components = n_components
        self.perplexity = perplexity
        self.early_exaggeration = early_exaggeration
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.n_exaggeration = n_exaggeration
        self.init = init
        self.n_iter_without_progress = n_iter_without_progress
        self.min_grad_norm = min_grad_norm
        self.rng = rng

    def fit(self, X) -> TSNE:
        """Embed ``X`` (array_like, shape (n, d)); returns ``self``."""
        X = as_matrix(X, "X", allow_empty=False)
        n = X.shape[0]
        if n < 2:
            raise ValueError(f"X must have at least 2 samples; got {n}.")
        k = check_scalar(self.n_components, "n_components", kind="int", low=1)
        perplexity = self.perplexity
        if isinstance(perplexity, (int, float)) and not isinstance(perplexity, bool) and perplexity >= n:
            raise ValueError(f"perplexity must be less than n_samples; got perplexity={perplexity} for {n} samples.")
        perplexity = check_scalar(perplexity, "perplexity", low=1)
        ee = check_scalar(self.early_exaggeration, "early_exaggeration", low=1)
        if isinstance(self.learning_rate, str):
            check_option(self.learning_rate, "learning_rate", ("auto",))
            lr = max(n / ee / 4.0, 50.0)
        else:
            lr = check_scalar(self.learning_rate, "learning_rate", low=0, low_inclusive=False)
        max_iter = check_scalar(self.max_iter, "max_iter", kind="int", low=1)
        n_ex = check_scalar(self.n_exaggeration, "n_exaggeration", kind="int", low=0)
        init = check_option(self.init, "init", ("pca", "random"))
        patience = check_scalar(self.n_iter_without_progress, "n_iter_without_progress", kind="int", low=1)
        min_grad = check_scalar(self.min_grad_norm, "min_grad_norm", low=0)
        rng = as_generator(self.rng)
        P = _joint_core(X, perplexity)
        if init == "pca" and min(X.shape) >= k:
            Y0 = PCA(n_components=k, solver="svd").fit_transform(X)
            sd = Y0[:, 0].std()
            Y0 = Y0 / sd * 1e-4 if sd > 0 else 1e-4 * rng.standard_normal((n, k))
        else:
            Y0 = 1e-4 * rng.standard_normal((n, k))
        Y, kl, it = _optimise(P, Y0, lr, ee, n_ex, max_iter, patience, min_grad)
        self.embedding_ = Y
        self.kl_divergence_ = kl
        self.n_iter_ = it
        self.learning_rate_ = lr
        return self

    def fit_transform(self, X) -> np.ndarray:
        """``fit(X).embedding_``."""
        return self.fit(X).embedding_


def _optimise(P, Y, lr, ee, n_ex, max_iter, patience, min_grad, check_every=50):
    Y = Y.copy()
    kl = np.nan
    strips = _upper_strips(P)
    phases = [(ee, 0.5, 0, min(n_ex, max_iter), n_ex), (1.0, 0.8, min(n_ex, max_iter), max_iter, patience)]
    it = 0
    for scale, momentum, start, stop, wait in phases:
        if start >= stop:
            continue
        Pk = [Ps * scale for Ps in strips]  # exaggerated P during the first phase
        p_terms = _p_terms(Pk)  # constant within a phase: computed once, not at every KL check
        best, best_it = np.inf, start
        update = np.zeros_like(Y)  # each phase restarts momentum and gains, as scikit-learn does
        gains = np.ones_like(Y)
        for it in range(start, stop):
            check = (it + 1) % check_every == 0 or it == stop - 1
            kl, grad = _kl_grad(Pk, Y, check, p_terms)
            inc = update * grad < 0.0
            gains = np.where(inc, gains + 0.2, gains * 0.8)
            np.clip(gains, 0.01, None, out=gains)
            grad *= gains
            update = momentum * update - lr * grad
            Y += update
            if check:
                if kl < best:
                    best, best_it = kl, it
                elif it - best_it > wait:
                    break
                if np.linalg.norm(grad) <= min_grad:
                    break
    return Y, float(kl), it + 1
