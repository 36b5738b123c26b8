r"""Batch invariance: why one request gets different bits in different batches, and the fix.

Floating-point addition is not associative, :math:`(a + b) + c \ne a + (b + c)` in general, so a
reduction's result depends on the order of its additions. A tuned GPU kernel picks that
order from the shape of the *whole batch*: with few rows it splits the reduction (split-K
matmul, split-KV "Flash-Decoding" attention, a split row reduction) so that every core gets
work, and adds the partial sums at the end. The same row then goes through a different
addition tree in a batch of 1 than in a batch of 64, and its bits change, although every
kernel is run-to-run deterministic. A *batch-invariant* kernel gives each row a reduction
order that does not depend on the batch: a fixed split (or none) for matmul and RMSNorm,
and for attention a fixed split *size*, so that the split boundaries sit at the same
absolute KV positions whether a token is decoded alone or inside a prefill chunk
(He et al., 2025).

Each reduction here is written out as a fixed sequence of elementwise operations (``+``,
``*``, ``/``, ``sqrt``, ``exp``, ``max``) vectorised across rows. IEEE ``+ * / sqrt`` are
correctly rounded element by element, so a row's result depends only on its own data and
on the split: the ``"auto"`` setting (split chosen from the batch, like a tuned library)
changes bits exactly where the split changes, a fixed setting never does. The arithmetic is
float32-faithful, the speed is a simulator's (memory O(M N K) for the matmul).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from ..transformer._checks import check_int, check_tensor

__all__ = ["heuristic_num_splits", "split_sum", "split_k_matmul", "split_rms_norm", "split_kv_attention"]


def heuristic_num_splits(work_items: int, reduce_len: int, *, num_cores: int = 16, min_split_len: int = 16) -> int:
    r"""Number of splits of a reduction that a tuned kernel would launch for ``work_items`` outputs.

    Parameters
    ----------
    work_items : int
        Independent output tiles or rows the kernel already parallelises over (``>= 1``).
    reduce_len : int
        Length of the reduction (K of a matmul, the row length, the KV length).
    num_cores : int
        Cores (SMs) to fill.
    min_split_len : int
        Do not cut the reduction into pieces shorter than this.

    Returns
    -------
    int
        The largest power of two ``s <= num_cores // work_items`` (at least 1), halved while
        a split would hold fewer than ``min_split_len`` elements.

    Notes
    -----
    A stand-in for the kind of rule tuned kernels use (cuBLAS picks split-K by a closed
    heuristic; Flash-Decoding splits the KV length when batch x heads is too small to fill
    the GPU; vLLM v0.33.0's Triton attention takes its segmented, split-KV path only below
    a threshold on the number of query blocks): with enough rows the rows fill the machine
    and no split is needed; with few rows the reduction is split. The split therefore
    depends on the *batch*. See question q09-02.

    Examples
    --------
    >>> [heuristic_num_splits(b, 256) for b in (1, 2, 4, 8, 16, 64)]
    [16, 8, 4, 2, 1, 1]
    >>> heuristic_num_splits(1, 40)  # 40 / 2 = 20 >= 16, 40 / 4 = 10 < 16
    2
    """
    work_items = check_int(work_items, "work_items", low=1)
    reduce_len = check_int(reduce_len, "reduce_len")
    num_cores = check_int(num_cores, "num_cores", low=1)
    min_split_len = check_int(min_split_len, "min_split_len", low=1)
    splits = 1 << max(0, (num_cores // work_items).bit_length() - 1)  # largest power of two <= cores / work
    while splits > 1 and reduce_len < splits * min_split_len:
        splits //= 2
    return splits


def _resolve_splits(spec: Any, name: str, work_items: int, reduce_len: int, num_cores: int, min_split_len: int) -> int:
    """``"auto"`` -> the heuristic (batch dependent); an int -> itself (fixed, batch invariant)."""
    if isinstance(spec, str):
        if spec != "auto":
            raise ValueError(f"{name} must be 'auto' or a positive int; got {spec!r}.")
        return heuristic_num_splits(
            max(work_items, 1), reduce_len, num_cores=num_cores, min_split_len=min_split_len
        )
    splits = check_int(spec, name, low=1)
    if splits > max(reduce_len, 1):
        raise ValueError(f"{name} must be <= the reduction length {reduce_len}; got {splits}.")
    return splits


def _split_sum(x: torch.Tensor, num_splits: int) -> torch.Tensor:
    """Sum over the last dim: ``num_splits`` contiguous chunks, each added left to right, then the partials left to right."""
    n = x.shape[-1]
    if n == 0:
        return x.new_zeros(x.shape[:-1])
    chunk = -(-n // num_splits)
    x = F.pad(x, (0, num_splits * chunk - n))  # trailing zeros: x + 0 is exact
    parts = x.reshape(*x.shape[:-1], num_splits, chunk)  # (..., splits, chunk)
    acc = parts[..., 0]  # (..., splits): one running sum per split ("one thread block each")
    for j in range(1, chunk):
        acc = acc + parts[..., j]
    total = acc[..., 0]  # (...,): the final reduction over splits, in split order
    for s in range(1, num_splits):
        total = total + acc[..., s]
    return total


def split_sum(
    x: torch.Tensor, *, num_splits: int | str = "auto", num_cores: int = 16, min_split_len: int = 16
) -> torch.Tensor:
    r"""Sum the last dimension with a split reduction of fixed, explicit order.

    Parameters
    ----------
    x : torch.Tensor, shape (..., K), floating
        Rows to reduce; every leading index is one row.
    num_splits : int or "auto"
        ``"auto"``: ``heuristic_num_splits(rows, K)``, so the split depends on how many rows
        are in the batch (batch *dependent*). An int fixes the split (batch *invariant*).
    num_cores, min_split_len : int
        Passed to :func:`heuristic_num_splits` for ``"auto"``.

    Returns
    -------
    torch.Tensor, shape (...)
        Same dtype as ``x``. An empty row sums to 0.

    Raises
    ------
    TypeError
        If ``x`` is not a tensor or ``num_splits`` is neither ``"auto"`` nor an int.
    ValueError
        If ``x`` is 0-D or not floating, or ``num_splits`` is < 1 or > K.

    Notes
    -----
    Split ``s`` covers elements ``[s c, (s+1) c)`` with ``c = ceil(K / num_splits)``; each
    split is accumulated left to right, then the partials are added in split order. Any
    such order has the recursive-summation error bound
    :math:`|\hat s - s| \le \gamma_{K-1} \sum_i |x_i|`, :math:`\gamma_n = n u / (1 - n u)` (Higham 2002,
    section 4.2), so every split is equally accurate; they are just *different*.
    See question q09-02.

    References
    ----------
    .. [1] N. J. Higham, "Accuracy and Stability of Numerical Algorithms", 2nd ed., SIAM,
       2002, doi:10.1137/1.9780898718027.

    Examples
    --------
    >>> t = 2.0 ** -24  # half an ulp of 1.0 in float32
    >>> x = torch.tensor([1.0, t, t, t, t, t, t, t])
    >>> split_sum(x, num_splits=1).item() == 1.0  # 1 + t rounds back to 1 (ties to even), seven times
    True
    >>> split_sum(x, num_splits=2).item() == 1.0 + 4 * t  # (1 + 3t -> 1) + (4t exact)
    True
    """
    check_tensor(x, "x")
    if x.ndim == 0:
        raise ValueError("x must have at least one dimension (..., K); got a 0-D tensor.")
    rows = math.prod(x.shape[:-1])
    splits = _resolve_splits(num_splits, "num_splits", rows, x.shape[-1], num_cores, min_split_len)
    return _split_sum(x, splits)


def split_k_matmul(
    a: torch.Tensor,
    b: torch.Tensor,
    *,
    split_k: int | str = "auto",
    num_cores: int = 16,
    block_m: int = 16,
    block_n: int = 16,
    min_split_len: int = 16,
) -> torch.Tensor:
    r"""Matrix product ``a @ b`` with a split-K reduction of explicit order.

    Parameters
    ----------
    a : torch.Tensor, shape (M, K)
        The batch: one row per token.
    b : torch.Tensor, shape (K, N)
        The weight, same dtype.
    split_k : int or "auto"
        ``"auto"``: ``heuristic_num_splits(ceil(M / block_m) * ceil(N / block_n), K)``, the
        way a tuned GEMM picks split-K from the number of output tiles, so it changes with
        the batch size M. An int fixes it for every M (batch invariant).
    num_cores, block_m, block_n, min_split_len : int
        The simulated machine and tile shape for ``"auto"``.

    Returns
    -------
    torch.Tensor, shape (M, N)

    Raises
    ------
    TypeError, ValueError
        On non-tensors, wrong shapes or dtypes, or a bad ``split_k``.

    Notes
    -----
    Each product :math:`a_{ik} b_{kj}` is rounded once, then summed as in :func:`split_sum`, so
    :math:`|\hat c_{ij} - c_{ij}| \le \gamma_{K} \sum_k |a_{ik} b_{kj}|` for every split. Row
    ``i`` never depends on the other rows except through the split count: with a fixed
    ``split_k`` it is bitwise the same in a batch of 1 and of 1000. Real GEMMs also switch
    tile shapes and instructions (GEMV for M = 1) with the shape; He et al. (2025) fix one
    kernel configuration for all shapes. See question q09-02.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> a, w = torch.randn(64, 128, generator=g), torch.randn(128, 32, generator=g)
    >>> alone = split_k_matmul(a[:1], w, split_k=4)
    >>> torch.equal(split_k_matmul(a, w, split_k=4)[:1], alone)  # fixed split: invariant
    True
    >>> heuristic_num_splits(1 * 2, 128), heuristic_num_splits(4 * 2, 128)  # "auto": 8 splits alone, 2 in the batch
    (8, 2)
    """
    check_tensor(a, "a", ndim=2, layout="(M, K)")
    check_tensor(b, "b", ndim=2, layout="(K, N)")
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"a is (M, K) and b is (K, N): K must agree; got a {tuple(a.shape)} and b {tuple(b.shape)}.")
    if a.dtype != b.dtype or a.device != b.device:
        raise ValueError(f"a and b must share dtype and device; got {a.dtype}/{a.device} and {b.dtype}/{b.device}.")
    block_m, block_n = check_int(block_m, "block_m", low=1), check_int(block_n, "block_n", low=1)
    (M, K), N = a.shape, b.shape[1]
    tiles = -(-M // block_m) * -(-N // block_n)
    splits = _resolve_splits(split_k, "split_k", tiles, K, num_cores, min_split_len)
    products = a[:, None, :] * b.T[None, :, :]  # (M, N, K): each a_ik * b_kj rounded once
    return _split_sum(products, splits)  # (M, N)


def split_rms_norm(
    x: torch.Tensor,
    weight: torch.Tensor | None = None,
    *,
    eps: float = 1e-6,
    num_splits: int | str = "auto",
    num_cores: int = 16,
    min_split_len: int = 16,
) -> torch.Tensor:
    r"""RMSNorm :math:`y = x / \sqrt{\mathrm{mean}(x^2) + \epsilon} \cdot w` with a split reduction for the mean.

    Parameters
    ----------
    x : torch.Tensor, shape (..., d)
        One row per token.
    weight : torch.Tensor, shape (d,), optional
        Per-channel gain (none = 1).
    eps : float
        Added to the mean square (``>= 0``).
    num_splits : int or "auto"
        ``"auto"``: the row reduction is split when there are fewer rows than cores (the
        "split reduction" strategy for small batches), so it depends on the batch. An int
        fixes it; 1 is the data-parallel kernel of He et al. (2025): one row per core,
        always reduced the same way.
    num_cores, min_split_len : int
        For ``"auto"``, see :func:`heuristic_num_splits`.

    Returns
    -------
    torch.Tensor, same shape and dtype as ``x``

    Raises
    ------
    TypeError, ValueError
        On non-tensors, mismatched shapes or dtypes, a negative ``eps`` or a bad split.

    Notes
    -----
    The only reduction is :math:`\sum_i x_i^2`; ``sqrt`` and ``/`` are correctly rounded, so the
    whole row is bitwise fixed once the split is. vLLM's batch-invariant RMSNorm (v0.33.0,
    ``vllm/model_executor/determinism/batch_invariant.py``) is a Triton kernel with one
    program per row that loops over the row in fixed blocks. See question q09-02.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(32, 256, generator=g)
    >>> torch.equal(split_rms_norm(x, num_splits=1)[:1], split_rms_norm(x[:1], num_splits=1))
    True
    >>> ref = torch.nn.functional.rms_norm(x.double(), (256,), eps=1e-6)
    >>> torch.allclose(split_rms_norm(x).double(), ref, rtol=1e-5, atol=0)
    True
    """
    check_tensor(x, "x")
    if x.ndim == 0:
        raise ValueError("x must have at least one dimension (..., d); got a 0-D tensor.")
    d = x.shape[-1]
    if weight is not None:
        check_tensor(weight, "weight", ndim=1, layout="(d,)")
        if weight.shape[0] != d or weight.dtype != x.dtype:
            raise ValueError(
                f"weight must have shape ({d},) and dtype {x.dtype}; got {tuple(weight.shape)} and {weight.dtype}."
            )
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not (math.isfinite(eps) and eps >= 0):
        raise ValueError(f"eps must be a finite number >= 0; got {eps!r}.")
    if d == 0:
        raise ValueError("x must have d >= 1 features to normalise; got d = 0.")
    splits = _resolve_splits(num_splits, "num_splits", math.prod(x.shape[:-1]), d, num_cores, min_split_len)
    mean_sq = _split_sum(x * x, splits) / d  # (...,)
    y = x / torch.sqrt(mean_sq + eps)[..., None]  # (..., d)
    return y if weight is None else y * weight


def split_kv_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    num_splits: int | str = "auto",
    split_size: int | None = None,
    scale: float | None = None,
    num_cores: int = 16,
    min_split_len: int = 16,
) -> torch.Tensor:
    r"""Causal attention whose KV reduction is cut into chunks (split-KV), with explicit order.

    Parameters
    ----------
    q : torch.Tensor, shape (B, H, T, d_head)
        Queries of the last T positions of each sequence (T = 1 in decoding, T > 1 for a
        prefill chunk).
    k, v : torch.Tensor, shape (B, H, S, d_head)
        Keys and values of all S positions (the KV cache plus the new ones), ``S >= T``.
    num_splits : int or "auto"
        Cut the S keys into this many chunks of ``ceil(S / num_splits)``. ``"auto"`` asks
        :func:`heuristic_num_splits` with ``B * H * T`` query rows (Flash-Decoding style,
        batch dependent). Ignored when ``split_size`` is given.
    split_size : int, optional
        Cut the keys at fixed absolute positions ``0, c, 2c, ...`` (the "fixed split-size"
        strategy): batch invariant *and* invariant to how the sequence is chunked.
    scale : float, optional
        Score scale (default ``1 / sqrt(d_head)``).
    num_cores, min_split_len : int
        For ``"auto"``.

    Returns
    -------
    torch.Tensor, shape (B, H, T, d_head)

    Raises
    ------
    TypeError, ValueError
        On non-tensors, mismatched shapes or dtypes, ``T > S`` or a bad split.

    Notes
    -----
    Query ``t`` sits at position ``p = S - T + t`` and sees keys ``0..p`` (causal mask
    aligned bottom-right, as with a KV cache). Scores are dot products summed over
    ``d_head`` in index order. Chunk ``c`` keeps its maximum :math:`m_c`,
    :math:`\ell_c = \sum_j e^{s_j - m_c}` and :math:`o_c = \sum_j e^{s_j - m_c} v_j` (positions left to right); the
    chunks are then merged in order with weights :math:`e^{m_c - m}`, :math:`m = \max_c m_c`, and
    ``out = o / l``. Masked positions add exact zeros and a fully masked chunk has weight 0.
    With a fixed *number* of splits the boundaries ``ceil(S / n)`` move with S, so the same
    token gets different bits in a prefill chunk (large S) and when decoded alone
    (S = p + 1). With a fixed split *size* both see the chunks ``[0, c), [c, 2c), ...`` and
    the bits agree (He et al. 2025; vLLM v0.33.0's FlashInfer backend passes a fixed split
    size in batch-invariant mode, its FlashAttention backend ``num_splits=1``).
    See question q09-02 (and q09-07 for Flash-Decoding itself).

    References
    ----------
    .. [1] H. He and Thinking Machines Lab, "Defeating Nondeterminism in LLM Inference",
       Connectionism, 2025-09-10, https://thinkingmachines.ai/blog/defeating-nondeterminism-in-llm-inference/

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> q, k, v = (torch.randn(1, 2, n, 8, generator=g) for n in (6, 40, 40))
    >>> chunk = split_kv_attention(q, k, v, split_size=16)  # positions 34..39 in one prefill chunk
    >>> alone = split_kv_attention(q[:, :, -1:], k, v, split_size=16)  # position 39 decoded alone
    >>> torch.equal(chunk[:, :, -1:], alone)
    True
    >>> early = split_kv_attention(q[:, :, :1], k[:, :, :35], v[:, :, :35], split_size=16)  # position 34
    >>> torch.equal(chunk[:, :, :1], early)
    True
    """
    for name, t in (("q", q), ("k", k), ("v", v)):
        check_tensor(t, name, ndim=4, layout="(B, H, T or S, d_head)")
    B, H, T, d = q.shape
    S = k.shape[2]
    if tuple(k.shape) != (B, H, S, d) or tuple(v.shape) != (B, H, S, d):
        raise ValueError(
            f"k and v must be (B, H, S, d_head) = ({B}, {H}, S, {d}) like q; got {tuple(k.shape)} and {tuple(v.shape)}."
        )
    if not (q.dtype == k.dtype == v.dtype) or not (q.device == k.device == v.device):
        raise ValueError(f"q, k, v must share dtype and device; got {q.dtype}, {k.dtype}, {v.dtype}.")
    if T == 0 or T > S:
        raise ValueError(f"need 1 <= T <= S (queries are the last T of S positions); got T = {T}, S = {S}.")
    if split_size is not None:
        chunk = check_int(split_size, "split_size", low=1)
    else:
        chunk = -(-S // _resolve_splits(num_splits, "num_splits", B * H * T, S, num_cores, min_split_len))
    if scale is None:
        scale = 1.0 / math.sqrt(d)
    elif isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale):
        raise ValueError(f"scale must be a finite number; got {scale!r}.")
    return _split_kv_attention(q, k, v, chunk, float(scale))


def _split_kv_attention(q, k, v, chunk, scale):
    B, H, T, d = q.shape
    S = k.shape[2]
    n = -(-S // chunk)
    pad = n * chunk - S
    scores = _split_sum((q * scale)[:, :, :, None, :] * k[:, :, None, :, :], 1)  # (B, H, T, S), d in order
    pos_q = torch.arange(S - T, S, device=q.device)[:, None]  # (T, 1): absolute query positions
    pos_k = torch.arange(n * chunk, device=q.device)[None, :]  # (1, n * chunk)
    scores = F.pad(scores, (0, pad)).masked_fill(pos_k > pos_q, float("-inf"))  # (B, H, T, n * chunk)
    s = scores.reshape(B, H, T, n, chunk)
    m = s.amax(dim=-1)  # (B, H, T, n); -inf for a fully masked chunk
    p = torch.exp(s - torch.where(torch.isneginf(m), 0.0, m)[..., None])  # (B, H, T, n, chunk); 0 where masked
    vr = F.pad(v, (0, 0, 0, pad)).reshape(B, H, 1, n, chunk, d)  # (B, H, 1, n, chunk, d)
    ell = _split_sum(p, 1)  # (B, H, T, n)
    o = p[..., 0, None] * vr[..., 0, :]  # (B, H, T, n, d)
    for j in range(1, chunk):  # positions of a chunk, left to right
        o = o + p[..., j, None] * vr[..., j, :]
    w = torch.exp(m - m.amax(dim=-1, keepdim=True))  # (B, H, T, n); key 0 is always visible, so the max is finite
    ell_tot, o_tot = w[..., 0] * ell[..., 0], w[..., 0, None] * o[..., 0, :]
    for c in range(1, n):  # merge the chunks in order
        ell_tot = ell_tot + w[..., c] * ell[..., c]
        o_tot = o_tot + w[..., c, None] * o[..., c, :]
    return o_tot / ell_tot[..., None]  # (B, H, T, d)
