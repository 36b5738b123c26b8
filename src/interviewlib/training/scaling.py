r"""Chinchilla scaling law: the loss surface, its fit, and the compute-optimal allocation.

Hoffmann et al. (2022) model the final pre-training loss of a model with :math:`N`
parameters trained on :math:`D` tokens as

.. math:: \hat L(N, D) = E + \frac{A}{N^\alpha} + \frac{B}{D^\beta},

fit the five constants by minimising a Huber loss on :math:`\log L` (their eq. 3 and
Appendix D.2), and minimise :math:`\hat L` on the line :math:`C = 6ND` in closed form.
See question q08-01.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from interviewlib._validation import as_float_array, check_scalar

__all__ = [
    "ChinchillaLaw",
    "HOFFMANN_2022",
    "HOFFMANN_2022_UNROUNDED",
    "BESIROGLU_2024",
    "HOFFMANN_GRID",
    "chinchilla_loss",
    "chinchilla_objective",
    "fit_chinchilla",
    "compute_optimal_allocation",
]

_PARAM_NAMES = ("a", "b", "e", "alpha", "beta")

# Appendix D.2 of Hoffmann et al.: L-BFGS started from every point of this grid (4500 starts).
HOFFMANN_GRID: dict[str, tuple[float, ...]] = {
    "a": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
    "b": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
    "e": (-1.0, -0.5, 0.0, 0.5, 1.0),
    "alpha": (0.0, 0.5, 1.0, 1.5, 2.0),
    "beta": (0.0, 0.5, 1.0, 1.5, 2.0),
}


@dataclass(frozen=True)
class ChinchillaLaw:
    r"""The five constants of :math:`L(N, D) = E + A/N^\alpha + B/D^\beta`.

    Parameters
    ----------
    E, A, B : float
        Irreducible loss and the two coefficients (nats per token); all > 0.
    alpha, beta : float
        Exponents of the parameter and data terms (finite; > 0 for a law that improves
        with scale, which :func:`compute_optimal_allocation` requires).

    Raises
    ------
    TypeError, ValueError
        If a constant is not a finite real number, or ``E``, ``A`` or ``B`` is not > 0.

    Notes
    -----
    ``a = beta / (alpha + beta)`` and ``b = alpha / (alpha + beta)`` are the exponents of
    :math:`N_{opt} \propto C^a` and :math:`D_{opt} \propto C^b`. See question q08-01.

    Examples
    --------
    >>> round(HOFFMANN_2022.a, 3), round(BESIROGLU_2024.a, 3)
    (0.452, 0.513)
    """

    E: float
    A: float
    B: float
    alpha: float
    beta: float

    def __post_init__(self) -> None:
        for name in ("E", "A", "B"):
            object.__setattr__(self, name, check_scalar(getattr(self, name), name, low=0, low_inclusive=False))
        for name in ("alpha", "beta"):
            object.__setattr__(self, name, check_scalar(getattr(self, name), name))

    @property
    def a(self) -> float:
        """Exponent of :math:`N_{opt}(C)`: ``beta / (alpha + beta)``."""
        return self.beta / (self.alpha + self.beta)

    @property
    def b(self) -> float:
        """Exponent of :math:`D_{opt}(C)`: ``alpha / (alpha + beta)``."""
        return self.alpha / (self.alpha + self.beta)


# Hoffmann et al. 2022, Appendix D.2 (eq. 10): the rounded values printed in the paper.
HOFFMANN_2022 = ChinchillaLaw(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)
# The unrounded values of the paper's TeX source, as used by Besiroglu et al. 2024
# (a, b, e = log A, log B, log E = 6.0073404, 6.0179186, 0.5267228).
HOFFMANN_2022_UNROUNDED = ChinchillaLaw(
    E=float(np.exp(0.5267228)), A=float(np.exp(6.0073404)), B=float(np.exp(6.0179186)), alpha=0.33917084, beta=0.2849083
)
# Besiroglu et al. 2024 refit of Approach 3 on data reconstructed from Hoffmann's Figure 4.
BESIROGLU_2024 = ChinchillaLaw(E=1.8172, A=482.01, B=2085.43, alpha=0.3478, beta=0.3658)


def _check_law(law) -> ChinchillaLaw:
    if not isinstance(law, ChinchillaLaw):
        raise TypeError(f"law must be a ChinchillaLaw; got {type(law).__name__}.")
    return law


def _positive(x, name: str, *, ndim=None) -> np.ndarray:
    arr = as_float_array(x, name, ndim=ndim)
    if arr.size and np.any(arr <= 0):
        raise ValueError(f"{name} must be > 0 everywhere; got minimum {arr.min()}.")
    return arr


def _as_output(x: np.ndarray):
    return float(x) if x.ndim == 0 else x


def chinchilla_loss(n_params, n_tokens, law: ChinchillaLaw = HOFFMANN_2022):
    r"""Predicted loss :math:`E + A/N^\alpha + B/D^\beta` (broadcasts like numpy).

    Parameters
    ----------
    n_params : float or array_like
        Model parameters :math:`N` (> 0).
    n_tokens : float or array_like
        Training tokens :math:`D` (> 0), broadcastable against ``n_params``.
    law : ChinchillaLaw
        The constants (default: Hoffmann et al.'s rounded values).

    Returns
    -------
    float or numpy.ndarray
        The loss in nats per token, with the broadcast shape.

    Raises
    ------
    TypeError
        If ``law`` is not a :class:`ChinchillaLaw` or an input is not numeric.
    ValueError
        If an input is not > 0 or not finite, or the shapes do not broadcast.

    Notes
    -----
    See question q08-01.

    Examples
    --------
    >>> round(chinchilla_loss(70e9, 1.4e12), 3)  # Chinchilla itself, Hoffmann's constants
    1.937
    """
    law = _check_law(law)
    n = _positive(n_params, "n_params")
    d = _positive(n_tokens, "n_tokens")
    try:
        np.broadcast_shapes(n.shape, d.shape)
    except ValueError as exc:
        raise ValueError(f"n_params and n_tokens must broadcast; got shapes {n.shape} and {d.shape}.") from exc
    return _as_output(law.E + law.A * n ** (-law.alpha) + law.B * d ** (-law.beta))


def compute_optimal_allocation(compute, law: ChinchillaLaw = HOFFMANN_2022):
    r"""Closed-form minimiser of the law on the iso-FLOP line :math:`C = 6ND`.

    Parameters
    ----------
    compute : float or array_like
        Training budget :math:`C` in FLOPs (> 0).
    law : ChinchillaLaw
        The constants; ``alpha`` and ``beta`` must be > 0.

    Returns
    -------
    n_opt, d_opt : float or numpy.ndarray
        :math:`N_{opt} = G (C/6)^{a}` and :math:`D_{opt} = G^{-1} (C/6)^{b}` with
        :math:`G = (\alpha A / \beta B)^{1/(\alpha+\beta)}`, :math:`a = \beta/(\alpha+\beta)`,
        :math:`b = \alpha/(\alpha+\beta)`; ``6 * n_opt * d_opt == compute``.

    Raises
    ------
    TypeError
        If ``law`` is not a :class:`ChinchillaLaw`.
    ValueError
        If ``compute`` is not > 0, or an exponent is not > 0 (then the loss has no
        interior minimum on the line).

    Notes
    -----
    Substitute :math:`D = C/(6N)`: :math:`f(N) = A N^{-\alpha} + B (C/6)^{-\beta} N^{\beta}`,
    and :math:`f'(N) = 0` gives :math:`\alpha A / N^\alpha = \beta B / D^\beta`: at the
    optimum the two reducible terms stand in the ratio :math:`\beta : \alpha`.
    :math:`E` does not move the optimum. Tokens per parameter,
    :math:`D/N = G^{-2} (C/6)^{(\alpha-\beta)/(\alpha+\beta)}`, is constant only if
    :math:`\alpha = \beta`. See question q08-01.

    References
    ----------
    .. [1] Hoffmann et al., "Training Compute-Optimal Large Language Models", 2022,
       arXiv:2203.15556, Section 3.3 (eq. 4).

    Examples
    --------
    >>> n, d = compute_optimal_allocation(5.76e23)  # Gopher's budget, rounded constants
    >>> f"{n:.3g} {d:.3g}"
    '3.22e+10 2.98e+12'
    """
    law = _check_law(law)
    if not (law.alpha > 0 and law.beta > 0):
        raise ValueError(f"law.alpha and law.beta must be > 0; got alpha={law.alpha}, beta={law.beta}.")
    c = _positive(compute, "compute")
    g = (law.alpha * law.A / (law.beta * law.B)) ** (1.0 / (law.alpha + law.beta))
    n_opt = g * (c / 6.0) ** law.a
    d_opt = (c / 6.0) / n_opt  # exactly on the line; equals G^-1 (C/6)^b
    return _as_output(n_opt), _as_output(d_opt)


def _objective_core(theta, log_n, log_d, log_l, delta):
    """Sum of Huber_delta(LSE(a - alpha log N, b - beta log D, e) - log L) / delta, and its gradient."""
    a, b, e, alpha, beta = theta
    t1 = a - alpha * log_n  # (n,) log of the parameter term A / N^alpha
    t2 = b - beta * log_d  # (n,) log of the data term B / D^beta
    m = np.maximum(np.maximum(t1, t2), e)  # shift for a stable log-sum-exp
    w1, w2, w3 = np.exp(t1 - m), np.exp(t2 - m), np.exp(e - m)
    s = w1 + w2 + w3
    r = m + np.log(s) - log_l  # residual of the predicted log loss
    psi = np.clip(r, -delta, delta)  # Huber'(r)
    value = psi @ (r - 0.5 * psi)  # = sum of 0.5 r^2 (|r| <= delta) or delta |r| - delta^2 / 2
    q = psi / s  # Huber'(r) times the softmax weights w / s, before the w factor
    qw1, qw2 = q * w1, q * w2
    grad = np.array([qw1.sum(), qw2.sum(), q @ w3, -(qw1 @ log_n), -(qw2 @ log_d)])
    return value / delta, grad / delta


def _check_data(n_params, n_tokens, losses):
    n = _positive(n_params, "n_params", ndim=1)
    d = _positive(n_tokens, "n_tokens", ndim=1)
    l_ = _positive(losses, "losses", ndim=1)
    if not (n.shape == d.shape == l_.shape):
        raise ValueError(
            f"n_params, n_tokens and losses must have the same length; got {n.shape[0]}, {d.shape[0]} and {l_.shape[0]}."
        )
    if n.shape[0] < 5:
        raise ValueError(f"need at least 5 runs to fit 5 constants; got {n.shape[0]}.")
    return np.log(n), np.log(d), np.log(l_)


def chinchilla_objective(theta, n_params, n_tokens, losses, *, delta: float = 1e-3) -> float:
    r"""Hoffmann's fitting objective at ``theta = (a, b, e, alpha, beta)``, divided by ``delta``.

    Parameters
    ----------
    theta : array_like, shape (5,)
        :math:`(\log A, \log B, \log E, \alpha, \beta)`.
    n_params, n_tokens, losses : array_like, shape (n,)
        The runs: parameters, tokens and final loss (all > 0).
    delta : float
        Huber threshold on the log-loss residual (paper: :math:`10^{-3}`).

    Returns
    -------
    float
        :math:`\frac{1}{\delta}\sum_i \mathrm{Huber}_\delta\big(\mathrm{LSE}(a-\alpha\log N_i,
        b-\beta\log D_i, e) - \log L_i\big)`.

    Raises
    ------
    ValueError
        On bad shapes, non-positive data or ``delta <= 0``.

    Notes
    -----
    Dividing by :math:`\delta` only rescales: the minimiser is the paper's. For residuals
    much larger than :math:`\delta` each term is about :math:`|r_i|`, so the objective is
    a robust (L1-like) fit in log space. See question q08-01.

    Examples
    --------
    >>> th = [np.log(406.4), np.log(410.7), np.log(1.69), 0.34, 0.28]
    >>> L = chinchilla_loss(np.array([1e9, 1e10]), np.array([2e10, 2e11]))
    >>> chinchilla_objective(th, [1e9, 1e10], [2e10, 2e11], L) < 1e-20
    True
    """
    th = as_float_array(theta, "theta", ndim=1)
    if th.shape != (5,):
        raise ValueError(f"theta must have 5 entries (a, b, e, alpha, beta); got shape {th.shape}.")
    n = _positive(n_params, "n_params", ndim=1)
    d = _positive(n_tokens, "n_tokens", ndim=1)
    l_ = _positive(losses, "losses", ndim=1)
    if not (n.shape == d.shape == l_.shape):
        raise ValueError(
            f"n_params, n_tokens and losses must have the same length; got {n.shape[0]}, {d.shape[0]} and {l_.shape[0]}."
        )
    delta = check_scalar(delta, "delta", low=0, low_inclusive=False)
    return float(_objective_core(th, np.log(n), np.log(d), np.log(l_), delta)[0])


def _check_grid(grid) -> np.ndarray:
    if not isinstance(grid, Mapping):
        raise TypeError(f"grid must be a mapping from {_PARAM_NAMES} to sequences; got {type(grid).__name__}.")
    if set(grid) != set(_PARAM_NAMES):
        raise ValueError(f"grid must have exactly the keys {_PARAM_NAMES}; got {tuple(grid)}.")
    axes = []
    for name in _PARAM_NAMES:
        values = grid[name]
        if not isinstance(values, (Sequence, np.ndarray)) or isinstance(values, str):
            raise TypeError(f"grid[{name!r}] must be a sequence of numbers; got {type(values).__name__}.")
        axes.append(as_float_array(values, f"grid[{name!r}]", ndim=1, allow_empty=False))
    return np.array(list(itertools.product(*axes)))  # (n_starts, 5) in the order a, b, e, alpha, beta


def fit_chinchilla(
    n_params,
    n_tokens,
    losses,
    *,
    delta: float = 1e-3,
    grid: Mapping[str, Sequence[float]] | None = None,
    maxiter: int = 1000,
) -> ChinchillaLaw:
    r"""Fit :math:`L = E + A/N^\alpha + B/D^\beta` as Hoffmann et al. do (Approach 3).

    Parameters
    ----------
    n_params, n_tokens, losses : array_like, shape (n,)
        One entry per training run: parameters :math:`N`, tokens :math:`D`, final loss
        :math:`L` (all > 0, ``n >= 5``).
    delta : float
        Huber threshold on the residual of :math:`\log L` (paper: :math:`10^{-3}`).
    grid : mapping, optional
        Starting values for each of ``"a", "b", "e", "alpha", "beta"`` (with
        :math:`A, B, E = e^a, e^b, e^e`); L-BFGS runs from every point of their Cartesian
        product. Default ``HOFFMANN_GRID``, the paper's 4500 starts.
    maxiter : int
        Iteration cap of each L-BFGS-B run.

    Returns
    -------
    ChinchillaLaw
        The constants of the start that reached the lowest objective.

    Raises
    ------
    TypeError
        If an input has the wrong type (e.g. ``grid`` is not a mapping).
    ValueError
        On shapes that differ, fewer than 5 runs, non-positive or non-finite data,
        ``delta <= 0``, or a grid with the wrong keys or empty axes.

    Notes
    -----
    The model is written as :math:`\log \hat L = \mathrm{LSE}(a - \alpha\log N,\;
    b - \beta\log D,\; e)`, which keeps :math:`A, B, E > 0` without constraints and
    evaluates stably (Hoffmann et al., Appendix D.2). We minimise the *sum* of Huber
    terms divided by :math:`\delta` with an analytic gradient and tight tolerances
    (``ftol = 1e-13``, ``gtol = 1e-9``): with :math:`\delta = 10^{-3}` the raw objective
    is tiny, and Besiroglu et al. (2024) trace Hoffmann's inconsistent estimates to an
    optimiser that stopped early because of this loss scale. A start whose run ends with
    a non-finite objective is skipped. No bounds are passed, so L-BFGS-B runs as plain
    L-BFGS, as in the paper. Cost: one L-BFGS run (``O(n)`` per evaluation) per grid
    point; the default 4500-start grid takes tens of seconds for ~60 runs, so pass a
    smaller ``grid`` when exploring. See question q08-01.

    References
    ----------
    .. [1] Hoffmann et al., "Training Compute-Optimal Large Language Models", 2022,
       arXiv:2203.15556, Section 3.3 and Appendix D.2.
    .. [2] Besiroglu et al., "Chinchilla Scaling: A replication attempt", 2024,
       arXiv:2404.10102.

    Examples
    --------
    >>> N, D = np.meshgrid(np.geomspace(1e8, 1e10, 4), np.geomspace(1e9, 1e11, 4))
    >>> L = chinchilla_loss(N.ravel(), D.ravel(), BESIROGLU_2024)
    >>> small = {"a": [5.0], "b": [5.0, 10.0], "e": [0.0, 0.5], "alpha": [0.5], "beta": [0.5]}
    >>> law = fit_chinchilla(N.ravel(), D.ravel(), L, grid=small)
    >>> round(law.alpha, 3), round(law.beta, 3)
    (0.348, 0.366)
    """
    log_n, log_d, log_l = _check_data(n_params, n_tokens, losses)
    delta = check_scalar(delta, "delta", low=0, low_inclusive=False)
    maxiter = check_scalar(maxiter, "maxiter", kind="int", low=1)
    starts = _check_grid(HOFFMANN_GRID if grid is None else grid)
    best_x, best_f = None, np.inf
    options = {"maxiter": maxiter, "ftol": 1e-13, "gtol": 1e-9}
    for x0 in starts:  # loop over starts, not data: each run is an independent L-BFGS
        res = minimize(
            _objective_core, x0, args=(log_n, log_d, log_l, delta), jac=True, method="L-BFGS-B", options=options
        )
        if np.isfinite(res.fun) and np.all(np.isfinite(res.x)) and res.fun < best_f:
            best_x, best_f = res.x, float(res.fun)
    if best_x is None:
        raise ValueError("every L-BFGS run ended with a non-finite objective; check the data and the grid.")
    a, b, e, alpha, beta = best_x
    return ChinchillaLaw(
        E=float(np.exp(e)), A=float(np.exp(a)), B=float(np.exp(b)), alpha=float(alpha), beta=float(beta)
    )
