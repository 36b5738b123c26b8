r"""Scaled dot-product attention with boolean or additive masks.

:math:`\mathrm{Attention}(Q, K, V) = \mathrm{softmax}(QK^\top / \sqrt{d_k} + M)\,V` (Vaswani et al.
2017, eq. 1). Layout is batch-first ``(B, H, T, d_head)`` throughout the package.
"""

from __future__ import annotations

import math

import torch

from ._checks import check_mask, check_tensor

__all__ = ["scaled_dot_product_attention", "mask_to_bias"]


def mask_to_bias(mask: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    r"""Turn a boolean keep-mask into an additive bias (0 where kept, ``-inf`` where blocked).

    Parameters
    ----------
    mask : torch.Tensor of bool, any shape
        ``True`` = the query may attend to this key (the convention of
        ``torch.nn.functional.scaled_dot_product_attention``).
    dtype : torch.dtype
        Floating dtype of the result; it should match the attention scores.

    Returns
    -------
    torch.Tensor, same shape as ``mask``
        ``0.0`` where ``mask`` is True, ``-inf`` elsewhere.

    Raises
    ------
    ValueError
        If ``mask`` is not boolean or ``dtype`` is not floating.

    Notes
    -----
    ``-inf`` (rather than a large negative constant such as ``-1e9``) is exact in every
    floating format: ``exp(-inf) = 0``. A constant like ``-1e9`` overflows to ``-inf`` in
    float16 anyway, and ``-1e4`` is not small enough to zero a weight when the scores are
    large. See question q07-03.

    References
    ----------
    .. [1] Vaswani et al., "Attention Is All You Need", 2017, arXiv:1706.03762.

    Examples
    --------
    >>> mask_to_bias(torch.tensor([True, False])).tolist()
    [0.0, -inf]
    """
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        got = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise ValueError(f"mask must be a bool tensor (True = attend); got {got}.")
    if not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating dtype; got {dtype}.")
    bias = torch.zeros(mask.shape, dtype=dtype, device=mask.device)  # same shape as mask
    return bias.masked_fill(~mask, float("-inf"))


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    is_causal: bool = False,
    scale: float | None = None,
    safe: bool = True,
    return_weights: bool = False,
    enable_gqa: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    r"""Scaled dot-product attention, written out with explicit matmuls.

    Parameters
    ----------
    q : torch.Tensor, shape (B, H, T, d_head) or (N, T, d_head)
        Queries. A 3-D input, accepted as by ``F.scaled_dot_product_attention``, has one
        leading axis ``N`` (heads of one sequence, or a batch of single-head sequences);
        it plays the role of ``H`` (so ``enable_gqa`` groups along it) and the result is
        3-D too. ``q``, ``k`` and ``v`` must all be 3-D or all 4-D.
    k : torch.Tensor, shape (B, H, S, d_head) or (B, H_kv, S, d_head); 3-D: (N, S, d_head)
        Keys (``H_kv`` heads only with ``enable_gqa``).
    v : torch.Tensor, shape (B, H, S, d_v) or (B, H_kv, S, d_v); 3-D: (N, S, d_v)
        Values.
    mask : torch.Tensor, optional, broadcastable to (B, H, T, S); 3-D inputs: to (N, T, S)
        Either bool (``True`` = attend, as in ``F.scaled_dot_product_attention``) or an
        additive float bias of the scores' dtype (``-inf`` = blocked).
    is_causal : bool
        Also block keys in the future: query ``i`` sees keys ``j <= i + (S - T)``
        (aligned to the bottom-right corner, so it also fits KV-cache decoding). This
        deliberately differs from torch, whose ``is_causal`` aligns to the top-left
        (``j <= i``): the two agree only when ``T == S``.
    scale : float, optional
        Multiplier of the scores; default ``1 / sqrt(d_head)``.
    safe : bool
        If True (default), a query row whose keys are all blocked gets zero weights and
        a zero output (what torch 2.13's ``scaled_dot_product_attention`` returns on CPU).
        If False, the plain softmax of a row of ``-inf`` gives NaN.
    return_weights : bool
        Also return the attention weights.
    enable_gqa : bool
        Grouped-query attention, as in ``F.scaled_dot_product_attention(enable_gqa=True)``:
        ``k`` and ``v`` may have ``H_kv`` heads with ``H % H_kv == 0``; query head ``h`` reads
        key/value head ``h // (H / H_kv)`` (consecutive query heads share one KV head).

    Returns
    -------
    out : torch.Tensor, shape (B, H, T, d_v) (3-D inputs: (N, T, d_v))
    weights : torch.Tensor, shape (B, H, T, S) (3-D inputs: (N, T, S))
        Only if ``return_weights``; rows sum to 1 (0 for fully blocked rows when ``safe``).

    Raises
    ------
    TypeError
        If an input is not a tensor.
    ValueError
        If a tensor is not 3-D or 4-D, the three differ in dimensions, shapes disagree,
        dtypes differ, or the mask has the wrong dtype or shape.

    Notes
    -----
    Cost: ``2 T S d_head`` FLOPs for :math:`QK^\top` and ``2 T S d_v`` for the product with
    ``V`` per batch and head, plus ``T S`` memory for the weights. Dividing by
    :math:`\sqrt{d_k}` keeps the score variance at 1 when the entries of q and k have unit
    variance (Vaswani et al. 2017, footnote 4). See questions q07-03 and q07-04.

    References
    ----------
    .. [1] Vaswani et al., "Attention Is All You Need", 2017, arXiv:1706.03762.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> q, k, v = (torch.randn(1, 2, 3, 4, generator=g) for _ in range(3))
    >>> out = scaled_dot_product_attention(q, k, v, is_causal=True)
    >>> ref = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    >>> tuple(out.shape), torch.allclose(out, ref, atol=1e-6)
    ((1, 2, 3, 4), True)
    >>> tuple(scaled_dot_product_attention(q[0], k[0], v[0]).shape)  # 3-D: (N, T, d_head)
    (2, 3, 4)
    """
    for name, x in (("q", q), ("k", k), ("v", v)):
        check_tensor(x, name)
    if q.ndim not in (3, 4):
        raise ValueError(f"q must be 4-D (B, H, T, d_head) or 3-D (N, T, d_head); got shape {tuple(q.shape)}.")
    for name, x, rest in (("k", k, "S, d_head"), ("v", v, "S, d_v")):
        if x.ndim != q.ndim:
            lead = "B, H" if q.ndim == 4 else "N"
            raise ValueError(f"{name} must be {q.ndim}-D like q, ({lead}, {rest}); got shape {tuple(x.shape)}.")
    if q.ndim == 3:  # (N, T, d): run as one batch of N heads
        if isinstance(mask, torch.Tensor):
            target3 = (q.shape[0], q.shape[1], k.shape[1])
            try:
                fits = mask.ndim <= 3 and torch.broadcast_shapes(tuple(mask.shape), target3) == target3
            except RuntimeError:
                fits = False
            if not fits:
                raise ValueError(
                    f"mask must broadcast to (N, T, S) = {target3} for 3-D q, k, v; got shape {tuple(mask.shape)}."
                )
        res = scaled_dot_product_attention(
            q[None], k[None], v[None], mask,  # (1, N, T, d_head), (1, N, S, d_head), (1, N, S, d_v)
            is_causal=is_causal, scale=scale, safe=safe, return_weights=return_weights, enable_gqa=enable_gqa,
        )
        return (res[0][0], res[1][0]) if return_weights else res[0]  # (N, T, d_v), (N, T, S)
    if not (q.dtype == k.dtype == v.dtype):
        raise ValueError(f"q, k, v must share a dtype; got {q.dtype}, {k.dtype}, {v.dtype}.")
    if k.shape[:2] != v.shape[:2] or q.shape[0] != k.shape[0]:
        raise ValueError(
            f"q, k, v must agree on (B, H); got {tuple(q.shape[:2])}, {tuple(k.shape[:2])}, {tuple(v.shape[:2])}."
        )
    if q.shape[1] != k.shape[1]:
        if not enable_gqa:
            raise ValueError(
                f"q, k, v must agree on (B, H); got {tuple(q.shape[:2])}, {tuple(k.shape[:2])}, {tuple(v.shape[:2])}"
                " (pass enable_gqa=True for fewer key/value heads)."
            )
        if q.shape[1] % k.shape[1]:
            raise ValueError(
                f"with enable_gqa the query heads must be a multiple of the key/value heads; got {q.shape[1]} and "
                f"{k.shape[1]}."
            )
        group = q.shape[1] // k.shape[1]
        k = k.repeat_interleave(group, dim=1)  # (B, H, S, d_head)
        v = v.repeat_interleave(group, dim=1)  # (B, H, S, d_v)
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must have the same d_head; got {q.shape[-1]} and {k.shape[-1]}.")
    if k.shape[2] != v.shape[2]:
        raise ValueError(f"k and v must have the same length S; got {k.shape[2]} and {v.shape[2]}.")
    target = (q.shape[0], q.shape[1], q.shape[2], k.shape[2])
    if mask is not None:
        check_mask(mask, "mask", target, q.dtype)
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1])
    elif not isinstance(scale, (int, float)) or isinstance(scale, bool) or not math.isfinite(scale):
        raise ValueError(f"scale must be a finite real number; got {scale!r}.")
    return _sdpa_core(q, k, v, mask, is_causal, float(scale), safe, return_weights)


def _sdpa_core(q, k, v, mask, is_causal, scale, safe, return_weights):
    T, S = q.shape[-2], k.shape[-2]
    scores = (q @ k.transpose(-2, -1)) * scale  # (B, H, T, S)
    if is_causal:
        keep = torch.ones(T, S, dtype=torch.bool, device=q.device).tril(diagonal=S - T)  # (T, S)
        scores = scores.masked_fill(~keep, float("-inf"))  # (B, H, T, S)
    if mask is not None:
        if mask.dtype == torch.bool:
            scores = scores.masked_fill(~mask, float("-inf"))  # (B, H, T, S)
        else:
            scores = scores + mask  # (B, H, T, S)
    if safe and (mask is not None or (is_causal and T > S)):  # causal alone empties rows only if T > S
        has_key = (scores > float("-inf")).any(dim=-1, keepdim=True)  # (B, H, T, 1)
        # Zero the scores of empty rows before the softmax so no NaN reaches the gradient.
        scores = scores.masked_fill(~has_key, 0.0)  # (B, H, T, S)
        weights = torch.softmax(scores, dim=-1) * has_key  # (B, H, T, S)
    else:
        weights = torch.softmax(scores, dim=-1)  # (B, H, T, S)
    out = weights @ v  # (B, H, T, d_v)
    return (out, weights) if return_weights else out
