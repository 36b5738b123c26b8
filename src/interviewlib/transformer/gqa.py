r"""Grouped-query attention with RoPE and a KV cache (MHA, GQA and MQA in one module).

``n_kv_heads = n_heads`` is multi-head attention (Vaswani et al. 2017), ``n_kv_heads = 1`` is
multi-query attention (Shazeer 2019), anything in between that divides ``n_heads`` is
grouped-query attention (Ainslie et al. 2023): ``n_heads / n_kv_heads`` consecutive query
heads share one key/value head, so the KV cache shrinks by that factor.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._checks import check_int, check_mask, check_tensor
from .attention import scaled_dot_product_attention
from .kv_cache import KVCache
from .rope import _apply_rope_core, apply_rope

__all__ = ["GroupedQueryAttention", "mha_to_gqa"]


class GroupedQueryAttention(nn.Module):
    r"""Self-attention with ``n_heads`` query heads and ``n_kv_heads`` key/value heads.

    Parameters
    ----------
    d_model : int
        Model width.
    n_heads : int
        Query heads.
    n_kv_heads : int, optional
        Key/value heads; must divide ``n_heads`` (default ``n_heads``: MHA).
    head_dim : int, optional
        Width per head (default ``d_model // n_heads``).
    bias : bool
        Biases on the q/k/v projections (Qwen2 has them, Llama does not); the output
        projection never has one.

    Notes
    -----
    Parameters :math:`d (H + 2 H_{kv}) d_h + H d_h d`. KV-cache elements per token and layer
    :math:`2 H_{kv} d_h`. The forward pass rotates q and k with RoPE (before caching k, as
    Llama does, so cached keys never need re-rotation), appends k/v to the cache, and attends
    causally, aligned bottom-right so that a query at cache position ``p`` sees keys ``0..p``.
    See questions q08-02 and q08-08.

    Examples
    --------
    >>> from interviewlib.transformer import RotaryEmbedding
    >>> attn = GroupedQueryAttention(16, n_heads=4, n_kv_heads=2)
    >>> cos, sin = RotaryEmbedding(4)(torch.arange(5))
    >>> attn(torch.randn(2, 5, 16), (cos, sin)).shape
    torch.Size([2, 5, 16])
    """

    def __init__(
        self,
        d_model: int,
        *,
        n_heads: int,
        n_kv_heads: int | None = None,
        head_dim: int | None = None,
        bias: bool = False,
    ) -> None:
        super().__init__()
        d_model = check_int(d_model, "d_model", low=1)
        self.n_heads = check_int(n_heads, "n_heads", low=1)
        self.n_kv_heads = self.n_heads if n_kv_heads is None else check_int(n_kv_heads, "n_kv_heads", low=1)
        if self.n_heads % self.n_kv_heads:
            raise ValueError(
                f"n_heads must be divisible by n_kv_heads (each KV head serves a whole group of query heads); "
                f"got n_heads={self.n_heads}, n_kv_heads={self.n_kv_heads}."
            )
        if head_dim is None:
            if d_model % self.n_heads:
                raise ValueError(f"d_model must be divisible by n_heads; got {d_model} and {self.n_heads}.")
            head_dim = d_model // self.n_heads
        self.head_dim = check_int(head_dim, "head_dim", low=1)
        self.q_proj = nn.Linear(d_model, self.n_heads * self.head_dim, bias=bias)
        self.k_proj = nn.Linear(d_model, self.n_kv_heads * self.head_dim, bias=bias)
        self.v_proj = nn.Linear(d_model, self.n_kv_heads * self.head_dim, bias=bias)
        self.o_proj = nn.Linear(self.n_heads * self.head_dim, d_model, bias=False)

    def forward(
        self,
        x: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor] | None,
        *,
        mask: torch.Tensor | None = None,
        cache: KVCache | None = None,
        layer_idx: int = 0,
    ) -> torch.Tensor:
        r"""Attend from the ``T`` new positions ``x`` (B, T, d_model) to all cached ones.

        Parameters
        ----------
        x : torch.Tensor, shape (B, T, d_model)
            Hidden states of the new positions.
        rope : (cos, sin) or None
            Tables for the new positions, (T, d_rot) or (B, T, d_rot); None for NoPE.
        mask : torch.Tensor, optional, bool, broadcastable to (B, H, T, S)
            Extra restriction on top of causality (padding, packed documents); True = attend.
            ``S`` is the cache length after this step (``T`` without a cache).
        cache : KVCache, optional
            Past keys/values; updated in place with the new positions.
        layer_idx : int
            Which layer of the cache this module owns.

        Returns
        -------
        torch.Tensor, shape (B, T, d_model)

        Raises
        ------
        TypeError, ValueError
            On a wrong width, RoPE tables that do not fit ``x``, a mask that does not broadcast
            to (B, H, T, S), or a ``cache`` that is not a :class:`KVCache`; checked before the
            cache is written.
        """
        check_tensor(x, "x", ndim=3, layout="(B, T, d_model)")
        B, T, d_model = x.shape
        if d_model != self.q_proj.in_features:
            raise ValueError(f"x must have last dimension d_model={self.q_proj.in_features}; got shape {tuple(x.shape)}.")
        if cache is not None and not isinstance(cache, KVCache):
            raise TypeError(f"cache must be a KVCache; got {type(cache).__name__}.")
        if rope is not None and (not isinstance(rope, (tuple, list)) or len(rope) != 2):
            raise TypeError(f"rope must be a (cos, sin) pair or None; got {type(rope).__name__}.")
        if mask is not None:
            S = T + (cache.length if cache is not None else 0)
            check_mask(mask, "mask", (B, self.n_heads, T, S), x.dtype)
        q = self.q_proj(x).view(B, T, self.n_heads, self.head_dim).transpose(1, 2)  # (B, H, T, d_h)
        k = self.k_proj(x).view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)  # (B, H_kv, T, d_h)
        v = self.v_proj(x).view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)  # (B, H_kv, T, d_h)
        if rope is not None:
            cos, sin = rope
            q, k = apply_rope(q, cos, sin), _apply_rope_core(k, cos, sin)  # rotated, same shapes (q checks the tables)
        if cache is not None:
            k, v = cache.update(layer_idx, k, v)  # (B, H_kv, S, d_h) with S = past + T
        out = scaled_dot_product_attention(
            q, k, v, mask, is_causal=True, scale=1.0 / math.sqrt(self.head_dim), enable_gqa=True
        )  # (B, H, T, d_h)
        return self.o_proj(out.transpose(1, 2).reshape(B, T, self.n_heads * self.head_dim))  # (B, T, d_model)


def mha_to_gqa(attn: GroupedQueryAttention, n_kv_heads: int) -> GroupedQueryAttention:
    r"""Convert an MHA (or GQA) module to fewer KV heads by mean-pooling each group's K/V heads.

    Parameters
    ----------
    attn : GroupedQueryAttention
        The source module (unchanged).
    n_kv_heads : int
        Target KV heads; must divide ``attn.n_kv_heads``.

    Returns
    -------
    GroupedQueryAttention
        A new module with the same q/o projections and pooled k/v projections.

    Notes
    -----
    Ainslie et al. (2023) build a GQA checkpoint from an MHA one this way (mean-pooling worked
    better than keeping one head or random init) and then "uptrain" it on about 5 % of the
    pre-training compute. Pooling the projection weights equals pooling the heads' keys and
    values, because the projection is linear. See question q08-08.

    References
    ----------
    .. [1] Ainslie et al., "GQA: Training Generalized Multi-Query Transformer Models from
       Multi-Head Checkpoints", 2023, arXiv:2305.13245.

    Examples
    --------
    >>> mha = GroupedQueryAttention(16, n_heads=4)
    >>> mha_to_gqa(mha, 1).k_proj.weight.shape
    torch.Size([4, 16])
    """
    if not isinstance(attn, GroupedQueryAttention):
        raise TypeError(f"attn must be a GroupedQueryAttention; got {type(attn).__name__}.")
    n_kv_heads = check_int(n_kv_heads, "n_kv_heads", low=1)
    if attn.n_kv_heads % n_kv_heads:
        raise ValueError(f"n_kv_heads must divide the source's {attn.n_kv_heads} KV heads; got {n_kv_heads}.")
    d_model = attn.q_proj.in_features
    has_bias = attn.k_proj.bias is not None
    new = GroupedQueryAttention(
        d_model, n_heads=attn.n_heads, n_kv_heads=n_kv_heads, head_dim=attn.head_dim, bias=has_bias
    ).to(device=attn.q_proj.weight.device, dtype=attn.q_proj.weight.dtype)
    group = attn.n_kv_heads // n_kv_heads
    with torch.no_grad():
        new.q_proj.load_state_dict(attn.q_proj.state_dict())
        new.o_proj.load_state_dict(attn.o_proj.state_dict())
        for name in ("k_proj", "v_proj"):
            src, dst = getattr(attn, name), getattr(new, name)
            w = src.weight.view(n_kv_heads, group, attn.head_dim, d_model).mean(dim=1)  # (H_kv', d_h, d)
            dst.weight.copy_(w.reshape(n_kv_heads * attn.head_dim, d_model))
            if has_bias:
                dst.bias.copy_(src.bias.view(n_kv_heads, group, attn.head_dim).mean(dim=1).reshape(-1))
    return new
