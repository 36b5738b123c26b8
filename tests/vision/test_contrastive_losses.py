"""Tests for interviewlib.vision.contrastive_losses: CLIP and SigLIP losses, the chunked ring, costs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewlib.nn import info_nce
from interviewlib.vision import chunked_siglip_loss, clip_loss, contrastive_cost, ring_schedule, siglip_loss

ATOL64 = 1e-12  # float64: same terms, different summation order
ATOL32 = 1e-5  # float32 loss of order 1-10 summed over up to 64^2 pairs


def _pair(B, d=6, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, d, generator=g, dtype=dtype), torch.randn(B, d, generator=g, dtype=dtype)


def _unit(a):
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def test_clip_loss_direct_formula():
    x, y = _pair(5)
    t = math.log(1 / 0.07)
    s = _unit(x.numpy()) @ _unit(y.numpy()).T * math.exp(t)
    i2t = -np.mean([s[i, i] - np.log(np.sum(np.exp(s[i]))) for i in range(5)])
    t2i = -np.mean([s[i, i] - np.log(np.sum(np.exp(s[:, i]))) for i in range(5)])
    assert abs(float(clip_loss(x, y, t)) - 0.5 * (i2t + t2i)) < ATOL64


def test_clip_loss_equals_torch_cross_entropy_and_info_nce():
    x, y = _pair(7, seed=1)
    t = 2.0
    logits = math.exp(t) * F.normalize(x, dim=1) @ F.normalize(y, dim=1).T
    labels = torch.arange(7)
    ref = 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))
    torch.testing.assert_close(clip_loss(x, y, t), ref, atol=ATOL64, rtol=0)
    theirs = info_nce(x, y, temperature=math.exp(-t), symmetric=True)  # chapter 6's InfoNCE, fixed temperature
    torch.testing.assert_close(clip_loss(x, y, t), theirs, atol=ATOL64, rtol=0)


def test_clip_loss_closed_forms():
    assert abs(float(clip_loss(torch.ones(6, 3), torch.ones(6, 3), 1.0)) - math.log(6)) < 1e-6
    e = torch.eye(4, dtype=torch.float64)
    # perfectly aligned orthogonal pairs: each row is softmax over (t, 0, 0, 0)
    t = math.log(20.0)
    expected = -(20.0 - math.log(math.exp(20.0) + 3))
    assert abs(float(clip_loss(e, e, t)) - expected) < ATOL64


def test_learnable_scale_and_bias_get_gradients():
    x, y = _pair(4, seed=2)
    ls = torch.tensor(math.log(10.0), dtype=torch.float64, requires_grad=True)
    b = torch.tensor(-10.0, dtype=torch.float64, requires_grad=True)
    siglip_loss(x, y, ls, b).backward()
    assert ls.grad is not None and b.grad is not None and b.grad < 0  # at b=-10 the positives pull b up
    ls2 = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    clip_loss(x, y, ls2).backward()
    assert ls2.grad is not None


def test_siglip_loss_direct_formula_and_bce():
    x, y = _pair(6, seed=3)
    t, b = math.log(10.0), -10.0
    s = _unit(x.numpy()) @ _unit(y.numpy()).T
    z = 2 * np.eye(6) - 1
    expected = -np.sum(np.log(1 / (1 + np.exp(z * (-math.exp(t) * s - b))))) / 6
    assert abs(float(siglip_loss(x, y, t, b)) - expected) < ATOL64
    logits = math.exp(t) * F.normalize(x, dim=1) @ F.normalize(y, dim=1).T + b
    bce = F.binary_cross_entropy_with_logits(logits, torch.eye(6, dtype=torch.float64), reduction="sum") / 6
    torch.testing.assert_close(siglip_loss(x, y, t, b), bce, atol=ATOL64, rtol=0)


def test_siglip_init_is_close_to_the_prior():
    """With t'=log 10, b=-10 a random pair's logit is in [-20, 0]: negatives cost ~e^{-10} each."""
    x, y = _pair(64, seed=4)
    loss = float(siglip_loss(x, y, math.log(10.0), -10.0))
    # positives: softplus(-(10 s + b)) with s in [-1, 1] -> between ~0.69 and ~20 each; negatives ~0
    assert 0.69 < loss < 20.5


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 6), st.integers(1, 5), st.integers(0, 99))
def test_chunked_equals_full(D, b, seed):
    x, y = _pair(D * b, seed=seed)
    for t, bias in ((math.log(10.0), -10.0), (0.3, 1.5)):
        full = siglip_loss(x, y, t, bias)
        torch.testing.assert_close(chunked_siglip_loss(x, y, t, bias, n_devices=D), full, atol=ATOL64, rtol=0)


def test_chunked_gradients_equal_full():
    x, y = _pair(12, seed=5)
    grads = []
    for fn in (lambda a, c, s, bb: siglip_loss(a, c, s, bb), lambda a, c, s, bb: chunked_siglip_loss(a, c, s, bb, n_devices=3)):
        a, c = x.clone().requires_grad_(), y.clone().requires_grad_()
        s = torch.tensor(1.7, dtype=torch.float64, requires_grad=True)
        bb = torch.tensor(-3.0, dtype=torch.float64, requires_grad=True)
        fn(a, c, s, bb).backward()
        grads.append([a.grad, c.grad, s.grad, bb.grad])
    for g1, g2 in zip(*grads):
        torch.testing.assert_close(g1, g2, atol=ATOL64, rtol=0)


def test_chunked_float32():
    x, y = _pair(64, seed=6, dtype=torch.float32)
    torch.testing.assert_close(
        chunked_siglip_loss(x, y, 2.3, -10.0, n_devices=8), siglip_loss(x, y, 2.3, -10.0), atol=ATOL32, rtol=0
    )


def test_ring_schedule():
    for D in (1, 2, 5):
        sch = np.array(ring_schedule(D))
        assert np.array_equal(sch[0], np.arange(D))  # own shard first: the positives
        for col in sch.T:  # every device meets every shard exactly once
            assert sorted(col) == list(range(D))
        for s in range(1, D):  # at each step a device holds what its left neighbour held before
            assert np.array_equal(sch[s], np.roll(sch[s - 1], 1))


def test_contrastive_cost_closed_forms():
    B, D, d = 32768, 256, 1024
    b = B // D
    g = contrastive_cost(B, D, d, scheme="softmax_gather")
    loc = contrastive_cost(B, D, d, scheme="softmax_local")
    ring = contrastive_cost(B, D, d, scheme="sigmoid_ring", bytes_per_element=2)
    assert g["logits_elements"] == B * B and loc["logits_elements"] == 2 * b * B and ring["logits_elements"] == b * b
    assert g["comm_elements"] == loc["comm_elements"] == 2 * (D - 1) * b * d
    assert ring["comm_elements"] == (D - 1) * b * d and ring["comm_bytes"] == 2 * ring["comm_elements"]
    assert g["logits_bytes"] == 4 * B * B
    one = contrastive_cost(128, 1, 8, scheme="sigmoid_ring")
    assert one["comm_elements"] == 0 and one["logits_elements"] == 128 * 128


@pytest.mark.parametrize("bad", [None, "not valid", float("nan"), [[1.0, 2.0], [3.0]]])
def test_bad_first_arguments(bad):
    x = torch.zeros(2, 3)
    with pytest.raises(TypeError, match="image_emb"):
        clip_loss(bad, x, 1.0)
    with pytest.raises(TypeError, match="image_emb"):
        siglip_loss(bad, x, 1.0, -1.0)
    with pytest.raises(TypeError, match="image_emb"):
        chunked_siglip_loss(bad, x, 1.0, -1.0, n_devices=1)
    with pytest.raises(TypeError, match="n_devices"):
        ring_schedule(bad)
    with pytest.raises(TypeError, match="batch_size"):
        contrastive_cost(bad, 1, 4, scheme="sigmoid_ring")


def test_bad_arguments():
    x = torch.randn(4, 3)
    with pytest.raises(ValueError, match="text_emb must have the shape"):
        clip_loss(x, torch.randn(3, 3), 1.0)
    with pytest.raises(ValueError, match="log_scale must be finite"):
        clip_loss(x, x, float("inf"))
    with pytest.raises(ValueError, match="bias must be finite"):
        siglip_loss(x, x, 1.0, torch.tensor(float("nan")))
    with pytest.raises(ValueError, match="one-element"):
        siglip_loss(x, x, torch.ones(2), 0.0)
    with pytest.raises(TypeError, match="bias"):
        siglip_loss(x, x, 1.0, "b")
    with pytest.raises(ValueError, match="must divide"):
        chunked_siglip_loss(x, x, 1.0, 0.0, n_devices=3)
    with pytest.raises(ValueError, match="n_devices must be >= 1"):
        ring_schedule(0)
    with pytest.raises(ValueError, match="scheme"):
        contrastive_cost(8, 2, 4, scheme="ring")
    with pytest.raises(ValueError, match="multiple of n_devices"):
        contrastive_cost(9, 2, 4, scheme="softmax_local")
    with pytest.raises(TypeError, match="normalize"):
        clip_loss(x, x, 1.0, normalize="yes")
