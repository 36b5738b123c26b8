r"""Gradient accumulation over micro-batches, with the token normalisation done right.

One optimizer step sees ``K`` micro-batches (and, under data parallelism, ``W`` ranks).
For a token-level loss (causal LM) the large-batch objective is

.. math:: L = \frac{1}{N} \sum_{k=1}^{K} \sum_{t \in \text{valid}_k} \ell_t,
          \qquad N = \sum_k n_k \ (\text{all ranks}),

so each micro-batch must contribute ``sum_k / N``. Averaging the per-micro-batch means,
:math:`\frac1K \sum_k \frac{1}{n_k}\sum_t \ell_t`, weights a token of a short micro-batch
more than one of a long micro-batch and is a different objective unless every
:math:`n_k` is equal (the 2024 Hugging Face ``num_items_in_batch`` fix).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from interviewlib._validation import check_option

from ..transformer._checks import check_int

__all__ = ["AccumulationResult", "accumulate_gradients", "token_cross_entropy_sum"]

_NORMALIZATIONS = ("global_tokens", "per_micro_batch")


@dataclass(frozen=True)
class AccumulationResult:
    """What one accumulation step did.

    Attributes
    ----------
    loss : torch.Tensor
        0-D, detached: the objective whose gradient this process added to ``.grad``.
        With DDP, the mean over ranks is the global loss (DDP averages the gradients
        the same way).
    num_items : int
        The token count that divided the summed loss (``global_tokens``: all micro-batches
        and, with DDP, all ranks; ``per_micro_batch``: the local total, for reference).
    micro_batch_items : tuple of int
        Valid (non-``ignore_index``) tokens in each local micro-batch.
    """

    loss: torch.Tensor
    num_items: int
    micro_batch_items: tuple[int, ...]


def token_cross_entropy_sum(logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
    r"""Sum (not mean) of the per-token cross-entropies over the valid tokens.

    Parameters
    ----------
    logits : torch.Tensor, shape (..., V)
        Next-token scores, already aligned with ``labels`` (shift before calling).
    labels : torch.Tensor of int, shape (...)
        Target ids, or ``ignore_index`` for positions that do not count.
    ignore_index : int
        Label value excluded from the sum.

    Returns
    -------
    torch.Tensor
        0-D; 0 (still differentiable) when every label is ignored.

    Notes
    -----
    The sum is what a micro-batch hands to :func:`accumulate_gradients`; the division by
    the step's token count happens there. See question q08-07.

    Examples
    --------
    >>> z = torch.zeros(1, 3, 2)  # uniform over 2 classes: each token costs log 2
    >>> round(float(token_cross_entropy_sum(z, torch.tensor([[0, 1, -100]]))), 6) == round(2 * 0.693147, 6)
    True
    """
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point() or logits.ndim < 2:
        raise TypeError(f"logits must be a floating torch.Tensor (..., V); got {type(logits).__name__}.")
    if not isinstance(labels, torch.Tensor) or labels.shape != logits.shape[:-1]:
        raise ValueError(f"labels must be a tensor of shape {tuple(logits.shape[:-1])} (logits without V).")
    vocab = logits.shape[-1]
    return F.cross_entropy(logits.reshape(-1, vocab), labels.reshape(-1), ignore_index=ignore_index, reduction="sum")


def accumulate_gradients(
    model: nn.Module,
    micro_batches: Sequence[tuple[Any, torch.Tensor]],
    *,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    normalization: str = "global_tokens",
    ignore_index: int = -100,
    num_items_in_batch: int | None = None,
    sync_every_micro_batch: bool = False,
    zero_grad: bool = True,
) -> AccumulationResult:
    r"""Run one optimizer step's worth of forward/backward passes over ``micro_batches``.

    Parameters
    ----------
    model : torch.nn.Module
        Maps the inputs of a micro-batch to logits of shape ``labels.shape + (V,)``. May be a
        :class:`torch.nn.parallel.DistributedDataParallel` wrapper (see Notes).
    micro_batches : sequence of (inputs, labels)
        ``inputs`` is passed to ``model`` unchanged; ``labels`` is an integer tensor of shape
        (B_k, T_k) (any shape matching the logits), ``ignore_index`` where a position has
        no target (padding, prompt tokens). Sizes may differ between micro-batches.
    loss_fn : callable, optional
        ``loss_fn(logits, labels) -> 0-D tensor``: the *sum* of the per-token losses of
        one micro-batch. Default :func:`token_cross_entropy_sum`.
    normalization : {"global_tokens", "per_micro_batch"}
        ``"global_tokens"`` (correct): every micro-batch contributes ``sum_k / N`` with
        ``N`` the valid tokens of the whole step. ``"per_micro_batch"`` (the pitfall):
        ``(sum_k / n_k) / K``, the mean of the micro-batch means.
    ignore_index : int
        Label value that marks positions without a target.
    num_items_in_batch : int, optional
        Override ``N`` (``global_tokens`` only), e.g. a count from the data loader; under
        DDP it must be the count over *all* ranks (no all-reduce is done then).
        Default: the valid labels of ``micro_batches``, summed over ranks under DDP.
    sync_every_micro_batch : bool
        DDP only: all-reduce after every micro-batch instead of only the last (the
        slow baseline that ``no_sync`` avoids; same gradient).
    zero_grad : bool
        Set every ``param.grad`` to None first (default). False adds to existing gradients.

    Returns
    -------
    AccumulationResult
        The loss value (detached), the token count ``N`` used, and the per-micro-batch counts.
        ``.grad`` of the parameters holds the gradient of the step's loss.

    Raises
    ------
    ValueError
        If ``micro_batches`` is empty, an item is not a pair, logits and labels shapes do
        not match, a label is outside ``[0, V)`` and not ``ignore_index``, the step (or,
        for ``per_micro_batch``, a micro-batch) has no valid token, ``normalization`` is
        unknown, or ``num_items_in_batch`` is given with ``per_micro_batch``.
    TypeError
        If ``model`` is not an ``nn.Module``, labels are not an integer tensor, the logits
        are not a floating tensor or ``loss_fn`` does not return a 0-D tensor.

    Notes
    -----
    Backward is linear, so calling ``backward`` on each ``sum_k / N`` adds up exactly the
    gradient of the large-batch loss; only the summation order differs (float round-off).
    Layers that mix samples, above all BatchNorm in training mode, break this equality:
    their statistics are per micro-batch.

    DDP: the reducer *averages* gradients over the ``W`` ranks of ``model.process_group``.
    With ``global_tokens`` the local count is all-reduced (sum) to get the global ``N``
    and the loss is multiplied by ``W``, so the averaged gradient is that of
    :math:`\sum_{\text{ranks}}\sum_k \text{sum}_k / N` (what transformers' Trainer does with
    ``average_tokens_across_devices``). All micro-batches but the last run inside
    ``model.no_sync()``, so gradients are all-reduced once per step. Every rank must call
    this with the same number of micro-batches. See question q08-07.

    References
    ----------
    .. [1] Hugging Face, "Fixing Gradient Accumulation", blog post, 2024-10-16,
       https://huggingface.co/blog/gradient_accumulation
    .. [2] Li et al., "PyTorch Distributed: Experiences on Accelerating Data Parallel
       Training", VLDB 2020, arXiv:2006.15704.

    Examples
    --------
    A model whose logits are one learnable bias (zero: uniform over 2 classes). Micro-batch A
    has 1 valid token of class 0, B has 3 of class 1. The right gradient is
    ``softmax - label frequency = [1/2 - 1/4, 1/2 - 3/4]``; the mean of the micro-batch
    means is exactly zero.

    >>> class Bias(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.b = nn.Parameter(torch.zeros(2))
    ...     def forward(self, x):
    ...         return self.b.expand(*x.shape, 2)
    >>> m = Bias()
    >>> batches = [(torch.zeros(1, 2), torch.tensor([[0, -100]])), (torch.zeros(1, 3), torch.tensor([[1, 1, 1]]))]
    >>> res = accumulate_gradients(m, batches)
    >>> res.num_items, res.micro_batch_items, m.b.grad.tolist()
    (4, (1, 3), [0.25, -0.25])
    >>> _ = accumulate_gradients(m, batches, normalization="per_micro_batch")
    >>> m.b.grad.tolist()
    [0.0, 0.0]
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}.")
    normalization = check_option(normalization, "normalization", _NORMALIZATIONS)
    ignore_index = check_int(ignore_index, "ignore_index", low=-(2**63))
    if loss_fn is None:
        loss_fn = functools.partial(token_cross_entropy_sum, ignore_index=ignore_index)
    elif not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable; got {type(loss_fn).__name__}.")
    if isinstance(micro_batches, (str, bytes)) or not isinstance(micro_batches, Sequence):
        raise TypeError(
            f"micro_batches must be a sequence of (inputs, labels) pairs; got {type(micro_batches).__name__}."
        )
    if len(micro_batches) == 0:
        raise ValueError("micro_batches must hold at least one (inputs, labels) pair; got an empty sequence.")
    for k, item in enumerate(micro_batches):
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise ValueError(f"micro_batches[{k}] must be an (inputs, labels) pair; got {type(item).__name__}.")
        labels = item[1]
        if (
            not isinstance(labels, torch.Tensor)
            or labels.is_floating_point()
            or labels.is_complex()
            or labels.dtype == torch.bool
        ):
            got = labels.dtype if isinstance(labels, torch.Tensor) else type(labels).__name__
            raise TypeError(f"micro_batches[{k}] labels must be an integer torch.Tensor; got {got}.")
    if num_items_in_batch is not None:
        if normalization != "global_tokens":
            raise ValueError(
                "num_items_in_batch is only used with normalization='global_tokens'; got 'per_micro_batch'."
            )
        num_items_in_batch = check_int(num_items_in_batch, "num_items_in_batch", low=1)

    is_ddp = isinstance(model, nn.parallel.DistributedDataParallel)
    counts = tuple(int((labels != ignore_index).sum()) for _, labels in micro_batches)
    if normalization == "per_micro_batch":
        empty = [k for k, n in enumerate(counts) if n == 0]
        if empty:
            raise ValueError(
                f"per_micro_batch needs a valid token in every micro-batch (its mean is 0/0); "
                f"micro-batches {empty} have none."
            )
    world = torch.distributed.get_world_size(model.process_group) if is_ddp else 1
    if normalization == "global_tokens":
        n_total = num_items_in_batch if num_items_in_batch is not None else _global_count(sum(counts), model, is_ddp)
        if n_total == 0:
            raise ValueError(f"the step has no valid label (all equal ignore_index={ignore_index}); nothing to learn.")
    else:
        n_total = sum(counts)
    if zero_grad:
        for p in model.parameters():
            p.grad = None
    return _accumulate_core(
        model,
        micro_batches,
        loss_fn,
        normalization,
        ignore_index,
        counts,
        n_total,
        world,
        is_ddp,
        sync_every_micro_batch,
    )


def _global_count(local: int, model: nn.Module, is_ddp: bool) -> int:
    """The step's valid-token count: local, or summed over the DDP process group."""
    if not is_ddp:
        return local
    device = next(model.parameters()).device
    n = torch.tensor(local, dtype=torch.int64, device=device)
    torch.distributed.all_reduce(n, op=torch.distributed.ReduceOp.SUM, group=model.process_group)
    return int(n)


def _accumulate_core(
    model, micro_batches, loss_fn, normalization, ignore_index, counts, n_total, world, is_ddp, sync_all
):
    """Forward/backward each micro-batch with its weight; assumes validated input."""
    n_micro = len(micro_batches)
    total = None
    for k, (inputs, labels) in enumerate(micro_batches):
        last = k == n_micro - 1
        ctx = model.no_sync() if is_ddp and not last and not sync_all else contextlib.nullcontext()
        with ctx:
            logits = model(inputs)  # (..., V)
            _check_logits(logits, labels, ignore_index, k)
            s = loss_fn(logits, labels)  # 0-D: sum of the micro-batch's token losses
            if not isinstance(s, torch.Tensor) or s.ndim != 0:
                got = f"shape {tuple(s.shape)}" if isinstance(s, torch.Tensor) else type(s).__name__
                raise TypeError(f"loss_fn must return a 0-D tensor (the summed loss); got {got}.")
            if normalization == "global_tokens":
                part = s * (world / n_total)  # DDP divides by world again when it averages
            else:
                part = s / (counts[k] * n_micro)  # micro-batch mean, then mean over micro-batches
            part.backward()
        total = part.detach() if total is None else total + part.detach()
    return AccumulationResult(loss=total, num_items=int(n_total), micro_batch_items=counts)


def _check_logits(logits: Any, labels: torch.Tensor, ignore_index: int, k: int) -> None:
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        got = logits.dtype if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise TypeError(f"model must return a floating logits tensor for micro_batches[{k}]; got {got}.")
    if logits.ndim != labels.ndim + 1 or logits.shape[:-1] != labels.shape:
        raise ValueError(
            f"logits of micro_batches[{k}] must have shape labels.shape + (V,) = {tuple(labels.shape)} + (V,); "
            f"got logits {tuple(logits.shape)}."
        )
    valid = labels[labels != ignore_index]
    bad = valid[(valid < 0) | (valid >= logits.shape[-1])]
    if bad.numel():
        raise ValueError(
            f"labels of micro_batches[{k}] must be in [0, {logits.shape[-1] - 1}] or ignore_index={ignore_index}; "
            f"got {bad[:5].tolist()}."
        )
