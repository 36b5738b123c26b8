"""Householder QR factorisation (question q01-04).

A Householder reflection ``H = I - 2 v v^T`` (``||v|| = 1``) maps a column onto a multiple
of ``e_1``. Applying ``min(m - 1, n)`` of them, each as a rank-1 update ``B - 2 v (v^T B)``
of a whole block, turns ``A`` into an upper-triangular ``R``; their product is ``Q``.
Unlike classical Gram-Schmidt, the computed ``Q`` is orthogonal to working precision
whatever the condition of ``A``.
"""

from __future__ import annotations

import numpy as np

from .._validation import as_matrix, check_option

__all__ = ["householder_qr"]


def _householder_core(M: np.ndarray, ncols: int, block_size: int = 32) -> tuple[list[np.ndarray], np.ndarray]:
    """Triangularise the first ``ncols`` columns of ``M`` by Householder reflections.

    All columns of ``M`` are transformed (the extra columns receive ``Q^T`` applied to
    them, which is how least squares gets ``Q^T b`` without forming ``Q``).

    Columns are processed in panels of ``block_size``. Inside a panel each reflection is
    a rank-1 update of the panel only; the panel's reflections are then combined into
    the compact WY form ``H_0 ... H_{b-1} = I - Y T Y^T`` (Schreiber & Van Loan) and
    applied to the trailing columns with three matrix products, as LAPACK's ``geqrf``
    does. ``block_size >= ncols`` gives the plain unblocked algorithm.

    Returns
    -------
    vs : list of ndarray
        ``vs[k]`` is the unit Householder vector acting on rows ``k:`` (a zero vector
        means the reflection was skipped because the column was already zero).
    R : ndarray, shape (m, M.shape[1])
        The transformed copy of ``M``; entries below the diagonal of the first
        ``ncols`` columns are set to exactly zero.
    """
    R = np.array(M, dtype=np.float64, order="F", copy=True)  # columns contiguous
    m, ntot = R.shape
    n_refl = min(m - 1, ncols)
    vs = []
    for j0 in range(0, n_refl, block_size):
        j1 = min(j0 + block_size, n_refl)
        Y = np.zeros((m - j0, j1 - j0), order="F")  # Householder vectors of the panel
        T = np.zeros((j1 - j0, j1 - j0))  # upper triangular, H_j0...H_j1-1 = I - Y T Y^T
        for k in range(j0, j1):
            x = R[k:, k]
            big = float(np.max(np.abs(x)))
            if big == 0.0:  # nothing to annihilate: H = I (zero column in Y, T)
                vs.append(np.zeros(m - k))
                continue
            u = x / big  # scaled so that squares neither underflow nor overflow
            # alpha = -sign(u_0) ||u|| avoids cancellation in v_0 = u_0 - alpha.
            alpha = -np.linalg.norm(u) if u[0] >= 0 else np.linalg.norm(u)
            v = u.copy()
            v[0] -= alpha
            v /= np.linalg.norm(v)
            panel = R[k:, k:j1]
            panel -= np.outer(2.0 * v, v @ panel)  # H @ panel as one rank-1 update
            R[k, k] = alpha * big
            R[k + 1 :, k] = 0.0
            i = k - j0
            Y[i:, i] = v
            T[:i, i] = -2.0 * T[:i, :i] @ (Y[:, :i].T @ Y[:, i])
            T[i, i] = 2.0
            vs.append(v)
        if j1 < ntot:  # trailing columns: (I - Y T Y^T)^T C, three matrix products
            C = R[j0:, j1:]
            C -= Y @ (T.T @ (Y.T @ C))
    return vs, R


def _form_q(vs: list[np.ndarray], m: int, ncols: int) -> np.ndarray:
    """Return the first ``ncols`` columns of ``Q = H_0 H_1 ... H_{K-1}``."""
    Q = np.eye(m, ncols)
    for k in range(len(vs) - 1, -1, -1):  # backward accumulation touches only rows k:
        v = vs[k]
        block = Q[k:, k:]
        block -= np.outer(2.0 * v, v @ block)
    return Q


def householder_qr(A, *, mode: str = "reduced"):
    """QR factorisation ``A = Q R`` by Householder reflections.

    Parameters
    ----------
    A : array_like, shape (m, n)
        Real finite matrix (any shape, may be empty).
    mode : {"reduced", "complete", "r"}
        ``"reduced"``: ``Q`` is (m, k), ``R`` is (k, n) with ``k = min(m, n)``.
        ``"complete"``: ``Q`` is (m, m) orthogonal, ``R`` is (m, n).
        ``"r"``: return only ``R`` (k, n); ``Q`` is never formed.

    Returns
    -------
    Q : ndarray, shape (m, k) or (m, m)
        Orthonormal columns (not returned for ``mode="r"``).
    R : ndarray, shape (k, n) or (m, n)
        Upper triangular (trapezoidal when ``m < n``). Diagonal entries may be
        negative; as with LAPACK, the factorisation is unique only up to the signs of
        the rows of ``R`` (columns of ``Q``).

    Raises
    ------
    TypeError
        If ``A`` is not numeric.
    ValueError
        If ``A`` is not 2-D, contains NaN/inf, or ``mode`` is unknown.

    Notes
    -----
    See question q01-04. Reflection ``k`` uses ``v = x - alpha e_1`` with
    ``alpha = -sign(x_0) ||x||`` (no cancellation; ``x`` is scaled by ``max|x|`` first so
    tiny or huge columns neither underflow nor overflow) and is applied as the rank-1
    update ``B - 2 v (v^T B)``: ``2mn^2 - 2n^3/3`` flops for ``R``. Columns are processed
    in panels of 32; each panel's reflections are combined into the compact WY form
    ``I - Y T Y^T`` and applied to the remaining columns with matrix products (as
    LAPACK's ``geqrf``). ``Q`` is accumulated backwards so each step only touches the
    rows it changes. The computed
    factors satisfy ``||Q^T Q - I|| = O(eps)`` and ``||QR - A|| = O(eps ||A||)``
    (Golub & Van Loan, section 5.2).

    References
    ----------
    .. [1] G. H. Golub and C. F. Van Loan, *Matrix Computations*, 4th ed., 2013, 5.1-5.2.
    .. [2] L. N. Trefethen and D. Bau, *Numerical Linear Algebra*, 1997, lecture 10.
    .. [3] R. Schreiber and C. Van Loan, "A storage-efficient WY representation for
       products of Householder transformations", SIAM J. Sci. Stat. Comput. 10(1), 1989.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[3.0, 1.0], [4.0, 2.0]])
    >>> Q, R = householder_qr(A)
    >>> bool(np.allclose(Q @ R, A)), bool(np.allclose(Q.T @ Q, np.eye(2)))
    (True, True)
    >>> abs(round(float(R[0, 0]), 12))   # |r_11| = ||a_1|| = 5
    5.0
    """
    A = as_matrix(A, "A")
    mode = check_option(mode, "mode", ("reduced", "complete", "r"))
    m, n = A.shape
    k = min(m, n)
    vs, R = _householder_core(A, n)
    if mode == "r":
        return R[:k].copy()
    if mode == "complete":
        return _form_q(vs, m, m), R
    return _form_q(vs, m, k), R[:k].copy()
