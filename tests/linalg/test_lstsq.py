import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.linear_model import Ridge

from interviewlib.linalg import lstsq, ridge

# Well-conditioned random problems (cond(A) ~ 10): backward-stable solvers agree with
# LAPACK to ~cond * n * eps; 1e-10 leaves ample headroom. The normal equations square
# cond(A), still tiny here.
TOL = 1e-10
METHODS = ["qr", "normal", "svd"]


def _problem(m=30, n=5, k=None, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n))
    b = rng.standard_normal(m) if k is None else rng.standard_normal((m, k))
    return A, b


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("k", [None, 3])
def test_matches_numpy_lstsq(method, k):
    A, b = _problem(k=k)
    x = lstsq(A, b, method=method)
    x_ref = np.linalg.lstsq(A, b, rcond=None)[0]
    assert x.shape == x_ref.shape
    np.testing.assert_allclose(x, x_ref, atol=TOL)


def test_large_tall_problem_qr():
    A, b = _problem(m=500, n=60, seed=3)  # more than one Householder panel (block of 32)
    np.testing.assert_allclose(lstsq(A, b), np.linalg.lstsq(A, b, rcond=None)[0], atol=TOL)


@pytest.mark.parametrize("method", METHODS)
def test_exact_line_fit(method):
    t = np.linspace(0, 1, 7)
    A = np.column_stack([np.ones_like(t), t])
    np.testing.assert_allclose(lstsq(A, 3.0 - 2.0 * t, method=method), [3.0, -2.0], atol=TOL)


@pytest.mark.parametrize("method", METHODS)
def test_square_nonsingular_is_solve(method):
    A, b = _problem(m=6, n=6, seed=4)
    np.testing.assert_allclose(lstsq(A, b, method=method), np.linalg.solve(A, b), atol=TOL)


def test_normal_equations_lose_digits_on_vandermonde_qr_does_not():
    # cond(A) ~ 1e7: QR keeps error ~ eps * cond ~ 1e-9, normal equations ~ eps * cond^2 >> 1e-9.
    t = np.linspace(0, 1, 60)
    A = np.vander(t, 10, increasing=True)
    x_true = np.ones(10)
    b = A @ x_true
    err_qr = np.linalg.norm(lstsq(A, b, method="qr") - x_true)
    err_ne = np.linalg.norm(lstsq(A, b, method="normal") - x_true)
    assert err_qr < 1e-6
    assert err_ne > 100 * err_qr


def test_rank_deficient_svd_gives_minimum_norm_like_numpy_and_pinv():
    rng = np.random.default_rng(5)
    A = rng.standard_normal((8, 3)) @ rng.standard_normal((3, 5))  # rank 3, 5 columns
    b = rng.standard_normal(8)
    x = lstsq(A, b, method="svd")
    np.testing.assert_allclose(x, np.linalg.lstsq(A, b, rcond=None)[0], atol=TOL)
    np.testing.assert_allclose(x, np.linalg.pinv(A) @ b, atol=TOL)


@pytest.mark.parametrize("method", ["qr", "normal"])
def test_rank_deficient_qr_and_normal_raise(method):
    A = np.ones((4, 2))
    with pytest.raises(ValueError, match="full column rank.*method='svd'"):
        lstsq(A, np.ones(4), method=method)


@pytest.mark.parametrize("method", ["qr", "normal"])
def test_wide_qr_and_normal_raise(method):
    with pytest.raises(ValueError, match="fewer rows than columns"):
        lstsq(np.eye(2, 3), np.ones(2), method=method)


def test_wide_svd_minimum_norm():
    A = np.array([[1.0, 1.0]])
    np.testing.assert_allclose(lstsq(A, [2.0], method="svd"), [1.0, 1.0], atol=TOL)


@pytest.mark.parametrize("method", METHODS)
def test_zero_columns_give_empty_solution(method):
    assert lstsq(np.zeros((3, 0)), np.ones(3), method=method).shape == (0,)


def test_zero_rows_svd_and_zero_matrix():
    assert np.all(lstsq(np.zeros((0, 2)), np.zeros(0), method="svd") == 0)
    assert np.all(lstsq(np.zeros((3, 2)), np.ones(3), method="svd") == 0)


def test_one_by_one():
    np.testing.assert_allclose(lstsq([[4.0]], [2.0]), [0.5])


def test_ridge_matches_sklearn_and_closed_form():
    A, b = _problem(m=40, n=6, seed=6)
    for alpha in (1e-3, 1.0, 100.0):
        x = ridge(A, b, alpha=alpha)
        ref = Ridge(alpha=alpha, fit_intercept=False, solver="cholesky").fit(A, b).coef_
        np.testing.assert_allclose(x, ref, atol=TOL)
        np.testing.assert_allclose(x, np.linalg.solve(A.T @ A + alpha * np.eye(6), A.T @ b), atol=TOL)


def test_ridge_wide_and_multi_rhs():
    A, B = _problem(m=4, n=9, k=2, seed=7)
    x = ridge(A, B, alpha=0.5)
    np.testing.assert_allclose(x, np.linalg.solve(A.T @ A + 0.5 * np.eye(9), A.T @ B), atol=TOL)


def test_ridge_shrinks_towards_zero():
    A, b = _problem(seed=8)
    norms = [np.linalg.norm(ridge(A, b, alpha=a)) for a in (0.01, 1.0, 100.0, 1e4)]
    assert all(n1 > n2 for n1, n2 in zip(norms, norms[1:]))


@pytest.mark.parametrize("alpha", [0.0, -1.0, float("nan")])
def test_ridge_bad_alpha(alpha):
    with pytest.raises(ValueError, match="alpha must be"):
        ridge(np.eye(2), np.ones(2), alpha=alpha)


def test_inputs_not_mutated():
    A, b = _problem(seed=9)
    A0, b0 = A.copy(), b.copy()
    for method in METHODS:
        lstsq(A, b, method=method)
    ridge(A, b, alpha=1.0)
    np.testing.assert_array_equal(A, A0)
    np.testing.assert_array_equal(b, b0)


@pytest.mark.parametrize(
    ("A", "b", "exc", "match"),
    [
        (np.ones(3), np.ones(3), ValueError, "A must be 2-D"),
        (np.ones((3, 2)), np.ones(4), ValueError, "b must have as many rows as A"),
        (np.ones((3, 2)), np.ones((3, 1, 1)), ValueError, "b must be 1-D or 2-D"),
        (np.array([[1.0, np.inf], [0.0, 1.0]]), np.ones(2), ValueError, "A must contain only finite"),
        (np.eye(2), np.array([np.nan, 1.0]), ValueError, "b must contain only finite"),
        (np.array([["x"]]), np.ones(1), TypeError, "A must contain real numbers"),
        (np.eye(2), ["a", "b"], TypeError, "b must contain real numbers"),
    ],
)
def test_bad_input(A, b, exc, match):
    with pytest.raises(exc, match=match):
        lstsq(A, b)


def test_bad_method_and_rcond():
    with pytest.raises(ValueError, match="method must be one of"):
        lstsq(np.eye(2), np.ones(2), method="cholesky")
    with pytest.raises(ValueError, match="rcond must be"):
        lstsq(np.eye(2), np.ones(2), rcond=-1.0)


@settings(max_examples=40, deadline=None)
@given(
    # Entries on a 0.1 grid: rank-deficient matrices are common, while entries like 1e-300
    # (whose minimum-norm solution legitimately overflows) are excluded.
    arrays(
        np.float64,
        st.tuples(st.integers(1, 12), st.integers(1, 5)),
        elements=st.integers(-50, 50).map(lambda k: k / 10),
    ),
    st.integers(0, 2**32 - 1),
)
def test_property_residual_orthogonal_to_column_space(A, seed):
    # For any A (any rank) the SVD solution satisfies the normal equations A^T (b - A x) = 0.
    b = np.random.default_rng(seed).standard_normal(A.shape[0])
    x = lstsq(A, b, method="svd")
    r = b - A @ x
    scale = max(1.0, np.linalg.norm(A) ** 2 * max(1.0, np.linalg.norm(x)))
    np.testing.assert_allclose(A.T @ r, 0.0, atol=1e-9 * scale)
