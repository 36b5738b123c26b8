import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from interviewlib.linalg import low_rank_approx, pinv, svd

# One-sided Jacobi is backward stable: |s - s_ref| <= O(n eps) s_max and the factors are
# orthonormal to O(n eps). 1e-11 (relative to s_max) leaves a margin of ~100 here.
TOL = 1e-11


def _check(A, U, s, Vt, full_matrices=False):
    m, n = A.shape
    k = min(m, n)
    assert U.shape == ((m, m) if full_matrices else (m, k))
    assert Vt.shape == ((n, n) if full_matrices else (k, n))
    scale = max(1.0, float(s[0])) if k else 1.0
    assert np.all(s >= 0) and np.all(np.diff(s) <= 0)
    np.testing.assert_allclose((U[:, :k] * s) @ Vt[:k], A, atol=TOL * scale)
    np.testing.assert_allclose(U.T @ U, np.eye(U.shape[1]), atol=TOL)
    np.testing.assert_allclose(Vt @ Vt.T, np.eye(Vt.shape[0]), atol=TOL)


@pytest.mark.parametrize("shape", [(1, 1), (7, 4), (4, 7), (6, 6), (60, 25), (25, 60), (9, 1), (1, 9)])
@pytest.mark.parametrize("full_matrices", [False, True])
def test_matches_numpy_svd(shape, full_matrices):
    A = np.random.default_rng(sum(shape)).standard_normal(shape)
    U, s, Vt = svd(A, full_matrices=full_matrices)
    _check(A, U, s, Vt, full_matrices)
    U_ref, s_ref, Vt_ref = np.linalg.svd(A, full_matrices=full_matrices)
    np.testing.assert_allclose(s, s_ref, atol=TOL * s_ref[0])
    k = min(shape)
    # distinct singular values: singular vectors agree with LAPACK's up to sign
    np.testing.assert_allclose(np.abs(np.sum(U[:, :k] * U_ref[:, :k], axis=0)), 1.0, atol=1e-8)
    np.testing.assert_allclose(np.abs(np.sum(Vt[:k] * Vt_ref[:k], axis=1)), 1.0, atol=1e-8)


def test_closed_form_and_eig_of_gram():
    A = np.array([[3.0, 0.0], [4.0, 5.0]])
    _, s, _ = svd(A)
    np.testing.assert_allclose(s**2, [45.0, 5.0], atol=TOL)  # eigenvalues of A^T A = [[25, 20], [20, 25]]
    np.testing.assert_allclose(svd(np.diag([2.0, -7.0, 0.5]))[1], [7.0, 2.0, 0.5], atol=TOL)


def test_small_singular_value_relative_accuracy():
    # A = U diag(1, 1e-5, 1e-9) V^T: SVD recovers 1e-9 with a small relative error,
    # sqrt(eig(A^T A)) cannot (its absolute error ~ eps * s_max^2 = 2e-16 swamps 1e-18).
    rng = np.random.default_rng(3)
    U0, _ = np.linalg.qr(rng.standard_normal((5, 3)))
    V0, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    s0 = np.array([1.0, 1e-5, 1e-9])
    A = (U0 * s0) @ V0.T
    s = svd(A)[1]
    # backward-stable SVDs perturb s by ~eps * s_max, i.e. ~2e-7 relative on s = 1e-9
    np.testing.assert_allclose(s, np.linalg.svd(A, compute_uv=False), rtol=1e-6)
    assert abs(s[2] - 1e-9) / 1e-9 < 1e-5
    lam = np.linalg.eigvalsh(A.T @ A)
    assert abs(np.sqrt(abs(lam[0])) - 1e-9) / 1e-9 > 1e-3


def test_rank_deficient_zero_and_repeated():
    rng = np.random.default_rng(4)
    A = rng.standard_normal((6, 2)) @ rng.standard_normal((2, 5))
    U, s, Vt = svd(A)
    _check(A, U, s, Vt)
    assert np.all(s[2:] < 1e-13 * s[0])
    for full in (False, True):
        U, s, Vt = svd(np.zeros((4, 3)), full_matrices=full)
        assert np.all(s == 0)
        _check(np.zeros((4, 3)), U, s, Vt, full)
    Q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    A = Q * np.array([2.0, 2.0, 2.0, 1.0, 1.0])
    U, s, Vt = svd(A)
    np.testing.assert_allclose(s, [2, 2, 2, 1, 1], atol=TOL)
    _check(A, U, s, Vt)


@pytest.mark.parametrize("shape", [(0, 0), (0, 3), (3, 0)])
@pytest.mark.parametrize("full_matrices", [False, True])
def test_empty(shape, full_matrices):
    U, s, Vt = svd(np.zeros(shape), full_matrices=full_matrices)
    m, n = shape
    assert s.shape == (0,)
    assert U.shape == ((m, m) if full_matrices else (m, 0))
    assert Vt.shape == ((n, n) if full_matrices else (0, n))


def test_pinv_matches_numpy_and_penrose_conditions():
    rng = np.random.default_rng(5)
    for A in (
        rng.standard_normal((7, 4)),
        rng.standard_normal((3, 6)),
        rng.standard_normal((6, 2)) @ rng.standard_normal((2, 5)),
    ):
        P = pinv(A)
        np.testing.assert_allclose(P, np.linalg.pinv(A, rtol=None), atol=1e-10)
        np.testing.assert_allclose(A @ P @ A, A, atol=1e-10)
        np.testing.assert_allclose(P @ A @ P, P, atol=1e-10)
        np.testing.assert_allclose(A @ P, (A @ P).T, atol=1e-10)
    np.testing.assert_allclose(pinv([[1.0, 2.0], [2.0, 4.0]]), np.array([[1.0, 2.0], [2.0, 4.0]]) / 25.0, atol=TOL)
    assert pinv(np.zeros((2, 3))).shape == (3, 2) and np.all(pinv(np.zeros((2, 3))) == 0)
    assert pinv(np.zeros((0, 3))).shape == (3, 0)


def test_pinv_rcond_cuts_small_singular_values():
    A = np.diag([1.0, 1e-8])
    np.testing.assert_allclose(pinv(A, rcond=1e-6), np.diag([1.0, 0.0]), atol=TOL)
    np.testing.assert_allclose(pinv(A), np.diag([1.0, 1e8]), rtol=1e-10)


def test_low_rank_eckart_young_and_closed_form():
    rng = np.random.default_rng(6)
    A = rng.standard_normal((12, 8))
    s_ref = np.linalg.svd(A, compute_uv=False)
    for k in range(0, 9):
        Ak = low_rank_approx(A, k)
        assert np.linalg.matrix_rank(Ak) == k
        err2 = np.linalg.norm(A - Ak, 2)
        errF = np.linalg.norm(A - Ak, "fro")
        np.testing.assert_allclose(err2, s_ref[k] if k < 8 else 0.0, atol=1e-10)
        np.testing.assert_allclose(errF, np.sqrt(np.sum(s_ref[k:] ** 2)), atol=1e-10)
    np.testing.assert_allclose(low_rank_approx(np.diag([3.0, 2.0, 1.0]), 2), np.diag([3.0, 2.0, 0.0]), atol=TOL)


def test_inputs_not_mutated():
    A = np.random.default_rng(7).standard_normal((6, 4))
    A0 = A.copy()
    svd(A, full_matrices=True)
    pinv(A)
    low_rank_approx(A, 2)
    np.testing.assert_array_equal(A, A0)


@pytest.mark.parametrize(
    ("A", "exc", "match"),
    [
        (np.ones(3), ValueError, "A must be 2-D"),
        (np.ones((2, 2, 2)), ValueError, "A must be 2-D"),
        (np.array([[np.inf, 1.0]]), ValueError, "A must contain only finite"),
        (np.array([["a"]]), TypeError, "A must contain real numbers"),
    ],
)
def test_bad_input(A, exc, match):
    for f in (svd, pinv, lambda X: low_rank_approx(X, 1)):
        with pytest.raises(exc, match=match):
            f(A)


def test_bad_arguments():
    with pytest.raises(TypeError, match="full_matrices must be a bool"):
        svd(np.eye(2), full_matrices="yes")
    with pytest.raises(ValueError, match="k must be <= 2"):
        low_rank_approx(np.eye(2), 3)
    with pytest.raises(TypeError, match="k must be an integer"):
        low_rank_approx(np.eye(2), 1.5)
    with pytest.raises(ValueError, match="rcond must be"):
        pinv(np.eye(2), rcond=2.0)


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float64, st.tuples(st.integers(1, 8), st.integers(1, 8)), elements=st.floats(-10, 10)),
    st.integers(0, 8),
)
def test_property_factorisation_and_eckart_young(A, k):
    U, s, Vt = svd(A)
    _check(A, U, s, Vt)
    np.testing.assert_allclose(s, np.linalg.svd(A, compute_uv=False), atol=TOL * max(1.0, s[0]))
    k = min(k, min(A.shape))
    err = np.linalg.norm(A - low_rank_approx(A, k), 2)
    expected = s[k] if k < len(s) else 0.0
    np.testing.assert_allclose(err, expected, atol=1e-9 * max(1.0, s[0]))


# ---- the Gram-eigenvector preconditioner and the Jacobi core --------------------------

EPS = np.finfo(np.float64).eps
# Relative error allowed for each singular value of a column-graded matrix: O(n eps) times
# the condition number of the column-scaled matrix (~10 here); 1e3 n eps leaves the margin.
RELATIVE_FACTOR = 1e3


def test_column_graded_singular_values_keep_relative_accuracy():
    # A = B diag(1 ... 1e-14): Jacobi on R^T W_0 perturbs each column of A by O(eps) of its
    # own norm, so even s_min ~ 1e-14 s_max is accurate to a few ulps (reference: mpmath).
    mp = pytest.importorskip("mpmath")
    rng = np.random.default_rng(3)
    B = rng.standard_normal((12, 8))
    A = B * np.logspace(0, -14, 8)
    mp.mp.dps = 50
    exact = np.sort([float(x) for x in mp.svd_r(mp.matrix(A.tolist()), compute_uv=False)])[::-1]
    s = svd(A)[1]
    np.testing.assert_allclose(s, exact, rtol=RELATIVE_FACTOR * 12 * EPS)


@pytest.mark.parametrize("spectrum", ["geometric", "two_level", "random"])
def test_ill_conditioned_and_clustered_spectra(spectrum):
    # The Gram matrix R R^T squares the condition number, so its eigenvectors are poor for
    # s_i < sqrt(eps) s_max: Jacobi must still finish the job.
    rng = np.random.default_rng(11)
    m, n = 50, 30
    U0, _ = np.linalg.qr(rng.standard_normal((m, n)))
    V0, _ = np.linalg.qr(rng.standard_normal((n, n)))
    s0 = {
        "geometric": np.logspace(0, -13, n),
        "two_level": np.r_[np.ones(n // 2), 1e-10 * np.ones(n - n // 2)],
        "random": np.sort(rng.uniform(0.5, 1.0, n))[::-1],
    }[spectrum]
    A = (U0 * s0) @ V0.T
    U, s, Vt = svd(A)
    _check(A, U, s, Vt)
    np.testing.assert_allclose(s, np.linalg.svd(A, compute_uv=False), atol=TOL * s[0])


def test_one_sided_jacobi_core_orthogonalises_columns():
    from interviewlib.linalg.svd import _one_sided_jacobi

    A = np.random.default_rng(12).standard_normal((9, 6))
    G, V, sweeps = _one_sided_jacobi(A)
    np.testing.assert_allclose(V.T @ V, np.eye(6), atol=TOL)
    np.testing.assert_allclose(A @ V, G, atol=TOL * np.linalg.norm(A))
    # stopping rule: every |cos(g_p, g_q)| <= n eps (x2: G^T G here is rounded differently)
    norms = np.linalg.norm(G, axis=0)
    cos = np.abs(G.T @ G) / np.outer(norms, norms)
    np.fill_diagonal(cos, 0.0)
    assert np.max(cos) <= 2 * 6 * EPS
    np.testing.assert_allclose(np.sort(np.linalg.norm(G, axis=0))[::-1], np.linalg.svd(A, compute_uv=False), atol=TOL)
    assert 1 <= sweeps <= 20
