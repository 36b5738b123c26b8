"""Chapter 8 benchmark: our Chinchilla fit vs scipy's least_squares(loss="huber") on the same data.

Both minimise sum Huber_delta(LSE(a - alpha log N, b - beta log D, e) - log L) from the same
grid of starts and keep the best; least_squares with loss="huber", f_scale=delta has exactly
this cost. Data: 63 synthetic iso-FLOP runs (7 budgets 1e18..1e22 x 9 sizes) from the
Besiroglu et al. 2024 law with 0.5% multiplicative noise.

Rows: "params vs ref" reports the largest relative difference of (E, A, B, alpha, beta)
between the two fits; "vs truth" reports our largest relative error against the generating
constants (same timings). Run: python benchmarks/run.py scaling
"""

from __future__ import annotations

import itertools

import numpy as np
from harness import Result, compare
from scipy.optimize import least_squares

from interviewlib.training import (
    BESIROGLU_2024,
    chinchilla_loss,
    compute_optimal_allocation,
    fit_chinchilla,
)

NAMES = ("a", "b", "e", "alpha", "beta")
DELTA = 1e-3


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    n_list, d_list = [], []
    for c in np.geomspace(1e18, 1e22, 7):
        n_opt, _ = compute_optimal_allocation(c, BESIROGLU_2024)
        n = n_opt * np.geomspace(1 / 8, 8, 9)
        n_list.append(n)
        d_list.append(c / (6 * n))
    n, d = np.concatenate(n_list), np.concatenate(d_list)
    return n, d, chinchilla_loss(n, d, BESIROGLU_2024) * np.exp(rng.normal(0, 0.005, n.size))


def _terms(theta, log_n, log_d):
    a, b, e, alpha, beta = theta
    return np.stack([a - alpha * log_n, b - beta * log_d, np.full_like(log_n, e)])  # (3, n)


def _residuals(theta, log_n, log_d, log_l):
    return np.logaddexp.reduce(_terms(theta, log_n, log_d), axis=0) - log_l


def _jacobian(theta, log_n, log_d, log_l):
    t = _terms(theta, log_n, log_d)
    p = np.exp(t - np.logaddexp.reduce(t, axis=0))
    return np.column_stack([p[0], p[1], p[2], -p[0] * log_n, -p[1] * log_d])


def _reference_fit(n, d, losses, grid):
    args = (np.log(n), np.log(d), np.log(losses))
    best = None
    for x0 in itertools.product(*(grid[k] for k in NAMES)):
        res = least_squares(
            _residuals, np.array(x0, dtype=float), jac=_jacobian, args=args, loss="huber", f_scale=DELTA
        )
        if np.isfinite(res.cost) and (best is None or res.cost < best.cost):
            best = res
    a, b, e, alpha, beta = best.x
    return np.array([np.exp(e), np.exp(a), np.exp(b), alpha, beta])


def _ours(n, d, losses, grid):
    law = fit_chinchilla(n, d, losses, delta=DELTA, grid=grid)
    return np.array([law.E, law.A, law.B, law.alpha, law.beta])


def _max_rel(x, y):
    return float(np.max(np.abs(x - y) / np.abs(y)))


TRUTH = np.array([BESIROGLU_2024.E, BESIROGLU_2024.A, BESIROGLU_2024.B, BESIROGLU_2024.alpha, BESIROGLU_2024.beta])


def run() -> list[Result]:
    n, d, losses = _data()
    small = {
        "a": [0.0, 10.0, 20.0],
        "b": [0.0, 10.0, 20.0],
        "e": [-1.0, 0.0, 1.0],
        "alpha": [0.5, 1.0],
        "beta": [0.5, 1.0],
    }
    results = []
    one = {"a": [5.0], "b": [5.0], "e": [0.0], "alpha": [0.5], "beta": [0.5]}
    # The paper's full 4500-start HOFFMANN_GRID behaves like the 108-start grid (measured once:
    # 41 s vs 194 s, ratio 0.21x, same optimum to 2e-8) but takes ~4 minutes per repeat pair.
    for label, grid, repeats in (("108-start grid", small, 3), ("1 start", one, 7)):
        out = {}

        def ours(grid=grid, out=out):
            out["ours"] = _ours(n, d, losses, grid)
            return out["ours"]

        r = compare(
            "fit_chinchilla vs least_squares(huber): params vs ref",
            f"{n.size} runs, {label}",
            ours,
            lambda grid=grid: _reference_fit(n, d, losses, grid),
            error=_max_rel,
            repeats=repeats,
            warmup=0,
        )
        results.append(r)
        results.append(
            Result("  same fit: our params vs truth", r.size, r.ours_s, r.ref_s, _max_rel(out["ours"], TRUTH), None)
        )
    return results
