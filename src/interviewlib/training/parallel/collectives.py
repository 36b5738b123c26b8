r"""Ring collectives from point-to-point ``send``/``recv``, with a count of the bytes each rank sends.

A ring all-reduce of :math:`N` elements over :math:`p` ranks is a reduce-scatter (:math:`p-1`
steps: pass a chunk of :math:`N/p` to the right neighbour, add the chunk from the left one)
followed by an all-gather (:math:`p-1` more steps passing finished chunks). Every rank sends
:math:`2(p-1)\,N/p` elements, which no all-reduce can beat by more than a constant as
:math:`p` grows (Patarasuk & Yuan 2009); NCCL's ring algorithm moves the same volume.
:class:`RingComm` implements the three collectives this way and counts every byte that goes
through ``send``, so the parallel schemes built on it report their measured traffic.
"""

from __future__ import annotations

from collections import Counter

import torch
import torch.distributed as dist

from ...transformer._checks import check_int, check_tensor

__all__ = ["RingComm", "ring_all_reduce_bytes"]


def ring_all_reduce_bytes(n_elements: int, world: int, elem_bytes: int) -> int:
    r"""Bytes one rank sends in a ring all-reduce of ``n_elements``: :math:`2(p-1)/p \cdot N \cdot b`.

    Parameters
    ----------
    n_elements : int
        Elements reduced, :math:`N`.
    world : int
        Ranks in the ring, :math:`p`.
    elem_bytes : int
        Bytes per element, :math:`b`.

    Returns
    -------
    int
        The formula rounded down. It is exact when :math:`p` divides :math:`N`; otherwise rank
        :math:`r` sends every chunk but its own in the reduce-scatter and every chunk but
        chunk :math:`r+1` in the all-gather, :math:`(2N - |c_r| - |c_{r+1}|)\,b`.

    Notes
    -----
    See question q08-18.

    Examples
    --------
    >>> ring_all_reduce_bytes(1024, 4, 4)  # 2 * 3/4 * 4 KiB
    6144
    """
    n = check_int(n_elements, "n_elements")
    p = check_int(world, "world", low=1)
    b = check_int(elem_bytes, "elem_bytes", low=1)
    return 2 * (p - 1) * n * b // p


class RingComm:
    r"""Reduce-scatter, all-gather and all-reduce as rings of ``isend``/``recv``, counting bytes sent.

    Parameters
    ----------
    group : torch.distributed.ProcessGroup, optional
        The ranks of the ring (default: the world). Needs an initialised process group.

    Attributes
    ----------
    rank, world : int
        This process's index in ``group`` and the group size.
    bytes_sent : int
        Bytes this rank has sent since construction or :meth:`reset`.
    calls : collections.Counter
        How many times each collective ran.

    Notes
    -----
    Chunks are ``torch.tensor_split`` pieces of the flattened tensor, so ``N`` need not be a
    multiple of ``p``. Rank ``r`` ends the reduce-scatter owning chunk ``r`` (the layout of
    ``torch.distributed.reduce_scatter_tensor``). Each step posts the send with ``isend`` before the
    blocking ``recv``, so no rank waits for its right neighbour to be ready. See question q08-18.
    """

    def __init__(self, group=None):
        if group is not None and not isinstance(group, dist.ProcessGroup):
            raise TypeError(f"group must be a torch.distributed.ProcessGroup or None; got {type(group).__name__}.")
        if not (dist.is_available() and dist.is_initialized()):
            raise RuntimeError("RingComm needs an initialised torch.distributed process group (see run_workers).")
        self.group = group
        self.rank = dist.get_rank(group)
        self.world = dist.get_world_size(group)
        self.bytes_sent = 0
        self.calls: Counter = Counter()

    def reset(self) -> None:
        """Zero the byte and call counters."""
        self.bytes_sent = 0
        self.calls.clear()

    # -- point to point --------------------------------------------------------------------------

    def _global(self, r: int) -> int:
        return r if self.group is None else dist.get_global_rank(self.group, r)

    def send_recv(self, send: torch.Tensor, dst: int, recv: torch.Tensor, src: int) -> torch.Tensor:
        """Send ``send`` to group rank ``dst`` while receiving ``recv`` from ``src``; returns ``recv``."""
        req = dist.isend(send.contiguous(), self._global(dst), group=self.group)
        dist.recv(recv, self._global(src), group=self.group)
        req.wait()
        self.bytes_sent += send.numel() * send.element_size()
        return recv

    # -- collectives -----------------------------------------------------------------------------

    def _flat(self, t, name: str) -> torch.Tensor:
        check_tensor(t, name, floating=False)
        if not t.is_contiguous():
            raise ValueError(f"{name} must be contiguous (the ring works on views of its flat storage).")
        return t.view(-1)

    def _reduce_scatter_chunks(self, chunks: list[torch.Tensor]) -> None:
        r, p = self.rank, self.world
        right, left = (r + 1) % p, (r - 1) % p
        for s in range(p - 1):  # after step s, chunk (r - s - 2) % p holds s + 2 ranks' sum
            out, inc = chunks[(r - s - 1) % p], chunks[(r - s - 2) % p]
            buf = self.send_recv(out, right, torch.empty_like(inc), left)
            inc.add_(buf)

    def _all_gather_chunks(self, chunks: list[torch.Tensor]) -> None:
        r, p = self.rank, self.world
        right, left = (r + 1) % p, (r - 1) % p
        for s in range(p - 1):  # forward the chunk received last step
            self.send_recv(chunks[(r - s) % p], right, chunks[(r - s - 1) % p], left)

    def all_reduce(self, t: torch.Tensor) -> torch.Tensor:
        """Sum ``t`` over the ring, in place (like ``dist.all_reduce``); returns ``t``."""
        flat = self._flat(t, "t")
        chunks = list(torch.tensor_split(flat, self.world))  # views of t
        self._reduce_scatter_chunks(chunks)
        self._all_gather_chunks(chunks)
        self.calls["all_reduce"] += 1
        return t

    def reduce_scatter(self, t: torch.Tensor) -> torch.Tensor:
        """Sum ``t`` over the ring and return this rank's ``tensor_split`` chunk of the flattened sum.

        ``t`` is left unchanged (the ring works on a copy).
        """
        flat = self._flat(t, "t").clone()
        chunks = list(torch.tensor_split(flat, self.world))
        self._reduce_scatter_chunks(chunks)
        self.calls["reduce_scatter"] += 1
        return chunks[self.rank].clone()  # a view would keep the whole summed copy alive

    def all_gather(self, shard: torch.Tensor, *, out: torch.Tensor | None = None) -> torch.Tensor:
        """Concatenate every rank's equal-sized flattened ``shard`` in rank order, shape (world * n,).

        ``out``, if given, is a contiguous tensor of ``world * n`` elements written in place.
        """
        flat = self._flat(shard, "shard")
        if out is None:
            out = flat.new_empty(self.world * flat.numel())
        elif out.numel() != self.world * flat.numel() or not out.is_contiguous():
            raise ValueError(f"out must be contiguous with world * shard.numel() = {self.world * flat.numel()} elements.")
        out = out.view(-1)
        chunks = list(out.view(self.world, -1).unbind(0)) if flat.numel() else [out] * self.world
        chunks[self.rank].copy_(flat)
        self._all_gather_chunks(chunks)
        self.calls["all_gather"] += 1
        return out

    def all_gather_dim(self, shard: torch.Tensor, dim: int) -> torch.Tensor:
        """Concatenate every rank's equal-shaped ``shard`` along ``dim`` (sequence-parallel gathers)."""
        check_tensor(shard, "shard", floating=False)
        moved = shard.movedim(dim, 0).contiguous()  # (n, ...)
        full = self.all_gather(moved).view(self.world * moved.shape[0], *moved.shape[1:])
        return full.movedim(0, dim).contiguous()

    def reduce_scatter_dim(self, t: torch.Tensor, dim: int) -> torch.Tensor:
        """Sum ``t`` over ranks and keep this rank's equal slice along ``dim`` (``dim`` size divisible by world)."""
        check_tensor(t, "t", floating=False)
        if t.shape[dim] % self.world:
            raise ValueError(f"t.shape[{dim}]={t.shape[dim]} must be divisible by world={self.world}.")
        moved = t.movedim(dim, 0).contiguous()  # (n, ...)
        part = self.reduce_scatter(moved).view(moved.shape[0] // self.world, *moved.shape[1:])
        return part.movedim(0, dim).contiguous()
