r"""Rollouts: sample responses from a policy, and score them token by token.

The RL loop of every algorithm in chapter 10 starts here: sample a batch of responses with
the current policy (the "old" policy :math:`\pi_{\text{old}}`), remember each token's log
probability, then, during the update, recompute those log probabilities *with* gradient
under the policy being trained. Sampling reuses chapter 8's :func:`~interviewlib.transformer.generate`
(KV cache, temperature); scoring is one full-sequence forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..transformer import generate
from ..transformer._checks import check_int
from .masked import masked_mean, masked_sum
from .toy import EOS, PAD, SortTask, as_torch_generator, check_ids

__all__ = ["Rollout", "sample_rollout", "response_logprobs", "sequence_logprob", "response_mask_from",
           "evaluate_policy", "masked_mean"]


@dataclass
class Rollout:
    r"""A batch of sampled responses with their sampling log-probabilities.

    Attributes
    ----------
    prompts : torch.LongTensor, shape (B, P)
    responses : torch.LongTensor, shape (B, R)
        ``R = max_new_tokens``; PAD after the first EOS.
    response_mask : torch.BoolTensor, shape (B, R)
        True for generated tokens up to and including the first EOS.
    logprobs : torch.Tensor, shape (B, R)
        :math:`\log\pi_{\text{old}}(y_t \mid x, y_{<t})` under the sampling distribution
        (temperature applied), detached, 0 where masked.
    """

    prompts: torch.Tensor
    responses: torch.Tensor
    response_mask: torch.Tensor
    logprobs: torch.Tensor

    @property
    def sequences(self) -> torch.Tensor:
        """``prompts ++ responses``, shape (B, P + R)."""
        return torch.cat([self.prompts, self.responses], dim=1)

    @property
    def lengths(self) -> torch.Tensor:
        """Number of valid response tokens per row (EOS included), shape (B,)."""
        return self.response_mask.sum(1)


def _check_model(model: Any, name: str = "model") -> nn.Module:
    if not isinstance(model, nn.Module) or not hasattr(model, "config"):
        raise TypeError(f"{name} must be a DecoderLM (an nn.Module with a config); got {type(model).__name__}.")
    return model


def _check_temperature(temperature: Any) -> float:
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not (
        0 < temperature < float("inf")
    ):
        raise ValueError(f"temperature must be a finite number > 0; got {temperature!r}.")
    return float(temperature)


def response_mask_from(responses: torch.Tensor, eos_token_id: int = EOS) -> torch.Tensor:
    r"""True up to and including the first ``eos_token_id`` of each row (all True if there is none).

    Examples
    --------
    >>> response_mask_from(torch.tensor([[3, 4, EOS, PAD], [1, 2, 3, 4]]))
    tensor([[ True,  True,  True, False],
            [ True,  True,  True,  True]])
    """
    check_ids(responses, "responses", layout="(B, R)")
    is_eos = (responses == eos_token_id).long()  # (B, R)
    eos_before = torch.cumsum(is_eos, dim=1) - is_eos  # (B, R): EOS strictly before t
    return eos_before == 0


def sample_rollout(
    policy: nn.Module,
    prompts: torch.Tensor,
    *,
    max_new_tokens: int,
    temperature: float = 1.0,
    rng: torch.Generator | int | None = None,
) -> Rollout:
    r"""Sample one response per prompt and record its log-probabilities (no gradient).

    Parameters
    ----------
    policy : DecoderLM
        The sampling policy :math:`\pi_{\text{old}}`.
    prompts : torch.LongTensor, shape (B, P)
        Equal-length prompts (the toy has no padding).
    max_new_tokens : int
        Response length R (>= 1); responses stop at EOS and are PAD-ed to R.
    temperature : float
        Sampling temperature; ``logprobs`` are those of the tempered distribution.
    rng : torch.Generator or int or None
        Randomness of the sampler (an int seeds a new generator).

    Returns
    -------
    Rollout

    Notes
    -----
    Tokens come from ``generate(policy, prompts, max_new_tokens, do_sample=True,
    temperature=temperature, rng=rng, eos_token_id=EOS)`` (KV cache), so with the same
    generator they are the tokens ``generate`` returns, up to the first EOS; after it,
    ``generate`` repeats EOS and may stop early, while a rollout pads with PAD to exactly R.
    The log-probabilities are then recomputed by one full-sequence pass
    (:func:`response_logprobs`), as RL systems do when a fast inference engine samples and
    the trainer scores: the two passes agree up to float rounding, and the trainer's numbers
    are the ones the importance ratio must start from (ratio exactly 1 before the first
    update). See question q10-02.

    Examples
    --------
    >>> from interviewlib.rl.toy import tiny_policy, SortTask
    >>> task = SortTask()
    >>> ro = sample_rollout(tiny_policy(0), task.sample_prompts(3, 0), max_new_tokens=6, rng=0)
    >>> ro.responses.shape, ro.logprobs.shape, bool((ro.logprobs[~ro.response_mask] == 0).all())
    (torch.Size([3, 6]), torch.Size([3, 6]), True)
    """
    _check_model(policy, "policy")
    check_ids(prompts, "prompts", layout="(B, P)")
    if prompts.shape[0] == 0 or prompts.shape[1] == 0:
        raise ValueError(f"prompts must have at least one row and one column; got shape {tuple(prompts.shape)}.")
    max_new_tokens = check_int(max_new_tokens, "max_new_tokens", low=1)
    temperature = _check_temperature(temperature)
    if rng is not None:
        rng = as_torch_generator(rng)
    B, P = prompts.shape
    out = generate(policy, prompts, max_new_tokens, do_sample=True, temperature=temperature, rng=rng,
                   eos_token_id=EOS)[:, P:]  # (B, <= R)
    responses = torch.full((B, max_new_tokens), PAD, dtype=torch.long)  # (B, R)
    responses[:, : out.shape[1]] = out
    mask = response_mask_from(responses)  # (B, R)
    responses = responses.masked_fill(~mask, PAD)  # (B, R): PAD after the first EOS
    with torch.no_grad():
        logprobs = _logprobs_core(policy, prompts, responses, mask, temperature)  # (B, R)
    return Rollout(prompts=prompts, responses=responses, response_mask=mask, logprobs=logprobs)


def _check_triplet(model, prompts, responses, response_mask):
    _check_model(model)
    check_ids(prompts, "prompts", layout="(B, P)")
    check_ids(responses, "responses", layout="(B, R)")
    if not isinstance(response_mask, torch.Tensor) or response_mask.dtype != torch.bool:
        raise TypeError(f"response_mask must be a bool torch.Tensor; got "
                        f"{getattr(response_mask, 'dtype', type(response_mask).__name__)}.")
    if response_mask.shape != responses.shape:
        raise ValueError(f"response_mask must have the shape of responses {tuple(responses.shape)}; "
                         f"got {tuple(response_mask.shape)}.")
    if prompts.shape[0] != responses.shape[0]:
        raise ValueError(f"prompts and responses must have the same batch size; got {prompts.shape[0]} "
                         f"and {responses.shape[0]}.")
    if prompts.shape[1] == 0:
        raise ValueError("prompts must hold at least one token per row (the first response token is "
                         "predicted from the last prompt position).")


def _logprobs_core(model, prompts, responses, mask, temperature=1.0):
    P = prompts.shape[1]
    seq = torch.cat([prompts, responses], dim=1)  # (B, P+R)
    logits = model(seq)[:, P - 1 : -1]  # (B, R, V): position t predicts token t+1
    if temperature != 1.0:
        logits = logits / temperature
    logits = logits.to(torch.promote_types(logits.dtype, torch.float32))  # >= float32 for the softmax
    logp = F.log_softmax(logits, dim=-1).gather(-1, responses[..., None]).squeeze(-1)  # (B, R)
    return torch.where(mask, logp, torch.zeros_like(logp))  # (B, R)


def response_logprobs(
    model: nn.Module,
    prompts: torch.Tensor,
    responses: torch.Tensor,
    response_mask: torch.Tensor,
    *,
    temperature: float = 1.0,
) -> torch.Tensor:
    r"""Per-token :math:`\log\pi(y_t \mid x, y_{<t})` of the responses, with gradient.

    Parameters
    ----------
    model : DecoderLM
    prompts : torch.LongTensor, shape (B, P)
    responses : torch.LongTensor, shape (B, R)
    response_mask : torch.BoolTensor, shape (B, R)
        True for tokens to score.
    temperature : float
        Divide the logits by it first (use the sampling temperature, as TRL does).

    Returns
    -------
    torch.Tensor, shape (B, R), float32 or wider
        0 where ``response_mask`` is False (no gradient flows there).

    Notes
    -----
    One forward pass over ``prompts ++ responses``; the logits at position ``P - 1 + t``
    predict response token ``t``. Causal attention means tokens after EOS never influence
    earlier ones, so PAD there is harmless. See question q10-02.

    Examples
    --------
    >>> from interviewlib.rl.toy import tiny_policy, BOS, SEP
    >>> lp = response_logprobs(tiny_policy(0), torch.tensor([[BOS, 2, 1, SEP]]),
    ...                        torch.tensor([[1, 2, EOS, PAD]]), torch.tensor([[True, True, True, False]]))
    >>> lp.shape, lp[0, 3].item(), bool((lp[0, :3] < 0).all())
    (torch.Size([1, 4]), 0.0, True)
    """
    _check_triplet(model, prompts, responses, response_mask)
    temperature = _check_temperature(temperature)
    return _logprobs_core(model, prompts, responses, response_mask, temperature)


def sequence_logprob(
    model: nn.Module,
    prompts: torch.Tensor,
    responses: torch.Tensor,
    response_mask: torch.Tensor,
    *,
    temperature: float = 1.0,
) -> torch.Tensor:
    r""":math:`\log\pi(y \mid x) = \sum_t \log\pi(y_t \mid x, y_{<t})` over valid tokens; (B,) with gradient.

    Every row of ``response_mask`` must select at least one token. Used by DPO
    (question q10-06).

    Examples
    --------
    >>> from interviewlib.rl.toy import tiny_policy, BOS, SEP
    >>> p, y, m = torch.tensor([[BOS, 2, 1, SEP]]), torch.tensor([[1, 2, EOS]]), torch.ones(1, 3, dtype=torch.bool)
    >>> lm = tiny_policy(0)
    >>> torch.allclose(sequence_logprob(lm, p, y, m), response_logprobs(lm, p, y, m).sum(1))
    True
    """
    lp = response_logprobs(model, prompts, responses, response_mask, temperature=temperature)  # (B, R)
    return masked_sum(lp, response_mask, dim=1)  # (B,)


def evaluate_policy(
    policy: nn.Module,
    task: SortTask,
    *,
    n: int = 512,
    rng: torch.Generator | int = 0,
    greedy: bool = False,
) -> dict[str, float]:
    r"""Mean true reward and exact-match rate of ``policy`` on ``n`` fresh prompts.

    Parameters
    ----------
    policy : DecoderLM
    task : SortTask
    n : int
        Number of prompts.
    rng : torch.Generator or int
        Draws the prompts and (when sampling) the responses; pass the same int to compare
        policies on the same prompts.
    greedy : bool
        Greedy decoding (True) or sampling at temperature 1 (False, what RL optimises).

    Returns
    -------
    dict
        ``{"reward": mean reward, "exact_match": fraction exactly right}``.

    Examples
    --------
    >>> from interviewlib.rl.toy import tiny_policy
    >>> sorted(evaluate_policy(tiny_policy(0), SortTask(), n=8))
    ['exact_match', 'reward']
    """
    _check_model(policy, "policy")
    if not isinstance(task, SortTask):
        raise TypeError(f"task must be a SortTask; got {type(task).__name__}.")
    n = check_int(n, "n", low=1)
    g = as_torch_generator(rng)
    prompts = task.sample_prompts(n, g)  # (n, P)
    if greedy:
        out = generate(policy, prompts, task.max_new_tokens, eos_token_id=EOS)[:, prompts.shape[1]:]
        responses = torch.full((n, task.max_new_tokens), PAD, dtype=torch.long)
        responses[:, : out.shape[1]] = out
    else:
        responses = sample_rollout(policy, prompts, max_new_tokens=task.max_new_tokens, rng=g).responses
    r = task.reward(prompts, responses)  # (n,)
    return {"reward": float(r.double().mean()), "exact_match": float((r == 1).double().mean())}
