r"""A reward model trained on preference pairs with the Bradley-Terry loss (the RM stage of RLHF).

The reward model is the policy's architecture with the language-model head swapped for a
scalar head, read at the last token of the response: one number per (prompt, response).
Training data are pairs (chosen, rejected) for one prompt; the loss is the negative
log-likelihood of the Bradley-Terry model :math:`P(y_c \succ y_r) = \sigma(r_c - r_r)`.
On the toy, the "human" labeller is the true reward of :class:`~interviewlib.rl.toy.SortTask`,
so we can measure how far the learned proxy is from the truth (question q10-01).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..nn._torch_checks import check_positive
from ..transformer import DecoderLM
from ..transformer._checks import check_int
from .rollout import _check_triplet, sample_rollout
from .toy import VOCAB_SIZE, SortTask, as_torch_generator, tiny_policy

__all__ = ["RewardModel", "bradley_terry_loss", "PreferencePairs", "preference_pairs", "train_reward_model",
           "pairwise_accuracy"]


class RewardModel(nn.Module):
    r"""Scalar reward :math:`r_\phi(x, y)`: a DecoderLM trunk whose head outputs one number.

    Parameters
    ----------
    backbone : DecoderLM, optional
        Deep-copied (not modified); its vocabulary head is replaced by ``nn.Linear(d_model, 1)``
        initialised to zero (so the model is deterministic given the backbone and starts
        with every reward equal to 0).
        InstructGPT initialises the RM from the SFT model; pass ``setting.policy()`` to do
        the same. Default: a fresh :func:`~interviewlib.rl.toy.tiny_policy` (seed 0).

    Notes
    -----
    ``forward`` runs the trunk over ``prompts ++ responses`` and reads the head at the last
    valid response token (the EOS when there is one), position ``P + L - 1`` with ``L`` the
    number of valid tokens: one scalar per sequence. A critic (question q10-03) has the same
    body but is read at *every* response position. See question q10-01.

    Examples
    --------
    >>> from interviewlib.rl.toy import BOS, SEP, EOS, PAD
    >>> rm = RewardModel()
    >>> rm(torch.tensor([[BOS, 2, 1, SEP]]), torch.tensor([[1, 2, EOS, PAD]]),
    ...    torch.tensor([[True, True, True, False]])).shape
    torch.Size([1])
    """

    def __init__(self, backbone: DecoderLM | None = None) -> None:
        super().__init__()
        if backbone is None:
            backbone = tiny_policy(0)
        if not isinstance(backbone, DecoderLM):
            raise TypeError(f"backbone must be a DecoderLM or None; got {type(backbone).__name__}.")
        trunk = copy.deepcopy(backbone)
        trunk.head = nn.Linear(trunk.config.d_model, 1)  # scalar head replaces the unembedding
        nn.init.zeros_(trunk.head.weight)  # deterministic start: every reward 0, BT loss log 2
        nn.init.zeros_(trunk.head.bias)
        trunk.requires_grad_(True)
        self.trunk = trunk.train()
        self.config = trunk.config

    def forward(self, prompts: torch.Tensor, responses: torch.Tensor, response_mask: torch.Tensor) -> torch.Tensor:
        """Rewards ``(B,)`` of the responses (read at each row's last valid token)."""
        _check_triplet(self.trunk, prompts, responses, response_mask)
        lengths = response_mask.sum(1)  # (B,)
        if bool((lengths == 0).any()):
            raise ValueError("response_mask must select at least one token in every row; got an empty row.")
        return self._core(prompts, responses, lengths)

    def _core(self, prompts, responses, lengths):
        P = prompts.shape[1]
        scores = self.trunk(torch.cat([prompts, responses], dim=1)).squeeze(-1)  # (B, P+R)
        return scores.gather(1, (P + lengths - 1)[:, None]).squeeze(1)  # (B,)


def bradley_terry_loss(r_chosen: torch.Tensor, r_rejected: torch.Tensor) -> torch.Tensor:
    r"""Mean Bradley-Terry negative log-likelihood :math:`-\log\sigma(r_c - r_r)`.

    Parameters
    ----------
    r_chosen, r_rejected : torch.Tensor, shape (N,)
        Rewards of the preferred and the dispreferred response of each pair.

    Returns
    -------
    torch.Tensor
        Scalar. ``log 2`` when the two rewards are equal; only the difference matters, so
        a constant shift of all rewards leaves it unchanged.

    Notes
    -----
    Computed as ``softplus(r_r - r_c)`` (stable for large margins). InstructGPT compares
    all :math:`\binom{K}{2}` pairs of K ranked responses per prompt in one batch element;
    with K = 2 this is the same loss. See question q10-01.

    Examples
    --------
    >>> bradley_terry_loss(torch.tensor([0.0, 1.0]), torch.tensor([0.0, 1.0]))
    tensor(0.6931)
    """
    for name, x in (("r_chosen", r_chosen), ("r_rejected", r_rejected)):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor; got {type(x).__name__}.")
        if not x.is_floating_point():
            raise ValueError(f"{name} must have a floating dtype; got {x.dtype}.")
        if x.ndim != 1 or x.numel() == 0:
            raise ValueError(f"{name} must be a non-empty 1-D tensor (N,); got shape {tuple(x.shape)}.")
        if bool(torch.isnan(x).any()):
            raise ValueError(f"{name} must not contain NaN.")
    if r_chosen.shape != r_rejected.shape:
        raise ValueError(f"r_rejected must have the shape of r_chosen {tuple(r_chosen.shape)}; "
                         f"got {tuple(r_rejected.shape)}.")
    return F.softplus(r_rejected - r_chosen).mean()


@dataclass
class PreferencePairs:
    r"""Preference data: for each prompt a chosen and a rejected response.

    Attributes
    ----------
    prompts : LongTensor (N, P)
    chosen, rejected : LongTensor (N, R)
        PAD after EOS.
    chosen_mask, rejected_mask : BoolTensor (N, R)
        Valid tokens (up to and including EOS).
    chosen_reward, rejected_reward : Tensor (N,), optional
        The labeller's (true) rewards, kept for analysis.
    """

    prompts: torch.Tensor
    chosen: torch.Tensor
    chosen_mask: torch.Tensor
    rejected: torch.Tensor
    rejected_mask: torch.Tensor
    chosen_reward: torch.Tensor | None = None
    rejected_reward: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.prompts.shape[0])


def preference_pairs(
    task: SortTask,
    policy: DecoderLM,
    n_pairs: int,
    *,
    rng: torch.Generator | int,
    temperature: float = 1.0,
    label_noise: float = 0.0,
) -> PreferencePairs:
    r"""Sample two responses per prompt from ``policy`` and label them with the true reward.

    Parameters
    ----------
    task : SortTask
        Prompts and the labelling reward.
    policy : DecoderLM
        Sampler of the two candidates (usually the SFT policy, as in InstructGPT).
    n_pairs : int
        Pairs wanted. Ties (equal true reward) carry no preference and are skipped, so more
        prompts are drawn until ``n_pairs`` untied pairs exist.
    rng : torch.Generator or int
        Prompts, samples and label noise.
    temperature : float
        Sampling temperature.
    label_noise : float
        Probability in [0, 0.5) of swapping a pair's labels (a careless labeller).

    Returns
    -------
    PreferencePairs
        ``len == n_pairs``; ``chosen_reward > rejected_reward`` unless the label was flipped.

    Raises
    ------
    RuntimeError
        If the policy produces ties almost always (50 rounds without enough untied pairs).

    Examples
    --------
    >>> pairs = preference_pairs(SortTask(), tiny_policy(0), 4, rng=0)
    >>> len(pairs), bool((pairs.chosen_reward > pairs.rejected_reward).all())
    (4, True)
    """
    if not isinstance(task, SortTask):
        raise TypeError(f"task must be a SortTask; got {type(task).__name__}.")
    if not isinstance(policy, DecoderLM):
        raise TypeError(f"policy must be a DecoderLM; got {type(policy).__name__}.")
    n_pairs = check_int(n_pairs, "n_pairs", low=1)
    if isinstance(label_noise, bool) or not isinstance(label_noise, (int, float)) or not 0 <= label_noise < 0.5:
        raise ValueError(f"label_noise must be a number in [0, 0.5); got {label_noise!r}.")
    g = as_torch_generator(rng)
    parts: list[tuple[torch.Tensor, ...]] = []
    have = 0
    for _ in range(50):
        prompts = task.sample_prompts(2 * n_pairs, g)  # (M, P)
        a = sample_rollout(policy, prompts, max_new_tokens=task.max_new_tokens, temperature=temperature, rng=g)
        b = sample_rollout(policy, prompts, max_new_tokens=task.max_new_tokens, temperature=temperature, rng=g)
        ra, rb = task.reward(prompts, a.responses), task.reward(prompts, b.responses)  # (M,) each
        keep = ra != rb
        a_wins = (ra > rb)[keep]
        flip = torch.rand(a_wins.shape, generator=g) < label_noise
        a_wins = a_wins ^ flip
        w = a_wins[:, None]
        parts.append((
            prompts[keep],
            torch.where(w, a.responses[keep], b.responses[keep]),
            torch.where(w, a.response_mask[keep], b.response_mask[keep]),
            torch.where(w, b.responses[keep], a.responses[keep]),
            torch.where(w, b.response_mask[keep], a.response_mask[keep]),
            torch.where(a_wins, ra[keep], rb[keep]),
            torch.where(a_wins, rb[keep], ra[keep]),
        ))
        have += int(keep.sum())
        if have >= n_pairs:
            break
    else:
        raise RuntimeError(f"only {have} untied pairs after 50 rounds; the policy's samples nearly always tie.")
    cols = [torch.cat(c)[:n_pairs] for c in zip(*parts)]
    return PreferencePairs(*cols)


def _check_pairs(pairs) -> PreferencePairs:
    if not isinstance(pairs, PreferencePairs):
        raise TypeError(f"pairs must be a PreferencePairs; got {type(pairs).__name__}.")
    if len(pairs) == 0:
        raise ValueError("pairs must hold at least one pair; got 0.")
    return pairs


def pairwise_accuracy(rm: RewardModel, pairs: PreferencePairs) -> float:
    r"""Fraction of pairs where the reward model scores the chosen response strictly higher.

    Examples
    --------
    >>> 0.0 <= pairwise_accuracy(RewardModel(), preference_pairs(SortTask(), tiny_policy(0), 4, rng=0)) <= 1.0
    True
    """
    if not isinstance(rm, RewardModel):
        raise TypeError(f"rm must be a RewardModel; got {type(rm).__name__}.")
    pairs = _check_pairs(pairs)
    with torch.no_grad():
        rc = rm(pairs.prompts, pairs.chosen, pairs.chosen_mask)  # (N,)
        rr = rm(pairs.prompts, pairs.rejected, pairs.rejected_mask)  # (N,)
    return float((rc > rr).double().mean())


def train_reward_model(
    pairs: PreferencePairs,
    *,
    steps: int,
    lr: float = 1e-3,
    rng: torch.Generator | int = 0,
    batch_size: int = 64,
    init: DecoderLM | None = None,
) -> tuple[RewardModel, list[float]]:
    r"""Fit a :class:`RewardModel` to preference pairs with :func:`bradley_terry_loss`.

    Parameters
    ----------
    pairs : PreferencePairs
        Training data.
    steps : int
        AdamW steps; each uses ``batch_size`` pairs drawn without replacement (reshuffled
        every pass over the data).
    lr : float
        AdamW learning rate (no weight decay).
    rng : torch.Generator or int
        Minibatch order.
    batch_size : int
        Pairs per step (capped at ``len(pairs)``).
    init : DecoderLM, optional
        Backbone to start from (e.g. the SFT policy, as in InstructGPT); default a fresh
        :func:`~interviewlib.rl.toy.tiny_policy`.

    Returns
    -------
    (RewardModel, list of float)
        The model (train mode) and the loss of every step.

    Notes
    -----
    Each step scores chosen and rejected responses in one concatenated batch. The reward's
    offset is not identified (the loss sees only differences); RLHF code often normalises
    it afterwards (InstructGPT sets the mean reward of the SFT demonstrations to 0).
    See question q10-01.

    Examples
    --------
    >>> pairs = preference_pairs(SortTask(), tiny_policy(0), 8, rng=0)
    >>> rm, losses = train_reward_model(pairs, steps=2, rng=0)
    >>> len(losses), isinstance(rm, RewardModel)
    (2, True)
    """
    pairs = _check_pairs(pairs)
    steps = check_int(steps, "steps")
    lr = check_positive(lr, "lr")
    batch_size = check_int(batch_size, "batch_size", low=1)
    if init is not None and (not isinstance(init, DecoderLM) or init.config.vocab_size != VOCAB_SIZE):
        raise TypeError(f"init must be a DecoderLM over the toy vocabulary or None; got {type(init).__name__}.")
    g = as_torch_generator(rng)
    rm = RewardModel(init)
    opt = torch.optim.AdamW(rm.parameters(), lr=lr, weight_decay=0.0)
    N, bs = len(pairs), min(batch_size, len(pairs))
    order, pos, losses = torch.randperm(N, generator=g), 0, []
    for _ in range(steps):
        if pos + bs > N:
            order, pos = torch.randperm(N, generator=g), 0
        idx = order[pos : pos + bs]
        pos += bs
        prompts = pairs.prompts[idx].repeat(2, 1)  # (2b, P)
        resp = torch.cat([pairs.chosen[idx], pairs.rejected[idx]])  # (2b, R)
        mask = torch.cat([pairs.chosen_mask[idx], pairs.rejected_mask[idx]])  # (2b, R)
        r = rm._core(prompts, resp, mask.sum(1))  # (2b,)
        loss = bradley_terry_loss(r[:bs], r[bs:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return rm, losses
