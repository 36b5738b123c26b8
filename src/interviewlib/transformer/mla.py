r"""Multi-head latent attention (MLA), the attention of DeepSeek-V2 and DeepSeek-V3.

Instead of caching ``n_heads`` keys and values per token, MLA caches one latent vector
``c_kv = RMSNorm(W_DKV h)`` of width ``kv_lora_rank`` (:math:`d_c`) and one RoPE key
``k_pe = RoPE(W_KR h)`` of width ``qk_rope_head_dim`` (:math:`d_h^R`) shared by all heads.
Each head's content key and value are linear up-projections of the latent,
``k_nope_i = W_UK_i c_kv`` and ``v_i = W_UV_i c_kv``, so at inference ``W_UK`` can be folded
into the query and ``W_UV`` into the output projection: attention then runs directly against
the cached latents and no per-head key or value is ever formed (DeepSeek-AI 2024, §2.1.2 and
appendix C). RoPE would sit between ``W_UK`` and the query and break that folding, which is
why position goes through the separate, decoupled ``k_pe`` (§2.1.3).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._checks import check_int, check_mask, check_tensor
from .attention import _sdpa_core
from .kv_cache import KVCache
from .rmsnorm import RMSNorm
from .rope import _apply_rope_core

__all__ = ["MultiHeadLatentAttention", "mla_kv_cache_elements"]


class MultiHeadLatentAttention(nn.Module):
    r"""DeepSeek's multi-head latent attention with decoupled RoPE and a latent KV cache.

    Parameters
    ----------
    d_model : int
        Model width :math:`d`.
    n_heads : int
        Attention heads :math:`n_h`.
    q_lora_rank : int or None
        Query compression width :math:`d_c'` (1536 in DeepSeek-V2/V3); None projects the
        queries directly from ``x`` (DeepSeek-V2-Lite).
    kv_lora_rank : int
        KV compression width :math:`d_c` (512 in DeepSeek-V2/V3), the cached latent.
    qk_nope_head_dim : int
        Per-head width of the content (position-free) part of q and k, :math:`d_h`.
    qk_rope_head_dim : int
        Per-head width of the RoPE part of q and of the shared RoPE key, :math:`d_h^R` (even).
    v_head_dim : int
        Per-head value width.
    norm_eps : float
        Epsilon of the RMSNorms on the two latents (Hugging Face and DeepSeek's own code
        use 1e-6 there, whatever the model's ``rms_norm_eps``).
    absorb : bool
        Compute attention in the latent space with ``W_UK`` folded into the query and
        ``W_UV`` into the output (True), or decompress per-head keys and values (False).
        Both give the same outputs; see Notes.

    Attributes
    ----------
    q_proj : nn.Linear or None
        :math:`d \to n_h (d_h + d_h^R)`, only when ``q_lora_rank`` is None.
    q_a_proj, q_a_norm, q_b_proj : nn.Linear, RMSNorm, nn.Linear or None
        :math:`W^{DQ}`, its RMSNorm, and the stacked :math:`[W^{UQ}; W^{QR}]` per head.
    kv_a_proj : nn.Linear
        :math:`d \to d_c + d_h^R`: :math:`W^{DKV}` stacked on :math:`W^{KR}`.
    kv_a_norm : RMSNorm
        RMSNorm of the latent, applied before it is cached.
    kv_b_proj : nn.Linear
        :math:`d_c \to n_h (d_h + d_v)`: :math:`[W^{UK}_i; W^{UV}_i]` per head.
    o_proj : nn.Linear
        :math:`n_h d_v \to d`.
    scale : float
        Softmax scale :math:`1/\sqrt{d_h + d_h^R}`.

    Raises
    ------
    TypeError, ValueError
        If a size is not a positive integer, ``qk_rope_head_dim`` is odd, ``q_lora_rank`` is
        neither None nor positive, ``norm_eps <= 0`` or ``absorb`` is not a bool.

    Notes
    -----
    Score of head :math:`i` between query position :math:`t` and key position :math:`j`:

    .. math::
        s_{tj} = \frac{(W^{UQ}_i c^Q_t)^\top (W^{UK}_i c^{KV}_j) + (q^R_{t,i})^\top k^R_j}{\sqrt{d_h + d_h^R}}
        = \frac{\big((W^{UK}_i)^\top q^C_{t,i}\big)^\top c^{KV}_j + (q^R_{t,i})^\top k^R_j}{\sqrt{d_h + d_h^R}}.

    The absorbed form is multi-query attention with one shared key ``[c_kv; k_pe]`` of width
    :math:`d_c + d_h^R` and one shared value ``c_kv``; each head's output in latent space is
    then mapped by :math:`W^{UV}_i` and ``o_proj``. It reads :math:`d_c + d_h^R` numbers per
    cached token instead of :math:`n_h (d_h + d_h^R + d_v)`, but each score costs
    :math:`d_c + d_h^R` multiply-adds instead of :math:`d_h + d_h^R`: good for memory-bound
    decoding, worse for compute-bound prefill, which is why serving engines such as vLLM use
    the naive form for prefill and the absorbed one for decoding [3]_.

    Cached per token and layer: :math:`d_c + d_h^R` elements (see
    :func:`mla_kv_cache_elements`), as ``cache.update(layer_idx, c_kv, k_pe)`` with both
    tensors shaped ``(B, 1, T, .)``. The softmax scale leaves out DeepSeek's YaRN factor
    (:math:`(0.1 \ln s + 1)^2` when the context is extended by :math:`s`), so this module
    matches the released models only without YaRN. See question q08-09.

    References
    ----------
    .. [1] DeepSeek-AI, "DeepSeek-V2: A Strong, Economical, and Efficient Mixture-of-Experts
       Language Model", 2024, arXiv:2405.04434.
    .. [2] DeepSeek-AI, "DeepSeek-V3 Technical Report", 2024, arXiv:2412.19437.
    .. [3] vLLM, ``vllm/v1/attention/backends/mla/common.py`` (module docstring), commit 37fa5c0.

    Examples
    --------
    >>> from interviewlib.transformer import RotaryEmbedding
    >>> _ = torch.manual_seed(0)
    >>> kw = dict(n_heads=4, q_lora_rank=12, kv_lora_rank=8, qk_nope_head_dim=6, qk_rope_head_dim=4, v_head_dim=5)
    >>> naive = MultiHeadLatentAttention(16, **kw).double()
    >>> absorbed = MultiHeadLatentAttention(16, **kw, absorb=True).double()
    >>> _ = absorbed.load_state_dict(naive.state_dict())
    >>> x = torch.randn(2, 7, 16, dtype=torch.float64)
    >>> rope = RotaryEmbedding(4)(torch.arange(7), dtype=torch.float64)
    >>> torch.allclose(naive(x, rope), absorbed(x, rope), atol=1e-12)
    True
    """

    def __init__(
        self,
        d_model: int,
        *,
        n_heads: int,
        q_lora_rank: int | None,
        kv_lora_rank: int,
        qk_nope_head_dim: int,
        qk_rope_head_dim: int,
        v_head_dim: int,
        norm_eps: float = 1e-6,
        absorb: bool = False,
    ) -> None:
        super().__init__()
        self.d_model = check_int(d_model, "d_model", low=1)
        self.n_heads = check_int(n_heads, "n_heads", low=1)
        self.q_lora_rank = None if q_lora_rank is None else check_int(q_lora_rank, "q_lora_rank", low=1)
        self.kv_lora_rank = check_int(kv_lora_rank, "kv_lora_rank", low=1)
        self.qk_nope_head_dim = check_int(qk_nope_head_dim, "qk_nope_head_dim", low=1)
        self.qk_rope_head_dim = check_int(qk_rope_head_dim, "qk_rope_head_dim", low=2)
        if self.qk_rope_head_dim % 2:
            raise ValueError(f"qk_rope_head_dim must be even (RoPE rotates pairs); got {qk_rope_head_dim}.")
        self.v_head_dim = check_int(v_head_dim, "v_head_dim", low=1)
        if not isinstance(absorb, bool):
            raise TypeError(f"absorb must be a bool; got {type(absorb).__name__}.")
        self.absorb = absorb
        H, dn, dr, dc = self.n_heads, self.qk_nope_head_dim, self.qk_rope_head_dim, self.kv_lora_rank
        if self.q_lora_rank is None:
            self.q_proj = nn.Linear(self.d_model, H * (dn + dr), bias=False)
            self.q_a_proj = self.q_a_norm = self.q_b_proj = None
        else:
            self.q_proj = None
            self.q_a_proj = nn.Linear(self.d_model, self.q_lora_rank, bias=False)
            self.q_a_norm = RMSNorm(self.q_lora_rank, eps=norm_eps)
            self.q_b_proj = nn.Linear(self.q_lora_rank, H * (dn + dr), bias=False)
        self.kv_a_proj = nn.Linear(self.d_model, dc + dr, bias=False)
        self.kv_a_norm = RMSNorm(dc, eps=norm_eps)
        self.kv_b_proj = nn.Linear(dc, H * (dn + self.v_head_dim), bias=False)
        self.o_proj = nn.Linear(H * self.v_head_dim, self.d_model, bias=False)
        self.scale = 1.0 / math.sqrt(dn + dr)

    def forward(
        self,
        x: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor],
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
        rope : (cos, sin)
            Rotate-half tables of width ``qk_rope_head_dim`` for the new positions,
            (T, d_rot) or (B, T, d_rot). MLA always needs them (its keys carry position
            only through ``k_pe``).
        mask : torch.Tensor, optional, bool, broadcastable to (B, H, T, S)
            Extra restriction on top of causality; True = attend.
        cache : KVCache, optional
            Receives ``c_kv`` (B, 1, T, kv_lora_rank) and ``k_pe`` (B, 1, T, qk_rope_head_dim).
        layer_idx : int
            Which layer of the cache this module owns.

        Returns
        -------
        torch.Tensor, shape (B, T, d_model)

        Raises
        ------
        TypeError, ValueError
            On a wrong shape of ``x``, RoPE tables of the wrong width or length, a bad mask,
            or a cache that is not a :class:`KVCache`.
        """
        check_tensor(x, "x", ndim=3, layout="(B, T, d_model)")
        if x.shape[-1] != self.d_model:
            raise ValueError(f"x must have last dimension d_model={self.d_model}; got shape {tuple(x.shape)}.")
        cos, sin = self._check_rope(rope, x)
        if cache is not None and not isinstance(cache, KVCache):
            raise TypeError(f"cache must be a KVCache; got {type(cache).__name__}.")
        B, T, _ = x.shape
        H, dn, dr, dc = self.n_heads, self.qk_nope_head_dim, self.qk_rope_head_dim, self.kv_lora_rank
        if self.q_proj is not None:
            q = self.q_proj(x)  # (B, T, H (dn + dr))
        else:
            q = self.q_b_proj(self.q_a_norm(self.q_a_proj(x)))  # (B, T, H (dn + dr))
        q = q.view(B, T, H, dn + dr).transpose(1, 2)  # (B, H, T, dn + dr)
        q_nope, q_pe = q.split([dn, dr], dim=-1)  # (B, H, T, dn), (B, H, T, dr)
        c_kv, k_pe = self.kv_a_proj(x).split([dc, dr], dim=-1)  # (B, T, dc), (B, T, dr)
        c_kv = self.kv_a_norm(c_kv)[:, None]  # (B, 1, T, dc): one "head"
        k_pe = k_pe[:, None]  # (B, 1, T, dr): shared by all heads
        q_pe, k_pe = _apply_rope_core(q_pe, cos, sin), _apply_rope_core(k_pe, cos, sin)  # rotated
        if cache is not None:
            c_kv, k_pe = cache.update(layer_idx, c_kv, k_pe)  # (B, 1, S, dc), (B, 1, S, dr)
        if mask is not None:
            check_mask(mask, "mask", (B, H, T, c_kv.shape[2]), x.dtype)
        if self.absorb:
            out = self._attend_absorbed(q_nope, q_pe, c_kv, k_pe, mask)  # (B, H, T, dv)
        else:
            out = self._attend_naive(q_nope, q_pe, c_kv, k_pe, mask)  # (B, H, T, dv)
        return self.o_proj(out.transpose(1, 2).reshape(B, T, H * self.v_head_dim))  # (B, T, d_model)

    def _attend_naive(self, q_nope, q_pe, c_kv, k_pe, mask):
        """Decompress per-head K/V from the latents, then ordinary multi-head attention."""
        B, H, _, _ = q_nope.shape
        S, dn, dv = c_kv.shape[2], self.qk_nope_head_dim, self.v_head_dim
        kv = self.kv_b_proj(c_kv[:, 0]).view(B, S, H, dn + dv).transpose(1, 2)  # (B, H, S, dn + dv)
        k_nope, v = kv.split([dn, dv], dim=-1)  # (B, H, S, dn), (B, H, S, dv)
        k = torch.cat([k_nope, k_pe.expand(B, H, S, -1)], dim=-1)  # (B, H, S, dn + dr)
        q = torch.cat([q_nope, q_pe], dim=-1)  # (B, H, T, dn + dr)
        return _sdpa_core(q, k, v, mask, True, self.scale, True, False)  # (B, H, T, dv)

    def _attend_absorbed(self, q_nope, q_pe, c_kv, k_pe, mask):
        """Fold W_UK into the query and W_UV after the attention: MQA over the latents."""
        w = self.kv_b_proj.weight.view(self.n_heads, self.qk_nope_head_dim + self.v_head_dim, self.kv_lora_rank)
        w_uk, w_uv = w[:, : self.qk_nope_head_dim], w[:, self.qk_nope_head_dim :]  # (H, dn, dc), (H, dv, dc)
        q_lat = torch.einsum("bhtn,hnc->bhtc", q_nope, w_uk)  # (B, H, T, dc): W_UK^T q per head
        q = torch.cat([q_lat, q_pe], dim=-1)  # (B, H, T, dc + dr)
        k = torch.cat([c_kv, k_pe], dim=-1)  # (B, 1, S, dc + dr): one key for all heads
        o_lat = _sdpa_core(q, k, c_kv, mask, True, self.scale, True, False)  # (B, H, T, dc), broadcast over H
        return torch.einsum("bhtc,hvc->bhtv", o_lat, w_uv)  # (B, H, T, dv)

    def _check_rope(self, rope, x):
        if not isinstance(rope, (tuple, list)) or len(rope) != 2:
            raise TypeError(
                f"rope must be a (cos, sin) pair of width qk_rope_head_dim={self.qk_rope_head_dim}; "
                f"got {type(rope).__name__}. MLA needs RoPE tables (its keys carry position only through k_pe)."
            )
        cos, sin = rope
        check_tensor(cos, "cos")
        check_tensor(sin, "sin")
        B, T = x.shape[0], x.shape[1]
        ok_batch = cos.ndim == 2 or (cos.ndim == 3 and cos.shape[0] in (1, B))
        if cos.shape != sin.shape or cos.ndim not in (2, 3) or not ok_batch or cos.shape[-2] != T:
            raise ValueError(
                f"cos and sin must share a shape (T, d_rot) or (B, T, d_rot) with T={T}, B={B}; "
                f"got {tuple(cos.shape)} and {tuple(sin.shape)}."
            )
        if cos.shape[-1] != self.qk_rope_head_dim:
            raise ValueError(
                f"RoPE tables must have width qk_rope_head_dim={self.qk_rope_head_dim}; got {cos.shape[-1]}."
            )
        return cos, sin


def mla_kv_cache_elements(*, n_layers: int, kv_lora_rank: int, qk_rope_head_dim: int) -> int:
    r"""Cached elements per token of an MLA model: :math:`(d_c + d_h^R) \cdot L`.

    Parameters
    ----------
    n_layers : int
        Attention layers :math:`L`.
    kv_lora_rank : int
        Latent width :math:`d_c`.
    qk_rope_head_dim : int
        Width of the shared RoPE key :math:`d_h^R`.

    Returns
    -------
    int
        Elements per token, independent of the number of heads; multiply by the bytes per
        element, the sequence length and the batch for bytes.

    Raises
    ------
    TypeError, ValueError
        If an argument is not a positive integer.

    Notes
    -----
    DeepSeek-V2 Table 1 writes this as :math:`(d_c + d_h^R) l \approx \tfrac{9}{2} d_h l`
    (with :math:`d_c = 4 d_h`, :math:`d_h^R = d_h / 2`): the cache of GQA with 2.25 groups.
    Compare :func:`~interviewlib.transformer.kv_cache.kv_cache_bytes` for MHA/GQA/MQA.
    See question q08-09.

    Examples
    --------
    >>> mla_kv_cache_elements(n_layers=61, kv_lora_rank=512, qk_rope_head_dim=64)  # DeepSeek-V3
    35136
    """
    vals = dict(n_layers=n_layers, kv_lora_rank=kv_lora_rank, qk_rope_head_dim=qk_rope_head_dim)
    n_layers, dc, dr = (check_int(v, k, low=1) for k, v in vals.items())
    return (dc + dr) * n_layers
