r"""Reusing rollouts in GRPO: several clipped updates per batch, and a replay buffer of past groups.

Sampling is the expensive part of RL for LLMs, so a batch of groups is often used for more
than one gradient step. After the first step the policy that sampled the data
(:math:`\pi_{old}`, frozen in the stored log-probabilities) differs from the policy being
trained, so the loss carries the importance ratio :math:`\pi_\theta/\pi_{old}` and the clip
keeps it near 1. A replay buffer goes further: it keeps groups from earlier policy versions
and mixes them into later batches; each group's *staleness* (how many policy updates ago it
was sampled) says how off-policy it is, and the buffer evicts the oldest ones first.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import torch
from torch import nn

from ..nn._torch_checks import check_positive
from ..transformer._checks import check_int, check_tensor
from .grpo import GRPOLossResult, grpo_loss
from .rollout import response_logprobs
from .toy import as_torch_generator

__all__ = ["GroupBatch", "ReplayBuffer", "update_on_batch", "importance_weighted_mean"]


@dataclass
class GroupBatch:
    r"""Groups of scored responses ready for the GRPO loss (rows prompt-major, ``group_size`` per prompt).

    Attributes
    ----------
    prompts : torch.LongTensor, shape (N, P)
    responses : torch.LongTensor, shape (N, R)
    response_mask : torch.BoolTensor, shape (N, R)
    old_logprobs : torch.Tensor, shape (N, R)
        :math:`\log\pi_{old}` under the policy *that sampled the row* (the behaviour policy).
    advantages : torch.Tensor, shape (N,)
        Group-relative advantages, computed once when the group was sampled.
    rewards : torch.Tensor, shape (N,)
    version : torch.LongTensor, shape (N,)
        Policy version (number of optimizer steps taken) when the row was sampled.
    group_size : int
    """

    prompts: torch.Tensor
    responses: torch.Tensor
    response_mask: torch.Tensor
    old_logprobs: torch.Tensor
    advantages: torch.Tensor
    rewards: torch.Tensor
    version: torch.Tensor
    group_size: int

    def __post_init__(self) -> None:
        g = check_int(self.group_size, "group_size", low=1)
        if g < 2:
            raise ValueError("group_size must be >= 2 (a group of one has no baseline).")
        for f in fields(self):
            if f.name != "group_size" and not isinstance(getattr(self, f.name), torch.Tensor):
                raise TypeError(f"{f.name} must be a torch.Tensor; got {type(getattr(self, f.name)).__name__}.")
        n = self.prompts.shape[0]
        if n % g:
            raise ValueError(f"GroupBatch must hold whole groups: {n} rows is not a multiple of group_size={g}.")
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name != "group_size" and v.shape[0] != n:
                raise ValueError(f"{f.name} must have {n} rows (one per response); got shape {tuple(v.shape)}.")
        if self.response_mask.shape != self.responses.shape or self.old_logprobs.shape != self.responses.shape:
            raise ValueError("response_mask and old_logprobs must have the shape of responses (N, R).")

    def __len__(self) -> int:
        return self.prompts.shape[0]

    @property
    def n_groups(self) -> int:
        """Number of groups, N // group_size."""
        return len(self) // self.group_size

    def select_groups(self, idx: torch.Tensor) -> GroupBatch:
        """The groups ``idx`` (group indices, not row indices), in that order."""
        rows = (idx[:, None] * self.group_size + torch.arange(self.group_size)).reshape(-1)  # (len(idx) * G,)
        kw = {f.name: getattr(self, f.name)[rows] for f in fields(self) if f.name != "group_size"}
        return GroupBatch(group_size=self.group_size, **kw)

    @staticmethod
    def cat(batches: list[GroupBatch]) -> GroupBatch:
        """Concatenate batches with the same ``group_size`` and response width."""
        kw = {f.name: torch.cat([getattr(b, f.name) for b in batches]) for f in fields(GroupBatch) if f.name != "group_size"}
        return GroupBatch(group_size=batches[0].group_size, **kw)


class ReplayBuffer:
    r"""A bounded store of past GRPO groups with their staleness, evicting the oldest first.

    Parameters
    ----------
    capacity : int, >= 1
        Maximum number of *groups* kept.
    max_staleness : int, optional
        Groups sampled more than this many policy versions before the current one are evicted
        (they are too off-policy for the clipped ratio to be useful). ``None``: no age limit.
    informative_only : bool
        Store only groups whose rewards are not all equal (the others have zero advantage and
        would contribute nothing but dilution).

    Notes
    -----
    Eviction policy: on :meth:`add`, first groups older than ``max_staleness`` go, then the
    oldest groups until at most ``capacity`` remain (FIFO). :meth:`sample` draws groups
    uniformly without replacement from what is left. The stored log-probabilities are those of
    the behaviour policy, so replayed rows enter :func:`~interviewlib.rl.grpo.grpo_loss` with
    the ratio :math:`\pi_\theta/\pi_{behaviour}`; staleness ``s`` means ``s`` optimizer
    steps separate the two. See question q10-13.

    Examples
    --------
    >>> b = GroupBatch(torch.zeros(4, 2, dtype=torch.long), torch.zeros(4, 3, dtype=torch.long),
    ...                torch.ones(4, 3, dtype=torch.bool), torch.zeros(4, 3), torch.tensor([1.0, -1, 1, -1]),
    ...                torch.tensor([1.0, 0, 1, 0]), torch.zeros(4, dtype=torch.long), 2)
    >>> buf = ReplayBuffer(capacity=3, max_staleness=5)
    >>> buf.add(b, version=0)
    2
    >>> len(buf), buf.staleness(version=4).tolist()
    (2, [4, 4])
    >>> buf.sample(1, version=4, rng=0).n_groups
    1
    """

    def __init__(self, capacity: int, *, max_staleness: int | None = None, informative_only: bool = True) -> None:
        self.capacity = check_int(capacity, "capacity", low=1)
        self.max_staleness = None if max_staleness is None else check_int(max_staleness, "max_staleness")
        if not isinstance(informative_only, bool):
            raise TypeError(f"informative_only must be a bool; got {type(informative_only).__name__}.")
        self.informative_only = informative_only
        self._groups: list[GroupBatch] = []
        self.n_evicted = 0

    def __len__(self) -> int:
        return len(self._groups)

    def _versions(self) -> torch.Tensor:
        return torch.tensor([int(g.version[0]) for g in self._groups], dtype=torch.long)

    def staleness(self, version: int) -> torch.Tensor:
        """Policy versions elapsed since each stored group was sampled; (len(self),) long."""
        version = check_int(version, "version")
        return version - self._versions()

    def _evict(self, version: int) -> None:
        if self.max_staleness is not None:
            keep = [g for g in self._groups if version - int(g.version[0]) <= self.max_staleness]
            self.n_evicted += len(self._groups) - len(keep)
            self._groups = keep
        extra = len(self._groups) - self.capacity
        if extra > 0:  # oldest first: groups are appended in sampling order
            self._groups = self._groups[extra:]
            self.n_evicted += extra

    def add(self, batch: GroupBatch, version: int) -> int:
        """Store the groups of ``batch`` (tagged with ``batch.version``), then evict; returns how many were stored."""
        if not isinstance(batch, GroupBatch):
            raise TypeError(f"batch must be a GroupBatch; got {type(batch).__name__}.")
        version = check_int(version, "version")
        rewards = batch.rewards.reshape(batch.n_groups, batch.group_size)  # (n_groups, G)
        ok = rewards.max(1).values != rewards.min(1).values if self.informative_only else torch.ones(len(rewards), dtype=torch.bool)
        idx = ok.nonzero().flatten()
        for i in idx.tolist():
            self._groups.append(batch.select_groups(torch.tensor([i])))
        self._evict(version)
        return int(idx.numel())

    def sample(self, n_groups: int, *, version: int, rng: Any = None) -> GroupBatch | None:
        """Up to ``n_groups`` stored groups, uniformly without replacement; None if the buffer is empty."""
        n_groups = check_int(n_groups, "n_groups", low=1)
        version = check_int(version, "version")
        self._evict(version)
        if not self._groups:
            return None
        g = as_torch_generator(0 if rng is None else rng)
        pick = torch.randperm(len(self._groups), generator=g)[: min(n_groups, len(self._groups))]
        return GroupBatch.cat([self._groups[i] for i in pick.tolist()])


def update_on_batch(
    policy: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: GroupBatch,
    *,
    num_iterations: int = 1,
    ref_logprobs: torch.Tensor | None = None,
    max_grad_norm: float | None = 1.0,
    temperature: float = 1.0,
    **loss_kwargs: Any,
) -> list[GRPOLossResult]:
    r"""Take ``num_iterations`` full-batch optimizer steps on one batch of groups (GRPO's inner loop).

    Parameters
    ----------
    policy : DecoderLM
        Trained in place.
    optimizer : torch.optim.Optimizer
        Over ``policy``'s parameters.
    batch : GroupBatch
        Its ``old_logprobs`` stay fixed across the iterations: iteration 1 is on-policy for
        fresh rows (ratio 1), later ones are not, and the clip bounds how far they push.
    num_iterations : int, >= 1
        :math:`\mu` in DeepSeekMath's Algorithm 1 (TRL's ``num_iterations``).
    ref_logprobs : torch.Tensor, shape (N, R), optional
        Reference log-probabilities for the KL term (pass with ``beta`` in ``loss_kwargs``).
    max_grad_norm : float or None
        Clip the global gradient norm (None: no clipping).
    temperature : float
        Temperature the rows were sampled at (the log-probabilities are tempered alike).
    **loss_kwargs
        Forwarded to :func:`~interviewlib.rl.grpo.grpo_loss` (``loss_type``, ``epsilon_low``, ...).

    Returns
    -------
    list of GRPOLossResult
        One per iteration (their ``clip_fraction`` grows with the iteration index).

    Notes
    -----
    See question q10-13.

    Examples
    --------
    >>> from interviewlib.rl.toy import tiny_policy, SortTask
    >>> from interviewlib.rl.rollout import sample_rollout
    >>> from interviewlib.rl.grpo import repeat_prompts, group_advantages
    >>> task, lm = SortTask(), tiny_policy(0)
    >>> ro = sample_rollout(lm, repeat_prompts(task.sample_prompts(2, 0), 4), max_new_tokens=6, rng=0)
    >>> r = task.reward(ro.prompts, ro.responses)
    >>> b = GroupBatch(ro.prompts, ro.responses, ro.response_mask, ro.logprobs, group_advantages(r, 4), r,
    ...                torch.zeros(8, dtype=torch.long), 4)
    >>> res = update_on_batch(lm, torch.optim.AdamW(lm.parameters(), lr=1e-3), b, num_iterations=2)
    >>> len(res), abs(res[0].ratio_mean - 1) < 1e-5
    (2, True)
    """
    if not isinstance(policy, nn.Module):
        raise TypeError(f"policy must be an nn.Module (DecoderLM); got {type(policy).__name__}.")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer; got {type(optimizer).__name__}.")
    if not isinstance(batch, GroupBatch):
        raise TypeError(f"batch must be a GroupBatch; got {type(batch).__name__}.")
    num_iterations = check_int(num_iterations, "num_iterations", low=1)
    if max_grad_norm is not None and not (isinstance(max_grad_norm, (int, float)) and max_grad_norm > 0):
        raise ValueError(f"max_grad_norm must be a number > 0 or None; got {max_grad_norm!r}.")
    policy.train()
    out = []
    for _ in range(num_iterations):
        logprobs = response_logprobs(policy, batch.prompts, batch.responses, batch.response_mask,
                                     temperature=temperature)  # (N, R)  # fmt: skip
        res = grpo_loss(logprobs, batch.old_logprobs, batch.advantages, batch.response_mask,
                        ref_logprobs=ref_logprobs, **loss_kwargs)  # fmt: skip
        optimizer.zero_grad(set_to_none=True)
        res.loss.backward()
        if max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(policy.parameters(), max_grad_norm)
        optimizer.step()
        out.append(res)
    return out


def importance_weighted_mean(
    values: torch.Tensor,
    target_logprobs: torch.Tensor,
    behaviour_logprobs: torch.Tensor,
    *,
    clip: float | None = None,
    self_normalize: bool = False,
) -> torch.Tensor:
    r"""Estimate :math:`E_{\pi}[f]` from samples of another policy :math:`\mu` by importance weighting.

    Parameters
    ----------
    values : torch.Tensor, floating, shape (N,)
        :math:`f(x_n)` for samples :math:`x_n \sim \mu` (e.g. rewards of old rollouts).
    target_logprobs, behaviour_logprobs : torch.Tensor, shape (N,)
        :math:`\log\pi(x_n)` and :math:`\log\mu(x_n)`.
    clip : float, optional
        Truncate the weights at ``clip`` (lower variance, biased), as truncated IS / V-trace do.
    self_normalize : bool
        Divide by the sum of the weights instead of ``N`` (biased, consistent, lower variance).

    Returns
    -------
    torch.Tensor
        Scalar :math:`\frac1N\sum_n w_n f(x_n)` with :math:`w_n = \pi(x_n)/\mu(x_n)`.

    Notes
    -----
    Unbiased without clipping or normalising, since :math:`E_\mu[w f] = E_\pi[f]`; its
    variance :math:`(E_\mu[w^2 f^2] - E_\pi[f]^2)/N` grows with the mismatch
    (:math:`E_\mu[w^2] = 1 + \chi^2(\pi\|\mu)`), which is why off-policy reuse must stay
    near the behaviour policy. See question q10-14.

    Examples
    --------
    >>> f = torch.tensor([1.0, 0.0])
    >>> importance_weighted_mean(f, torch.log(torch.tensor([0.9, 0.1])), torch.log(torch.tensor([0.5, 0.5])))
    tensor(0.9000)
    """
    check_tensor(values, "values", ndim=1, layout="(N,)")
    if values.numel() == 0 or bool(torch.isnan(values).any()):
        raise ValueError("values must be non-empty and free of NaN.")
    for name, t in (("target_logprobs", target_logprobs), ("behaviour_logprobs", behaviour_logprobs)):
        check_tensor(t, name, ndim=1, layout="(N,)")
        if t.shape != values.shape:
            raise ValueError(f"{name} must have the shape of values {tuple(values.shape)}; got {tuple(t.shape)}.")
    if clip is not None:
        clip = check_positive(clip, "clip")
    w = torch.exp(target_logprobs - behaviour_logprobs)  # (N,)
    if clip is not None:
        w = torch.clamp(w, max=clip)
    total = (w * values).sum()
    return total / w.sum() if self_normalize else total / values.numel()
