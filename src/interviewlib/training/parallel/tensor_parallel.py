r"""Megatron tensor parallelism for training: column-then-row MLP and attention, with sequence parallelism.

An MLP :math:`Y = \phi(XA)B` splits :math:`A` by columns and :math:`B` by rows: rank :math:`r`
computes :math:`\phi(XA_r)B_r` with no communication (the nonlinearity acts element-wise on its
own columns), and the partial products add up to :math:`Y`. Two conjugate operators place
the only collectives (Shoeybi et al. 2019): :math:`f` is the identity forward and an all-reduce
of the input gradient backward; :math:`g` is an all-reduce forward and the identity backward.
Attention splits the same way by heads (the layout of
:func:`~interviewlib.inference.tp_sharding.shard_attention`, reused here). Sequence parallelism
(Korthikanti et al. 2022) keeps the activations between blocks split along the sequence
and turns each all-reduce into a reduce-scatter plus an all-gather of the same total volume.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ...inference.tp_sharding import plan_attention_shards, shard_attention
from ...transformer import GroupedQueryAttention
from ...transformer._checks import check_int
from .collectives import RingComm

__all__ = ["TensorParallelAttention", "TensorParallelMLP", "shard_mlp"]


class _CopyToTP(torch.autograd.Function):
    """Megatron's f: identity forward, all-reduce of the gradient backward."""

    @staticmethod
    def forward(ctx, x, comm):
        ctx.comm = comm
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return ctx.comm.all_reduce(grad.contiguous().clone()), None


class _ReduceFromTP(torch.autograd.Function):
    """Megatron's g: all-reduce forward, identity backward."""

    @staticmethod
    def forward(ctx, x, comm):
        return comm.all_reduce(x.contiguous().clone())

    @staticmethod
    def backward(ctx, grad):
        return grad, None


class _GatherFromSP(torch.autograd.Function):
    """Sequence parallel entry: all-gather along the sequence forward, reduce-scatter backward."""

    @staticmethod
    def forward(ctx, x, comm):
        ctx.comm = comm
        return comm.all_gather_dim(x, 1)

    @staticmethod
    def backward(ctx, grad):
        return ctx.comm.reduce_scatter_dim(grad, 1), None


class _ScatterToSP(torch.autograd.Function):
    """Sequence parallel exit: reduce-scatter along the sequence forward, all-gather backward."""

    @staticmethod
    def forward(ctx, x, comm):
        ctx.comm = comm
        return comm.reduce_scatter_dim(x, 1)

    @staticmethod
    def backward(ctx, grad):
        return ctx.comm.all_gather_dim(grad.contiguous(), 1), None


def shard_mlp(fc1: nn.Linear, fc2: nn.Linear, rank: int, world: int) -> tuple[nn.Linear, nn.Linear]:
    r"""Rank ``rank``'s column shard of ``fc1`` and row shard of ``fc2`` (bias-free), as new modules.

    Parameters
    ----------
    fc1 : torch.nn.Linear
        ``d -> f``; its output features (rows of the weight, and the bias) are split.
    fc2 : torch.nn.Linear
        ``f -> d``; its input features (columns of the weight) are split; its bias is not
        copied, since it must be added once, after the reduction.
    rank, world : int
        Which of ``world`` equal contiguous slices of the ``f`` hidden units; ``world`` divides ``f``.

    Returns
    -------
    (torch.nn.Linear, torch.nn.Linear)
        ``d -> f/p`` and ``f/p -> d``, holding copies of the original weights.

    Notes
    -----
    :math:`\sum_r \phi(xA_r^\top + a_r)B_r^\top = \phi(xA^\top + a)B^\top` for an element-wise :math:`\phi`.
    See question q08-18.

    Examples
    --------
    >>> fc1, fc2 = nn.Linear(4, 8), nn.Linear(8, 4)
    >>> x = torch.randn(3, 4)
    >>> parts = [shard_mlp(fc1, fc2, r, 2) for r in range(2)]
    >>> y = sum(b(F.gelu(a(x))) for a, b in parts) + fc2.bias
    >>> torch.allclose(y, fc2(F.gelu(fc1(x))), atol=1e-6)
    True
    """
    for name, m in (("fc1", fc1), ("fc2", fc2)):
        if not isinstance(m, nn.Linear):
            raise TypeError(f"{name} must be a torch.nn.Linear; got {type(m).__name__}.")
    if fc1.out_features != fc2.in_features:
        raise ValueError(f"fc1.out_features={fc1.out_features} must equal fc2.in_features={fc2.in_features}.")
    world, rank = check_int(world, "world", low=1), check_int(rank, "rank")
    f = fc1.out_features
    if rank >= world or f % world:
        raise ValueError(f"need rank < world and world dividing the {f} hidden units; got rank={rank}, world={world}.")
    sl = slice(rank * f // world, (rank + 1) * f // world)
    w1, w2 = fc1.weight.detach(), fc2.weight.detach()
    a = nn.Linear(fc1.in_features, f // world, bias=fc1.bias is not None).to(w1)
    b = nn.Linear(f // world, fc2.out_features, bias=False).to(w2)
    with torch.no_grad():
        a.weight.copy_(w1[sl])  # column-parallel: rows of the (out, in) weight
        if fc1.bias is not None:
            a.bias.copy_(fc1.bias.detach()[sl])
        b.weight.copy_(w2[:, sl])  # row-parallel: columns
    return a, b


class TensorParallelMLP(nn.Module):
    r"""``fc2(act(fc1(x)))`` with ``fc1`` column-parallel and ``fc2`` row-parallel over ``comm``.

    Parameters
    ----------
    fc1, fc2 : torch.nn.Linear
        The full layers (every rank passes the same ones); only this rank's shards are kept.
    comm : RingComm
        The tensor-parallel group.
    activation : callable
        Element-wise nonlinearity (default GELU).
    sequence_parallel : bool
        If True, ``forward`` takes and returns this rank's slice of the sequence, (B, T/p, d),
        with an all-gather before ``fc1`` and a reduce-scatter after ``fc2``; otherwise the
        full (B, T, d) on every rank with one all-reduce forward and one backward.

    Notes
    -----
    The ``fc2`` bias is replicated: under sequence parallelism its gradient covers only this
    rank's tokens and must be all-reduced over the group (Megatron does the same for the
    LayerNorm weights). See question q08-18.
    """

    def __init__(self, fc1: nn.Linear, fc2: nn.Linear, comm: RingComm, *,
                 activation: Callable[[torch.Tensor], torch.Tensor] = F.gelu, sequence_parallel: bool = False):
        super().__init__()
        for name, m in (("fc1", fc1), ("fc2", fc2)):
            if not isinstance(m, nn.Linear):
                raise TypeError(f"{name} must be a torch.nn.Linear; got {type(m).__name__}.")
        if not isinstance(comm, RingComm):
            raise TypeError(f"comm must be a RingComm; got {type(comm).__name__}.")
        self.fc1, self.fc2 = shard_mlp(fc1, fc2, comm.rank, comm.world)
        self.bias = None if fc2.bias is None else nn.Parameter(fc2.bias.detach().clone())
        self.comm, self.activation, self.sequence_parallel = comm, activation, bool(sequence_parallel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, d) -> (B, T, d); (B, T/p, d) -> (B, T/p, d) with ``sequence_parallel``."""
        if self.sequence_parallel:
            x = _GatherFromSP.apply(x, self.comm)  # (B, T, d)
        else:
            x = _CopyToTP.apply(x, self.comm)
        y = self.fc2(self.activation(self.fc1(x)))  # (B, T, d), this rank's partial sum
        y = _ScatterToSP.apply(y, self.comm) if self.sequence_parallel else _ReduceFromTP.apply(y, self.comm)
        return y if self.bias is None else y + self.bias


class TensorParallelAttention(nn.Module):
    r"""A :class:`~interviewlib.transformer.GroupedQueryAttention` split by heads over ``comm``.

    Parameters
    ----------
    attn : GroupedQueryAttention
        The full module (the same on every rank).
    comm : RingComm
        The tensor-parallel group.
    strategy : str
        Head assignment, as in :func:`~interviewlib.inference.tp_sharding.plan_attention_shards`.

    Notes
    -----
    q/k/v are column-parallel, ``o_proj`` row-parallel; the forward pass is :math:`f`, the
    local heads, :math:`g`. When ``world > n_kv_heads`` the KV heads are replicated and their
    gradients are partial on each rank. See question q08-18.
    """

    def __init__(self, attn: GroupedQueryAttention, comm: RingComm, *, strategy: str = "vllm"):
        super().__init__()
        if not isinstance(attn, GroupedQueryAttention):
            raise TypeError(f"attn must be a GroupedQueryAttention; got {type(attn).__name__}.")
        if not isinstance(comm, RingComm):
            raise TypeError(f"comm must be a RingComm; got {type(comm).__name__}.")
        plan = plan_attention_shards(attn.n_heads, attn.n_kv_heads, comm.world, strategy=strategy)
        self.shard = shard_attention(attn, plan)[comm.rank]
        self.comm = comm

    def forward(self, x: torch.Tensor, rope=None, *, mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, d) on every rank -> the full attention output (B, T, d) on every rank."""
        x = _CopyToTP.apply(x, self.comm)
        return _ReduceFromTP.apply(self.shard(x, rope, mask=mask), self.comm)  # (B, T, d)
