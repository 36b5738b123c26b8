"""Tests for interviewlib.linalg.expm: scaling and squaring, Taylor series, eigen route."""

from fractions import Fraction
from math import factorial

import numpy as np
import pytest
import scipy.linalg as sla
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from interviewlib.linalg import THETA, expm, expm_eig, expm_taylor, pade_coefficients

U = 2.0**-53  # unit roundoff of float64
# Normwise relative error allowed against an independent reference on well-conditioned
# inputs: both methods are backward stable with errors ~ cond * u ~ 1e-14 for these
# matrices (cond <= 1e2); 1e-12 leaves a factor ~100 for rounding in the squarings.
RTOL = 1e-12


def relerr(X, ref):
    return np.linalg.norm(X - ref, 1) / np.linalg.norm(ref, 1)


def rand(n, seed, norm1=None):
    A = np.random.default_rng(seed).standard_normal((n, n))
    if norm1 is not None:
        A *= norm1 / np.linalg.norm(A, 1)
    return A


# ---------------------------------------------------------------- reference comparisons


# one matrix per Padé degree branch (||A||_1 just below each theta_m) and beyond theta_13
NORMS = [0.5 * THETA[3], 0.9 * THETA[5], 0.9 * THETA[7], 0.9 * THETA[9], 0.9 * THETA[13], 20.0, 200.0]


@pytest.mark.parametrize("norm1", NORMS)
@pytest.mark.parametrize("n", [2, 5, 20])
def test_expm_matches_scipy(norm1, n):
    A = rand(n, seed=n, norm1=norm1)
    assert relerr(expm(A), sla.expm(A)) <= RTOL


def test_expm_matches_eigh_on_symmetric_matrices():
    # symmetric: e^A = V diag(e^w) V^T with orthogonal V, an independent and accurate route
    B = rand(10, seed=7)
    A = 3.0 * (B + B.T)
    w, V = np.linalg.eigh(A)
    assert relerr(expm(A), (V * np.exp(w)) @ V.T) <= RTOL


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
    mp.mp.dps = 60
    u = mp.mpf(2) ** -53
    for m, theta in THETA.items():
        b = [mp.mpf(int(c)) for c in pade_coefficients(m)]
        x = mp.mpf(theta)
        p = sum(c * x**j for j, c in enumerate(b))
        q = sum(c * (-x) ** j for j, c in enumerate(b))
        ratio = abs(mp.log(mp.exp(-x) * p / q)) / (u * x)
        assert abs(ratio - 1) < 1e-6, (m, ratio)


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


def test_nilpotent_matches_exact_finite_series():
    N = np.triu(np.random.default_rng(1).integers(-5, 6, size=(6, 6)), 1).astype(float)
    ref = nilpotent_exact(N)
    assert relerr(expm(N), ref) <= RTOL
    assert relerr(expm_taylor(N, terms=6), ref) <= RTOL


def test_defective_jordan_block():
    lam = 0.7
    J = np.array([[lam, 1.0, 0.0], [0.0, lam, 1.0], [0.0, 0.0, lam]])
    ref = np.exp(lam) * np.array([[1.0, 1.0, 0.5], [0.0, 1.0, 1.0], [0.0, 0.0, 1.0]])
    assert relerr(expm(J), ref) <= RTOL


def test_diagonal_and_shifted():
    d = np.array([-30.0, -1.0, 0.0, 2.0, 10.0])
    np.testing.assert_allclose(expm(np.diag(d)), np.diag(np.exp(d)), rtol=RTOL, atol=0)
    # A = -c I + B: e^A = e^{-c} e^B exactly, since I commutes with B
    B = rand(4, seed=2)
    for c in (10.0, 30.0, 100.0):
        assert relerr(expm(B - c * np.eye(4)), np.exp(-c) * sla.expm(B)) <= RTOL


def test_upper_triangular_2x2_within_condition_bound():
    # [[1, b], [0, -1]] has e^A = [[e, b sinh 1], [0, 1/e]] and condition ~ b^2 / 2.
    # Higham's 2005 algorithm over-scales here (Al-Mohy and Higham 2009), so the
    # honest bound is cond * u, not 1e-12.
    for b in (1e2, 1e4, 1e6):
        A = np.array([[1.0, b], [0.0, -1.0]])
        ref = np.array([[np.e, b * np.sinh(1.0)], [0.0, np.exp(-1.0)]])
        assert relerr(expm(A), ref) <= sla.expm_cond(A) * U


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


# ---------------------------------------------------------------- Taylor and eigen routes


def test_taylor_matches_scipy_for_small_norm():
    A = rand(6, seed=3, norm1=1.0)
    assert relerr(expm_taylor(A, terms=30), sla.expm(A)) <= RTOL
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
    assert relerr(expm_eig(S), sla.expm(S)) <= RTOL
    # defective Jordan block: eigenvectors are (numerically) parallel, result is garbage
    J = np.array([[1.0, 1.0], [0.0, 1.0]])
    assert relerr(expm_eig(J), sla.expm(J)) > 0.1


# ---------------------------------------------------------------- edge cases and bad input


@pytest.mark.parametrize("fn", [expm, expm_eig, lambda A: expm_taylor(A, terms=30)])
def test_empty_and_one_by_one(fn):
    assert fn(np.zeros((0, 0))).shape == (0, 0)
    np.testing.assert_allclose(fn([[0.3]]), [[np.exp(0.3)]], rtol=1e-14)  # a few u on one scalar


def test_zero_matrix_gives_identity():
    np.testing.assert_array_equal(expm(np.zeros((4, 4))), np.eye(4))


def test_inputs_are_not_mutated():
    A = rand(5, seed=9, norm1=50.0)
    A_copy = A.copy()
    expm(A)
    expm_taylor(A, terms=5)
    expm_eig(A)
    np.testing.assert_array_equal(A, A_copy)


@pytest.mark.parametrize("fn", [expm, expm_eig, lambda A: expm_taylor(A, terms=5)])
@pytest.mark.parametrize(
    ("bad", "exc", "match"),
    [
        ([1.0, 2.0], ValueError, "A must be 2-D"),
        (np.zeros((2, 2, 2)), ValueError, "A must be 2-D"),
        (np.zeros((2, 3)), ValueError, r"A must be square; got shape \(2, 3\)"),
        ([[1.0, np.nan], [0.0, 1.0]], ValueError, "A must contain only finite values"),
        ([[np.inf, 0.0], [0.0, 1.0]], ValueError, "A must contain only finite values"),
        ([["a", "b"], ["c", "d"]], TypeError, "A must contain real numbers"),
    ],
)
def test_bad_input(fn, bad, exc, match):
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
