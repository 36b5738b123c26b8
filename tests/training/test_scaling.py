import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import least_squares, minimize_scalar

from interviewlib.training import (
    BESIROGLU_2024,
    HOFFMANN_2022,
    HOFFMANN_2022_UNROUNDED,
    HOFFMANN_GRID,
    ChinchillaLaw,
    chinchilla_loss,
    chinchilla_objective,
    compute_optimal_allocation,
    fit_chinchilla,
)

# float64 closed forms (a few powers and one division): agreement to ~1e-15 relative is
# expected; 1e-12 leaves room for the pow() rounding on 1e26-sized budgets.
CLOSED_FORM_RTOL = 1e-12
# Brute force: minimize_scalar (bounded Brent on log N, xatol=1e-12) locates the minimum
# of a smooth 1-D function to ~sqrt(eps) in log N relative to the bracket's flatness;
# 1e-6 relative on N is well above that and far below any modelling difference.
BRUTE_FORCE_RTOL = 1e-6
# Noise-free data, the fit must land on the generating constants: L-BFGS stops at
# ftol=1e-13 / gtol=1e-9 on an objective whose minimum is 0; the exponents then agree to
# ~1e-6 (the A-alpha and B-beta pairs are strongly correlated, so A, B wander further).
EXACT_FIT_RTOL_EXPONENTS = 1e-4
EXACT_FIT_RTOL_COEFFS = 1e-2
# 0.5% multiplicative noise on 63 runs: over 20 synthetic replicates (seeds 0-19, this
# design and SMALL_GRID) the recovered alpha, beta and a = beta/(alpha+beta) scatter with
# standard deviations 0.007, 0.005 and 0.006 (largest |error| 0.017); the tolerance is
# ~3.5 standard deviations, so a wrong fit (e.g. Hoffmann's a = 0.45 vs 0.51) fails.
NOISY_EXPONENT_ATOL = 0.025
NOISY_A_EXPONENT_ATOL = 0.025
# Ours and scipy's least_squares minimise the same Huber objective from the same starts;
# benchmarks/bench_scaling.py measures the two optima agreeing to ~1e-7 relative in the
# parameters. The bounds leave room for the two solvers' different stopping rules.
SAME_OBJECTIVE_RTOL = 1e-5
SAME_PARAMS_RTOL = 1e-3

SMALL_GRID = {
    "a": [0.0, 10.0, 20.0],
    "b": [0.0, 10.0, 20.0],
    "e": [-1.0, 0.0, 1.0],
    "alpha": [0.5, 1.0],
    "beta": [0.5, 1.0],
}


BUDGETS = tuple(np.geomspace(1e18, 1e22, 7))


def _isoflop_runs(law, budgets=BUDGETS, per_budget=9):
    n_list, d_list = [], []
    for c in budgets:
        n_opt, _ = compute_optimal_allocation(c, law)
        n = n_opt * np.geomspace(1 / 8, 8, per_budget)
        n_list.append(n)
        d_list.append(c / (6 * n))
    return np.concatenate(n_list), np.concatenate(d_list)


def _theta(law):
    return np.array([math.log(law.A), math.log(law.B), math.log(law.E), law.alpha, law.beta])


def _huber(r, delta):
    """Independent Huber, written from its textbook definition."""
    return np.where(np.abs(r) <= delta, 0.5 * r**2, delta * (np.abs(r) - 0.5 * delta))


# --------------------------------------------------------------------------- the law


def test_published_constants():
    # Hoffmann et al. 2022, Appendix D.2; Besiroglu et al. 2024, abstract/Table 1.
    assert (HOFFMANN_2022.E, HOFFMANN_2022.A, HOFFMANN_2022.B) == (1.69, 406.4, 410.7)
    assert (HOFFMANN_2022.alpha, HOFFMANN_2022.beta) == (0.34, 0.28)
    assert (BESIROGLU_2024.E, BESIROGLU_2024.A, BESIROGLU_2024.B) == (1.8172, 482.01, 2085.43)
    # the unrounded TeX-source values round to the printed ones
    assert round(HOFFMANN_2022_UNROUNDED.A, 1) == 406.4 and round(HOFFMANN_2022_UNROUNDED.B, 1) == 410.7
    assert round(HOFFMANN_2022_UNROUNDED.E, 2) == 1.69 and round(HOFFMANN_2022_UNROUNDED.alpha, 2) == 0.34
    assert round(HOFFMANN_2022_UNROUNDED.beta, 2) == 0.28
    # a = beta / (alpha + beta): Hoffmann report a = 0.46 (Table 2), Besiroglu 0.51
    assert round(HOFFMANN_2022_UNROUNDED.a, 2) == 0.46
    assert round(BESIROGLU_2024.a, 2) == 0.51


def test_loss_hand_worked():
    law = ChinchillaLaw(E=1.0, A=1.0, B=1.0, alpha=1.0, beta=1.0)
    assert chinchilla_loss(2.0, 4.0, law) == 1.0 + 0.5 + 0.25
    law2 = ChinchillaLaw(E=2.0, A=100.0, B=10.0, alpha=0.5, beta=0.25)
    assert chinchilla_loss(1e4, 1e4, law2) == pytest.approx(2.0 + 100.0 / 100.0 + 10.0 / 10.0, rel=CLOSED_FORM_RTOL)


def test_loss_broadcasts_and_tends_to_E():
    n = np.array([[1e6], [1e9]])
    d = np.array([1e9, 1e12, 1e15])
    out = chinchilla_loss(n, d)
    assert out.shape == (2, 3)
    assert np.all(np.diff(out, axis=0) < 0) and np.all(np.diff(out, axis=1) < 0)  # more N or D: lower loss
    assert chinchilla_loss(1e80, 1e80) == pytest.approx(HOFFMANN_2022.E, rel=1e-12)
    assert isinstance(chinchilla_loss(1e9, 1e10), float)


# --------------------------------------------------------------------------- allocation


def _brute_force_n(c, law):
    def f(log_n):
        n = math.exp(log_n)
        return law.A * n ** (-law.alpha) + law.B * (c / (6 * n)) ** (-law.beta)

    res = minimize_scalar(f, bounds=(math.log(1.0), math.log(c / 6.0)), method="bounded", options={"xatol": 1e-12})
    return math.exp(res.x)


@pytest.mark.parametrize("law", [HOFFMANN_2022, HOFFMANN_2022_UNROUNDED, BESIROGLU_2024])
@pytest.mark.parametrize("c", [1e19, 5.76e23, 3.8e25])
def test_allocation_matches_brute_force(law, c):
    n_opt, d_opt = compute_optimal_allocation(c, law)
    assert n_opt == pytest.approx(_brute_force_n(c, law), rel=BRUTE_FORCE_RTOL)
    assert 6 * n_opt * d_opt == pytest.approx(c, rel=CLOSED_FORM_RTOL)


def test_allocation_paper_numbers():
    # Hoffmann et al. Section 3.3 / Figure 4: Approach 3 projects ~40B parameters for Gopher's
    # 5.76e23 FLOPs. The unrounded constants reproduce it; the rounded ones give ~32B.
    n_unrounded, _ = compute_optimal_allocation(5.76e23, HOFFMANN_2022_UNROUNDED)
    n_rounded, _ = compute_optimal_allocation(5.76e23, HOFFMANN_2022)
    assert 39e9 < n_unrounded < 41e9
    assert 31e9 < n_rounded < 33e9


@settings(max_examples=25, deadline=None)
@given(
    alpha=st.floats(0.05, 1.5),
    beta=st.floats(0.05, 1.5),
    log_a=st.floats(0.0, 10.0),
    log_b=st.floats(0.0, 10.0),
    log_c=st.floats(math.log(1e15), math.log(1e27)),
)
def test_allocation_properties(alpha, beta, log_a, log_b, log_c):
    # tiny E: the comparison below is on the reducible part only, which E would swamp in float64
    law = ChinchillaLaw(E=1e-300, A=math.exp(log_a), B=math.exp(log_b), alpha=alpha, beta=beta)
    c = math.exp(log_c)
    n, d = compute_optimal_allocation(c, law)
    assert 6 * n * d == pytest.approx(c, rel=CLOSED_FORM_RTOL)
    # first-order condition: alpha A / N^alpha == beta B / D^beta
    assert alpha * law.A * n ** (-alpha) == pytest.approx(beta * law.B * d ** (-beta), rel=1e-9)
    # a small step along the iso-FLOP line in either direction increases the loss
    for f in (0.999, 1.001):
        assert chinchilla_loss(n * f, d / f, law) > chinchilla_loss(n, d, law)


def test_allocation_vectorised():
    c = np.array([1e20, 1e22, 1e24])
    n, d = compute_optimal_allocation(c, BESIROGLU_2024)
    assert n.shape == (3,)
    for i in range(3):
        ni, di = compute_optimal_allocation(float(c[i]), BESIROGLU_2024)
        assert n[i] == pytest.approx(ni, rel=CLOSED_FORM_RTOL) and d[i] == pytest.approx(di, rel=CLOSED_FORM_RTOL)
    # N_opt grows like C^a
    assert np.log(n[2] / n[0]) / np.log(c[2] / c[0]) == pytest.approx(BESIROGLU_2024.a, rel=CLOSED_FORM_RTOL)


# --------------------------------------------------------------------------- objective


def test_objective_matches_independent_huber():
    rng = np.random.default_rng(1)
    n, d = _isoflop_runs(BESIROGLU_2024)
    losses = chinchilla_loss(n, d, BESIROGLU_2024) * np.exp(rng.normal(0, 0.01, n.size))
    theta = _theta(HOFFMANN_2022)
    pred = np.log(chinchilla_loss(n, d, HOFFMANN_2022))  # LSE form equals log of the sum
    expected = _huber(pred - np.log(losses), 1e-3).sum() / 1e-3
    assert chinchilla_objective(theta, n, d, losses) == pytest.approx(expected, rel=1e-12)
    assert chinchilla_objective(_theta(BESIROGLU_2024), n, d, chinchilla_loss(n, d, BESIROGLU_2024)) < 1e-20


def test_objective_gradient_matches_finite_differences():
    from scipy.optimize import approx_fprime

    from interviewlib.training.scaling import _objective_core

    rng = np.random.default_rng(2)
    n, d = _isoflop_runs(BESIROGLU_2024)
    losses = chinchilla_loss(n, d, BESIROGLU_2024) * np.exp(rng.normal(0, 0.01, n.size))
    args = (np.log(n), np.log(d), np.log(losses), 1e-3)
    theta = _theta(HOFFMANN_2022)
    analytic = _objective_core(theta, *args)[1]
    numeric = approx_fprime(theta, lambda t: _objective_core(t, *args)[0], 1e-7)
    # forward differences with h=1e-7 on an O(10) objective: truncation + round-off ~1e-5 relative
    np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-4)


# --------------------------------------------------------------------------- fit


def test_fit_recovers_noise_free_law():
    n, d = _isoflop_runs(BESIROGLU_2024)
    law = fit_chinchilla(n, d, chinchilla_loss(n, d, BESIROGLU_2024), grid=SMALL_GRID)
    for name, tol in (
        ("alpha", EXACT_FIT_RTOL_EXPONENTS),
        ("beta", EXACT_FIT_RTOL_EXPONENTS),
        ("E", EXACT_FIT_RTOL_EXPONENTS),
        ("A", EXACT_FIT_RTOL_COEFFS),
        ("B", EXACT_FIT_RTOL_COEFFS),
    ):
        assert getattr(law, name) == pytest.approx(getattr(BESIROGLU_2024, name), rel=tol), name


def test_fit_recovers_noisy_law_and_allocation():
    rng = np.random.default_rng(0)
    n, d = _isoflop_runs(BESIROGLU_2024)
    losses = chinchilla_loss(n, d, BESIROGLU_2024) * np.exp(rng.normal(0, 0.005, n.size))
    law = fit_chinchilla(n, d, losses, grid=SMALL_GRID)
    assert abs(law.alpha - BESIROGLU_2024.alpha) < NOISY_EXPONENT_ATOL
    assert abs(law.beta - BESIROGLU_2024.beta) < NOISY_EXPONENT_ATOL
    assert abs(law.a - BESIROGLU_2024.a) < NOISY_A_EXPONENT_ATOL


def test_fit_is_robust_to_an_outlier():
    # One diverged run with 3x the loss: Huber (delta=1e-3, effectively L1) ignores it,
    # a least-squares fit in log space is dragged (the point of the paper's robust loss).
    n, d = _isoflop_runs(BESIROGLU_2024)
    losses = chinchilla_loss(n, d, BESIROGLU_2024)
    losses[5] *= 3.0
    law = fit_chinchilla(n, d, losses, grid=SMALL_GRID)
    assert law.alpha == pytest.approx(BESIROGLU_2024.alpha, rel=1e-3)
    assert law.beta == pytest.approx(BESIROGLU_2024.beta, rel=1e-3)
    squared = fit_chinchilla(n, d, losses, grid=SMALL_GRID, delta=10.0)  # delta >> |r|: plain least squares
    assert abs(squared.alpha - BESIROGLU_2024.alpha) > 10 * abs(law.alpha - BESIROGLU_2024.alpha) + 1e-3


def _residuals(theta, log_n, log_d, log_l):
    a, b, e, alpha, beta = theta
    t = np.stack([a - alpha * log_n, b - beta * log_d, np.full_like(log_n, e)])
    return np.logaddexp.reduce(t, axis=0) - log_l


def _jacobian(theta, log_n, log_d, log_l):
    a, b, e, alpha, beta = theta
    t = np.stack([a - alpha * log_n, b - beta * log_d, np.full_like(log_n, e)])
    p = np.exp(t - np.logaddexp.reduce(t, axis=0))
    return np.column_stack([p[0], p[1], p[2], -p[0] * log_n, -p[1] * log_d])


def test_fit_agrees_with_scipy_least_squares_huber():
    # Reference: scipy's least_squares with loss="huber", f_scale=delta minimises exactly
    # sum Huber_delta(r) (cost = 0.5 f_scale^2 sum rho((r/f_scale)^2)); start it from the
    # same grid and keep the lowest cost.
    rng = np.random.default_rng(3)
    n, d = _isoflop_runs(BESIROGLU_2024)
    losses = chinchilla_loss(n, d, BESIROGLU_2024) * np.exp(rng.normal(0, 0.005, n.size))
    delta = 1e-3
    grid = {"a": [5.0, 10.0], "b": [5.0, 10.0], "e": [0.0], "alpha": [0.5], "beta": [0.5]}
    ours = fit_chinchilla(n, d, losses, delta=delta, grid=grid)
    args = (np.log(n), np.log(d), np.log(losses))
    best = None
    for x0 in itertools.product(*(grid[k] for k in ("a", "b", "e", "alpha", "beta"))):
        res = least_squares(
            _residuals,
            np.array(x0),
            jac=_jacobian,
            args=args,
            loss="huber",
            f_scale=delta,
            xtol=1e-12,
            ftol=1e-12,
            gtol=1e-12,
            max_nfev=2000,
        )
        if best is None or res.cost < best.cost:
            best = res
    ref_obj = chinchilla_objective(best.x, n, d, losses, delta=delta)
    assert ref_obj == pytest.approx(best.cost / delta, rel=1e-10)  # same objective
    our_obj = chinchilla_objective(_theta(ours), n, d, losses, delta=delta)
    assert our_obj <= ref_obj * (1 + SAME_OBJECTIVE_RTOL)
    np.testing.assert_allclose(_theta(ours)[3:], best.x[3:], rtol=SAME_PARAMS_RTOL)
    assert ours.E == pytest.approx(math.exp(best.x[2]), rel=SAME_PARAMS_RTOL)


def test_default_grid_is_hoffmanns():
    assert HOFFMANN_GRID["alpha"] == (0.0, 0.5, 1.0, 1.5, 2.0)
    assert HOFFMANN_GRID["e"] == (-1.0, -0.5, 0.0, 0.5, 1.0)
    assert HOFFMANN_GRID["a"] == (0.0, 5.0, 10.0, 15.0, 20.0, 25.0)
    assert math.prod(len(v) for v in HOFFMANN_GRID.values()) == 4500


# --------------------------------------------------------------------------- bad input


def test_bad_law_constants():
    with pytest.raises(ValueError, match="A must be > 0"):
        ChinchillaLaw(E=1.0, A=0.0, B=1.0, alpha=0.3, beta=0.3)
    with pytest.raises(ValueError, match="alpha must be finite"):
        ChinchillaLaw(E=1.0, A=1.0, B=1.0, alpha=float("nan"), beta=0.3)
    with pytest.raises(TypeError, match="E must be a real number"):
        ChinchillaLaw(E="1", A=1.0, B=1.0, alpha=0.3, beta=0.3)
    with pytest.raises(TypeError, match="law must be a ChinchillaLaw"):
        chinchilla_loss(1e9, 1e10, law=(1.69, 406.4, 410.7, 0.34, 0.28))


def test_bad_loss_and_allocation_inputs():
    with pytest.raises(ValueError, match="n_params must be > 0"):
        chinchilla_loss(0.0, 1e10)
    with pytest.raises(ValueError, match="n_tokens must contain only finite"):
        chinchilla_loss(1e9, float("inf"))
    with pytest.raises(ValueError, match="must broadcast"):
        chinchilla_loss(np.ones(2) * 1e9, np.ones(3) * 1e10)
    with pytest.raises(ValueError, match="compute must be > 0"):
        compute_optimal_allocation(-1.0)
    flat = ChinchillaLaw(E=1.0, A=1.0, B=1.0, alpha=0.0, beta=0.3)
    with pytest.raises(ValueError, match="alpha and law.beta must be > 0"):
        compute_optimal_allocation(1e20, flat)


def test_bad_fit_inputs():
    n, d = _isoflop_runs(BESIROGLU_2024, budgets=[1e19], per_budget=6)
    losses = chinchilla_loss(n, d, BESIROGLU_2024)
    with pytest.raises(ValueError, match="same length"):
        fit_chinchilla(n, d[:-1], losses, grid=SMALL_GRID)
    with pytest.raises(ValueError, match="at least 5 runs"):
        fit_chinchilla(n[:4], d[:4], losses[:4], grid=SMALL_GRID)
    with pytest.raises(ValueError, match="losses must be > 0"):
        fit_chinchilla(n, d, -losses, grid=SMALL_GRID)
    with pytest.raises(ValueError, match="n_params must be 1-D"):
        fit_chinchilla(n.reshape(2, 3), d, losses, grid=SMALL_GRID)
    with pytest.raises(ValueError, match="delta must be > 0"):
        fit_chinchilla(n, d, losses, delta=0.0, grid=SMALL_GRID)
    with pytest.raises(ValueError, match="grid must have exactly the keys"):
        fit_chinchilla(n, d, losses, grid={"a": [0.0]})
    with pytest.raises(ValueError, match=r"grid\['beta'\] must not be empty"):
        fit_chinchilla(n, d, losses, grid={**SMALL_GRID, "beta": []})
    with pytest.raises(TypeError, match="grid must be a mapping"):
        fit_chinchilla(n, d, losses, grid=[0.0, 0.0, 0.0, 0.5, 0.5])
    with pytest.raises(TypeError, match="must contain real numbers"):
        fit_chinchilla(["a"] * 6, d, losses, grid=SMALL_GRID)
    with pytest.raises(ValueError, match="theta must have 5 entries"):
        chinchilla_objective([1.0, 2.0], n, d, losses)


def test_inputs_not_mutated():
    n, d = _isoflop_runs(BESIROGLU_2024, budgets=[1e19, 1e20], per_budget=4)
    losses = chinchilla_loss(n, d, BESIROGLU_2024)
    copies = (n.copy(), d.copy(), losses.copy())
    fit_chinchilla(n, d, losses, grid={"a": [5.0], "b": [5.0], "e": [0.0], "alpha": [0.5], "beta": [0.5]})
    for before, after in zip(copies, (n, d, losses)):
        np.testing.assert_array_equal(before, after)
