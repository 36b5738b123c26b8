r"""Direct Preference Optimization: the loss, its implicit reward, and its close relatives.

DPO (Rafailov et al. 2023) trains the policy directly on preference pairs
:math:`(x, y_w, y_l)`. With :math:`h = [\log\pi_\theta(y_w|x) - \log\pi_{ref}(y_w|x)] -
[\log\pi_\theta(y_l|x) - \log\pi_{ref}(y_l|x)]` (a difference of *sequence* log-probs),

- ``"sigmoid"`` (DPO): :math:`-\log\sigma(\beta h)`; with ``label_smoothing = eps`` this is
  conservative DPO (cDPO, Mitchell 2023): :math:`-(1-\epsilon)\log\sigma(\beta h) - \epsilon\log\sigma(-\beta h)`;
- ``"hinge"`` (SLiC-style, as TRL): :math:`\max(0, 1 - \beta h)`;
- ``"ipo"`` (Azar et al. 2023, Eq. 17, :math:`\tau = \beta`): :math:`(h - 1/(2\beta))^2`, with
  per-token averaged log-ratios when lengths are given (what TRL does);
- ``"robust"`` (Chowdhury et al. 2024): :math:`[-(1-\epsilon)\log\sigma(\beta h) + \epsilon\log\sigma(-\beta h)]/(1-2\epsilon)`.

An optional SFT term ``sft_weight * NLL(y_w)`` (per-token NLL of the chosen response, as in
RPO, Pang et al. 2024) can be added. The training loop on the chapter's toy is in
:mod:`interviewlib.rl.dpo_train`; SimPO, ORPO and KTO are in
:mod:`interviewlib.rl.preference_losses`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from ..nn._torch_checks import check_positive

__all__ = ["PreferenceLoss", "dpo_loss", "implicit_reward"]

LOSS_TYPES = ("sigmoid", "hinge", "ipo", "robust")


@dataclass(frozen=True)
class PreferenceLoss:
    r"""What a preference loss returns: the loss and the numbers one logs in DPO training.

    Attributes
    ----------
    loss : torch.Tensor, shape ()
        Mean loss over the batch, differentiable.
    losses : torch.Tensor, shape (B,)
        Per-pair loss (before the optional SFT term), differentiable.
    chosen_rewards, rejected_rewards : torch.Tensor, shape (B,)
        Implicit rewards of the chosen / rejected responses, detached (for DPO
        :math:`\beta\log\pi_\theta/\pi_{ref}`; for reference-free losses the method's own score).
    """

    loss: torch.Tensor
    losses: torch.Tensor
    chosen_rewards: torch.Tensor
    rejected_rewards: torch.Tensor

    @property
    def margins(self) -> torch.Tensor:
        """Reward margin per pair, shape (B,): chosen minus rejected."""
        return self.chosen_rewards - self.rejected_rewards

    @property
    def accuracy(self) -> float:
        """Fraction of pairs whose chosen reward is strictly larger (TRL's ``rewards/accuracies``)."""
        return float((self.chosen_rewards > self.rejected_rewards).double().mean())


def _check_logps(x: Any, name: str, shape: tuple[int, ...] | None = None) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of sequence log-probs, shape (B,); got {type(x).__name__}.")
    if not x.is_floating_point():
        raise ValueError(f"{name} must have a floating dtype; got {x.dtype}.")
    if x.ndim != 1 or x.shape[0] == 0:
        raise ValueError(f"{name} must be 1-D and non-empty, shape (B,); got shape {tuple(x.shape)}.")
    if shape is not None and tuple(x.shape) != shape:
        raise ValueError(f"{name} must have the shape of the first argument {shape}; got {tuple(x.shape)}.")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} must be finite (no NaN or inf).")
    return x


def _check_lengths(x: Any, name: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of response lengths, shape {shape}; got {type(x).__name__}.")
    if tuple(x.shape) != shape:
        raise ValueError(f"{name} must have shape {shape}; got {tuple(x.shape)}.")
    if x.dtype == torch.bool or x.is_complex() or not bool((x >= 1).all()):
        raise ValueError(f"{name} must hold token counts >= 1; got {x.tolist()}.")
    return x.to(like.dtype)


def _check_smoothing(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"label_smoothing must be a real number; got {type(v).__name__}.")
    v = float(v)
    if not 0.0 <= v < 0.5:
        raise ValueError(f"label_smoothing must be in [0, 0.5) (the assumed label-flip rate); got {v}.")
    return v


def implicit_reward(policy_logps: torch.Tensor, ref_logps: torch.Tensor, *, beta: float = 0.1) -> torch.Tensor:
    r"""DPO's implicit reward :math:`\beta\,[\log\pi_\theta(y|x) - \log\pi_{ref}(y|x)]`, detached.

    Parameters
    ----------
    policy_logps, ref_logps : torch.Tensor, shape (B,)
        Sequence log-probs of the same responses under the policy and the reference.
    beta : float
        KL coefficient, > 0.

    Returns
    -------
    torch.Tensor, shape (B,)

    Notes
    -----
    The true reward it stands for is this plus :math:`\beta\log Z(x)`, a per-prompt constant
    that cancels in every pairwise comparison. See question q10-07.

    Examples
    --------
    >>> implicit_reward(torch.tensor([-1.0]), torch.tensor([-3.0]), beta=0.5)
    tensor([1.])
    """
    _check_logps(policy_logps, "policy_logps")
    _check_logps(ref_logps, "ref_logps", tuple(policy_logps.shape))
    beta = check_positive(beta, "beta")
    return (beta * (policy_logps - ref_logps)).detach()


def dpo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    *,
    beta: float = 0.1,
    loss_type: str = "sigmoid",
    label_smoothing: float = 0.0,
    chosen_lengths: torch.Tensor | None = None,
    rejected_lengths: torch.Tensor | None = None,
    sft_weight: float = 0.0,
) -> PreferenceLoss:
    r"""DPO loss (and cDPO, IPO, hinge, robust DPO, + optional SFT term) from sequence log-probs.

    Parameters
    ----------
    policy_chosen_logps, policy_rejected_logps : torch.Tensor, shape (B,)
        :math:`\log\pi_\theta(y|x)` summed over the response tokens (with grad).
    ref_chosen_logps, ref_rejected_logps : torch.Tensor, shape (B,)
        The same under the frozen reference (treated as constants).
    beta : float
        :math:`\beta > 0`: the KL coefficient of the objective DPO solves (IPO's :math:`\tau`).
    loss_type : {"sigmoid", "hinge", "ipo", "robust"}
        See the module docstring.
    label_smoothing : float
        :math:`\epsilon \in [0, 0.5)`, the assumed probability a label is flipped. Used by
        ``"sigmoid"`` (cDPO) and ``"robust"``; must be 0 for ``"hinge"`` and ``"ipo"``.
    chosen_lengths, rejected_lengths : torch.Tensor, shape (B,), optional
        Response token counts. ``"ipo"`` with lengths averages each log-ratio per token
        (TRL's IPO); ``sft_weight > 0`` needs ``chosen_lengths``.
    sft_weight : float
        :math:`\alpha \ge 0`; adds :math:`\alpha\cdot\text{mean}(-\log\pi_\theta(y_w|x)/|y_w|)`.

    Returns
    -------
    PreferenceLoss
        ``loss`` (scalar), per-pair ``losses``, and the detached implicit rewards
        :math:`\beta\log\pi_\theta/\pi_{ref}` of chosen and rejected (always sequence-level,
        as TRL logs them), from which ``margins`` and ``accuracy`` follow.

    Raises
    ------
    TypeError, ValueError
        Non-tensor or non-floating inputs, mismatched shapes, NaN/inf, ``beta <= 0``,
        ``label_smoothing`` outside [0, 0.5) (or non-zero for hinge/IPO), an unknown
        ``loss_type``, lengths < 1, or ``sft_weight > 0`` without ``chosen_lengths``.

    Notes
    -----
    At initialisation (policy = reference) :math:`h = 0` and the sigmoid loss is
    :math:`\log 2`. Its gradient is :math:`-\beta\,\sigma(-\beta h)\,\nabla h`: pairs the
    implicit reward already ranks correctly get small weight. See questions q10-06 to q10-10.

    References
    ----------
    .. [1] Rafailov et al., "Direct Preference Optimization", 2023, arXiv:2305.18290.
    .. [2] Azar et al., "A General Theoretical Paradigm to Understand Learning from Human
       Preferences", 2023, arXiv:2310.12036.
    .. [3] Chowdhury et al., "Provably Robust DPO", 2024, arXiv:2403.00409.

    Examples
    --------
    >>> z = torch.zeros(2)
    >>> out = dpo_loss(z, z, z, z, beta=0.1)
    >>> round(float(out.loss), 4)  # log 2 at initialisation
    0.6931
    >>> out = dpo_loss(torch.tensor([-1.0]), torch.tensor([-5.0]), torch.tensor([-2.0]), torch.tensor([-2.0]))
    >>> out.chosen_rewards, out.rejected_rewards, out.accuracy
    (tensor([0.1000]), tensor([-0.3000]), 1.0)
    """
    pc = _check_logps(policy_chosen_logps, "policy_chosen_logps")
    shape = tuple(pc.shape)
    pr = _check_logps(policy_rejected_logps, "policy_rejected_logps", shape)
    rc = _check_logps(ref_chosen_logps, "ref_chosen_logps", shape)
    rr = _check_logps(ref_rejected_logps, "ref_rejected_logps", shape)
    beta = check_positive(beta, "beta")
    if loss_type not in LOSS_TYPES:
        raise ValueError(f"loss_type must be one of {LOSS_TYPES}; got {loss_type!r}.")
    eps = _check_smoothing(label_smoothing)
    if eps > 0 and loss_type in ("hinge", "ipo"):
        raise ValueError(f"label_smoothing must be 0 for loss_type={loss_type!r}; got {eps}.")
    lc = None if chosen_lengths is None else _check_lengths(chosen_lengths, "chosen_lengths", shape, pc)
    lr = None if rejected_lengths is None else _check_lengths(rejected_lengths, "rejected_lengths", shape, pc)
    sft_weight = check_positive(sft_weight, "sft_weight", allow_zero=True)
    if sft_weight > 0 and lc is None:
        raise ValueError("sft_weight > 0 needs chosen_lengths (the SFT term is a per-token NLL); got None.")
    if loss_type == "ipo" and (lc is None) != (lr is None):
        raise ValueError("ipo needs both chosen_lengths and rejected_lengths, or neither.")
    return _dpo_loss(pc, pr, rc.detach(), rr.detach(), beta, loss_type, eps, lc, lr, sft_weight)


def _dpo_loss(pc, pr, rc, rr, beta, loss_type, eps, lc, lr, sft_weight) -> PreferenceLoss:
    chosen_ratio = pc - rc  # (B,) log pi/pi_ref of y_w
    rejected_ratio = pr - rr  # (B,)
    h = chosen_ratio - rejected_ratio  # (B,)
    if loss_type == "sigmoid":
        losses = -(1 - eps) * F.logsigmoid(beta * h) - eps * F.logsigmoid(-beta * h)
    elif loss_type == "hinge":
        losses = torch.relu(1 - beta * h)
    elif loss_type == "ipo":
        if lc is not None:
            h = chosen_ratio / lc - rejected_ratio / lr  # (B,) per-token averaged log-ratios
        losses = (h - 1 / (2 * beta)) ** 2
    else:  # robust: unbiased under a flip rate eps
        losses = (-(1 - eps) * F.logsigmoid(beta * h) + eps * F.logsigmoid(-beta * h)) / (1 - 2 * eps)
    loss = losses.mean()
    if sft_weight > 0:
        loss = loss + sft_weight * (-pc / lc).mean()
    return PreferenceLoss(loss, losses, (beta * chosen_ratio).detach(), (beta * rejected_ratio).detach())

