"""Tests for interviewlib.vision.mae: random_masking, mae_loss, MAE."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewlib.vision import MAE, ViTEncoder, mae_loss, patchify, random_masking

ATOL64 = 1e-12  # float64, a handful of additions in a different order


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.integers(1, 20), st.floats(0.0, 0.95), st.integers(0, 999))
def test_masking_keeps_the_right_tokens_and_restores_order(B, N, ratio, seed):
    tokens = torch.randn(B, N, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    kept, mask, ids_restore = random_masking(tokens, ratio, rng=seed)
    K = max(1, int(N * (1 - ratio)))
    assert kept.shape == (B, K, 3)
    assert torch.equal(mask.sum(dim=1), torch.full((B,), float(N - K), dtype=torch.float64))
    # ids_restore is a permutation of 0..N-1 in every row
    assert torch.equal(ids_restore.sort(dim=1).values, torch.arange(N).expand(B, N))
    # un-shuffling [kept, filler] puts every kept token back in its slot, and the slots are mask == 0
    filler = torch.full((B, N - K, 3), float("nan"), dtype=torch.float64)
    restored = torch.cat([kept, filler], dim=1).gather(1, ids_restore[..., None].expand(-1, -1, 3))
    visible = mask == 0
    assert torch.equal(restored[visible], tokens[visible])
    assert torch.isnan(restored[~visible]).all()


def test_masking_is_per_sample_and_seeded():
    tokens = torch.randn(64, 16, 2)
    _, m1, _ = random_masking(tokens, 0.75, rng=0)
    _, m2, _ = random_masking(tokens, 0.75, rng=0)
    _, m3, _ = random_masking(tokens, 0.75, rng=1)
    assert torch.equal(m1, m2) and not torch.equal(m1, m3)
    assert len({tuple(row.tolist()) for row in m1}) > 32  # rows get different masks


def test_masking_is_uniform_over_positions():
    """Each of N positions is kept with probability K/N; binomial 5-sigma band over 4000 rows."""
    R, N, K = 4000, 16, 4
    _, mask, _ = random_masking(torch.zeros(R, N, 1), 0.75, rng=123)
    kept_rate = (1 - mask).mean(dim=0).numpy()
    p = K / N
    assert np.all(np.abs(kept_rate - p) < 5 * math.sqrt(p * (1 - p) / R))


def test_mae_loss_direct_formula():
    rng = np.random.default_rng(0)
    pred, target = rng.normal(size=(3, 5, 4)), rng.normal(size=(3, 5, 4))
    mask = (rng.random((3, 5)) < 0.6).astype(float)
    mask[0, 0] = 1.0
    num = sum(mask[b, n] * np.mean((pred[b, n] - target[b, n]) ** 2) for b in range(3) for n in range(5))
    expected = num / mask.sum()
    got = mae_loss(torch.tensor(pred), torch.tensor(target), torch.tensor(mask))
    assert abs(float(got) - expected) < ATOL64
    tn = (target - target.mean(-1, keepdims=True)) / np.sqrt(target.var(-1, ddof=1, keepdims=True) + 1e-6)
    num = sum(mask[b, n] * np.mean((pred[b, n] - tn[b, n]) ** 2) for b in range(3) for n in range(5))
    got = mae_loss(torch.tensor(pred), torch.tensor(target), torch.tensor(mask), norm_pix=True)
    assert abs(float(got) - num / mask.sum()) < ATOL64


def test_mae_loss_ignores_visible_patches():
    pred, target = torch.zeros(1, 3, 2), torch.ones(1, 3, 2)
    pred_bad_visible = pred.clone()
    pred_bad_visible[0, 1] = 100.0  # a visible patch, not scored
    mask = torch.tensor([[1.0, 0.0, 1.0]])
    assert float(mae_loss(pred, target, mask)) == float(mae_loss(pred_bad_visible, target, mask)) == 1.0


def _tiny_mae(norm_pix=False):
    torch.manual_seed(0)
    enc = ViTEncoder(8, 2, d_model=16, n_layers=1, n_heads=2, d_ff=32)
    return MAE(enc, decoder_dim=16, decoder_layers=1, decoder_heads=2, norm_pix=norm_pix).double()


def test_mae_forward_loss_and_shapes():
    mae = _tiny_mae(norm_pix=True)
    x = torch.rand(4, 1, 8, 8, dtype=torch.float64)
    out = mae(x, rng=0)
    assert out.pred.shape == (4, 16, 4) and torch.equal(out.mask.sum(1), torch.full((4,), 12.0, dtype=torch.float64))
    torch.testing.assert_close(out.loss, mae_loss(out.pred, patchify(x, 2), out.mask, norm_pix=True))


def test_encoder_sees_only_the_visible_quarter():
    mae = _tiny_mae()
    seen = []
    hook = mae.encoder.blocks[0].register_forward_pre_hook(lambda m, args: seen.append(args[0].shape))
    mae(torch.rand(2, 1, 8, 8, dtype=torch.float64), rng=0)
    hook.remove()
    assert seen == [torch.Size([2, 1 + 4, 16])]  # [CLS] + 25 % of 16 patches


def test_predictions_do_not_depend_on_masked_pixels():
    """The encoder never sees masked patches: changing their pixels leaves every prediction unchanged."""
    mae = _tiny_mae()
    x = torch.rand(2, 1, 8, 8, dtype=torch.float64)
    out = mae(x, rng=7)
    patches = patchify(x, 2)
    patches[out.mask.bool()] = 5.0  # overwrite only the masked patches
    x2 = patches.reshape(2, 4, 4, 1, 2, 2).permute(0, 3, 1, 4, 2, 5).reshape(2, 1, 8, 8)
    out2 = mae(x2, rng=7)
    assert torch.equal(out.mask, out2.mask)
    torch.testing.assert_close(out2.pred, out.pred, atol=ATOL64, rtol=0)
    assert not torch.allclose(out2.loss, out.loss)  # but their targets changed


def test_gradients_reach_mask_token_and_encoder():
    mae = _tiny_mae()
    mae(torch.rand(2, 1, 8, 8, dtype=torch.float64), rng=0).loss.backward()
    assert mae.mask_token.grad.abs().sum() > 0
    assert mae.encoder.patch_embed.proj.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("bad", [None, "not valid", float("nan"), [[1.0, 2.0], [3.0]]])
def test_bad_first_arguments(bad):
    with pytest.raises(TypeError, match="tokens"):
        random_masking(bad)
    with pytest.raises(TypeError, match="pred"):
        mae_loss(bad, torch.zeros(1, 2, 2), torch.ones(1, 2))
    with pytest.raises(TypeError, match="encoder"):
        MAE(bad)


def test_bad_arguments():
    x = torch.zeros(1, 4, 2)
    with pytest.raises(ValueError, match="mask_ratio"):
        random_masking(x, 1.0)
    with pytest.raises(TypeError, match="mask_ratio"):
        random_masking(x, "0.75")
    with pytest.raises(TypeError, match="rng"):
        random_masking(x, 0.5, rng=1.5)
    with pytest.raises(ValueError, match="at least one patch"):
        mae_loss(torch.zeros(1, 2, 2), torch.zeros(1, 2, 2), torch.zeros(1, 2))
    with pytest.raises(ValueError, match="must be"):
        mae_loss(torch.zeros(1, 2, 2), torch.zeros(1, 3, 2), torch.ones(1, 2))
    with pytest.raises(ValueError, match=r"\[CLS\]"):
        MAE(ViTEncoder(8, 2, d_model=8, n_heads=2, cls_token=False))
    with pytest.raises(TypeError, match="images"):
        _tiny_mae()(None)
