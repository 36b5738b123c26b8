r"""RMSNorm and the SwiGLU feed-forward block, the two pieces a Llama-style block adds to chapter 7's.

RMSNorm (Zhang & Sennrich 2019) drops LayerNorm's mean subtraction and bias:
``y = g * x / sqrt(mean(x^2) + eps)``. SwiGLU (Shazeer 2020) gates the FFN:
``W_down (SiLU(W_gate x) * (W_up x))``, three matrices instead of two, so Llama picks
``d_ff ~ 8d/3`` to keep the parameter count of a ``4d`` GELU FFN.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_int, check_tensor

__all__ = ["RMSNorm", "SwiGLU"]


class RMSNorm(nn.Module):
    r"""Root-mean-square normalisation over the last dimension, with a learned gain.

    Parameters
    ----------
    d : int
        Normalised width.
    eps : float
        Added to the mean square (Llama uses 1e-5 or 1e-6; read it from the config).

    Notes
    -----
    Computed in float32 at least (as Hugging Face's ``LlamaRMSNorm`` does for half inputs),
    then cast back; the gain starts at 1. Equals ``torch.nn.RMSNorm(d, eps)``. The numpy
    forward/backward derivation is :func:`interviewlib.nn.layernorm.rmsnorm_forward`. See question q08-08.

    References
    ----------
    .. [1] Zhang & Sennrich, "Root Mean Square Layer Normalization", 2019, arXiv:1910.07467.

    Examples
    --------
    >>> x = torch.randn(2, 3, 8, generator=torch.Generator().manual_seed(0))
    >>> torch.allclose(RMSNorm(8)(x), torch.nn.RMSNorm(8, eps=1e-6)(x), atol=1e-6)
    True
    """

    def __init__(self, d: int, *, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(check_int(d, "d", low=1)))
        if not isinstance(eps, (int, float)) or isinstance(eps, bool) or not eps > 0:
            raise ValueError(f"eps must be a positive number; got {eps!r}.")
        self.eps = float(eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise (..., d); returns the same shape, in the dtype of ``x`` when the gain shares it.

        A half-precision ``x`` with a float32 gain gives float32 (the gain's dtype wins, as in
        Hugging Face's ``LlamaRMSNorm``); call ``.to(dtype)`` on the module to keep ``x``'s dtype.
        """
        check_tensor(x, "x")
        if x.shape[-1] != self.weight.shape[0]:
            raise ValueError(f"x must have last dimension {self.weight.shape[0]}; got shape {tuple(x.shape)}.")
        work = x.to(torch.promote_types(x.dtype, torch.float32))  # (..., d)
        rms_inv = torch.rsqrt(work.pow(2).mean(-1, keepdim=True) + self.eps)  # (..., 1)
        return self.weight * (work * rms_inv).to(x.dtype)  # (..., d)


class SwiGLU(nn.Module):
    r"""Gated feed-forward block ``down(silu(gate(x)) * up(x))`` (no biases, as in Llama).

    Parameters
    ----------
    d_model, d_ff : int
        Width and hidden width.

    Notes
    -----
    Parameters :math:`3 d\, d_{ff}`; FLOPs per token :math:`6 d\, d_{ff}` (forward).
    See questions q07-01 and q08-08.

    References
    ----------
    .. [1] Shazeer, "GLU Variants Improve Transformer", 2020, arXiv:2002.05202.

    Examples
    --------
    >>> SwiGLU(8, 24)(torch.zeros(2, 3, 8)).shape
    torch.Size([2, 3, 8])
    """

    def __init__(self, d_model: int, d_ff: int) -> None:
        super().__init__()
        d_model, d_ff = check_int(d_model, "d_model", low=1), check_int(d_ff, "d_ff", low=1)
        self.gate_proj = nn.Linear(d_model, d_ff, bias=False)
        self.up_proj = nn.Linear(d_model, d_ff, bias=False)
        self.down_proj = nn.Linear(d_ff, d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply to (B, T, d_model); returns (B, T, d_model)."""
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))  # (B, T, d_model)
