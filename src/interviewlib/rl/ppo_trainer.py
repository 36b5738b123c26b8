r"""The PPO-for-RLHF loop: a critic (value model) and a trainer that runs rollout -> update.

Four networks take part: the policy (trained), the critic (trained), the frozen reference
(for the KL term) and the frozen reward model (any callable scorer here). The losses are in
:mod:`interviewlib.rl.ppo`, GAE in :mod:`interviewlib.rl.gae`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..nn._torch_checks import check_positive, check_unit_interval
from ..transformer import DecoderLM
from ..transformer._checks import check_int
from .gae import _gae_core
from .masked import masked_whiten
from .ppo import per_token_rewards, ppo_policy_loss, value_loss
from .rollout import response_logprobs, sample_rollout
from .toy import as_torch_generator

__all__ = ["ValueModel", "PPOConfig", "PPOTrainer"]


class ValueModel(nn.Module):
    r"""Critic: a :class:`~interviewlib.transformer.decoder.DecoderLM` trunk with a scalar head per position.

    Parameters
    ----------
    backbone : DecoderLM
        Copied (deep copy; the argument is not modified). Its language-model head is
        replaced by ``nn.Linear(d_model, 1)`` initialised to zero, so the critic starts at
        :math:`V \equiv 0` on top of the backbone's features.

    Notes
    -----
    ``forward(prompts, responses)`` returns :math:`V(s_t)` for every response position
    ``t``: the value of the state *before* token ``t`` is generated, read at sequence
    position ``P - 1 + t`` (the same slice as TRL's ``full_value[:, context_length - 1 : -1]``).
    InstructGPT initialises its critic from the reward model; starting from the policy
    (SFT) weights, as here, is the other common choice. See question q10-02.

    Examples
    --------
    >>> from interviewlib.rl.toy import tiny_policy, BOS, SEP, EOS
    >>> critic = ValueModel(tiny_policy(0))
    >>> critic(torch.tensor([[BOS, 3, 1, SEP]]), torch.tensor([[1, 3, EOS]])).shape
    torch.Size([1, 3])
    """

    def __init__(self, backbone: DecoderLM) -> None:
        super().__init__()
        if not isinstance(backbone, DecoderLM):
            raise TypeError(f"backbone must be a DecoderLM; got {type(backbone).__name__}.")
        trunk = copy.deepcopy(backbone)
        trunk.head = nn.Linear(trunk.config.d_model, 1)
        nn.init.zeros_(trunk.head.weight)
        nn.init.zeros_(trunk.head.bias)
        trunk.requires_grad_(True)
        self.trunk = trunk.train(backbone.training)

    def forward(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        """Values ``(B, R)`` of the states before each response token."""
        for name, x in (("prompts", prompts), ("responses", responses)):
            if not isinstance(x, torch.Tensor):
                raise TypeError(f"{name} must be a torch.Tensor of token ids; got {type(x).__name__}.")
            if x.ndim != 2:
                raise ValueError(f"{name} must be 2-D (B, T); got shape {tuple(x.shape)}.")
        if responses.shape[0] != prompts.shape[0]:
            raise ValueError(f"responses must have one row per prompt ({prompts.shape[0]}); got {responses.shape[0]}.")
        P, R = prompts.shape[1], responses.shape[1]
        seq = torch.cat([prompts, responses], dim=1)  # (B, P+R)
        v = self.trunk(seq).squeeze(-1)  # (B, P+R)
        return v[:, P - 1 : P - 1 + R]  # (B, R)


@dataclass(frozen=True)
class PPOConfig:
    r"""Hyperparameters of :class:`PPOTrainer` (defaults follow TRL v1.9.0's ``PPOConfig`` where it has one).

    Attributes
    ----------
    kl_coef : float
        :math:`\beta` of the per-token KL penalty (TRL: 0.05).
    kl_estimator : {"k1", "k3"}
        See :func:`~interviewlib.rl.ppo.per_token_rewards` (TRL: "k1").
    clip_eps : float
        Policy ratio clip :math:`\epsilon` (TRL ``cliprange``: 0.2).
    value_clip : float or None
        Value clip :math:`c` (TRL ``cliprange_value``: 0.2).
    vf_coef : float
        Weight of the value loss in the joint loss (TRL: 0.1).
    gamma, lam : float
        GAE discount and :math:`\lambda` (TRL: 1.0 and 0.95).
    epochs : int
        Passes over each rollout batch (TRL ``num_ppo_epochs``: 4).
    minibatch_size : int
        Rows per gradient step; the batch is reshuffled every epoch.
    lr : float
        AdamW learning rate for policy and critic (one optimizer, as TRL's wrapper).
    max_grad_norm : float or None
        Global gradient-norm clip.
    max_new_tokens : int
        Response length limit of the rollout.
    temperature : float
        Sampling temperature; every log-prob (old, new, reference) uses the same tempered
        logits, as TRL does.
    whiten_advantages : bool
        Normalise the advantages over the batch's valid tokens (TRL always does).
    """

    kl_coef: float = 0.05
    kl_estimator: str = "k1"
    clip_eps: float = 0.2
    value_clip: float | None = 0.2
    vf_coef: float = 0.1
    gamma: float = 1.0
    lam: float = 0.95
    epochs: int = 4
    minibatch_size: int = 16
    lr: float = 1e-3
    max_grad_norm: float | None = 1.0
    max_new_tokens: int = 6
    temperature: float = 1.0
    whiten_advantages: bool = True

    def __post_init__(self) -> None:
        check_positive(self.kl_coef, "kl_coef", allow_zero=True)
        if self.kl_estimator not in ("k1", "k3"):
            raise ValueError(f"kl_estimator must be 'k1' or 'k3'; got {self.kl_estimator!r}.")
        if check_unit_interval(self.clip_eps, "clip_eps") == 0:
            raise ValueError("clip_eps must be > 0 (0 would freeze the policy); got 0.0.")
        if self.value_clip is not None:
            check_positive(self.value_clip, "value_clip")
        check_positive(self.vf_coef, "vf_coef", allow_zero=True)
        check_unit_interval(self.gamma, "gamma", high_inclusive=True)
        check_unit_interval(self.lam, "lam", high_inclusive=True)
        check_int(self.epochs, "epochs", low=1)
        check_int(self.minibatch_size, "minibatch_size", low=1)
        check_positive(self.lr, "lr")
        if self.max_grad_norm is not None:
            check_positive(self.max_grad_norm, "max_grad_norm")
        check_int(self.max_new_tokens, "max_new_tokens", low=1)
        check_positive(self.temperature, "temperature")
        if not isinstance(self.whiten_advantages, bool):
            raise TypeError(f"whiten_advantages must be a bool; got {type(self.whiten_advantages).__name__}.")


RewardFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


class PPOTrainer:
    r"""The PPO-for-RLHF loop: rollout, rewards, values, GAE, whitening, epochs of minibatch updates.

    Parameters
    ----------
    policy : DecoderLM
        Trained in place.
    reference : DecoderLM
        Frozen reference for the KL penalty (e.g. the SFT model); never updated.
    value_model : ValueModel
        Critic, trained in place.
    reward_fn : callable ``(prompts, responses, response_mask) -> Tensor``
        Frozen scorer: shape (B,) for one score per response (put on its last token) or
        (B, R) for dense per-token rewards (e.g. process rewards or shaping).
    config : PPOConfig, optional
        Hyperparameters.

    Notes
    -----
    ``step`` returns per-step diagnostics: ``score`` (mean reward_fn score; for dense
    rewards the mean per-response sum), ``kl`` (mean per-response sum of the per-token KL
    to the reference), ``clip_frac``, ``approx_kl``, ``value_loss``, ``value_clip_frac``
    (means over all minibatch updates of the step) and ``length`` (mean response length).
    The old log-probs are those of :func:`~interviewlib.rl.rollout.sample_rollout`, which
    rescores the sampled tokens with one full-sequence pass, so the ratio is exactly 1 before
    the first update. See question q10-02.

    Examples
    --------
    >>> from interviewlib.rl.toy import toy_setting
    >>> s = toy_setting(0)
    >>> policy = s.policy()
    >>> trainer = PPOTrainer(policy, s.reference(), ValueModel(policy),
    ...                      lambda p, r, m: s.task.reward(p, r), PPOConfig(epochs=1, minibatch_size=8))
    >>> stats = trainer.step(s.task.sample_prompts(8, 0), rng=0)
    >>> sorted(stats)
    ['approx_kl', 'clip_frac', 'kl', 'length', 'score', 'value_clip_frac', 'value_loss']
    """

    def __init__(
        self,
        policy: DecoderLM,
        reference: DecoderLM,
        value_model: ValueModel,
        reward_fn: RewardFn,
        config: PPOConfig | None = None,
    ) -> None:
        if not isinstance(policy, DecoderLM):
            raise TypeError(f"policy must be a DecoderLM; got {type(policy).__name__}.")
        if not isinstance(reference, DecoderLM):
            raise TypeError(f"reference must be a DecoderLM; got {type(reference).__name__}.")
        if reference is policy:
            raise ValueError("reference must be a separate frozen copy of the policy, not the policy itself.")
        if not isinstance(value_model, ValueModel):
            raise TypeError(f"value_model must be a ValueModel; got {type(value_model).__name__}.")
        if not callable(reward_fn):
            raise TypeError(f"reward_fn must be callable (prompts, responses, response_mask); got {reward_fn!r}.")
        if config is None:
            config = PPOConfig()
        if not isinstance(config, PPOConfig):
            raise TypeError(f"config must be a PPOConfig; got {type(config).__name__}.")
        self.policy, self.reference, self.value_model = policy, reference.eval(), value_model
        self.reward_fn, self.config = reward_fn, config
        params = list(policy.parameters()) + list(value_model.parameters())
        self.optimizer = torch.optim.AdamW(params, lr=config.lr, betas=(0.9, 0.95), weight_decay=0.0)

    @torch.no_grad()
    def _experience(self, prompts: torch.Tensor, rng: Any) -> dict[str, torch.Tensor]:
        c = self.config
        self.policy.eval()
        ro = sample_rollout(self.policy, prompts, max_new_tokens=c.max_new_tokens, temperature=c.temperature, rng=rng)
        mask = ro.response_mask  # (B, R)
        old_lp = ro.logprobs  # (B, R): one full-sequence pass of the policy, at the sampling temperature
        ref_lp = response_logprobs(self.reference, prompts, ro.responses, mask, temperature=c.temperature)  # (B, R)
        scores = self.reward_fn(prompts, ro.responses, mask)  # (B,) or (B, R)
        if not isinstance(scores, torch.Tensor) or scores.shape not in ((mask.shape[0],), tuple(mask.shape)):
            raise ValueError(f"reward_fn must return a (B,) or (B, R) tensor for B, R = {tuple(mask.shape)}; "
                             f"got {getattr(scores, 'shape', type(scores).__name__)}.")
        scores = scores.to(old_lp.dtype)
        values = self.value_model(prompts, ro.responses)  # (B, R)
        rewards, kl = per_token_rewards(scores, old_lp, ref_lp, mask, kl_coef=c.kl_coef, kl_estimator=c.kl_estimator)
        adv, ret = _gae_core(rewards, values, mask, c.gamma, c.lam)  # (B, R) each
        if c.whiten_advantages and int(mask.sum()) > 1:
            adv = masked_whiten(adv, mask)
        score = scores if scores.ndim == 1 else torch.where(mask, scores, torch.zeros(())).sum(1)
        return {"prompts": prompts, "responses": ro.responses, "mask": mask, "old_logprobs": old_lp,
                "values": torch.where(mask, values, torch.zeros(())), "advantages": adv, "returns": ret,
                "score": score, "kl": kl.sum(1)}

    def step(self, prompts: torch.Tensor, *, rng: torch.Generator | int | None = None) -> dict[str, float]:
        r"""One PPO iteration on ``prompts`` (B, P); returns the diagnostics (see the class Notes)."""
        c = self.config
        g = None if rng is None else as_torch_generator(rng)  # one stream: sampling, then shuffling
        exp = self._experience(prompts, g)
        B = prompts.shape[0]
        self.policy.train()
        self.value_model.train()
        log: dict[str, list[float]] = {"clip_frac": [], "approx_kl": [], "value_loss": [], "value_clip_frac": []}
        for _ in range(c.epochs):
            order = torch.randperm(B, generator=g)  # (B,)
            for start in range(0, B, c.minibatch_size):
                idx = order[start : start + c.minibatch_size]  # (b,)
                mb = {k: v[idx] for k, v in exp.items() if k not in ("score", "kl")}
                lp = response_logprobs(self.policy, mb["prompts"], mb["responses"], mb["mask"],
                                       temperature=c.temperature)  # (b, R)
                pg = ppo_policy_loss(lp, mb["old_logprobs"], mb["advantages"], mb["mask"], clip_eps=c.clip_eps)
                v = self.value_model(mb["prompts"], mb["responses"])  # (b, R)
                vf = value_loss(v, mb["values"], mb["returns"], mb["mask"], clip_range=c.value_clip)
                loss = pg.loss + c.vf_coef * vf.loss
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if c.max_grad_norm is not None:
                    params = [p for group in self.optimizer.param_groups for p in group["params"]]
                    torch.nn.utils.clip_grad_norm_(params, c.max_grad_norm)
                self.optimizer.step()
                for key, val in (("clip_frac", pg.clip_frac), ("approx_kl", pg.approx_kl),
                                 ("value_loss", vf.loss), ("value_clip_frac", vf.clip_frac)):
                    log[key].append(float(val.detach()))
        stats = {k: sum(v) / len(v) for k, v in log.items()}
        stats.update(score=float(exp["score"].mean()), kl=float(exp["kl"].mean()),
                     length=float(exp["mask"].sum(1).float().mean()))
        if not all(math.isfinite(x) for x in stats.values()):
            raise FloatingPointError(f"PPO diverged (non-finite statistics): {stats}.")
        return stats
