r"""The matrix exponential :math:`e^A = \sum_{k \ge 0} A^k / k!`, three ways.

* :func:`expm` -- scaling and squaring with a diagonal Padé approximant. The default is
  the algorithm of Al-Mohy and Higham (2009) that ``scipy.linalg.expm`` implements; the
  older rule of Higham (2005) is kept as ``method="higham2005"`` to show what it fixed.
  Works on stacks of matrices ``(..., n, n)``. This is the method to use.
* :func:`expm_params` -- the Padé degree ``m`` and number of squarings ``s`` either
  method chooses.
* :func:`expm_taylor` -- the truncated power series, as written on a whiteboard. Fine for
  small norms; for large norms it loses everything to cancellation.
* :func:`expm_eig` -- :math:`V e^{\Lambda} V^{-1}` from an eigendecomposition. Exact in
  exact arithmetic for diagonalisable matrices; wrong for defective ones and inaccurate
  when the eigenvector matrix is ill conditioned (non-normal matrices).

The choice of ``(m, s)`` lives in the private module ``_expm_params``. See question q01-03.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._validation import as_float_array, as_matrix, check_option, check_scalar
from ._expm_params import THETA, select_params

__all__ = ["THETA", "pade_coefficients", "expm", "expm_params", "expm_taylor", "expm_eig"]

_METHODS = ("almohy2009", "higham2005")


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


def _as_stack(A: Any, name: str = "A") -> np.ndarray:
    """Validate a real matrix or stack of matrices ``(..., n, n)``; return it as float64."""
    arr = as_float_array(A, name)
    if arr.ndim < 2:
        raise ValueError(
            f"{name} must be a matrix or a stack of matrices (at least 2-D); "
            f"got {arr.ndim}-D array of shape {arr.shape}."
        )
    if arr.shape[-1] != arr.shape[-2]:
        raise ValueError(f"{name} must be square; got shape {arr.shape}.")
    return arr


def expm(A: Any, *, method: str = "almohy2009") -> np.ndarray:
    r"""Matrix exponential by scaling and squaring with a Padé approximant.

    Parameters
    ----------
    A : array_like, shape (..., n, n)
        Real square matrix, or a stack of them (leading axes are batch axes, as in
        ``scipy.linalg.expm``); not modified.
    method : {"almohy2009", "higham2005"}
        ``"almohy2009"`` (default): Al-Mohy and Higham (2009), Algorithm 5.1, as in
        ``scipy.linalg.expm``. ``"higham2005"``: Higham (2005), Algorithm 2.3, which picks
        the scaling from :math:`\|A\|_1` alone, squares blindly and can over-scale badly
        (kept for comparison; see :func:`expm_params`).

    Returns
    -------
    numpy.ndarray, shape (..., n, n)
        :math:`e^A` for each matrix. Empty input gives an empty output of the same shape.

    Raises
    ------
    TypeError
        If ``A`` is not real and numeric.
    ValueError
        If ``A`` has fewer than 2 dimensions, its last two differ, or it contains NaN or
        infinity; if ``method`` is unknown.

    Notes
    -----
    :math:`e^A = (e^{A/2^s})^{2^s}`: evaluate the [m/m] Padé approximant
    :math:`r_m(2^{-s}A)` and square it ``s`` times. :math:`r_m = p_m/q_m` is computed as
    :math:`I + 2(V - U)^{-1}U`, ``U`` the odd and ``V`` the even part of :math:`p_m(A)`;
    degree 13 costs 6 products and one solve. Diagonal matrices are exponentiated entrywise.

    *Choosing m and s* (:func:`expm_params`). Higham (2005) takes the smallest
    :math:`m \in \{3,5,7,9\}` with :math:`\|A\|_1 \le \theta_m`, else ``m = 13`` and the
    smallest ``s`` with :math:`\|2^{-s}A\|_1 \le \theta_{13}`: a truncation error below
    ``u = 2^-53`` in backward-error terms. The truncation error is a power series in
    ``A``, and for non-normal ``A`` the sizes :math:`d_k = \|A^k\|_1^{1/k}` can be far
    below :math:`\|A\|_1`; Al-Mohy and Higham (2009) bound it by
    :math:`\eta = \max(d_p, d_q)` instead, with the pairs ``(d_4, d_6)`` for ``m = 3, 5``,
    ``(d_6, d_8)`` for ``m = 7, 9`` and the smaller of ``(d_6, d_8)`` and ``(d_8, d_10)`` for
    ``m = 13`` (with :math:`\theta_{13} = 4.25`). That stops the *over-scaling*: a large
    ``s`` whose squarings amplify rounding errors. Each candidate is accepted only if the
    correction :math:`\ell = \max(\lceil \log_2(\alpha/u) / 2m \rceil, 0)`,
    :math:`\alpha = |c_{2m+1}|\,\| |A|^{2m+1} \|_1 / \|A\|_1`, is zero, and for
    ``m = 13`` it is added to ``s``: it guards against the rounding errors of evaluating
    :math:`r_m` when :math:`|A|` is much larger than the powers of ``A`` suggest.
    The 1-norms: ``d_4, d_6`` from the formed ``A^4, A^6``; ``d_8, d_10`` exactly from
    ``A^4 A^4`` and ``A^4 A^6`` for ``n < 400`` (as SciPy), and from ``n = 400`` by the
    Higham-Tisseur block estimator (:func:`~interviewlib.linalg.normest.onenormest`, fixed
    seed); :math:`\| |A|^k \|_1` always exactly, by ``k`` vector-matrix products with
    :math:`|A|`.

    *Triangular input.* For upper (lower) triangular ``A`` and ``s > 0``, the diagonal of
    each squared iterate is replaced by :math:`e^{2^{-j} a_{ii}}` and the first super-
    (sub-)diagonal by :math:`t\,(e^{b} - e^{a})/(b - a)` (evaluated as
    :math:`t\,e^{\max}\,\mathrm{expm1}(\delta)/\delta`, :math:`\delta = \min - \max`, without
    cancellation) (Al-Mohy and Higham 2009, Code Fragment 2.1); this alone removes the
    error growth of the squarings on the diagonal.

    No balancing (a diagonal similarity :math:`D^{-1}AD`, as LAPACK's ``gebal``) is done,
    as in SciPy: the power-based ``eta`` already ignores the bad scaling that balancing
    would remove, and mapping the result back with :math:`D \cdot D^{-1}` can amplify its
    errors. A power of ``A`` that overflows (:math:`\|A\|_1 \gtrsim 10^{51}`) makes the
    power-based bound useless; those matrices are first scaled by the 2005 rule.

    The result has a small backward error for the Padé truncation; the forward error
    can still be :math:`\kappa_{\exp}(A)\,u`, :math:`\kappa_{\exp}` the condition number.
    See question q01-03.

    References
    ----------
    .. [1] A. H. Al-Mohy and N. J. Higham, "A new scaling and squaring algorithm for the
       matrix exponential", SIAM J. Matrix Anal. Appl. 31(3):970-989, 2009.
       doi:10.1137/09074721X.
    .. [2] N. J. Higham, "The scaling and squaring method for the matrix exponential
       revisited", SIAM J. Matrix Anal. Appl. 26(4):1179-1193, 2005. doi:10.1137/04061101X.

    Examples
    --------
    >>> t = 0.5
    >>> E = expm([[0.0, -t], [t, 0.0]])  # rotation by t radians
    >>> bool(np.allclose(E, [[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]]))
    True
    >>> expm(np.zeros((3, 2, 2))).shape  # a stack of three 2x2 matrices
    (3, 2, 2)
    """
    arr = _as_stack(A, "A")
    method = check_option(method, "method", _METHODS)
    return _expm_core(arr, method)


def expm_params(A: Any, *, method: str = "almohy2009"):
    r"""Padé degree ``m`` and number of squarings ``s`` that :func:`expm` uses.

    Parameters
    ----------
    A : array_like, shape (..., n, n)
        Real square matrix or stack of matrices.
    method : {"almohy2009", "higham2005"}
        Which rule (see :func:`expm`).

    Returns
    -------
    m, s : int, or numpy.ndarray of int with shape ``A.shape[:-2]``
        Ints for a single matrix. ``m = 0, s = 0`` for a diagonal (or empty) matrix, which
        is exponentiated entrywise.

    Raises
    ------
    TypeError
        If ``A`` is not real and numeric.
    ValueError
        As :func:`expm`.

    Notes
    -----
    For ``method="almohy2009"`` and ``n < 400`` the values equal those of SciPy 1.17.1's
    (private) ``scipy.linalg._matfuncs_expm.pick_pade_structure``. See question q01-03.

    Examples
    --------
    >>> A = np.array([[1.0, 1e6], [0.0, -1.0]])  # ||A||_1 = 1e6, but A @ A = I
    >>> expm_params(A, method="higham2005"), expm_params(A)
    ((13, 18), (9, 0))
    """
    arr = _as_stack(A, "A")
    method = check_option(method, "method", _METHODS)
    flat = arr.reshape(-1, arr.shape[-1], arr.shape[-1])
    m = np.zeros(flat.shape[0], dtype=int)
    s = np.zeros(flat.shape[0], dtype=int)
    if flat.size:
        todo = ~_is_diagonal(flat)
        if todo.any():
            m[todo], s[todo], *_ = select_params(flat[todo], method)
    if arr.ndim == 2:
        return int(m[0]), int(s[0])
    return m.reshape(arr.shape[:-2]), s.reshape(arr.shape[:-2])


def _is_diagonal(A: np.ndarray) -> np.ndarray:
    n = A.shape[-1]
    return ~np.any(A * (1.0 - np.eye(n)) != 0.0, axis=(-2, -1))


def _expm_core(A: np.ndarray, method: str) -> np.ndarray:
    """e^A for a validated (..., n, n) stack."""
    shape, n = A.shape, A.shape[-1]
    out = np.zeros(shape)
    if A.size == 0:
        return out
    A = A.reshape(-1, n, n)  # (B, n, n)
    out = out.reshape(-1, n, n)
    r = np.arange(n)
    diag = _is_diagonal(A)
    out[np.flatnonzero(diag)[:, None], r, r] = np.exp(A[diag][:, r, r])  # exact, entrywise
    todo = np.flatnonzero(~diag)
    if todo.size:
        out[todo] = _expm_general(A[todo], method)
    return out.reshape(shape)


def _take(X: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """X[idx], without the copy when idx selects the whole stack (the common case)."""
    return X if idx.size == X.shape[0] else X[idx]


def _expm_general(A: np.ndarray, method: str) -> np.ndarray:
    """Scaling and squaring for a (B, n, n) stack without diagonal matrices."""
    m, s, s0, powers = select_params(A, method)  # powers[k]: (2^-s0 A)^k where formed
    X = np.empty_like(A)
    for deg in np.unique(m):
        idx = np.flatnonzero(m == deg)
        sc = (s - s0)[idx][:, None, None]  # powers of 2^-s0 A are scaled by 2^-(s - s0) more
        P = {k: _take(Ak, idx) * np.ldexp(1.0, -k * sc) if sc.any() else _take(Ak, idx) for k, Ak in powers.items()}
        X[idx] = _pade(P, int(deg))
    upper = ~np.any(np.tril(A, -1), axis=(-2, -1))
    lower = ~np.any(np.triu(A, 1), axis=(-2, -1))
    flip = lower & ~upper  # lower triangular: square the transposes, which are upper
    T = A
    if flip.any():
        X[flip] = np.swapaxes(X[flip], -1, -2)
        T = A.copy()
        T[flip] = np.swapaxes(T[flip], -1, -2)
    tri = upper | lower
    X = _square(X, T, s, fix=tri & (s > 0) & (method == "almohy2009"))  # 2005 squares blindly
    if tri.any():
        X[tri] = np.triu(X[tri])
        X[flip] = np.swapaxes(X[flip], -1, -2)
    return X


def _pade(P: dict[int, np.ndarray], m: int) -> np.ndarray:
    """r_m(A) = I + 2 (V - U)^{-1} U from the powers P[k] = A^k of a (B, n, n) stack."""
    b = pade_coefficients(m)
    A = P[1]
    A2 = P[2] if 2 in P else A @ A
    ident = np.eye(A.shape[-1])
    if m < 13:
        # even powers I, A^2, ..., A^(m-1); U = A sum_k b_(2k+1) A^(2k), V = sum_k b_(2k) A^(2k)
        evens = [ident, A2]
        for k in range(4, m, 2):
            evens.append(P[k] if k in P else evens[-1] @ A2)
        U = A @ sum(b[2 * k + 1] * E for k, E in enumerate(evens))
        V = sum(b[2 * k] * E for k, E in enumerate(evens))
    else:
        A4 = P[4] if 4 in P else A2 @ A2
        A6 = P[6] if 6 in P else A4 @ A2
        U = A @ (A6 @ (b[13] * A6 + b[11] * A4 + b[9] * A2) + b[7] * A6 + b[5] * A4 + b[3] * A2 + b[1] * ident)
        V = A6 @ (b[12] * A6 + b[10] * A4 + b[8] * A2) + b[6] * A6 + b[4] * A4 + b[2] * A2 + b[0] * ident
    return ident + 2.0 * np.linalg.solve(V - U, U)


def _exp_superdiag(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(e^T)_{i,i+1} = t (e^b - e^a) / (b - a) of a 2x2 triangular block [[a, t], [0, b]]."""
    hi = np.maximum(a, b)
    delta = np.minimum(a, b) - hi  # <= 0: expm1(delta) / delta in (0, 1], no cancellation
    safe = np.where(delta == 0.0, 1.0, delta)
    ratio = np.where(delta == 0.0, 1.0, np.expm1(safe) / safe)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(t == 0.0, 0.0, t * np.exp(hi) * ratio)


def _square(X: np.ndarray, T: np.ndarray, s: np.ndarray, fix: np.ndarray) -> np.ndarray:
    """Square X[i] s[i] times; for fix[i] (T[i] upper triangular) recompute its two top diagonals."""
    n = T.shape[-1]
    r = np.arange(n)
    d, sd = T[:, r, r], T[:, r[:-1], r[1:]]  # diagonal and superdiagonal of every T

    def exact_diagonals(rows: np.ndarray, j: np.ndarray, superdiag: bool) -> None:
        scale = np.ldexp(1.0, -j)[:, None]  # X[rows] approximates exp(2^-j T[rows])
        X[rows[:, None], r, r] = np.exp(d[rows] * scale)
        if superdiag:
            a = d[rows] * scale
            X[rows[:, None], r[:-1], r[1:]] = _exp_superdiag(a[:, :-1], a[:, 1:], sd[rows] * scale)

    fixed = np.flatnonzero(fix)
    if fixed.size:
        exact_diagonals(fixed, s[fixed], superdiag=False)
    for k in range(int(s.max(initial=0))):
        act = np.flatnonzero(s > k)
        if act.size == X.shape[0]:
            X = X @ X
        else:
            X[act] = X[act] @ X[act]
        rows = np.flatnonzero(fix & (s > k))
        if rows.size:
            exact_diagonals(rows, s[rows] - k - 1, superdiag=True)
    return X


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
