r"""PPO for language models (RLHF): the per-token rewards and the two clipped losses.

One PPO step on a batch of prompts, in the order InstructGPT-style trainers (TRL's
``PPOTrainer``) run it:

1. **rollout**: sample responses from the current policy :math:`\pi_{\text{old}}`;
2. **score**: the reward model (or a verifier) gives one scalar per response;
3. **per-token rewards**: :math:`r_t = -\beta\,\mathrm{KL}_t`, plus the score at the last token;
4. **values** from the critic, **GAE** advantages and returns, **whitening** of the advantages;
5. **several epochs** of minibatch updates of the clipped policy loss + the clipped value loss.

This module holds the pieces of steps 3 and 5; the critic and the loop are in
:mod:`interviewlib.rl.ppo_trainer`, GAE in :mod:`interviewlib.rl.gae`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

from ..nn._torch_checks import check_positive, check_unit_interval
from .gae import _check_response_mask, _check_values
from .masked import masked_mean

__all__ = ["per_token_rewards", "ppo_policy_loss", "value_loss", "PolicyLoss", "ValueLoss"]


def _check_same(x: Any, name: str, shape: tuple[int, ...], against: str) -> torch.Tensor:
    _check_values(x, name)
    if tuple(x.shape) != shape:
        raise ValueError(f"{name} must have the shape of {against} {shape}; got {tuple(x.shape)}.")
    return x


def per_token_rewards(
    scores: torch.Tensor,
    logprobs: torch.Tensor,
    ref_logprobs: torch.Tensor,
    mask: torch.Tensor,
    *,
    kl_coef: float = 0.05,
    kl_estimator: str = "k1",
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""RLHF rewards per response token: a KL penalty at every token, the score at the last one.

    Parameters
    ----------
    scores : torch.Tensor, shape (B,) or (B, R), floating
        One reward-model / verifier score per response, added at the row's last valid
        token; or a dense (B, R) per-token reward added where ``mask`` is True.
    logprobs, ref_logprobs : torch.Tensor, shape (B, R), floating
        :math:`\log\pi_{\text{old}}(y_t)` of the sampled tokens under the policy and under
        the frozen reference.
    mask : torch.Tensor, shape (B, R), bool
        True on a non-empty prefix of every row (the generated tokens up to EOS).
    kl_coef : float >= 0
        :math:`\beta`.
    kl_estimator : {"k1", "k3"}
        Per-token estimate of :math:`\mathrm{KL}(\pi\,\|\,\pi_{\text{ref}})` from the sampled
        token: ``k1`` = :math:`\log\pi - \log\pi_{\text{ref}}` (unbiased, can be negative),
        ``k3`` = :math:`(\rho - 1) - \log\rho` with :math:`\rho = \pi_{\text{ref}}/\pi`
        (unbiased, never negative, lower variance when the two are close).

    Returns
    -------
    rewards : torch.Tensor, shape (B, R)
        :math:`r_t = -\beta\,\mathrm{kl}_t + \mathrm{score}\cdot 1[t = L-1]`; 0 at padding.
    kl : torch.Tensor, shape (B, R)
        The per-token estimates :math:`\mathrm{kl}_t`; 0 at padding.

    Raises
    ------
    TypeError, ValueError
        On non-finite or mis-shaped inputs, a bad mask, a negative ``kl_coef`` or an
        unknown ``kl_estimator``.

    Notes
    -----
    Summed over a response, :math:`\sum_t r_t = \mathrm{score} - \beta\sum_t \mathrm{kl}_t`, whose
    expectation is the KL-regularised objective of Ziegler et al. (2019) and InstructGPT. TRL
    v1.9.0 computes the same (``trl/experimental/ppo/ppo_trainer.py``) but adds the score one
    position *after* the EOS token when it fits in the window (there the log-probs are
    masked, so that position only carries the score); here it sits on the last generated
    token itself, which keeps every reward on a token the policy chose. See question q10-02.

    Examples
    --------
    >>> lp = torch.tensor([[-1.0, -0.5, -0.2]])
    >>> ref = torch.tensor([[-1.2, -0.5, -0.1]])
    >>> m = torch.tensor([[True, True, False]])
    >>> rewards, kl = per_token_rewards(torch.tensor([2.0]), lp, ref, m, kl_coef=0.5)
    >>> rewards
    tensor([[-0.1000,  2.0000,  0.0000]])
    """
    _check_values(logprobs, "logprobs")
    shape = tuple(logprobs.shape)
    _check_same(ref_logprobs, "ref_logprobs", shape, "logprobs")
    mask = _check_response_mask(mask, shape, against="logprobs")
    if not isinstance(scores, torch.Tensor):
        raise TypeError(f"scores must be a torch.Tensor; got {type(scores).__name__}.")
    if scores.ndim == 1:
        _check_values(scores[:, None], "scores")
        if scores.shape[0] != shape[0]:
            raise ValueError(f"scores must have one entry per row ({shape[0]}); got shape {tuple(scores.shape)}.")
    else:
        _check_same(scores, "scores", shape, "logprobs")
    kl_coef = check_positive(kl_coef, "kl_coef", allow_zero=True)
    if kl_estimator not in ("k1", "k3"):
        raise ValueError(f"kl_estimator must be 'k1' or 'k3'; got {kl_estimator!r}.")
    zero = torch.zeros((), dtype=logprobs.dtype, device=logprobs.device)
    log_ratio = logprobs - ref_logprobs.to(logprobs.dtype)  # (B, R): log pi - log pi_ref
    kl = log_ratio if kl_estimator == "k1" else torch.expm1(-log_ratio) + log_ratio  # (B, R)
    kl = torch.where(mask, kl, zero)  # (B, R)
    rewards = -kl_coef * kl  # (B, R)
    if scores.ndim == 1:
        last = mask.sum(dim=1) - 1  # (B,) index of the last valid token
        rewards = rewards.scatter_add(1, last[:, None], scores.to(rewards.dtype)[:, None])  # (B, R)
    else:
        rewards = rewards + torch.where(mask, scores.to(rewards.dtype), zero)  # (B, R)
    return rewards, kl


class PolicyLoss(NamedTuple):
    """Result of :func:`ppo_policy_loss`: the loss and two diagnostics (detached)."""

    loss: torch.Tensor
    clip_frac: torch.Tensor
    approx_kl: torch.Tensor


class ValueLoss(NamedTuple):
    """Result of :func:`value_loss`: the loss and the fraction of tokens where clipping bit."""

    loss: torch.Tensor
    clip_frac: torch.Tensor


def ppo_policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    clip_eps: float = 0.2,
) -> PolicyLoss:
    r"""PPO's clipped surrogate loss, averaged over the valid tokens.

    Parameters
    ----------
    logprobs : torch.Tensor, shape (B, R), floating
        :math:`\log\pi_\theta(y_t)` under the policy being trained (carries the gradient).
    old_logprobs : torch.Tensor, shape (B, R), floating
        :math:`\log\pi_{\text{old}}(y_t)` from the rollout (treated as a constant).
    advantages : torch.Tensor, shape (B, R), floating
        :math:`\hat A_t` (usually GAE, whitened), treated as a constant.
    mask : torch.Tensor, shape (B, R), bool
        Valid tokens (a non-empty prefix of every row).
    clip_eps : float in (0, 1)
        :math:`\epsilon`: the ratio is clipped to :math:`[1-\epsilon, 1+\epsilon]`.

    Returns
    -------
    PolicyLoss
        ``loss`` :math:`= \overline{\max(-\hat A_t\rho_t,\ -\hat A_t\,\mathrm{clip}(\rho_t, 1\pm\epsilon))}`
        (token-level mean), ``clip_frac`` (share of tokens where the clipped term is the
        larger one, i.e. whose gradient is cut off) and ``approx_kl``, the estimate
        :math:`\overline{(\rho_t - 1) - \log\rho_t}` of :math:`\mathrm{KL}(\pi_{\text{old}}\,\|\,\pi_\theta)`.

    Raises
    ------
    TypeError, ValueError
        On non-finite or mis-shaped inputs, a bad mask, or ``clip_eps`` outside (0, 1).

    Notes
    -----
    :math:`\rho_t = \exp(\log\pi_\theta - \log\pi_{\text{old}})`. The max of the two negated
    terms is the min of Schulman et al.'s :math:`L^{\text{CLIP}}`: when the advantage is
    positive the ratio gains nothing above :math:`1+\epsilon`, when it is negative nothing
    below :math:`1-\epsilon`, so one batch cannot push the policy far. TRL v1.9.0 computes the
    same loss and clip fraction and reports :math:`\tfrac12\overline{(\log\rho)^2}` as its
    ``approxkl``; both estimate the same KL to second order. See question q10-02.

    References
    ----------
    .. [1] Schulman, Wolski, Dhariwal, Radford and Klimov, "Proximal Policy Optimization
       Algorithms", 2017, arXiv:1707.06347.

    Examples
    --------
    >>> old = torch.log(torch.tensor([[0.5, 0.5]]))
    >>> new = torch.log(torch.tensor([[0.8, 0.5]]))
    >>> out = ppo_policy_loss(new, old, torch.tensor([[1.0, 1.0]]), torch.tensor([[True, True]]))
    >>> out.loss, out.clip_frac
    (tensor(-1.1000), tensor(0.5000))
    """
    _check_values(logprobs, "logprobs")
    shape = tuple(logprobs.shape)
    _check_same(old_logprobs, "old_logprobs", shape, "logprobs")
    _check_same(advantages, "advantages", shape, "logprobs")
    mask = _check_response_mask(mask, shape, against="logprobs")
    clip_eps = check_unit_interval(clip_eps, "clip_eps")
    if clip_eps == 0:
        raise ValueError("clip_eps must be > 0 (0 would freeze the policy); got 0.0.")
    log_ratio = logprobs - old_logprobs.detach()  # (B, R)
    ratio = torch.exp(log_ratio)  # (B, R)
    adv = advantages.detach()  # (B, R)
    unclipped = -adv * ratio  # (B, R)
    clipped = -adv * torch.clamp(ratio, 1.0 - clip_eps, 1.0 + clip_eps)  # (B, R)
    loss = masked_mean(torch.maximum(unclipped, clipped), mask)
    with torch.no_grad():
        clip_frac = masked_mean((clipped > unclipped).to(logprobs.dtype), mask)
        approx_kl = masked_mean(torch.expm1(log_ratio) - log_ratio, mask)
    return PolicyLoss(loss, clip_frac, approx_kl)


def value_loss(
    values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    mask: torch.Tensor,
    *,
    clip_range: float | None = 0.2,
) -> ValueLoss:
    r"""Clipped squared error of the critic against the returns, averaged over valid tokens.

    Parameters
    ----------
    values : torch.Tensor, shape (B, R), floating
        :math:`V_\phi(s_t)` from the critic being trained (carries the gradient).
    old_values : torch.Tensor, shape (B, R), floating
        The critic's values at rollout time (constants).
    returns : torch.Tensor, shape (B, R), floating
        Targets :math:`\hat R_t = \hat A_t + V_{\text{old}}(s_t)` (constants).
    mask : torch.Tensor, shape (B, R), bool
        Valid tokens.
    clip_range : float > 0 or None
        :math:`c`: the new value may move at most :math:`c` from the old one before its
        error stops improving the loss; None gives the plain squared error.

    Returns
    -------
    ValueLoss
        ``loss`` :math:`= \tfrac12\overline{\max\big((V-\hat R)^2, (\mathrm{clip}(V, V_{\text{old}}\pm c)-\hat R)^2\big)}`
        and ``clip_frac``, the share of tokens where the clipped error is the larger.

    Raises
    ------
    TypeError, ValueError
        On non-finite or mis-shaped inputs, a bad mask, or a non-positive ``clip_range``.

    Notes
    -----
    The same pessimistic max as the policy loss. It is not in the PPO paper (whose value
    loss is the plain squared error); it comes from implementations (OpenAI baselines) and
    is kept by TRL (``cliprange_value``, default 0.2 in v1.9.0). Note the scale: a clip of
    0.2 is in reward units, so it only makes sense when rewards are normalised. See
    question q10-02.

    Examples
    --------
    >>> m = torch.tensor([[True]])
    >>> value_loss(torch.tensor([[2.0]]), torch.tensor([[0.0]]), torch.tensor([[1.0]]), m).loss
    tensor(0.5000)
    >>> value_loss(torch.tensor([[2.0]]), torch.tensor([[0.0]]), torch.tensor([[1.0]]), m, clip_range=None).loss
    tensor(0.5000)
    """
    _check_values(values, "values")
    shape = tuple(values.shape)
    _check_same(old_values, "old_values", shape, "values")
    _check_same(returns, "returns", shape, "values")
    mask = _check_response_mask(mask, shape, against="values")
    target = returns.detach()  # (B, R)
    err = (values - target) ** 2  # (B, R)
    if clip_range is None:
        return ValueLoss(0.5 * masked_mean(err, mask), torch.zeros((), dtype=values.dtype))
    c = check_positive(clip_range, "clip_range")
    old = old_values.detach()  # (B, R)
    err_clipped = (torch.clamp(values, old - c, old + c) - target) ** 2  # (B, R)
    loss = 0.5 * masked_mean(torch.maximum(err, err_clipped), mask)
    with torch.no_grad():
        clip_frac = masked_mean((err_clipped > err).to(values.dtype), mask)
    return ValueLoss(loss, clip_frac)
