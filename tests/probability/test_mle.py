import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, stats
from sklearn.linear_model import LogisticRegression

from interviewlib.probability.mle import LogisticRegressionMLE, bernoulli_mle, gaussian_mle, poisson_mle

# sklearn is run to machine precision (newton-cg, tol 1e-14); both solve the same convex
# problem, so coefficients agree to round-off amplified by the Hessian's conditioning.
COEF_ATOL = 1e-7
# Bounded scalar minimisation of the NLL (xatol 1e-10).
SCALAR_ATOL = 1e-7


def _logistic_data(seed=0, n=300, d=4):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    w = rng.normal(size=d)
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ w + 0.3)))).astype(int)
    return X, y


def _sklearn(C, fit_intercept=True):
    # sklearn 1.8 deprecated penalty=None; C=np.inf is the unpenalised model.
    return LogisticRegression(C=C, solver="newton-cg", tol=1e-14, max_iter=10_000, fit_intercept=fit_intercept)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_logistic_matches_sklearn_unpenalised(seed):
    X, y = _logistic_data(seed)
    ours = LogisticRegressionMLE().fit(X, y)
    ref = _sklearn(np.inf).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=COEF_ATOL)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=COEF_ATOL)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=COEF_ATOL)
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
    assert ours.n_iter_ <= 15  # quadratic convergence: a handful of Newton steps


@pytest.mark.parametrize("l2", [0.1, 1.0, 10.0])
def test_logistic_l2_is_sklearn_with_c_inverse(l2):
    X, y = _logistic_data(3)
    ours = LogisticRegressionMLE(l2=l2).fit(X, y)
    ref = _sklearn(1 / l2).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=COEF_ATOL)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=COEF_ATOL)


def test_logistic_without_intercept_and_string_labels():
    X, y = _logistic_data(4)
    labels = np.array(["no", "yes"])[y]
    ours = LogisticRegressionMLE(fit_intercept=False).fit(X, labels)
    ref = _sklearn(np.inf, fit_intercept=False).fit(X, labels)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=COEF_ATOL)
    assert ours.intercept_.tolist() == [0.0]
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))


def test_logistic_hand_worked_intercept_only():
    # With only an intercept the MLE is logit(mean(y)).
    y = np.array([1, 1, 1, 0])
    clf = LogisticRegressionMLE().fit(np.zeros((4, 1)), y)
    assert clf.intercept_[0] == pytest.approx(np.log(3), abs=1e-12)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), l2=st.sampled_from([0.0, 0.5, 5.0]))
def test_logistic_stationary_point(seed, l2):
    X, y = _logistic_data(seed, n=80, d=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rare separable draws
        clf = LogisticRegressionMLE(l2=l2).fit(X, y)
    if not np.all((2 * y - 1) * clf.decision_function(X) > 0):
        assert np.abs(clf.gradient_).max() < 1e-6
        # Convex problem: the Hessian at the optimum is positive definite.
        assert np.linalg.eigvalsh(clf.hessian_).min() > 0


def test_logistic_separable_warns():
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    with pytest.warns(RuntimeWarning, match="MLE does not exist"):
        LogisticRegressionMLE().fit(X, [0, 0, 1, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = LogisticRegressionMLE(l2=1.0).fit(X, [0, 0, 1, 1])  # MAP exists
    assert np.isfinite(clf.coef_).all()


def test_logistic_inputs_not_mutated_and_bad_input():
    X, y = _logistic_data(5)
    X0, y0 = X.copy(), y.copy()
    LogisticRegressionMLE().fit(X, y)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    with pytest.raises(ValueError, match="exactly 2 classes"):
        LogisticRegressionMLE().fit(X, np.arange(X.shape[0]) % 3)
    with pytest.raises(ValueError, match="l2 must be >= 0"):
        LogisticRegressionMLE(l2=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="y must be 1-D"):
        LogisticRegressionMLE().fit(X, y[:5])
    with pytest.raises(ValueError, match="not fitted"):
        LogisticRegressionMLE().predict(X)
    with pytest.raises(ValueError, match="must have 4 features"):
        LogisticRegressionMLE().fit(X, y).predict(X[:, :2])


# --- closed forms -----------------------------------------------------------------------


def test_gaussian_mle_matches_scipy_fit():
    x = np.random.default_rng(0).normal(3.0, 2.0, 500)
    mu, var = gaussian_mle(x)
    loc, scale = stats.norm.fit(x)  # scipy's fit is the MLE (biased variance)
    assert mu == pytest.approx(loc, rel=1e-12)
    assert var == pytest.approx(scale**2, rel=1e-12)
    assert var == pytest.approx(np.var(x, ddof=0), rel=1e-12)


def test_poisson_and_bernoulli_match_numerical_argmax():
    rng = np.random.default_rng(1)
    x = rng.poisson(4.2, 300)
    res = optimize.minimize_scalar(
        lambda lam: -stats.poisson.logpmf(x, lam).sum(), bounds=(0.01, 20), method="bounded", options={"xatol": 1e-10}
    )
    assert poisson_mle(x) == pytest.approx(res.x, abs=SCALAR_ATOL)
    b = (rng.random(200) < 0.3).astype(int)
    res = optimize.minimize_scalar(
        lambda p: -stats.bernoulli.logpmf(b, p).sum(), bounds=(1e-6, 1 - 1e-6), method="bounded", options={"xatol": 1e-10}
    )
    assert bernoulli_mle(b) == pytest.approx(res.x, abs=SCALAR_ATOL)


def test_gaussian_variance_bias_by_simulation():
    # E[sigma_hat^2] = (n-1)/n sigma^2: with n = 5, 0.8 sigma^2.
    rng = np.random.default_rng(2)
    samples = rng.normal(0.0, 1.0, (20_000, 5))
    var_hat = np.mean((samples - samples.mean(axis=1, keepdims=True)) ** 2, axis=1)
    assert gaussian_mle(samples[0])[1] == pytest.approx(var_hat[0], rel=1e-12)
    se = var_hat.std() / np.sqrt(var_hat.size)
    assert abs(var_hat.mean() - 0.8) < 5 * se


def test_closed_form_edge_cases_and_errors():
    assert bernoulli_mle([0, 0, 0]) == 0.0  # boundary MLE from a small sample
    assert gaussian_mle([5.0]) == (5.0, 0.0)
    with pytest.raises(ValueError, match="only 0 and 1"):
        bernoulli_mle([0, 2])
    with pytest.raises(ValueError, match="non-negative integer counts"):
        poisson_mle([1.5, 2])
    with pytest.raises(ValueError, match="must not be empty"):
        gaussian_mle([])
