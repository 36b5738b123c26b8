r"""Chapter 10's shared toy: a tiny decoder that learns to sort digits, with a verifiable reward.

Every algorithm of the chapter (RLHF with a reward model, PPO, DPO, GRPO) starts from the same
supervised (SFT) policy and is scored by the same reward, so their curves are comparable.

Vocabulary (14 ids): digits ``0..9`` are ids 0-9, then ``BOS=10``, ``SEP=11``, ``EOS=12``,
``PAD=13``. A prompt is ``BOS d1 ... dk SEP``; the correct response is the k digits sorted
ascending followed by ``EOS``. The SFT run is deliberately short, so the policy is decent but
imperfect and RL has something to improve.
"""

from __future__ import annotations

import functools
import numbers
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from ..nn._torch_checks import check_positive
from ..transformer import DecoderConfig, DecoderLM
from ..transformer._checks import check_int

__all__ = [
    "BOS",
    "SEP",
    "EOS",
    "PAD",
    "VOCAB_SIZE",
    "SortTask",
    "tiny_policy",
    "sft_train",
    "ToySetting",
    "toy_setting",
    "SFT_STEPS",
]

BOS, SEP, EOS, PAD = 10, 11, 12, 13
VOCAB_SIZE = 14
IGNORE_INDEX = -100
SFT_STEPS = 60  # chosen so that the SFT policy is decent but imperfect (question q10-01 prints the figure)


def as_torch_generator(rng: Any, name: str = "rng") -> torch.Generator:
    """A ``torch.Generator`` from a generator (returned unchanged) or a non-negative int seed."""
    if isinstance(rng, torch.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        if int(rng) < 0:
            raise ValueError(f"{name} must be a non-negative int seed; got {rng}.")
        return torch.Generator().manual_seed(int(rng))
    raise TypeError(f"{name} must be a torch.Generator or an int seed; got {type(rng).__name__}.")


def check_ids(x: Any, name: str, *, ndim: int = 2, layout: str = "(B, T)") -> torch.Tensor:
    """Require an integer id tensor with values in ``[0, VOCAB_SIZE)``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of token ids; got {type(x).__name__}.")
    if x.is_floating_point() or x.is_complex() or x.dtype == torch.bool:
        raise ValueError(f"{name} must hold integer token ids (torch.long); got dtype {x.dtype}.")
    if x.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D {layout}; got shape {tuple(x.shape)}.")
    if x.numel() and (int(x.min()) < 0 or int(x.max()) >= VOCAB_SIZE):
        raise ValueError(f"{name} must hold ids in [0, {VOCAB_SIZE}); got [{int(x.min())}, {int(x.max())}].")
    return x


@dataclass(frozen=True)
class SortTask:
    r"""Sort ``n_digits`` digits; reward = fraction of sorted positions right, if EOS is in place.

    Parameters
    ----------
    n_digits : int
        Digits per prompt, k >= 1. Prompts have length k + 2, correct responses k + 1.
    max_new_tokens : int
        How many tokens a policy may generate (>= k + 1, default k + 2 would be 6 for k = 4).

    Notes
    -----
    Reward rule (:meth:`reward`): let ``e`` be the position of the first ``EOS`` in the
    response. If ``e != k`` (EOS missing, early or late) the reward is 0; otherwise it is
    :math:`\frac1k\sum_{i<k} 1[y_i = \mathrm{sort}(d)_i]`, so it takes the values
    ``0, 1/k, ..., 1``. Tokens after the first EOS are ignored. ``exact_match`` is
    ``reward == 1``. The partial credit makes the reward dense enough for RL from a weak
    policy, while the length condition gives reward hacking nothing to exploit by rambling.
    See question q10-01.

    Examples
    --------
    >>> task = SortTask()
    >>> p = torch.tensor([[BOS, 3, 1, 2, 1, SEP]])
    >>> task.target(p)
    tensor([[ 1,  1,  2,  3, 12]])
    >>> task.reward(p, torch.tensor([[1, 1, 3, 2, EOS, PAD]]))
    tensor([0.5000])
    """

    n_digits: int = 4
    max_new_tokens: int = 6

    def __post_init__(self) -> None:
        check_int(self.n_digits, "n_digits", low=1)
        check_int(self.max_new_tokens, "max_new_tokens", low=self.n_digits + 1)

    @property
    def prompt_len(self) -> int:
        """k + 2 (BOS, the digits, SEP)."""
        return self.n_digits + 2

    def sample_prompts(self, n: int, rng: torch.Generator | int) -> torch.Tensor:
        """``n`` prompts ``BOS d1..dk SEP`` with digits uniform on 0-9 (repeats allowed); (n, k+2) long."""
        n = check_int(n, "n", low=1)
        g = as_torch_generator(rng)
        digits = torch.randint(0, 10, (n, self.n_digits), generator=g)  # (n, k)
        bos = torch.full((n, 1), BOS, dtype=torch.long)
        sep = torch.full((n, 1), SEP, dtype=torch.long)
        return torch.cat([bos, digits, sep], dim=1)  # (n, k+2)

    def _check_prompts(self, prompts: Any) -> torch.Tensor:
        check_ids(prompts, "prompts", layout="(B, k+2)")
        if prompts.shape[1] != self.prompt_len:
            raise ValueError(f"prompts must have {self.prompt_len} columns (BOS, {self.n_digits} digits, SEP); "
                             f"got shape {tuple(prompts.shape)}.")
        d = prompts[:, 1:-1]
        if prompts.numel() and not (bool((prompts[:, 0] == BOS).all()) and bool((prompts[:, -1] == SEP).all())
                                    and bool((d < 10).all())):
            raise ValueError("prompts must look like BOS d1 ... dk SEP with digits 0-9 (use sample_prompts).")
        return prompts

    def target(self, prompts: torch.Tensor) -> torch.Tensor:
        """The correct responses: sorted digits then EOS, (n, k+1) long."""
        prompts = self._check_prompts(prompts)
        digits = prompts[:, 1:-1].sort(dim=1).values  # (n, k)
        return torch.cat([digits, torch.full((prompts.shape[0], 1), EOS, dtype=torch.long)], dim=1)  # (n, k+1)

    def reward(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        """True reward in [0, 1] per row (see Notes of the class); (n,) float32."""
        prompts = self._check_prompts(prompts)
        check_ids(responses, "responses", layout="(B, R)")
        if responses.shape[0] != prompts.shape[0]:
            raise ValueError(f"responses must have one row per prompt ({prompts.shape[0]}); got {responses.shape[0]}.")
        return self._reward_core(prompts, responses)

    def _reward_core(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        k, n, R = self.n_digits, *responses.shape
        target = self.target(prompts)[:, :k]  # (n, k)
        is_eos = responses == EOS  # (n, R)
        first = torch.where(is_eos.any(1), is_eos.int().argmax(1), torch.full((n,), R))  # (n,)
        if R < k:
            return torch.zeros(n, dtype=torch.float32)
        right = (responses[:, :k] == target).float().mean(1)  # (n,)
        return torch.where(first == k, right, torch.zeros_like(right))  # (n,)

    def exact_match(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        """True where the response is exactly the sorted digits followed by EOS; (n,) bool."""
        return self.reward(prompts, responses) == 1.0

    def sft_batch(self, n: int, rng: torch.Generator | int) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Supervised batch: ``input_ids = prompt ++ target`` (n, 2k+3) and ``labels``.

        ``labels`` equals ``input_ids`` with -100 on the prompt positions (Hugging Face
        convention: labels are *not* shifted; the loss compares ``logits[:, :-1]`` with
        ``labels[:, 1:]``).
        """
        prompts = self.sample_prompts(n, rng)  # (n, k+2)
        ids = torch.cat([prompts, self.target(prompts)], dim=1)  # (n, 2k+3)
        labels = ids.clone()
        labels[:, : self.prompt_len] = IGNORE_INDEX
        return ids, labels


def _policy_config(d_model: int, n_layers: int, n_heads: int) -> DecoderConfig:
    return DecoderConfig(vocab_size=VOCAB_SIZE, d_model=d_model, n_layers=n_layers, n_heads=n_heads, max_len=64)


def tiny_policy(seed: int = 0, *, d_model: int = 32, n_layers: int = 2, n_heads: int = 4) -> DecoderLM:
    """A freshly initialised :class:`~interviewlib.transformer.decoder.DecoderLM` over the toy vocabulary.

    Parameters
    ----------
    seed : int
        Initialisation seed (the global torch RNG is left untouched).
    d_model, n_layers, n_heads : int
        Size; ``n_heads`` must divide ``d_model``. ``max_len`` is 64 (room for k up to 30).

    Returns
    -------
    DecoderLM
        In train mode.

    Examples
    --------
    >>> lm = tiny_policy(0)
    >>> lm(torch.tensor([[BOS, 1, 2, SEP]])).shape
    torch.Size([1, 4, 14])
    """
    seed = check_int(seed, "seed")
    for name, v in (("d_model", d_model), ("n_layers", n_layers), ("n_heads", n_heads)):
        check_int(v, name, low=1)
    if d_model % n_heads:
        raise ValueError(f"n_heads must divide d_model={d_model}; got n_heads={n_heads}.")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return DecoderLM(_policy_config(d_model, n_layers, n_heads))


def sft_loss(policy: DecoderLM, input_ids: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy over the positions whose label is not -100."""
    logits = policy(input_ids)  # (B, T, V)
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1),
                           ignore_index=IGNORE_INDEX)


def sft_train(
    policy: DecoderLM,
    task: SortTask,
    *,
    steps: int,
    batch_size: int = 64,
    lr: float = 3e-3,
    rng: torch.Generator | int = 0,
) -> list[float]:
    r"""Supervised fine-tuning on correct sorts (in place); returns the loss of every step.

    Parameters
    ----------
    policy : DecoderLM
        Model over the toy vocabulary (e.g. :func:`tiny_policy`); updated in place.
    task : SortTask
        Supplies the batches (:meth:`SortTask.sft_batch`).
    steps, batch_size : int
        AdamW steps and sequences per step (fresh random prompts each step).
    lr : float
        AdamW learning rate (betas (0.9, 0.95), no weight decay, constant).
    rng : torch.Generator or int
        Source of the training prompts.

    Returns
    -------
    list of float
        Cross-entropy on the response tokens (nats per token), one per step.

    Notes
    -----
    Loss only on the response (``labels = -100`` on the prompt), the standard SFT recipe.
    See question q10-01.

    Examples
    --------
    >>> lm = tiny_policy(0)
    >>> losses = sft_train(lm, SortTask(), steps=3, batch_size=8, rng=0)
    >>> len(losses), losses[0] > 2.0
    (3, True)
    """
    if not isinstance(policy, DecoderLM):
        raise TypeError(f"policy must be a DecoderLM; got {type(policy).__name__}.")
    if policy.config.vocab_size != VOCAB_SIZE:
        raise ValueError(f"policy must have vocab_size={VOCAB_SIZE}; got {policy.config.vocab_size}.")
    if not isinstance(task, SortTask):
        raise TypeError(f"task must be a SortTask; got {type(task).__name__}.")
    steps = check_int(steps, "steps")
    batch_size = check_int(batch_size, "batch_size", low=1)
    lr = check_positive(lr, "lr")
    g = as_torch_generator(rng)
    opt = torch.optim.AdamW(policy.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
    policy.train()
    losses = []
    for _ in range(steps):
        ids, labels = task.sft_batch(batch_size, g)  # (B, 2k+3) each
        loss = sft_loss(policy, ids, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@dataclass
class ToySetting:
    r"""The chapter's starting point: the task, the SFT weights and the SFT loss curve.

    Attributes
    ----------
    task : SortTask
    sft_state : dict
        ``state_dict`` of the SFT policy (do not modify; :meth:`policy` copies it).
    sft_losses : list of float
        SFT cross-entropy per step.
    seed : int
        Seed of the initialisation and of the SFT batches.
    config : DecoderConfig
        The policy's shape.
    """

    task: SortTask
    sft_state: dict
    sft_losses: list[float]
    seed: int
    config: DecoderConfig = field(default_factory=lambda: _policy_config(32, 2, 4))

    def policy(self) -> DecoderLM:
        """A fresh trainable copy of the SFT policy (train mode, requires_grad True)."""
        lm = DecoderLM(self.config)
        lm.load_state_dict(self.sft_state)
        return lm

    def reference(self) -> DecoderLM:
        """A fresh frozen copy of the SFT policy (eval mode, requires_grad False), e.g. for a KL term."""
        lm = self.policy().eval()
        lm.requires_grad_(False)
        return lm


@functools.lru_cache(maxsize=8)
def _toy_setting_cached(seed: int) -> ToySetting:
    task = SortTask()
    policy = tiny_policy(seed)
    losses = sft_train(policy, task, steps=SFT_STEPS, batch_size=64, lr=3e-3, rng=seed)
    state = {k: v.detach().clone() for k, v in policy.state_dict().items()}
    return ToySetting(task=task, sft_state=state, sft_losses=losses, seed=seed, config=policy.config)


def toy_setting(seed: int = 0) -> ToySetting:
    r"""The shared SFT starting point for chapter 10 (memoised: computed once per process and seed).

    Parameters
    ----------
    seed : int
        Seeds the policy initialisation and the SFT batches.

    Returns
    -------
    ToySetting
        Call ``.policy()`` for a trainable copy, ``.reference()`` for a frozen one.

    Notes
    -----
    ``SFT_STEPS`` AdamW steps of 64 sequences on :class:`SortTask` (k = 4) with
    :func:`tiny_policy` (d = 32, 2 layers, 4 heads). A few seconds on one CPU thread.
    See question q10-01.

    Examples
    --------
    >>> s = toy_setting(0)
    >>> len(s.sft_losses) == SFT_STEPS and s.sft_losses[-1] < s.sft_losses[0]
    True
    >>> s.policy() is not s.policy()
    True
    """
    seed = check_int(seed, "seed")
    return _toy_setting_cached(seed)
