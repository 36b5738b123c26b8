r"""GRPO: group-relative advantages and the clipped surrogate, with its loss-aggregation variants.

For each prompt, sample a *group* of ``G`` responses; the advantage of response ``i`` is its
reward relative to the group (no value model). The policy then maximises PPO's clipped
surrogate with a KL penalty *in the loss* (not in the reward). What differs between GRPO
(DeepSeekMath), Dr. GRPO, DAPO and GSPO is mostly how the per-token terms are averaged and
at which level the importance ratio lives; here they are options of one function,
:func:`grpo_loss`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..nn._torch_checks import check_positive
from ..transformer._checks import check_int, check_tensor
from .masked import masked_mean, masked_sum

__all__ = [
    "LOSS_TYPES",
    "KL_ESTIMATORS",
    "GRPOLossResult",
    "repeat_prompts",
    "group_advantages",
    "informative_groups",
    "truncated_responses",
    "kl_penalty",
    "grpo_loss",
]

LOSS_TYPES = ("grpo", "dr_grpo", "dapo", "gspo")
KL_ESTIMATORS = ("k1", "k2", "k3")


def _check_rewards(rewards: Any, group_size: Any) -> tuple[torch.Tensor, int]:
    check_tensor(rewards, "rewards", ndim=1, layout="(N,) = (n_prompts * group_size,)")
    if bool(torch.isnan(rewards).any()):
        raise ValueError("rewards must not contain NaN.")
    g = check_int(group_size, "group_size", low=1)
    if g < 2:
        raise ValueError("group_size must be >= 2: a group of one has no baseline (its advantage is always 0).")
    if rewards.numel() == 0 or rewards.numel() % g:
        raise ValueError(
            f"rewards must hold a whole number of groups: its length {rewards.numel()} is not a positive "
            f"multiple of group_size={g} (lay rewards out prompt-major, as repeat_prompts does)."
        )
    return rewards, g


def repeat_prompts(prompts: torch.Tensor, group_size: int) -> torch.Tensor:
    r"""Repeat every prompt ``group_size`` times, prompt-major: the group sampling layout.

    Parameters
    ----------
    prompts : torch.Tensor, integer, shape (B, P)
    group_size : int, >= 2
        ``G``, responses sampled per prompt.

    Returns
    -------
    torch.Tensor, shape (B * G, P)
        Rows ``g*G .. g*G + G - 1`` are copies of prompt ``g``; sampling one response per row
        gives one group per prompt, the layout :func:`group_advantages` expects.

    Examples
    --------
    >>> repeat_prompts(torch.tensor([[1, 2], [3, 4]]), 2)
    tensor([[1, 2],
            [1, 2],
            [3, 4],
            [3, 4]])
    """
    check_tensor(prompts, "prompts", ndim=2, layout="(B, P)", floating=False)
    if prompts.is_floating_point() or prompts.dtype == torch.bool:
        raise ValueError(f"prompts must hold integer token ids; got dtype {prompts.dtype}.")
    g = check_int(group_size, "group_size", low=1)
    if g < 2:
        raise ValueError("group_size must be >= 2: a group of one has no baseline.")
    return prompts.repeat_interleave(g, dim=0)  # (B*G, P)


def group_advantages(
    rewards: torch.Tensor, group_size: int, *, scale: str = "group", eps: float = 1e-4
) -> torch.Tensor:
    r"""Group-relative advantages: each reward minus its group's mean, optionally over its std.

    Parameters
    ----------
    rewards : torch.Tensor, floating, shape (N,) with N = n_prompts * group_size
        Prompt-major: the ``G`` rewards of prompt ``j`` are ``rewards[j*G:(j+1)*G]``.
    group_size : int, >= 2
    scale : {"group", "none"}
        ``"group"``: divide by the group's standard deviation (Bessel-corrected) plus ``eps``
        (GRPO, DeepSeekMath). ``"none"``: centring only (Dr. GRPO).
    eps : float, > 0
        Added to the std, so an all-equal group gives exactly 0 instead of 0/0.

    Returns
    -------
    torch.Tensor, shape (N,)
        :math:`\hat A_i = (r_i - \bar r_g)/(s_g + \epsilon)`; sums to 0 within every group.

    Raises
    ------
    TypeError, ValueError
        ``rewards`` not a 1-D float tensor or with NaN, ``group_size < 2``, ``N`` not a
        multiple of ``group_size``, unknown ``scale``, ``eps <= 0``.

    Notes
    -----
    Dividing by the std up-weights prompts that are almost always solved or almost never
    solved (small :math:`s_g`); Liu et al. (2025) call this a question-level difficulty bias
    and drop it. TRL (v1.9) uses the same Bessel-corrected std and adds ``1e-4`` to it.
    See question q10-11.

    Examples
    --------
    >>> group_advantages(torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 1.0]), 3, scale="none")
    tensor([ 0.6667, -0.3333, -0.3333, -0.6667,  0.3333,  0.3333])
    """
    rewards, g = _check_rewards(rewards, group_size)
    if scale not in ("group", "none"):
        raise ValueError(f"scale must be 'group' or 'none'; got {scale!r}.")
    eps = check_positive(eps, "eps")
    grouped = rewards.reshape(-1, g)  # (n_groups, G)
    centred = grouped - grouped.mean(dim=1, keepdim=True)  # (n_groups, G)
    if scale == "group":
        centred = centred / (grouped.std(dim=1, keepdim=True) + eps)  # (n_groups, G)
    return centred.reshape(-1)  # (N,)


def informative_groups(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    r"""Which groups carry a learning signal: True where the rewards are not all equal.

    Parameters
    ----------
    rewards : torch.Tensor, floating, shape (N,), prompt-major groups
    group_size : int, >= 2

    Returns
    -------
    torch.Tensor, bool, shape (N // group_size,)
        False for a group whose rewards are all equal (all right or all wrong): its
        advantages are all 0, so it adds nothing to the policy gradient, only to the
        denominator of the average. DAPO's *dynamic sampling* drops these groups and samples
        more prompts until the batch is full.

    Notes
    -----
    Verifiable rewards are discrete, so exact equality is the test. See question q10-12.

    Examples
    --------
    >>> informative_groups(torch.tensor([1.0, 1.0, 0.0, 1.0, 0.0, 0.0]), 2)
    tensor([False,  True, False])
    """
    rewards, g = _check_rewards(rewards, group_size)
    grouped = rewards.reshape(-1, g)  # (n_groups, G)
    return grouped.max(dim=1).values != grouped.min(dim=1).values  # (n_groups,)


def truncated_responses(responses: torch.Tensor, response_mask: torch.Tensor, eos_token_id: int) -> torch.Tensor:
    r"""Responses that hit the length limit without emitting EOS (for DAPO's overlong filtering).

    Parameters
    ----------
    responses : torch.Tensor, integer, shape (B, R)
    response_mask : torch.Tensor, bool, shape (B, R)
        True for generated tokens (up to and including EOS).
    eos_token_id : int

    Returns
    -------
    torch.Tensor, bool, shape (B,)
        True where no valid token is EOS. Overlong filtering removes these rows from the loss
        (their low reward says "too long", not "wrong").

    Examples
    --------
    >>> r = torch.tensor([[3, 5, 12], [3, 5, 7]])
    >>> truncated_responses(r, torch.ones(2, 3, dtype=torch.bool), 12)
    tensor([False,  True])
    """
    check_tensor(responses, "responses", ndim=2, layout="(B, R)", floating=False)
    if responses.is_floating_point() or responses.dtype == torch.bool:
        raise ValueError(f"responses must hold integer token ids; got dtype {responses.dtype}.")
    if not isinstance(response_mask, torch.Tensor) or response_mask.dtype != torch.bool:
        raise TypeError(f"response_mask must be a bool torch.Tensor; got {type(response_mask).__name__}.")
    if response_mask.shape != responses.shape:
        raise ValueError(
            f"response_mask must have the shape of responses {tuple(responses.shape)}; got {tuple(response_mask.shape)}."
        )
    eos = check_int(eos_token_id, "eos_token_id", low=0)
    return ~((responses == eos) & response_mask).any(dim=1)  # (B,)


def kl_penalty(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, *, estimator: str = "k3") -> torch.Tensor:
    r"""Per-token sample estimate of :math:`\mathrm{KL}(\pi_\theta \,\|\, \pi_{ref})` for tokens drawn from :math:`\pi_\theta`.

    Parameters
    ----------
    logprobs : torch.Tensor, floating, any shape, e.g. (B, R)
        :math:`\log \pi_\theta(x)` of the sampled tokens.
    ref_logprobs : torch.Tensor, same shape
        :math:`\log \pi_{ref}(x)` of the same tokens.
    estimator : {"k1", "k2", "k3"}
        With :math:`\log\rho = \log\pi_{ref}(x) - \log\pi_\theta(x)`:
        ``"k1"`` :math:`= -\log\rho` (unbiased, can be negative);
        ``"k2"`` :math:`= \tfrac12(\log\rho)^2` (biased, >= 0);
        ``"k3"`` :math:`= \rho - \log\rho - 1` (unbiased and >= 0; DeepSeekMath's estimator).

    Returns
    -------
    torch.Tensor, same shape
        Differentiable in both inputs.

    Notes
    -----
    k3 is unbiased because :math:`E_{\pi_\theta}[\rho] = 1`, and non-negative because
    :math:`\log\rho \le \rho - 1`. Schulman (2020), "Approximating KL divergence".
    See question q10-11.

    Examples
    --------
    >>> lp, ref = torch.tensor([-1.0, -2.0]), torch.tensor([-1.5, -1.0])
    >>> kl_penalty(lp, ref, estimator="k1")
    tensor([ 0.5000, -1.0000])
    >>> kl_penalty(lp, ref, estimator="k3")
    tensor([0.1065, 0.7183])
    """
    check_tensor(logprobs, "logprobs")
    check_tensor(ref_logprobs, "ref_logprobs")
    if ref_logprobs.shape != logprobs.shape:
        raise ValueError(
            f"ref_logprobs must have the shape of logprobs {tuple(logprobs.shape)}; got {tuple(ref_logprobs.shape)}."
        )
    if estimator not in KL_ESTIMATORS:
        raise ValueError(f"estimator must be one of {KL_ESTIMATORS}; got {estimator!r}.")
    log_rho = ref_logprobs - logprobs  # same shape
    if estimator == "k1":
        return -log_rho
    if estimator == "k2":
        return 0.5 * log_rho**2
    return torch.exp(log_rho) - log_rho - 1.0


@dataclass(frozen=True)
class GRPOLossResult:
    """What :func:`grpo_loss` returns: the loss to backpropagate and detached diagnostics.

    Attributes
    ----------
    loss : torch.Tensor
        Scalar, differentiable: policy term plus ``beta`` times the KL term.
    policy_loss : float
        The clipped-surrogate part alone, aggregated like ``loss``.
    kl : float
        Token-mean KL estimate over the valid tokens (0 when no reference was given).
    clip_fraction : float
        Share of valid tokens (sequences for ``"gspo"``) whose gradient the clip removed.
    ratio_mean : float
        Mean importance ratio over the same units.
    """

    loss: torch.Tensor
    policy_loss: float
    kl: float
    clip_fraction: float
    ratio_mean: float


def _check_loss_inputs(logprobs, old_logprobs, advantages, response_mask):
    check_tensor(logprobs, "logprobs", ndim=2, layout="(B, R)")
    if bool(torch.isnan(logprobs).any()):
        raise ValueError("logprobs must not contain NaN.")
    check_tensor(old_logprobs, "old_logprobs", ndim=2, layout="(B, R)")
    if old_logprobs.shape != logprobs.shape:
        raise ValueError(
            f"old_logprobs must have the shape of logprobs {tuple(logprobs.shape)}; got {tuple(old_logprobs.shape)}."
        )
    check_tensor(advantages, "advantages", ndim=1, layout="(B,), one advantage per response")
    if advantages.shape[0] != logprobs.shape[0]:
        raise ValueError(f"advantages must have length B = {logprobs.shape[0]}; got {advantages.shape[0]}.")
    if not isinstance(response_mask, torch.Tensor) or response_mask.dtype != torch.bool:
        raise TypeError(f"response_mask must be a bool torch.Tensor; got {type(response_mask).__name__}.")
    if response_mask.shape != logprobs.shape:
        raise ValueError(
            f"response_mask must have the shape of logprobs {tuple(logprobs.shape)}; got {tuple(response_mask.shape)}."
        )
    empty = (~response_mask.any(dim=1)).nonzero().flatten()
    if empty.numel():
        raise ValueError(
            f"response_mask has no valid token in rows {empty.tolist()[:5]}: an empty response has no "
            "log-probability; drop those rows before the loss."
        )


def grpo_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    response_mask: torch.Tensor,
    *,
    loss_type: str = "grpo",
    epsilon_low: float = 0.2,
    epsilon_high: float | None = None,
    ref_logprobs: torch.Tensor | None = None,
    beta: float = 0.0,
    kl_estimator: str = "k3",
    max_response_length: int | None = None,
) -> GRPOLossResult:
    r"""Clipped GRPO objective (negated, to minimise), with the aggregation of ``loss_type``.

    Parameters
    ----------
    logprobs : torch.Tensor, floating, shape (B, R)
        :math:`\log\pi_\theta` of the response tokens under the policy being trained (with grad).
    old_logprobs : torch.Tensor, shape (B, R)
        :math:`\log\pi_{old}` of the same tokens under the policy that sampled them (detached).
    advantages : torch.Tensor, shape (B,)
        One advantage per response (:func:`group_advantages`), shared by all its tokens.
    response_mask : torch.Tensor, bool, shape (B, R)
        True for generated tokens; every row needs at least one.
    loss_type : {"grpo", "dr_grpo", "dapo", "gspo"}
        With per-token term :math:`\ell_{i,t} = -\min(\rho_{i,t}\hat A_i,
        \mathrm{clip}(\rho_{i,t}, 1-\epsilon_l, 1+\epsilon_h)\hat A_i) + \beta\,\mathrm{KL}_{i,t}`:

        - ``"grpo"``: :math:`\frac1B\sum_i \frac1{|o_i|}\sum_t \ell_{i,t}` (DeepSeekMath);
        - ``"dr_grpo"``: :math:`\frac1{B L}\sum_i\sum_t \ell_{i,t}`, :math:`L` = ``max_response_length`` (Liu et al. 2025);
        - ``"dapo"``: :math:`\frac1{\sum_i |o_i|}\sum_i\sum_t \ell_{i,t}` (token-level, Yu et al. 2025);
        - ``"gspo"``: one ratio per sequence, :math:`s_i = \exp(\frac1{|o_i|}\sum_t \log\rho_{i,t})`,
          :math:`\frac1B\sum_i [-\min(s_i\hat A_i, \mathrm{clip}(s_i)\hat A_i) + \beta\,\overline{\mathrm{KL}}_i]`
          (Zheng et al. 2025; use a tiny :math:`\epsilon`, the paper's are 3e-4 / 4e-4).
    epsilon_low, epsilon_high : float
        Clip range :math:`[1-\epsilon_l, 1+\epsilon_h]`; ``epsilon_high=None`` means symmetric.
        DAPO's *clip-higher* uses 0.2 / 0.28.
    ref_logprobs : torch.Tensor, shape (B, R), optional
        :math:`\log\pi_{ref}` of the tokens; required when ``beta > 0``.
    beta : float, >= 0
        KL coefficient (DeepSeekMath 0.04, DeepSeek-R1 0.001, DAPO 0).
    kl_estimator : {"k1", "k2", "k3"}
        See :func:`kl_penalty`; GRPO uses ``"k3"``.
    max_response_length : int, optional
        ``"dr_grpo"`` only: the constant :math:`L` (the generation budget); default ``R``.

    Returns
    -------
    GRPOLossResult

    Raises
    ------
    TypeError, ValueError
        Mismatched shapes, NaN log-probabilities, a row with no valid token, an unknown
        ``loss_type``, ``epsilon`` outside (0, 1) for the low side, ``beta > 0`` without
        ``ref_logprobs``, ``max_response_length`` shorter than a response.

    Notes
    -----
    ``"grpo"`` gives every *response* the same weight, so a token of a long response weighs
    less: long wrong answers are punished less per token, short right answers rewarded more
    (the length bias Dr. GRPO and DAPO remove). Agreement with TRL's ``GRPOTrainer``
    (v1.9.0+26, commit f2cd577): ``"grpo"``, ``"dr_grpo"`` (TRL's constant is
    ``max_completion_length``) and ``"dapo"`` (one device, no gradient accumulation; TRL's
    ``"bnpo"`` is the same formula on a local batch) have the same formula; ``"gspo"`` is
    TRL's ``importance_sampling_level="sequence"`` with ``loss_type="grpo"``. See question q10-11.

    Examples
    --------
    >>> lp = torch.tensor([[-1.0, -1.0], [-2.0, -0.5]])
    >>> m = torch.tensor([[True, True], [True, False]])
    >>> res = grpo_loss(lp, lp.clone(), torch.tensor([1.0, -1.0]), m, loss_type="dapo")
    >>> float(res.loss), res.clip_fraction  # ratio 1: loss = -mean_token(A) = -(1 + 1 - 1)/3
    (-0.333..., 0.0)
    """
    _check_loss_inputs(logprobs, old_logprobs, advantages, response_mask)
    if loss_type not in LOSS_TYPES:
        raise ValueError(f"loss_type must be one of {LOSS_TYPES}; got {loss_type!r}.")
    eps_l = check_positive(epsilon_low, "epsilon_low")
    if eps_l >= 1:
        raise ValueError(f"epsilon_low must be in (0, 1) so that 1 - epsilon_low > 0; got {eps_l}.")
    eps_h = eps_l if epsilon_high is None else check_positive(epsilon_high, "epsilon_high")
    beta = check_positive(beta, "beta", allow_zero=True)
    if kl_estimator not in KL_ESTIMATORS:
        raise ValueError(f"kl_estimator must be one of {KL_ESTIMATORS}; got {kl_estimator!r}.")
    if beta > 0 and ref_logprobs is None:
        raise ValueError("ref_logprobs is required when beta > 0 (the KL term needs log pi_ref).")
    if ref_logprobs is not None:
        check_tensor(ref_logprobs, "ref_logprobs", ndim=2, layout="(B, R)")
        if ref_logprobs.shape != logprobs.shape:
            raise ValueError(
                f"ref_logprobs must have the shape of logprobs {tuple(logprobs.shape)}; got {tuple(ref_logprobs.shape)}."
            )
    length = logprobs.shape[1]
    if max_response_length is not None:
        length = check_int(max_response_length, "max_response_length", low=1)
        longest = int(response_mask.sum(dim=1).max())
        if length < longest:
            raise ValueError(f"max_response_length must be >= the longest response ({longest}); got {length}.")
    return _grpo_loss(
        logprobs, old_logprobs, advantages, response_mask, loss_type, eps_l, eps_h, ref_logprobs, beta, kl_estimator, length
    )


def _grpo_loss(logprobs, old_logprobs, advantages, mask, loss_type, eps_l, eps_h, ref_logprobs, beta, kl_estimator, length):
    zero = torch.zeros((), dtype=logprobs.dtype)
    log_ratio = torch.where(mask, logprobs - old_logprobs, zero)  # (B, R)
    adv = advantages.to(logprobs.dtype)  # (B,)
    if loss_type == "gspo":
        ratio = torch.exp(masked_mean(log_ratio, mask, dim=1))  # (B,) geometric mean of token ratios
        a = adv  # (B,)
    else:
        ratio = torch.exp(log_ratio)  # (B, R)
        a = adv[:, None]  # (B, 1)
    clipped = torch.clamp(ratio, 1.0 - eps_l, 1.0 + eps_h)
    surrogate = -torch.minimum(ratio * a, clipped * a)  # (B,) or (B, R)
    was_clipped = ((a > 0) & (ratio > 1.0 + eps_h)) | ((a < 0) & (ratio < 1.0 - eps_l))
    if ref_logprobs is not None:
        kl_tok = torch.where(mask, kl_penalty(logprobs, ref_logprobs, estimator=kl_estimator), zero)  # (B, R)
        kl_value = float(masked_mean(kl_tok.detach(), mask))
    else:
        kl_tok, kl_value = torch.zeros_like(logprobs), 0.0  # (B, R)

    if loss_type == "gspo":
        policy = surrogate.mean()
        kl_term = masked_mean(kl_tok, mask, dim=1).mean()
        clip_fraction, ratio_mean = float(was_clipped.double().mean()), float(ratio.detach().mean())
    else:
        if loss_type == "grpo":
            agg = lambda x: masked_mean(x, mask, dim=1).mean()  # noqa: E731  (per-sequence mean, then batch mean)
        elif loss_type == "dapo":
            agg = lambda x: masked_mean(x, mask)  # noqa: E731  (one mean over every valid token)
        else:  # dr_grpo
            agg = lambda x: masked_sum(x, mask) / (mask.shape[0] * length)  # noqa: E731
        policy, kl_term = agg(surrogate), agg(kl_tok)
        clip_fraction = float(masked_mean(was_clipped.to(logprobs.dtype), mask))
        ratio_mean = float(masked_mean(ratio.detach(), mask))
    loss = policy + beta * kl_term
    return GRPOLossResult(loss, float(policy.detach()), kl_value, clip_fraction, ratio_mean)
