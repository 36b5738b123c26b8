r"""Context parallelism: split the sequence over ranks and pass key/value blocks around a ring.

Rank :math:`r` keeps the queries, keys and values of its positions. In :math:`p` steps it
attends its queries to one key/value block at a time, each block arriving from the left
neighbour while its own goes right (ring attention, Liu et al. 2023), and merges the partial
results exactly by their logsumexps (the rule that also merges FlashAttention tiles and
Flash-Decoding splits: :func:`~interviewlib.inference.flash_attention.merge_attention_partials`).
Under a causal mask a contiguous split gives the last rank :math:`2p-1` times the first rank's
work; the "zigzag" layout (rank :math:`r` holds chunks :math:`r` and :math:`2p-1-r` of
:math:`2p`) balances it, the layout Llama 3 uses with an all-gather of K/V instead of a ring.
"""

from __future__ import annotations

import torch

from ...inference.flash_attention import flash_attn_forward, merge_attention_partials
from ...transformer._checks import check_int, check_tensor
from .collectives import RingComm

__all__ = ["causal_pairs_per_rank", "ring_attention", "ring_attention_simulated", "sequence_shards"]

LAYOUTS = ("contiguous", "zigzag")


def sequence_shards(T: int, world: int, *, layout: str = "contiguous") -> list[torch.Tensor]:
    """Positions each rank holds: equal contiguous slices, or zigzag pairs of chunks.

    Examples
    --------
    >>> [s.tolist() for s in sequence_shards(8, 2, layout="zigzag")]
    [[0, 1, 6, 7], [2, 3, 4, 5]]
    """
    T, world = check_int(T, "T", low=1), check_int(world, "world", low=1)
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}; got {layout!r}.")
    k = world if layout == "contiguous" else 2 * world
    if T % k:
        raise ValueError(f"T={T} must be divisible by {k} for layout={layout!r} with world={world}.")
    chunks = torch.arange(T).chunk(k)
    if layout == "contiguous":
        return list(chunks)
    return [torch.cat([chunks[r], chunks[2 * world - 1 - r]]) for r in range(world)]


def causal_pairs_per_rank(T: int, world: int, *, layout: str = "contiguous") -> list[int]:
    r"""Query-key pairs with key :math:`\le` query that each rank computes (its share of causal attention).

    Examples
    --------
    >>> causal_pairs_per_rank(8, 2), causal_pairs_per_rank(8, 2, layout="zigzag")
    ([10, 26], [18, 18])
    """
    return [int((pos + 1).sum()) for pos in sequence_shards(T, world, layout=layout)]


def _partial(q, k, v, pos_q, pos_k, causal, scale):
    """Attention of q (B, H, t, d) to one key block, with its logsumexp; None if every pair is masked."""
    mask = None
    if causal:
        mask = pos_k[None, :] <= pos_q[:, None]  # (t, s), True = attend
        if not mask.any():
            return None
    return flash_attn_forward(q, k, v, mask, scale=scale, block_q=q.shape[2], block_k=k.shape[2], enable_gqa=True)


def _merge(parts, q, v):
    if not parts:  # cannot happen for causal (every query sees itself); kept for safety
        return q.new_zeros(*q.shape[:-1], v.shape[-1])
    return merge_attention_partials([o for o, _ in parts], [s for _, s in parts])[0]


def ring_attention_simulated(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, world: int, *,
                             causal: bool = False, layout: str = "contiguous", scale: float | None = None) -> torch.Tensor:
    r"""Ring attention with ``world`` ranks played in one process; returns the full output.

    Parameters
    ----------
    q : torch.Tensor, shape (B, H, T, d)
    k, v : torch.Tensor, shape (B, H_kv, T, d), ``H_kv`` dividing ``H``
    world : int
        Ranks; ``T`` divisible by ``world`` (``2 world`` for zigzag).
    causal : bool
        Query at position :math:`i` sees keys :math:`j \le i`.
    layout : {"contiguous", "zigzag"}
        See :func:`sequence_shards`.
    scale : float, optional
        Default :math:`1/\sqrt d`.

    Returns
    -------
    torch.Tensor, shape (B, H, T, d)
        Equals full attention up to rounding.

    Notes
    -----
    At step :math:`s` rank :math:`r` holds the key/value block of rank :math:`(r - s) \bmod p`.
    See question q08-18.

    Examples
    --------
    >>> q, k, v = torch.randn(3, 1, 2, 8, 4, dtype=torch.float64).unbind(0)
    >>> ref = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    >>> torch.allclose(ring_attention_simulated(q, k, v, 2, causal=True, layout="zigzag"), ref)
    True
    """
    for name, t in (("q", q), ("k", k), ("v", v)):
        check_tensor(t, name, ndim=4, layout="(B, H, T, d)")
    if k.shape[2] != q.shape[2] or v.shape[2] != q.shape[2]:
        raise ValueError(f"q, k, v must share the sequence length; got {q.shape[2]}, {k.shape[2]}, {v.shape[2]}.")
    shards = sequence_shards(q.shape[2], world, layout=layout)
    out = torch.empty(*q.shape[:-1], v.shape[-1], dtype=q.dtype)
    for r, pos_q in enumerate(shards):
        parts = []
        for s in range(world):
            pos_k = shards[(r - s) % world]
            part = _partial(q[:, :, pos_q], k[:, :, pos_k], v[:, :, pos_k], pos_q, pos_k, causal, scale)
            if part is not None:
                parts.append(part)
        out[:, :, pos_q] = _merge(parts, q[:, :, pos_q], v)
    return out


def ring_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, comm: RingComm, *,
                   causal: bool = False, layout: str = "contiguous", scale: float | None = None) -> torch.Tensor:
    r"""This rank's part of ring attention over ``comm``: shards in, shard of the output out.

    Parameters
    ----------
    q : torch.Tensor, shape (B, H, T/p, d)
        Queries of this rank's positions (``sequence_shards(T, p, layout=layout)[rank]``).
    k, v : torch.Tensor, shape (B, H_kv, T/p, d)
        Keys and values of the same positions.
    comm : RingComm
        The context-parallel group.
    causal, layout, scale
        As in :func:`ring_attention_simulated`.

    Returns
    -------
    torch.Tensor, shape (B, H, T/p, d)

    Notes
    -----
    Every rank sends its K/V block :math:`p-1` times: :math:`2(p-1)/p \cdot B T H_{kv} d` elements
    per layer in the forward pass. Real kernels overlap each transfer with the block's compute.
    See question q08-18.
    """
    for name, t in (("q", q), ("k", k), ("v", v)):
        check_tensor(t, name, ndim=4, layout="(B, H, T/p, d)")
    if k.shape != v.shape or k.shape[2] != q.shape[2]:
        raise ValueError(f"k and v must have one shape with q's sequence length; got {tuple(k.shape)}, {tuple(v.shape)}.")
    if not isinstance(comm, RingComm):
        raise TypeError(f"comm must be a RingComm; got {type(comm).__name__}.")
    r, p = comm.rank, comm.world
    shards = sequence_shards(q.shape[2] * p, p, layout=layout)
    kv = torch.stack([k, v]).contiguous()  # (2, B, H_kv, T/p, d): one message per step
    parts = []
    for s in range(p):
        pos_k = shards[(r - s) % p]
        part = _partial(q, kv[0], kv[1], shards[r], pos_k, causal, scale)
        if part is not None:
            parts.append(part)
        if s < p - 1:
            kv = comm.send_recv(kv, (r + 1) % p, torch.empty_like(kv), (r - 1) % p)
    return _merge(parts, q, v)
