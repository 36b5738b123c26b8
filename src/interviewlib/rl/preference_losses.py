r"""DPO's successors that change the data or drop the reference: KTO, SimPO, ORPO.

- **KTO** (Ethayarajh et al. 2024) needs no pairs, only a desirable/undesirable label per
  response. With :math:`r = \log\pi_\theta(y|x)/\pi_{ref}(y|x)` and a reference point
  :math:`z_{ref}` (an estimate of :math:`\mathrm{KL}(\pi_\theta\|\pi_{ref})`, not
  back-propagated, clamped at 0), the value is :math:`\lambda_D\sigma(\beta(r - z_{ref}))`
  for desirable and :math:`\lambda_U\sigma(\beta(z_{ref} - r))` for undesirable responses,
  and the loss is :math:`\lambda_y - v`.
- **SimPO** (Meng et al. 2024) has no reference model: the reward is the *per-token average*
  log-prob times :math:`\beta`, and a target margin :math:`\gamma` is subtracted inside the
  sigmoid.
- **ORPO** (Hong et al. 2024) has no reference either: SFT NLL on the chosen response plus
  :math:`\lambda` times :math:`-\log\sigma` of the log odds ratio, with odds
  :math:`P/(1-P)` and :math:`P` the geometric-mean token probability.

All take sequence log-probs *summed* over response tokens plus the response lengths, the
same inputs as :func:`~interviewlib.rl.dpo.dpo_loss`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..nn._torch_checks import check_positive
from .dpo import PreferenceLoss, _check_lengths, _check_logps, _check_smoothing

__all__ = ["kto_reference_point", "kto_loss", "simpo_loss", "orpo_loss"]


def kto_reference_point(policy_kl_logps: torch.Tensor, ref_kl_logps: torch.Tensor) -> torch.Tensor:
    r"""KTO's reference point :math:`z_{ref} = \max(0, \text{mean}[\log\pi_\theta(y'|x) - \log\pi_{ref}(y'|x)])`.

    Parameters
    ----------
    policy_kl_logps, ref_kl_logps : torch.Tensor, shape (B,)
        Sequence log-probs of *mismatched* pairs :math:`(x_i, y'_i)` (the paper and TRL pair
        each prompt with another example's response in the same batch) under the policy and
        the reference.

    Returns
    -------
    torch.Tensor, shape ()
        Detached scalar :math:`\ge 0`: a biased, low-variance estimate of
        :math:`\mathrm{KL}(\pi_\theta\|\pi_{ref})`, with no gradient.

    Notes
    -----
    See question q10-09.

    Examples
    --------
    >>> kto_reference_point(torch.tensor([-1.0, -2.0]), torch.tensor([-2.0, -2.0]))
    tensor(0.5000)
    >>> kto_reference_point(torch.tensor([-3.0]), torch.tensor([-2.0]))
    tensor(0.)
    """
    _check_logps(policy_kl_logps, "policy_kl_logps")
    _check_logps(ref_kl_logps, "ref_kl_logps", tuple(policy_kl_logps.shape))
    return (policy_kl_logps - ref_kl_logps).mean().clamp(min=0).detach()


def kto_loss(
    policy_logps: torch.Tensor,
    ref_logps: torch.Tensor,
    desirable: torch.Tensor,
    *,
    reference_point: torch.Tensor | float,
    beta: float = 0.1,
    desirable_weight: float = 1.0,
    undesirable_weight: float = 1.0,
) -> torch.Tensor:
    r"""KTO loss: mean of :math:`\lambda_y - v(x, y)` over unpaired, labelled responses.

    Parameters
    ----------
    policy_logps, ref_logps : torch.Tensor, shape (B,)
        Sequence log-probs under the policy (with grad) and the reference.
    desirable : torch.Tensor, bool, shape (B,)
        True = thumbs-up, False = thumbs-down.
    reference_point : torch.Tensor or float
        :math:`z_{ref} \ge 0` from :func:`kto_reference_point` (treated as a constant).
    beta : float
        :math:`\beta > 0` (risk aversion / KL strength; paper and TRL default 0.1).
    desirable_weight, undesirable_weight : float
        :math:`\lambda_D, \lambda_U > 0`; the paper suggests
        :math:`\lambda_D n_D / (\lambda_U n_U) \in [1, 4/3]`.

    Returns
    -------
    torch.Tensor, shape ()
        Differentiable scalar.

    Raises
    ------
    TypeError, ValueError
        Bad tensors or shapes, ``desirable`` not bool, a negative or non-finite
        ``reference_point``, non-positive ``beta`` or weights.

    Notes
    -----
    As in TRL (v1.9.0 ``KTOTrainer``), the per-example losses of both classes are pooled
    and averaged. See question q10-09.

    References
    ----------
    .. [1] Ethayarajh et al., "KTO: Model Alignment as Prospect Theoretic Optimization",
       2024, arXiv:2402.01306.

    Examples
    --------
    >>> z = torch.zeros(2)
    >>> kto_loss(z, z, torch.tensor([True, False]), reference_point=0.0)
    tensor(0.5000)
    """
    _check_logps(policy_logps, "policy_logps")
    shape = tuple(policy_logps.shape)
    _check_logps(ref_logps, "ref_logps", shape)
    if not isinstance(desirable, torch.Tensor):
        raise TypeError(f"desirable must be a bool torch.Tensor of shape {shape}; got {type(desirable).__name__}.")
    if desirable.dtype != torch.bool or tuple(desirable.shape) != shape:
        raise ValueError(f"desirable must be a bool tensor of shape {shape}; got {desirable.dtype} {tuple(desirable.shape)}.")
    if isinstance(reference_point, torch.Tensor):
        if reference_point.numel() != 1:
            raise ValueError(f"reference_point must be a scalar; got shape {tuple(reference_point.shape)}.")
        z = float(reference_point.detach())
    else:
        z = check_positive(reference_point, "reference_point", allow_zero=True)
    if not 0 <= z < float("inf"):
        raise ValueError(f"reference_point must be a finite number >= 0; got {z}.")
    beta = check_positive(beta, "beta")
    lam_d = check_positive(desirable_weight, "desirable_weight")
    lam_u = check_positive(undesirable_weight, "undesirable_weight")
    r = policy_logps - ref_logps.detach()  # (B,)
    value = torch.where(desirable, lam_d * torch.sigmoid(beta * (r - z)), lam_u * torch.sigmoid(beta * (z - r)))  # (B,)
    lam = torch.where(desirable, torch.full_like(r, lam_d), torch.full_like(r, lam_u))  # (B,)
    return (lam - value).mean()


def simpo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    chosen_lengths: torch.Tensor,
    rejected_lengths: torch.Tensor,
    *,
    beta: float = 2.0,
    gamma: float = 1.0,
    label_smoothing: float = 0.0,
) -> PreferenceLoss:
    r"""SimPO: :math:`-\log\sigma(\tfrac{\beta}{|y_w|}\log\pi_\theta(y_w|x) - \tfrac{\beta}{|y_l|}\log\pi_\theta(y_l|x) - \gamma)`.

    Parameters
    ----------
    policy_chosen_logps, policy_rejected_logps : torch.Tensor, shape (B,)
        Summed sequence log-probs under the policy (no reference model).
    chosen_lengths, rejected_lengths : torch.Tensor, shape (B,)
        Response token counts (>= 1).
    beta : float
        Reward scale :math:`\beta > 0`. The official Llama-3-8B-Base config uses
        ``beta = 2.0`` with ``gamma_beta_ratio = 0.5``, i.e. :math:`\gamma = 1`.
    gamma : float
        Target reward margin :math:`\gamma \ge 0`.
    label_smoothing : float
        In [0, 0.5); cDPO-style smoothing as in the official trainer (default 0).

    Returns
    -------
    PreferenceLoss
        Rewards are :math:`\beta\,\overline{\log\pi_\theta}` (per-token average), as logged by
        the official SimPO trainer.

    Raises
    ------
    TypeError, ValueError
        Bad tensors or shapes, lengths < 1, ``beta <= 0``, ``gamma < 0``, smoothing outside [0, 0.5).

    Notes
    -----
    The official trainer writes it as :math:`\beta(\Delta\bar\ell - \gamma/\beta)`, the
    same number. See question q10-09.

    References
    ----------
    .. [1] Meng, Xia and Chen, "SimPO: Simple Preference Optimization with a Reference-Free
       Reward", 2024, arXiv:2405.14734.

    Examples
    --------
    >>> out = simpo_loss(torch.tensor([-2.0]), torch.tensor([-8.0]), torch.tensor([2]), torch.tensor([4]), gamma=0.0)
    >>> out.chosen_rewards, out.rejected_rewards
    (tensor([-2.]), tensor([-4.]))
    """
    pc = _check_logps(policy_chosen_logps, "policy_chosen_logps")
    shape = tuple(pc.shape)
    pr = _check_logps(policy_rejected_logps, "policy_rejected_logps", shape)
    lc = _check_lengths(chosen_lengths, "chosen_lengths", shape, pc)
    lr = _check_lengths(rejected_lengths, "rejected_lengths", shape, pc)
    beta = check_positive(beta, "beta")
    gamma = check_positive(gamma, "gamma", allow_zero=True)
    eps = _check_smoothing(label_smoothing)
    rc, rj = beta * pc / lc, beta * pr / lr  # (B,) length-normalised rewards
    u = rc - rj - gamma  # (B,)
    losses = -(1 - eps) * F.logsigmoid(u) - eps * F.logsigmoid(-u)
    return PreferenceLoss(losses.mean(), losses, rc.detach(), rj.detach())


def _log1mexp(x: torch.Tensor) -> torch.Tensor:
    """log(1 - exp(x)) for x < 0, accurate at both ends (Maechler 2012)."""
    return torch.where(x > -0.6931471805599453, torch.log(-torch.expm1(x)), torch.log1p(-torch.exp(x)))


def orpo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    chosen_lengths: torch.Tensor,
    rejected_lengths: torch.Tensor,
    *,
    lam: float = 0.1,
) -> PreferenceLoss:
    r"""ORPO: :math:`\mathcal L_{SFT} + \lambda\,\mathcal L_{OR}`, no reference model.

    Parameters
    ----------
    policy_chosen_logps, policy_rejected_logps : torch.Tensor, shape (B,)
        Summed sequence log-probs under the policy; each must be < 0 (a response with
        probability 1 has infinite odds).
    chosen_lengths, rejected_lengths : torch.Tensor, shape (B,)
        Response token counts (>= 1).
    lam : float
        :math:`\lambda > 0` weighting the odds-ratio term (TRL's ``beta``, default 0.1).

    Returns
    -------
    PreferenceLoss
        ``loss`` = mean per-token NLL of :math:`y_w` + :math:`\lambda\,\text{mean}(-\log\sigma(\log OR))`;
        ``losses`` holds the per-pair odds-ratio term :math:`-\log\sigma(\log OR)`; rewards
        are :math:`\lambda\,\bar\ell` (TRL's logging).

    Raises
    ------
    TypeError, ValueError
        Bad tensors or shapes, lengths < 1, log-probs >= 0, ``lam <= 0``.

    Notes
    -----
    With :math:`\bar\ell = \log\pi_\theta(y|x)/|y|` and :math:`P = e^{\bar\ell}`,
    :math:`\log\text{odds} = \bar\ell - \log(1 - e^{\bar\ell})`. The SFT term here is over the
    response tokens (the paper's :math:`\mathcal L_{SFT}`); TRL's ``ORPOTrainer`` (v1.9.0)
    computes the NLL over prompt and response. See question q10-09.

    References
    ----------
    .. [1] Hong, Lee and Thorne, "ORPO: Monolithic Preference Optimization without
       Reference Model", 2024, arXiv:2403.07691.

    Examples
    --------
    >>> import math
    >>> lp = torch.tensor([math.log(0.5)])
    >>> out = orpo_loss(lp, lp, torch.tensor([1]), torch.tensor([1]), lam=1.0)
    >>> round(float(out.loss), 4) == round(math.log(2) + math.log(2), 4)
    True
    """
    pc = _check_logps(policy_chosen_logps, "policy_chosen_logps")
    shape = tuple(pc.shape)
    pr = _check_logps(policy_rejected_logps, "policy_rejected_logps", shape)
    lc = _check_lengths(chosen_lengths, "chosen_lengths", shape, pc)
    lr = _check_lengths(rejected_lengths, "rejected_lengths", shape, pc)
    lam = check_positive(lam, "lam")
    for x, name in ((pc, "policy_chosen_logps"), (pr, "policy_rejected_logps")):
        if not bool((x < 0).all()):
            raise ValueError(f"{name} must be < 0 (odds P/(1-P) need P < 1); got max {float(x.max())}.")
    mc, mr = pc / lc, pr / lr  # (B,) mean token log-probs
    log_or = (mc - _log1mexp(mc)) - (mr - _log1mexp(mr))  # (B,)
    losses = -F.logsigmoid(log_or)  # (B,)
    loss = (-mc).mean() + lam * losses.mean()
    return PreferenceLoss(loss, losses, (lam * mc).detach(), (lam * mr).detach())

