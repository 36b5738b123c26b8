import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from interviewlib.probability.bayes import bayes_posterior, beta_binomial_update, diagnostic_posterior

# Monte Carlo checks: allow 5 standard errors.
N_SE = 5


def test_bayes_posterior_hand_worked():
    # Two urns, prior 1/2 each, P(red | urn) = 0.9 and 0.3: posterior 0.45/0.6 = 0.75.
    np.testing.assert_allclose(bayes_posterior([1, 1], [0.9, 0.3]), [0.75, 0.25], rtol=1e-12)
    rows = bayes_posterior([0.2, 0.8], [[1.0, 0.0], [0.5, 0.5]])
    np.testing.assert_allclose(rows, [[1.0, 0.0], [0.2, 0.8]], rtol=1e-12)


def test_diagnostic_test_against_simulation():
    prevalence, sens, spec = 0.01, 0.95, 0.9
    rng = np.random.default_rng(0)
    n = 400_000
    sick = rng.random(n) < prevalence
    positive = np.where(sick, rng.random(n) < sens, rng.random(n) > spec)
    p_hat = sick[positive].mean()
    se = np.sqrt(p_hat * (1 - p_hat) / positive.sum())
    p = diagnostic_posterior(prevalence, sens, spec)
    assert abs(p - p_hat) < N_SE * se
    # Same number through the generic rule.
    assert p == pytest.approx(bayes_posterior([prevalence, 1 - prevalence], [sens, 1 - spec])[0], rel=1e-12)
    assert p < 0.1  # the base-rate fallacy: a positive test still means "probably healthy"


def test_beta_binomial_against_numerical_posterior():
    a, b, k, n = 2.0, 3.0, 7, 10
    grid = np.linspace(1e-6, 1 - 1e-6, 20001)
    unnorm = stats.binom.pmf(k, n, grid) * stats.beta.pdf(grid, a, b)
    numeric = unnorm / np.trapezoid(unnorm, grid)
    a1, b1 = beta_binomial_update(a, b, k, n)
    # trapezoid rule on 20001 points: error ~1e-7 on these smooth densities.
    np.testing.assert_allclose(numeric, stats.beta.pdf(grid, a1, b1), atol=1e-5)


@settings(max_examples=50, deadline=None)
@given(
    prior=st.lists(st.floats(0.01, 10), min_size=2, max_size=6),
    seed=st.integers(0, 1000),
)
def test_posterior_properties(prior, seed):
    like = np.random.default_rng(seed).uniform(0.01, 1, len(prior))
    post = bayes_posterior(prior, like)
    assert post.sum() == pytest.approx(1.0, abs=1e-12)
    # Posterior odds = prior odds * likelihood ratio.
    assert post[0] / post[1] == pytest.approx(prior[0] / prior[1] * like[0] / like[1], rel=1e-9)


def test_sequential_updates_equal_batch():
    a, b = beta_binomial_update(1, 1, 3, 5)
    a, b = beta_binomial_update(a, b, 4, 5)
    assert (a, b) == beta_binomial_update(1, 1, 7, 10)


def test_inputs_not_mutated():
    prior, like = np.array([0.3, 0.7]), np.array([0.5, 0.1])
    bayes_posterior(prior, like)
    np.testing.assert_array_equal(prior, [0.3, 0.7])
    np.testing.assert_array_equal(like, [0.5, 0.1])


def test_bad_input():
    with pytest.raises(ValueError, match="evidence P\\(D\\) is 0"):
        bayes_posterior([1, 0], [0, 1])
    with pytest.raises(ValueError, match="non-negative"):
        bayes_posterior([-1, 2], [0.5, 0.5])
    with pytest.raises(ValueError, match="2 entries per row"):
        bayes_posterior([1, 1], [0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="sensitivity must be <= 1"):
        diagnostic_posterior(0.1, 1.5, 0.9)
    with pytest.raises(ValueError, match="probability 0"):
        diagnostic_posterior(0.0, 0.9, 1.0)
    with pytest.raises(ValueError, match="successes must be <= 5"):
        beta_binomial_update(1, 1, 6, 5)
    with pytest.raises(ValueError, match="a must be > 0"):
        beta_binomial_update(0, 1, 1, 5)
