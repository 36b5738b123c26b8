r"""Rotary position embedding (RoPE), in the "rotate half" layout that Llama and Hugging Face use.

A head vector of width ``d`` (the first ``d_rot <= d`` entries, for partial RoPE) is split into
``d_rot / 2`` pairs ``(x_i, x_{i + d_rot/2})``; pair ``i`` at position ``m`` is rotated by the angle
``m * theta_i`` with ``theta_i = base^{-2i / d_rot}``. In complex form ``z_i -> z_i e^{i m theta_i}``,
so ``<R_m q, R_n k>`` depends on ``m - n`` only (Su et al. 2021).

The frequency transforms of question q08-04 (interpolation, NTK, YaRN, ...) only change the vector
``inv_freq`` (and a scalar ``attention_scaling`` for YaRN/LongRoPE); everything here accepts any
``inv_freq``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._checks import check_int, check_tensor

__all__ = ["rope_inv_freq", "rope_cos_sin", "rotate_half", "apply_rope", "RotaryEmbedding"]


def rope_inv_freq(d_rot: int, base: float = 10000.0) -> torch.Tensor:
    r"""The RoPE frequencies :math:`\theta_i = \text{base}^{-2i/d_{rot}}`, :math:`i = 0..d_{rot}/2-1`.

    Parameters
    ----------
    d_rot : int
        Number of rotated dimensions (even; the head width for full RoPE).
    base : float
        The RoPE base (10 000 in RoFormer and Llama 2; 500 000 in Llama 3).

    Returns
    -------
    torch.Tensor, shape (d_rot // 2,), float64
        Angular frequency of each pair, in radians per position (decreasing).

    Raises
    ------
    ValueError
        If ``d_rot`` is not a positive even integer or ``base <= 1``.

    Notes
    -----
    Pair ``i`` has wavelength :math:`2\pi / \theta_i`, from :math:`2\pi` positions (i = 0) up to
    almost :math:`2\pi \cdot \text{base}`. See questions q08-03 and q08-04.

    References
    ----------
    .. [1] Su et al., "RoFormer: Enhanced Transformer with Rotary Position Embedding", 2021,
       arXiv:2104.09864.

    Examples
    --------
    >>> rope_inv_freq(4, base=100.0)
    tensor([1.0000, 0.1000], dtype=torch.float64)
    """
    d_rot = check_int(d_rot, "d_rot", low=2)
    if d_rot % 2:
        raise ValueError(f"d_rot must be even (RoPE rotates pairs of dimensions); got {d_rot}.")
    if isinstance(base, bool) or not isinstance(base, (int, float)) or not math.isfinite(base) or base <= 1:
        raise ValueError(f"base must be a finite number > 1; got {base!r}.")
    return float(base) ** (-torch.arange(0, d_rot, 2, dtype=torch.float64) / d_rot)  # (d_rot/2,)


def rope_cos_sin(
    positions: torch.Tensor,
    inv_freq: torch.Tensor,
    *,
    attention_scaling: float = 1.0,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Cosine and sine tables for ``positions``, duplicated to the rotate-half layout.

    Parameters
    ----------
    positions : torch.Tensor, shape (T,) or (B, T)
        Integer (or real, for interpolation) positions.
    inv_freq : torch.Tensor, shape (d_rot // 2,)
        Frequencies, e.g. from :func:`rope_inv_freq` or a q08-04 transform.
    attention_scaling : float
        Factor multiplied into cos and sin (YaRN's :math:`0.1 \ln s + 1`; 1 for plain RoPE).
        Scaling both q and k by it scales the logits by its square.
    dtype : torch.dtype
        Dtype of the returned tables. Angles are always computed in float64, so that large
        positions keep their precision (a bf16 angle table is a classic long-context bug).

    Returns
    -------
    cos, sin : torch.Tensor, shape (..., T, d_rot)
        ``cat([cos(m theta), cos(m theta)], -1)`` and likewise for sin.

    Raises
    ------
    TypeError, ValueError
        If an argument is not a tensor or has the wrong number of dimensions.

    Examples
    --------
    >>> cos, sin = rope_cos_sin(torch.arange(3), rope_inv_freq(4))
    >>> tuple(cos.shape), float(cos[0].min()), float(sin[0].abs().max())
    ((3, 4), 1.0, 0.0)
    """
    check_tensor(positions, "positions", floating=False)
    if positions.ndim not in (1, 2):
        raise ValueError(f"positions must be 1-D (T,) or 2-D (B, T); got shape {tuple(positions.shape)}.")
    check_tensor(inv_freq, "inv_freq", ndim=1, layout="(d_rot // 2,)")
    angles = positions.to(torch.float64)[..., None] * inv_freq.to(torch.float64)  # (..., T, d_rot/2)
    emb = torch.cat((angles, angles), dim=-1)  # (..., T, d_rot)
    return (emb.cos() * attention_scaling).to(dtype), (emb.sin() * attention_scaling).to(dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    r"""Map ``[x1, x2] -> [-x2, x1]`` on the last dimension (multiplication by :math:`i` per pair).

    Raises
    ------
    ValueError
        If the last dimension is odd (the halves would not pair up).

    Examples
    --------
    >>> rotate_half(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    tensor([-3., -4.,  1.,  2.])
    """
    check_tensor(x, "x")
    if x.ndim == 0 or x.shape[-1] % 2:
        raise ValueError(f"the last dimension of x must be even (pairs (x_i, x_i+d/2)); got {x.shape[-1]}.")
    x1, x2 = x.chunk(2, dim=-1)  # (..., d/2) each
    return torch.cat((-x2, x1), dim=-1)  # (..., d)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    r"""Rotate queries or keys: ``x * cos + rotate_half(x) * sin`` on the first ``d_rot`` dims.

    Parameters
    ----------
    x : torch.Tensor, shape (B, H, T, d)
        Queries or keys, batch-first.
    cos, sin : torch.Tensor, shape (T, d_rot) or (B, T, d_rot)
        Tables from :func:`rope_cos_sin`. With ``d_rot < d`` only the first ``d_rot``
        dimensions rotate (partial RoPE, e.g. GPT-NeoX / Phi); the rest pass through.

    Returns
    -------
    torch.Tensor, shape (B, H, T, d)
        The rotated tensor (a new tensor; ``x`` is not modified).

    Raises
    ------
    TypeError, ValueError
        If shapes disagree or ``d_rot`` is odd or larger than ``d``.

    Notes
    -----
    Each pair is multiplied by a rotation matrix, so norms are preserved and
    :math:`(R_m q)^\top (R_n k) = q^\top R_{n-m} k`. See question q08-03.

    Examples
    --------
    >>> x = torch.randn(1, 2, 5, 8, generator=torch.Generator().manual_seed(0))
    >>> cos, sin = rope_cos_sin(torch.arange(5), rope_inv_freq(8))
    >>> y = apply_rope(x, cos, sin)
    >>> torch.allclose(y.norm(dim=-1), x.norm(dim=-1))
    True
    """
    check_tensor(x, "x", ndim=4, layout="(B, H, T, d)")
    check_tensor(cos, "cos")
    check_tensor(sin, "sin")
    if cos.shape != sin.shape or cos.ndim not in (2, 3):
        raise ValueError(
            f"cos and sin must share a shape (T, d_rot) or (B, T, d_rot); got {tuple(cos.shape)} and {tuple(sin.shape)}."
        )
    d_rot = cos.shape[-1]
    if d_rot % 2 or d_rot > x.shape[-1]:
        raise ValueError(f"d_rot (last dim of cos) must be even and <= d={x.shape[-1]}; got {d_rot}.")
    if cos.shape[-2] != x.shape[2] or (cos.ndim == 3 and cos.shape[0] not in (1, x.shape[0])):
        raise ValueError(
            f"cos must be (T, d_rot) or (B, T, d_rot) for x of shape {tuple(x.shape)}; got {tuple(cos.shape)}."
        )
    return _apply_rope_core(x, cos, sin)


def _apply_rope_core(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    d_rot = cos.shape[-1]
    if cos.ndim == 3:
        cos, sin = cos[:, None], sin[:, None]  # (B, 1, T, d_rot): broadcast over heads
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    x_rot, x_pass = x[..., :d_rot], x[..., d_rot:]  # (B, H, T, d_rot), (B, H, T, d - d_rot)
    out = x_rot * cos + rotate_half(x_rot) * sin  # (B, H, T, d_rot)
    return torch.cat((out, x_pass), dim=-1) if x_pass.shape[-1] else out  # (B, H, T, d)


class RotaryEmbedding(nn.Module):
    r"""Holds ``inv_freq`` and turns positions into ``(cos, sin)`` tables.

    Parameters
    ----------
    d_rot : int
        Rotated dimensions per head (even).
    base : float
        RoPE base, used when ``inv_freq`` is not given.
    inv_freq : torch.Tensor, optional, shape (d_rot // 2,)
        Frequencies from a scaling transform (question q08-04); overrides ``base``.
    attention_scaling : float
        Multiplier on cos/sin (YaRN / LongRoPE); 1 for plain RoPE.

    Examples
    --------
    >>> rope = RotaryEmbedding(8)
    >>> cos, sin = rope(torch.arange(4), dtype=torch.float64)
    >>> tuple(cos.shape)
    (4, 8)
    """

    def __init__(
        self,
        d_rot: int,
        *,
        base: float = 10000.0,
        inv_freq: torch.Tensor | None = None,
        attention_scaling: float = 1.0,
    ) -> None:
        super().__init__()
        default = rope_inv_freq(d_rot, base)
        if inv_freq is not None:
            check_tensor(inv_freq, "inv_freq", ndim=1, layout="(d_rot // 2,)")
            if inv_freq.shape != default.shape:
                raise ValueError(f"inv_freq must have shape {tuple(default.shape)}; got {tuple(inv_freq.shape)}.")
            default = inv_freq.to(torch.float64)
        self.d_rot = d_rot
        self.attention_scaling = float(attention_scaling)
        self.register_buffer("inv_freq", default, persistent=False)

    def forward(self, positions: torch.Tensor, *, dtype: torch.dtype = torch.float32):
        """``(cos, sin)``, each (T, d_rot) or (B, T, d_rot), for integer ``positions``."""
        return rope_cos_sin(positions, self.inv_freq, attention_scaling=self.attention_scaling, dtype=dtype)
