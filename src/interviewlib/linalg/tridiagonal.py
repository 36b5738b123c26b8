r"""Symmetric eigensolver by tridiagonal reduction (question q01-05).

The bisection-and-inverse-iteration route of LAPACK (``dstebz`` + ``dstein``, what ``dsyevx``
does for part of the spectrum) in three vectorised steps:

1. Householder reduction ``Q^T A Q = T`` to a symmetric tridiagonal ``T`` (``n - 2``
   symmetric rank-2 updates, ``4n^3/3`` flops).
2. All eigenvalues of ``T`` at once by Sturm-sequence multisection (``dstebz``): the
   number of negative pivots of the ``LDL^T`` factorisation of ``T - x I`` counts the
   eigenvalues below ``x``; every eigenvalue's bracket is cut into ``k + 1`` pieces per
   sweep, one Python loop over the ``n`` rows per sweep, vectorised over all brackets.
3. Eigenvectors of ``T`` by inverse iteration (``dstein``): one tridiagonal LU with
   partial pivoting per eigenvalue (vectorised across eigenvalues), a few solves, and
   Gram-Schmidt (QR) inside clusters of close eigenvalues; then ``V = Q Z``.

Everything here is private: ``interviewlib.linalg.eigh`` is the public entry point.

References: J. W. Demmel, *Applied Numerical Linear Algebra*, SIAM 1997, 5.2-5.3;
J. W. Demmel, I. Dhillon and H. Ren, "On the correctness of some bisection-like parallel
eigenvalue algorithms in floating point arithmetic", ETNA 3:116-149, 1995.
"""

from __future__ import annotations

import numpy as np

from .qr import householder_qr

__all__: list[str] = []

_EPS = np.finfo(np.float64).eps
_TINY = np.finfo(np.float64).tiny
_MULTISECTION_POINTS = 7  # k points per bracket and sweep: 3 bits per sweep instead of 1
_CLUSTER_RTOL = 1e-3  # eigenvalues closer than this * ||T|| are re-orthogonalised (dstein's ORTOL)
_MAX_INVERSE_ITERATIONS = 5  # dstein's MAXITS; 1-2 solves suffice away from clusters
_SEED = 20_240_101  # fixed start vectors: the result is deterministic


def _householder_tridiagonal(A: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Reduce a symmetric ``A`` (n, n) to ``T = Q^T A Q`` with diagonal ``d``, off-diagonal ``e``.

    ``Q = H_0 H_1 ... H_{n-3}``, ``H_k = I - 2 v_k v_k^T`` acting on rows ``k+1:``; ``vs[k]``
    is the unit vector ``v_k`` (zero when column ``k`` was already reduced).
    """
    B = np.array(A, dtype=np.float64, copy=True)
    n = B.shape[0]
    vs = []
    for k in range(n - 2):
        x = B[k + 1 :, k]
        big = np.max(np.abs(x[1:]))
        if big == 0.0:  # nothing below the subdiagonal: H_k = I
            vs.append(np.zeros(n - k - 1))
            continue
        big = max(big, abs(x[0]))
        u = x / big  # scaled so that squares neither underflow nor overflow
        norm_u = np.linalg.norm(u)
        alpha = -norm_u if u[0] >= 0 else norm_u  # sign chosen so that v_0 = u_0 - alpha does not cancel
        v = u.copy()
        v[0] -= alpha
        v /= np.linalg.norm(v)
        alpha *= big
        # H B22 H = B22 - v w^T - w v^T with p = B22 v and w = 2 p - 2 (v.p) v.
        B22 = B[k + 1 :, k + 1 :]
        p = B22 @ v
        w = 2.0 * p - (2.0 * (v @ p)) * v
        B22 -= np.column_stack((v, w)) @ np.vstack((w, v))  # v w^T + w v^T in one product
        B[k + 1, k] = B[k, k + 1] = alpha
        B[k + 2 :, k] = B[k, k + 2 :] = 0.0
        vs.append(v)
    return np.diag(B).copy(), np.diag(B, 1).copy(), vs


def _apply_q(vs: list[np.ndarray], Z: np.ndarray) -> np.ndarray:
    """Return ``Q Z`` for ``Q = H_0 ... H_{n-3}`` (backward accumulation, rank-1 updates)."""
    X = Z.copy()
    for k in range(len(vs) - 1, -1, -1):
        v = vs[k]
        block = X[k + 1 :]
        block -= np.outer(2.0 * v, v @ block)
    return X


def _gershgorin(d: np.ndarray, e: np.ndarray) -> tuple[float, float]:
    """Interval ``[lo, hi]`` that contains every eigenvalue of the tridiagonal ``(d, e)``."""
    r = np.zeros_like(d)
    r[:-1] += np.abs(e)
    r[1:] += np.abs(e)
    return float(np.min(d - r)), float(np.max(d + r))


def _sturm_counts(d: np.ndarray, e2: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Number of eigenvalues of the tridiagonal ``(d, sqrt(e2))`` below each point of ``x``.

    The pivots ``q_i = (d_i - x) - e_{i-1}^2 / q_{i-1}`` of ``T - x I = L D L^T`` (Sylvester's
    law of inertia: negative pivots = negative eigenvalues). Loop over the rows,
    vectorised over the points. ``e2 > 0`` (floored by the caller) so a zero pivot gives
    ``+-inf`` and then ``+-0``, never ``nan``. A pivot counts as negative by its sign bit,
    so ``-0`` (which divides into ``-inf``) is negative and ``+0`` positive: a zero pivot
    acts as a tiny one of the same sign. Bisection relies on the count being monotone in
    ``x``; Demmel, Dhillon & Ren (1995, extending Kahan 1966) show that a carefully
    implemented count is, in monotone (IEEE) floating point arithmetic.
    """
    Qs = np.subtract.outer(d, x)  # (n, points): d_i - x, overwritten by the pivots
    tmp = np.empty_like(x)
    with np.errstate(divide="ignore", over="ignore"):
        for i in range(1, d.shape[0]):
            np.divide(e2[i - 1], Qs[i - 1], out=tmp)
            np.subtract(Qs[i], tmp, out=Qs[i])
    return np.count_nonzero(np.signbit(Qs), axis=0)


def _multisection_eigvalsh(d: np.ndarray, e: np.ndarray) -> np.ndarray:
    """All eigenvalues (ascending) of the tridiagonal ``(d, e)`` to ``2 eps`` times its Gershgorin bound.

    Eigenvalue ``i`` (0-based) lies in ``[lo_i, hi_i)`` with ``count(lo_i) <= i < count(hi_i)``.
    Each sweep evaluates ``k`` equally spaced points inside every bracket and keeps the
    piece where the count crosses ``i``: the bracket shrinks by ``k + 1`` per sweep
    (about 15 sweeps for double precision with ``k = 7`` after the first, grid, sweep).
    """
    n = d.shape[0]
    k = _MULTISECTION_POINTS
    e2 = np.maximum(e * e, _TINY)
    glo, ghi = _gershgorin(d, e)
    span = max(abs(glo), abs(ghi), _TINY)
    tol = 2.0 * _EPS * span
    glo -= 2.0 * n * _EPS * span  # widen: rounding in the counts must not push an eigenvalue out
    ghi += 2.0 * n * _EPS * span
    # First sweep: every bracket is the whole interval, so spend its n k counts on one
    # grid across it; eigenvalue i lies between the last grid point with count <= i
    # and the next one.
    grid = np.linspace(glo, ghi, n * k + 2)
    j = np.searchsorted(_sturm_counts(d, e2, grid[1:-1]), np.arange(n), side="right")
    lo, hi = grid[j], grid[j + 1]
    idx = np.arange(n)[:, None]  # eigenvalue index of each bracket
    steps = np.arange(1, k + 1)
    while np.max(hi - lo) > tol:
        h = (hi - lo) / (k + 1)
        x = lo[:, None] + steps * h[:, None]  # (n, k) points, increasing along a row
        below = _sturm_counts(d, e2, x.ravel()).reshape(n, k) <= idx
        j = np.count_nonzero(below, axis=1)  # pieces to the left of eigenvalue i
        lo, hi = lo + j * h, np.where(j == k, hi, lo + (j + 1) * h)
    return (lo + hi) / 2.0


def _tridiagonal_lu(d: np.ndarray, e: np.ndarray, w: np.ndarray, pivmin: float):
    """LU with partial pivoting of ``T - w_j I`` for every ``w_j`` at once (LAPACK ``dlagtf``).

    Returns ``(U1, U2, U3, L, swap)``, each (n, m) with one column per shift: ``U`` has
    diagonal ``U1`` and two superdiagonals ``U2``, ``U3`` (the second is fill-in from row
    swaps); step ``i`` eliminated row ``i + 1`` with multiplier ``L[i]`` after swapping rows
    ``i, i + 1`` where ``swap[i]``. Pivots smaller than ``pivmin`` are replaced by
    ``pivmin``: ``T - w_j I`` is singular to working precision by design.
    """
    n, m = d.shape[0], w.shape[0]
    U1, U2, U3, L = (np.zeros((n, m)) for _ in range(4))
    swap = np.zeros((n, m), dtype=bool)
    a = d[0] - w  # (m,) current diagonal entry of the row being reduced
    b = np.full(m, e[0] if n > 1 else 0.0)  # and the entry to its right
    for i in range(n - 1):
        below = d[i + 1] - w  # row i + 1 of T - wI: (e_i, below, e_next)
        e_next = e[i + 1] if i + 2 < n else 0.0
        s = np.abs(e[i]) > np.abs(a)
        piv = np.where(s, e[i], a)
        piv = np.where(np.abs(piv) < pivmin, pivmin, piv)
        mult = np.where(s, a, e[i]) / piv
        U1[i], U2[i], U3[i], L[i], swap[i] = piv, np.where(s, below, b), np.where(s, e_next, 0.0), mult, s
        a, b = np.where(s, b - mult * below, below - mult * b), np.where(s, -mult * e_next, e_next)
    U1[n - 1] = np.where(np.abs(a) < pivmin, pivmin, a)
    return U1, U2, U3, L, swap


def _tridiagonal_solve(factors, Y: np.ndarray) -> np.ndarray:
    """Solve ``(T - w_j I) x_j = y_j`` for every column with the factors of ``_tridiagonal_lu``."""
    U1, U2, U3, L, swap = factors
    Y = Y.copy()
    n = Y.shape[0]
    for i in range(n - 1):  # forward: apply the row swaps and multipliers
        yi, yn, s = Y[i], Y[i + 1], swap[i]
        Y[i], Y[i + 1] = np.where(s, yn, yi), np.where(s, yi - L[i] * yn, yn - L[i] * yi)
    X = np.zeros_like(Y)
    X[n - 1] = Y[n - 1] / U1[n - 1]
    if n > 1:
        X[n - 2] = (Y[n - 2] - U2[n - 2] * X[n - 1]) / U1[n - 2]
    for i in range(n - 3, -1, -1):  # back substitution with two superdiagonals
        X[i] = (Y[i] - U2[i] * X[i + 1] - U3[i] * X[i + 2]) / U1[i]
    return X


def _tridiagonal_residuals(d: np.ndarray, e: np.ndarray, w: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Column norms of ``T X - X diag(w)``."""
    R = (d[:, None] - w) * X
    R[:-1] += e[:, None] * X[1:]
    R[1:] += e[:, None] * X[:-1]
    return np.linalg.norm(R, axis=0)


def _clusters(w: np.ndarray, gap: float) -> list[np.ndarray]:
    """Index runs of sorted ``w`` whose neighbours are at most ``gap`` apart (size >= 2 only)."""
    breaks = np.flatnonzero(np.diff(w) > gap) + 1
    return [c for c in np.split(np.arange(w.shape[0]), breaks) if c.shape[0] > 1]


def _inverse_iteration(d: np.ndarray, e: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Orthonormal eigenvectors (columns) of the tridiagonal ``(d, e)`` for sorted eigenvalues ``w``."""
    n = d.shape[0]
    norm_t = max(float(np.max(np.abs(d)) + 2.0 * np.max(np.abs(e), initial=0.0)), _TINY)
    factors = _tridiagonal_lu(d, e, w, _EPS * norm_t)
    clusters = _clusters(w, _CLUSTER_RTOL * norm_t)
    tol = n * _EPS * norm_t
    X = np.random.default_rng(_SEED).uniform(-1.0, 1.0, (n, n))
    for _ in range(_MAX_INVERSE_ITERATIONS):
        X = _tridiagonal_solve(factors, X / np.max(np.abs(X), axis=0))  # scaled: no overflow
        for c in clusters:  # Gram-Schmidt in ascending order keeps a cluster's vectors apart
            X[:, c] = householder_qr(X[:, c])[0]
        X /= np.linalg.norm(X, axis=0)
        if np.all(_tridiagonal_residuals(d, e, w, X) <= tol):
            break
    return X


def _split_points(d: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Block boundaries of ``T``: ``e_i`` is negligible when ``|e_i| <= eps sqrt(|d_i d_{i+1}|)``.

    The relative test of LAPACK's ``dsteqr``; a zero ``e_i`` always splits. Returns the
    start index of every diagonal block and ``n`` at the end.
    """
    small = np.abs(e) <= _EPS * np.sqrt(np.abs(d[:-1])) * np.sqrt(np.abs(d[1:]))
    return np.concatenate(([0], np.flatnonzero(small) + 1, [d.shape[0]]))


def _pow2(x: float) -> float:
    """The power of two ``2^k`` with ``x / 2^k`` in ``[0.5, 1)``: dividing by it is exact."""
    return float(np.ldexp(1.0, np.frexp(x)[1]))


def _tridiagonal_eigh_core(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (ascending) and orthonormal eigenvectors of a symmetric ``A`` (n >= 1).

    ``T`` is solved block by block where it splits (loop over blocks; one block unless an
    off-diagonal entry is negligible), so a diagonal ``A`` gives exact unit eigenvectors.
    """
    n = A.shape[0]
    big = float(np.max(np.abs(A)))
    if big == 0.0:
        return np.zeros(n), np.eye(n)
    scale = _pow2(big)  # scaling by a power of two is exact
    d, e, vs = _householder_tridiagonal(A / scale)
    w, Z = np.empty(n), np.zeros((n, n))
    bounds = _split_points(d, e)
    for lo, hi in zip(bounds[:-1], bounds[1:]):  # eigenpairs of block T[lo:hi, lo:hi]
        if hi - lo == 1:
            w[lo], Z[lo, lo] = d[lo], 1.0
        else:  # scale the block too (exactly): a tiny block must not underflow in e^2
            db, eb = d[lo:hi], e[lo : hi - 1]
            s = _pow2(max(np.max(np.abs(db)), np.max(np.abs(eb))))
            w[lo:hi] = _multisection_eigvalsh(db / s, eb / s)
            Z[lo:hi, lo:hi] = _inverse_iteration(db / s, eb / s, w[lo:hi])
            w[lo:hi] *= s
    order = np.argsort(w, kind="stable")
    return w[order] * scale, _apply_q(vs, Z[:, order])
