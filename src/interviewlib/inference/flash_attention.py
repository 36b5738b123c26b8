r"""FlashAttention in PyTorch: tiled attention with the online softmax, forward and backward.

For each block of queries the forward pass streams over blocks of keys and keeps, per query
row, a running maximum :math:`m`, a running normaliser :math:`\ell = \sum_j e^{s_j - m}` and an
unnormalised output :math:`\tilde o = \sum_j e^{s_j - m} v_j`; a new block with a larger maximum
rescales both by :math:`e^{m_\text{old} - m_\text{new}}` (Milakov & Gimelshein 2018). The pass never
holds more than one ``(block_q, block_k)`` tile of scores, returns the output and the
per-row logsumexp :math:`L = m + \log \ell`, and the backward pass recomputes the probabilities
:math:`P = e^{S - L}` tile by tile from :math:`L` (Dao et al. 2022; Dao 2023). Layout is batch-first
``(B, H, T, d_head)`` as in ``interviewlib.transformer`` (the ``flash-attn`` package uses
``(B, T, H, d_head)``). ``peak_memory_bytes`` measures what these kernels allocate.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from ..transformer._checks import check_int, check_mask, check_tensor

__all__ = [
    "online_softmax",
    "causal_block_schedule",
    "flash_attn_forward",
    "flash_attn_backward",
    "flash_attn_func",
    "merge_attention_partials",
    "flash_decoding",
    "peak_memory_bytes",
]

SKIP, PARTIAL, FULL = 0, 1, 2  # tile kinds of causal_block_schedule


def online_softmax(x: torch.Tensor, *, block_size: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Softmax over the last axis in one streaming pass, ``block_size`` entries at a time.

    Parameters
    ----------
    x : torch.Tensor, shape (n,) or (rows, n)
        Scores; ``-inf`` entries are blocked (weight 0). NaN and ``+inf`` are rejected.
    block_size : int
        Entries read per step (1 = the element-wise recurrence of Milakov & Gimelshein).

    Returns
    -------
    p : torch.Tensor, same shape as ``x``
        ``softmax(x, dim=-1)``; a row that is all ``-inf`` gives zeros.
    lse : torch.Tensor, shape (), or (rows,)
        ``logsumexp(x, dim=-1)`` (``-inf`` for an all-blocked row).

    Raises
    ------
    TypeError
        If ``x`` is not a tensor or ``block_size`` not an integer.
    ValueError
        If ``x`` is not 1-D/2-D or floating, holds NaN/``+inf``, or ``block_size < 1``.

    Notes
    -----
    After the first :math:`j` entries the state is :math:`m_j = \max_{i \le j} x_i` and
    :math:`\ell_j = \sum_{i \le j} e^{x_i - m_j}`; a new block :math:`b` updates
    :math:`m' = \max(m, \max b)`, :math:`\ell' = \ell\, e^{m - m'} + \sum_{i \in b} e^{x_i - m'}`,
    which by induction equals the two-pass "safe softmax" normaliser exactly. When the whole
    row so far is ``-inf`` the shift uses 0 instead of :math:`m` so that no ``inf - inf`` arises.
    See question q09-07.

    References
    ----------
    .. [1] Milakov & Gimelshein, "Online normalizer calculation for softmax", 2018,
       arXiv:1805.02867.

    Examples
    --------
    >>> x = torch.tensor([1.0, 3.0, 2.0, float("-inf")])
    >>> p, lse = online_softmax(x, block_size=2)
    >>> torch.allclose(p, torch.softmax(x, -1)), torch.allclose(lse, torch.logsumexp(x, -1))
    (True, True)
    """
    check_tensor(x, "x")
    if x.ndim not in (1, 2):
        raise ValueError(f"x must be 1-D (n,) or 2-D (rows, n); got shape {tuple(x.shape)}.")
    block_size = check_int(block_size, "block_size", low=1)
    if torch.isnan(x).any() or torch.isposinf(x).any():
        raise ValueError("x must not contain NaN or +inf (use -inf for blocked entries).")
    m = torch.full(x.shape[:-1], float("-inf"), dtype=x.dtype)  # running max, (rows,)
    ell = torch.zeros(x.shape[:-1], dtype=x.dtype)  # running normaliser, (rows,)
    for j0 in range(0, x.shape[-1], block_size):
        xb = x[..., j0 : j0 + block_size]  # (rows, b)
        m_new = torch.maximum(m, xb.amax(dim=-1))
        shift = torch.where(torch.isneginf(m_new), 0.0, m_new)  # 0 while the row is all -inf
        ell = ell * torch.exp(m - shift) + torch.exp(xb - shift[..., None]).sum(dim=-1)
        m = m_new
    lse = torch.where(ell > 0, torch.where(torch.isneginf(m), 0.0, m) + torch.log(ell), float("-inf"))
    p = torch.where(ell[..., None] > 0, torch.exp(x - lse[..., None]), 0.0)  # second pass
    return p, lse


def causal_block_schedule(T: int, S: int, block_q: int, block_k: int) -> torch.Tensor:
    r"""Which ``(query block, key block)`` tiles a causal kernel skips, masks or runs in full.

    Query ``i`` may see key ``j`` iff ``j <= i + (S - T)`` (bottom-right alignment, as in
    ``flash-attn`` >= 2.1 and :func:`~interviewlib.transformer.attention.scaled_dot_product_attention`).

    Parameters
    ----------
    T, S : int
        Numbers of queries and keys (>= 1).
    block_q, block_k : int
        Tile sizes (>= 1); the last tile of each axis may be shorter.

    Returns
    -------
    torch.Tensor of int8, shape (ceil(T / block_q), ceil(S / block_k))
        0 = every pair blocked (skipped), 1 = diagonal tile (needs the mask), 2 = no pair blocked.

    Raises
    ------
    TypeError, ValueError
        If an argument is not an integer >= 1.

    Examples
    --------
    >>> causal_block_schedule(4, 4, 2, 2).tolist()
    [[1, 0], [2, 1]]
    """
    T, S = check_int(T, "T", low=1), check_int(S, "S", low=1)
    block_q, block_k = check_int(block_q, "block_q", low=1), check_int(block_k, "block_k", low=1)
    return _schedule(T, S, block_q, block_k, S - T)


def _schedule(T, S, bq, bk, diag):
    i0 = torch.arange(0, T, bq)[:, None]  # first query of each block, (nq, 1)
    i1 = torch.clamp(i0 + bq, max=T) - 1  # last query
    j0 = torch.arange(0, S, bk)[None, :]  # first key, (1, nk)
    j1 = torch.clamp(j0 + bk, max=S) - 1
    kind = torch.where(j1 <= i0 + diag, FULL, PARTIAL)  # even the first query sees the last key
    kind = torch.where(j0 > i1 + diag, SKIP, kind)  # even the last query misses the first key
    return kind.to(torch.int8)  # (nq, nk)


def _validate(q, k, v, mask, scale, block_q, block_k, enable_gqa):
    """Checks shared by the public entry points; returns (scale, group size)."""
    check_tensor(q, "q", ndim=4, layout="(B, H, T, d_head)")
    check_tensor(k, "k", ndim=4, layout="(B, H_kv, S, d_head)")
    check_tensor(v, "v", ndim=4, layout="(B, H_kv, S, d_v)")
    check_int(block_q, "block_q", low=1)
    check_int(block_k, "block_k", low=1)
    if not (q.dtype == k.dtype == v.dtype):
        raise ValueError(f"q, k, v must share a dtype; got {q.dtype}, {k.dtype}, {v.dtype}.")
    if q.shape[0] != k.shape[0] or k.shape[:3] != v.shape[:3]:
        raise ValueError(
            f"q, k, v must agree on B and k, v on (B, H_kv, S); got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}."
        )
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must have the same d_head; got {q.shape[-1]} and {k.shape[-1]}.")
    H, H_kv = q.shape[1], k.shape[1]
    if H != H_kv and not enable_gqa:
        raise ValueError(f"q has {H} heads but k, v have {H_kv}; pass enable_gqa=True for grouped-query attention.")
    if H_kv == 0 or H % H_kv:
        raise ValueError(f"the query heads must be a multiple of the key/value heads; got {H} and {H_kv}.")
    if mask is not None:
        check_mask(mask, "mask", (q.shape[0], H, q.shape[2], k.shape[2]), q.dtype)
    if scale is None:
        return 1.0 / math.sqrt(q.shape[-1]), H // H_kv
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale):
        raise ValueError(f"scale must be a finite real number; got {scale!r}.")
    return float(scale), H // H_kv


def _split_heads(q, mask, S, group):
    """(B, H, ...) -> (B, H_kv, G, ...): query head h reads key/value head h // G, no copies."""
    B, H, T, _ = q.shape
    q5 = q.view(B, H // group, group, T, q.shape[-1])  # (B, H_kv, G, T, d)
    m5 = None if mask is None else mask.expand(B, H, T, S).reshape(B, H // group, group, T, S)  # a view
    return q5, m5


def _rows(t):
    """(B, H_kv, G, n, c) -> (B, H_kv, G*n, c): the G query heads of a group become extra rows."""
    return t.reshape(t.shape[0], t.shape[1], -1, t.shape[-1])


def _scores(qi, kj, m5, causal, diag, i0, j0, scale, acc):
    """One tile of masked scores in the accumulation dtype; qi (B, H_kv, G, bq, d) -> (B, H_kv, G*bq, bk)."""
    G, nq, nk = qi.shape[2], qi.shape[3], kj.shape[-2]
    s = (_rows(qi) @ kj.transpose(-2, -1)).to(acc) * scale  # (B, H_kv, G*bq, bk): one matmul per KV head
    if causal:
        rows = torch.arange(i0, i0 + nq).repeat(G)[:, None]  # query position of each row, (G*bq, 1)
        cols = torch.arange(j0, j0 + nk)[None, :]  # (1, bk)
        s = s.masked_fill(cols > rows + diag, float("-inf"))  # only diagonal tiles get here
    if m5 is not None:
        mb = _rows(m5[..., i0 : i0 + nq, j0 : j0 + nk])  # (B, H_kv, G*bq, bk); copies at most one tile
        s = s.masked_fill(~mb, float("-inf")) if mb.dtype == torch.bool else s + mb.to(acc)
    return s


def _forward_core(q5, k, v, m5, is_causal, scale, bq, bk, diag):
    (B, H_kv, G, T, _), S, d_v = q5.shape, k.shape[-2], v.shape[-1]
    acc = torch.promote_types(q5.dtype, torch.float32)  # statistics in >= float32
    out = torch.empty(B, H_kv, G, T, d_v, dtype=q5.dtype)
    lse = torch.empty(B, H_kv, G, T, dtype=acc)
    kind = _schedule(T, S, bq, bk, diag).tolist() if is_causal else None
    for a, i0 in enumerate(range(0, T, bq)):
        qi = q5[..., i0 : i0 + bq, :]  # (B, H_kv, G, bq, d)
        nq = qi.shape[3]
        m = torch.full((B, H_kv, G * nq), float("-inf"), dtype=acc)  # running max per row
        ell = torch.zeros_like(m)  # running normaliser
        o = torch.zeros(B, H_kv, G * nq, d_v, dtype=acc)  # unnormalised output
        for b, j0 in enumerate(range(0, S, bk)):
            if kind is not None and kind[a][b] == SKIP:
                continue  # causal block skipping: every key of the tile is in the future
            causal_tile = kind is not None and kind[a][b] == PARTIAL
            s = _scores(qi, k[..., j0 : j0 + bk, :], m5, causal_tile, diag, i0, j0, scale, acc)
            m_new = torch.maximum(m, s.amax(dim=-1))
            shift = torch.where(torch.isneginf(m_new), 0.0, m_new)  # rows with no key yet
            alpha = torch.exp(m - shift)  # rescales the old state, (B, H_kv, G*bq)
            p = torch.exp(s - shift[..., None])  # (B, H_kv, G*bq, bk)
            ell = alpha * ell + p.sum(dim=-1)
            o = alpha[..., None] * o + (p.to(v.dtype) @ v[..., j0 : j0 + bk, :]).to(acc)  # (B, H_kv, G*bq, d_v)
            m = m_new
        has_key = ell > 0  # False for rows whose keys are all blocked
        o = o / torch.where(has_key, ell, 1.0)[..., None]  # empty rows keep o = 0
        out[..., i0 : i0 + nq, :] = o.view(B, H_kv, G, nq, d_v)
        lse[..., i0 : i0 + nq] = torch.where(has_key, m + torch.log(ell), float("-inf")).view(B, H_kv, G, nq)
    return out, lse


def _backward_core(q5, k, v, m5, out5, lse5, dout5, dlse5, is_causal, scale, bq, bk, diag):
    (B, H_kv, G, T, d), S, acc = q5.shape, k.shape[-2], lse5.dtype
    D = (dout5.to(acc) * out5.to(acc)).sum(dim=-1)  # rowsum(dO * O), (B, H_kv, G, T)
    if dlse5 is not None:
        D = D - dlse5.to(acc)  # d lse / d s = P folds into the same term
    lse_safe = torch.where(torch.isneginf(lse5), float("inf"), lse5)  # empty rows: P = exp(s - inf) = 0
    dq = torch.zeros(q5.shape, dtype=acc)  # (B, H_kv, G, T, d)
    dk = torch.zeros(k.shape, dtype=acc)  # (B, H_kv, S, d)
    dv = torch.zeros(v.shape, dtype=acc)  # (B, H_kv, S, d_v)
    kind = _schedule(T, S, bq, bk, diag).tolist() if is_causal else None
    for b, j0 in enumerate(range(0, S, bk)):  # FA2: outer loop over key blocks, dK_j, dV_j stay local
        kj, vj = k[..., j0 : j0 + bk, :].to(acc), v[..., j0 : j0 + bk, :].to(acc)  # (B, H_kv, bk, d)
        for a, i0 in enumerate(range(0, T, bq)):
            if kind is not None and kind[a][b] == SKIP:
                continue
            causal_tile = kind is not None and kind[a][b] == PARTIAL
            qi = q5[..., i0 : i0 + bq, :]  # (B, H_kv, G, bq, d)
            nq = qi.shape[3]
            doi = _rows(dout5[..., i0 : i0 + nq, :]).to(acc)  # (B, H_kv, G*bq, d_v)
            s = _scores(qi, k[..., j0 : j0 + bk, :], m5, causal_tile, diag, i0, j0, scale, acc)  # recompute S
            p = torch.exp(s - lse_safe[..., i0 : i0 + nq].reshape(B, H_kv, -1, 1))  # recompute P from L
            dv[..., j0 : j0 + bk, :] += p.transpose(-2, -1) @ doi  # sums over the G*bq rows
            dp = doi @ vj.transpose(-2, -1)  # (B, H_kv, G*bq, bk)
            ds = p * (dp - D[..., i0 : i0 + nq].reshape(B, H_kv, -1, 1))  # softmax backward, scores side
            dq[..., i0 : i0 + nq, :] += (ds @ kj).view(B, H_kv, G, nq, d) * scale
            dk[..., j0 : j0 + bk, :] += (ds.transpose(-2, -1) @ _rows(qi).to(acc)) * scale
    return dq, dk, dv


def flash_attn_forward(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    is_causal: bool = False,
    scale: float | None = None,
    block_q: int = 64,
    block_k: int = 64,
    enable_gqa: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Tiled attention forward pass; returns the output and the per-row logsumexp.

    Parameters
    ----------
    q : torch.Tensor, shape (B, H, T, d_head)
    k : torch.Tensor, shape (B, H_kv, S, d_head)
        ``H_kv == H``, or a divisor of ``H`` with ``enable_gqa`` (query head ``h`` reads
        key/value head ``h // (H / H_kv)``, as in ``F.scaled_dot_product_attention``).
    v : torch.Tensor, shape (B, H_kv, S, d_v)
    mask : torch.Tensor, optional, broadcastable to (B, H, T, S)
        Bool (True = attend) or an additive float bias of q's dtype; sliced per tile, so a
        key-padding mask of shape (B, 1, 1, S) costs O(S) memory. Treated as a constant.
    is_causal : bool
        Query ``i`` sees key ``j`` iff ``j <= i + (S - T)``; tiles that are entirely in the
        future are skipped (see :func:`causal_block_schedule`).
    scale : float, optional
        Score multiplier; default ``1 / sqrt(d_head)``.
    block_q, block_k : int
        Tile sizes (>= 1); they need not divide T or S.
    enable_gqa : bool
        Allow fewer key/value heads than query heads.

    Returns
    -------
    out : torch.Tensor, shape (B, H, T, d_v), dtype of q
        Rows whose keys are all blocked are 0 (as ``F.scaled_dot_product_attention`` on CPU).
    lse : torch.Tensor, shape (B, H, T)
        ``logsumexp`` of each row's scaled, masked scores (``-inf`` for an empty row), in
        float32 for half-precision inputs (the statistics are kept in float32, as in FlashAttention).

    Raises
    ------
    TypeError
        If an input is not a tensor or a block size not an integer.
    ValueError
        If a block size is < 1, shapes or dtypes disagree, or the mask does not broadcast.

    Notes
    -----
    Peak extra memory is O(B H (T d + block_q block_k)) instead of the O(B H T S) of the
    score matrix; FLOPs are the same (fewer under ``is_causal``). FlashAttention-2 keeps the
    output unnormalised and divides by :math:`\ell` once at the end, storing only :math:`L = m + \log\ell`
    for the backward pass (Dao 2023, Sec. 3.1). See question q09-07.

    References
    ----------
    .. [1] Dao et al., "FlashAttention", 2022, arXiv:2205.14135.
    .. [2] Dao, "FlashAttention-2", 2023, arXiv:2307.08691.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> q, k, v = (torch.randn(1, 2, 7, 4, generator=g, dtype=torch.float64) for _ in range(3))
    >>> out, lse = flash_attn_forward(q, k, v, is_causal=True, block_q=3, block_k=2)
    >>> ref = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    >>> tuple(out.shape), tuple(lse.shape), torch.allclose(out, ref)
    ((1, 2, 7, 4), (1, 2, 7), True)
    """
    scale, group = _validate(q, k, v, mask, scale, block_q, block_k, enable_gqa)
    q5, m5 = _split_heads(q, mask, k.shape[2], group)
    out5, lse5 = _forward_core(q5, k, v, m5, bool(is_causal), scale, block_q, block_k, k.shape[2] - q.shape[2])
    return out5.flatten(1, 2), lse5.flatten(1, 2)


def flash_attn_backward(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    out: torch.Tensor,
    lse: torch.Tensor,
    dout: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    dlse: torch.Tensor | None = None,
    is_causal: bool = False,
    scale: float | None = None,
    block_q: int = 64,
    block_k: int = 64,
    enable_gqa: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Tiled backward pass (FlashAttention-2, Algorithm 2) from the saved ``out`` and ``lse``.

    Parameters
    ----------
    q, k, v, mask, is_causal, scale, block_q, block_k, enable_gqa
        As given to :func:`flash_attn_forward`.
    out : torch.Tensor, shape (B, H, T, d_v)
    lse : torch.Tensor, shape (B, H, T)
        The two results of :func:`flash_attn_forward`.
    dout : torch.Tensor, shape (B, H, T, d_v)
        Gradient of the loss with respect to ``out``.
    dlse : torch.Tensor, shape (B, H, T), optional
        Gradient with respect to ``lse`` (when the logsumexp itself is used downstream).

    Returns
    -------
    dq, dk, dv : torch.Tensor
        Shapes and dtypes of ``q``, ``k``, ``v`` (GQA gradients summed over each group).

    Raises
    ------
    TypeError, ValueError
        As :func:`flash_attn_forward`, or if ``out``, ``lse``, ``dout``, ``dlse`` have the wrong shape.

    Notes
    -----
    With :math:`P = e^{S - L}` recomputed per tile, :math:`dV = P^\top dO`, :math:`dP = dO\,V^\top`,
    :math:`dS = P \circ (dP - D)` where :math:`D_i = \sum_c dO_{ic} O_{ic}` (since :math:`\sum_j P_{ij} dP_{ij} = dO_i \cdot O_i`),
    :math:`dQ = \text{scale}\cdot dS\,K` and :math:`dK = \text{scale}\cdot dS^\top Q`. A gradient :math:`g` on
    :math:`L_i` adds :math:`g_i P_{ij}` to :math:`dS_{ij}`, i.e. replaces :math:`D` by :math:`D - g`. See question q09-07.

    References
    ----------
    .. [1] Dao, "FlashAttention-2", 2023, arXiv:2307.08691.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> q, k, v = (torch.randn(1, 1, 5, 3, generator=g, dtype=torch.float64) for _ in range(3))
    >>> out, lse = flash_attn_forward(q, k, v, block_q=2, block_k=2)
    >>> dq, dk, dv = flash_attn_backward(q, k, v, out, lse, torch.ones_like(out), block_q=2, block_k=2)
    >>> torch.allclose(dv.sum(dim=2), torch.full((1, 1), 5.0, dtype=torch.float64))  # rows of P sum to 1
    True
    """
    scale, group = _validate(q, k, v, mask, scale, block_q, block_k, enable_gqa)
    want = {"out": (*q.shape[:3], v.shape[-1]), "dout": (*q.shape[:3], v.shape[-1]), "lse": tuple(q.shape[:3])}
    given = {"out": out, "dout": dout, "lse": lse} | ({} if dlse is None else {"dlse": dlse})
    for name, t in given.items():
        check_tensor(t, name)
        shape = want["lse" if name == "dlse" else name]
        if tuple(t.shape) != shape:
            raise ValueError(f"{name} must have shape {shape}; got {tuple(t.shape)}.")
    q5, m5 = _split_heads(q, mask, k.shape[2], group)
    B, H_kv, T = q.shape[0], k.shape[1], q.shape[2]

    def view5(t):  # (B, H, T, ...) -> (B, H_kv, G, T, ...)
        return None if t is None else t.reshape(B, H_kv, group, T, *t.shape[3:])

    dq, dk, dv = _backward_core(
        q5, k, v, m5, view5(out), view5(lse), view5(dout), view5(dlse),
        bool(is_causal), scale, block_q, block_k, k.shape[2] - T,
    )  # fmt: skip
    return dq.flatten(1, 2).to(q.dtype), dk.to(k.dtype), dv.to(v.dtype)


class _FlashAttnFunction(torch.autograd.Function):
    """autograd glue: the forward saves q, k, v, out, lse (O(N d)), the backward recomputes P."""

    @staticmethod
    def forward(ctx, q, k, v, mask, is_causal, scale, block_q, block_k, enable_gqa):
        kw = dict(is_causal=is_causal, scale=scale, block_q=block_q, block_k=block_k, enable_gqa=enable_gqa)
        out, lse = flash_attn_forward(q, k, v, mask, **kw)
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.mask, ctx.kw = mask, kw
        return out, lse

    @staticmethod
    def backward(ctx, dout, dlse):
        q, k, v, out, lse = ctx.saved_tensors
        dq, dk, dv = flash_attn_backward(q, k, v, out, lse, dout, ctx.mask, dlse=dlse, **ctx.kw)
        return dq, dk, dv, None, None, None, None, None, None


def flash_attn_func(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    is_causal: bool = False,
    scale: float | None = None,
    block_q: int = 64,
    block_k: int = 64,
    enable_gqa: bool = False,
    return_lse: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    r"""Differentiable tiled attention: :func:`flash_attn_forward` with :func:`flash_attn_backward` as its gradient.

    Parameters
    ----------
    q, k, v, mask, is_causal, scale, block_q, block_k, enable_gqa
        As in :func:`flash_attn_forward`.
    return_lse : bool
        Also return the logsumexp (it is differentiable too).

    Returns
    -------
    out : torch.Tensor, shape (B, H, T, d_v)
    lse : torch.Tensor, shape (B, H, T)
        Only if ``return_lse``.

    Raises
    ------
    TypeError, ValueError
        As :func:`flash_attn_forward`.

    Notes
    -----
    Autograd keeps only ``q, k, v, out, lse`` for the backward pass, O(B H T d) memory,
    instead of the (B, H, T, S) probabilities an explicit implementation saves. The mask
    gets no gradient. See question q09-07.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> q, k, v = (torch.randn(1, 1, 6, 4, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3))
    >>> flash_attn_func(q, k, v, is_causal=True, block_q=4, block_k=4).sum().backward()
    >>> q.grad.shape
    torch.Size([1, 1, 6, 4])
    """
    check_tensor(q, "q")
    out, lse = _FlashAttnFunction.apply(q, k, v, mask, is_causal, scale, block_q, block_k, enable_gqa)
    return (out, lse) if return_lse else out


def merge_attention_partials(
    outs: Sequence[torch.Tensor] | torch.Tensor, lses: Sequence[torch.Tensor] | torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Combine attention results over disjoint key sets into the result over their union.

    Parameters
    ----------
    outs : sequence of torch.Tensor, each shape (..., T, d_v), or one tensor (n, ..., T, d_v)
        Normalised partial outputs (each a softmax-weighted average over its own keys).
    lses : sequence of torch.Tensor, each shape (..., T), or one tensor (n, ..., T)
        Their logsumexps (``-inf`` for a part with no visible key).

    Returns
    -------
    out : torch.Tensor, shape (..., T, d_v)
    lse : torch.Tensor, shape (..., T)

    Raises
    ------
    TypeError
        If ``outs`` or ``lses`` is neither a sequence of tensors nor one tensor, or an entry
        is not a tensor.
    ValueError
        If there are no parts, the counts differ, or the shapes disagree.

    Notes
    -----
    With :math:`L = \log \sum_s e^{L_s}`, the merged output is :math:`\sum_s e^{L_s - L} O_s`: part :math:`s`
    carries weight :math:`\ell_s e^{m_s}` of the full normaliser. Exact (up to rounding) and
    associative, which is why split-K decoding (Flash-Decoding) and ring attention can
    compute the parts in parallel and reduce afterwards. See question q09-07.

    Examples
    --------
    >>> x, v = torch.tensor([[0.5, -1.0, 2.0, 0.0]]), torch.eye(4)
    >>> o1, l1 = torch.softmax(x[:, :2], -1) @ v[:2], torch.logsumexp(x[:, :2], -1)
    >>> o2, l2 = torch.softmax(x[:, 2:], -1) @ v[2:], torch.logsumexp(x[:, 2:], -1)
    >>> out, lse = merge_attention_partials([o1, o2], [l1, l2])
    >>> torch.allclose(out, torch.softmax(x, -1)), torch.allclose(lse, torch.logsumexp(x, -1))
    (True, True)
    """
    parts = {}
    for name, given in (("outs", outs), ("lses", lses)):
        if isinstance(given, torch.Tensor):
            if given.ndim == 0:
                raise ValueError(f"{name} as one tensor must be stacked along dim 0, (n, ...); got a 0-D tensor.")
            parts[name] = list(given.unbind(0))
        elif isinstance(given, (str, bytes)) or not isinstance(given, Iterable):
            raise TypeError(f"{name} must be a sequence of tensors or one stacked tensor; got {type(given).__name__}.")
        else:
            parts[name] = list(given)
    outs, lses = parts["outs"], parts["lses"]
    if not outs or len(outs) != len(lses):
        raise ValueError(
            f"outs and lses must hold as many outputs as logsumexps, at least one; got {len(outs)} and {len(lses)}."
        )
    for i, (o, s) in enumerate(zip(outs, lses)):
        check_tensor(o, f"outs[{i}]")
        check_tensor(s, f"lses[{i}]")
        if o.ndim < 1 or tuple(o.shape) != tuple(outs[0].shape) or tuple(s.shape) != tuple(o.shape[:-1]):
            raise ValueError(
                f"every part needs out (..., T, d_v) of one shape and lse of shape out.shape[:-1]; "
                f"part {i} has {tuple(o.shape)} and {tuple(s.shape)}."
            )
    lse = torch.stack(lses)  # (n, ..., T)
    m = lse.amax(dim=0)
    shift = torch.where(torch.isneginf(m), 0.0, m)
    w = torch.exp(lse - shift)  # (n, ..., T), 0 for empty parts
    total = w.sum(dim=0)
    out = (w[..., None] * torch.stack(outs).to(w.dtype)).sum(dim=0) / torch.where(total > 0, total, 1.0)[..., None]
    merged = torch.where(total > 0, shift + torch.log(total), float("-inf"))
    return out.to(outs[0].dtype), merged


def flash_decoding(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    num_splits: int,
    is_causal: bool = False,
    scale: float | None = None,
    block_k: int = 64,
    enable_gqa: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Split-K attention: the keys are cut into ``num_splits`` chunks, then the partials are merged.

    Parameters
    ----------
    q : torch.Tensor, shape (B, H, T, d_head)
        Usually T = 1 (one new token per sequence in decoding).
    k, v, mask, is_causal, scale, block_k, enable_gqa
        As in :func:`flash_attn_forward` (``is_causal`` still aligns bottom-right over all S keys).
    num_splits : int
        Number of key chunks (>= 1; chunks are ``ceil(S / num_splits)`` keys, the last may be shorter).

    Returns
    -------
    out : torch.Tensor, shape (B, H, T, d_v)
    lse : torch.Tensor, shape (B, H, T)

    Raises
    ------
    TypeError, ValueError
        As :func:`flash_attn_forward`, or if ``num_splits < 1``.

    Notes
    -----
    A decoding step has T = 1 query per sequence, so a kernel that parallelises over
    (batch, heads, query blocks) launches too few thread blocks to fill the GPU; Flash-Decoding
    also parallelises over key chunks, each writing its output and one logsumexp per row,
    and a second kernel merges them (:func:`merge_attention_partials`). Here the chunks run
    one after another; the arithmetic is the same. See question q09-07.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> q = torch.randn(2, 4, 1, 8, generator=g, dtype=torch.float64)
    >>> k, v = (torch.randn(2, 4, 37, 8, generator=g, dtype=torch.float64) for _ in range(2))
    >>> out, _ = flash_decoding(q, k, v, num_splits=4)
    >>> torch.allclose(out, torch.nn.functional.scaled_dot_product_attention(q, k, v))
    True
    """
    scale, group = _validate(q, k, v, mask, scale, 1, block_k, enable_gqa)
    num_splits = check_int(num_splits, "num_splits", low=1)
    S, T = k.shape[2], q.shape[2]
    q5, m5 = _split_heads(q, mask, S, group)
    chunk = max(-(-S // num_splits), 1)
    outs, lses = [], []
    for s0 in range(0, S, chunk) if S else [0]:  # on a GPU: one thread block per (sequence, head, chunk)
        ms = None if m5 is None else m5[..., s0 : s0 + chunk]
        o, s = _forward_core(
            q5, k[..., s0 : s0 + chunk, :], v[..., s0 : s0 + chunk, :], ms,
            bool(is_causal), scale, max(T, 1), block_k, S - T - s0,
        )  # fmt: skip
        outs.append(o)
        lses.append(s)
    out, lse = merge_attention_partials(outs, lses)
    return out.flatten(1, 2), lse.flatten(1, 2)


class _LiveStorageMeter(TorchDispatchMode):
    """Counts the bytes of every tensor storage created under it, until the storage is freed."""

    def __init__(self):
        super().__init__()
        self.live: dict[int, int] = {}  # data_ptr -> nbytes of storages allocated inside
        self.refs: dict[int, weakref.ref] = {}  # their weak references (the callback frees)
        self.current = self.peak = 0

    def _free(self, key: int) -> None:
        self.refs.pop(key, None)
        self.current -= self.live.pop(key, 0)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = None
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if not isinstance(t, torch.Tensor) or t.device.type == "meta":
                continue
            st = t.untyped_storage()
            key, nbytes = st.data_ptr(), st.nbytes()
            if nbytes == 0 or key in self.live:
                continue  # empty, or a view / in-place result of a storage counted already
            if inputs is None:
                leaves = tree_leaves((args, kwargs))
                inputs = {a.untyped_storage().data_ptr() for a in leaves if isinstance(a, torch.Tensor)}
            if key in inputs:
                continue  # a view of, or in-place write into, a storage from before the run
            self.live[key] = nbytes
            self.current += nbytes
            self.peak = max(self.peak, self.current)
            # A storage keeps its Python object while alive, so the callback runs when it is freed.
            self.refs[key] = weakref.ref(st, lambda _ref, key=key: self._free(key))
        return out


def peak_memory_bytes(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, int]:
    r"""Run ``fn(*args, **kwargs)`` and return its result and the peak bytes of tensors it had alive.

    Parameters
    ----------
    fn : callable
        Any torch code (forward, ``.backward()``, ...).
    *args, **kwargs
        Passed to ``fn``.

    Returns
    -------
    result : Any
        What ``fn`` returned.
    peak : int
        The largest total, over the run, of the bytes of tensor storages that were allocated
        during the run and not yet freed (the inputs, allocated before, are not counted).

    Raises
    ------
    TypeError
        If ``fn`` is not callable.

    Notes
    -----
    torch's CPU allocator has no peak counter (``torch.cuda.max_memory_allocated`` exists only
    for CUDA). This meter is a ``TorchDispatchMode``: every aten op's outputs whose storage is
    new (not an input's, not already counted) are added, and a ``weakref.finalize`` on the
    storage subtracts them when the storage dies, so tensors saved by autograd for backward
    stay counted. Scratch buffers a single kernel allocates and frees internally are not
    seen (the tests compare with ``torch.profiler``'s allocator events). See question q09-07.

    Examples
    --------
    >>> def f():
    ...     a = torch.empty(1000, dtype=torch.float64)  # 8000 bytes
    ...     b = torch.empty(500, dtype=torch.float64)   # +4000 -> peak 12000
    ...     del a
    ...     return torch.empty(100, dtype=torch.float64) + b[:100]
    >>> peak_memory_bytes(f)[1]
    12000
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable; got {type(fn).__name__}.")
    meter = _LiveStorageMeter()
    with meter:
        result = fn(*args, **kwargs)
    return result, meter.peak
