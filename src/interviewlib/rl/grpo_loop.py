r"""The GRPO training loop on the chapter's toy: sample groups, score with the true reward, update.

One step: draw ``n_prompts`` prompts, sample ``group_size`` responses for each with the
current policy, score them with the verifiable reward, turn rewards into group-relative
advantages, optionally drop the groups without signal (dynamic sampling) and add replayed
groups, then take ``num_iterations`` clipped updates (:func:`~interviewlib.rl.replay.update_on_batch`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from ..nn._torch_checks import check_positive
from ..transformer._checks import check_int
from .grpo import LOSS_TYPES, group_advantages, informative_groups, repeat_prompts, truncated_responses
from .replay import GroupBatch, ReplayBuffer, update_on_batch
from .rollout import evaluate_policy, response_logprobs, sample_rollout
from .toy import EOS, SortTask, as_torch_generator

__all__ = ["GRPOHistory", "grpo_train"]


@dataclass
class GRPOHistory:
    r"""Per-step record of a :func:`grpo_train` run.

    Attributes
    ----------
    reward : list of float
        Mean true reward of all responses *sampled* at each step (before any filtering).
    samples : list of int
        Cumulative number of responses sampled so far (the cost axis).
    zero_adv_fraction : list of float
        Share of the first-round groups whose rewards were all equal (zero advantage).
    truncated_fraction : list of float
        Share of sampled responses without EOS (what overlong filtering would drop).
    clip_fraction, kl, loss, ratio_mean : list of float
        Means over the ``num_iterations`` updates of each step (NaN if a step had no update).
    replay_staleness : list of float
        Mean staleness (policy versions) of the replayed groups used at each step (NaN if none).
    eval_steps, eval_reward, eval_exact_match : list
        Held-out evaluation (same prompts every time) after the steps in ``eval_steps``.
    """

    reward: list[float] = field(default_factory=list)
    samples: list[int] = field(default_factory=list)
    zero_adv_fraction: list[float] = field(default_factory=list)
    truncated_fraction: list[float] = field(default_factory=list)
    clip_fraction: list[float] = field(default_factory=list)
    kl: list[float] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    ratio_mean: list[float] = field(default_factory=list)
    replay_staleness: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    eval_reward: list[float] = field(default_factory=list)
    eval_exact_match: list[float] = field(default_factory=list)


def _sample_groups(policy, task, prompt_fn, reward_fn, n_prompts, group_size, temperature, g):
    prompts = prompt_fn(n_prompts, g)  # (n, P)
    ro = sample_rollout(policy, repeat_prompts(prompts, group_size), max_new_tokens=task.max_new_tokens,
                        temperature=temperature, rng=g)  # fmt: skip
    rewards = reward_fn(ro.prompts, ro.responses).double()  # (n*G,)
    return ro, rewards


def grpo_train(
    policy: nn.Module,
    task: SortTask,
    *,
    steps: int,
    n_prompts: int = 8,
    group_size: int = 8,
    lr: float = 5e-4,
    loss_type: str = "grpo",
    scale_rewards: str | None = None,
    epsilon_low: float = 0.2,
    epsilon_high: float | None = None,
    beta: float = 0.0,
    reference: nn.Module | None = None,
    kl_estimator: str = "k3",
    num_iterations: int = 1,
    dynamic_sampling: bool = False,
    max_sampling_rounds: int = 4,
    replay: ReplayBuffer | None = None,
    replay_groups: int = 0,
    prompt_fn: Callable[[int, torch.Generator], torch.Tensor] | None = None,
    reward_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    temperature: float = 1.0,
    max_grad_norm: float | None = 1.0,
    eval_every: int = 0,
    eval_n: int = 256,
    rng: torch.Generator | int = 0,
) -> GRPOHistory:
    r"""Train ``policy`` in place with GRPO on ``task``'s verifiable reward.

    Parameters
    ----------
    policy : DecoderLM
        Trained in place (e.g. ``toy_setting().policy()``).
    task : SortTask
        Supplies prompts (unless ``prompt_fn``) and the true reward.
    steps : int
        Rollout batches (outer steps).
    n_prompts, group_size : int
        Groups per batch and responses per group (``G >= 2``).
    lr : float
        AdamW learning rate (betas 0.9/0.99, no weight decay).
    loss_type : {"grpo", "dr_grpo", "dapo", "gspo"}
        Aggregation, see :func:`~interviewlib.rl.grpo.grpo_loss`.
    scale_rewards : {"group", "none"}, optional
        Advantage scaling; default ``"none"`` for ``"dr_grpo"``, ``"group"`` otherwise.
    epsilon_low, epsilon_high : float
        Clip range (``"gspo"`` wants tiny values, e.g. 3e-4 / 4e-4).
    beta : float
        KL coefficient; needs ``reference``.
    reference : DecoderLM, optional
        Frozen :math:`\pi_{ref}` (e.g. ``toy_setting().reference()``).
    kl_estimator : {"k1", "k2", "k3"}
    num_iterations : int
        Optimizer steps per rollout batch (:math:`\mu`).
    dynamic_sampling : bool
        DAPO: drop zero-variance groups and sample more prompts (at most
        ``max_sampling_rounds`` rounds in all) until ``n_prompts`` informative groups are found.
    max_sampling_rounds : int
    replay : ReplayBuffer, optional
        If given, each batch adds ``replay_groups`` stored groups, and the fresh groups are
        stored afterwards.
    replay_groups : int
    prompt_fn : callable, optional
        ``prompt_fn(n, generator) -> (n, P)`` prompts; default ``task.sample_prompts``.
    reward_fn : callable, optional
        ``reward_fn(prompts, responses) -> (n,)`` verifiable reward; default ``task.reward``
        (partial credit). ``lambda p, y: task.exact_match(p, y).double()`` gives the 0/1 reward.
    temperature : float
        Sampling temperature.
    max_grad_norm : float or None
    eval_every, eval_n : int
        Every ``eval_every`` steps (0: never) run :func:`~interviewlib.rl.rollout.evaluate_policy`
        on ``eval_n`` fixed held-out prompts (also after the last step).
    rng : torch.Generator or int
        Draws prompts and samples.

    Returns
    -------
    GRPOHistory

    Notes
    -----
    Zero-advantage groups left in the batch (without dynamic sampling) add nothing to the
    policy gradient but still count in the averages of ``"grpo"`` and ``"dr_grpo"`` and in
    ``"dapo"``'s token count, so they shrink the step. See questions q10-11 to q10-13.

    Examples
    --------
    >>> from interviewlib.rl.toy import toy_setting
    >>> s = toy_setting(0)
    >>> h = grpo_train(s.policy(), s.task, steps=2, n_prompts=2, group_size=4, rng=0)
    >>> len(h.reward), h.samples
    (2, [8, 16])
    """
    if not isinstance(policy, nn.Module):
        raise TypeError(f"policy must be a DecoderLM (nn.Module); got {type(policy).__name__}.")
    if not isinstance(task, SortTask):
        raise TypeError(f"task must be a SortTask; got {type(task).__name__}.")
    steps = check_int(steps, "steps", low=1)
    n_prompts = check_int(n_prompts, "n_prompts", low=1)
    group_size = check_int(group_size, "group_size", low=1)
    if group_size < 2:
        raise ValueError("group_size must be >= 2: a group of one has no baseline (its advantage is always 0).")
    lr = check_positive(lr, "lr")
    if loss_type not in LOSS_TYPES:
        raise ValueError(f"loss_type must be one of {LOSS_TYPES}; got {loss_type!r}.")
    scale = scale_rewards or ("none" if loss_type == "dr_grpo" else "group")
    beta = check_positive(beta, "beta", allow_zero=True)
    if beta > 0 and not isinstance(reference, nn.Module):
        raise ValueError("reference (a frozen DecoderLM) is required when beta > 0.")
    num_iterations = check_int(num_iterations, "num_iterations", low=1)
    max_sampling_rounds = check_int(max_sampling_rounds, "max_sampling_rounds", low=1)
    replay_groups = check_int(replay_groups, "replay_groups")
    if replay is not None and not isinstance(replay, ReplayBuffer):
        raise TypeError(f"replay must be a ReplayBuffer or None; got {type(replay).__name__}.")
    eval_every = check_int(eval_every, "eval_every")
    g = as_torch_generator(rng)
    prompt_fn = prompt_fn or task.sample_prompts
    reward_fn = reward_fn or task.reward
    opt = torch.optim.AdamW(policy.parameters(), lr=lr, betas=(0.9, 0.99), weight_decay=0.0)
    loss_kw = dict(loss_type=loss_type, epsilon_low=epsilon_low, epsilon_high=epsilon_high, beta=beta,
                   kl_estimator=kl_estimator)  # fmt: skip
    hist, version, n_sampled = GRPOHistory(), 0, 0
    nan = float("nan")
    for step in range(steps):
        policy.eval()
        kept, all_rewards = [], []
        for round_ in range(max_sampling_rounds if dynamic_sampling else 1):
            ro, rewards = _sample_groups(policy, task, prompt_fn, reward_fn, n_prompts, group_size, temperature, g)
            n_sampled += len(rewards)
            all_rewards.append(rewards)
            info = informative_groups(rewards, group_size)  # (n_prompts,)
            if round_ == 0:
                hist.zero_adv_fraction.append(float((~info).double().mean()))
                hist.truncated_fraction.append(float(truncated_responses(ro.responses, ro.response_mask, EOS).double().mean()))
            adv = group_advantages(rewards, group_size, scale=scale)  # (n*G,)
            batch = GroupBatch(ro.prompts, ro.responses, ro.response_mask, ro.logprobs, adv, rewards,
                               torch.full((len(rewards),), version, dtype=torch.long), group_size)  # fmt: skip
            if dynamic_sampling:
                batch = batch.select_groups(info.nonzero().flatten())
            kept.append(batch)
            if not dynamic_sampling or sum(b.n_groups for b in kept) >= n_prompts:
                break
        fresh = GroupBatch.cat(kept)
        if dynamic_sampling:
            fresh = fresh.select_groups(torch.arange(min(fresh.n_groups, n_prompts)))
        hist.reward.append(float(torch.cat(all_rewards).mean()))
        hist.samples.append(n_sampled)
        update = fresh
        replayed = replay.sample(replay_groups, version=version, rng=g) if (replay is not None and replay_groups) else None
        hist.replay_staleness.append(nan if replayed is None else float((version - replayed.version).double().mean()))
        if replayed is not None:
            update = GroupBatch.cat([fresh, replayed])
        if len(update) == 0:
            for lst in (hist.clip_fraction, hist.kl, hist.loss, hist.ratio_mean):
                lst.append(nan)
        else:
            ref_lp = None
            if beta > 0:
                with torch.no_grad():
                    ref_lp = response_logprobs(reference, update.prompts, update.responses, update.response_mask,
                                               temperature=temperature)  # (N, R)  # fmt: skip
            results = update_on_batch(policy, opt, update, num_iterations=num_iterations, ref_logprobs=ref_lp,
                                      max_grad_norm=max_grad_norm, temperature=temperature, **loss_kw)  # fmt: skip
            version += num_iterations
            hist.clip_fraction.append(sum(r.clip_fraction for r in results) / len(results))
            hist.kl.append(sum(r.kl for r in results) / len(results))
            hist.loss.append(sum(r.loss.item() for r in results) / len(results))
            hist.ratio_mean.append(sum(r.ratio_mean for r in results) / len(results))
        if replay is not None and len(fresh):
            replay.add(fresh, version=version)
        if eval_every and ((step + 1) % eval_every == 0 or step + 1 == steps):
            policy.eval()
            ev = evaluate_policy(policy, task, n=eval_n, rng=12345)
            hist.eval_steps.append(step + 1)
            hist.eval_reward.append(ev["reward"])
            hist.eval_exact_match.append(ev["exact_match"])
    policy.train()
    return hist
