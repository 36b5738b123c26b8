import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewlib.nn import binary_cross_entropy_with_logits, cross_entropy, cross_entropy_grad

# float64 round-off on O(1) losses; logits of 1e4 keep relative accuracy too.
TOL = 1e-10


def _torch_loss_and_grad(z, t, **kw):
    zt = torch.tensor(z, requires_grad=True)
    loss = F.cross_entropy(zt, torch.tensor(t), **kw)
    loss.backward()
    return loss.item(), zt.grad.numpy()


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.4])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_matches_torch_with_smoothing_and_ignore_index(smoothing, reduction):
    rng = np.random.default_rng(0)
    z = rng.normal(scale=2.0, size=(8, 5))
    t = rng.integers(0, 5, size=8)
    t[[1, 6]] = -100
    ref_loss, ref_grad = _torch_loss_and_grad(z, t, label_smoothing=smoothing, reduction=reduction)
    kw = dict(label_smoothing=smoothing, reduction=reduction)
    assert cross_entropy(z, t, **kw) == pytest.approx(ref_loss, abs=TOL)
    np.testing.assert_allclose(cross_entropy_grad(z, t, **kw), ref_grad, atol=TOL)


def test_reduction_none_and_custom_ignore_index():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(4, 3))
    t = np.array([0, 2, 7, 1])
    ref = F.cross_entropy(torch.tensor(z), torch.tensor(t), ignore_index=7, reduction="none").numpy()
    np.testing.assert_allclose(cross_entropy(z, t, ignore_index=7, reduction="none"), ref, atol=TOL)


def test_huge_logits_match_torch_where_naive_fails():
    z = np.array([[1e4, 0.0, -1e4], [0.0, 1e4, 5e3]])
    t = np.array([2, 1])
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        naive = -np.log(p[np.arange(2), t]).mean()
    assert not np.isfinite(naive)
    ref_loss, ref_grad = _torch_loss_and_grad(z, t)
    assert cross_entropy(z, t) == pytest.approx(ref_loss, rel=1e-12)
    assert cross_entropy(z, t) == pytest.approx(1e4, rel=1e-12)  # hand: (2e4 + 0) / 2
    np.testing.assert_allclose(cross_entropy_grad(z, t), ref_grad, atol=TOL)


def test_closed_forms():
    # uniform logits: loss log C; gradient (1/C - onehot)/N
    assert cross_entropy(np.zeros((3, 4)), [0, 1, 2]) == pytest.approx(np.log(4), abs=TOL)
    g = cross_entropy_grad(np.zeros((1, 4)), [2])
    np.testing.assert_allclose(g, [[0.25, 0.25, -0.75, 0.25]], atol=TOL)
    # full smoothing makes the target uniform: loss = log C - 0 when logits are uniform
    assert cross_entropy(np.zeros((1, 4)), [1], label_smoothing=1.0) == pytest.approx(np.log(4))


def test_all_ignored_gives_nan_like_torch():
    z = np.zeros((2, 3))
    t = np.array([-100, -100])
    ref = F.cross_entropy(torch.tensor(z), torch.tensor(t)).item()
    assert np.isnan(ref)
    assert np.isnan(cross_entropy(z, t))
    np.testing.assert_array_equal(cross_entropy_grad(z, t), 0.0)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(2, 5), st.floats(0.0, 1.0), st.integers(0, 2**31 - 1))
def test_gradient_rows_sum_to_zero_and_match_finite_differences(n, c, eps, seed):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, c))
    t = rng.integers(0, c, size=n)
    g = cross_entropy_grad(z, t, label_smoothing=eps)
    np.testing.assert_allclose(g.sum(axis=1), 0.0, atol=1e-12)
    h = 1e-6  # central differences: O(h^2) truncation, O(1e-16/h) round-off -> ~1e-9
    i, j = rng.integers(n), rng.integers(c)
    zp, zm = z.copy(), z.copy()
    zp[i, j] += h
    zm[i, j] -= h
    fd = (cross_entropy(zp, t, label_smoothing=eps) - cross_entropy(zm, t, label_smoothing=eps)) / (2 * h)
    assert g[i, j] == pytest.approx(fd, abs=1e-7)


def test_binary_matches_torch_including_extremes():
    x = np.array([-1e4, -30.0, -1.0, 0.0, 2.5, 40.0, 1e4])
    y = np.array([1.0, 0.0, 0.3, 1.0, 0.0, 1.0, 0.0])
    for red in ("mean", "sum", "none"):
        ref = F.binary_cross_entropy_with_logits(torch.tensor(x), torch.tensor(y), reduction=red).numpy()
        np.testing.assert_allclose(binary_cross_entropy_with_logits(x, y, reduction=red), ref, rtol=1e-12, atol=TOL)


def test_binary_equals_two_class_softmax():
    # sigmoid(x) = softmax([x, 0])[0]
    x = np.array([0.7, -2.0, 3.0])
    y = np.array([1, 0, 1])
    two = np.stack([np.zeros(3), x], axis=1)  # class 1 has logit x
    assert binary_cross_entropy_with_logits(x, y.astype(float)) == pytest.approx(cross_entropy(two, y), abs=TOL)


def test_inputs_not_mutated():
    z = np.ones((2, 3))
    t = np.array([0, 1])
    cross_entropy_grad(z, t, label_smoothing=0.2)
    np.testing.assert_array_equal(z, 1.0)
    np.testing.assert_array_equal(t, [0, 1])


def test_bad_input():
    z = np.zeros((3, 4))
    with pytest.raises(ValueError, match="one class index per row"):
        cross_entropy(z, [0, 1])
    with pytest.raises(ValueError, match=r"must be in \[0, 3\]"):
        cross_entropy(z, [0, 1, 4])
    with pytest.raises(ValueError, match="integer class indices"):
        cross_entropy(z, [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="label_smoothing must be <= 1"):
        cross_entropy(z, [0, 1, 2], label_smoothing=1.5)
    with pytest.raises(ValueError, match="reduction must be one of"):
        cross_entropy(z, [0, 1, 2], reduction="avg")
    with pytest.raises(ValueError, match="'mean' or 'sum'"):
        cross_entropy_grad(z, [0, 1, 2], reduction="none")
    with pytest.raises(ValueError, match="2-D"):
        cross_entropy(np.zeros(4), [0])
    with pytest.raises(ValueError, match="finite"):
        cross_entropy([[np.nan, 0.0]], [0])
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        binary_cross_entropy_with_logits([0.0], [2.0])
    with pytest.raises(ValueError, match="shape of logits"):
        binary_cross_entropy_with_logits([0.0, 1.0], [1.0])
