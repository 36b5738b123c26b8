"""Tests for interviewlib.linalg.expm: scaling and squaring (2009 and 2005), Taylor, eigen route.

The section "SciPy's expm test suite" ports the cases of SciPy 1.17.1's own tests,
``scipy/linalg/tests/test_matfuncs.py::TestExpM`` and the badly scaled, non-normal and
triangular ones of ``scipy/sparse/linalg/tests/test_matfuncs.py::TestExpM`` (Burkardt's
collection, ``expm(logm(T))``, Pascal, the sinch overflow): the same matrices and expected
properties, written anew here, plus agreement with ``scipy.linalg.expm`` itself.
"""

import math
import warnings
from fractions import Fraction
from math import factorial

import numpy as np
import pytest
import scipy.linalg as sla
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.special import binom

from interviewlib.linalg import THETA, expm, expm_eig, expm_params, expm_taylor, pade_coefficients
from interviewlib.linalg._expm_params import THETA13_2009, error_coefficient
from interviewlib.linalg.expm import _exp_superdiag

U = 2.0**-53  # unit roundoff of float64
# Normwise relative error allowed against an independent reference on well-conditioned
# inputs: both methods are backward stable with errors ~ cond * u ~ 1e-14 for these
# matrices (cond <= 1e2); 1e-12 leaves a factor ~100 for rounding in the squarings.
RTOL = 1e-12
# ours vs scipy.linalg.expm with the same (m, s): the difference is dominated by SciPy's own
# rounding error, which reaches 5e-11 on the ported suite (logm cases with ||A|| ~ 500,
# measured against a 40-digit mpmath reference, where ours is within 2e-13); 1e-9 leaves 20x.
AGREE_RTOL = 1e-9
# ours vs a 40-80 digit mpmath reference: a backward-stable result is within ~ kappa_exp * u;
# 10x that (and never below 1e-13, a few hundred u for the squarings) bounds the rounding.
COND_FACTOR = 10.0
ACC_FLOOR = 1e-13


def relerr(X, ref):
    return np.linalg.norm(X - ref, 1) / np.linalg.norm(ref, 1)


def rand(n, seed, norm1=None):
    A = np.random.default_rng(seed).standard_normal((n, n))
    if norm1 is not None:
        A *= norm1 / np.linalg.norm(A, 1)
    return A


def scipy_expm(A):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return sla.expm(A)


def scipy_params(A):
    """(m, s) from SciPy 1.17.1's private pick_pade_structure (the choice scipy.linalg.expm makes)."""
    try:
        from scipy.linalg._matfuncs_expm import pick_pade_structure
    except ImportError:  # private API: only guaranteed for the pinned scipy
        pytest.skip("scipy.linalg._matfuncs_expm.pick_pade_structure is not available")
    n = A.shape[0]
    Am = np.empty((5, n, n))
    Am[0] = A
    return tuple(int(v) for v in pick_pade_structure(Am))


def mp_expm(A, dps=40):
    """e^A of the float matrix A, in dps-digit arithmetic (mpmath), rounded once."""
    mp = pytest.importorskip("mpmath")
    with mp.workdps(dps):
        return np.array(mp.expm(mp.matrix(A.tolist())).tolist(), dtype=float)


# ---------------------------------------------------------------- SciPy's expm test suite


def burkardt_13_power(n, p):
    """The Forsythe matrix of order n (1 on the superdiagonal, 10^-n in the corner) to the power p."""
    a, b = divmod(p, n)
    large = 10.0 ** (-n * a)
    return np.diag([large] * (n - b), b) + np.diag([large * 10.0**-n] * b, b - n)


E1, E2, E4, E16, E39 = (math.exp(k) for k in (1, 2, 4, 16, 39))
EPS = np.spacing(1.0)
# upper triangular T (Al-Mohy and Higham 2012, experiment 1) and logm(T) as printed in
# SciPy's test: non-normal, entries 1 to 3e14, kappa_exp ~ 2e36
T_AMH = np.array(
    [[3.2346e-1, 3e4, 3e4, 3e4], [0, 3.0089e-1, 3e4, 3e4], [0, 0, 3.221e-1, 3e4], [0, 0, 0, 3.0744e-1]]
)
LOGM_T_AMH = np.array(
    [
        [-1.12867982029050462e00, 9.61418377142025565e04, -4.52485573953179264e09, 2.92496941103871812e14],
        [0.0, -1.20101052953082288e00, 9.63469687211303099e04, -4.68104828911105442e09],
        [0.0, 0.0, -1.13289322264498393e00, 9.53249183094775653e04],
        [0.0, 0.0, 0.0, -1.17947533272554850e00],
    ]
)
L_SINCH = np.array(
    [[1.0, -0.5, -0.5, 0, 0, 0, 0], [0, 1, 0, -0.5, -0.5, 0, 0], [0, 0, 1, 0, 0, -0.5, -0.5]] + [[0.0] * 7] * 4
)

# name -> (A, expected e^A or None). Expected values are closed forms or the published digits.
BURKARDT = {
    "burkardt 1 (diagonal)": (np.array([[1.0, 0], [0, 2]]), np.diag([E1, E2])),
    "burkardt 2 (symmetric)": (
        np.array([[1.0, 3], [3, 2]]),
        np.array([[39.322809708033859, 46.166301438885753], [46.166301438885768, 54.711576854329110]]),
    ),
    "burkardt 3 (Laub)": (
        np.array([[0.0, 1], [-39, -40]]),
        np.array(
            [
                [39 / (38 * E1) - 1 / (38 * E39), -np.expm1(-38) / (38 * E1)],
                [39 * np.expm1(-38) / (38 * E1), -1 / (38 * E1) + 39 / (38 * E39)],
            ]
        ),
    ),
    "burkardt 4 (Moler-Van Loan)": (
        np.array([[-49.0, 24], [-64, 31]]),
        (np.array([[3.0, 1], [4, 2]]) * np.exp([-17.0, -1.0])) @ np.array([[1, -0.5], [-2, 1.5]]),
    ),
    "burkardt 5 (nilpotent)": (
        np.array([[0.0, 6, 0, 0], [0, 0, 6, 0], [0, 0, 0, 6], [0, 0, 0, 0]]),
        np.array([[1.0, 6, 18, 36], [0, 1, 6, 18], [0, 0, 1, 6], [0, 0, 0, 1]]),
    ),
    "burkardt 6 (defective)": (np.array([[1.0, 1], [0, 1]]), np.array([[E1, E1], [0, E1]])),
    "burkardt 7 (nearly defective)": (np.array([[1 + EPS, 1], [0, 1 - EPS]]), np.array([[E1, E1], [0, E1]])),
    "burkardt 8 (Wikipedia)": (
        np.array([[21.0, 17, 6], [-5, -1, -6], [4, 4, 16]]),
        0.25
        * np.array(
            [
                [13 * E16 - E4, 13 * E16 - 5 * E4, 2 * E16 - 2 * E4],
                [-9 * E16 + E4, -9 * E16 + 5 * E4, -2 * E16 + 2 * E4],
                [16 * E16, 16 * E16, 4 * E16],
            ]
        ),
    ),
    "burkardt 9 (NAG F01ECF)": (
        np.array([[1.0, 2, 2, 2], [3, 1, 1, 2], [3, 2, 1, 2], [3, 3, 3, 1]]),
        np.array(
            [
                [740.7038, 610.8500, 542.2743, 549.1753],
                [731.2510, 603.5524, 535.0884, 542.2743],
                [823.7630, 679.4257, 603.5524, 610.8500],
                [998.4355, 823.7630, 731.2510, 740.7038],
            ]
        ),
    ),
    "burkardt 10 (Ward 1, defective)": (
        np.array([[4.0, 2, 0], [1, 4, 1], [1, 1, 4]]),
        np.array(
            [
                [147.8666224463699, 183.7651386463682, 71.79703239999647],
                [127.7810855231823, 183.7651386463682, 91.88256932318415],
                [127.7810855231824, 163.6796017231806, 111.9681062463718],
            ]
        ),
    ),
    "burkardt 11 (Ward 2, symmetric)": (
        np.array(
            [
                [29.87942128909879, 0.7815750847907159, -2.289519314033932],
                [0.7815750847907159, 25.72656945571064, 8.680737820540137],
                [-2.289519314033932, 8.680737820540137, 34.39400925519054],
            ]
        ),
        np.array(
            [
                [5.496313853692378e15, -1.823188097200898e16, -3.047577080858001e16],
                [-1.823188097200899e16, 6.060522870222108e16, 1.012918429302482e17],
                [-3.047577080858001e16, 1.012918429302482e17, 1.692944112408493e17],
            ]
        ),
    ),
    "burkardt 12 (Ward 3)": (
        np.array([[-131.0, 19, 18], [-390, 56, 54], [-387, 57, 52]]),
        np.array(
            [
                [-1.509644158793135, 0.3678794391096522, 0.1353352811751005],
                [-5.632570799891469, 1.471517758499875, 0.4060058435250609],
                [-4.934938326088363, 1.103638317328798, 0.5413411267617766],
            ]
        ),
    ),
    "burkardt 14 (Moler, badly scaled)": (
        np.array([[0, 1e-8, 0], [-(2e10 + 4e8 / 6.0), -3, 2e10], [200.0 / 3.0, 0, -200.0 / 3.0]]),
        np.array(
            [
                [0.446849468283175, 1.54044157383952e-09, 0.462811453558774],
                [-5743067.77947947, -0.0152830038686819, -4526542.71278401],
                [0.447722977849494, 1.54270484519591e-09, 0.463480648837651],
            ]
        ),
    ),
}
for _n in (2, 3, 4, 10):  # burkardt 13 (Ward 4, Forsythe): the Taylor series converges fast here
    _desired = sum(burkardt_13_power(_n, p) / factorial(p) for p in range(_n * max(1, math.ceil(16 / _n))))
    BURKARDT[f"burkardt 13 (Forsythe n={_n})"] = (burkardt_13_power(_n, 1), _desired)

OTHER = {
    "zero 2x2": (np.zeros((2, 2)), np.eye(2)),
    "1x1": (np.array([[1.0]]), np.array([[E1]])),
    "2x2 [[1,4],[1,1]]": (
        np.array([[1.0, 4], [1, 1]]),
        np.array([[(E4 + 1) / (2 * E1), (E4 - 1) / E1], [(E4 - 1) / (4 * E1), (E4 + 1) / (2 * E1)]]),
    ),
    "bidiagonal": (
        np.array([[1.0, 3, 0], [0, 1, 5], [0, 0, 2]]),
        np.array([[E1, 3 * E1, 15 * (E2 - 2 * E1)], [0, E1, 5 * (E2 - E1)], [0, 0, E2]]),
    ),
    "ones 7x7": (np.ones((7, 7)), None),
    "integer Q": (np.array([[-3, 1, 1, 1], [1, -3, 1, 1], [1, 1, -3, 1], [1, 1, 1, -3]]), None),
    "integer Q2 (int16)": (
        np.array([[-500, 500, 0, 0], [0, -550, 360, 190], [0, 630, -630, 0], [0, 0, 0, 0]], dtype=np.int16),
        None,
    ),
    "expm(logm(T)), triangular": (LOGM_T_AMH, None),
    "200x200 corner (A^2 = 0)": (np.eye(200, k=-199), np.eye(200) + np.eye(200, k=-199)),
    "-L (sinch)": (-L_SINCH, None),
    "-2^11 L (sinch overflow)": (-(2.0**11) * L_SINCH, None),
}
_rs = np.random.RandomState(1234)  # the legacy generator, as SciPy's test_logm_consistency draws
LOGM = {
    f"logm consistency n={n} scale={sc:g}": np.eye(n) + _rs.rand(n, n) * sc
    for n in range(1, 10)
    for sc in (1e-4, 1e-3, 1e-2, 1e-1, 1, 1e1, 1e2)
}
PASCAL = {}
for _scale in (1.0, 1e-3, 1e-6):
    for _n in range(0, 80, 3):
        _sc = _scale ** np.arange(_n, -1, -1)
        if np.any(_sc < 1e-300):
            break
        PASCAL[f"pascal n={_n} scale={_scale:g}"] = (
            np.diag(np.arange(1, _n + 1), -1) * _scale,
            binom(np.arange(_n + 1)[:, None], np.arange(_n + 1)[None, :]) * _sc[None, :] / _sc[:, None],
        )
SUITE = {**BURKARDT, **OTHER, **{k: (v, None) for k, v in LOGM.items()}, **PASCAL}
SMALL = [k for k, (A, _) in SUITE.items() if np.shape(A)[0] <= 12]


@pytest.mark.parametrize("name", list(BURKARDT) + [k for k, (_, E) in OTHER.items() if E is not None])
def test_scipy_case_expected_value(name):
    A, desired = SUITE[name]
    np.testing.assert_allclose(expm(A), desired, rtol=1e-7)  # SciPy's tolerance (assert_allclose default)


@pytest.mark.parametrize("name", list(SUITE))
def test_scipy_case_agrees_with_scipy(name):
    A, _ = SUITE[name]
    A = np.asarray(A, dtype=float)
    E, S = expm(A), scipy_expm(A)
    if "logm(T)" in name:  # kappa_exp ~ 2e36: compared with the exact answer below instead
        assert relerr(E, S) <= 1e-4
        return
    assert relerr(E, S) <= AGREE_RTOL, relerr(E, S)
    n = A.shape[0]
    if n and np.any(A - np.diag(np.diag(A))):  # SciPy skips the choice for diagonal input
        assert expm_params(A) == scipy_params(A)


@pytest.mark.parametrize("name", SMALL)
def test_scipy_case_accuracy_vs_multiprecision(name):
    A, _ = SUITE[name]
    A = np.asarray(A, dtype=float)
    if A.shape[0] == 0:
        return
    ref = mp_expm(A, dps=80 if "logm(T)" in name else 40)
    err = relerr(expm(A), ref)
    if "logm(T)" in name:  # ill conditioned beyond any kappa * u bound: be at least as good as scipy
        assert err <= 1e-6 and err <= relerr(scipy_expm(A), ref)
    else:
        with np.errstate(over="ignore"):  # expm_cond's internal norms of e^A ~ 1e200
            kappa = sla.expm_cond(A)
        assert err <= max(ACC_FLOOR, COND_FACTOR * kappa * U), err


def test_scipy_stack_of_2x2_with_closed_forms():
    # test_nx2x2_input: integer matrices with integer eigenvalues, Fortran order
    a = np.array(
        [[[1, 4], [1, 1]], [[1, 3], [1, -1]], [[1, 3], [4, 5]], [[1, 3], [5, 3]], [[4, 5], [-3, -4]]], order="F"
    )
    E = np.e
    desired = np.array(
        [
            [[(E**4 + 1) / (2 * E), (E**4 - 1) / E], [(E**4 - 1) / 4 / E, (E**4 + 1) / (2 * E)]],
            [[1 / (4 * E**2) + (3 * E**2) / 4, (3 * E**2) / 4 - 3 / (4 * E**2)], [E**2 / 4 - 1 / (4 * E**2), 3 / (4 * E**2) + E**2 / 4]],
            [[3 / (4 * E) + E**7 / 4, -3 / (8 * E) + (3 * E**7) / 8], [-1 / (2 * E) + E**7 / 2, 1 / (4 * E) + (3 * E**7) / 4]],
            [[5 / (8 * E**2) + (3 * E**6) / 8, -3 / (8 * E**2) + (3 * E**6) / 8], [-5 / (8 * E**2) + (5 * E**6) / 8, 3 / (8 * E**2) + (5 * E**6) / 8]],
            [[-3 / (2 * E) + (5 * E) / 2, -5 / (2 * E) + (5 * E) / 2], [3 / (2 * E) - (3 * E) / 2, 5 / (2 * E) - (3 * E) / 2]],
        ]
    )  # fmt: skip
    np.testing.assert_allclose(expm(a), desired, rtol=1e-7)
    np.testing.assert_allclose(expm(a), scipy_expm(a.astype(float)), rtol=AGREE_RTOL)


def test_scipy_readonly_and_types():
    a = np.ones((7, 7))
    a.flags.writeable = False
    np.testing.assert_allclose(expm(a), scipy_expm(a), rtol=AGREE_RTOL)
    e = expm(np.array([[1]]))
    for A in (((1,),), [[1]], np.array([[1]]), np.array([[1.0]], dtype=np.float32)):
        np.testing.assert_allclose(expm(A), e, rtol=1e-7)  # float32 input is promoted to float64
    assert expm(np.zeros((1, 1), dtype=int)).dtype == np.float64
    assert expm(np.zeros((0, 0), dtype=np.float32)).shape == (0, 0)
    for name in ("integer Q", "integer Q2 (int16)"):  # no integer overflow in the powers
        A = SUITE[name][0]
        np.testing.assert_allclose(expm(A), expm(1.0 * A), rtol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (DeprecationWarning, PendingDeprecationWarning))
        Z = SUITE["200x200 corner (A^2 = 0)"][0]
        np.testing.assert_allclose(expm(np.matrix(Z)), expm(Z), rtol=0)  # gh-5546: np.matrix input


def test_scipy_pade_cases_are_exact_multiples_of_identity():
    # test_padecases_dtype_float: scale * I must give exp(scale) * I within 100 ulps
    for scale in (1e-2, 1e-1, 5e-1, 1, 10):
        np.testing.assert_array_almost_equal_nulp(expm(scale * np.eye(3)), np.exp(scale) * np.eye(3), nulp=100)


def expm_complex(L):
    """e^L for complex L through the real embedding X + iY -> [[X, -Y], [Y, X]] (an algebra map)."""
    L = np.asarray(L, dtype=complex)
    n = L.shape[0]
    big = expm(np.block([[L.real, -L.imag], [L.imag, L.real]]))
    return big[:n, :n] + 1j * big[n:, :n]


@pytest.mark.parametrize("name", list(LOGM))
def test_scipy_logm_consistency(name):
    # SciPy runs this for float64 and complex128 A; logm(A) is complex when A has negative
    # eigenvalues. Our expm is real: complex matrices go through the real embedding.
    A = LOGM[name]
    np.testing.assert_array_almost_equal(expm_complex(sla.logm(A)), A)  # SciPy's decimal=6
    rs = np.random.RandomState(int(A.shape[0]))
    Ac = A + 1j * rs.rand(*A.shape) * float(name.split("scale=")[1])
    np.testing.assert_array_almost_equal(expm_complex(sla.logm(Ac)), Ac)


def test_scipy_triangularity_perturbation():
    # expm(logm(T)) recovers T to 1e-4 only because the diagonal is recomputed exactly in
    # the squaring phase; a 1e-17 entry below the diagonal switches that off and it fails.
    np.testing.assert_allclose(expm(LOGM_T_AMH), T_AMH, rtol=1e-4)
    P = LOGM_T_AMH.copy()
    P[1, 0] = 1e-17
    assert not np.allclose(expm(P), T_AMH, rtol=1e-4, atol=1e-15)
    # the 2005 algorithm, without the triangular treatment and with 2^s-fold over-scaling
    assert expm_params(LOGM_T_AMH, method="higham2005")[1] > expm_params(LOGM_T_AMH)[1] + 20


@pytest.mark.parametrize("name", list(PASCAL))
def test_scipy_pascal(name):
    # gh-8029: nilpotent lower bidiagonal; e^A is the (scaled) Pascal matrix
    A, expected = PASCAL[name]
    np.testing.assert_allclose(expm(A), expected, atol=1e-13 * np.abs(expected).max())


def test_scipy_exp_sinch_overflow():
    # gh-11839: the superdiagonal formula must not overflow for widely spread diagonals
    E1_, E2_ = expm(-L_SINCH), expm(-(2.0**11) * L_SINCH)
    for _ in range(11):
        E1_ = E1_ @ E1_
    np.testing.assert_allclose(E2_, E1_)


def test_scipy_gh18086_n400_sparse():
    # 400 x 400 (the 1-norm estimator path for d8, d10); SciPy picks m = 9 here
    A = np.zeros((400, 400))
    rng = np.random.default_rng(100)
    i, j = rng.integers(0, 399, 500), rng.integers(0, 399, 500)
    A[i, j] = rng.random(500)
    assert expm_params(A) == (9, 0) == scipy_params(A)
    first = expm(A)
    np.testing.assert_array_almost_equal(sla.logm(first), A)
    assert relerr(first, scipy_expm(A)) <= AGREE_RTOL
    for _ in range(3):  # consistent: the estimator's probes are seeded
        np.testing.assert_array_equal(expm(A), first)


# ---------------------------------------------------------------- the choice of m and s


def test_error_coefficients_and_theta13_match_scipy_source():
    # SciPy 1.17.1 (_matfuncs_expm.c) hard-codes u / |c_(2m+1)| and theta_13 = 4.25
    scipy_coeff = {3: 1.1191048088221578e-11, 5: 1.1167770708198077e-06, 7: 4.9826124310493469e-01,
                   9: 6.5662862500000000e05, 13: 1.2573361865339437e19}  # fmt: skip
    for m, c in scipy_coeff.items():
        # SciPy's m >= 7 constants carry ~8 correct digits (exact: 0.49826125791...,
        # 656628.616..., 1.25733618634e19): 1e-7 covers that; the change to ell is ~1e-8 in log2
        np.testing.assert_allclose(U / error_coefficient(m), c, rtol=1e-7)
        exact = Fraction(1, 2**53) * factorial(2 * m) * factorial(2 * m + 1) / factorial(m) ** 2
        np.testing.assert_allclose(U / error_coefficient(m), float(exact), rtol=4 * U)  # ours: a few ulps
    assert THETA13_2009 == 4.25
    assert {m: THETA[m] for m in (3, 5, 7, 9)} == {
        3: 1.495585217958292e-2, 5: 2.539398330063230e-1, 7: 9.504178996162932e-1, 9: 2.097847961257068e0,
    }  # fmt: skip


@pytest.mark.parametrize("m", [1, 2, 3, 5, 13])
def test_error_coefficient_is_leading_term_of_exp_minus_pade(m):
    # q_m(x) e^x - p_m(x) = b0 c_(2m+1) x^(2m+1) + ..., in exact rational arithmetic
    b = [Fraction(int(v)) for v in pade_coefficients(m)]
    q = [bj * (-1) ** j for j, bj in enumerate(b)]
    exp_series = [Fraction(1, factorial(k)) for k in range(2 * m + 2)]
    qe = [sum(q[j] * exp_series[k - j] for j in range(min(k, m) + 1)) for k in range(2 * m + 2)]
    diff = [qe[k] - (b[k] if k <= m else 0) for k in range(2 * m + 2)]
    assert all(d == 0 for d in diff[: 2 * m + 1])  # r_m matches e^x to order 2m
    np.testing.assert_allclose(abs(float(diff[2 * m + 1] / b[0])), error_coefficient(m), rtol=1e-15)


def test_params_match_scipy_on_random_matrices():
    rng = np.random.default_rng(0)
    for trial in range(300):
        n = int(rng.integers(2, 12))
        A = rng.standard_normal((n, n)) * 10 ** rng.uniform(-4, 3)
        if trial % 3 == 0:
            A = np.triu(A)
        if trial % 5 == 0:
            A[0, -1] *= 1e4  # strongly non-normal
        assert expm_params(A) == scipy_params(A), (trial, n)


def test_over_scaling_of_the_2005_rule():
    # [[1, b], [0, -1]]: ||A||_1 = b + 1, but A^2 = I, so ||A^k||^(1/k) <= ... stays O(1)
    for b in (1e2, 1e4, 1e6, 1e8):
        A = np.array([[1.0, b], [0.0, -1.0]])
        m05, s05 = expm_params(A, method="higham2005")
        assert (m05, s05) == (13, math.ceil(math.log2((b + 1) / THETA[13])))
        assert expm_params(A)[1] == 0


def test_stacked_params_and_shapes():
    A = np.stack([np.zeros((3, 3)), np.eye(3), 50 * rand(3, 1)])
    m, s = expm_params(A)
    assert m.shape == s.shape == (3,) and m[0] == m[1] == 0 and m[2] == 13 and s[2] > 0
    m, s = expm_params(A.reshape(1, 3, 3, 3))
    assert m.shape == (1, 3)


# ---------------------------------------------------------------- reference comparisons


# one matrix per Padé degree branch (||A||_1 just below each theta_m) and beyond theta_13
NORMS = [0.5 * THETA[3], 0.9 * THETA[5], 0.9 * THETA[7], 0.9 * THETA[9], 0.9 * THETA[13], 20.0, 200.0]


@pytest.mark.parametrize("method", ["almohy2009", "higham2005"])
@pytest.mark.parametrize("norm1", NORMS)
@pytest.mark.parametrize("n", [2, 5, 20])
def test_expm_matches_scipy(norm1, n, method):
    A = rand(n, seed=n, norm1=norm1)
    assert relerr(expm(A, method=method), scipy_expm(A)) <= RTOL


def test_expm_matches_eigh_on_symmetric_matrices():
    # symmetric: e^A = V diag(e^w) V^T with orthogonal V, an independent and accurate route
    B = rand(10, seed=7)
    A = 3.0 * (B + B.T)
    w, V = np.linalg.eigh(A)
    assert relerr(expm(A), (V * np.exp(w)) @ V.T) <= RTOL


def test_stacked_input_matches_scipy():
    rng = np.random.default_rng(11)
    S = rng.standard_normal((3, 4, 5, 5)) * 3
    S[0, 1] = np.triu(S[0, 1])  # upper triangular
    S[1, 2] = np.tril(S[1, 2])  # lower triangular
    S[2, 0] = np.diag(np.diag(S[2, 0]))  # diagonal
    S[2, 3] = np.triu(S[2, 3], 1) * 1e3  # nilpotent, badly scaled
    E = expm(S)
    assert E.shape == S.shape
    ref = scipy_expm(S)  # SciPy 1.17 also accepts (..., n, n)
    for idx in np.ndindex(S.shape[:-2]):
        assert relerr(E[idx], ref[idx]) <= AGREE_RTOL, idx
        np.testing.assert_array_equal(E[idx], expm(S[idx]))  # batching does not change a result


def test_superdiagonal_formula_beats_cancellation():
    # (e^b - e^a) / (b - a) with b - a = 2^-33: the naive difference loses ~10 digits
    mp = pytest.importorskip("mpmath")
    a, b, t = np.array([1.0]), np.array([1.0 + 2.0**-33]), np.array([3.0])
    with mp.workdps(50):
        exact = float(3 * (mp.exp(mp.mpf(b[0])) - mp.exp(mp.mpf(a[0]))) / (mp.mpf(b[0]) - mp.mpf(a[0])))
    np.testing.assert_allclose(_exp_superdiag(a, b, t), exact, rtol=4 * U)
    np.testing.assert_allclose(_exp_superdiag(b, a, t), exact, rtol=4 * U)  # symmetric in a, b
    assert _exp_superdiag(np.array([800.0]), np.array([-800.0]), np.array([0.0]))[0] == 0.0  # no inf * 0
    # end to end: [[1, 1e10], [0, 1 + 2^-33]] needs 3 squarings; SciPy's entry (1, 2) is off by ~1e-6
    A = np.array([[1.0, 1e10], [0.0, 1.0 + 2.0**-33]])
    ref = mp_expm(A)
    assert expm_params(A)[1] > 0
    assert abs(expm(A)[0, 1] - ref[0, 1]) <= 4 * U * abs(ref[0, 1])


# ---------------------------------------------------------------- closed forms


@pytest.mark.parametrize("t", [1e-3, 0.5, 3.0, 40.0])
def test_rotation_generator(t):
    A = np.array([[0.0, -t], [t, 0.0]])
    ref = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    # the map t -> e^{At} has condition ~t; allow 100 u per unit of angle
    np.testing.assert_allclose(expm(A), ref, rtol=0, atol=100 * U * max(1.0, t))


def test_so3_rotation_rodrigues():
    # e^{theta K} = I + sin(theta) K + (1 - cos(theta)) K^2 for a unit axis (Rodrigues)
    k = np.array([1.0, 2.0, 2.0]) / 3.0
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    theta = 2.5
    ref = np.eye(3) + np.sin(theta) * K + (1 - np.cos(theta)) * K @ K
    np.testing.assert_allclose(expm(theta * K), ref, rtol=0, atol=1e-14)


def nilpotent_exact(N):
    """sum_{k<n} N^k / k! in exact rational arithmetic, then rounded once."""
    n = len(N)
    Nf = [[Fraction(int(v)) for v in row] for row in N]
    out = [[Fraction(int(i == j)) for j in range(n)] for i in range(n)]
    P = [row[:] for row in out]
    for k in range(1, n):
        P = [[sum(P[i][l] * Nf[l][j] for l in range(n)) for j in range(n)] for i in range(n)]
        out = [[out[i][j] + P[i][j] / factorial(k) for j in range(n)] for i in range(n)]
    return np.array([[float(v) for v in row] for row in out])


@pytest.mark.parametrize("method", ["almohy2009", "higham2005"])
def test_nilpotent_matches_exact_finite_series(method):
    N = np.triu(np.random.default_rng(1).integers(-5, 6, size=(6, 6)), 1).astype(float)
    ref = nilpotent_exact(N)
    assert relerr(expm(N, method=method), ref) <= RTOL
    assert relerr(expm(N.T, method=method), ref.T) <= RTOL  # lower triangular
    assert relerr(expm_taylor(N, terms=6), ref) <= RTOL


def test_defective_jordan_block():
    lam = 0.7
    J = np.array([[lam, 1.0, 0.0], [0.0, lam, 1.0], [0.0, 0.0, lam]])
    ref = np.exp(lam) * np.array([[1.0, 1.0, 0.5], [0.0, 1.0, 1.0], [0.0, 0.0, 1.0]])
    assert relerr(expm(J), ref) <= RTOL


def test_diagonal_and_shifted():
    d = np.array([-30.0, -1.0, 0.0, 2.0, 10.0])
    np.testing.assert_array_equal(expm(np.diag(d)), np.diag(np.exp(d)))  # entrywise, exact
    # A = -c I + B: e^A = e^{-c} e^B exactly, since I commutes with B
    B = rand(4, seed=2)
    for c in (10.0, 30.0, 100.0):
        assert relerr(expm(B - c * np.eye(4)), np.exp(-c) * scipy_expm(B)) <= RTOL


def test_upper_triangular_2x2_non_normal():
    # [[1, b], [0, -1]] has e^A = [[e, b sinh 1], [0, 1/e]] and condition ~ b^2 / 2. The
    # 2005 rule over-scales (s ~ log2 b) and is only within cond * u; the 2009 one is exact.
    for b in (1e2, 1e4, 1e6, 1e8):
        A = np.array([[1.0, b], [0.0, -1.0]])
        ref = np.array([[np.e, b * np.sinh(1.0)], [0.0, np.exp(-1.0)]])
        assert relerr(expm(A), ref) <= 8 * U
        assert relerr(expm(A, method="higham2005"), ref) <= sla.expm_cond(A) * U


def test_huge_negative_matrix_underflows_instead_of_nan():
    # ||A||_1 = 1e60: A^6 overflows, so the matrix is pre-scaled by the 2005 rule first.
    # e^A underflows to 0 (scipy.linalg.expm 1.17.1 returns NaN here).
    for A in (np.array([[-1e60, 1.0], [3.0, -1e60]]), np.array([[-1e60, 1.0], [0.0, -1e60]])):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no overflow warning escapes
            E = expm(A)
        np.testing.assert_array_equal(E, np.zeros((2, 2)))


# ---------------------------------------------------------------- properties

small = st.integers(1, 5).flatmap(
    lambda n: arrays(np.float64, (n, n), elements=st.floats(-2, 2, allow_nan=False, allow_subnormal=False))
)


@settings(max_examples=50, deadline=None)
@given(small)
def test_inverse_is_exp_of_negative(A):
    E, F = expm(A), expm(-A)
    # each factor has relative error <~ 100 u; the product's error scales with ||E|| ||F||
    tol = 1e3 * U * np.linalg.norm(E, 1) * np.linalg.norm(F, 1)
    np.testing.assert_allclose(E @ F, np.eye(len(A)), rtol=0, atol=tol)


@settings(max_examples=40, deadline=None)
@given(small, st.floats(-1, 1), st.floats(-1, 1))
def test_exp_of_commuting_sum_is_product(A, alpha, beta):
    B = alpha * A + beta * np.eye(len(A))  # commutes with A
    lhs, rhs = expm(A + B), expm(A) @ expm(B)
    tol = 1e3 * U * np.linalg.norm(expm(A), 1) * np.linalg.norm(expm(B), 1)
    np.testing.assert_allclose(lhs, rhs, rtol=0, atol=tol)


@settings(max_examples=30, deadline=None)
@given(small)
def test_transpose_and_determinant(A):
    E = expm(A)
    np.testing.assert_allclose(expm(A.T), E.T, rtol=0, atol=1e3 * U * np.linalg.norm(E, 1))
    # det(e^A) = e^{trace A}
    np.testing.assert_allclose(np.linalg.det(E), np.exp(np.trace(A)), rtol=1e-10)


@settings(max_examples=30, deadline=None)
@given(small, st.sampled_from([1e-3, 1.0, 1e3]))
def test_params_agree_with_scipy_property(A, scale):
    A = A * scale
    if np.any(A - np.diag(np.diag(A))):
        assert expm_params(A) == scipy_params(A)


# ---------------------------------------------------------------- Taylor and eigen routes


def test_taylor_matches_scipy_for_small_norm():
    A = rand(6, seed=3, norm1=1.0)
    assert relerr(expm_taylor(A, terms=30), scipy_expm(A)) <= RTOL
    np.testing.assert_array_equal(expm_taylor(A, terms=1), np.eye(6))


def test_taylor_cancellation_for_large_negative_argument():
    # e^{-30}: the series' largest term is ~30^30/30! ~ 1e12, rounding leaves ~1e-4 absolute
    # error against an answer of ~1e-13; the documented failure of the naive series.
    A = np.array([[-30.0]])
    assert abs(expm_taylor(A, terms=150)[0, 0] - np.exp(-30.0)) > 1e3 * np.exp(-30.0)
    assert abs(expm(A)[0, 0] - np.exp(-30.0)) <= RTOL * np.exp(-30.0)


def test_eig_route_matches_on_normal_and_fails_on_defective():
    B = rand(6, seed=4)
    S = B + B.T
    assert relerr(expm_eig(S), scipy_expm(S)) <= RTOL
    # defective Jordan block: eigenvectors are (numerically) parallel, result is garbage
    J = np.array([[1.0, 1.0], [0.0, 1.0]])
    assert relerr(expm_eig(J), scipy_expm(J)) > 0.1


# ---------------------------------------------------------------- Padé constants


def test_pade_coefficients_match_scipy_source():
    # Constants as hard-coded in scipy.sparse.linalg._matfuncs (_ExpmPadeHelper.pade3..13)
    scipy_b = {
        3: (120.0, 60.0, 12.0, 1.0),
        5: (30240.0, 15120.0, 3360.0, 420.0, 30.0, 1.0),
        7: (17297280.0, 8648640.0, 1995840.0, 277200.0, 25200.0, 1512.0, 56.0, 1.0),
        9: (17643225600.0, 8821612800.0, 2075673600.0, 302702400.0, 30270240.0, 2162160.0, 110880.0, 3960.0, 90.0, 1.0),
        13: (
            64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0,
            129060195264000.0, 10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0,
            40840800.0, 960960.0, 16380.0, 182.0, 1.0,
        ),
    }  # fmt: skip
    for m, b in scipy_b.items():
        assert pade_coefficients(m) == b


def test_pade_approximant_matches_exp_to_order_2m():
    # r_m(x) - e^x = O(x^(2m+1)): halving x divides the error by ~2^(2m+1)
    for m in (1, 2, 3):
        b = pade_coefficients(m)

        def r(x, b=b):
            p = sum(bj * x**j for j, bj in enumerate(b))
            return p / sum(bj * (-x) ** j for j, bj in enumerate(b))

        e1, e2 = abs(r(0.1) - np.exp(0.1)), abs(r(0.05) - np.exp(0.05))
        assert 0.7 * 2 ** (2 * m + 1) < e1 / e2 < 1.3 * 2 ** (2 * m + 1)


def test_theta_constants_satisfy_their_definition():
    # Higham (2005): theta_m is where the backward error h(x) = log(e^{-x} r_m(x)) of the
    # scalar approximant reaches u * x. Check to 1e-6 relative with 60-digit arithmetic.
    mp = pytest.importorskip("mpmath")
    with mp.workdps(60):
        u = mp.mpf(2) ** -53
        for m, theta in THETA.items():
            b = [mp.mpf(int(c)) for c in pade_coefficients(m)]
            x = mp.mpf(theta)
            p = sum(c * x**j for j, c in enumerate(b))
            q = sum(c * (-x) ** j for j, c in enumerate(b))
            ratio = abs(mp.log(mp.exp(-x) * p / q)) / (u * x)
            assert abs(ratio - 1) < 1e-6, (m, ratio)


# ---------------------------------------------------------------- edge cases and bad input


@pytest.mark.parametrize("fn", [expm, expm_eig, lambda A: expm_taylor(A, terms=30)])
def test_empty_and_one_by_one(fn):
    assert fn(np.zeros((0, 0))).shape == (0, 0)
    np.testing.assert_allclose(fn([[0.3]]), [[np.exp(0.3)]], rtol=1e-14)  # a few u on one scalar


def test_empty_stacks():
    assert expm(np.zeros((3, 0, 0))).shape == (3, 0, 0)
    assert expm(np.zeros((0, 4, 4))).shape == (0, 4, 4)
    np.testing.assert_allclose(expm(np.full((2, 1, 1), 0.5)), np.full((2, 1, 1), np.exp(0.5)), rtol=1e-15)


def test_zero_matrix_gives_identity():
    np.testing.assert_array_equal(expm(np.zeros((4, 4))), np.eye(4))


def test_inputs_are_not_mutated():
    A = rand(5, seed=9, norm1=50.0)
    A_copy = A.copy()
    for method in ("almohy2009", "higham2005"):
        expm(A, method=method)
    expm(np.tril(A))
    expm_taylor(A, terms=5)
    expm_eig(A)
    np.testing.assert_array_equal(A, A_copy)


@pytest.mark.parametrize(
    ("bad", "exc", "match"),
    [
        (2.0, ValueError, "A must be a matrix or a stack of matrices"),
        ([1.0, 2.0], ValueError, "A must be a matrix or a stack of matrices"),
        (np.zeros((2, 3)), ValueError, r"A must be square; got shape \(2, 3\)"),
        (np.zeros((4, 2, 3)), ValueError, r"A must be square; got shape \(4, 2, 3\)"),
        ([[1.0, np.nan], [0.0, 1.0]], ValueError, "A must contain only finite values"),
        ([[np.inf, 0.0], [0.0, 1.0]], ValueError, "A must contain only finite values"),
        ([["a", "b"], ["c", "d"]], TypeError, "A must contain real numbers"),
        (np.eye(2) * 1j, TypeError, "A must be real"),
    ],
)
@pytest.mark.parametrize("fn", [expm, expm_params])
def test_expm_bad_input(fn, bad, exc, match):
    with pytest.raises(exc, match=match):
        fn(bad)


@pytest.mark.parametrize("fn", [expm, expm_params])
def test_bad_method(fn):
    with pytest.raises(ValueError, match="method must be one of"):
        fn(np.eye(2), method="pade")


@pytest.mark.parametrize("fn", [expm_eig, lambda A: expm_taylor(A, terms=5)])
@pytest.mark.parametrize(
    ("bad", "exc", "match"),
    [
        ([1.0, 2.0], ValueError, "A must be 2-D"),
        (np.zeros((2, 2, 2)), ValueError, "A must be 2-D"),
        (np.zeros((2, 3)), ValueError, r"A must be square; got shape \(2, 3\)"),
        ([[1.0, np.nan], [0.0, 1.0]], ValueError, "A must contain only finite values"),
        ([["a", "b"], ["c", "d"]], TypeError, "A must contain real numbers"),
    ],
)
def test_bad_input_naive_routes(fn, bad, exc, match):
    with pytest.raises(exc, match=match):
        fn(bad)


@pytest.mark.parametrize(("terms", "exc"), [(0, ValueError), (2.5, TypeError), (True, TypeError)])
def test_bad_terms(terms, exc):
    with pytest.raises(exc, match="terms must"):
        expm_taylor(np.eye(2), terms=terms)


@pytest.mark.parametrize(("m", "exc"), [(0, ValueError), (3.0, TypeError)])
def test_bad_pade_degree(m, exc):
    with pytest.raises(exc, match="m must"):
        pade_coefficients(m)
