r"""KL and Jensen-Shannon divergences, Gaussian closed forms, forward vs reverse KL fits.

Question q02-04. For discrete distributions

.. math::

    \mathrm{KL}(P \,\|\, Q) = \sum_i p_i \log\frac{p_i}{q_i}, \qquad
    \mathrm{JS}(P, Q) = \tfrac12 \mathrm{KL}(P \,\|\, M) + \tfrac12 \mathrm{KL}(Q \,\|\, M),
    \quad M = \tfrac12 (P + Q).

Zero handling (the conventions of information theory, also scipy's): a term with
:math:`p_i = 0` contributes 0 (:math:`0 \log 0 = 0`, by continuity); a term with
:math:`p_i > 0` and :math:`q_i = 0` makes the KL :math:`+\infty` (:math:`Q` calls
possible what :math:`P` does). JS never hits that case because :math:`M > 0` wherever
:math:`P` or :math:`Q` is, so it is always finite and at most :math:`\log 2`. The
``eps`` argument of ``kl_divergence`` offers additive smoothing of ``q`` instead.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp, xlogy

from interviewlib._validation import as_float_array, as_matrix, check_option, check_scalar


def _distributions(p, q) -> tuple[np.ndarray, np.ndarray]:
    p = as_float_array(p, "p", ndim=(1, 2), allow_empty=False)
    q = as_float_array(q, "q", ndim=(1, 2), allow_empty=False)
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same shape; got {p.shape} and {q.shape}.")
    for name, a in (("p", p), ("q", q)):
        if np.any(a < 0):
            raise ValueError(f"{name} must be non-negative (a probability vector or counts).")
        if np.any(a.sum(axis=-1) == 0):
            raise ValueError(f"{name} must have positive total mass along the last axis; got an all-zero row.")
    return p / p.sum(axis=-1, keepdims=True), q / q.sum(axis=-1, keepdims=True)


def _kl_core(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        terms = xlogy(p, p) - xlogy(p, q)  # xlogy(0, .) = 0; p>0, q=0 gives +inf
    return terms.sum(axis=-1)


def kl_divergence(p, q, *, base: float | None = None, eps: float = 0.0):
    r"""Kullback-Leibler divergence :math:`\mathrm{KL}(P \,\|\, Q)` of discrete distributions.

    Parameters
    ----------
    p, q : array_like of shape (k,) or (n, k)
        Non-negative weights, normalised along the last axis (as ``scipy.stats.entropy``
        does); rows are independent distributions.
    base : float, optional
        Logarithm base (2 gives bits); natural log (nats) by default.
    eps : float, default 0
        Additive smoothing of ``q``: ``q <- (q + eps) / sum``; ``eps > 0`` turns an
        infinite KL into a large finite one.

    Returns
    -------
    float or numpy.ndarray of shape (n,)
        Non-negative; ``inf`` when some ``p_i > 0`` has ``q_i = 0`` (and ``eps == 0``).

    Raises
    ------
    ValueError
        On shape mismatch, negative entries, all-zero rows, or a bad ``base``/``eps``.

    Notes
    -----
    Gibbs' inequality: :math:`\mathrm{KL} \ge 0` with equality iff :math:`P = Q` (Jensen
    on the convex :math:`-\log`). Not symmetric and no triangle inequality, so not a
    metric. :math:`\mathrm{KL}(P\|Q) = H(P, Q) - H(P)`: cross-entropy minus entropy.
    See question q02-04.

    Examples
    --------
    >>> round(kl_divergence([0.5, 0.5], [0.9, 0.1]), 4)
    0.5108
    >>> kl_divergence([0.5, 0.5], [1.0, 0.0])
    inf
    """
    p, q = _distributions(p, q)
    eps = check_scalar(eps, "eps", low=0)
    if eps > 0:
        q = (q + eps) / (q + eps).sum(axis=-1, keepdims=True)
    out = _kl_core(p, q)
    if base is not None:
        out = out / np.log(check_scalar(base, "base", low=0, low_inclusive=False))
    return float(out) if out.ndim == 0 else out


def js_divergence(p, q, *, base: float | None = None):
    r"""Jensen-Shannon divergence; its square root is a metric.

    Parameters
    ----------
    p, q : array_like of shape (k,) or (n, k)
        Non-negative weights, normalised along the last axis.
    base : float, optional
        Logarithm base; with ``base=2`` the value lies in ``[0, 1]``.

    Returns
    -------
    float or numpy.ndarray of shape (n,)
        In ``[0, log 2]`` (natural log); 0 iff ``P == Q``; ``log 2`` iff the supports
        are disjoint.

    Raises
    ------
    ValueError
        As for ``kl_divergence``.

    Notes
    -----
    Symmetric and always finite. ``scipy.spatial.distance.jensenshannon`` returns the
    *distance* :math:`\sqrt{\mathrm{JS}}`, which satisfies the triangle inequality
    (Endres and Schindelin, 2003). The original GAN's optimal-discriminator objective is
    :math:`2\,\mathrm{JS}(p_{\text{data}}, p_g) - \log 4`. See question q02-04.

    Examples
    --------
    >>> round(js_divergence([1, 0], [0, 1], base=2), 6)
    1.0
    """
    p, q = _distributions(p, q)
    # KL(P || M) with log m = log(p + q) - log 2; forming m = (p + q) / 2 directly could
    # underflow to 0 for subnormal entries and turn a finite JS into inf.
    s = p + q
    out = 0.5 * np.sum(xlogy(p, p) - xlogy(p, s) + xlogy(q, q) - xlogy(q, s), axis=-1) + np.log(2)
    out = np.maximum(out, 0.0)  # clip round-off below 0
    if base is not None:
        out = out / np.log(check_scalar(base, "base", low=0, low_inclusive=False))
    return float(out) if out.ndim == 0 else out


def gaussian_kl(mu0, var0, mu1, var1):
    r"""Closed-form :math:`\mathrm{KL}(\mathcal N(\mu_0, \sigma_0^2) \,\|\, \mathcal N(\mu_1, \sigma_1^2))`.

    Parameters
    ----------
    mu0, var0, mu1, var1 : array_like (broadcastable)
        Means and *variances* (``> 0``).

    Returns
    -------
    float or numpy.ndarray
        :math:`\log\frac{\sigma_1}{\sigma_0} + \frac{\sigma_0^2 + (\mu_0-\mu_1)^2}{2\sigma_1^2} - \frac12`.

    Raises
    ------
    ValueError
        If a variance is not positive.

    Notes
    -----
    The VAE's KL term is the case :math:`\mu_1 = 0, \sigma_1 = 1` summed over latent
    dimensions. See question q02-04.

    Examples
    --------
    >>> gaussian_kl(0.0, 1.0, 0.0, 1.0)
    0.0
    >>> round(gaussian_kl(1.0, 1.0, 0.0, 1.0), 3)
    0.5
    """
    mu0, var0, mu1, var1 = (as_float_array(v, n) for v, n in ((mu0, "mu0"), (var0, "var0"), (mu1, "mu1"), (var1, "var1")))
    if np.any(var0 <= 0) or np.any(var1 <= 0):
        raise ValueError("var0 and var1 must be positive variances (not standard deviations of 0).")
    out = 0.5 * (np.log(var1 / var0) + (var0 + (mu0 - mu1) ** 2) / var1 - 1.0)
    return float(out) if out.ndim == 0 else out


def mvn_kl(mu0, cov0, mu1, cov1) -> float:
    r"""Closed-form KL between multivariate normals :math:`\mathcal N(\mu_0,\Sigma_0)\,\|\,\mathcal N(\mu_1,\Sigma_1)`.

    Parameters
    ----------
    mu0, mu1 : array_like of shape (d,)
    cov0, cov1 : array_like of shape (d, d)
        Symmetric positive definite covariances.

    Returns
    -------
    float
        :math:`\frac12\big[\mathrm{tr}(\Sigma_1^{-1}\Sigma_0) + (\mu_1-\mu_0)^\top\Sigma_1^{-1}(\mu_1-\mu_0) - d + \log\frac{\det\Sigma_1}{\det\Sigma_0}\big]`.

    Raises
    ------
    ValueError
        On shape mismatch or a covariance that is not positive definite.

    Notes
    -----
    Computed with Cholesky factors (log-determinants from their diagonals, solves
    instead of inverses). See question q02-04.

    Examples
    --------
    >>> round(mvn_kl([0, 0], np.eye(2), [1, 0], 2 * np.eye(2)), 4)
    0.4431
    """
    mu0 = as_float_array(mu0, "mu0", ndim=1, allow_empty=False)
    mu1 = as_float_array(mu1, "mu1", ndim=1, allow_empty=False)
    d = mu0.shape[0]
    cov0 = as_matrix(cov0, "cov0", square=True)
    cov1 = as_matrix(cov1, "cov1", square=True)
    if mu1.shape[0] != d or cov0.shape[0] != d or cov1.shape[0] != d:
        raise ValueError(
            f"mu0, mu1 must have length d and cov0, cov1 shape (d, d); got {mu0.shape}, {mu1.shape}, "
            f"{cov0.shape}, {cov1.shape}."
        )
    try:
        L0 = np.linalg.cholesky(cov0)
        L1 = np.linalg.cholesky(cov1)
    except np.linalg.LinAlgError:
        raise ValueError("cov0 and cov1 must be symmetric positive definite.") from None
    A = np.linalg.solve(L1, L0)  # L1^{-1} L0, so tr(S1^{-1} S0) = ||A||_F^2
    b = np.linalg.solve(L1, mu1 - mu0)
    logdet = 2.0 * (np.log(np.diag(L1)).sum() - np.log(np.diag(L0)).sum())
    return float(0.5 * (np.sum(A * A) + b @ b - d + logdet))


def _mixture_logpdf(x: np.ndarray, w: np.ndarray, mu: np.ndarray, sd: np.ndarray) -> np.ndarray:
    z = (x[:, None] - mu) / sd  # (n, K)
    return logsumexp(np.log(w) - 0.5 * z**2 - np.log(sd * np.sqrt(2 * np.pi)), axis=1)


def _check_mixture(weights, means, stds) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    w = as_float_array(weights, "weights", ndim=1, allow_empty=False)
    mu = as_float_array(means, "means", ndim=1, allow_empty=False)
    sd = as_float_array(stds, "stds", ndim=1, allow_empty=False)
    if not (w.shape == mu.shape == sd.shape):
        raise ValueError(f"weights, means, stds must have equal lengths; got {w.shape}, {mu.shape}, {sd.shape}.")
    if np.any(w <= 0) or not np.isclose(w.sum(), 1.0):
        raise ValueError("weights must be positive and sum to 1.")
    if np.any(sd <= 0):
        raise ValueError("stds must be positive.")
    return w, mu, sd


def fit_gaussian_to_mixture(
    weights, means, stds, *, direction: str, init: tuple[float, float] | None = None, n_grid: int = 2001
) -> tuple[float, float]:
    r"""Best single Gaussian for a 1-D Gaussian mixture under forward or reverse KL.

    Parameters
    ----------
    weights, means, stds : array_like of shape (K,)
        The mixture :math:`p = \sum_k w_k \mathcal N(\mu_k, s_k^2)`.
    direction : {"forward", "reverse"}
        ``"forward"`` minimises :math:`\mathrm{KL}(p \,\|\, q)` (mode covering);
        ``"reverse"`` minimises :math:`\mathrm{KL}(q \,\|\, p)` (mode seeking).
    init : (float, float), optional
        Starting ``(mean, std)`` for ``"reverse"``; default: the heaviest component.
        Reverse KL is not convex: one local optimum per well-separated mode, and possibly
        a broad one straddling them, so ``init`` decides which one is found.
    n_grid : int
        Grid points (over mean +- 12 std) for :math:`E_q[\log p]` (reverse only).

    Returns
    -------
    tuple of float
        ``(mean, std)`` of the fitted Gaussian.

    Raises
    ------
    ValueError
        On a malformed mixture or an unknown direction.

    Notes
    -----
    Forward: :math:`\mathrm{KL}(p\|q) = -H(p) - E_p[\log q]` and only the second term
    depends on :math:`q`; for a Gaussian :math:`q` it is minimised by matching the mean
    and variance of :math:`p` (moment matching), so :math:`q` spreads over all modes.
    Reverse: :math:`\mathrm{KL}(q\|p) = -H(q) - E_q[\log p]` punishes mass where
    :math:`p` is small, so :math:`q` locks onto one mode; we minimise it over
    :math:`(\mu, \log\sigma)` with L-BFGS-B, :math:`H(q) = \frac12\log(2\pi e\sigma^2)` in
    closed form and :math:`E_q[\log p]` by the trapezoid rule on a fine grid.
    See question q02-04.

    References
    ----------
    .. [1] C. M. Bishop, *Pattern Recognition and Machine Learning*, §10.1.2, Springer, 2006.

    Examples
    --------
    >>> fit_gaussian_to_mixture([0.5, 0.5], [-2, 2], [0.5, 0.5], direction="forward")
    (0.0, 2.0615528128088303)
    >>> m, s = fit_gaussian_to_mixture([0.5, 0.5], [-2, 2], [0.5, 0.5], direction="reverse", init=(1.0, 1.0))
    >>> round(m, 2), round(s, 2)
    (2.0, 0.5)
    """
    w, mu, sd = _check_mixture(weights, means, stds)
    check_option(direction, "direction", ("forward", "reverse"))
    if direction == "forward":
        mean = float(w @ mu)
        var = float(w @ (sd**2 + mu**2) - mean**2)
        return mean, float(np.sqrt(var))
    n_grid = check_scalar(n_grid, "n_grid", kind="int", low=101)
    if init is None:
        k = int(np.argmax(w))
        init = (float(mu[k]), float(sd[k]))
    m0 = check_scalar(init[0], "init[0]")
    s0 = check_scalar(init[1], "init[1]", low=0, low_inclusive=False)
    # E_q[log p] on a uniform grid over mean +- 12 std (trapezoid rule). A fine grid, not
    # Gauss-Hermite: log p has a sharp bend between well-separated modes that a few dozen
    # Hermite nodes spread over a wide q would miss (creating spurious optima).
    z = np.linspace(-12.0, 12.0, n_grid)
    weights_z = np.exp(-0.5 * z**2)
    weights_z[[0, -1]] *= 0.5
    weights_z /= weights_z.sum()

    def reverse_kl(theta: np.ndarray) -> float:
        m, log_s = theta
        s = np.exp(log_s)
        e_log_p = weights_z @ _mixture_logpdf(m + s * z, w, mu, sd)
        entropy = 0.5 * np.log(2 * np.pi * np.e) + log_s
        return float(-entropy - e_log_p)

    res = minimize(reverse_kl, np.array([m0, np.log(s0)]), method="L-BFGS-B", options={"ftol": 1e-15, "gtol": 1e-10})
    return float(res.x[0]), float(np.exp(res.x[1]))
