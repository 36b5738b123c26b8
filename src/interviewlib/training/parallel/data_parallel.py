r"""Data parallelism: every rank holds the whole model, sees its slice of the batch, and averages gradients.

With a loss that is a mean over the global batch of :math:`B = pB_\text{local}` examples split
evenly, :math:`\nabla L = \frac1p\sum_r \nabla L_r`, so one all-reduce (sum) of the local
gradients divided by :math:`p` gives every rank the single-process gradient; the optimizer
steps then stay identical on every rank. ``torch.nn.parallel.DistributedDataParallel`` does the
same with buckets of about 25 MB all-reduced during backward, overlapping communication
with the rest of the backward pass (Li et al. 2020).
"""

from __future__ import annotations

import torch
from torch import nn

from ...transformer._checks import check_int, check_tensor
from .collectives import RingComm

__all__ = ["allreduce_gradients", "batch_shard"]


def batch_shard(x: torch.Tensor, rank: int, world: int) -> torch.Tensor:
    """Rank ``rank``'s contiguous slice of the batch axis (dim 0); the batch must split evenly.

    Examples
    --------
    >>> batch_shard(torch.arange(6.0), 1, 3)
    tensor([2., 3.])
    """
    check_tensor(x, "x", floating=False)
    world = check_int(world, "world", low=1)
    rank = check_int(rank, "rank")
    if rank >= world:
        raise ValueError(f"rank must be < world={world}; got {rank}.")
    if x.ndim == 0 or x.shape[0] % world:
        raise ValueError(f"x must have a batch axis divisible by world={world}; got shape {tuple(x.shape)}.")
    n = x.shape[0] // world
    return x[rank * n : (rank + 1) * n]


def allreduce_gradients(model: nn.Module, comm: RingComm) -> int:
    r"""Replace every ``p.grad`` of ``model`` by its average over the ranks of ``comm``.

    Parameters
    ----------
    model : torch.nn.Module
        After a local ``backward``; parameters without a gradient are skipped (every rank must
        have the same set).
    comm : RingComm
        The data-parallel group.

    Returns
    -------
    int
        Elements all-reduced (the flat gradient bucket), :math:`\Psi`.

    Notes
    -----
    All gradients go into one flat bucket (one collective instead of one per tensor: fewer
    latency terms), are summed with :meth:`RingComm.all_reduce`, divided by ``world`` and
    copied back. A rank sends :math:`2(p-1)/p\cdot\Psi` elements. See question q08-18.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}.")
    if not isinstance(comm, RingComm):
        raise TypeError(f"comm must be a RingComm; got {type(comm).__name__}.")
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    if not grads:
        return 0
    bucket = torch.cat([g.reshape(-1) for g in grads])  # (Psi,)
    comm.all_reduce(bucket).div_(comm.world)
    offset = 0
    for g in grads:
        g.copy_(bucket[offset : offset + g.numel()].view_as(g))
        offset += g.numel()
    return bucket.numel()
