"""Tests for interviewlib.vision.vit: patchify, PatchEmbedding, ViTEncoder."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from interviewlib.transformer import EncoderLayer
from interviewlib.vision import PatchEmbedding, ViTEncoder, patchify, unpatchify

ATOL64 = 1e-12  # float64 conv vs matmul: same products, different summation order


def test_patchify_hand_worked():
    x = torch.arange(32.0).reshape(1, 2, 4, 4)  # two channels
    p = patchify(x, 2)
    assert p.shape == (1, 4, 8)
    # patch 2 = grid row 1, column 0: rows 2-3, columns 0-1 of each channel, channel-major
    assert p[0, 2].tolist() == [8.0, 9.0, 12.0, 13.0, 24.0, 25.0, 28.0, 29.0]


def test_patchify_matches_unfold():
    x = torch.randn(3, 2, 6, 8, dtype=torch.float64)
    ref = nn.functional.unfold(x, kernel_size=2, stride=2).transpose(1, 2)  # (B, N, C p^2), same order
    assert torch.equal(patchify(x, 2), ref)


@settings(max_examples=20, deadline=None)
@given(
    st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(0, 99)
)
def test_unpatchify_inverts_patchify(B, C, h, w, p, seed):
    x = torch.randn(B, C, h * p, w * p, generator=torch.Generator().manual_seed(seed))
    assert torch.equal(unpatchify(patchify(x, p), p, (h * p, w * p), channels=C), x)


def test_patch_embedding_equals_strided_conv():
    torch.manual_seed(0)
    emb = PatchEmbedding(4, in_channels=3, d_model=5).double()
    conv = nn.Conv2d(3, 5, kernel_size=4, stride=4).double()
    with torch.no_grad():
        conv.weight.copy_(emb.proj.weight.view(5, 3, 4, 4))
        conv.bias.copy_(emb.proj.bias)
    x = torch.randn(2, 3, 8, 12, dtype=torch.float64)
    ref = conv(x).flatten(2).transpose(1, 2)  # (B, N, d), row-major over the grid
    torch.testing.assert_close(emb(x), ref, atol=ATOL64, rtol=0)


def test_vit_encoder_is_embed_plus_chapter7_blocks():
    torch.manual_seed(1)
    enc = ViTEncoder(8, 2, d_model=16, n_layers=2, n_heads=4, d_ff=32).double()
    assert all(isinstance(b, EncoderLayer) and b.norm_first for b in enc.blocks)
    x = torch.randn(3, 1, 8, 8, dtype=torch.float64)
    tokens = enc.patch_embed(x) + enc.pos_embed
    h = torch.cat([enc.cls_token.expand(3, -1, -1), tokens], dim=1)
    for b in enc.blocks:
        h = b(h)
    torch.testing.assert_close(enc(x), enc.norm(h), atol=ATOL64, rtol=0)


def test_vit_encoder_matches_torch_encoder_layers():
    """The same encoder written with torch's own nn.TransformerEncoderLayer (Pre-LN, GELU)."""
    torch.manual_seed(2)
    enc = ViTEncoder(8, 4, d_model=12, n_layers=2, n_heads=3, d_ff=24).double().eval()
    refs = []
    for _ in range(2):
        ref = nn.TransformerEncoderLayer(12, 3, 24, dropout=0.0, activation="gelu", batch_first=True, norm_first=True)
        refs.append(ref.double().eval())
    with torch.no_grad():
        for i, ref in enumerate(refs):
            enc.blocks[i] = EncoderLayer.from_torch(ref)
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    h = torch.cat([enc.cls_token.expand(2, -1, -1), enc.embed(x)], dim=1)
    for ref in refs:
        h = ref(h)
    torch.testing.assert_close(enc(x), enc.norm(h), atol=1e-10, rtol=0)


def test_vit_without_cls_and_token_count():
    enc = ViTEncoder(8, 4, d_model=8, n_layers=1, n_heads=2, cls_token=False)
    assert enc(torch.zeros(2, 1, 8, 8)).shape == (2, 4, 8)
    assert enc.n_patches == 4


def test_patch_position_matters():
    """Position embeddings break permutation symmetry: swapping two patches changes the output."""
    torch.manual_seed(3)
    enc = ViTEncoder(4, 2, d_model=8, n_layers=1, n_heads=2).double()
    x = torch.randn(1, 1, 4, 4, dtype=torch.float64)
    swapped = x.clone()
    swapped[..., :2, :2], swapped[..., :2, 2:] = x[..., :2, 2:], x[..., :2, :2]
    assert not torch.allclose(enc(x)[:, 0], enc(swapped)[:, 0])


@pytest.mark.parametrize("bad", [None, "not valid", float("nan"), [[1.0, 2.0], [3.0]]])
def test_bad_first_arguments(bad):
    with pytest.raises(TypeError, match="images"):
        patchify(bad, 2)
    with pytest.raises(TypeError, match="patches"):
        unpatchify(bad, 2, (4, 4))
    with pytest.raises(TypeError, match="patch_size"):
        PatchEmbedding(bad)
    with pytest.raises(TypeError, match="image_size"):
        ViTEncoder(bad, 2)


def test_bad_shapes():
    with pytest.raises(ValueError, match="multiples of patch_size"):
        patchify(torch.zeros(1, 1, 5, 4), 2)
    with pytest.raises(ValueError, match="4-D"):
        patchify(torch.zeros(1, 4, 4), 2)
    with pytest.raises(ValueError, match="floating"):
        patchify(torch.zeros(1, 1, 4, 4, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="must have shape"):
        unpatchify(torch.zeros(1, 3, 4), 2, (4, 4))
    with pytest.raises(ValueError, match="patch_size must divide"):
        ViTEncoder(8, 3)
    with pytest.raises(ValueError, match="channels"):
        PatchEmbedding(2, in_channels=3)(torch.zeros(1, 1, 4, 4))
    with pytest.raises(ValueError, match="8x8"):
        ViTEncoder(8, 2, d_model=8, n_heads=2)(torch.zeros(1, 1, 4, 4))
    with pytest.raises(ValueError, match="divisible by n_heads"):
        ViTEncoder(8, 2, d_model=10, n_heads=4)
