r"""Transformer encoder and decoder layers, Post-LN or Pre-LN, loadable from torch.

Post-LN (Vaswani et al. 2017): ``x = LN(x + F(x))``. Pre-LN (Xiong et al. 2020):
``x = x + F(LN(x))``. Both match ``nn.TransformerEncoderLayer`` / ``nn.TransformerDecoderLayer``
with ``batch_first=True`` and the same ``norm_first`` setting.
"""

from __future__ import annotations

import torch
from torch import nn

from ._checks import check_int
from .mha import MultiHeadAttention

__all__ = ["FeedForward", "EncoderLayer", "DecoderLayer"]

_ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU}


class FeedForward(nn.Module):
    r"""Position-wise feed-forward network ``W_2 act(W_1 x + b_1) + b_2``.

    Parameters
    ----------
    d_model : int
        Input and output width.
    d_ff : int
        Hidden width (``4 d_model`` in the original Transformer).
    activation : {"relu", "gelu"}
        Non-linearity.
    dropout : float
        Dropout after the activation.

    Notes
    -----
    FLOPs :math:`4 n d\, d_{ff}` (:math:`16 n d^2` for :math:`d_{ff} = 4d`). See question q07-01.

    Examples
    --------
    >>> FeedForward(8, 32)(torch.zeros(2, 3, 8)).shape
    torch.Size([2, 3, 8])
    """

    def __init__(self, d_model: int, d_ff: int, *, activation: str = "relu", dropout: float = 0.0) -> None:
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}; got {activation!r}.")
        self.linear1 = nn.Linear(check_int(d_model, "d_model", low=1), check_int(d_ff, "d_ff", low=1))
        self.linear2 = nn.Linear(d_ff, d_model)
        self.act = _ACTIVATIONS[activation]()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply to (B, T, d_model); returns (B, T, d_model)."""
        return self.linear2(self.dropout(self.act(self.linear1(x))))  # (B, T, d_model)


def _copy_ffn(ffn: FeedForward, ref: nn.Module) -> None:
    ffn.linear1.load_state_dict(ref.linear1.state_dict())
    ffn.linear2.load_state_dict(ref.linear2.state_dict())


def _activation_name(ref: nn.Module) -> str:
    act = ref.activation
    if act is torch.nn.functional.relu or isinstance(act, nn.ReLU):
        return "relu"
    if act is torch.nn.functional.gelu or isinstance(act, nn.GELU):
        return "gelu"
    raise ValueError(f"ref.activation must be relu or gelu; got {act!r}.")


class EncoderLayer(nn.Module):
    r"""Self-attention + FFN block, Post-LN or Pre-LN (also the GPT block when causal).

    Parameters
    ----------
    d_model, n_heads, d_ff : int
        Width, heads (must divide ``d_model``), FFN hidden width.
    dropout : float
        Dropout on each sublayer output (and inside the FFN), as in torch.
    activation : {"relu", "gelu"}
        FFN non-linearity.
    norm_first : bool
        False: Post-LN ``x = LN(alpha x + F(x))``; True: Pre-LN ``x = x + F(LN(x))``.
    eps : float
        LayerNorm epsilon (torch's default 1e-5).
    residual : bool
        If False, drop the skip connection (``x = LN(F(x))`` / ``x = F(LN(x))``): only for
        the experiment of question q07-09.
    residual_alpha : float
        Post-LN only: scale of the skip branch, ``LN(alpha x + F(x))``. 1.0 is standard.
        DeepNorm (Wang et al. 2022) uses :math:`\alpha = (2N)^{1/4}` for an N-layer
        encoder-only or decoder-only stack; in an encoder-decoder model the encoder uses
        :math:`0.81 (N^4 M)^{1/16}` and the M-layer decoder :math:`(3M)^{1/4}`.

    Notes
    -----
    ``torch.nn.LayerNorm`` is used (chapter 6 derives LayerNorm). Masks use the package
    convention, True = attend. See questions q07-07, q07-08 and q07-09.

    References
    ----------
    .. [1] Vaswani et al., "Attention Is All You Need", 2017, arXiv:1706.03762.
    .. [2] Xiong et al., "On Layer Normalization in the Transformer Architecture", 2020,
       arXiv:2002.04745.

    Examples
    --------
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> ref = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True, norm_first=True)
    >>> x = torch.randn(2, 5, 8)
    >>> torch.allclose(EncoderLayer.from_torch(ref)(x), ref(x), atol=1e-5)
    True
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        d_ff: int,
        *,
        dropout: float = 0.0,
        activation: str = "relu",
        norm_first: bool = False,
        eps: float = 1e-5,
        residual: bool = True,
        residual_alpha: float = 1.0,
    ) -> None:
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, n_heads)
        self.ffn = FeedForward(d_model, d_ff, activation=activation, dropout=dropout)
        self.norm1 = nn.LayerNorm(d_model, eps=eps)
        self.norm2 = nn.LayerNorm(d_model, eps=eps)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.norm_first = norm_first
        self.residual = residual
        self.residual_alpha = residual_alpha

    @classmethod
    def from_torch(cls, ref: nn.TransformerEncoderLayer) -> EncoderLayer:
        """Copy an ``nn.TransformerEncoderLayer`` (``batch_first=True``) into this class.

        Parameters
        ----------
        ref : nn.TransformerEncoderLayer

        Returns
        -------
        EncoderLayer
            Same dtype/device, copied weights, same ``norm_first``, dropout and eps.
        """
        if not isinstance(ref, nn.TransformerEncoderLayer):
            raise TypeError(f"ref must be nn.TransformerEncoderLayer; got {type(ref).__name__}.")
        w = ref.linear1.weight
        layer = cls(
            ref.self_attn.embed_dim,
            ref.self_attn.num_heads,
            ref.linear1.out_features,
            dropout=ref.dropout.p,
            activation=_activation_name(ref),
            norm_first=ref.norm_first,
            eps=ref.norm1.eps,
        ).to(dtype=w.dtype, device=w.device)
        layer.self_attn = MultiHeadAttention.from_torch(ref.self_attn)
        _copy_ffn(layer.ffn, ref)
        layer.norm1.load_state_dict(ref.norm1.state_dict())
        layer.norm2.load_state_dict(ref.norm2.state_dict())
        return layer

    def _sublayer(self, x: torch.Tensor, f, norm: nn.LayerNorm) -> torch.Tensor:
        if self.norm_first:
            out = f(norm(x))  # (B, T, d_model)
            return x + out if self.residual else out
        out = f(x)  # (B, T, d_model)
        return norm(self.residual_alpha * x + out if self.residual else out)

    def forward(
        self,
        x: torch.Tensor,
        *,
        attn_mask: torch.Tensor | None = None,
        key_mask: torch.Tensor | None = None,
        is_causal: bool = False,
    ) -> torch.Tensor:
        """Apply the layer to x of shape (B, T, d_model); returns (B, T, d_model).

        ``attn_mask`` (True = attend, broadcastable to (B, H, T, T)), ``key_mask`` (B, T)
        True on real tokens, ``is_causal`` for decoder-only (GPT-style) use.
        """
        x = self._sublayer(
            x,
            lambda h: self.dropout1(self.self_attn(h, attn_mask=attn_mask, key_mask=key_mask, is_causal=is_causal)),
            self.norm1,
        )  # (B, T, d_model)
        x = self._sublayer(x, lambda h: self.dropout2(self.ffn(h)), self.norm2)  # (B, T, d_model)
        return x


class DecoderLayer(nn.Module):
    r"""Causal self-attention + cross-attention + FFN (encoder-decoder Transformer).

    Parameters
    ----------
    d_model, n_heads, d_ff : int
        Width, heads (must divide ``d_model``), FFN hidden width.
    dropout : float
        Dropout on each sublayer output and inside the FFN.
    activation : {"relu", "gelu"}
        FFN non-linearity.
    norm_first : bool
        Pre-LN (True) or Post-LN (False).
    eps : float
        LayerNorm epsilon.

    Notes
    -----
    The memory (encoder output) is used as keys and values of the cross-attention and is
    *not* normalised here (the encoder's final LayerNorm does that in Pre-LN stacks), as
    in torch. See question q07-07.

    References
    ----------
    .. [1] Vaswani et al., "Attention Is All You Need", 2017, arXiv:1706.03762.

    Examples
    --------
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> ref = nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    >>> y, mem = torch.randn(2, 4, 8), torch.randn(2, 6, 8)
    >>> ours = DecoderLayer.from_torch(ref)(y, mem, tgt_is_causal=True)
    >>> theirs = ref(y, mem, tgt_mask=nn.Transformer.generate_square_subsequent_mask(4), tgt_is_causal=True)
    >>> torch.allclose(ours, theirs, atol=1e-5)
    True
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        d_ff: int,
        *,
        dropout: float = 0.0,
        activation: str = "relu",
        norm_first: bool = False,
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, n_heads)
        self.cross_attn = MultiHeadAttention(d_model, n_heads)
        self.ffn = FeedForward(d_model, d_ff, activation=activation, dropout=dropout)
        self.norm1 = nn.LayerNorm(d_model, eps=eps)
        self.norm2 = nn.LayerNorm(d_model, eps=eps)
        self.norm3 = nn.LayerNorm(d_model, eps=eps)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)
        self.norm_first = norm_first

    @classmethod
    def from_torch(cls, ref: nn.TransformerDecoderLayer) -> DecoderLayer:
        """Copy an ``nn.TransformerDecoderLayer`` (``batch_first=True``) into this class.

        Parameters
        ----------
        ref : nn.TransformerDecoderLayer

        Returns
        -------
        DecoderLayer
        """
        if not isinstance(ref, nn.TransformerDecoderLayer):
            raise TypeError(f"ref must be nn.TransformerDecoderLayer; got {type(ref).__name__}.")
        w = ref.linear1.weight
        layer = cls(
            ref.self_attn.embed_dim,
            ref.self_attn.num_heads,
            ref.linear1.out_features,
            dropout=ref.dropout.p,
            activation=_activation_name(ref),
            norm_first=ref.norm_first,
            eps=ref.norm1.eps,
        ).to(dtype=w.dtype, device=w.device)
        layer.self_attn = MultiHeadAttention.from_torch(ref.self_attn)
        layer.cross_attn = MultiHeadAttention.from_torch(ref.multihead_attn)
        _copy_ffn(layer.ffn, ref)
        for name in ("norm1", "norm2", "norm3"):
            getattr(layer, name).load_state_dict(getattr(ref, name).state_dict())
        return layer

    def _sublayer(self, x: torch.Tensor, f, norm: nn.LayerNorm) -> torch.Tensor:
        return x + f(norm(x)) if self.norm_first else norm(x + f(x))

    def forward(
        self,
        y: torch.Tensor,
        memory: torch.Tensor,
        *,
        tgt_mask: torch.Tensor | None = None,
        tgt_key_mask: torch.Tensor | None = None,
        memory_key_mask: torch.Tensor | None = None,
        tgt_is_causal: bool = True,
    ) -> torch.Tensor:
        """Decode ``y`` (B, T, d_model) attending to ``memory`` (B, S, d_model); returns (B, T, d_model).

        Masks: True = attend; ``tgt_key_mask`` (B, T) and ``memory_key_mask`` (B, S) are
        True on real tokens. ``tgt_is_causal`` (default True) adds the causal mask.
        """
        y = self._sublayer(
            y,
            lambda h: self.dropout1(
                self.self_attn(h, attn_mask=tgt_mask, key_mask=tgt_key_mask, is_causal=tgt_is_causal)
            ),
            self.norm1,
        )  # (B, T, d_model)
        y = self._sublayer(
            y, lambda h: self.dropout2(self.cross_attn(h, memory, key_mask=memory_key_mask)), self.norm2
        )  # (B, T, d_model)
        y = self._sublayer(y, lambda h: self.dropout3(self.ffn(h)), self.norm3)  # (B, T, d_model)
        return y
