import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats
from scipy.spatial.distance import jensenshannon

from interviewlib.probability.divergence import (
    fit_gaussian_to_mixture,
    gaussian_kl,
    js_divergence,
    kl_divergence,
    mvn_kl,
)

# Same float64 sums in a different order.
ATOL = 1e-12
# scipy.integrate.quad on smooth Gaussian integrands.
QUAD_ATOL = 1e-7

probs = st.lists(st.floats(0.0, 1.0), min_size=2, max_size=8).filter(lambda v: sum(v) > 1e-3)


def test_kl_matches_scipy_entropy():
    rng = np.random.default_rng(0)
    p, q = rng.random(10), rng.random(10)
    assert kl_divergence(p, q) == pytest.approx(stats.entropy(p, q), abs=ATOL)
    assert kl_divergence(p, q, base=2) == pytest.approx(stats.entropy(p, q, base=2), abs=ATOL)
    P, Q = rng.random((5, 10)), rng.random((5, 10))
    np.testing.assert_allclose(kl_divergence(P, Q), stats.entropy(P, Q, axis=1), atol=ATOL)


def test_kl_zero_handling():
    # p_i = 0 terms vanish; p_i > 0 with q_i = 0 gives inf, like scipy.
    assert kl_divergence([0.5, 0.5, 0.0], [0.25, 0.25, 0.5]) == pytest.approx(np.log(2), abs=ATOL)
    assert kl_divergence([0.5, 0.5], [1.0, 0.0]) == np.inf
    assert stats.entropy([0.5, 0.5], [1.0, 0.0]) == np.inf
    smoothed = kl_divergence([0.5, 0.5], [1.0, 0.0], eps=1e-3)
    assert np.isfinite(smoothed) and smoothed > 1.0


def test_js_matches_scipy_jensenshannon():
    rng = np.random.default_rng(1)
    p, q = rng.random(12), rng.random(12)
    # scipy returns the distance sqrt(JS).
    assert js_divergence(p, q) == pytest.approx(jensenshannon(p, q) ** 2, abs=ATOL)
    assert js_divergence(p, q, base=2) == pytest.approx(jensenshannon(p, q, base=2) ** 2, abs=ATOL)
    P, Q = rng.random((4, 12)), rng.random((4, 12))
    np.testing.assert_allclose(js_divergence(P, Q), jensenshannon(P, Q, axis=1) ** 2, atol=ATOL)


def test_js_closed_cases():
    assert js_divergence([1, 0], [0, 1]) == pytest.approx(np.log(2), abs=ATOL)  # disjoint supports
    assert js_divergence([0.3, 0.7], [0.3, 0.7]) == 0.0


@settings(max_examples=50, deadline=None)
@given(p=probs, q=probs, r=probs)
def test_divergence_properties(p, q, r):
    k = min(len(p), len(q), len(r))
    p, q, r = p[:k], q[:k], r[:k]
    if sum(p) < 1e-3 or sum(q) < 1e-3 or sum(r) < 1e-3:
        return
    assert kl_divergence(p, q) >= -ATOL  # Gibbs' inequality
    assert kl_divergence(p, p) == pytest.approx(0.0, abs=ATOL)
    js = js_divergence(p, q)
    assert js == pytest.approx(js_divergence(q, p), abs=ATOL)
    assert -ATOL <= js <= np.log(2) + ATOL
    # sqrt(JS) is a metric: triangle inequality.
    d = lambda a, b: np.sqrt(js_divergence(a, b))  # noqa: E731
    assert d(p, r) <= d(p, q) + d(q, r) + 1e-9


def test_kl_asymmetric():
    p, q = [0.9, 0.1], [0.5, 0.5]
    # hand-worked: KL(p||q) = 0.9 ln 1.8 + 0.1 ln 0.2, KL(q||p) = 0.5 ln(5/9) + 0.5 ln 5
    forward = 0.9 * np.log(1.8) + 0.1 * np.log(0.2)
    backward = 0.5 * np.log(5 / 9) + 0.5 * np.log(5.0)
    assert kl_divergence(p, q) == pytest.approx(forward, abs=ATOL)
    assert kl_divergence(q, p) == pytest.approx(backward, abs=ATOL)
    assert abs(forward - backward) > 0.1


def test_gaussian_kl_against_quadrature():
    mu0, s0, mu1, s1 = 0.3, 0.8, -1.0, 1.7
    f = lambda x: stats.norm.pdf(x, mu0, s0) * (stats.norm.logpdf(x, mu0, s0) - stats.norm.logpdf(x, mu1, s1))  # noqa: E731
    numeric, _ = integrate.quad(f, -30, 30, epsabs=1e-12)
    assert gaussian_kl(mu0, s0**2, mu1, s1**2) == pytest.approx(numeric, abs=QUAD_ATOL)
    np.testing.assert_allclose(gaussian_kl([0, 1], [1, 1], 0.0, 1.0), [0.0, 0.5], atol=ATOL)


def test_mvn_kl_matches_torch():
    rng = np.random.default_rng(2)
    d = 4
    A, B = rng.normal(size=(d, d)), rng.normal(size=(d, d))
    S0, S1 = A @ A.T + d * np.eye(d), B @ B.T + d * np.eye(d)
    m0, m1 = rng.normal(size=d), rng.normal(size=d)
    ref = torch.distributions.kl_divergence(
        torch.distributions.MultivariateNormal(torch.tensor(m0), torch.tensor(S0)),
        torch.distributions.MultivariateNormal(torch.tensor(m1), torch.tensor(S1)),
    ).item()
    assert mvn_kl(m0, S0, m1, S1) == pytest.approx(ref, abs=1e-10)
    # Diagonal case = sum of univariate KLs.
    v0, v1 = np.array([1.0, 2.0]), np.array([0.5, 3.0])
    assert mvn_kl([0, 1], np.diag(v0), [1, 0], np.diag(v1)) == pytest.approx(
        gaussian_kl(np.array([0.0, 1.0]), v0, np.array([1.0, 0.0]), v1).sum(), abs=ATOL
    )


MIX = ([0.5, 0.5], [-2.0, 2.0], [0.6, 0.6])
# The reverse-KL optimum is not exactly a component (+-2, 0.6): the other mode pulls it to about
# (+-1.9971, 0.6049) (scipy quad + Nelder-Mead agree), so "near the mode" is checked to 0.01.
MODE_ATOL = 0.01


def _norm_logpdf(x, m, s):
    # Plain math (not scipy.stats) so that quad's thousands of scalar calls stay fast.
    return -0.5 * ((x - m) / s) ** 2 - math.log(s * math.sqrt(2 * math.pi))


def _mixture_pdf(x):
    w, mu, sd = MIX
    return sum(wk * math.exp(_norm_logpdf(x, m, s)) for wk, m, s in zip(w, mu, sd, strict=True))


def _forward_kl(m, s):
    f = lambda x: _mixture_pdf(x) * (math.log(_mixture_pdf(x)) - _norm_logpdf(x, m, s))  # noqa: E731
    return integrate.quad(f, -15, 15, epsabs=1e-12, limit=200)[0]


def _reverse_kl(m, s):
    f = lambda x: math.exp(_norm_logpdf(x, m, s)) * (_norm_logpdf(x, m, s) - math.log(_mixture_pdf(x)))  # noqa: E731
    return integrate.quad(f, m - 12 * s, m + 12 * s, epsabs=1e-12, limit=200)[0]


def test_forward_kl_fit_is_moment_matching_and_optimal():
    m, s = fit_gaussian_to_mixture(*MIX, direction="forward")
    assert m == pytest.approx(0.0, abs=ATOL)
    assert s == pytest.approx(np.sqrt(0.36 + 4.0), abs=ATOL)  # within + between variance
    # Independent check with quadrature: every nearby Gaussian has a larger forward KL.
    best = _forward_kl(m, s)
    for dm, ds in [(0.05, 0), (-0.05, 0), (0, 0.05), (0, -0.05)]:
        assert _forward_kl(m + dm, s + ds) > best


def test_reverse_kl_fit_seeks_a_mode():
    m, s = fit_gaussian_to_mixture(*MIX, direction="reverse", init=(1.0, 1.0))
    assert m == pytest.approx(2.0, abs=MODE_ATOL)  # locks onto the right-hand mode
    assert s == pytest.approx(0.6, abs=MODE_ATOL)
    # Independent check: quadrature objective is locally minimal there.
    best = _reverse_kl(m, s)
    for dm, ds in [(0.05, 0), (-0.05, 0), (0, 0.05), (0, -0.05)]:
        assert _reverse_kl(m + dm, s + ds) > best
    # p >= q_right / 2, so KL(q_right || p) <= log 2; the overlap of the modes lowers it a little.
    assert np.log(2) - 5e-3 < best < np.log(2)
    m_left, _ = fit_gaussian_to_mixture(*MIX, direction="reverse", init=(-1.0, 1.0))
    assert m_left == pytest.approx(-2.0, abs=MODE_ATOL)
    # Mode covering has much larger reverse KL than mode seeking.
    mf, sf = fit_gaussian_to_mixture(*MIX, direction="forward")
    assert _reverse_kl(mf, sf) > best


def test_inputs_not_mutated():
    p, q = np.array([1.0, 3.0]), np.array([2.0, 2.0])
    kl_divergence(p, q, eps=0.1)
    js_divergence(p, q)
    np.testing.assert_array_equal(p, [1.0, 3.0])
    np.testing.assert_array_equal(q, [2.0, 2.0])


def test_bad_input():
    with pytest.raises(ValueError, match="same shape"):
        kl_divergence([0.5, 0.5], [1.0])
    with pytest.raises(ValueError, match="p must be non-negative"):
        kl_divergence([-0.5, 1.5], [0.5, 0.5])
    with pytest.raises(ValueError, match="all-zero row"):
        js_divergence([0, 0], [0.5, 0.5])
    with pytest.raises(ValueError, match="positive variances"):
        gaussian_kl(0.0, 0.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="positive definite"):
        mvn_kl([0, 0], np.eye(2), [0, 0], -np.eye(2))
    with pytest.raises(ValueError, match="direction must be one of"):
        fit_gaussian_to_mixture(*MIX, direction="both")
    with pytest.raises(ValueError, match="weights must be positive and sum to 1"):
        fit_gaussian_to_mixture([0.5, 0.6], [0, 1], [1, 1], direction="forward")
