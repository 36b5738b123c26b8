r"""Generalized Advantage Estimation (GAE) and discounted returns over padded response batches.

For one trajectory with rewards :math:`r_t` and value estimates :math:`V_t = V(s_t)`, the TD
residual is :math:`\delta_t = r_t + \gamma V_{t+1} - V_t` (with :math:`V_{T} = 0` after the
last token: the episode ends there) and

.. math:: \hat A_t = \sum_{l \ge 0} (\gamma\lambda)^l \delta_{t+l},
          \qquad \hat A_t = \delta_t + \gamma\lambda \hat A_{t+1}.

The recursion runs backwards over time, vectorised over the batch. A batch of LLM responses
has different lengths, so every row carries a mask that is True on a prefix (the generated
tokens up to and including EOS) and False on the padding after it.
"""

from __future__ import annotations

from typing import Any

import torch

from ..nn._torch_checks import check_unit_interval

__all__ = ["gae", "discounted_returns", "potential_shaping"]


def _check_values(x: Any, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(x).__name__}.")
    if not x.is_floating_point():
        raise ValueError(f"{name} must have a floating dtype; got {x.dtype}.")
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D (B, T); got shape {tuple(x.shape)}.")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} must contain only finite values; got NaN or infinity.")
    return x


def _check_response_mask(mask: Any, shape: tuple[int, ...], *, against: str = "rewards") -> torch.Tensor:
    """A (B, T) mask of valid tokens, True on a non-empty prefix of every row; returned as bool."""
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask must be a torch.Tensor; got {type(mask).__name__}.")
    if tuple(mask.shape) != tuple(shape):
        raise ValueError(f"mask must have the shape of {against} {tuple(shape)}; got {tuple(mask.shape)}.")
    if mask.dtype != torch.bool:
        if mask.is_complex() or not bool(((mask == 0) | (mask == 1)).all()):
            raise ValueError(f"mask must be bool (True = valid token) or hold only 0/1; got dtype {mask.dtype}.")
        mask = mask != 0
    lengths = mask.sum(dim=1)  # (B,)
    if bool((lengths == 0).any()):
        row = int(torch.nonzero(lengths == 0)[0])
        raise ValueError(f"mask must select at least one token in every row; row {row} is all False (empty response).")
    prefix = torch.arange(mask.shape[1], device=mask.device) < lengths[:, None]  # (B, T)
    if not bool((prefix == mask).all()):
        row = int(torch.nonzero((prefix != mask).any(dim=1))[0])
        raise ValueError(
            f"mask must be True on a prefix of each row (valid tokens first, then padding); row {row} is not."
        )
    return mask


def _gae_core(
    rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float
) -> tuple[torch.Tensor, torch.Tensor]:
    zero = torch.zeros((), dtype=rewards.dtype, device=rewards.device)
    r = torch.where(mask, rewards, zero)  # (B, T)
    v = torch.where(mask, values, zero)  # (B, T)
    v_next = torch.cat([v[:, 1:], torch.zeros_like(v[:, :1])], dim=1)  # (B, T); 0 after the last valid token
    delta = r + gamma * v_next - v  # (B, T)
    cont = torch.cat([mask[:, 1:], torch.zeros_like(mask[:, :1])], dim=1).to(r.dtype)  # (B, T): t+1 is valid
    adv = torch.zeros_like(delta)  # (B, T)
    running = torch.zeros_like(delta[:, 0])  # (B,)
    for t in range(delta.shape[1] - 1, -1, -1):  # backwards in time, all rows at once
        running = delta[:, t] + gamma * lam * cont[:, t] * running  # (B,)
        adv[:, t] = running
    adv = torch.where(mask, adv, zero)  # (B, T)
    return adv, torch.where(mask, adv + v, zero)


def gae(
    rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0, lam: float = 0.95
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Generalized advantage estimates and :math:`\lambda`-returns for a padded batch.

    Parameters
    ----------
    rewards : torch.Tensor, shape (B, T), floating
        Per-token rewards :math:`r_t` (for RLHF: :math:`-\beta\,\mathrm{KL}_t`, plus the
        reward-model score at the last token; see :func:`~interviewlib.rl.ppo.per_token_rewards`).
    values : torch.Tensor, shape (B, T), floating
        Critic estimates :math:`V(s_t)` of the state *before* token ``t`` is generated.
    mask : torch.Tensor, shape (B, T), bool (or 0/1)
        True on the valid tokens; each row must be True on a non-empty prefix. Values
        under a False mask are ignored.
    gamma : float in [0, 1]
        Discount :math:`\gamma` (1.0 for LLM RLHF, the TRL default).
    lam : float in [0, 1]
        GAE parameter :math:`\lambda`: 0 gives the one-step TD residual, 1 the Monte-Carlo
        return minus the value.

    Returns
    -------
    advantages : torch.Tensor, shape (B, T)
        :math:`\hat A_t = \sum_{l=0}^{L-1-t} (\gamma\lambda)^l \delta_{t+l}` for a row of
        length :math:`L`; 0 at padding.
    returns : torch.Tensor, shape (B, T)
        :math:`\hat A_t + V_t`, the :math:`\lambda`-return used as the critic's target;
        0 at padding.

    Raises
    ------
    TypeError, ValueError
        If ``rewards`` or ``values`` is not a finite floating 2-D tensor, the shapes
        differ, ``mask`` is not a prefix mask of the same shape or has an empty row, or
        ``gamma``/``lam`` is outside [0, 1].

    Notes
    -----
    The state after the last valid token is terminal (:math:`V_L = 0`): an LLM response
    ends at EOS or at the length limit, and in RLHF both are scored as finished. The
    recursion :math:`\hat A_t = \delta_t + \gamma\lambda\hat A_{t+1}` is the same backward
    loop as TRL's ``PPOTrainer``; here it stops at each row's own length instead of
    relying on zeros written into the padding. See question q10-04 (and q10-02).

    References
    ----------
    .. [1] Schulman, Moritz, Levine, Jordan and Abbeel, "High-Dimensional Continuous
       Control Using Generalized Advantage Estimation", ICLR 2016, arXiv:1506.02438.

    Examples
    --------
    >>> r = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    >>> v = torch.tensor([[0.5, 0.5, 0.5], [0.2, 0.4, 9.0]])
    >>> m = torch.tensor([[True, True, True], [True, True, False]])
    >>> adv, ret = gae(r, v, m, gamma=1.0, lam=1.0)
    >>> adv
    tensor([[0.5000, 0.5000, 0.5000],
            [0.8000, 0.6000, 0.0000]])
    >>> ret
    tensor([[1., 1., 1.],
            [1., 1., 0.]])
    """
    _check_values(rewards, "rewards")
    _check_values(values, "values")
    if values.shape != rewards.shape:
        raise ValueError(f"values must have the shape of rewards {tuple(rewards.shape)}; got {tuple(values.shape)}.")
    mask = _check_response_mask(mask, tuple(rewards.shape))
    gamma = check_unit_interval(gamma, "gamma", high_inclusive=True)
    lam = check_unit_interval(lam, "lam", high_inclusive=True)
    return _gae_core(rewards, values.to(rewards.dtype), mask, gamma, lam)


def discounted_returns(rewards: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    r"""Reward-to-go :math:`G_t = \sum_{l \ge 0} \gamma^l r_{t+l}` within each row's valid tokens.

    Parameters
    ----------
    rewards : torch.Tensor, shape (B, T), floating
        Per-token rewards.
    mask : torch.Tensor, shape (B, T), bool (or 0/1)
        True on a non-empty prefix of each row.
    gamma : float in [0, 1]
        Discount.

    Returns
    -------
    torch.Tensor, shape (B, T)
        :math:`G_t`, 0 at padding. Equal to :func:`gae` with zero values and ``lam=1``.

    Raises
    ------
    TypeError, ValueError
        As :func:`gae`.

    Notes
    -----
    The Monte-Carlo target of REINFORCE and the :math:`\lambda = 1` end of GAE. See
    question q10-04.

    Examples
    --------
    >>> discounted_returns(torch.tensor([[1.0, 0.0, 2.0]]), torch.tensor([[True, True, True]]), gamma=0.5)
    tensor([[1.5000, 1.0000, 2.0000]])
    """
    _check_values(rewards, "rewards")
    mask = _check_response_mask(mask, tuple(rewards.shape))
    gamma = check_unit_interval(gamma, "gamma", high_inclusive=True)
    return _gae_core(rewards, torch.zeros_like(rewards), mask, gamma, 1.0)[0]


def potential_shaping(potentials: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    r"""Potential-based shaping rewards :math:`F_t = \gamma\Phi(s_{t+1}) - \Phi(s_t)` (Ng et al. 1999).

    Parameters
    ----------
    potentials : torch.Tensor, shape (B, T + 1), floating
        :math:`\Phi(s_0), \dots, \Phi(s_T)`: the potential of the state before each token
        and, in the last column, after the last one. The state after a row's last valid
        token is terminal and gets potential 0 whatever is stored there (that is what keeps
        the optimal policy unchanged in an episodic task).
    mask : torch.Tensor, shape (B, T), bool (or 0/1)
        True on a non-empty prefix of each row.
    gamma : float in [0, 1]
        The discount the shaped rewards will be used with.

    Returns
    -------
    torch.Tensor, shape (B, T)
        :math:`F_t` on the valid tokens, 0 at padding. Add it to the task rewards.

    Raises
    ------
    TypeError, ValueError
        As :func:`gae`; also ``potentials`` without exactly one column more than ``mask``.

    Notes
    -----
    Telescoping: :math:`\sum_{t<L}\gamma^t F_t = \gamma^L\Phi(s_L) - \Phi(s_0) = -\Phi(s_0)`, so every
    trajectory's shaped return is its task return minus a constant of the start state, and
    return differences between policies are unchanged. In GAE, shaping with :math:`\Phi` is
    exactly the same as replacing the critic :math:`V` by :math:`V + \Phi` (Wiewiora 2003's
    equivalence of shaping and value initialisation). See question q10-05.

    References
    ----------
    .. [1] Ng, Harada and Russell, "Policy Invariance under Reward Transformations: Theory and
       Application to Reward Shaping", ICML 1999.

    Examples
    --------
    >>> phi = torch.tensor([[0.0, 0.5, 1.0, 9.0]])       # the last column is terminal: treated as 0
    >>> potential_shaping(phi, torch.tensor([[True, True, True]]))
    tensor([[ 0.5000,  0.5000, -1.0000]])
    """
    _check_values(potentials, "potentials")
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask must be a torch.Tensor; got {type(mask).__name__}.")
    B, T1 = potentials.shape
    if T1 < 2:
        raise ValueError(f"potentials must have T + 1 >= 2 columns (one per state); got shape {(B, T1)}.")
    mask = _check_response_mask(mask, (B, T1 - 1), against="potentials without its last column")
    gamma = check_unit_interval(gamma, "gamma", high_inclusive=True)
    lengths = mask.sum(dim=1)  # (B,)
    alive = torch.arange(T1, device=mask.device)[None] < lengths[:, None]  # (B, T+1): non-terminal states
    phi = torch.where(alive, potentials, torch.zeros((), dtype=potentials.dtype))  # (B, T+1)
    shaped = gamma * phi[:, 1:] - phi[:, :-1]  # (B, T)
    return torch.where(mask, shaped, torch.zeros((), dtype=potentials.dtype))
