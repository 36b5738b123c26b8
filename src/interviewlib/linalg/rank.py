r"""Matrix rank by Gaussian elimination: floating point with a tolerance, and exact.

The rank of :math:`A \in \mathbb{R}^{m \times n}` is the number of pivots left after
reducing :math:`A` to row echelon form. In floating point a pivot that "should" be zero
comes out as rounding noise, so a pivot counts only if it exceeds a tolerance relative to
the size of the matrix; over the rationals (``fractions.Fraction``) no tolerance is needed.

See questions q01-01 and q01-02.
"""

from __future__ import annotations

import numbers
from fractions import Fraction
from typing import Any

import numpy as np

from .._validation import as_matrix, check_option, check_scalar


def default_tol(A: Any) -> float:
    r"""Default pivot tolerance for :func:`rank` and :func:`row_echelon`.

    Parameters
    ----------
    A : array_like, shape (m, n)
        Real matrix.

    Returns
    -------
    float
        :math:`\max(m, n)\,\varepsilon\,\max_{ij}|a_{ij}|` with :math:`\varepsilon` the
        float64 machine epsilon; ``0.0`` for an empty or zero matrix.

    Raises
    ------
    TypeError
        If ``A`` is not numeric.
    ValueError
        If ``A`` is not 2-D or contains NaN or infinity.

    Notes
    -----
    ``numpy.linalg.matrix_rank`` drops singular values below
    :math:`\sigma_1 \max(m, n)\,\varepsilon`. Elimination has no :math:`\sigma_1`; the
    largest entry, which is also the first pivot of complete pivoting, is the natural
    scale that costs nothing and satisfies
    :math:`\max_{ij}|a_{ij}| \le \sigma_1 \le \sqrt{mn}\,\max_{ij}|a_{ij}|`. The
    rounding error of elimination satisfies :math:`|E| \le \gamma_n |\hat L||\hat U|`
    (:math:`\gamma_n \approx n\varepsilon`), at worst about
    :math:`n^2\varepsilon\,\rho\,\max_{ij}|a_{ij}|` per entry and in practice much
    smaller (:math:`\rho` the growth factor, small in practice): that is what a pivot of
    an exactly rank-deficient matrix looks like, and ``max(m, n) * eps`` times the scale
    mirrors NumPy's choice.
    See question q01-02.

    References
    ----------
    numpy.linalg.matrix_rank documentation, NumPy 2.4.
    G. H. Golub and C. F. Van Loan, *Matrix Computations*, 4th ed., 2013, sections 3.3-3.4.

    Examples
    --------
    >>> default_tol([[1.0, -4.0], [2.0, 3.0]]) == 2 * 4.0 * 2.0**-52
    True
    """
    arr = as_matrix(A, "A")
    return _default_tol_core(arr)


def _default_tol_core(A: np.ndarray) -> float:
    if A.size == 0:
        return 0.0
    return float(max(A.shape) * np.finfo(np.float64).eps * np.max(np.abs(A)))


def row_echelon(A: Any, *, tol: float | None = None) -> tuple[np.ndarray, tuple[int, ...]]:
    r"""Row echelon form by Gaussian elimination with partial pivoting.

    Parameters
    ----------
    A : array_like, shape (m, n)
        Real matrix; not modified.
    tol : float, optional
        Entries of absolute value ``<= tol`` are treated as zero when looking for a pivot.
        Default :func:`default_tol`. ``tol=0`` is the naive exact-zero test.

    Returns
    -------
    R : numpy.ndarray, shape (m, n)
        Upper (row echelon) form: row ``k`` has its pivot in column ``pivots[k]`` and
        zeros below every pivot; rows after the last pivot row are zero.
    pivots : tuple of int
        Pivot columns, increasing; ``len(pivots)`` is the numerical rank.

    Raises
    ------
    TypeError
        If ``A`` is not numeric or ``tol`` is not a real number.
    ValueError
        If ``A`` is not 2-D or not finite, or ``tol`` is negative or not finite.

    Notes
    -----
    Column by column: pick the largest remaining entry of the column as pivot (partial
    pivoting bounds the multipliers by 1), swap it up, subtract multiples of the pivot
    row from the rows below (one rank-1 update). A column whose remaining entries are all
    ``<= tol`` has no pivot and is zeroed. Cost :math:`O(mn\min(m, n))` flops.

    Partial pivoting is not *rank revealing*: a nearly rank-deficient matrix can have
    all its pivots far from zero (Kahan's example), so for numerical rank prefer the SVD
    (``numpy.linalg.matrix_rank``), or at least complete pivoting (:func:`rank`'s
    default) or QR with column pivoting. See question q01-02.

    References
    ----------
    G. H. Golub and C. F. Van Loan, *Matrix Computations*, 4th ed., 2013, section 3.4.

    Examples
    --------
    >>> R, piv = row_echelon([[1, 2, 3], [2, 4, 6], [1, 0, 1]])
    >>> piv
    (0, 1)
    >>> bool(np.all(R[2] == 0))
    True
    """
    arr = as_matrix(A, "A")
    tol_ = _check_tol(tol, arr)
    return _row_echelon_core(arr, tol_)


def rank(A: Any, *, tol: float | None = None, pivoting: str = "complete") -> int:
    r"""Numerical rank of ``A`` by Gaussian elimination.

    Parameters
    ----------
    A : array_like, shape (m, n)
        Real matrix; not modified.
    tol : float, optional
        Pivot tolerance, default :func:`default_tol`
        (:math:`\max(m, n)\,\varepsilon\,\max_{ij}|a_{ij}|`).
    pivoting : {"complete", "partial"}
        ``"complete"`` (default) takes the largest entry of the whole remaining block as
        pivot, swapping rows and columns; ``"partial"`` takes the largest entry of the
        current column (the textbook row echelon form, :func:`row_echelon`).

    Returns
    -------
    int
        Number of pivots larger than ``tol``; ``0`` for empty and zero matrices.

    Raises
    ------
    TypeError
        If ``A`` is not numeric or ``tol`` is not a real number.
    ValueError
        If ``A`` is not 2-D or not finite, ``tol`` is negative or not finite, or
        ``pivoting`` is not one of the options.

    Notes
    -----
    With complete pivoting the first pivot is :math:`\max_{ij}|a_{ij}|`, the pivots
    usually decrease, and elimination stops at the first pivot below ``tol``: the
    tolerance is "``max(m, n) * eps`` times the largest pivot", the analogue of NumPy's
    ``S.max() * max(M, N) * eps``. Partial pivoting only looks down one column, so when
    the leading columns of a rank-deficient matrix are ill conditioned the rounding noise
    left in the trailing block is amplified far above the tolerance and the rank is
    overestimated. Neither is guaranteed to reveal the rank (Kahan's matrix defeats
    both); the SVD is. Cost :math:`O(mn\min(m, n))`. See question q01-02.

    References
    ----------
    G. H. Golub and C. F. Van Loan, *Matrix Computations*, 4th ed., 2013, sections 3.4 and 5.4.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((6, 2)) @ rng.standard_normal((2, 5))  # rank 2
    >>> rank(A), rank(A, tol=0.0)
    (2, 5)
    """
    arr = as_matrix(A, "A")
    tol_ = _check_tol(tol, arr)
    check_option(pivoting, "pivoting", ("complete", "partial"))
    if pivoting == "partial":
        return len(_row_echelon_core(arr, tol_)[1])
    return _rank_complete_core(arr, tol_)


def _rank_complete_core(A: np.ndarray, tol: float) -> int:
    W = np.array(A, dtype=np.float64, copy=True)  # never write into the caller's array
    m, n = W.shape
    r = 0
    while r < min(m, n):
        block = np.abs(W[r:, r:])
        i, j = divmod(int(np.argmax(block)), n - r)
        if block[i, j] <= tol:
            break  # every remaining entry is rounding noise
        if i:
            W[[r, r + i]] = W[[r + i, r]]
        if j:
            W[:, [r, r + j]] = W[:, [r + j, r]]
        W[r + 1 :, r + 1 :] -= np.outer(W[r + 1 :, r] / W[r, r], W[r, r + 1 :])  # rank-1 update
        r += 1
    return r


def _check_tol(tol: Any, A: np.ndarray) -> float:
    if tol is None:
        return _default_tol_core(A)
    return float(check_scalar(tol, "tol", kind="real", low=0.0))


def _row_echelon_core(A: np.ndarray, tol: float) -> tuple[np.ndarray, tuple[int, ...]]:
    R = np.array(A, dtype=np.float64, copy=True)  # never write into the caller's array
    m, n = R.shape
    pivots: list[int] = []
    r = 0  # next pivot row
    for j in range(n):
        if r == m:
            break
        col = np.abs(R[r:, j])
        p = r + int(np.argmax(col))
        if col[p - r] <= tol:
            R[r:, j] = 0.0  # no pivot in this column: the rest is rounding noise
            continue
        if p != r:
            R[[r, p]] = R[[p, r]]
        mult = R[r + 1 :, j] / R[r, j]  # |mult| <= 1 thanks to partial pivoting
        R[r + 1 :, j + 1 :] -= np.outer(mult, R[r, j + 1 :])
        R[r + 1 :, j] = 0.0
        pivots.append(j)
        r += 1
    R[r:] = 0.0
    return R, tuple(pivots)


def rank_exact(A: Any) -> int:
    r"""Exact rank of an integer or rational matrix by fraction arithmetic.

    Parameters
    ----------
    A : array_like, shape (m, n)
        Nested sequence or array of ``int``, ``bool``, ``fractions.Fraction``, numpy
        integers, or floats with an integral value (``2.0``). Not modified.

    Returns
    -------
    int
        The rank over the rationals (equal to the rank over the reals).

    Raises
    ------
    TypeError
        If ``A`` is ragged or an entry is not a number (strings, ``None``, complex).
    ValueError
        If ``A`` is not 2-D, or an entry is NaN, infinite, or a non-integral float.

    Notes
    -----
    Non-integral floats are rejected on purpose: ``0.1`` is stored as the binary fraction
    ``3602879701896397/36028797018963968``, so its "exact" rank is rarely what the caller
    means. Pass ``Fraction("0.1")`` for the decimal value, ``Fraction(0.1)`` for the
    binary one, or use :func:`rank` with a tolerance. Entries of the echelon form can
    grow in size (numerator and denominator digits), so this is for small matrices.
    See question q01-02.

    Examples
    --------
    >>> from fractions import Fraction
    >>> rank_exact([[1, 2], [2, 4]])
    1
    >>> rank_exact([[Fraction(1, 3), 1], [1, 3]])
    1
    """
    M = _as_fraction_matrix(A)
    return _rank_exact_core(M)


def _as_fraction_matrix(A: Any) -> np.ndarray:
    try:
        arr = np.array(A, dtype=object)
    except Exception as exc:  # ragged nested lists
        raise TypeError(f"A must be a 2-D array-like of rational numbers; got {type(A).__name__} ({exc}).") from exc
    if arr.ndim != 2:
        raise ValueError(f"A must be 2-D; got {arr.ndim}-D array of shape {arr.shape}.")
    out = np.empty(arr.shape, dtype=object)
    for idx, v in np.ndenumerate(arr):  # exact conversion needs Python objects
        out[idx] = _to_fraction(v, idx)
    return out


def _to_fraction(v: Any, idx: tuple[int, ...]) -> Fraction:
    if isinstance(v, numbers.Rational):  # int, bool, Fraction, numpy integers
        return Fraction(int(v.numerator), int(v.denominator))
    if isinstance(v, numbers.Real) and not isinstance(v, numbers.Rational):
        x = float(v)
        if not np.isfinite(x):
            raise ValueError(f"A must contain only finite values; got {x} at index {idx}.")
        if not x.is_integer():
            raise ValueError(
                f"A must contain integers or fractions.Fraction; got non-integral float {x!r} at index {idx}. "
                "Pass Fraction(str(x)) for the decimal value or use rank(A, tol=...) for floats."
            )
        return Fraction(int(x))
    raise TypeError(f"A must contain rational numbers (int, Fraction); got {type(v).__name__} {v!r} at index {idx}.")


def _rank_exact_core(M: np.ndarray) -> int:
    R = M.copy()
    m, n = R.shape
    r = 0
    for j in range(n):
        if r == m:
            break
        nz = np.flatnonzero(R[r:, j] != 0)
        if nz.size == 0:
            continue
        p = r + int(nz[0])  # any non-zero pivot is exact
        if p != r:
            R[[r, p]] = R[[p, r]]
        mult = R[r + 1 :, j] / R[r, j]
        R[r + 1 :, j + 1 :] = R[r + 1 :, j + 1 :] - np.outer(mult, R[r, j + 1 :])
        R[r + 1 :, j] = Fraction(0)
        r += 1
    return r
