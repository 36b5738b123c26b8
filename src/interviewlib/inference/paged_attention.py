r"""PagedAttention: keys and values live in fixed-size blocks of a shared pool, read through a block table.

A sequence's KV cache is not one contiguous buffer of ``max_len`` positions but a list of
physical blocks (its *block table*, kept by :class:`~interviewlib.inference.block_manager.BlockManager`).
Token ``p`` of a sequence lives at *slot* ``table[p // B] * B + p % B`` of the pool. Writing
the new tokens' keys/values is a scatter to their slots (vLLM's ``reshape_and_cache``), and
attention gathers the blocks back in logical order (the paged kernel does this gather on the
fly, block by block, inside the attention loop; here it is an explicit ``index_select``,
the same arithmetic).

:class:`PagedKVCacheView` makes a batch of such sequences look like a
:class:`~interviewlib.transformer.kv_cache.KVCache` to :class:`~interviewlib.transformer.decoder.DecoderLM`,
so the unchanged model runs on paged memory.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ..transformer._checks import check_int, check_tensor
from ..transformer.attention import scaled_dot_product_attention
from ..transformer.kv_cache import KVCache

__all__ = ["PagedKVPool", "paged_attention", "PagedKVCacheView", "paged_batch"]


class PagedKVPool:
    r"""Physical KV blocks of every layer: ``k``, ``v`` of shape (L, num_blocks, block_size, H_kv, d_head).

    Parameters
    ----------
    n_layers, num_blocks, block_size, n_kv_heads, head_dim : int
        Pool shape.
    dtype : torch.dtype
        Element type (the model's).
    device : torch.device or str, optional
        Where the pool lives ("GPU" pool vs "CPU" swap pool in the engine).

    Notes
    -----
    One block of one layer holds ``2 * block_size * H_kv * d_head`` numbers: the keys and the
    values of ``block_size`` consecutive tokens of one sequence, all KV heads. It stores no
    token ids, positions or sequence ids; those live in the block manager (block table,
    refcount, content hash). vLLM 0.33.0 describes its cache as a logical
    ``[layer, block, kv_head, token, content]`` tensor whose memory order the attention
    backend chooses (``vllm/v1/kv_cache_layout.py``); the FlashAttention backend keeps K and
    V side by side in the content axis. Zero-initialised, so a padded read of a never-written
    slot is finite. See question q09-06.

    Examples
    --------
    >>> pool = PagedKVPool(n_layers=1, num_blocks=4, block_size=2, n_kv_heads=1, head_dim=3)
    >>> pool.write(0, torch.tensor([5]), torch.ones(1, 1, 3), torch.ones(1, 1, 3))  # slot 5 = block 2, offset 1
    >>> pool.k[0, 2, 1].tolist()
    [[1.0, 1.0, 1.0]]
    """

    def __init__(
        self,
        *,
        n_layers: int,
        num_blocks: int,
        block_size: int,
        n_kv_heads: int,
        head_dim: int,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> None:
        shape = tuple(
            check_int(v, n, low=1)
            for v, n in zip(
                (n_layers, num_blocks, block_size, n_kv_heads, head_dim),
                ("n_layers", "num_blocks", "block_size", "n_kv_heads", "head_dim"),
            )
        )
        self.n_layers, self.num_blocks, self.block_size, self.n_kv_heads, self.head_dim = shape
        self.k = torch.zeros(shape, dtype=dtype, device=device)  # (L, N_blocks, B_size, H_kv, d_h)
        self.v = torch.zeros(shape, dtype=dtype, device=device)  # (L, N_blocks, B_size, H_kv, d_h)

    @property
    def num_slots(self) -> int:
        return self.num_blocks * self.block_size

    def nbytes(self) -> int:
        return 2 * self.k.numel() * self.k.element_size()

    def write(self, layer: int, slots: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
        """Scatter ``k``, ``v`` (N, H_kv, d_head) of N tokens to their ``slots`` (N,) of ``layer``."""
        self._flat(self.k, layer).index_copy_(0, slots, k.to(self.k.dtype))  # (N_slots, H_kv, d_h)
        self._flat(self.v, layer).index_copy_(0, slots, v.to(self.v.dtype))

    def gather(self, layer: int, slots: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Read slots (B, S) of ``layer`` as keys and values (B, H_kv, S, d_head)."""
        B, S = slots.shape
        flat = slots.reshape(-1)  # (B*S,)
        k = self._flat(self.k, layer).index_select(0, flat).view(B, S, self.n_kv_heads, self.head_dim)
        v = self._flat(self.v, layer).index_select(0, flat).view(B, S, self.n_kv_heads, self.head_dim)
        return k.transpose(1, 2), v.transpose(1, 2)  # (B, H_kv, S, d_h) each

    def copy_blocks(self, pairs: Sequence[tuple[int, int]], dst: PagedKVPool | None = None) -> None:
        """Copy whole blocks ``src -> dst_block`` for each pair, into ``dst`` (default this pool).

        Same-pool copies implement copy-on-write; a copy to another pool is a swap (GPU <-> CPU).
        """
        if not pairs:
            return
        target = self if dst is None else dst
        src = torch.tensor([s for s, _ in pairs], device=self.k.device)
        to = torch.tensor([d for _, d in pairs], device=target.k.device)
        target.k[:, to] = self.k[:, src].to(target.k.device)  # (L, n, B_size, H_kv, d_h)
        target.v[:, to] = self.v[:, src].to(target.v.device)

    def _flat(self, t: torch.Tensor, layer: int) -> torch.Tensor:
        return t[layer].view(self.num_slots, self.n_kv_heads, self.head_dim)  # (N_slots, H_kv, d_h)


def _slot_table(
    block_tables: torch.Tensor, context_lens: torch.Tensor, block_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded slots (B, S) of every row's positions ``0..len-1`` and the key mask (B, S)."""
    S = int(context_lens.max())
    col = torch.arange(S, device=block_tables.device)  # (S,)
    pos = col[None, :] - (S - context_lens[:, None])  # (B, S): logical position, < 0 = padding
    valid = pos >= 0  # (B, S)
    pos = pos.clamp(min=0)
    blocks = torch.gather(block_tables, 1, (pos // block_size).clamp(max=block_tables.shape[1] - 1))  # (B, S)
    slots = torch.where(valid, blocks * block_size + pos % block_size, torch.zeros_like(pos))  # (B, S)
    return slots, valid


def paged_attention(
    q: torch.Tensor,
    pool: PagedKVPool,
    layer: int,
    block_tables: torch.Tensor,
    context_lens: torch.Tensor,
    *,
    scale: float | None = None,
) -> torch.Tensor:
    r"""Causal attention of the last ``T`` positions of each sequence to its paged KV cache.

    Parameters
    ----------
    q : torch.Tensor, shape (B, H, T, d_head)
        Queries of positions ``len_b - T .. len_b - 1`` of each row (T = 1 for decoding).
    pool : PagedKVPool
        Holds the keys/values of positions ``0 .. len_b - 1`` of every row.
    layer : int
        Layer of the pool to read.
    block_tables : torch.Tensor, shape (B, max_blocks), integer
        Physical block of each logical block (unused trailing entries may be anything valid).
    context_lens : torch.Tensor, shape (B,), integer
        Positions cached per row, each ``>= T``.
    scale : float, optional
        Score scale (default ``1 / sqrt(d_head)``).

    Returns
    -------
    torch.Tensor, shape (B, H, T, d_head)

    Raises
    ------
    TypeError, ValueError
        On wrong shapes, ids out of the pool, or a context shorter than ``T``.

    Notes
    -----
    Equal to contiguous causal attention over each row's own keys: rows are left-padded to
    the longest context, padding keys are masked out, and the causal mask is aligned
    bottom-right, so query ``t`` of row ``b`` sees exactly positions ``0 .. len_b - T + t``.
    Work is proportional to the *used* context, never to a reserved ``max_len``.
    See question q09-06.

    Examples
    --------
    >>> pool = PagedKVPool(n_layers=1, num_blocks=3, block_size=2, n_kv_heads=1, head_dim=4)
    >>> k, v = torch.randn(3, 1, 4), torch.randn(3, 1, 4)
    >>> pool.write(0, torch.tensor([4, 5, 0]), k, v)  # positions 0, 1 in block 2; position 2 in block 0
    >>> q = torch.randn(1, 2, 1, 4)
    >>> out = paged_attention(q, pool, 0, torch.tensor([[2, 0]]), torch.tensor([3]))
    >>> ref = torch.nn.functional.scaled_dot_product_attention(q, k.transpose(0, 1)[None], v.transpose(0, 1)[None],
    ...                                                        enable_gqa=True)
    >>> torch.allclose(out, ref, atol=1e-6)
    True
    """
    check_tensor(q, "q", ndim=4, layout="(B, H, T, d_head)")
    if not isinstance(pool, PagedKVPool):
        raise TypeError(f"pool must be a PagedKVPool; got {type(pool).__name__}.")
    layer = check_int(layer, "layer")
    if layer >= pool.n_layers:
        raise ValueError(f"layer must be < n_layers={pool.n_layers}; got {layer}.")
    B, H, T, d = q.shape
    check_tensor(block_tables, "block_tables", ndim=2, layout="(B, max_blocks)", floating=False)
    check_tensor(context_lens, "context_lens", ndim=1, layout="(B,)", floating=False)
    if block_tables.shape[0] != B or context_lens.shape[0] != B:
        raise ValueError(
            f"block_tables and context_lens must have B={B} rows; got {tuple(block_tables.shape)}, {tuple(context_lens.shape)}."
        )
    if d != pool.head_dim or H % pool.n_kv_heads:
        raise ValueError(
            f"q must have d_head={pool.head_dim} and H divisible by {pool.n_kv_heads}; got {tuple(q.shape)}."
        )
    if block_tables.numel() and (int(block_tables.min()) < 0 or int(block_tables.max()) >= pool.num_blocks):
        raise ValueError(
            f"block_tables must hold block ids in [0, {pool.num_blocks}); got [{block_tables.min()}, {block_tables.max()}]."
        )
    if int(context_lens.min()) < T or int(context_lens.max()) > block_tables.shape[1] * pool.block_size:
        raise ValueError(
            f"context_lens must lie in [T={T}, max_blocks*block_size={block_tables.shape[1] * pool.block_size}]; "
            f"got {context_lens.tolist()}."
        )
    slots, valid = _slot_table(block_tables.long(), context_lens.long(), pool.block_size)  # (B, S) each
    k, v = pool.gather(layer, slots)  # (B, H_kv, S, d_h)
    scale = 1.0 / math.sqrt(d) if scale is None else scale
    return scaled_dot_product_attention(
        q, k.to(q.dtype), v.to(q.dtype), valid[:, None, None, :], is_causal=True, scale=scale, enable_gqa=True
    )  # (B, H, T, d_h)


class PagedKVCacheView(KVCache):
    r"""A :class:`~interviewlib.transformer.kv_cache.KVCache` whose storage is a :class:`PagedKVPool`.

    Built by :func:`paged_batch` for one forward pass of ``B`` sequences that each add
    ``t_b`` new tokens after ``c_b`` cached ones. Rows are left-padded to ``T = max t_b``
    new and ``S = max (c_b + t_b)`` total positions, so ``length = S - T`` and
    ``max_len = S``. :meth:`update` scatters the real new keys/values to their slots and
    returns every row's keys/values (B, H_kv, S, d_head) gathered through its block table.

    Parameters
    ----------
    pool : PagedKVPool
        Where the keys and values live.
    write_slots : torch.Tensor, shape (N,), integer
        Pool slots of the ``N`` real new tokens.
    write_index : (torch.Tensor, torch.Tensor), each shape (N,), integer
        Row and column of each of those tokens in the left-padded (B, T) batch.
    read_slots : torch.Tensor, shape (B, S), integer
        Pool slot of every (row, position) read back, left-padded.
    T : int
        New positions per row after padding (``1 <= T <= S``).

    Raises
    ------
    TypeError, ValueError
        On a wrong type, shape or dtype, slots outside the pool, or ``T`` outside ``[1, S]``.

    Notes
    -----
    Left padding makes the model's bottom-right causal mask exact for every row (query ``i``
    and key ``j`` of row ``b`` satisfy ``j <= i + S - T`` iff their logical positions do) and
    puts each row's last token in the last column. Padding keys are removed by the mask that
    :func:`paged_batch` returns; padding queries see at least key 0 (no empty softmax rows)
    and their outputs are discarded. See question q09-06.
    """

    def __init__(
        self, pool: PagedKVPool, write_slots: torch.Tensor, write_index: tuple, read_slots: torch.Tensor, T: int
    ):
        if not isinstance(pool, PagedKVPool):
            raise TypeError(f"pool must be a PagedKVPool; got {type(pool).__name__}.")
        check_tensor(write_slots, "write_slots", ndim=1, layout="(N,)", floating=False)
        check_tensor(read_slots, "read_slots", ndim=2, layout="(B, S)", floating=False)
        if not isinstance(write_index, tuple) or len(write_index) != 2:
            raise TypeError(f"write_index must be a (rows, cols) tuple of tensors; got {type(write_index).__name__}.")
        for name, t in zip(("write_index[0]", "write_index[1]"), write_index):
            check_tensor(t, name, ndim=1, layout="(N,)", floating=False)
            if t.shape != write_slots.shape:
                raise ValueError(
                    f"{name} must have the shape of write_slots {tuple(write_slots.shape)}; got {tuple(t.shape)}."
                )
        for name, t in (("write_slots", write_slots), ("read_slots", read_slots)):
            if t.numel() and (int(t.min()) < 0 or int(t.max()) >= pool.num_slots):
                raise ValueError(f"{name} must hold pool slots in [0, {pool.num_slots}); got [{t.min()}, {t.max()}].")
        T = check_int(T, "T", low=1)
        if T > read_slots.shape[1]:
            raise ValueError(f"T must be <= S = read_slots.shape[1] = {read_slots.shape[1]}; got {T}.")
        super().__init__(n_layers=pool.n_layers, max_len=read_slots.shape[1])
        self.pool = pool
        self.length = read_slots.shape[1] - T
        self.batch_size = read_slots.shape[0]
        self._write_slots = write_slots  # (N,) slots of the real new tokens
        self._write_index = write_index  # (rows (N,), cols (N,)) of those tokens in the (B, T) batch
        self._read_slots = read_slots  # (B, S)

    def update(self, layer_idx: int, *new: torch.Tensor) -> tuple[torch.Tensor, ...]:
        layer_idx = check_int(layer_idx, "layer_idx")
        if layer_idx >= self.n_layers or len(new) != 2:
            raise ValueError(
                f"a paged view stores (k, v) for layers < {self.n_layers}; got layer {layer_idx}, {len(new)} tensors."
            )
        k, v = new  # (B, H_kv, T, d_h) each
        rows, cols = self._write_index
        self.pool.write(layer_idx, self._write_slots, k[rows, :, cols], v[rows, :, cols])  # (N, H_kv, d_h)
        k_all, v_all = self.pool.gather(layer_idx, self._read_slots)  # (B, H_kv, S, d_h)
        return k_all.to(k.dtype), v_all.to(v.dtype)

    def reset(self) -> None:
        raise TypeError("a PagedKVCacheView is built for one forward pass; build a new one instead of reset().")

    def nbytes(self) -> int:
        return self.pool.nbytes()


def paged_batch(
    pool: PagedKVPool,
    rows: Sequence[tuple[Sequence[int], int, Sequence[int]]],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, PagedKVCacheView]:
    r"""Inputs of one forward pass over paged sequences: ``(idx, position_ids, mask, cache)``.

    Parameters
    ----------
    pool : PagedKVPool
        The KV pool.
    rows : sequence of (token_ids, start, block_table)
        Per sequence: the new tokens, the position of the first one (= tokens already
        cached), and a block table covering positions ``0 .. start + len(token_ids) - 1``.

    Returns
    -------
    idx : torch.Tensor, shape (B, T), long
        Left-padded token ids (padding id 0).
    position_ids : torch.Tensor, shape (B, T), long
        RoPE positions (padding 0).
    mask : torch.Tensor, shape (B, 1, T, S), bool
        True where a real key meets any query, or where the query is padding.
    cache : PagedKVCacheView
        Pass as ``model(idx, position_ids=..., mask=..., cache=cache)``; the logits of each
        row's last new token are ``logits[:, -1]``.

    Raises
    ------
    ValueError
        If a row has no new tokens or its block table is too short.

    Examples
    --------
    >>> from interviewlib.transformer import DecoderConfig, DecoderLM
    >>> _ = torch.manual_seed(0)
    >>> lm = DecoderLM(DecoderConfig(vocab_size=11, d_model=16, n_layers=1, n_heads=2, max_len=8)).eval()
    >>> pool = PagedKVPool(n_layers=1, num_blocks=4, block_size=2, n_kv_heads=2, head_dim=8)
    >>> idx, pos, mask, view = paged_batch(pool, [([1, 2, 3], 0, [3, 1])])
    >>> torch.allclose(lm(idx, position_ids=pos, mask=mask, cache=view), lm(torch.tensor([[1, 2, 3]])), atol=1e-6)
    True
    """
    if not isinstance(pool, PagedKVPool):
        raise TypeError(f"pool must be a PagedKVPool; got {type(pool).__name__}.")
    if len(rows) == 0:
        raise ValueError("rows must hold at least one sequence; got none.")
    bs = pool.block_size
    for b, r in enumerate(rows):
        if len(r) != 3:
            raise ValueError(f"rows[{b}] must be (token_ids, start, block_table); got {len(r)} items.")
        check_int(r[1], f"rows[{b}] start")
        if any(not 0 <= blk < pool.num_blocks for blk in r[2]):
            raise ValueError(f"rows[{b}]'s block table must hold block ids in [0, {pool.num_blocks}); got {list(r[2])}.")
    T = max(len(r[0]) for r in rows)
    lens = [r[1] + len(r[0]) for r in rows]
    S = max(lens)
    idx = torch.zeros(len(rows), T, dtype=torch.long)  # (B, T)
    pos = torch.zeros(len(rows), T, dtype=torch.long)  # (B, T)
    read = torch.zeros(len(rows), S, dtype=torch.long)  # (B, S)
    key_ok = torch.zeros(len(rows), S, dtype=torch.bool)  # (B, S)
    w_rows, w_cols, w_slots = [], [], []
    for b, (tokens, start, table) in enumerate(rows):
        t, n = len(tokens), lens[b]
        if t == 0:
            raise ValueError(f"rows[{b}] has no new tokens; every row must add at least one.")
        if len(table) * bs < n:
            raise ValueError(
                f"rows[{b}]'s block table of {len(table)} blocks cannot hold {n} positions (block_size={bs})."
            )
        slots = [table[p // bs] * bs + p % bs for p in range(n)]
        idx[b, T - t :] = torch.as_tensor(list(tokens), dtype=torch.long)
        pos[b, T - t :] = torch.arange(start, n)
        read[b, S - n :] = torch.as_tensor(slots, dtype=torch.long)
        key_ok[b, S - n :] = True
        w_rows += [b] * t
        w_cols += range(T - t, T)
        w_slots += slots[start:]
    q_pad = pos.new_zeros(len(rows), T, dtype=torch.bool)  # (B, T)
    for b, (tokens, _, _) in enumerate(rows):
        q_pad[b, : T - len(tokens)] = True
    mask = (key_ok[:, None, :] | q_pad[:, :, None])[:, None]  # (B, 1, T, S)
    view = PagedKVCacheView(
        pool, torch.as_tensor(w_slots, dtype=torch.long), (torch.as_tensor(w_rows), torch.as_tensor(w_cols)), read, T
    )
    return idx, pos, mask, view
