r"""The matrix exponential :math:`e^A = \sum_{k \ge 0} A^k / k!`, three ways.

* :func:`expm` -- scaling and squaring with a diagonal Padé approximant, following
  Higham (2005), Algorithm 2.3. This is the method to use.
* :func:`expm_taylor` -- the truncated power series, as written on a whiteboard. Fine for
  small norms; for large norms it loses everything to cancellation.
* :func:`expm_eig` -- :math:`V e^{\Lambda} V^{-1}` from an eigendecomposition. Exact in
  exact arithmetic for diagonalisable matrices; wrong for defective ones and inaccurate
  when the eigenvector matrix is ill conditioned (non-normal matrices).

See question q01-03.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._validation import as_matrix, check_scalar

#: Largest 1-norm of A for which the [m/m] Padé approximant r_m(A) has backward error
#: at most 2**-53 in IEEE double precision: Higham (2005), Table 2.3 (theta_m, m = 3, 5,
#: 7, 9, 13), as in MATLAB's 2005-era expm. scipy.sparse.linalg._matfuncs (Al-Mohy and
#: Higham 2009) uses the same theta_3..theta_9 but a smaller theta_13 = 4.25 together
#: with its ||A^k||^(1/k) estimates, so its scaling parameter s can differ from ours.
THETA = {
    3: 1.495585217958292e-2,
    5: 2.539398330063230e-1,
    7: 9.504178996162932e-1,
    9: 2.097847961257068e0,
    13: 5.371920351148152e0,
}


def pade_coefficients(m: int) -> tuple[float, ...]:
    r"""Coefficients :math:`b_0, \dots, b_m` of the [m/m] Padé approximant to :math:`e^x`.

    Parameters
    ----------
    m : int
        Degree, ``m >= 1``.

    Returns
    -------
    tuple of float, length m + 1
        :math:`b_j = \frac{(2m - j)!}{j!\,(m - j)!}` (integers), so that
        :math:`p_m(x) = \sum_j b_j x^j`, :math:`q_m(x) = p_m(-x)` and
        :math:`r_m = p_m / q_m` matches :math:`e^x` up to :math:`O(x^{2m+1})`.

    Raises
    ------
    TypeError
        If ``m`` is not an integer.
    ValueError
        If ``m < 1``.

    Notes
    -----
    The textbook coefficients :math:`c_j = \frac{(2m-j)!\,m!}{(2m)!\,j!\,(m-j)!}` are
    :math:`b_j` divided by :math:`b_0 = (2m)!/m!`; scaling numerator and denominator by the
    same constant does not change :math:`r_m` and keeps every coefficient an exact integer.
    See question q01-03.

    References
    ----------
    N. J. Higham, "The scaling and squaring method for the matrix exponential revisited",
    SIAM J. Matrix Anal. Appl. 26(4), 2005, eq. (2.2).

    Examples
    --------
    >>> pade_coefficients(3)
    (120.0, 60.0, 12.0, 1.0)
    """
    m = check_scalar(m, "m", kind="int", low=1)
    return tuple(float(math.factorial(2 * m - j) // (math.factorial(j) * math.factorial(m - j))) for j in range(m + 1))


def expm(A: Any) -> np.ndarray:
    r"""Matrix exponential by scaling and squaring with a Padé approximant.

    Parameters
    ----------
    A : array_like, shape (n, n)
        Real square matrix; not modified.

    Returns
    -------
    numpy.ndarray, shape (n, n)
        :math:`e^A`. A ``(0, 0)`` input gives a ``(0, 0)`` output.

    Raises
    ------
    TypeError
        If ``A`` is not numeric.
    ValueError
        If ``A`` is not 2-D, not square, or contains NaN or infinity.

    Notes
    -----
    Higham (2005), Algorithm 2.3. With :math:`\|A\|_1 \le \theta_m` for the smallest
    :math:`m \in \{3, 5, 7, 9\}`, return :math:`r_m(A)`. Otherwise choose the smallest
    :math:`s \ge 0` with :math:`\|A / 2^s\|_1 \le \theta_{13}`, compute
    :math:`r_{13}(A / 2^s)` and square it :math:`s` times:
    :math:`e^A = (e^{A/2^s})^{2^s}`. The :math:`\theta_m` guarantee a relative backward
    error :math:`\le u = 2^{-53}` of the Padé truncation in exact arithmetic, i.e.
    :math:`r_m(2^{-s}A)^{2^s} = e^{A + \Delta A}` with :math:`\|\Delta A\| \le u \|A\|`;
    rounding errors (notably in the squaring phase) are not covered by this bound. :math:`r_m = p_m / q_m` is evaluated as
    :math:`(V - U)^{-1}(V + U)` with :math:`U` the odd and :math:`V` the even part of
    :math:`p_m`; degree 13 costs 6 matrix products and one linear solve.

    A small backward error gives a small *forward* error only for well-conditioned
    problems; for very non-normal matrices the later algorithm of Al-Mohy and Higham
    (2009), used by ``scipy.linalg.expm``, avoids some over-scaling. See question q01-03.

    References
    ----------
    N. J. Higham, "The scaling and squaring method for the matrix exponential revisited",
    SIAM J. Matrix Anal. Appl. 26(4):1179-1193, 2005. doi:10.1137/04061101X.

    Examples
    --------
    >>> t = 0.5
    >>> E = expm([[0.0, -t], [t, 0.0]])  # rotation by t radians
    >>> bool(np.allclose(E, [[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]]))
    True
    """
    arr = as_matrix(A, "A", square=True)
    return _expm_core(arr)


def _expm_core(A: np.ndarray) -> np.ndarray:
    n = A.shape[0]
    if n == 0:
        return np.zeros((0, 0))
    norm1 = float(np.max(np.sum(np.abs(A), axis=0)))  # ||A||_1, max column sum
    for m in (3, 5, 7, 9):
        if norm1 <= THETA[m]:
            return _pade(A, m)
    s = 0
    if norm1 > THETA[13]:
        frac, exp2 = math.frexp(norm1 / THETA[13])  # norm1 / theta = frac * 2**exp2, frac in [0.5, 1)
        s = exp2 - (frac == 0.5)  # smallest s with norm1 / 2**s <= theta_13
    X = _pade(A * 2.0**-s, 13)  # A / 2**s: exact, a power of two
    for _ in range(s):
        X = X @ X
    return X


def _pade(A: np.ndarray, m: int) -> np.ndarray:
    """r_m(A) = q_m(A)^{-1} p_m(A) with p_m = V + U, q_m = V - U (Higham 2005, Section 2)."""
    b = pade_coefficients(m)
    ident = np.eye(A.shape[0])
    A2 = A @ A
    if m < 13:
        # powers A^0, A^2, ..., A^(m-1); U = A * sum b_odd A^(2k), V = sum b_even A^(2k)
        powers = [ident, A2]
        for _ in range((m - 1) // 2 - 1):
            powers.append(powers[-1] @ A2)
        U = A @ sum(b[2 * k + 1] * P for k, P in enumerate(powers))
        V = sum(b[2 * k] * P for k, P in enumerate(powers))
    else:
        A4 = A2 @ A2
        A6 = A4 @ A2
        U = A @ (A6 @ (b[13] * A6 + b[11] * A4 + b[9] * A2) + b[7] * A6 + b[5] * A4 + b[3] * A2 + b[1] * ident)
        V = A6 @ (b[12] * A6 + b[10] * A4 + b[8] * A2) + b[6] * A6 + b[4] * A4 + b[2] * A2 + b[0] * ident
    return np.linalg.solve(V - U, V + U)


def expm_taylor(A: Any, *, terms: int) -> np.ndarray:
    r"""Truncated power series :math:`\sum_{k=0}^{\text{terms}-1} A^k / k!`.

    Parameters
    ----------
    A : array_like, shape (n, n)
        Real square matrix; not modified.
    terms : int
        Number of series terms, ``>= 1``.

    Returns
    -------
    numpy.ndarray, shape (n, n)

    Raises
    ------
    TypeError
        If ``A`` is not numeric or ``terms`` is not an integer.
    ValueError
        If ``A`` is not square or finite, or ``terms < 1``.

    Notes
    -----
    Exact (up to rounding) for nilpotent :math:`A` with ``terms >= n``, because
    :math:`A^n = 0`. For large :math:`\|A\|` the terms grow to about
    :math:`e^{\|A\|}` before they decay, so with :math:`e^{A}` small (e.g. :math:`A = -xI`)
    the rounding error :math:`\approx u\,e^{\|A\|}` swamps the answer: catastrophic
    cancellation (Moler and Van Loan 2003, method 1). Use :func:`expm`. See question q01-03.

    References
    ----------
    C. Moler and C. Van Loan, "Nineteen dubious ways to compute the exponential of a
    matrix, twenty-five years later", SIAM Review 45(1):3-49, 2003.

    Examples
    --------
    >>> N = [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]
    >>> expm_taylor(N, terms=3).tolist()
    [[1.0, 1.0, 0.5], [0.0, 1.0, 1.0], [0.0, 0.0, 1.0]]
    """
    arr = as_matrix(A, "A", square=True)
    terms = check_scalar(terms, "terms", kind="int", low=1)
    n = arr.shape[0]
    out = np.eye(n)
    term = np.eye(n)
    for k in range(1, terms):
        term = term @ arr / k  # A^k / k!
        out = out + term
    return out


def expm_eig(A: Any) -> np.ndarray:
    r"""Matrix exponential through the eigendecomposition :math:`A = V \Lambda V^{-1}`.

    Parameters
    ----------
    A : array_like, shape (n, n)
        Real square matrix; not modified.

    Returns
    -------
    numpy.ndarray, shape (n, n)
        Real part of :math:`V \operatorname{diag}(e^{\lambda_i}) V^{-1}` (the imaginary
        part of the exact result is zero for real :math:`A`).

    Raises
    ------
    TypeError
        If ``A`` is not numeric.
    ValueError
        If ``A`` is not 2-D, not square, or not finite.

    Notes
    -----
    Deliberately naive, to show the failure modes. The error is roughly
    :math:`u\,\kappa(V)\,\|e^A\|`: fine for normal matrices (:math:`\kappa(V) = 1`), poor
    for non-normal ones and meaningless for defective ones, where ``numpy.linalg.eig``
    returns nearly parallel eigenvectors and :math:`V^{-1}` amplifies rounding by
    :math:`\kappa(V) \approx 1/u`. No error is raised: check ``numpy.linalg.cond(V)``.
    See question q01-03.

    References
    ----------
    C. Moler and C. Van Loan, 2003, method 14 (matrix decomposition methods).

    Examples
    --------
    >>> bool(np.allclose(expm_eig([[1.0, 0.0], [0.0, 2.0]]), np.diag(np.exp([1.0, 2.0]))))
    True
    """
    arr = as_matrix(A, "A", square=True)
    if arr.shape[0] == 0:
        return np.zeros((0, 0))
    w, V = np.linalg.eig(arr)
    return np.real((V * np.exp(w)) @ np.linalg.inv(V))
