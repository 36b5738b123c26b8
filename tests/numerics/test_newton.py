import math
from fractions import Fraction

import numpy as np
import pytest
import scipy.optimize as so
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import polar

from interviewlib.numerics import (
    isqrt_newton,
    newton,
    newton_array,
    newton_minimize,
    newton_schulz_inverse,
    newton_schulz_polar,
)

# iterative solvers stop at tol=1e-12 relative steps; compare with a little headroom
ROOT_TOL = 1e-10
# matrix iterations accumulate O(n * eps * cond) rounding
MAT_TOL = 1e-9
# scipy's Newton-CG stops on its default xtol=1e-5 (step size), so its x is only that close to (1, 1)
SCIPY_NEWTON_CG_ATOL = 1e-4


def test_scalar_root_matches_scipy():
    f = lambda x: np.cos(x) - x  # noqa: E731
    fp = lambda x: -np.sin(x) - 1  # noqa: E731
    r = newton(f, fp, 1.0)
    assert r.converged and r.reason == "converged"
    assert r.x == pytest.approx(so.newton(f, 1.0, fprime=fp), abs=ROOT_TOL)
    assert r.trace[0] == 1.0 and len(r.trace) == r.iterations + 1


def test_quadratic_convergence_digits_double_exact():
    r = newton(lambda x: x * x - 2, lambda x: 2 * x, Fraction(1), tol=0, maxiter=6)
    assert all(isinstance(x, Fraction) for x in r.trace)  # exact arithmetic is preserved
    assert r.trace[:4] == [1, Fraction(3, 2), Fraction(17, 12), Fraction(577, 408)]  # by hand
    errors = [abs(float(x - Fraction(math.isqrt(2 * 10**60), 10**30))) for x in r.trace[1:5]]
    # e_{k+1} ~ e_k^2 / (2 sqrt 2): log-errors roughly double
    for e0, e1 in zip(errors, errors[1:]):
        assert e1 == pytest.approx(e0**2 / (2 * math.sqrt(2)), rel=0.2)


def test_cycle_x3_minus_2x_plus_2():
    r = newton(lambda x: x**3 - 2 * x + 2, lambda x: 3 * x**2 - 2, 0.0, maxiter=10)
    assert not r.converged and r.reason == "maxiter"
    assert r.trace == [0.0, 1.0] * 5 + [0.0]


def test_arctan_diverges_beyond_critical_point_and_line_search_fixes_it():
    fp = lambda x: 1 / (1 + x * x)  # noqa: E731
    crit = so.brentq(lambda x: 2 * x - (1 + x * x) * np.arctan(x), 1.0, 2.0)
    assert crit == pytest.approx(1.3917452, abs=1e-6)
    inside = newton(np.arctan, fp, 0.95 * crit)
    assert inside.converged and abs(inside.x) < 1e-12
    outside = newton(np.arctan, fp, 1.05 * crit, maxiter=6)
    assert not outside.converged
    assert all(abs(b) > abs(a) for a, b in zip(outside.trace, outside.trace[1:]))
    fixed = newton(np.arctan, fp, 1.05 * crit, line_search=True)
    assert fixed.converged and abs(fixed.x) < 1e-12
    damped = newton(np.arctan, fp, 1.05 * crit, damping=0.5, maxiter=200)
    assert damped.converged


def test_multiple_root_linear_rate_and_multiplicity_fix():
    for m in (2, 3):
        f = lambda x, m=m: (x - 1) ** m * (x + 2)  # noqa: E731
        fp = lambda x, m=m: m * (x - 1) ** (m - 1) * (x + 2) + (x - 1) ** m  # noqa: E731
        r = newton(f, fp, 2.0, maxiter=30, tol=0)
        e = np.abs(np.array(r.trace[:25]) - 1)
        # (m-1)/m is the asymptotic rate; the simple root at -2 adds an O(e_k) correction, tiny by k = 20
        assert e[20] / e[19] == pytest.approx((m - 1) / m, abs=0.01)
        fast = newton(f, fp, 2.0, multiplicity=m)
        assert fast.converged and fast.iterations < 10 and abs(fast.x - 1) < 1e-6


def test_zero_derivative_reported():
    r = newton(lambda x: x * x + 1, lambda x: 2 * x, 0.0)
    assert not r.converged and r.reason == "zero derivative" and r.iterations == 0


def test_complex_root():
    r = newton(lambda z: z * z + 1, lambda z: 2 * z, 1 + 1j)
    assert r.converged and abs(r.x - 1j) < ROOT_TOL


@settings(max_examples=50, deadline=None)
@given(st.one_of(st.integers(0, 10**6), st.integers(0, 10**400)))
def test_isqrt_matches_math_isqrt(n):
    assert isqrt_newton(n) == math.isqrt(n)


def test_isqrt_edges_and_perfect_squares():
    for k in (0, 1, 2, 3, 10**50, 2**521 - 1):
        assert isqrt_newton(k * k) == k
        if k:
            assert isqrt_newton(k * k - 1) == k - 1
    assert isqrt_newton(np.int64(99)) == 9
    with pytest.raises(ValueError, match="n must be >= 0"):
        isqrt_newton(-1)
    with pytest.raises(TypeError, match="integer"):
        isqrt_newton(4.0)
    with pytest.raises(TypeError, match="integer"):
        isqrt_newton(True)


def test_newton_array_basins():
    z0 = np.array([[2.0 + 0j, -1 + 1j], [-1 - 1j, 0.0 + 0j]])
    z, it = newton_array(lambda z: z**3 - 1, lambda z: 3 * z**2, z0)
    roots = np.exp(2j * np.pi * np.arange(3) / 3)
    np.testing.assert_allclose(z[0, 0], roots[0], atol=ROOT_TOL)
    np.testing.assert_allclose(z[0, 1], roots[1], atol=ROOT_TOL)
    np.testing.assert_allclose(z[1, 0], roots[2], atol=ROOT_TOL)
    assert np.isnan(z[1, 1])  # f'(0) = 0
    assert z0[1, 1] == 0  # not mutated
    # agrees with the scalar version
    for start in (2.0 + 0j, -1 + 1j):
        assert newton(lambda z: z**3 - 1, lambda z: 3 * z**2, start).x == pytest.approx(
            z[np.nonzero(z0 == start)][0], abs=ROOT_TOL
        )
    with pytest.raises(ValueError, match="z0 must not be empty"):
        newton_array(np.sin, np.cos, [])


def test_newton_minimize_rosenbrock_matches_scipy():
    res_ref = so.minimize(so.rosen, [-1.2, 1.0], jac=so.rosen_der, hess=so.rosen_hess, method="Newton-CG")
    r = newton_minimize(so.rosen, so.rosen_der, so.rosen_hess, [-1.2, 1.0])
    assert r.converged
    np.testing.assert_allclose(r.x, [1.0, 1.0], atol=1e-8)
    np.testing.assert_allclose(r.x, res_ref.x, atol=SCIPY_NEWTON_CG_ATOL)
    assert all(b <= a for a, b in zip(r.trace, r.trace[1:]))  # monotone with line search


def test_newton_minimize_quadratic_one_step_and_no_mutation():
    rng = np.random.default_rng(0)
    B = rng.normal(size=(5, 5))
    A = B @ B.T + 5 * np.eye(5)
    b = rng.normal(size=5)
    x0 = np.zeros(5)
    r = newton_minimize(lambda x: 0.5 * x @ A @ x - b @ x, lambda x: A @ x - b, lambda x: A, x0)
    assert r.iterations == 1
    np.testing.assert_allclose(r.x, np.linalg.solve(A, b), atol=1e-12)
    assert np.all(x0 == 0)
    with pytest.raises(ValueError, match="grad must return shape"):
        newton_minimize(lambda x: 0.0, lambda x: np.zeros(3), lambda x: np.eye(5), x0)
    with pytest.raises(ValueError, match="x0 must be 1-D"):
        newton_minimize(lambda x: 0.0, lambda x: x, lambda x: np.eye(2), np.zeros((2, 2)))


def test_newton_schulz_inverse_matches_numpy_and_squares_residual():
    rng = np.random.default_rng(1)
    A = rng.normal(size=(6, 6)) + 3 * np.eye(6)
    X, res = newton_schulz_inverse(A)
    np.testing.assert_allclose(X, np.linalg.inv(A), atol=MAT_TOL)
    # ||R_{k+1}|| <= ||R_k||^2 (R_{k+1} = R_k^2, Frobenius norm is submultiplicative)
    # (checked until rounding, about n * eps * cond(A), takes over)
    for r0, r1 in zip(res, res[1:]):
        if r0**2 > 1e-10:
            assert r1 <= r0**2 * (1 + 1e-9)
    with pytest.raises(ValueError, match="did not reach"):
        newton_schulz_inverse(np.array([[1.0, 2.0], [2.0, 4.0]]), maxiter=50)
    with pytest.raises(ValueError, match="square"):
        newton_schulz_inverse(np.ones((2, 3)))


@pytest.mark.parametrize("shape", [(4, 4), (6, 3), (3, 6)])
def test_newton_schulz_polar_matches_scipy(shape):
    rng = np.random.default_rng(2)
    A = rng.normal(size=shape)
    A0 = A.copy()
    U = newton_schulz_polar(A, steps=40)
    ref = polar(A)[0] if shape[0] >= shape[1] else polar(A.T)[0].T
    np.testing.assert_allclose(U, ref, atol=MAT_TOL)
    np.testing.assert_array_equal(A, A0)


def test_muon_quintic_is_only_approximately_orthogonal():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(8, 8))
    X = newton_schulz_polar(A, steps=5, coefficients=(3.4445, -4.7750, 2.0315))
    s = np.linalg.svd(X, compute_uv=False)
    # Muon's docstring: singular values end up roughly in (0.5, 1.5), not exactly 1
    assert s.min() > 0.5 and s.max() < 1.5 and np.ptp(s) > 1e-3
    with pytest.raises(ValueError, match="coefficients must be"):
        newton_schulz_polar(A, coefficients=(1.0,))
    with pytest.raises(ValueError, match="non-zero"):
        newton_schulz_polar(np.zeros((2, 2)))


def test_bad_scalar_arguments():
    with pytest.raises(TypeError, match="x0 must be a number"):
        newton(np.sin, np.cos, "1")
    with pytest.raises(ValueError, match="damping must be"):
        newton(np.sin, np.cos, 1.0, damping=0.0)
    with pytest.raises(ValueError, match="maxiter must be"):
        newton(np.sin, np.cos, 1.0, maxiter=0)
    with pytest.raises(TypeError, match="callable"):
        newton(1, np.cos, 1.0)
