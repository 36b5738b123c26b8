r"""Best-of-n sampling against a reward model: the exact expected score, and its KL budget.

Best-of-n (BoN, rejection sampling) draws n responses from the policy and keeps the one the
(proxy) reward model scores highest. It is the simplest way to "optimise" against a reward
model, with no training, and the setting in which Gao et al. (2023) measured reward-model
over-optimisation: the proxy score of the chosen response keeps rising with n while its true
("gold") score rises, peaks and falls.
"""

from __future__ import annotations

import math
import numbers

import torch

__all__ = ["best_of_n_expectation", "best_of_n_kl_bound"]


def best_of_n_expectation(proxy: torch.Tensor, gold: torch.Tensor, n: int) -> torch.Tensor:
    r"""Expected gold score of best-of-n selection by ``proxy``, exactly, from a pool of N samples.

    Parameters
    ----------
    proxy : torch.Tensor, shape (M, N) or (N,)
        Selection scores of N samples for each of M prompts (the proxy reward model).
    gold : torch.Tensor, same shape
        The score to average (true reward); pass ``gold=proxy`` for the proxy's own curve.
    n : int
        Candidates per selection, ``1 <= n <= N``.

    Returns
    -------
    torch.Tensor, shape (M,) or scalar, float64
        For each prompt, the mean over all :math:`\binom{N}{n}` subsets of the pool of the
        gold score of the subset's proxy-argmax.

    Raises
    ------
    TypeError, ValueError
        If the inputs are not floating tensors of the same 1-D/2-D shape, hold NaN, or
        ``n`` is outside ``[1, N]``.

    Notes
    -----
    Sort each row by proxy ascending; the sample of rank :math:`i` (1-based) is the maximum
    of a uniformly random n-subset with probability :math:`\binom{i-1}{n-1}/\binom{N}{n}`, so

    .. math:: \hat R_n = \sum_{i=n}^{N} \frac{\binom{i-1}{n-1}}{\binom{N}{n}}\, g_{(i)} .

    A random n-subset of N i.i.d. samples is itself an i.i.d. sample of size n, so
    :math:`\hat R_n` is an unbiased estimate of the best-of-n expectation for every n from
    one pool, with less variance than drawing fresh groups (Gao et al. use such an
    estimator for their BoN curves). Ties in ``proxy`` are broken by position (stable
    sort); identical responses tie with identical gold scores, so this does not matter.
    See question q10-01.

    Examples
    --------
    >>> proxy = torch.tensor([0.1, 0.9, 0.5])
    >>> gold = torch.tensor([1.0, 0.0, 2.0])
    >>> best_of_n_expectation(proxy, gold, 1)  # plain mean
    tensor(1., dtype=torch.float64)
    >>> best_of_n_expectation(proxy, gold, 3)  # gold of the proxy's favourite
    tensor(0., dtype=torch.float64)
    """
    for name, x in (("proxy", proxy), ("gold", gold)):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor; got {type(x).__name__}.")
        if not x.is_floating_point():
            raise ValueError(f"{name} must have a floating dtype; got {x.dtype}.")
        if x.ndim not in (1, 2) or x.shape[-1] == 0:
            raise ValueError(f"{name} must be 1-D (N,) or 2-D (M, N) with N >= 1; got shape {tuple(x.shape)}.")
        if bool(torch.isnan(x).any()):
            raise ValueError(f"{name} must not contain NaN.")
    if gold.shape != proxy.shape:
        raise ValueError(f"gold must have the shape of proxy {tuple(proxy.shape)}; got {tuple(gold.shape)}.")
    N = proxy.shape[-1]
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or not 1 <= n <= N:
        raise ValueError(f"n must be an integer in [1, N={N}]; got {n!r}.")
    order = torch.sort(proxy.double(), dim=-1, stable=True).indices  # ascending proxy
    g = gold.double().gather(-1, order)  # (..., N)
    i = torch.arange(1, N + 1, dtype=torch.float64)  # (N,) ascending rank
    log_w = (torch.lgamma(i) - torch.lgamma(torch.clamp(i - n + 1, min=1.0)) - math.lgamma(n)
             - (math.lgamma(N + 1) - math.lgamma(n + 1) - math.lgamma(N - n + 1)))  # log C(i-1,n-1)/C(N,n)
    w = torch.where(i >= n, log_w.exp(), torch.zeros_like(log_w))  # (N,), sums to 1
    return (g * w).sum(-1)


def best_of_n_kl_bound(n: int) -> float:
    r""":math:`\log n - (n-1)/n`, the KL divergence of best-of-n from the base policy (an upper bound).

    Parameters
    ----------
    n : int
        Number of candidates, >= 1.

    Returns
    -------
    float
        0 for n = 1; grows like :math:`\log n`.

    Notes
    -----
    Stiennon et al. (2020) and Gao et al. (2023) use this as the KL of the best-of-n
    distribution; it is exact when every response is distinct (a continuous reward with no
    ties). Beirami et al. (2024) prove that in general it is only an upper bound, loose
    when the base policy puts a lot of mass on a few responses, as the toy's SFT policy
    does. See question q10-01.

    Examples
    --------
    >>> best_of_n_kl_bound(1), round(best_of_n_kl_bound(2), 4)
    (0.0, 0.1931)
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n must be an integer >= 1; got {n!r}.")
    return math.log(n) - (n - 1) / n
