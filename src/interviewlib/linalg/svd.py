r"""Singular value decomposition by one-sided Jacobi (question q01-06).

One-sided Jacobi (Hestenes 1958) orthogonalises the columns of ``G = A V`` by plane
rotations applied from the right; when all columns are mutually orthogonal,
``A V = G = U \Sigma`` with ``\sigma_i = ||g_i||``. It never forms ``A^T A``, so small
singular values keep their relative accuracy (Demmel & Veselic 1992). Rotations for
disjoint column pairs commute, so a round-robin ordering applies ``n/2`` of them at once
as vector operations. Tall matrices are first reduced by Householder QR (``A = Q R``,
then the SVD of the small square ``R``), and ``R^T`` is rotated by the eigenvectors of
its Gram matrix (from the fast tridiagonal ``eigh``) so that Jacobi starts almost
converged.
"""

from __future__ import annotations

import numpy as np

from .._validation import as_matrix, check_scalar
from .qr import householder_qr
from .tridiagonal import _tridiagonal_eigh_core

__all__ = ["svd", "pinv", "low_rank_approx"]

_EPS = np.finfo(np.float64).eps
_MAX_SWEEPS = 60  # one-sided Jacobi converges quadratically; ~6-12 sweeps in practice


def _round_robin(N: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pairings of ``0..N-1`` (``N`` even) into ``N - 1`` rounds of ``N/2`` disjoint pairs.

    Circle method: index 0 stays, the others rotate one place per round; every pair of
    indices meets exactly once per sweep.
    """
    rest = np.arange(1, N)
    rounds = []
    for r in range(N - 1):
        order = np.concatenate(([0], np.roll(rest, r)))
        rounds.append((order[: N // 2], order[N // 2 :][::-1].copy()))
    return rounds


def _jacobi_rotation(alpha: np.ndarray, beta: np.ndarray, gamma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Cosines and sines of the rotations that zero ``gamma`` in ``[[alpha, gamma], [gamma, beta]]``.

    With ``c, s`` returned, the columns ``x' = c x - s y`` and ``y' = s x + c y`` are
    orthogonal when ``alpha = x.x``, ``beta = y.y``, ``gamma = x.y`` (one-sided Jacobi),
    and ``J^T M J`` is diagonal for ``J = [[c, s], [-s, c]]`` (two-sided Jacobi). The
    smaller root ``t = tan(theta)``, ``|theta| <= pi/4``, of ``t^2 + 2 zeta t - 1 = 0`` is
    taken, which is what makes the method converge. Requires ``gamma != 0``.
    """
    zeta = (beta - alpha) / (2.0 * gamma)
    t = np.copysign(1.0, zeta) / (np.abs(zeta) + np.hypot(1.0, zeta))
    c = 1.0 / np.sqrt(1.0 + t * t)
    return c, c * t


def _one_sided_jacobi(A: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Return ``(G, V, sweeps)``: ``G = A V`` has mutually orthogonal columns, ``V`` is orthogonal.

    ``A`` is (m, n). Column ``j`` of ``G`` and of ``V`` are stored side by side in row
    ``j`` of one work array, so that each round is one gather, one rotation and one
    scatter for ``n/2`` disjoint pairs at once.
    """
    m, n = A.shape
    N = n + (n % 2)  # pad to an even count with a zero column (never rotated)
    Z = np.zeros((N, m + N))  # row j = [column j of G | column j of V]
    Z[:n, :m] = A.T
    Z[:, m:] = np.eye(N)
    tol = max(n, 1) * _EPS  # converged when every |cos(angle)| between columns is below tol
    # A column that is rounding noise of rounding noise (norm <= eps^2 ||A||_F) would
    # otherwise shrink by a factor ~eps per sweep until it underflows: flush it to zero.
    flush = _EPS**2 * np.linalg.norm(A)
    rounds = _round_robin(N)
    for sweep in range(1, _MAX_SWEEPS + 1):
        Z[np.linalg.norm(Z[:, :m], axis=1) <= flush, :m] = 0.0
        # One matrix product gives all cosines at the start of the sweep: stop if every
        # pair is orthogonal, otherwise visit only the pairs that are not (the others are
        # re-examined next sweep). Rotations use exact dot products of the current columns.
        gram = Z[:, :m] @ Z[:, :m].T
        norms = np.sqrt(np.diag(gram))
        todo = np.abs(gram) > tol * np.outer(norms, norms)
        np.fill_diagonal(todo, False)
        if not todo.any():
            return Z[:n, :m].T, Z[:n, m : m + n].T, sweep
        rotated = False
        for p, q in rounds:
            pending = todo[p, q]
            if not pending.any():
                continue
            p, q = p[pending], q[pending]
            Zp, Zq = Z[p], Z[q]
            Gp, Gq = Zp[:, :m], Zq[:, :m]
            alpha = np.einsum("ij,ij->i", Gp, Gp)
            beta = np.einsum("ij,ij->i", Gq, Gq)
            gamma = np.einsum("ij,ij->i", Gp, Gq)
            act = np.abs(gamma) > tol * np.sqrt(alpha) * np.sqrt(beta)
            if not act.all():
                if not act.any():
                    continue
                p, q, Zp, Zq, alpha, beta, gamma = p[act], q[act], Zp[act], Zq[act], alpha[act], beta[act], gamma[act]
            c, s = _jacobi_rotation(alpha, beta, gamma)
            if not s.any():  # angles below rounding level: nothing left to do
                continue
            rotated = True
            c, s = c[:, None], s[:, None]
            Z[p], Z[q] = c * Zp - s * Zq, s * Zp + c * Zq
        if not rotated:  # every pending pair was already orthogonal to working precision
            return Z[:n, :m].T, Z[:n, m : m + n].T, sweep
    raise np.linalg.LinAlgError(f"one-sided Jacobi SVD did not converge in {_MAX_SWEEPS} sweeps.")


def _complete_columns(U: np.ndarray, keep: np.ndarray, ncols: int) -> np.ndarray:
    """Return ``ncols`` orthonormal columns: ``U[:, keep]`` in place, the rest filled in.

    Columns not kept (zero singular values) are replaced by an orthonormal basis of the
    complement of the kept ones, taken from a complete Householder QR.
    """
    m = U.shape[0]
    out = np.zeros((m, ncols))
    out[:, : U.shape[1]][:, keep] = U[:, keep]
    missing = [j for j in range(ncols) if j >= U.shape[1] or not keep[j]]
    if missing:
        Qfull, _ = householder_qr(U[:, keep], mode="complete")
        out[:, missing] = Qfull[:, int(keep.sum()) : int(keep.sum()) + len(missing)]
    return out


def _svd_core(A: np.ndarray, full_matrices: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    m, n = A.shape
    if m < n:  # wide: SVD of the transpose
        U, s, Vt = _svd_core(A.T, full_matrices)
        return Vt.T, s, U.T
    if n == 0:
        return np.eye(m) if full_matrices else np.zeros((m, 0)), np.zeros(0), np.zeros((0, 0))
    # A = Q R (Householder), then one-sided Jacobi on R^T: R^T W = G = U_2 diag(s), so
    # R = W diag(s) U_2^T and A = (Q W) diag(s) U_2^T. Jacobi on R^T needs fewer sweeps than
    # on A or R (the QR step acts as a preconditioner; Drmac & Veselic 2008).
    scale = np.max(np.abs(A))  # work on A / max|A| so squared norms cannot over/underflow
    Q, R = householder_qr(A / scale if scale > 0 else A, mode="reduced")
    # Second preconditioner: rotate R^T by the eigenvectors W0 of its Gram matrix R R^T
    # (fast tridiagonal eigh), largest first. The columns of R^T W0 are then orthogonal up
    # to ~eps s_max^2 / s_i^2, so Jacobi starts in its quadratic regime (often one sweep).
    # Jacobi still runs on R^T W0 itself, so accuracy is that of Jacobi; only directions
    # for s_i below ~sqrt(eps) s_max are left for Jacobi to find.
    W0 = _tridiagonal_eigh_core(R @ R.T)[1][:, ::-1]
    G, W1, _ = _one_sided_jacobi(R.T @ W0)
    W = W0 @ W1
    s = np.linalg.norm(G, axis=0)
    order = np.argsort(-s, kind="stable")
    s, G, W = s[order], G[:, order], W[:, order]
    keep = s > np.finfo(np.float64).tiny  # exact zeros have no direction to normalise
    V = np.zeros_like(G)
    V[:, keep] = G[:, keep] / s[keep]
    if not keep.all():  # complete the right singular vectors to an orthonormal basis
        V = _complete_columns(V, keep, n)
    s = np.where(keep, s * scale, 0.0)
    U = Q @ W
    if full_matrices and m > n:
        U = _complete_columns(U, np.ones(n, dtype=bool), m)
    return U, s, V.T


def svd(A, *, full_matrices: bool = False):
    r"""Singular value decomposition ``A = U diag(s) Vt`` (one-sided Jacobi).

    Parameters
    ----------
    A : array_like, shape (m, n)
        Real finite matrix, any shape (empty allowed).
    full_matrices : bool
        If False (default, unlike numpy), ``U`` is (m, k) and ``Vt`` is (k, n) with
        ``k = min(m, n)``; if True, ``U`` is (m, m) and ``Vt`` is (n, n).

    Returns
    -------
    U : ndarray, shape (m, k) or (m, m)
        Left singular vectors (orthonormal columns).
    s : ndarray, shape (k,)
        Singular values, non-negative, in descending order.
    Vt : ndarray, shape (k, n) or (n, n)
        Right singular vectors as rows.

    Raises
    ------
    TypeError
        If ``A`` is not numeric or ``full_matrices`` is not a bool.
    ValueError
        If ``A`` is not 2-D or contains NaN/inf.
    numpy.linalg.LinAlgError
        If Jacobi does not converge in 60 sweeps (not observed in practice).

    Notes
    -----
    See question q01-06. Wide matrices are handled through ``A^T``; tall ones through
    Householder QR ``A = QR`` followed by the SVD of ``R`` (``U = Q U_R``). Jacobi runs on
    ``R^T W_0``, where ``W_0`` holds the eigenvectors of the Gram matrix ``R R^T`` from the
    tridiagonal ``eigh`` (``method="tridiagonal"``): its columns are then already nearly
    orthogonal and Jacobi converges in one or two sweeps instead of 8-10 for a random
    matrix. The Gram matrix only preconditions: the singular values and vectors come from
    Jacobi on ``R^T W_0``, and multiplying by the orthogonal ``W_0`` perturbs each column of
    ``R`` (hence of ``A``) only by ``O(eps)`` relative to its norm. On that
    factor, rounds of ``n/2`` disjoint column pairs are rotated at once until every
    pair is orthogonal to ``n eps`` relative to its norms; then ``s_i = ||g_i||`` and
    ``u_i = g_i / s_i``. Columns for exact zero singular values (and the extra columns
    of ``full_matrices=True``) are completed to an orthonormal basis by QR. Singular
    vectors are unique only up to sign (and rotations within repeated singular values).
    The relative accuracy of small singular values is the method's strength (Demmel &
    Veselic 1992); forming ``A^T A`` would square the condition number instead.

    References
    ----------
    .. [1] J. Demmel and K. Veselic, "Jacobi's method is more accurate than QR", SIAM J.
       Matrix Anal. Appl. 13(4), 1992. doi:10.1137/0613074
    .. [2] G. H. Golub and C. F. Van Loan, *Matrix Computations*, 4th ed., 2013, 8.6.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[3.0, 0.0], [4.0, 5.0]])
    >>> U, s, Vt = svd(A)
    >>> np.round(s ** 2, 10).tolist()          # eigenvalues of A^T A: 45 and 5
    [45.0, 5.0]
    >>> bool(np.allclose(U * s @ Vt, A))
    True
    """
    A = as_matrix(A, "A")
    if not isinstance(full_matrices, (bool, np.bool_)):
        raise TypeError(f"full_matrices must be a bool; got {type(full_matrices).__name__}.")
    return _svd_core(A, bool(full_matrices))


def _default_rcond(shape: tuple[int, int]) -> float:
    return max(shape) * _EPS


def pinv(A, *, rcond: float | None = None) -> np.ndarray:
    r"""Moore-Penrose pseudoinverse ``A^+ = V diag(1/s_i) U^T`` over the kept singular values.

    Parameters
    ----------
    A : array_like, shape (m, n)
        Real finite matrix.
    rcond : float, optional
        Singular values ``s_i <= rcond * s_max`` are treated as zero. Default
        ``max(m, n) * eps`` (what numpy's ``pinv(A, rtol=None)`` and ``lstsq`` use;
        numpy's ``pinv`` itself defaults to ``1e-15``).

    Returns
    -------
    ndarray, shape (n, m)
        The pseudoinverse. ``A^+ b`` is the minimum-norm least-squares solution.

    Raises
    ------
    TypeError, ValueError
        On non-numeric, non-2-D or non-finite ``A``, or ``rcond`` not in ``[0, 1)``.

    Notes
    -----
    See question q01-06 (and q01-04 for least squares). The cutoff turns the
    discontinuous map ``s -> 1/s`` into a regularised one: without it, singular values
    at rounding level (``~ eps s_max``) would be inverted into huge noise.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[1.0, 2.0], [2.0, 4.0]])      # rank 1
    >>> bool(np.allclose(pinv(A), A.T / 25.0))      # rank-1 closed form A^T / ||A||_F^2
    True
    """
    A = as_matrix(A, "A")
    if rcond is None:
        rcond = _default_rcond(A.shape)
    rcond = check_scalar(rcond, "rcond", low=0.0, high=1.0, high_inclusive=False)
    m, n = A.shape
    if A.size == 0:
        return np.zeros((n, m))
    U, s, Vt = _svd_core(A, False)
    keep = s > rcond * s[0]
    return (Vt[keep].T / s[keep]) @ U[:, keep].T


def low_rank_approx(A, k: int) -> np.ndarray:
    r"""Best rank-``k`` approximation ``A_k = U_k diag(s_1..s_k) V_k^T`` (Eckart-Young).

    Parameters
    ----------
    A : array_like, shape (m, n)
        Real finite matrix.
    k : int
        Target rank, ``0 <= k <= min(m, n)``.

    Returns
    -------
    ndarray, shape (m, n)
        ``A_k``. For every matrix ``B`` of rank at most ``k``,
        ``||A - A_k||_2 = s_{k+1} <= ||A - B||_2`` and
        ``||A - A_k||_F = sqrt(s_{k+1}^2 + ... ) <= ||A - B||_F``.

    Raises
    ------
    TypeError, ValueError
        On bad ``A``, or ``k`` not an integer in ``[0, min(m, n)]``.

    Notes
    -----
    See question q01-06. Storing ``A_k`` as factors costs ``k (m + n + 1)`` numbers
    instead of ``mn``: the idea behind PCA (chapter 5) and LoRA's ``Delta W = B A`` of
    rank at most ``r`` (chapter 8).

    References
    ----------
    .. [1] C. Eckart and G. Young, "The approximation of one matrix by another of lower
       rank", Psychometrika 1(3), 1936. doi:10.1007/BF02288367

    Examples
    --------
    >>> import numpy as np
    >>> A = np.diag([3.0, 2.0, 1.0])
    >>> np.round(low_rank_approx(A, 1), 12).tolist()
    [[3.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    """
    A = as_matrix(A, "A")
    k = check_scalar(k, "k", kind="int", low=0, high=min(A.shape))
    if k == 0:
        return np.zeros_like(A)
    U, s, Vt = _svd_core(A, False)
    return (U[:, :k] * s[:k]) @ Vt[:k]
