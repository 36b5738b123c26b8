r"""Eigenvalues in practice: power iteration, Rayleigh quotient iteration, Jacobi, tridiagonal (q01-05).

Nobody computes eigenvalues as roots of ``det(A - lambda I)``: the polynomial's roots are
violently sensitive to its coefficients. Practical methods are iterations on the matrix:
power iteration (dominant pair, linear rate ``|lambda_2 / lambda_1|``), Rayleigh quotient
iteration (one pair, cubically for symmetric ``A``), and for the whole symmetric spectrum
the cyclic Jacobi method: plane rotations ``J^T A J`` that zero one off-diagonal pair at a
time, ``n/2`` disjoint pairs per round applied at once. The default of ``eigh`` is the
faster LAPACK-style route: Householder tridiagonalisation, Sturm-sequence bisection and
inverse iteration (module ``tridiagonal``).
"""

from __future__ import annotations

import warnings

import numpy as np

from .._rng import as_generator
from .._validation import as_float_array, as_matrix, check_option, check_scalar
from .svd import _jacobi_rotation, _round_robin
from .tridiagonal import _pow2, _tridiagonal_eigh_core

__all__ = ["power_iteration", "rayleigh_quotient_iteration", "eigh"]

_EPS = np.finfo(np.float64).eps
# Accept matrices symmetric up to rounding of a computation such as B + B.T or X.T @ X.
_SYM_RTOL = 1e-10


def _as_symmetric(A, name: str = "A") -> np.ndarray:
    """Validate a real symmetric matrix and return its exactly symmetrised copy."""
    A = as_matrix(A, name, square=True)
    if A.size:
        asym = float(np.max(np.abs(A - A.T)))
        if asym > _SYM_RTOL * max(float(np.max(np.abs(A))), np.finfo(np.float64).tiny):
            raise ValueError(
                f"{name} must be symmetric; got max|{name} - {name}.T| = {asym:.3g}. "
                f"Symmetrise it with ({name} + {name}.T) / 2 if that is intended."
            )
    return (A + A.T) / 2.0


def _start_vector(n: int, v0, rng) -> np.ndarray:
    if v0 is None:
        v = as_generator(rng).standard_normal(n)
    else:
        v = as_float_array(v0, "v0", ndim=1)
        if v.shape[0] != n:
            raise ValueError(f"v0 must be a vector of length {n}; got shape {np.shape(v0)}.")
        if not np.any(v):
            raise ValueError("v0 must be non-zero; got the zero vector.")
    return v / np.linalg.norm(v)


def power_iteration(A, *, v0=None, tol: float = 1e-10, max_iter: int = 1000, rng=None, return_history: bool = False):
    r"""Dominant eigenpair by power iteration ``v <- A v / ||A v||``.

    Parameters
    ----------
    A : array_like, shape (n, n)
        Real square matrix with a unique eigenvalue of largest modulus (real).
    v0 : array_like, shape (n,), optional
        Start vector (non-zero); random normal from ``rng`` if omitted.
    tol : float
        Stop when ``||A v - lambda v|| <= tol * ||A||_F``.
    max_iter : int
        Maximum number of matrix-vector products.
    rng : numpy.random.Generator, int or None
        Source of the random start vector.
    return_history : bool
        Also return the iterates.

    Returns
    -------
    lam : float
        Rayleigh quotient ``v^T A v`` of the final unit vector.
    v : ndarray, shape (n,)
        Unit eigenvector estimate (sign arbitrary).
    history : ndarray, shape (k + 1, n)
        The unit iterates ``v_0 ... v_k``; only if ``return_history``.

    Raises
    ------
    TypeError, ValueError
        On non-square, empty or non-finite ``A``, bad ``v0``, ``tol`` or ``max_iter``.

    Warns
    -----
    RuntimeWarning
        If the residual test is not met within ``max_iter`` iterations (e.g. when
        ``|lambda_1| = |lambda_2|``, as for ``[[0, 1], [1, 0]]`` or a rotation).

    Notes
    -----
    See question q01-05. Writing ``v_0 = sum_i c_i x_i`` in an eigenbasis,
    ``A^k v_0 = lambda_1^k (c_1 x_1 + sum_{i>1} c_i (lambda_i / lambda_1)^k x_i)``: the
    direction error decays like ``|lambda_2 / lambda_1|^k`` (the Rayleigh quotient's error
    like its square for symmetric ``A``). One iteration costs one matrix-vector product,
    which is why it survives in PageRank and in spectral-norm estimates.

    References
    ----------
    .. [1] G. H. Golub and C. F. Van Loan, *Matrix Computations*, 4th ed., 2013, 7.3.1.

    Examples
    --------
    >>> import numpy as np
    >>> lam, v = power_iteration(np.array([[2.0, 1.0], [1.0, 2.0]]), rng=0)
    >>> round(lam, 8), bool(np.allclose(np.abs(v), np.sqrt(0.5)))
    (3.0, True)
    """
    A = as_matrix(A, "A", square=True, allow_empty=False)
    tol = check_scalar(tol, "tol", low=0.0, low_inclusive=False)
    max_iter = check_scalar(max_iter, "max_iter", kind="int", low=1)
    n = A.shape[0]
    v = _start_vector(n, v0, rng)
    scale = np.linalg.norm(A)
    history = [v]
    lam = float(v @ A @ v)
    for _ in range(max_iter):
        w = A @ v
        lam = float(v @ w)
        if np.linalg.norm(w - lam * v) <= tol * scale:
            break
        v = w / np.linalg.norm(w)
        history.append(v)
    else:
        warnings.warn(
            f"power_iteration did not converge in max_iter={max_iter} iterations; the two "
            "largest eigenvalues may have equal modulus.",
            RuntimeWarning,
            stacklevel=2,
        )
    if return_history:
        return lam, v, np.array(history)
    return lam, v


def rayleigh_quotient_iteration(
    A, *, v0=None, tol: float = 1e-12, max_iter: int = 50, rng=None, return_history: bool = False
):
    r"""One eigenpair of a symmetric matrix by Rayleigh quotient iteration.

    Each step solves ``(A - mu_k I) w = v_k`` with the current Rayleigh quotient
    ``mu_k = v_k^T A v_k`` as shift and normalises ``w``.

    Parameters
    ----------
    A : array_like, shape (n, n)
        Real symmetric matrix.
    v0 : array_like, shape (n,), optional
        Start vector; the eigenpair found is usually the one whose eigenvector is
        closest to ``v0`` (not guaranteed). Random if omitted.
    tol : float
        Stop when ``||A v - mu v|| <= tol * ||A||_F``.
    max_iter : int
        Maximum number of linear solves.
    rng : numpy.random.Generator, int or None
        Source of the random start vector.
    return_history : bool
        Also return the residual norms ``||A v_k - mu_k v_k||`` of each iterate.

    Returns
    -------
    mu : float
        Eigenvalue.
    v : ndarray, shape (n,)
        Unit eigenvector (sign arbitrary).
    residuals : ndarray
        Only if ``return_history``.

    Raises
    ------
    TypeError, ValueError
        On non-square, non-symmetric, empty or non-finite ``A`` and bad arguments.

    Warns
    -----
    RuntimeWarning
        If ``tol`` is not reached within ``max_iter`` solves.

    Notes
    -----
    See question q01-05. Convergence is cubic for symmetric ``A``: the number of correct
    digits roughly triples per step, so 3-5 solves suffice. The shifted matrix becomes
    nearly singular as ``mu`` converges; that is harmless, because the error of the solve
    lies almost entirely along the wanted eigenvector (Trefethen & Bau, lecture 27). The
    dense solve (LU, ``numpy.linalg.solve``) costs ``O(n^3)`` per step; in practice RQI
    is used on tridiagonal matrices where it costs ``O(n)``.

    References
    ----------
    .. [1] L. N. Trefethen and D. Bau, *Numerical Linear Algebra*, 1997, lecture 27.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[2.0, 1.0], [1.0, 2.0]])
    >>> mu, v = rayleigh_quotient_iteration(A, v0=[1.0, 0.2])
    >>> round(mu, 10)
    3.0
    """
    A = _as_symmetric(A, "A")
    if A.size == 0:
        raise ValueError("A must not be empty; got shape (0, 0).")
    tol = check_scalar(tol, "tol", low=0.0, low_inclusive=False)
    max_iter = check_scalar(max_iter, "max_iter", kind="int", low=1)
    n = A.shape[0]
    v = _start_vector(n, v0, rng)
    scale = max(np.linalg.norm(A), np.finfo(np.float64).tiny)
    eye = np.eye(n)
    residuals = []
    mu = float(v @ A @ v)
    for _ in range(max_iter):
        r = np.linalg.norm(A @ v - mu * v)
        residuals.append(r)
        if r <= tol * scale:
            break
        try:
            w = np.linalg.solve(A - mu * eye, v)
        except np.linalg.LinAlgError:  # mu is an eigenvalue to working precision
            break
        v = w / np.linalg.norm(w)
        mu = float(v @ A @ v)
    else:
        warnings.warn(
            f"rayleigh_quotient_iteration did not converge in {max_iter} iterations.", RuntimeWarning, stacklevel=2
        )
    if return_history:
        return mu, v, np.array(residuals)
    return mu, v


_MAX_SWEEPS = 50


def _jacobi_eigh_core(A: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """Cyclic Jacobi on a symmetric ``A`` (n, n); returns unsorted ``(w, V, off_history)``."""
    # Work on A / 2^k with max|A / 2^k| in [0.5, 1) (exact), as svd and the tridiagonal route
    # do: ||A||_F and the squares in the rotation formulas then cannot overflow (entries
    # ~1e155 would otherwise make ||A||_F = inf and stop every rotation) or underflow.
    scale = _pow2(float(np.max(np.abs(A))))
    A = A / scale
    n = A.shape[0]
    N = n + (n % 2)  # pad with a decoupled zero row/column (its apq is always 0)
    Z = np.zeros((N, 2 * N))  # [A | V^T]: one gather/scatter rotates rows of A and of V^T
    Z[:n, :n] = A
    Z[:, N:] = np.eye(N)
    norm_a = max(np.linalg.norm(A), np.finfo(np.float64).tiny)
    tol = max(n, 1) * _EPS
    floor = _EPS**2 * norm_a  # off-diagonal entries this small are left alone
    history = []
    rounds = _round_robin(N)
    for _ in range(_MAX_SWEEPS):
        M = Z[:, :N]
        off = np.linalg.norm(M - np.diag(np.diag(M))) / norm_a
        history.append(off)
        rotated = False
        for p, q in rounds:
            app, aqq, apq = Z[p, p], Z[q, q], Z[p, q]
            act = (np.abs(apq) > tol * np.sqrt(np.abs(app)) * np.sqrt(np.abs(aqq))) & (np.abs(apq) > floor)
            if not act.any():
                continue
            rotated = True
            p, q = p[act], q[act]
            c, s = _jacobi_rotation(app[act], aqq[act], apq[act])
            cr, sr = c[:, None], s[:, None]
            Zp, Zq = Z[p], Z[q]
            Z[p], Z[q] = cr * Zp - sr * Zq, sr * Zp + cr * Zq  # rows: J^T A and (V J)^T
            Ap, Aq = Z[:N, p], Z[:N, q]
            Z[:N, p], Z[:N, q] = Ap * c - Aq * s, Ap * s + Aq * c  # columns: (J^T A) J
            Z[p, q] = Z[q, p] = 0.0  # zero by construction; remove the rounding residue
        if not rotated:
            return np.diag(Z[:n, :n]) * scale, Z[:n, N : N + n].T.copy(), history
    raise np.linalg.LinAlgError(f"Jacobi eigenvalue iteration did not converge in {_MAX_SWEEPS} sweeps.")


def eigh(A, *, method: str | None = None, return_history: bool = False):
    r"""All eigenvalues and eigenvectors of a real symmetric matrix.

    Parameters
    ----------
    A : array_like, shape (n, n)
        Real symmetric matrix (symmetric to a relative ``1e-10``; it is then symmetrised).
    method : {"tridiagonal", "jacobi"} or None
        ``"tridiagonal"``: Householder tridiagonalisation, Sturm-sequence multisection for
        the eigenvalues, inverse iteration for the eigenvectors (fast; LAPACK's
        ``dstebz`` + ``dstein``, the route ``dsyevx`` takes for part of the spectrum;
        ``numpy.linalg.eigh`` runs ``dsyevd``, divide and conquer, and
        ``scipy.linalg.eigh`` by default ``dsyevr``, MRRR). ``"jacobi"``: cyclic Jacobi
        rotations on ``A`` (simple, slower, more accurate for graded matrices; ``A`` is
        first divided by a power of two near ``max|A|``, so entries near the overflow
        threshold work). ``None`` (default) means ``"tridiagonal"``,
        or ``"jacobi"`` when ``return_history`` is set (the history is Jacobi's).
    return_history : bool
        Also return the relative off-diagonal norm ``||off(A_k)||_F / ||A||_F`` at the
        start of each Jacobi sweep (it falls quadratically once small). Only with
        ``method="jacobi"`` (or ``None``).

    Returns
    -------
    w : ndarray, shape (n,)
        Eigenvalues in ascending order (as ``numpy.linalg.eigh``).
    V : ndarray, shape (n, n)
        Orthonormal eigenvectors as columns, ``A V = V diag(w)``; signs arbitrary and,
        for repeated eigenvalues, any orthonormal basis of the eigenspace.
    history : list of float
        Only if ``return_history``.

    Raises
    ------
    TypeError
        If ``A`` is not numeric.
    ValueError
        If ``A`` is not 2-D, not square, not symmetric or not finite; if ``method`` is
        unknown, or ``return_history`` is combined with ``method="tridiagonal"``.
    numpy.linalg.LinAlgError
        If 50 Jacobi sweeps do not converge (not observed in practice).

    Notes
    -----
    See question q01-05.

    *Jacobi.* A rotation ``J`` in the plane ``(p, q)`` with
    ``tan(theta)`` the smaller root of ``t^2 + 2 zeta t - 1 = 0``,
    ``zeta = (a_qq - a_pp) / (2 a_pq)``, makes ``(J^T A J)_{pq} = 0`` and lowers
    ``||off(A)||_F^2`` by exactly ``2 a_pq^2``. A round-robin sweep visits every pair
    once, ``n/2`` disjoint pairs per round as vector operations; convergence is
    quadratic (typically 6-12 sweeps). A pair is skipped when
    ``|a_pq| <= n eps sqrt(|a_pp a_qq|)``, the relative test under which Jacobi
    computes eigenvalues of positive definite matrices to high relative accuracy
    (Demmel & Veselic 1992). ``O(n^3)`` per sweep, a few times slower than tridiagonal
    QR in flops, but simple, accurate and parallel. ``V`` accumulates the rotations.

    *Tridiagonal.* ``Q^T A Q = T`` by ``n - 2`` Householder reflections, each a
    symmetric rank-2 update (``4n^3/3`` flops). The pivots of ``T - x I = L D L^T`` are
    a Sturm sequence: their number of negatives is the number of eigenvalues below
    ``x``. Every eigenvalue's bracket is cut into 8 pieces per sweep with 7 such counts
    (one ``O(n)`` recurrence, vectorised over all brackets) until it is
    ``2 eps ||T||`` wide. Each eigenvector of ``T`` comes from inverse iteration
    ``(T - lambda I) x_new = x``, an ``O(n)`` tridiagonal solve with partial pivoting,
    vectorised over all eigenvalues; vectors of eigenvalues closer than
    ``1e-3 ||T||`` are re-orthogonalised by QR after each solve (as LAPACK's
    ``dstein``), which also handles repeated eigenvalues. Finally ``V = Q Z``.
    Both methods are backward stable: ``||A V - V diag(w)|| = O(n eps ||A||)`` and
    ``||V^T V - I|| = O(n eps)``; in the tridiagonal route, vectors of eigenvalues
    more than ``1e-3 ||T||`` apart are not re-orthogonalised, and their inner
    products are ``O(eps ||A|| / gap)``, at most ``~1e3 eps``. Only Jacobi gives
    small eigenvalues of graded positive definite matrices (e.g. ``D H D`` with ``H``
    well conditioned, ``D`` diagonal) to high *relative* accuracy; the tridiagonal
    route's error is ``O(eps ||A||)`` absolute, like LAPACK's QR-based drivers
    (Demmel & Veselic 1992).

    References
    ----------
    .. [1] G. H. Golub and C. F. Van Loan, *Matrix Computations*, 4th ed., 2013, 8.3-8.5.
    .. [2] J. Demmel and K. Veselic, "Jacobi's method is more accurate than QR", SIAM J.
       Matrix Anal. Appl. 13(4), 1992. doi:10.1137/0613074
    .. [3] J. W. Demmel, *Applied Numerical Linear Algebra*, SIAM, 1997, 5.3.4
       (bisection and inverse iteration).

    Examples
    --------
    >>> import numpy as np
    >>> w, V = eigh(np.array([[2.0, 1.0], [1.0, 2.0]]))
    >>> np.round(w, 12).tolist()
    [1.0, 3.0]
    >>> bool(np.allclose(np.abs(V), np.sqrt(0.5)))
    True
    >>> w_jacobi, _ = eigh(np.array([[2.0, 1.0], [1.0, 2.0]]), method="jacobi")
    >>> bool(np.allclose(w_jacobi, w))
    True
    """
    if method is None:
        method = "jacobi" if return_history else "tridiagonal"
    method = check_option(method, "method", ("tridiagonal", "jacobi"))
    if return_history and method != "jacobi":
        raise ValueError(
            f"return_history is only available for method='jacobi'; got method={method!r}. "
            "Pass method='jacobi' (or leave method=None)."
        )
    A = _as_symmetric(A, "A")
    n = A.shape[0]
    if n == 0:
        w, V, history = np.zeros(0), np.zeros((0, 0)), []
    elif method == "tridiagonal":
        (w, V), history = _tridiagonal_eigh_core(A), []
    else:
        w, V, history = _jacobi_eigh_core(A)
        order = np.argsort(w, kind="stable")
        w, V = w[order], V[:, order]
    if return_history:
        return w, V, history
    return w, V
