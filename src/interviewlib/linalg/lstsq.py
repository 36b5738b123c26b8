r"""Linear least squares three ways, and ridge regression (question q01-04).

``min_x ||A x - b||_2``: the residual of the solution is orthogonal to the column space
of ``A`` (``A^T r = 0``, the normal equations), i.e. ``A x`` is the orthogonal projection
of ``b`` onto ``range(A)``. The three routes differ in numerical stability:

* ``"normal"``: Cholesky on ``A^T A``; cheapest, but ``cond(A^T A) = cond(A)^2``.
* ``"qr"``: Householder ``A = QR``, then ``R x = Q^T b``; error governed by ``cond(A)``.
* ``"svd"``: ``x = V diag(1/s) U^T b`` over the singular values kept; handles rank
  deficiency and returns the minimum-norm solution.
"""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array, as_matrix, check_option, check_scalar
from .qr import _householder_core
from .svd import _default_rcond, _svd_core

__all__ = ["lstsq", "ridge"]


def _validate_system(A, b) -> tuple[np.ndarray, np.ndarray]:
    A = as_matrix(A, "A")
    b = as_float_array(b, "b", ndim=(1, 2))
    if b.shape[0] != A.shape[0]:
        raise ValueError(f"b must have as many rows as A (A has shape {A.shape}); got b of shape {b.shape}.")
    return A, b


def _solve_upper(R: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Back substitution for upper-triangular ``R`` (n, n); ``y`` is (n, k). Loops over rows."""
    n = R.shape[0]
    x = np.zeros_like(y)
    for i in range(n - 1, -1, -1):
        x[i] = (y[i] - R[i, i + 1 :] @ x[i + 1 :]) / R[i, i]
    return x


def _cholesky(G: np.ndarray) -> np.ndarray | None:
    """Lower-triangular ``L`` with ``G = L L^T``, or ``None`` if a pivot is not positive."""
    L = np.tril(G).astype(np.float64)  # working copy; the lower triangle is overwritten
    n = L.shape[0]
    for k in range(n):
        if L[k, k] <= 0.0:
            return None
        L[k, k] = np.sqrt(L[k, k])
        L[k + 1 :, k] /= L[k, k]
        # right-looking update of the trailing lower triangle with column k
        L[k + 1 :, k + 1 :] -= np.tril(np.outer(L[k + 1 :, k], L[k + 1 :, k]))
    return L


def _rank_error(method: str, shape: tuple[int, int], detail: str) -> ValueError:
    return ValueError(
        f"A must have full column rank for method={method!r}; got shape {shape} ({detail}). "
        "Use method='svd' for the minimum-norm solution of a rank-deficient or wide system."
    )


def _lstsq_core(A: np.ndarray, B: np.ndarray, method: str, rcond: float) -> np.ndarray:
    """Solve for a 2-D right-hand side ``B`` (m, k)."""
    m, n = A.shape
    if n == 0:
        return np.zeros((0, B.shape[1]))
    if method == "svd":
        if m == 0:
            return np.zeros((n, B.shape[1]))
        U, s, Vt = _svd_core(A, False)
        keep = s > rcond * s[0]
        return Vt[keep].T @ ((U[:, keep].T @ B) / s[keep][:, None])
    if m < n:
        raise _rank_error(method, A.shape, "fewer rows than columns")
    if method == "qr":
        _, RB = _householder_core(np.hstack([A, B]), n)  # [R | Q^T B] in one pass
        R, y = RB[:n, :n], RB[:n, n:]
        d = np.abs(np.diag(R))
        if d.min() <= rcond * d.max():
            raise _rank_error(method, A.shape, f"min|r_ii| / max|r_ii| = {d.min() / max(d.max(), 1e-300):.2e}")
        return _solve_upper(R, y)
    # normal equations
    L = _cholesky(A.T @ A)
    if L is None:
        raise _rank_error(method, A.shape, "A^T A is not numerically positive definite")
    z = _solve_upper(L[::-1, ::-1], (A.T @ B)[::-1])[::-1]  # forward substitution L z = A^T B
    return _solve_upper(L.T, z)


def lstsq(A, b, *, method: str = "qr", rcond: float | None = None) -> np.ndarray:
    r"""Least-squares solution of ``A x ~= b``.

    Parameters
    ----------
    A : array_like, shape (m, n)
        Real finite matrix.
    b : array_like, shape (m,) or (m, k)
        Right-hand side(s).
    method : {"qr", "normal", "svd"}
        ``"qr"`` (default): Householder QR, backward stable. ``"normal"``: Cholesky on
        ``A^T A`` (shown for teaching: it squares the condition number). ``"svd"``:
        pseudoinverse; the only route for rank-deficient or wide ``A``.
    rcond : float, optional
        Relative cutoff, default ``max(m, n) * eps`` (as ``numpy.linalg.lstsq``). For
        ``"svd"``: singular values ``<= rcond * s_max`` are treated as zero. For ``"qr"``:
        ``A`` is declared rank-deficient when ``min|r_ii| <= rcond * max|r_ii|``.

    Returns
    -------
    x : ndarray, shape (n,) or (n, k)
        The solution (minimum-norm for ``"svd"``).

    Raises
    ------
    TypeError
        If ``A`` or ``b`` is not numeric.
    ValueError
        If ``A`` is not 2-D, ``b`` is not 1-D/2-D with ``m`` rows, entries are not
        finite, ``method`` is unknown, or (``"qr"``/``"normal"``) ``A`` is wide or
        numerically rank-deficient: those routes refuse rather than return an arbitrary
        solution, and the message points to ``method="svd"``.

    Notes
    -----
    See question q01-04. Relative error bounds (Golub & Van Loan 5.3): for QR about
    ``eps (cond(A) + cond(A)^2 ||r|| / (||A|| ||x||))``; for the normal equations about
    ``eps cond(A)^2`` even when the residual is zero. The rank test on ``R``'s diagonal
    is a heuristic (unpivoted QR can hide near rank deficiency); the SVD route is the
    reliable one. ``A`` with zero columns gives an empty ``x``; ``A`` with zero rows has
    minimum-norm solution ``0`` (``"svd"``).

    References
    ----------
    .. [1] G. H. Golub and C. F. Van Loan, *Matrix Computations*, 4th ed., 2013, 5.3.
    .. [2] L. N. Trefethen and D. Bau, *Numerical Linear Algebra*, 1997, lectures 11, 18-19.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([0.0, 1.0, 2.0, 3.0])
    >>> A = np.column_stack([np.ones(4), t])
    >>> b = 1.0 + 2.0 * t                     # exact line: intercept 1, slope 2
    >>> np.round(lstsq(A, b), 10).tolist()
    [1.0, 2.0]
    >>> np.round(lstsq(np.ones((3, 2)), np.ones(3), method="svd"), 10).tolist()   # minimum norm
    [0.5, 0.5]
    """
    A, b = _validate_system(A, b)
    method = check_option(method, "method", ("qr", "normal", "svd"))
    if rcond is None:
        rcond = _default_rcond(A.shape)
    rcond = check_scalar(rcond, "rcond", low=0.0, high=1.0, high_inclusive=False)
    B = b[:, None] if b.ndim == 1 else b
    x = _lstsq_core(A, B, method, rcond)
    return x[:, 0] if b.ndim == 1 else x


def ridge(A, b, *, alpha: float) -> np.ndarray:
    r"""Ridge (Tikhonov) solution ``argmin_x ||A x - b||^2 + alpha ||x||^2``.

    Parameters
    ----------
    A : array_like, shape (m, n)
        Real finite matrix (any shape or rank).
    b : array_like, shape (m,) or (m, k)
        Right-hand side(s).
    alpha : float
        Regularisation strength, ``alpha > 0`` (for ``alpha = 0`` use
        ``lstsq(A, b, method="svd")``, which needs a singular-value cutoff).

    Returns
    -------
    x : ndarray, shape (n,) or (n, k)
        ``(A^T A + alpha I)^{-1} A^T b``, computed as ``V diag(s / (s^2 + alpha)) U^T b``.

    Raises
    ------
    TypeError, ValueError
        As :func:`lstsq`, and for ``alpha`` not a positive finite real number.

    Notes
    -----
    See question q01-04. In the SVD basis ridge multiplies the least-squares
    coefficient of each singular direction by the filter factor ``s^2 / (s^2 + alpha)``:
    directions with ``s^2 >> alpha`` are kept, those with ``s^2 << alpha`` (the noisy
    ones that blow up the plain solution) are damped. Equivalently it is least squares
    on ``[A; sqrt(alpha) I] x ~= [b; 0]``, whose condition number is at most
    ``sqrt((s_max^2 + alpha) / alpha)``. No intercept is fitted (centre the data first).

    References
    ----------
    .. [1] A. E. Hoerl and R. W. Kennard, "Ridge regression: biased estimation for
       nonorthogonal problems", Technometrics 12(1), 1970. doi:10.1080/00401706.1970.10488634

    Examples
    --------
    >>> import numpy as np
    >>> A = np.eye(2); b = np.array([1.0, 2.0])
    >>> np.round(ridge(A, b, alpha=1.0), 12).tolist()      # (I + I)^{-1} b = b / 2
    [0.5, 1.0]
    """
    A, b = _validate_system(A, b)
    alpha = check_scalar(alpha, "alpha", low=0.0, low_inclusive=False)
    m, n = A.shape
    B = b[:, None] if b.ndim == 1 else b
    if A.size == 0:
        x = np.zeros((n, B.shape[1]))
    else:
        U, s, Vt = _svd_core(A, False)
        x = Vt.T @ ((s / (s**2 + alpha))[:, None] * (U.T @ B))
    return x[:, 0] if b.ndim == 1 else x
