r"""A small configurable decoder-only Transformer language model (GPT-style).

Token + learned position embeddings, ``n_layers`` causal :class:`EncoderLayer` blocks
(Pre-LN or Post-LN, optionally DeepNorm-scaled), a final LayerNorm for Pre-LN, and a
linear head. Chapters 7-10 reuse it for small experiments.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._checks import check_int
from .layers import EncoderLayer

__all__ = ["TransformerLM", "block_grad_norms"]


class TransformerLM(nn.Module):
    r"""Decoder-only Transformer LM: ``logits = head(blocks(embed(idx)))``.

    Parameters
    ----------
    vocab_size : int
        Number of token ids.
    d_model, n_heads, n_layers : int
        Width, heads per layer (must divide ``d_model``), number of blocks.
    d_ff : int, optional
        FFN hidden width (default ``4 d_model``).
    max_len : int
        Longest sequence (size of the learned position table).
    norm_first : bool
        Pre-LN (True, GPT-2 style, adds a final LayerNorm) or Post-LN (False).
    deepnorm : bool
        Post-LN only: DeepNorm (Wang et al. 2022) for an N-layer decoder-only model
        (the paper writes M for decoder layers): skip scaled by
        :math:`\alpha = (2N)^{1/4}`, value/output/FFN weights Xavier-normal with gain
        :math:`\beta = (8N)^{-1/4}`, query/key weights Xavier-normal with gain 1. (The
        paper's encoder-decoder constants differ: decoder :math:`(3M)^{1/4}`,
        :math:`(12M)^{-1/4}`.)
    residual : bool
        Keep the skip connections (False only for the ablation of question q07-09).
    dropout : float
        Dropout inside the blocks.
    activation : {"relu", "gelu"}
        FFN non-linearity.
    emb_scale : float
        Standard deviation of the token and position embeddings at initialisation
        (1.0: unit-variance entries, comparable to the original Transformer, which scales
        its embeddings by :math:`\sqrt{d}`; GPT-2 uses 0.02 with Pre-LN). With Post-LN a small
        value drowns the token identity in the first sublayer's output, so keep it the same
        for both arms of a Pre-/Post-LN comparison.

    Attributes
    ----------
    blocks : nn.ModuleList of EncoderLayer
        The layers, index 0 nearest the input.

    Raises
    ------
    ValueError
        If ``deepnorm`` is combined with ``norm_first`` or the sizes are invalid.

    Notes
    -----
    Parameters are initialised by torch's defaults (Kaiming-uniform ``nn.Linear``,
    ``N(0, emb_scale^2)`` embeddings). FLOPs per token per layer
    :math:`\approx 24 d^2 + 4 n d` (forward). See questions q07-07, q07-08 and q07-09.

    References
    ----------
    .. [1] Radford et al., "Language Models are Unsupervised Multitask Learners", 2019.
    .. [2] Xiong et al., "On Layer Normalization in the Transformer Architecture", 2020,
       arXiv:2002.04745.
    .. [3] Wang et al., "DeepNet: Scaling Transformers to 1,000 Layers", 2022,
       arXiv:2203.00555.

    Examples
    --------
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> lm = TransformerLM(vocab_size=11, d_model=16, n_heads=2, n_layers=2, max_len=8)
    >>> lm(torch.randint(0, 11, (3, 5))).shape
    torch.Size([3, 5, 11])
    """

    def __init__(
        self,
        *,
        vocab_size: int,
        d_model: int,
        n_heads: int,
        n_layers: int,
        d_ff: int | None = None,
        max_len: int = 128,
        norm_first: bool = True,
        deepnorm: bool = False,
        residual: bool = True,
        dropout: float = 0.0,
        activation: str = "gelu",
        emb_scale: float = 1.0,
    ) -> None:
        super().__init__()
        vocab_size = check_int(vocab_size, "vocab_size", low=1)
        d_model = check_int(d_model, "d_model", low=1)
        n_layers = check_int(n_layers, "n_layers", low=1)
        self.max_len = check_int(max_len, "max_len", low=1)
        if deepnorm and norm_first:
            raise ValueError("deepnorm applies to Post-LN; got deepnorm=True with norm_first=True.")
        d_ff = 4 * d_model if d_ff is None else d_ff
        alpha = (2 * n_layers) ** 0.25 if deepnorm else 1.0
        self.tok_emb = nn.Embedding(vocab_size, d_model)
        self.pos_emb = nn.Embedding(self.max_len, d_model)
        self.blocks = nn.ModuleList(
            EncoderLayer(
                d_model,
                n_heads,
                d_ff,
                dropout=dropout,
                activation=activation,
                norm_first=norm_first,
                residual=residual,
                residual_alpha=alpha,
            )
            for _ in range(n_layers)
        )
        self.final_norm = nn.LayerNorm(d_model) if norm_first else nn.Identity()
        self.head = nn.Linear(d_model, vocab_size)
        with torch.no_grad():
            self.tok_emb.weight.mul_(emb_scale)
            self.pos_emb.weight.mul_(emb_scale)
            if deepnorm:
                beta = (8 * n_layers) ** -0.25
                for blk in self.blocks:
                    for lin in (blk.self_attn.v_proj, blk.self_attn.out_proj, blk.ffn.linear1, blk.ffn.linear2):
                        nn.init.xavier_normal_(lin.weight, gain=beta)
                    for lin in (blk.self_attn.q_proj, blk.self_attn.k_proj):
                        nn.init.xavier_normal_(lin.weight, gain=1.0)

    def forward(self, idx: torch.Tensor, *, key_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Next-token logits for token ids ``idx`` (B, T); returns (B, T, vocab_size).

        ``key_mask`` (B, T) is True on real tokens (right padding).
        """
        if not isinstance(idx, torch.Tensor) or idx.ndim != 2 or idx.is_floating_point():
            got = f"shape {tuple(idx.shape)}, {idx.dtype}" if isinstance(idx, torch.Tensor) else type(idx).__name__
            raise ValueError(f"idx must be a 2-D integer tensor (B, T); got {got}.")
        T = idx.shape[1]
        if T > self.max_len:
            raise ValueError(f"sequence length must be <= max_len={self.max_len}; got {T}.")
        pos = torch.arange(T, device=idx.device)  # (T,)
        x = self.tok_emb(idx) + self.pos_emb(pos)  # (B, T, d_model)
        for blk in self.blocks:
            x = blk(x, key_mask=key_mask, is_causal=True)  # (B, T, d_model)
        return self.head(self.final_norm(x))  # (B, T, vocab_size)


def block_grad_norms(model: TransformerLM) -> torch.Tensor:
    r"""L2 norm of the gradient of each block's parameters (after ``backward``).

    Parameters
    ----------
    model : TransformerLM
        A model whose ``.grad`` fields are populated (any ``nn.Module`` whose ``.blocks``
        is an ``nn.ModuleList`` works, e.g. :class:`DecoderLM`).

    Returns
    -------
    torch.Tensor, shape (n_layers,)
        Index 0 is the block nearest the input; blocks without gradients give 0.

    Raises
    ------
    TypeError
        If ``model`` is not an ``nn.Module`` with an ``nn.ModuleList`` of blocks.

    Notes
    -----
    Xiong et al. (2020) bound the gradient of the last FFN weight at initialisation by
    :math:`O(d\sqrt{\ln d})` for Post-LN (independent of the depth L) and
    :math:`O(d\sqrt{\ln d / L})` for Pre-LN, and observe that Post-LN gradients grow
    towards the output layer while Pre-LN gradients stay roughly level across layers.
    See question q07-08.

    Examples
    --------
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> lm = TransformerLM(vocab_size=5, d_model=8, n_heads=2, n_layers=3, max_len=4)
    >>> lm(torch.randint(0, 5, (2, 4))).sum().backward()
    >>> block_grad_norms(lm).shape
    torch.Size([3])
    """
    if not isinstance(model, nn.Module) or not isinstance(getattr(model, "blocks", None), nn.ModuleList):
        what = type(model).__name__ if not isinstance(model, nn.Module) else f"{type(model).__name__} without .blocks"
        raise TypeError(f"model must be a TransformerLM (an nn.Module with an nn.ModuleList .blocks); got {what}.")
    norms = []
    for blk in model.blocks:
        sq = sum((p.grad.detach() ** 2).sum() for p in blk.parameters() if p.grad is not None)
        norms.append(math.sqrt(float(sq)))
    return torch.tensor(norms)
