r"""DPO training on the chapter's toy: policy, frozen reference, preference pairs, logged curves.

The loop is the one TRL's ``DPOTrainer`` runs, shrunk: (1) compute the reference model's
sequence log-probs of every pair once (TRL's ``precompute_ref_log_probs``), (2) per step,
one forward of the policy over ``chosen ++ rejected``, (3) the preference loss, (4) AdamW.
It logs what one watches in practice: chosen/rejected log-probs, reward margins and
accuracy, and (every ``eval_every`` steps) the *true* reward, the length and the sampled KL
to the reference of fresh samples, which DPO itself never sees.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..nn._torch_checks import check_positive
from ..transformer._checks import check_int
from .dpo import LOSS_TYPES, dpo_loss
from .preference_losses import kto_loss, kto_reference_point, orpo_loss, simpo_loss
from .reward_model import PreferencePairs, preference_pairs
from .rollout import sample_rollout, sequence_logprob
from .toy import IGNORE_INDEX, SortTask, as_torch_generator, sft_loss, toy_setting

__all__ = ["DPOHistory", "dpo_train", "length_biased_pairs", "sft_on_chosen", "toy_dpo_run", "TRAIN_LOSSES", "TOY_DPO_DEFAULTS"]

TRAIN_LOSSES = LOSS_TYPES + ("simpo", "orpo", "kto")
# the chapter's shared DPO run (sections 10.6-10.10): small enough for the notebook budget
TOY_DPO_DEFAULTS = {"lr": 3e-4, "beta": 0.1, "batch_size": 32, "eval_every": 20, "eval_prompts": 192}


@dataclass
class DPOHistory:
    r"""Curves of one DPO run. Per-step lists are on the training mini-batch; ``eval_*`` lists
    are measured every ``eval_every`` steps (and at step 0) on fixed prompts and on all pairs.

    Attributes
    ----------
    loss, chosen_logps, rejected_logps, margins, accuracy : list of float
        Per step: batch loss, mean policy log-prob of chosen / rejected responses,
        mean implicit-reward margin, reward accuracy (as TRL logs them).
    eval_step : list of int
    eval_reward, eval_exact, eval_length, eval_kl : list of float
        True reward, exact-match rate, mean response length (tokens, EOS included) and
        sampled sequence KL :math:`\mathbb E_{y\sim\pi}[\log\pi(y|x) - \log\pi_{ref}(y|x)]`
        of samples at temperature 1 on the evaluation prompts.
    eval_chosen_logps, eval_rejected_logps : list of float
        Mean policy log-prob of the chosen / rejected responses over *all* training pairs.
    """

    loss: list[float] = field(default_factory=list)
    chosen_logps: list[float] = field(default_factory=list)
    rejected_logps: list[float] = field(default_factory=list)
    margins: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    eval_step: list[int] = field(default_factory=list)
    eval_reward: list[float] = field(default_factory=list)
    eval_exact: list[float] = field(default_factory=list)
    eval_length: list[float] = field(default_factory=list)
    eval_kl: list[float] = field(default_factory=list)
    eval_chosen_logps: list[float] = field(default_factory=list)
    eval_rejected_logps: list[float] = field(default_factory=list)


def _pair_logps(model: nn.Module, pairs: PreferencePairs, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequence log-probs of chosen and rejected for the pairs ``idx`` in one forward pass."""
    p = pairs.prompts[idx]  # (b, P)
    y = torch.cat([pairs.chosen[idx], pairs.rejected[idx]])  # (2b, R)
    m = torch.cat([pairs.chosen_mask[idx], pairs.rejected_mask[idx]])  # (2b, R)
    lp = sequence_logprob(model, torch.cat([p, p]), y, m)  # (2b,)
    return lp[: len(idx)], lp[len(idx) :]


@torch.no_grad()
def _evaluate(policy, reference, task, prompts, g, pairs, hist: DPOHistory, step: int) -> None:
    was_training = policy.training
    policy.eval()
    ro = sample_rollout(policy, prompts, max_new_tokens=task.max_new_tokens, rng=g)
    r = task.reward(prompts, ro.responses).double()  # (n,)
    kl = ro.logprobs.double().sum(1) - sequence_logprob(reference, prompts, ro.responses, ro.response_mask).double()
    pc, pr = _pair_logps(policy, pairs, torch.arange(pairs.prompts.shape[0]))
    hist.eval_step.append(step)
    hist.eval_reward.append(float(r.mean()))
    hist.eval_exact.append(float((r == 1).double().mean()))
    hist.eval_length.append(float(ro.response_mask.sum(1).double().mean()))
    hist.eval_kl.append(float(kl.mean()))
    hist.eval_chosen_logps.append(float(pc.mean()))
    hist.eval_rejected_logps.append(float(pr.mean()))
    policy.train(was_training)


def _check_pairs(pairs: Any, low: int = 1) -> PreferencePairs:
    if not isinstance(pairs, PreferencePairs):
        raise TypeError(f"pairs must be a PreferencePairs; got {type(pairs).__name__}.")
    n = pairs.prompts.shape[0]
    if n < low:
        raise ValueError(f"pairs must hold at least {low} pairs; got {n}.")
    return pairs


def dpo_train(
    policy: nn.Module,
    reference: nn.Module,
    pairs: PreferencePairs,
    *,
    task: SortTask,
    steps: int,
    batch_size: int = 32,
    lr: float = 1e-3,
    beta: float = 0.1,
    loss: str = "sigmoid",
    label_smoothing: float = 0.0,
    sft_weight: float = 0.0,
    gamma: float = 1.0,
    eval_every: int = 20,
    eval_prompts: int = 128,
    rng: torch.Generator | int = 0,
) -> DPOHistory:
    r"""Train ``policy`` in place on preference ``pairs`` against a frozen ``reference``.

    Parameters
    ----------
    policy : nn.Module
        Trainable model (e.g. ``toy_setting().policy()``); updated in place.
    reference : nn.Module
        Frozen model (``toy_setting().reference()``); never updated. Ignored by the
        reference-free losses ``"simpo"`` and ``"orpo"`` except for the logged KL.
    pairs : PreferencePairs
        Prompts with chosen and rejected responses and their masks.
    task : SortTask
        Supplies the true reward for evaluation only.
    steps, batch_size : int
        AdamW steps and pairs per step (mini-batches drawn by reshuffling each epoch).
    lr : float
        AdamW learning rate (betas (0.9, 0.95), no weight decay, gradient norm clipped at 1).
    beta : float
        :math:`\beta` of the loss (SimPO's reward scale; ORPO's :math:`\lambda`).
    loss : {"sigmoid", "hinge", "ipo", "robust", "simpo", "orpo", "kto"}
        ``"ipo"`` uses per-token averaged log-ratios (as TRL); ``"kto"`` treats every chosen
        response as desirable and every rejected one as undesirable, with the reference
        point from mismatched pairs (each prompt with the next pair's chosen response).
    label_smoothing : float
        cDPO / robust DPO / SimPO smoothing in [0, 0.5).
    sft_weight : float
        Weight of the per-token NLL of the chosen response (RPO-style); DPO family only.
    gamma : float
        SimPO's target margin.
    eval_every, eval_prompts : int
        Evaluation period in steps and number of evaluation prompts.
    rng : torch.Generator or int
        Seeds the mini-batch order, the evaluation prompts and the evaluation samples.

    Returns
    -------
    DPOHistory

    Raises
    ------
    TypeError, ValueError
        Wrong model, pairs or task types, non-positive sizes, unknown ``loss``, and every
        error of the underlying loss.

    Notes
    -----
    See question q10-06.

    Examples
    --------
    >>> from interviewlib.rl import toy_setting
    >>> from interviewlib.rl.reward_model import preference_pairs
    >>> s = toy_setting(0)
    >>> pol, ref = s.policy(), s.reference()
    >>> pairs = preference_pairs(s.task, ref, 16, rng=0)
    >>> h = dpo_train(pol, ref, pairs, task=s.task, steps=2, batch_size=4, eval_every=2, eval_prompts=8)
    >>> len(h.loss), h.eval_step
    (2, [0, 2])
    """
    for m, name in ((policy, "policy"), (reference, "reference")):
        if not isinstance(m, nn.Module):
            raise TypeError(f"{name} must be an nn.Module (a DecoderLM); got {type(m).__name__}.")
    if policy is reference:
        raise ValueError("reference must be a separate frozen copy, not the policy itself.")
    pairs = _check_pairs(pairs, 2)  # KTO's mismatched pairs need two
    if not isinstance(task, SortTask):
        raise TypeError(f"task must be a SortTask; got {type(task).__name__}.")
    steps = check_int(steps, "steps")
    batch_size = check_int(batch_size, "batch_size", low=1)
    eval_every = check_int(eval_every, "eval_every", low=1)
    eval_prompts = check_int(eval_prompts, "eval_prompts", low=1)
    lr = check_positive(lr, "lr")
    if loss not in TRAIN_LOSSES:
        raise ValueError(f"loss must be one of {TRAIN_LOSSES}; got {loss!r}.")
    g = as_torch_generator(rng)
    return _train(policy, reference, pairs, task, steps, batch_size, lr, beta, loss, label_smoothing, sft_weight,
                  gamma, eval_every, eval_prompts, g)  # fmt: skip


def _train(policy, reference, pairs, task, steps, batch_size, lr, beta, loss, eps, sft_weight, gamma, eval_every,
           eval_prompts, g) -> DPOHistory:  # fmt: skip
    n = pairs.prompts.shape[0]
    batch_size = min(batch_size, n)
    reference.eval()
    with torch.no_grad():  # precompute_ref_log_probs: the reference is frozen, so once is enough
        ref_c, ref_r = _pair_logps(reference, pairs, torch.arange(n))  # (n,), (n,)
    len_c = pairs.chosen_mask.sum(1)  # (n,)
    len_r = pairs.rejected_mask.sum(1)  # (n,)
    prompts = task.sample_prompts(eval_prompts, g)  # (n_eval, P) fixed for the whole run
    opt = torch.optim.AdamW(policy.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
    policy.train()
    hist = DPOHistory()
    _evaluate(policy, reference, task, prompts, g, pairs, hist, 0)
    order, pos = torch.randperm(n, generator=g), 0
    for step in range(1, steps + 1):
        if pos + batch_size > n:
            order, pos = torch.randperm(n, generator=g), 0
        idx = order[pos : pos + batch_size]
        pos += batch_size
        pc, pr = _pair_logps(policy, pairs, idx)  # (b,), (b,) with grad
        if loss in LOSS_TYPES:
            out = dpo_loss(pc, pr, ref_c[idx], ref_r[idx], beta=beta, loss_type=loss, label_smoothing=eps,
                           chosen_lengths=len_c[idx], rejected_lengths=len_r[idx], sft_weight=sft_weight)  # fmt: skip
            value, margins, acc = out.loss, out.margins, out.accuracy
        elif loss == "simpo":
            out = simpo_loss(pc, pr, len_c[idx], len_r[idx], beta=beta, gamma=gamma, label_smoothing=eps)
            value, margins, acc = out.loss, out.margins, out.accuracy
        elif loss == "orpo":
            out = orpo_loss(pc, pr, len_c[idx], len_r[idx], lam=beta)
            value, margins, acc = out.loss, out.margins, out.accuracy
        else:  # kto on the unpaired halves; mismatched pairs (x_i, y_w of pair i+1) for z_ref
            shifted = idx.roll(1)
            mis = PreferencePairs(pairs.prompts[idx], pairs.chosen[shifted], pairs.chosen_mask[shifted],
                                  pairs.rejected[shifted], pairs.rejected_mask[shifted])  # fmt: skip
            with torch.no_grad():
                k_pol, _ = _pair_logps(policy, mis, torch.arange(len(idx)))
                k_ref, _ = _pair_logps(reference, mis, torch.arange(len(idx)))
            z = kto_reference_point(k_pol, k_ref)
            des = torch.cat([torch.ones(len(idx), dtype=torch.bool), torch.zeros(len(idx), dtype=torch.bool)])
            value = kto_loss(torch.cat([pc, pr]), torch.cat([ref_c[idx], ref_r[idx]]), des, reference_point=z,
                             beta=beta)  # fmt: skip
            margins = beta * ((pc - ref_c[idx]) - (pr - ref_r[idx])).detach()
            acc = float((margins > 0).double().mean())
        opt.zero_grad(set_to_none=True)
        value.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
        opt.step()
        hist.loss.append(float(value.detach()))
        hist.chosen_logps.append(float(pc.detach().mean()))
        hist.rejected_logps.append(float(pr.detach().mean()))
        hist.margins.append(float(margins.mean()))
        hist.accuracy.append(float(acc))
        if step % eval_every == 0 or step == steps:
            _evaluate(policy, reference, task, prompts, g, pairs, hist, step)
    return hist


def length_biased_pairs(pairs: PreferencePairs) -> PreferencePairs:
    r"""Relabel pairs as a length-biased labeller would: the longer response wins.

    Parameters
    ----------
    pairs : PreferencePairs

    Returns
    -------
    PreferencePairs
        A new object: where the rejected response is strictly longer than the chosen one
        the two are swapped (with their rewards); equal lengths keep the original label.

    Notes
    -----
    Human and LLM judges favour longer answers; DPO then learns "longer is better" (Park
    et al. 2024). On the toy, a response longer than k + 1 tokens has true reward 0, so the
    bias is visible in the true reward. See question q10-08.

    Examples
    --------
    >>> from interviewlib.rl.reward_model import PreferencePairs
    >>> p = torch.zeros(1, 6, dtype=torch.long)
    >>> short, long = torch.tensor([[1, 12, 13]]), torch.tensor([[1, 2, 12]])
    >>> out = length_biased_pairs(PreferencePairs(p, short, short != 13, long, long != 13))
    >>> out.chosen.tolist()
    [[1, 2, 12]]
    """
    pairs = _check_pairs(pairs)
    swap = pairs.rejected_mask.sum(1) > pairs.chosen_mask.sum(1)  # (N,)
    w = swap[:, None]  # (N, 1)

    def pick(a, b, cond):
        return None if a is None else torch.where(cond, b, a)

    return PreferencePairs(
        pairs.prompts.clone(), torch.where(w, pairs.rejected, pairs.chosen), torch.where(w, pairs.rejected_mask, pairs.chosen_mask),
        torch.where(w, pairs.chosen, pairs.rejected), torch.where(w, pairs.chosen_mask, pairs.rejected_mask),
        pick(pairs.chosen_reward, pairs.rejected_reward, swap), pick(pairs.rejected_reward, pairs.chosen_reward, swap),
    )  # fmt: skip


def sft_on_chosen(
    policy: nn.Module, pairs: PreferencePairs, *, steps: int, lr: float = 1e-3, batch_size: int = 32,
    rng: torch.Generator | int = 0,
) -> list[float]:  # fmt: skip
    r"""SFT warm start: next-token cross-entropy on ``prompt ++ chosen`` (response tokens only), in place.

    Parameters
    ----------
    policy : nn.Module
        Model to fine-tune in place.
    pairs : PreferencePairs
        Only the prompts and chosen responses are used.
    steps, batch_size : int
        AdamW steps and sequences per step.
    lr : float
        AdamW learning rate.
    rng : torch.Generator or int
        Mini-batch order.

    Returns
    -------
    list of float
        Loss per step.

    Notes
    -----
    The DPO paper initialises from an SFT model and, when there is none, first fine-tunes
    on the preferred completions so that the pairs are in-distribution for the reference
    (Rafailov et al. 2023, Sec. 4). See questions q10-08 and q10-10.

    Examples
    --------
    >>> from interviewlib.rl import toy_setting
    >>> from interviewlib.rl.reward_model import preference_pairs
    >>> s = toy_setting(0)
    >>> pol = s.policy()
    >>> len(sft_on_chosen(pol, preference_pairs(s.task, pol, 8, rng=0), steps=2, batch_size=4))
    2
    """
    if not isinstance(policy, nn.Module):
        raise TypeError(f"policy must be an nn.Module (a DecoderLM); got {type(policy).__name__}.")
    pairs = _check_pairs(pairs)
    steps = check_int(steps, "steps")
    batch_size = check_int(batch_size, "batch_size", low=1)
    lr = check_positive(lr, "lr")
    g = as_torch_generator(rng)
    ids = torch.cat([pairs.prompts, pairs.chosen], dim=1)  # (N, P+R)
    labels = ids.clone()
    labels[:, : pairs.prompts.shape[1]] = IGNORE_INDEX
    labels[:, pairs.prompts.shape[1] :][~pairs.chosen_mask] = IGNORE_INDEX  # no loss on PAD after EOS
    opt = torch.optim.AdamW(policy.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
    policy.train()
    losses = []
    for _ in range(steps):
        idx = torch.randint(0, len(pairs), (min(batch_size, len(pairs)),), generator=g)
        loss = sft_loss(policy, ids[idx], labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


@functools.lru_cache(maxsize=16)
def _toy_pairs(sft_seed: int, seed: int, n_pairs: int, temperature: float, label_noise: float,
               length_biased: bool, min_reward_gap: float) -> PreferencePairs:  # fmt: skip
    s = toy_setting(sft_seed)
    pairs = preference_pairs(s.task, s.reference(), n_pairs, rng=seed + 1, temperature=temperature, label_noise=label_noise)
    if min_reward_gap > 0:  # keep only clearly separated pairs
        keep = (pairs.chosen_reward - pairs.rejected_reward).abs() >= min_reward_gap
        pairs = PreferencePairs(*(None if v is None else v[keep] for v in vars(pairs).values()))
    return length_biased_pairs(pairs) if length_biased else pairs


@functools.lru_cache(maxsize=64)
def _toy_dpo_run_cached(sft_seed, seed, n_pairs, steps, pair_kw, warmstart_steps, kwargs) -> DPOHistory:
    s = toy_setting(sft_seed)
    pairs = _toy_pairs(sft_seed, seed, n_pairs, *pair_kw)
    policy = s.policy()
    if warmstart_steps:
        sft_on_chosen(policy, pairs, steps=warmstart_steps, rng=seed + 3)
        reference = policy.__class__(policy.config)
        reference.load_state_dict(policy.state_dict())
        reference.eval().requires_grad_(False)
    else:
        reference = s.reference()
    return dpo_train(policy, reference, pairs, task=s.task, steps=steps, rng=seed + 2, **dict(kwargs))


def toy_dpo_run(
    *, seed: int = 0, sft_seed: int = 0, n_pairs: int = 512, steps: int = 40, pair_temperature: float = 1.0, label_noise: float = 0.0,
    length_biased: bool = False, min_reward_gap: float = 0.0, warmstart_steps: int = 0, **kwargs: Any,
) -> DPOHistory:  # fmt: skip
    r"""One memoised DPO run on the toy: SFT policy and reference, pairs from the reference labelled by the true reward.

    Parameters
    ----------
    seed : int
        Seeds the pairs, the mini-batch order and the evaluation samples.
    sft_seed : int
        Seeds the SFT setting (:func:`~interviewlib.rl.toy.toy_setting`); the default 0 is the
        chapter's shared SFT model.
    n_pairs : int
        Pairs sampled from the SFT reference (two samples per prompt, untied, labelled by
        the true reward).
    steps : int
        Training steps.
    pair_temperature : float
        Sampling temperature of the pairs; != 1 makes the data off-policy for the reference.
    label_noise : float
        Probability in [0, 0.5) that a pair's label is flipped.
    length_biased : bool
        Relabel with :func:`length_biased_pairs` (the longer response wins).
    min_reward_gap : float
        Pair filtering: keep only pairs whose true rewards differ by at least this much
        (fewer but clearer pairs).
    warmstart_steps : int
        If > 0, first :func:`sft_on_chosen` for this many steps; the warm-started model is then
        both the policy's start and the reference.
    **kwargs
        Passed to :func:`dpo_train` (``beta``, ``lr``, ``loss``, ``label_smoothing``, ...);
        unspecified ones take ``TOY_DPO_DEFAULTS`` (lr 3e-4, beta 0.1, 32 pairs per step,
        evaluation every 20 steps on 192 prompts).

    Returns
    -------
    DPOHistory
        The same object for the same arguments within one process (do not modify it).

    Notes
    -----
    Memoised so that sections 10.6-10.10 can share runs and each section still runs alone.
    See question q10-06.

    Examples
    --------
    >>> h = toy_dpo_run(steps=2, n_pairs=16, batch_size=4, eval_every=2, eval_prompts=8)
    >>> h is toy_dpo_run(steps=2, n_pairs=16, batch_size=4, eval_every=2, eval_prompts=8)
    True
    """
    seed = check_int(seed, "seed")
    sft_seed = check_int(sft_seed, "sft_seed")
    n_pairs = check_int(n_pairs, "n_pairs", low=2)
    steps = check_int(steps, "steps")
    warmstart_steps = check_int(warmstart_steps, "warmstart_steps")
    temperature = check_positive(pair_temperature, "pair_temperature")
    gap = check_positive(min_reward_gap, "min_reward_gap", allow_zero=True)
    pair_kw = (temperature, float(label_noise), bool(length_biased), gap)
    kwargs = {**TOY_DPO_DEFAULTS, **kwargs}
    return _toy_dpo_run_cached(sft_seed, seed, n_pairs, steps, pair_kw, warmstart_steps, tuple(sorted(kwargs.items())))
