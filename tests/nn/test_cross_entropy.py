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
    with pytest.raises(ValueError, match="at least 2-D"):
        cross_entropy(np.zeros(4), [0])
    with pytest.raises(ValueError, match="finite"):
        cross_entropy([[np.nan, 0.0]], [0])
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        binary_cross_entropy_with_logits([0.0], [2.0])
    with pytest.raises(ValueError, match="shape of logits"):
        binary_cross_entropy_with_logits([0.0, 1.0], [1.0])


# -- class weights, probability targets, (N, C, d1, ...) inputs --------------------------------


def _torch_ref(z, t, *, weight=None, **kw):
    """Loss (any reduction) and, for scalar reductions, the gradient from torch's autograd."""
    zt = torch.tensor(z, requires_grad=True)
    tt = torch.tensor(t)
    wt = None if weight is None else torch.tensor(weight)
    loss = F.cross_entropy(zt, tt, weight=wt, **kw)
    if loss.ndim:
        return loss.detach().numpy(), None
    loss.backward()
    return loss.item(), zt.grad.numpy()


def _check_against_torch(z, t, **kw):
    ref_loss, ref_grad = _torch_ref(z, t, **kw)
    np.testing.assert_allclose(cross_entropy(z, t, **kw), ref_loss, rtol=1e-12, atol=TOL)
    if ref_grad is not None:
        g = cross_entropy_grad(z, t, **kw)
        assert g.shape == z.shape
        np.testing.assert_allclose(g, ref_grad, rtol=1e-12, atol=TOL)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("ignore", [False, True])
def test_class_weight_matches_torch(reduction, smoothing, ignore):
    rng = np.random.default_rng(2)
    z = rng.normal(scale=2.0, size=(10, 4))
    t = rng.integers(0, 4, size=10)
    if ignore:
        t[[0, 3, 7]] = -100
    w = np.array([0.2, 1.0, 3.0, 0.5])
    _check_against_torch(z, t, weight=w, label_smoothing=smoothing, reduction=reduction)


def test_weighted_mean_divides_by_the_weights_of_the_targets():
    # uniform logits: every row loses log 2; weights 3 and 1 -> (3 log2 + log2) / (3 + 1), not / 2
    z = np.zeros((2, 2))
    assert cross_entropy(z, [0, 1], weight=[3.0, 1.0]) == pytest.approx(np.log(2), abs=TOL)
    assert cross_entropy(z, [0, 1], weight=[3.0, 1.0], reduction="sum") == pytest.approx(4 * np.log(2), abs=TOL)
    # and an ignored row's class weight does not enter the denominator
    assert cross_entropy(z, [0, -100], weight=[3.0, 1.0]) == pytest.approx(np.log(2), abs=TOL)
    # a weight of 0 removes a class from numerator and denominator
    rng = np.random.default_rng(0)
    z3 = rng.normal(size=(6, 3))
    t3 = np.array([0, 1, 2, 2, 1, 2])
    keep = t3 != 2
    assert cross_entropy(z3, t3, weight=[1.0, 1.0, 0.0]) == pytest.approx(cross_entropy(z3[keep], t3[keep]), abs=TOL)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
@pytest.mark.parametrize("weighted", [False, True])
def test_probability_targets_match_torch(reduction, smoothing, weighted):
    rng = np.random.default_rng(3)
    z = rng.normal(scale=2.0, size=(7, 5))
    q = rng.dirichlet(np.ones(5), size=7)  # soft labels, rows sum to 1
    w = rng.uniform(0.1, 2.0, size=5) if weighted else None
    _check_against_torch(z, q, weight=w, label_smoothing=smoothing, reduction=reduction)


def test_unnormalised_probability_rows_match_torch():
    # torch does not check that rows sum to 1; the general gradient p * sum(A) - A covers it
    rng = np.random.default_rng(4)
    z = rng.normal(size=(4, 3))
    q = rng.uniform(0.0, 2.0, size=(4, 3))
    _check_against_torch(z, q, label_smoothing=0.1)


def test_one_hot_probabilities_equal_class_indices():
    rng = np.random.default_rng(5)
    z = rng.normal(size=(6, 4))
    t = rng.integers(0, 4, size=6)
    q = np.eye(4)[t]
    for kw in (dict(), dict(label_smoothing=0.2), dict(reduction="sum")):
        assert cross_entropy(z, q, **kw) == pytest.approx(cross_entropy(z, t, **kw), abs=TOL)
        np.testing.assert_allclose(cross_entropy_grad(z, q, **kw), cross_entropy_grad(z, t, **kw), atol=TOL)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(3, 4, 5), (2, 4, 3, 2)])
def test_spatial_inputs_match_torch(shape, reduction):
    # (N, C, d1, ...): a (B, V, T) language-model layout and an (N, C, H, W) segmentation layout
    rng = np.random.default_rng(6)
    z = rng.normal(scale=2.0, size=shape)
    t = rng.integers(0, shape[1], size=(shape[0],) + shape[2:])
    t.flat[[1, 4]] = -100
    w = rng.uniform(0.1, 2.0, size=shape[1])
    _check_against_torch(z, t, weight=w, label_smoothing=0.1, ignore_index=-100, reduction=reduction)
    q = rng.dirichlet(np.ones(shape[1]), size=(shape[0],) + shape[2:])  # (N, d1, ..., C)
    q = np.moveaxis(q, -1, 1)  # (N, C, d1, ...)
    _check_against_torch(z, q, weight=w, label_smoothing=0.1, reduction=reduction)


def test_zero_total_weight_gives_nan_like_torch():
    z = np.zeros((2, 3))
    t = np.array([0, 0])
    w = np.array([0.0, 1.0, 1.0])
    ref_loss, ref_grad = _torch_ref(z, t, weight=w, label_smoothing=0.1)
    assert np.isnan(ref_loss) and np.all(np.isnan(ref_grad))
    assert np.isnan(cross_entropy(z, t, weight=w, label_smoothing=0.1))
    assert np.all(np.isnan(cross_entropy_grad(z, t, weight=w, label_smoothing=0.1)))
    ref_loss, ref_grad = _torch_ref(z, np.array([-100, -100]), weight=w)  # every row ignored: zero gradient
    np.testing.assert_array_equal(cross_entropy_grad(z, [-100, -100], weight=w), ref_grad)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 4), st.integers(2, 4), st.integers(0, 2), st.floats(0, 1), st.booleans(), st.integers(0, 2**31))
def test_general_gradient_matches_finite_differences(n, c, d, eps, soft, seed):
    rng = np.random.default_rng(seed)
    shape = (n, c) + ((d,) if d else ())
    z = rng.normal(size=shape)
    w = rng.uniform(0.1, 2.0, size=c)
    lead = (n,) + shape[2:]
    t = np.moveaxis(rng.dirichlet(np.ones(c), size=lead), -1, 1) if soft else rng.integers(0, c, size=lead)
    kw = dict(weight=w, label_smoothing=eps)
    g = cross_entropy_grad(z, t, **kw)
    h = 1e-6  # central differences: O(h^2) truncation, O(1e-16/h) round-off -> ~1e-9
    idx = tuple(int(rng.integers(s)) for s in shape)
    zp, zm = z.copy(), z.copy()
    zp[idx] += h
    zm[idx] -= h
    fd = (cross_entropy(zp, t, **kw) - cross_entropy(zm, t, **kw)) / (2 * h)
    assert g[idx] == pytest.approx(fd, abs=1e-7)


def test_bad_weight_and_probability_targets():
    z = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"weight must have one entry per class, shape \(4,\); got \(3,\)"):
        cross_entropy(z, [0, 1, 2], weight=np.ones(3))
    with pytest.raises(ValueError, match="weight must be non-negative"):
        cross_entropy(z, [0, 1, 2], weight=[1.0, -1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="weight must contain only finite values"):
        cross_entropy(z, [0, 1, 2], weight=[1.0, np.inf, 1.0, 1.0])
    q = np.full((3, 4), 0.25)
    with pytest.raises(ValueError, match="ignore_index applies to class-index targets only"):
        cross_entropy(z, q, ignore_index=0)
    with pytest.raises(TypeError, match="holds class probabilities and must be floating"):
        cross_entropy(z, np.zeros((3, 4), dtype=int))
    with pytest.raises(ValueError, match="target probabilities must be non-negative"):
        cross_entropy(z, -q)
    with pytest.raises(ValueError, match="target must contain only finite values"):
        cross_entropy(z, np.full((3, 4), np.nan))
    with pytest.raises(ValueError, match=r"one class index per position \(N, d1, \.\.\.\) of logits, shape \(3, 5\)"):
        cross_entropy(np.zeros((3, 4, 5)), np.zeros((3, 4), dtype=int))
    with pytest.raises(TypeError, match="target must be array-like"):
        cross_entropy(z, [[0, 1], [2]])
