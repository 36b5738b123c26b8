import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_classification, make_moons
from sklearn.metrics.pairwise import polynomial_kernel, rbf_kernel
from sklearn.svm import SVC as SKSVC

from interviewlib.classic_ml import SVC, kernel_matrix, smo_solve

DUAL_RTOL = 1e-3  # issue: dual objective within 1e-3 relative (both solvers stop at tol=1e-3)
# alphas of points that sit on the margin (KKT with alpha ~ 0) may be zero in one solver and
# tiny in the other; both stop at a 1e-3 KKT tolerance, so only such points may differ.
SV_ALPHA_SMALL = 1e-2


def _sk_dual(model, X):
    dc = model.dual_coef_.ravel()
    S = X[model.support_]
    K = S @ S.T if model.kernel == "linear" else rbf_kernel(S, gamma=model._gamma)
    return np.abs(dc).sum() - 0.5 * dc @ K @ dc


@pytest.mark.parametrize("kernel", ["linear", "rbf"])
@pytest.mark.parametrize("seed", range(3))
def test_matches_sklearn_svc(kernel, seed):
    X, y = make_classification(500, n_features=5, flip_y=0.1, random_state=seed)
    Xtr, ytr, Xte, yte = X[:350], y[:350], X[350:], y[350:]
    ours = SVC(kernel=kernel, C=1.0).fit(Xtr, ytr)
    ref = SKSVC(kernel=kernel, C=1.0).fit(Xtr, ytr)
    assert ours.dual_objective_ == pytest.approx(_sk_dual(ref, Xtr), rel=DUAL_RTOL)
    differ = np.setxor1d(ours.support_, ref.support_)
    assert differ.size <= max(2, len(ref.support_) // 50)
    ref_alpha = np.zeros(len(Xtr))
    ref_alpha[ref.support_] = np.abs(ref.dual_coef_.ravel())
    assert np.all(np.maximum(ours.alpha_[differ], ref_alpha[differ]) < SV_ALPHA_SMALL * ours.C)
    assert (ours.predict(Xte) == yte).mean() == pytest.approx((ref.predict(Xte) == yte).mean(), abs=1 / len(yte))
    agree = np.mean(ours.predict(Xte) == ref.predict(Xte))
    assert agree >= 0.99


def test_rbf_moons_decision_function_close_to_sklearn():
    X, y = make_moons(300, noise=0.2, random_state=0)
    ours = SVC(kernel="rbf", gamma=2.0, C=10.0).fit(X, y)
    ref = SKSVC(kernel="rbf", gamma=2.0, C=10.0).fit(X, y)
    grid = np.random.default_rng(0).uniform(-1.5, 2.5, size=(200, 2))
    # both satisfy KKT to 1e-3, so decision values agree to O(1e-2) on a function of size O(1)
    np.testing.assert_allclose(ours.decision_function(grid), ref.decision_function(grid), atol=5e-2)


def test_hand_worked_two_points():
    # x = -1 (class -1), x = +1 (class +1): w = 1, b = 0, alpha = 1/2 each, margin 1
    alpha, rho, _ = smo_solve(np.array([[1.0, -1.0], [-1.0, 1.0]]), np.array([-1.0, 1.0]), C=10.0)
    np.testing.assert_allclose(alpha, [0.5, 0.5], atol=1e-12)
    assert rho == pytest.approx(0.0, abs=1e-12)
    # with C below 1/2 both alphas are clipped at C (soft margin)
    alpha, _, _ = smo_solve(np.array([[1.0, -1.0], [-1.0, 1.0]]), np.array([-1.0, 1.0]), C=0.2)
    np.testing.assert_allclose(alpha, [0.2, 0.2])


def test_kernel_matrix_vs_sklearn():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(10, 3)), rng.normal(size=(7, 3))
    np.testing.assert_allclose(kernel_matrix(X, Y, kernel="rbf", gamma=0.3), rbf_kernel(X, Y, gamma=0.3), atol=1e-12)
    np.testing.assert_allclose(
        kernel_matrix(X, Y, kernel="poly", gamma=0.5, degree=2, coef0=1.0),
        polynomial_kernel(X, Y, degree=2, gamma=0.5, coef0=1.0),
        atol=1e-12,
    )
    np.testing.assert_allclose(kernel_matrix(X, Y, kernel="linear"), X @ Y.T)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.1, 10.0))
def test_kkt_conditions_hold(seed, C):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(40, 2))
    y = np.where(X[:, 0] + 0.5 * rng.normal(size=40) > 0, 1.0, -1.0)
    if len(set(y)) < 2:
        y[0] = -y[0]
    tol = 1e-3
    K = kernel_matrix(X, kernel="rbf", gamma=0.5)
    alpha, rho, _ = smo_solve(K, y, C, tol=tol)
    assert np.all((alpha >= 0) & (alpha <= C))
    assert abs(alpha @ y) < 1e-10  # equality constraint preserved by every two-variable step
    f = K @ (alpha * y) - rho
    margin = y * f
    slack = 2 * tol  # the stopping rule bounds each violation by tol (up to rho's estimate)
    assert np.all(margin[alpha < 1e-12] >= 1 - slack)
    assert np.all(margin[alpha > C - 1e-12] <= 1 + slack)


def test_no_mutation_and_string_labels():
    X = np.array([[0.0, 0.0], [0.0, 1.0], [3.0, 0.0], [3.0, 1.0]])
    y = np.array(["a", "a", "b", "b"])
    X0 = X.copy()
    clf = SVC(kernel="linear", C=10.0).fit(X, y)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(clf.predict(X), y)


def test_bad_input():
    X, y = np.zeros((4, 2)), np.array([0, 0, 1, 1])
    with pytest.raises(ValueError, match="C must be > 0"):
        SVC(C=0.0).fit(X, y)
    with pytest.raises(ValueError, match="exactly two classes"):
        SVC().fit(X, [0, 1, 2, 2])
    with pytest.raises(ValueError, match="one label per row"):
        SVC().fit(X, [0, 1])
    with pytest.raises(ValueError, match="finite"):
        SVC().fit([[np.nan, 0.0], [1.0, 1.0]], [0, 1])
    with pytest.raises(ValueError, match="not fitted"):
        SVC().predict(X)
    with pytest.raises(ValueError, match="kernel must be one of"):
        SVC(kernel="sigmoid").fit(X, y)
    with pytest.raises(ValueError, match="only -1 and"):
        smo_solve(np.eye(2), [0.0, 1.0], C=1.0)
    with pytest.raises(ValueError, match="K must be square"):
        smo_solve(np.zeros((2, 3)), [1.0, -1.0], C=1.0)
