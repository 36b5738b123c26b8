r"""Masked autoencoder (MAE, He et al. 2021): random masking, asymmetric encoder-decoder, loss.

Per image, a random 75 % of the patch tokens is dropped; the encoder sees only the kept
25 % (so pretraining costs about a quarter of a full forward pass); a small decoder gets
the encoded kept tokens plus a shared learned ``[MASK]`` token in every dropped slot, in
the original order, and predicts the pixels of every patch. The loss is the mean squared
error on the *masked* patches only, optionally against per-patch normalised pixels.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from interviewlib.transformer import EncoderLayer
from interviewlib.transformer._checks import check_int, check_tensor

from .vit import ViTEncoder, _patchify

__all__ = ["MAE", "MAEOutput", "mae_loss", "random_masking"]


def _generator(rng, device) -> torch.Generator | None:
    if isinstance(rng, bool) or not (rng is None or isinstance(rng, (int, torch.Generator))):
        raise TypeError(f"rng must be a torch.Generator, an int seed or None; got {type(rng).__name__}.")
    if isinstance(rng, int):
        return torch.Generator(device=device).manual_seed(rng)
    return rng


def _check_ratio(mask_ratio) -> float:
    if isinstance(mask_ratio, bool) or not isinstance(mask_ratio, (int, float)):
        raise TypeError(f"mask_ratio must be a real number; got {type(mask_ratio).__name__}.")
    if not 0.0 <= float(mask_ratio) < 1.0:
        raise ValueError(f"mask_ratio must be in [0, 1) so that at least one token is kept; got {mask_ratio}.")
    return float(mask_ratio)


def random_masking(
    tokens: torch.Tensor, mask_ratio: float = 0.75, *, rng: torch.Generator | int | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Keep a random subset of tokens per sample, by sorting per-sample uniform noise.

    Parameters
    ----------
    tokens : torch.Tensor, shape (B, N, d)
        Token sequence (patch embeddings with their position embeddings already added).
    mask_ratio : float in [0, 1)
        Fraction to drop; :math:`K = \lfloor N(1 - r)\rfloor` tokens are kept (at least 1).
    rng : torch.Generator or int or None
        Source of the noise (an int is a seed).

    Returns
    -------
    kept : torch.Tensor, shape (B, K, d)
        The kept tokens, in the random order of the shuffle.
    mask : torch.Tensor, shape (B, N)
        1.0 where the token was dropped, 0.0 where kept, in the *original* order.
    ids_restore : torch.Tensor, shape (B, N), int64
        Inverse permutation: ``cat([kept, filler], 1).gather(1, ids_restore)`` puts every
        token back in its original slot.

    Raises
    ------
    TypeError, ValueError
        On a non-3-D ``tokens``, a ratio outside [0, 1) or a bad ``rng``.

    Notes
    -----
    ``ids_shuffle = argsort(noise)`` is a uniformly random permutation per row (ties have
    probability 0); its first :math:`K` entries are kept, and ``argsort(ids_shuffle)`` is
    its inverse. Same as MAE's reference ``random_masking``. See question q12-01.

    References
    ----------
    .. [1] He et al., "Masked Autoencoders Are Scalable Vision Learners", CVPR 2022,
       arXiv:2111.06377.

    Examples
    --------
    >>> x = torch.arange(8.0).reshape(1, 8, 1)
    >>> kept, mask, ids_restore = random_masking(x, 0.75, rng=0)
    >>> kept.shape, int(mask.sum())
    (torch.Size([1, 2, 1]), 6)
    >>> sorted(kept.flatten().tolist()) == x[0, mask[0] == 0, 0].tolist()
    True
    """
    tokens = check_tensor(tokens, "tokens", ndim=3, layout="(B, N, d)")
    ratio = _check_ratio(mask_ratio)
    gen = _generator(rng, tokens.device)
    if tokens.shape[1] < 1:
        raise ValueError(f"tokens must have at least one token; got shape {tuple(tokens.shape)}.")
    return _random_masking(tokens, ratio, gen)


def _random_masking(tokens, ratio, gen):
    B, N, d = tokens.shape
    n_keep = max(1, int(N * (1.0 - ratio)))
    noise = torch.rand(B, N, generator=gen, device=tokens.device)  # (B, N)
    ids_shuffle = noise.argsort(dim=1)  # (B, N): small noise = kept
    ids_restore = ids_shuffle.argsort(dim=1)  # (B, N): inverse permutation
    ids_keep = ids_shuffle[:, :n_keep]  # (B, K)
    kept = tokens.gather(1, ids_keep[..., None].expand(-1, -1, d))  # (B, K, d)
    mask = torch.ones(B, N, dtype=tokens.dtype, device=tokens.device)
    mask[:, :n_keep] = 0.0
    mask = mask.gather(1, ids_restore)  # (B, N): back to the original order
    return kept, mask, ids_restore


def mae_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, *, norm_pix: bool = False) -> torch.Tensor:
    r"""Mean squared error per patch, averaged over the masked patches only.

    .. math:: L = \frac{\sum_{b,n} m_{bn}\,\frac1F\lVert \hat x_{bn} - \tilde x_{bn}\rVert^2}{\sum_{b,n} m_{bn}},
       \qquad \tilde x_{bn} = \frac{x_{bn} - \mu_{bn}}{\sqrt{\sigma^2_{bn} + 10^{-6}}}\ \text{if norm\_pix}.

    Parameters
    ----------
    pred, target : torch.Tensor, shape (B, N, F)
        Predicted and true pixels per patch (``F = C p^2``).
    mask : torch.Tensor, shape (B, N)
        1 on masked (dropped) patches, 0 on visible ones.
    norm_pix : bool
        Normalise each target patch by its own mean and (unbiased) variance, as MAE's
        ``norm_pix_loss``.

    Returns
    -------
    torch.Tensor
        Scalar loss.

    Raises
    ------
    TypeError, ValueError
        On mismatched shapes or a mask without any masked patch.

    Notes
    -----
    Visible patches are excluded: the encoder saw them, reconstructing them is trivial and
    He et al. report that including them lowers linear-probe accuracy. See question q12-01.

    Examples
    --------
    >>> pred, target = torch.zeros(1, 2, 4), torch.ones(1, 2, 4)
    >>> float(mae_loss(pred, target, torch.tensor([[1.0, 0.0]])))
    1.0
    """
    pred = check_tensor(pred, "pred", ndim=3, layout="(B, N, F)")
    target = check_tensor(target, "target", ndim=3, layout="(B, N, F)")
    mask = check_tensor(mask, "mask", ndim=2, layout="(B, N)")
    if target.shape != pred.shape or mask.shape != pred.shape[:2]:
        raise ValueError(
            f"pred {tuple(pred.shape)}, target {tuple(target.shape)} and mask {tuple(mask.shape)} must be "
            "(B, N, F), (B, N, F) and (B, N)."
        )
    if not isinstance(norm_pix, bool):
        raise TypeError(f"norm_pix must be a bool; got {type(norm_pix).__name__}.")
    if not float(mask.sum()) > 0:
        raise ValueError("mask must mark at least one patch as masked (1); got none.")
    if norm_pix and target.shape[-1] < 2:
        raise ValueError("norm_pix needs at least 2 pixels per patch to compute a variance.")
    return _mae_loss(pred, target, mask, norm_pix)


def _mae_loss(pred, target, mask, norm_pix):
    if norm_pix:
        mean = target.mean(dim=-1, keepdim=True)  # (B, N, 1)
        var = target.var(dim=-1, keepdim=True)  # (B, N, 1), unbiased as in MAE
        target = (target - mean) / (var + 1e-6).sqrt()
    per_patch = (pred - target).pow(2).mean(dim=-1)  # (B, N)
    return (per_patch * mask).sum() / mask.sum()


class MAEOutput(NamedTuple):
    """Result of :meth:`MAE.forward`: ``loss`` (scalar), ``pred`` (B, N, C p^2), ``mask`` (B, N)."""

    loss: torch.Tensor
    pred: torch.Tensor
    mask: torch.Tensor


class MAE(nn.Module):
    r"""Masked autoencoder around a :class:`ViTEncoder` with a small Transformer decoder.

    Parameters
    ----------
    encoder : ViTEncoder
        The encoder to pretrain (kept; after pretraining use ``mae.encoder`` alone).
    decoder_dim, decoder_layers, decoder_heads : int
        Width, depth and heads of the decoder (MAE uses 512 wide, 8 deep for ViT-L).
    mask_ratio : float
        Fraction of patches dropped per image (0.75 in MAE).
    norm_pix : bool
        Use per-patch normalised pixel targets.

    Notes
    -----
    Encoder cost drops to about :math:`(1-r)` of a full pass (fewer tokens, and attention
    by :math:`(1-r)^2`); the decoder runs on all :math:`N` tokens but is narrow and shallow.
    The decoder has its own position embedding: the mask tokens carry no content, only
    where they are. See question q12-01.

    References
    ----------
    .. [1] He et al., arXiv:2111.06377.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> mae = MAE(ViTEncoder(8, 2, d_model=16, n_layers=1, n_heads=2), decoder_dim=16, decoder_layers=1)
    >>> out = mae(torch.rand(3, 1, 8, 8), rng=0)
    >>> out.pred.shape, int(out.mask.sum(dim=1)[0])  # 16 patches, 12 masked
    (torch.Size([3, 16, 4]), 12)
    """

    def __init__(
        self,
        encoder: ViTEncoder,
        *,
        decoder_dim: int = 32,
        decoder_layers: int = 1,
        decoder_heads: int = 2,
        mask_ratio: float = 0.75,
        norm_pix: bool = False,
    ) -> None:
        super().__init__()
        if not isinstance(encoder, ViTEncoder):
            raise TypeError(f"encoder must be a ViTEncoder; got {type(encoder).__name__}.")
        if encoder.cls_token is None:
            raise ValueError("encoder must have a [CLS] token (cls_token=True) for this MAE.")
        decoder_dim = check_int(decoder_dim, "decoder_dim", low=1)
        decoder_layers = check_int(decoder_layers, "decoder_layers", low=1)
        if not isinstance(norm_pix, bool):
            raise TypeError(f"norm_pix must be a bool; got {type(norm_pix).__name__}.")
        self.encoder = encoder
        self.mask_ratio = _check_ratio(mask_ratio)
        self.norm_pix = norm_pix
        d_model = encoder.pos_embed.shape[-1]
        p, C = encoder.patch_size, encoder.patch_embed.in_channels
        self.decoder_embed = nn.Linear(d_model, decoder_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_dim))
        self.decoder_pos_embed = nn.Parameter(torch.randn(1, encoder.n_patches, decoder_dim) * 0.02)
        self.decoder_blocks = nn.ModuleList(
            EncoderLayer(decoder_dim, decoder_heads, 4 * decoder_dim, activation="gelu", norm_first=True)
            for _ in range(decoder_layers)
        )
        self.decoder_norm = nn.LayerNorm(decoder_dim)
        self.decoder_pred = nn.Linear(decoder_dim, C * p * p)

    def forward(self, images: torch.Tensor, *, rng: torch.Generator | int | None = None) -> MAEOutput:
        """Mask, encode the visible patches, decode all, and return the masked-patch loss."""
        gen = _generator(rng, images.device if isinstance(images, torch.Tensor) else None)
        tokens = self.encoder.embed(images)  # (B, N, d_model), validates images
        kept, mask, ids_restore = _random_masking(tokens, self.mask_ratio, gen)  # (B, K, d), (B, N), (B, N)
        latent = self.encoder.encode_tokens(kept)  # (B, K+1, d_model), [CLS] first
        x = self.decoder_embed(latent[:, 1:])  # (B, K, d_dec)
        B, N = mask.shape
        filler = self.mask_token.expand(B, N - x.shape[1], -1)  # (B, N-K, d_dec)
        x = torch.cat([x, filler], dim=1).gather(1, ids_restore[..., None].expand(-1, -1, x.shape[-1]))  # (B, N, d_dec)
        x = x + self.decoder_pos_embed
        for block in self.decoder_blocks:
            x = block(x)  # (B, N, d_dec)
        pred = self.decoder_pred(self.decoder_norm(x))  # (B, N, C p^2)
        target = _patchify(images, self.encoder.patch_size)  # (B, N, C p^2)
        return MAEOutput(_mae_loss(pred, target, mask, self.norm_pix), pred, mask)
