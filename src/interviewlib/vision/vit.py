r"""Vision Transformer pieces: patchify, patch embedding and a Pre-LN ViT encoder.

An image :math:`x \in \mathbb{R}^{C\times H\times W}` is cut into :math:`N = HW/p^2`
non-overlapping :math:`p\times p` patches; each flattened patch (:math:`Cp^2` numbers) is
mapped linearly to width :math:`d`, a learned position embedding is added, an optional
``[CLS]`` token is prepended, and a stack of standard Transformer encoder blocks follows
(Dosovitskiy et al. 2020). The blocks are :class:`~interviewlib.transformer.layers.EncoderLayer`
(Pre-LN, GELU), i.e. exactly the chapter 7 encoder block; nothing about attention is
vision-specific.
"""

from __future__ import annotations

import torch
from torch import nn

from interviewlib.transformer import EncoderLayer
from interviewlib.transformer._checks import check_int, check_tensor

__all__ = ["PatchEmbedding", "ViTEncoder", "patchify", "unpatchify"]


def _check_images(images, patch_size: int) -> torch.Tensor:
    images = check_tensor(images, "images", ndim=4, layout="(B, C, H, W)")
    _, _, H, W = images.shape
    if H % patch_size or W % patch_size:
        raise ValueError(
            f"images height and width must be multiples of patch_size={patch_size}; got {H}x{W} "
            f"(crop or pad to {H - H % patch_size}x{W - W % patch_size})."
        )
    return images


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    r"""Cut images into flattened non-overlapping patches, row-major over the patch grid.

    Parameters
    ----------
    images : torch.Tensor, shape (B, C, H, W)
        Floating-point images; ``H`` and ``W`` must be multiples of ``patch_size``.
    patch_size : int
        Side :math:`p` of a square patch.

    Returns
    -------
    torch.Tensor, shape (B, N, C p^2)
        :math:`N = (H/p)(W/p)`; patch :math:`n = i\,(W/p) + j` is the one at grid row
        :math:`i`, column :math:`j`, flattened in ``(C, p, p)`` order, the order of a
        ``Conv2d`` kernel, so a linear map of these rows equals a stride-:math:`p` convolution.

    Raises
    ------
    TypeError, ValueError
        If ``images`` is not a 4-D floating tensor or its sides are not multiples of ``p``.

    Notes
    -----
    MAE flattens in ``(p, p, C)`` order instead; the order only permutes the features of
    each patch. See question q12-01.

    Examples
    --------
    >>> x = torch.arange(16.0).reshape(1, 1, 4, 4)
    >>> patchify(x, 2)[0, 1].tolist()  # top-right 2x2 patch
    [2.0, 3.0, 6.0, 7.0]
    """
    p = check_int(patch_size, "patch_size", low=1)
    images = _check_images(images, p)
    return _patchify(images, p)


def _patchify(images: torch.Tensor, p: int) -> torch.Tensor:
    B, C, H, W = images.shape
    x = images.reshape(B, C, H // p, p, W // p, p)  # (B, C, h, p, w, p)
    x = x.permute(0, 2, 4, 1, 3, 5)  # (B, h, w, C, p, p)
    return x.reshape(B, (H // p) * (W // p), C * p * p)  # (B, N, C p^2)


def unpatchify(patches: torch.Tensor, patch_size: int, image_size: tuple[int, int], channels: int = 1) -> torch.Tensor:
    r"""Inverse of :func:`patchify`: reassemble ``(B, N, C p^2)`` patches into images.

    Parameters
    ----------
    patches : torch.Tensor, shape (B, N, C p^2)
    patch_size : int
        :math:`p`.
    image_size : tuple of int
        ``(H, W)``, multiples of ``p`` with :math:`N = HW/p^2`.
    channels : int
        :math:`C`.

    Returns
    -------
    torch.Tensor, shape (B, C, H, W)

    Raises
    ------
    TypeError, ValueError
        On shapes that do not fit together.

    Notes
    -----
    See question q12-01.

    Examples
    --------
    >>> x = torch.randn(2, 3, 4, 6)
    >>> torch.equal(unpatchify(patchify(x, 2), 2, (4, 6), channels=3), x)
    True
    """
    patches = check_tensor(patches, "patches", ndim=3, layout="(B, N, C p^2)")
    p = check_int(patch_size, "patch_size", low=1)
    C = check_int(channels, "channels", low=1)
    if not isinstance(image_size, (tuple, list)) or len(image_size) != 2:
        raise TypeError(f"image_size must be a pair (H, W); got {image_size!r}.")
    H, W = (check_int(s, "image_size", low=1) for s in image_size)
    if H % p or W % p:
        raise ValueError(f"image_size must be multiples of patch_size={p}; got {(H, W)}.")
    B, N, F = patches.shape
    if N != (H // p) * (W // p) or F != C * p * p:
        raise ValueError(
            f"patches must have shape (B, {(H // p) * (W // p)}, {C * p * p}) for image_size={(H, W)}, "
            f"patch_size={p}, channels={C}; got {tuple(patches.shape)}."
        )
    x = patches.reshape(B, H // p, W // p, C, p, p)  # (B, h, w, C, p, p)
    return x.permute(0, 3, 1, 4, 2, 5).reshape(B, C, H, W)  # (B, C, H, W)


class PatchEmbedding(nn.Module):
    r"""Linear patch embedding: ``patchify`` then one ``nn.Linear(C p^2, d_model)``.

    Parameters
    ----------
    patch_size : int
        :math:`p`.
    in_channels : int
        :math:`C`.
    d_model : int
        Output width :math:`d`.

    Attributes
    ----------
    proj : nn.Linear
        Weight of shape ``(d_model, C p^2)``; ``proj.weight.view(d_model, C, p, p)`` is the
        equivalent ``Conv2d(C, d_model, kernel_size=p, stride=p)`` kernel.

    Notes
    -----
    The "patch embedding is a strided convolution" identity is how ViT implementations
    (and Qwen2-VL's ``Conv3d`` patch embedding) write it; the linear form makes plain that
    it is a per-patch matrix multiply with :math:`C p^2 d` weights. See question q12-01.

    References
    ----------
    .. [1] Dosovitskiy et al., "An Image is Worth 16x16 Words: Transformers for Image
       Recognition at Scale", ICLR 2021, arXiv:2010.11929.

    Examples
    --------
    >>> emb = PatchEmbedding(2, in_channels=1, d_model=8)
    >>> emb(torch.zeros(3, 1, 8, 8)).shape
    torch.Size([3, 16, 8])
    """

    def __init__(self, patch_size: int, *, in_channels: int = 1, d_model: int = 64) -> None:
        super().__init__()
        self.patch_size = check_int(patch_size, "patch_size", low=1)
        self.in_channels = check_int(in_channels, "in_channels", low=1)
        self.d_model = check_int(d_model, "d_model", low=1)
        self.proj = nn.Linear(self.in_channels * self.patch_size**2, self.d_model)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Embed (B, C, H, W) images; returns (B, N, d_model)."""
        images = _check_images(images, self.patch_size)
        if images.shape[1] != self.in_channels:
            raise ValueError(f"images must have {self.in_channels} channels; got shape {tuple(images.shape)}.")
        return self.proj(_patchify(images, self.patch_size))  # (B, N, d_model)


class ViTEncoder(nn.Module):
    r"""ViT encoder: patch embedding + learned position embedding + [CLS] + Pre-LN blocks.

    Parameters
    ----------
    image_size : int
        Side of the (square) input image.
    patch_size : int
        Side :math:`p` of a patch; must divide ``image_size``.
    in_channels : int
        Image channels.
    d_model, n_layers, n_heads, d_ff : int
        Width, depth, heads and MLP hidden width of the encoder blocks.
    cls_token : bool
        Prepend a learned ``[CLS]`` token (ViT, CLIP) or not (SigLIP pools differently).

    Attributes
    ----------
    patch_embed : PatchEmbedding
    pos_embed : nn.Parameter, shape (1, N, d_model)
        Learned 1-D position embedding of the patches (the ``[CLS]`` token has its own).
    blocks : nn.ModuleList of EncoderLayer
        Pre-LN, GELU blocks from ``interviewlib.transformer``.
    norm : nn.LayerNorm
        Final LayerNorm (needed with Pre-LN).

    Notes
    -----
    :meth:`embed` and :meth:`encode_tokens` split :meth:`forward` in two so that MAE can
    drop tokens in between: position embeddings are added *before* masking, so each kept
    token still knows where it came from. Cost per image: the blocks see
    :math:`N(+1)` tokens, so attention is :math:`O(N^2 d)` with :math:`N = HW/p^2`.
    See question q12-01.

    References
    ----------
    .. [1] Dosovitskiy et al., arXiv:2010.11929.

    Examples
    --------
    >>> enc = ViTEncoder(8, 2, d_model=16, n_layers=1, n_heads=2, d_ff=32)
    >>> enc(torch.zeros(4, 1, 8, 8)).shape  # [CLS] + 16 patches
    torch.Size([4, 17, 16])
    """

    def __init__(
        self,
        image_size: int,
        patch_size: int,
        *,
        in_channels: int = 1,
        d_model: int = 64,
        n_layers: int = 2,
        n_heads: int = 4,
        d_ff: int | None = None,
        cls_token: bool = True,
    ) -> None:
        super().__init__()
        image_size = check_int(image_size, "image_size", low=1)
        patch_size = check_int(patch_size, "patch_size", low=1)
        if image_size % patch_size:
            raise ValueError(f"patch_size must divide image_size; got image_size={image_size}, patch_size={patch_size}.")
        n_layers = check_int(n_layers, "n_layers", low=1)
        d_model = check_int(d_model, "d_model", low=1)
        d_ff = 4 * d_model if d_ff is None else d_ff
        if not isinstance(cls_token, bool):
            raise TypeError(f"cls_token must be a bool; got {type(cls_token).__name__}.")
        self.image_size, self.patch_size = image_size, patch_size
        self.n_patches = (image_size // patch_size) ** 2
        self.patch_embed = PatchEmbedding(patch_size, in_channels=in_channels, d_model=d_model)
        self.pos_embed = nn.Parameter(torch.randn(1, self.n_patches, d_model) * 0.02)
        self.cls_token = nn.Parameter(torch.randn(1, 1, d_model) * 0.02) if cls_token else None
        self.blocks = nn.ModuleList(
            EncoderLayer(d_model, n_heads, d_ff, activation="gelu", norm_first=True) for _ in range(n_layers)
        )
        self.norm = nn.LayerNorm(d_model)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Patch tokens plus position embeddings, no [CLS]: (B, C, H, W) -> (B, N, d_model)."""
        images = check_tensor(images, "images", ndim=4, layout="(B, C, H, W)")
        if images.shape[-2:] != (self.image_size, self.image_size):
            raise ValueError(
                f"images must be {self.image_size}x{self.image_size}; got shape {tuple(images.shape)}."
            )
        return self.patch_embed(images) + self.pos_embed  # (B, N, d_model)

    def encode_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """Prepend [CLS] (if any) and run the blocks and final norm: (B, K, d) -> (B, K(+1), d)."""
        tokens = check_tensor(tokens, "tokens", ndim=3, layout="(B, K, d_model)")
        if self.cls_token is not None:
            cls = self.cls_token.expand(tokens.shape[0], -1, -1)  # (B, 1, d_model)
            tokens = torch.cat([cls, tokens], dim=1)  # (B, K+1, d_model)
        for block in self.blocks:
            tokens = block(tokens)  # (B, K(+1), d_model)
        return self.norm(tokens)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Encode (B, C, H, W) images; returns (B, N(+1), d_model), [CLS] first when present."""
        return self.encode_tokens(self.embed(images))
