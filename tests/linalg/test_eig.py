import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from interviewlib.linalg import eigh, power_iteration, rayleigh_quotient_iteration

# Jacobi is backward stable: |w - w_ref| and ||A V - V diag(w)|| are O(n eps ||A||).
# For the n <= 60, ||A|| ~ 10 matrices below 1e-10 leaves a margin of ~100.
TOL = 1e-10
# error ratios approach |lambda2/lambda1| only asymptotically; the next eigenvalue adds a relative
# correction O((lambda3/lambda2)^k) = O(0.4^k), ~1e-2 at k = 5 for O(1) start coefficients
RATE_ATOL = 0.02


def _sym(n, seed=0):
    B = np.random.default_rng(seed).standard_normal((n, n))
    return (B + B.T) / 2


@pytest.mark.parametrize("n", [1, 2, 3, 7, 60])
def test_eigh_matches_numpy(n):
    A = _sym(n, seed=n)
    w, V = eigh(A)
    w_ref, V_ref = np.linalg.eigh(A)
    np.testing.assert_allclose(w, w_ref, atol=TOL)
    np.testing.assert_allclose(A @ V, V * w, atol=TOL)
    np.testing.assert_allclose(V.T @ V, np.eye(n), atol=TOL)
    # distinct eigenvalues: each eigenvector agrees with LAPACK's up to sign
    np.testing.assert_allclose(np.abs(np.sum(V * V_ref, axis=0)), 1.0, atol=1e-8)


def test_eigh_repeated_eigenvalues_subspace():
    rng = np.random.default_rng(1)
    Q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    lam = np.array([1.0, 1.0, 1.0, 2.0, 5.0, 5.0])
    A = (Q * lam) @ Q.T
    w, V = eigh(A)
    np.testing.assert_allclose(w, lam, atol=TOL)
    # projector onto the eigenspace of 1 is basis independent
    P = V[:, :3] @ V[:, :3].T
    np.testing.assert_allclose(P, Q[:, :3] @ Q[:, :3].T, atol=1e-8)


def test_eigh_closed_forms():
    w, V = eigh([[2.0, 1.0], [1.0, 2.0]])
    np.testing.assert_allclose(w, [1.0, 3.0], atol=TOL)
    np.testing.assert_allclose(np.abs(V), np.sqrt(0.5), atol=TOL)
    # path-graph Laplacian of size n: eigenvalues 2 - 2 cos(k pi / (n + 1))
    n = 9
    T = 2 * np.eye(n) - np.eye(n, k=1) - np.eye(n, k=-1)
    k = np.arange(1, n + 1)
    np.testing.assert_allclose(eigh(T)[0], np.sort(2 - 2 * np.cos(k * np.pi / (n + 1))), atol=TOL)


def test_eigh_diagonal_identity_zero_and_empty():
    w, V = eigh(np.diag([3.0, -1.0, 2.0]))
    np.testing.assert_array_equal(w, [-1.0, 2.0, 3.0])
    w, V = eigh(np.zeros((4, 4)))
    assert np.all(w == 0) and np.allclose(V.T @ V, np.eye(4))
    w, V = eigh(np.zeros((0, 0)))
    assert w.shape == (0,) and V.shape == (0, 0)


def test_eigh_history_decreases():
    _, _, hist = eigh(_sym(20), return_history=True)
    assert hist[0] > 0.1 and hist[-1] < 1e-12
    assert all(a >= b for a, b in zip(hist, hist[1:]))


def test_eigh_accepts_roundoff_asymmetry_and_rejects_real_asymmetry():
    A = _sym(5)
    A[0, 1] += 1e-14
    eigh(A)
    with pytest.raises(ValueError, match="A must be symmetric"):
        eigh([[1.0, 2.0], [0.0, 1.0]])


@pytest.mark.parametrize(
    ("A", "exc", "match"),
    [
        (np.ones((2, 3)), ValueError, "A must be square"),
        (np.ones(3), ValueError, "A must be 2-D"),
        (np.array([[np.nan]]), ValueError, "A must contain only finite"),
        (np.array([["a"]]), TypeError, "A must contain real numbers"),
    ],
)
def test_eigh_bad_input(A, exc, match):
    with pytest.raises(exc, match=match):
        eigh(A)


def test_inputs_not_mutated():
    A = _sym(6)
    A0 = A.copy()
    eigh(A)
    power_iteration(A, rng=0, max_iter=20_000)
    rayleigh_quotient_iteration(A, rng=0)
    np.testing.assert_array_equal(A, A0)


def test_power_iteration_dominant_pair_and_rate():
    rng = np.random.default_rng(2)
    Q, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    lam = np.array([10.0, 5.0, 2.0, 1.0, 0.5, 0.1, -0.3, -1.0])
    A = (Q * lam) @ Q.T
    lam1, v, hist = power_iteration(A, rng=3, tol=1e-12, return_history=True)
    np.testing.assert_allclose(lam1, 10.0, atol=1e-9)
    np.testing.assert_allclose(abs(v @ Q[:, 0]), 1.0, atol=1e-9)
    # direction error sin(angle) decays like |lambda2/lambda1|^k = 0.5^k
    err = np.sqrt(np.clip(1 - (hist @ Q[:, 0]) ** 2, 0, None))
    ratios = err[6:16] / err[5:15]
    np.testing.assert_allclose(ratios, 0.5, atol=RATE_ATOL)


def test_power_iteration_nonsymmetric_matches_numpy_eig():
    A = np.array([[4.0, 1.0, 0.0], [2.0, 3.0, 1.0], [0.0, 1.0, 1.0]])
    lam, v = power_iteration(A, rng=0)
    w_ref = np.linalg.eigvals(A)
    np.testing.assert_allclose(lam, w_ref[np.argmax(np.abs(w_ref))].real, atol=1e-8)
    np.testing.assert_allclose(A @ v, lam * v, atol=1e-8)


def test_power_iteration_warns_without_a_dominant_eigenvalue():
    with pytest.warns(RuntimeWarning, match="did not converge"):
        power_iteration([[0.0, 1.0], [1.0, 0.0]], v0=[1.0, 0.3], max_iter=50)


def test_power_iteration_edge_cases():
    assert power_iteration([[7.0]], rng=0)[0] == pytest.approx(7.0)
    lam, v = power_iteration(np.zeros((3, 3)), rng=0)
    assert lam == 0.0 and np.linalg.norm(v) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="A must not be empty"):
        power_iteration(np.zeros((0, 0)))
    with pytest.raises(ValueError, match="v0 must be a vector of length 2"):
        power_iteration(np.eye(2), v0=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="v0 must be non-zero"):
        power_iteration(np.eye(2), v0=[0.0, 0.0])
    with pytest.raises(ValueError, match="tol must be > 0"):
        power_iteration(np.eye(2), tol=0.0)
    with pytest.raises(TypeError, match="max_iter must be an integer"):
        power_iteration(np.eye(2), max_iter=2.5)


def test_rqi_converges_cubically_to_an_eigenpair():
    A = _sym(30, seed=4)
    w_ref = np.linalg.eigvalsh(A)
    mu, v, res = rayleigh_quotient_iteration(A, rng=5, return_history=True)
    assert np.min(np.abs(w_ref - mu)) < 1e-10
    np.testing.assert_allclose(A @ v, mu * v, atol=1e-9)
    assert len(res) <= 10
    # cubic: once the residual is below 1e-2 the next one is at most ~its cube (times ||A||)
    small = [i for i in range(len(res) - 1) if res[i] < 1e-2]
    assert all(res[i + 1] <= 100 * res[i] ** 2 for i in small)


def test_rqi_start_vector_near_eigenvector_finds_it():
    A = np.diag([1.0, 2.0, 3.0])
    mu, v = rayleigh_quotient_iteration(A, v0=[0.05, 1.0, 0.05])
    assert mu == pytest.approx(2.0)
    with pytest.raises(ValueError, match="A must be symmetric"):
        rayleigh_quotient_iteration([[1.0, 1.0], [0.0, 1.0]])


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 8)).map(lambda t: (t[0], t[0])), elements=st.floats(-10, 10)))
def test_property_eigh_orthonormal_and_diagonalises(B):
    A = (B + B.T) / 2
    w, V = eigh(A)
    scale = max(1.0, np.abs(A).max())
    np.testing.assert_allclose(V.T @ V, np.eye(len(w)), atol=TOL)
    np.testing.assert_allclose(V.T @ A @ V, np.diag(w), atol=TOL * scale)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(w, np.linalg.eigvalsh(A), atol=TOL * scale)


# ---- eigh(method=...): the tridiagonal route (default) and Jacobi -------------------------

METHODS = ["tridiagonal", "jacobi"]
# Both methods are backward stable: residual ||A V - V diag(w)|| and eigenvalue errors are
# O(n eps ||A||), ||V^T V - I|| = O(n eps) (times ||A|| / gap inside the tridiagonal route's
# re-orthogonalisation window). A factor 1e3 on n eps is the margin; random tests reach ~200.
BACKWARD_FACTOR = 1e3
EPS = np.finfo(np.float64).eps


def _assert_backward_stable(A, w, V):
    n = A.shape[0]
    tol = BACKWARD_FACTOR * n * EPS
    norm_a = max(np.linalg.norm(A, 2), np.finfo(np.float64).tiny)
    assert w.shape == (n,) and V.shape == (n, n)
    assert np.all(np.diff(w) >= 0)
    assert np.max(np.abs(V.T @ V - np.eye(n))) <= tol
    assert np.max(np.abs(A @ V - V * w)) <= tol * norm_a
    assert np.max(np.abs(w - np.linalg.eigvalsh(A))) <= tol * norm_a


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("n", [1, 2, 3, 40])
def test_eigh_methods_match_numpy(method, n):
    A = _sym(n, seed=10 + n)
    w, V = eigh(A, method=method)
    _assert_backward_stable(A, w, V)
    # distinct eigenvalues: each eigenvector agrees with LAPACK's up to sign
    np.testing.assert_allclose(np.abs(np.sum(V * np.linalg.eigh(A)[1], axis=0)), 1.0, atol=1e-8)


def test_eigh_default_is_tridiagonal_and_deterministic():
    A = _sym(30, seed=3)
    w, V = eigh(A)
    w_t, V_t = eigh(A, method="tridiagonal")
    np.testing.assert_array_equal(w, w_t)
    np.testing.assert_array_equal(V, V_t)


@pytest.mark.parametrize("method", METHODS)
def test_eigh_clustered_and_repeated_eigenvalues(method):
    rng = np.random.default_rng(8)
    n = 40
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    # an 8-fold eigenvalue, a cluster 1e-9 wide, a pair 1e-5 apart and isolated values
    lam = np.concatenate(([2.0] * 8, 1.0 + 1e-9 * np.arange(6), [3.0, 3.0 + 1e-5], np.linspace(5, 9, n - 16)))
    A = (Q * lam) @ Q.T
    A = (A + A.T) / 2
    w, V = eigh(A, method=method)
    _assert_backward_stable(A, w, V)
    np.testing.assert_allclose(w, np.sort(lam), atol=BACKWARD_FACTOR * n * EPS * 9)
    # the 8-dimensional eigenspace of 2 is basis independent: compare projectors
    idx = np.flatnonzero(np.abs(w - 2.0) < 1e-6)
    assert idx.shape == (8,)
    P_ref = Q[:, :8] @ Q[:, :8].T
    np.testing.assert_allclose(V[:, idx] @ V[:, idx].T, P_ref, atol=1e-8)


@pytest.mark.parametrize("method", METHODS)
def test_eigh_wilkinson_glued_and_ones(method):
    # W21+: pairs of eigenvalues agree to ~1e-14 (Wilkinson's classic hard case);
    # five copies glued by 1e-10 make clusters of five; J = ones has eigenvalues 0 (n-1) and n.
    W = np.diag(np.abs(np.arange(21) - 10.0)) + np.eye(21, k=1) + np.eye(21, k=-1)
    G = np.kron(np.eye(5), W) + 1e-10 * (np.eye(105, k=21) + np.eye(105, k=-21))
    for A in (W, G):
        w, V = eigh(A, method=method)
        _assert_backward_stable(A, w, V)
    w, V = eigh(np.ones((12, 12)), method=method)
    _assert_backward_stable(np.ones((12, 12)), w, V)
    np.testing.assert_allclose(w, [0.0] * 11 + [12.0], atol=1e-12)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1e-5, 1e150, 1e155, 1e300])
def test_eigh_scale_invariant_no_under_or_overflow(method, scale):
    A = _sym(15, seed=4)
    w, V = eigh(A * scale, method=method)
    assert np.all(np.isfinite(w)) and np.all(np.isfinite(V))
    _assert_backward_stable(A, w / scale, V)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("scale", [1e155, 1e200, 1e307])
def test_eigh_huge_entries_match_numpy(method, scale):
    # Regression: with entries near 1e155, ||A||_F overflowed, every rotation was skipped
    # and Jacobi silently returned the diagonal. LAPACK (numpy) scales internally.
    A = _sym(12, seed=5) * scale
    w, V = eigh(A, method=method)
    w_ref = np.linalg.eigvalsh(A)
    atol = BACKWARD_FACTOR * 12 * EPS * np.abs(w_ref).max() / scale  # backward stable: O(n eps ||A||)
    np.testing.assert_allclose(w / scale, w_ref / scale, rtol=0, atol=atol)
    assert not np.allclose(np.sort(np.diag(A)) / scale, w / scale, atol=1e-3)  # not the diagonal
    np.testing.assert_allclose(np.abs(np.sum(V * np.linalg.eigh(A)[1], axis=0)), 1.0, atol=1e-8)


def test_eigh_tridiagonal_exact_on_diagonal_and_split_matrices():
    w, V = eigh(np.diag([3.0, -1.0, 2.0, 2.0]), method="tridiagonal")
    np.testing.assert_array_equal(w, [-1.0, 2.0, 2.0, 3.0])
    np.testing.assert_array_equal(np.abs(V), np.eye(4)[:, [1, 2, 3, 0]])
    # block diagonal (T splits): eigenvectors vanish exactly outside their block
    A = np.zeros((5, 5))
    A[:2, :2] = [[2.0, 1.0], [1.0, 2.0]]
    A[2:, 2:] = np.diag([10.0, 20.0, 30.0])
    w, V = eigh(A, method="tridiagonal")
    np.testing.assert_allclose(w, [1.0, 3.0, 10.0, 20.0, 30.0], atol=1e-14)
    assert np.all(V[2:, :2] == 0) and np.all(V[:2, 2:] == 0)


def test_eigh_jacobi_relative_accuracy_on_graded_matrix():
    # A = D H D, H positive definite and well conditioned, D graded over 1e-12: Jacobi gets
    # every eigenvalue to high *relative* accuracy (Demmel & Veselic 1992); the tridiagonal
    # route guarantees O(eps ||A||) absolute error only.
    mp = pytest.importorskip("mpmath")
    rng = np.random.default_rng(9)
    n = 6
    B = rng.standard_normal((n, n))
    H = B @ B.T / n + np.eye(n)
    D = np.logspace(0, -6, n)
    A = D[:, None] * H * D
    mp.mp.dps = 50
    exact = np.sort([float(x) for x in mp.eigsy(mp.matrix(A.tolist()), eigvals_only=True)])
    w_jacobi, _ = eigh(A, method="jacobi")
    np.testing.assert_allclose(w_jacobi, exact, rtol=BACKWARD_FACTOR * n * EPS)
    w_tri, _ = eigh(A, method="tridiagonal")
    assert np.max(np.abs(w_tri - exact)) <= BACKWARD_FACTOR * n * EPS * np.max(exact)


def test_eigh_method_bad_input_and_history():
    with pytest.raises(ValueError, match="method must be one of"):
        eigh(np.eye(2), method="qr")
    with pytest.raises(ValueError, match="method must be one of"):
        eigh(np.eye(2), method=3)
    with pytest.raises(ValueError, match="return_history is only available for method='jacobi'"):
        eigh(np.eye(2), method="tridiagonal", return_history=True)
    w, V, hist = eigh(_sym(8), method="jacobi", return_history=True)
    assert hist[-1] < 1e-12
    w, V = eigh(np.zeros((0, 0)), method="tridiagonal")
    assert w.shape == (0,) and V.shape == (0, 0)
    w, V = eigh(np.zeros((3, 3)), method="tridiagonal")
    assert np.all(w == 0) and np.array_equal(V, np.eye(3))


@pytest.mark.parametrize("method", METHODS)
def test_eigh_methods_do_not_mutate(method):
    A = _sym(7)
    A0 = A.copy()
    eigh(A, method=method)
    np.testing.assert_array_equal(A, A0)


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 8)).map(lambda t: (t[0], t[0])), elements=st.floats(-10, 10)))
def test_property_eigh_jacobi_and_tridiagonal_agree(B):
    A = (B + B.T) / 2
    w_t, V_t = eigh(A, method="tridiagonal")
    w_j, _ = eigh(A, method="jacobi")
    _assert_backward_stable(A, w_t, V_t)
    atol = BACKWARD_FACTOR * len(w_t) * EPS * max(1.0, np.abs(A).max())
    np.testing.assert_allclose(w_t, w_j, atol=atol)
    np.testing.assert_allclose(w_t, np.linalg.eigvalsh(A), atol=atol)  # independent LAPACK reference
