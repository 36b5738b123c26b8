r"""How scaling and squaring picks the Padé degree m and the number of squarings s (q01-03).

Two rules, both vectorised over a stack ``(B, n, n)`` of matrices:

* Higham (2005), Algorithm 2.3: from :math:`\|A\|_1` alone.
* Al-Mohy and Higham (2009), Algorithm 5.1 (``scipy.linalg.expm``): from
  :math:`d_k = \|A^k\|_1^{1/k}` and the correction :math:`\ell(A, m)`.

Used by :func:`interviewlib.linalg.expm` and :func:`interviewlib.linalg.expm_params`.
"""

from __future__ import annotations

import math

import numpy as np

from .normest import _onenormest_core

#: Largest 1-norm of A for which the [m/m] Padé approximant r_m(A) has backward error
#: at most u = 2**-53 in IEEE double precision: Higham (2005), Table 2.3 (theta_m, m = 3,
#: 5, 7, 9, 13). Al-Mohy and Higham (2009), and SciPy 1.17.1, use the same theta_3..theta_9
#: but theta_13 = 4.25 (``THETA13_2009``) with their ||A^k||^(1/k) bounds.
THETA = {
    3: 1.495585217958292e-2,
    5: 2.539398330063230e-1,
    7: 9.504178996162932e-1,
    9: 2.097847961257068e0,
    13: 5.371920351148152e0,
}
THETA13_2009 = 4.25
_U = 2.0**-53
# Below this order d_8 and d_10 come from the formed products A^4 A^4 and A^4 A^6 (two extra
# matrix products, as SciPy 1.17.1 does below 400); from this order on they are estimated.
_EXACT_NORM_MAX_N = 400


def error_coefficient(m: int) -> float:
    r"""|c_{2m+1}| = (m!)^2 / ((2m)! (2m+1)!), the leading coefficient of e^x - r_m(x) (and of log(e^-x r_m(x)))."""
    return math.factorial(m) ** 2 / (math.factorial(2 * m) * math.factorial(2 * m + 1))


def _norm1(X: np.ndarray) -> np.ndarray:
    return np.max(np.sum(np.abs(X), axis=-2), axis=-1)  # max column sum, per matrix


def _ceil_log2(x: np.ndarray) -> np.ndarray:
    """ceil(log2(x)) exactly for x > 0 (via frexp), and a large negative number for x == 0."""
    frac, e = np.frexp(x)  # x = frac * 2**e with frac in [0.5, 1)
    return np.where(x > 0, e - (frac == 0.5), -(2**30))


def _log2_abs_power_norms(A: np.ndarray, ks: tuple[int, ...]) -> dict[int, np.ndarray]:
    r"""log2 of || |A|^k ||_1 for each k in ks, exactly, without overflow.

    |A|^k is non-negative, so its 1-norm is the largest entry of the row vector 1^T |A|^k:
    k vector-matrix products, renormalised at each step (the scale is kept in log2). A
    vector that vanishes (nilpotent |A|) gives about -1022 per step: ell is then 0.
    """
    absA = np.abs(A)
    v = np.ones((A.shape[0], 1, A.shape[-1]))
    log_scale = np.zeros(A.shape[0])
    out = {}
    for k in range(1, max(ks) + 1):
        v = v @ absA
        c = np.maximum(np.max(v, axis=(-2, -1)), np.finfo(float).tiny)
        v /= c[:, None, None]
        log_scale += np.log2(c)
        if k in ks:
            out[k] = log_scale.copy()
    return out


def _ell(log2P: dict[int, np.ndarray], m: int, shift: np.ndarray | int = 0) -> np.ndarray:
    r"""ell(2^-shift A, m) = max(ceil(log2(alpha / u) / 2m), 0), alpha = |c_2m+1| || |A|^(2m+1) || / ||A||."""
    log2_alpha = math.log2(error_coefficient(m)) + log2P[2 * m + 1] - 2 * m * np.asarray(shift) - log2P[1]
    return np.maximum(np.ceil((log2_alpha - math.log2(_U)) / (2 * m)), 0).astype(int)


def _s_2005(norm1: np.ndarray) -> np.ndarray:
    """Smallest s >= 0 with norm1 / 2**s <= theta_13 (Higham 2005)."""
    return np.maximum(_ceil_log2(norm1 / THETA[13]), 0)


def _select_2005(A: np.ndarray):
    norm1 = _norm1(A)
    m = np.full(A.shape[0], 13)
    for deg in (9, 7, 5, 3):  # the smallest degree whose theta covers ||A||_1 wins
        m[norm1 <= THETA[deg]] = deg
    s = np.where(m == 13, _s_2005(norm1), 0)
    return m, s, np.zeros_like(s), {1: A}


def _norms_of_products(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """||X_i Y_i||_1 for each i: exactly below _EXACT_NORM_MAX_N, else the block estimator."""
    if X.shape[-1] < _EXACT_NORM_MAX_N:
        return _norm1(X @ Y)
    rng = np.random.default_rng(0)  # fixed seed: the same A always gets the same (m, s)
    return np.array([_onenormest_core([x, y], 2, 5, rng) for x, y in zip(X, Y)])


def _select_2009(A: np.ndarray):
    B = A.shape[0]
    s0 = np.zeros(B, dtype=int)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is detected just below
        A2 = A @ A
        A4 = A2 @ A2
        A6 = A4 @ A2
    bad = ~np.all(np.isfinite(A6), axis=(-2, -1))
    if bad.any():  # a power overflowed: pre-scale those matrices by the 2005 rule first
        A = A.copy()
        s0[bad] = _s_2005(_norm1(A[bad]))
        A[bad] = np.ldexp(A[bad], -s0[bad][:, None, None])
        A2[bad] = A[bad] @ A[bad]
        A4[bad] = A2[bad] @ A2[bad]
        A6[bad] = A4[bad] @ A2[bad]
    powers = {1: A, 2: A2, 4: A4, 6: A6}
    d4, d6 = _norm1(A4) ** (1 / 4), _norm1(A6) ** (1 / 6)
    log2P = _log2_abs_power_norms(A, (1, 7, 11, 15, 19, 27))
    m = np.zeros(B, dtype=int)
    s = np.zeros(B, dtype=int)
    eta1 = np.maximum(d4, d6)
    for deg in (3, 5):
        m[(m == 0) & (eta1 <= THETA[deg]) & (_ell(log2P, deg) == 0)] = deg
    rest = np.flatnonzero(m == 0)
    if rest.size:
        if A.shape[-1] < _EXACT_NORM_MAX_N:
            A8 = np.zeros_like(A)
            A8[rest] = A4[rest] @ A4[rest]
            powers[8] = A8
            d8 = _norm1(A8[rest]) ** (1 / 8)
        else:
            d8 = _norms_of_products(A4[rest], A4[rest]) ** (1 / 8)
        eta3 = np.maximum(d6[rest], d8)
        for deg in (7, 9):
            ok = (m[rest] == 0) & (eta3 <= THETA[deg]) & (_ell({k: v[rest] for k, v in log2P.items()}, deg) == 0)
            m[rest[ok]] = deg
        keep = m[rest] == 0
        big = rest[keep]
        if big.size:
            d10 = _norms_of_products(A4[big], A6[big]) ** (1 / 10)
            eta4 = np.maximum(d8[keep], d10)
            eta5 = np.minimum(eta3[keep], eta4)
            sb = np.maximum(_ceil_log2(eta5 / THETA13_2009), 0)
            sb += _ell({k: v[big] for k, v in log2P.items()}, 13, shift=sb)
            m[big], s[big] = 13, sb
    return m, s + s0, s0, powers


def select_params(A: np.ndarray, method: str):
    """(m, s, s0, powers) for a (B, n, n) stack: degree, squarings, pre-scaling, {k: (2^-s0 A)^k}."""
    return _select_2009(A) if method == "almohy2009" else _select_2005(A)
