r"""Multi-head attention as an ``nn.Module``, loadable from ``nn.MultiheadAttention``.

:math:`\mathrm{MHA}(X_q, X_{kv}) = \mathrm{Concat}(\mathrm{head}_1, \dots, \mathrm{head}_h) W^O` with
:math:`\mathrm{head}_i = \mathrm{Attention}(X_q W_i^Q, X_{kv} W_i^K, X_{kv} W_i^V)` (Vaswani et al. 2017,
section 3.2.2), each head of width :math:`d_{head} = d_{model} / h`.
"""

from __future__ import annotations

import torch
from torch import nn

from ._checks import check_int, check_mask, check_tensor
from .attention import _sdpa_core

__all__ = ["MultiHeadAttention"]


class MultiHeadAttention(nn.Module):
    r"""Multi-head (self- or cross-) attention, batch-first.

    Parameters
    ----------
    d_model : int
        Model width; must be divisible by ``n_heads``.
    n_heads : int
        Number of heads h; each has width ``d_model // n_heads``.
    bias : bool
        Bias in the four projections (``nn.MultiheadAttention``'s default is True).

    Attributes
    ----------
    q_proj, k_proj, v_proj, out_proj : nn.Linear
        ``d_model -> d_model`` projections; the heads are slices of their outputs.

    Raises
    ------
    ValueError
        If ``d_model`` is not divisible by ``n_heads``.

    Notes
    -----
    Parameters :math:`4d^2 (+4d)`, FLOPs :math:`8 n d^2 + 4 n^2 d` for self-attention over
    :math:`n` tokens, the same as one head of width :math:`d`: splitting into heads costs
    nothing extra but gives h separate softmax patterns. Masks follow the package
    convention, ``True`` = attend; ``key_mask`` marks *real* keys (the opposite of
    ``nn.MultiheadAttention``'s ``key_padding_mask``). See question q07-05.

    References
    ----------
    .. [1] Vaswani et al., "Attention Is All You Need", 2017, arXiv:1706.03762.

    Examples
    --------
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> ref = nn.MultiheadAttention(8, 2, batch_first=True)
    >>> mha = MultiHeadAttention.from_torch(ref)
    >>> x = torch.randn(2, 5, 8)
    >>> torch.allclose(mha(x), ref(x, x, x, need_weights=False)[0], atol=1e-6)
    True
    """

    def __init__(self, d_model: int, n_heads: int, *, bias: bool = True) -> None:
        super().__init__()
        d_model = check_int(d_model, "d_model", low=1)
        n_heads = check_int(n_heads, "n_heads", low=1)
        if d_model % n_heads:
            raise ValueError(
                f"d_model must be divisible by n_heads; got d_model={d_model}, n_heads={n_heads} "
                f"(try n_heads in {[h for h in range(1, d_model + 1) if d_model % h == 0][:8]})."
            )
        self.d_model = d_model
        self.n_heads = n_heads
        self.d_head = d_model // n_heads
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    @classmethod
    def from_torch(cls, ref: nn.MultiheadAttention) -> MultiHeadAttention:
        """Build a copy of ``ref`` (``in_proj_weight`` is split into Q, K, V blocks).

        Parameters
        ----------
        ref : nn.MultiheadAttention
            Must use packed projections (``kdim == vdim == embed_dim``) and no
            ``add_bias_kv`` / ``add_zero_attn``.

        Returns
        -------
        MultiHeadAttention
            Same dtype and device as ``ref``, weights copied (not shared).

        Raises
        ------
        ValueError
            If ``ref`` uses a feature this class does not model.
        """
        if not isinstance(ref, nn.MultiheadAttention):
            raise TypeError(f"ref must be nn.MultiheadAttention; got {type(ref).__name__}.")
        if not ref._qkv_same_embed_dim or ref.bias_k is not None or ref.add_zero_attn:
            raise ValueError("ref must have kdim == vdim == embed_dim, no add_bias_kv and no add_zero_attn.")
        bias = ref.in_proj_bias is not None
        w = ref.in_proj_weight
        mha = cls(ref.embed_dim, ref.num_heads, bias=bias).to(dtype=w.dtype, device=w.device)
        d = ref.embed_dim
        with torch.no_grad():
            for idx, proj in enumerate((mha.q_proj, mha.k_proj, mha.v_proj)):
                proj.weight.copy_(w[idx * d : (idx + 1) * d])  # (d, d)
                if bias:
                    proj.bias.copy_(ref.in_proj_bias[idx * d : (idx + 1) * d])  # (d,)
            mha.out_proj.weight.copy_(ref.out_proj.weight)
            if bias:
                mha.out_proj.bias.copy_(ref.out_proj.bias)
        return mha

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        return x.view(B, T, self.n_heads, self.d_head).transpose(1, 2)  # (B, H, T, d_head)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor | None = None,
        value: torch.Tensor | None = None,
        *,
        attn_mask: torch.Tensor | None = None,
        key_mask: torch.Tensor | None = None,
        is_causal: bool = False,
        need_weights: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        r"""Attend from ``query`` to ``key``/``value`` (self-attention when they are omitted).

        Parameters
        ----------
        query : torch.Tensor, shape (B, T, d_model)
        key : torch.Tensor, shape (B, S, d_model), optional
            Defaults to ``query``.
        value : torch.Tensor, shape (B, S, d_model), optional
            Defaults to ``key``.
        attn_mask : torch.Tensor, optional
            Bool (True = attend) or additive float, broadcastable to (B, H, T, S); a 2-D
            ``(T, S)`` mask applies to every batch element and head.
        key_mask : torch.Tensor of bool, shape (B, S), optional
            True on real keys, False on padding.
        is_causal : bool
            Add the causal mask, aligned bottom-right (query ``i`` sees keys ``j <= i + S - T``,
            which is what KV-cache decoding needs). This deliberately differs from torch, whose
            ``is_causal`` is aligned top-left; the two agree when ``T == S``.
        need_weights : bool
            Also return the per-head attention weights.

        Returns
        -------
        out : torch.Tensor, shape (B, T, d_model)
        weights : torch.Tensor, shape (B, H, T, S)
            Only if ``need_weights``.

        Raises
        ------
        ValueError
            On shape, dtype or mask mismatches.
        """
        key = query if key is None else key
        value = key if value is None else value
        for name, t in (("query", query), ("key", key), ("value", value)):
            check_tensor(t, name, ndim=3, layout="(B, T, d_model)")
            if t.shape[-1] != self.d_model:
                raise ValueError(f"{name} must have last dimension d_model={self.d_model}; got shape {tuple(t.shape)}.")
        if key.shape[:2] != value.shape[:2] or key.shape[0] != query.shape[0]:
            raise ValueError(
                f"query, key, value must share B and key/value must share S; got shapes "
                f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}."
            )
        B, T, S = query.shape[0], query.shape[1], key.shape[1]
        mask = merge_key_mask(attn_mask, key_mask, B, S)
        q = self._split(self.q_proj(query))  # (B, H, T, d_head)
        k = self._split(self.k_proj(key))  # (B, H, S, d_head)
        v = self._split(self.v_proj(value))  # (B, H, S, d_head)
        if mask is not None:
            check_mask(mask, "attn_mask", (B, self.n_heads, T, S), q.dtype)
        out, weights = _sdpa_core(q, k, v, mask, is_causal, self.d_head**-0.5, True, True)
        out = out.transpose(1, 2).reshape(B, T, self.d_model)  # (B, T, d_model)
        out = self.out_proj(out)  # (B, T, d_model)
        return (out, weights) if need_weights else out


def merge_key_mask(attn_mask: torch.Tensor | None, key_mask: torch.Tensor | None, B: int, S: int):
    """Combine an attention mask with a (B, S) key-padding mask (True = real key).

    Bool masks are AND-ed; an additive mask gets ``-inf`` on padded keys. Returns None when
    both are None. Raises ValueError if ``key_mask`` is not a bool tensor of shape (B, S).
    """
    if key_mask is None:
        return attn_mask
    if not isinstance(key_mask, torch.Tensor) or key_mask.dtype != torch.bool or tuple(key_mask.shape) != (B, S):
        got = f"{key_mask.dtype}, shape {tuple(key_mask.shape)}" if isinstance(key_mask, torch.Tensor) else type(key_mask).__name__
        raise ValueError(f"key_mask must be a bool tensor of shape (B, S) = {(B, S)}, True = real key; got {got}.")
    km = key_mask[:, None, None, :]  # (B, 1, 1, S)
    if attn_mask is None:
        return km
    if attn_mask.dtype == torch.bool:
        return attn_mask & km  # (B, H, T, S) after broadcasting
    return attn_mask.masked_fill(~km, float("-inf"))  # additive, (B, H, T, S) after broadcasting
