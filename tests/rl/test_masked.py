import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewlib.rl import masked_mean, masked_sum, masked_whiten

# float64 inputs against numpy on the selected entries: only summation-order rounding differs.
ATOL = 1e-12


def _data(seed=0, shape=(5, 7)):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape)
    m = rng.random(shape) < 0.6
    m[:, 0] = True  # every row keeps at least one token
    return torch.from_numpy(x), torch.from_numpy(m)


def test_sum_and_mean_match_numpy_on_selected_entries():
    x, m = _data()
    xn, mn = x.numpy(), m.numpy()
    assert abs(float(masked_sum(x, m)) - xn[mn].sum()) < ATOL
    assert abs(float(masked_mean(x, m)) - xn[mn].mean()) < ATOL
    per_row = masked_mean(x, m, dim=1).numpy()
    assert np.allclose(per_row, [r[k].mean() for r, k in zip(xn, mn)], atol=ATOL, rtol=0)
    per_row_sum = masked_sum(x, m, dim=-1).numpy()
    assert np.allclose(per_row_sum, [r[k].sum() for r, k in zip(xn, mn)], atol=ATOL, rtol=0)
    cols = m.numpy().sum(0) > 0
    per_col = masked_mean(x[:, cols], m[:, cols], dim=0).numpy()
    assert np.allclose(per_col, [xn[mn[:, j], j].mean() for j in np.flatnonzero(cols)], atol=ATOL, rtol=0)


def test_hand_worked_and_inf_under_mask_ignored():
    x = torch.tensor([[1.0, 3.0, float("inf")], [2.0, float("-inf"), 0.0]])
    m = torch.tensor([[True, True, False], [True, False, False]])
    assert masked_sum(x, m).item() == 6.0
    assert masked_mean(x, m).item() == 2.0
    assert masked_mean(x, m, dim=1).tolist() == [2.0, 2.0]


def test_float_01_mask_accepted_and_equal_to_bool():
    x, m = _data(1)
    assert torch.equal(masked_mean(x, m.double()), masked_mean(x, m))


def test_gradient_is_zero_under_mask():
    x, m = _data(2)
    x = x.clone().requires_grad_(True)
    masked_mean(x, m).backward()
    assert torch.all(x.grad[~m] == 0)
    assert torch.allclose(x.grad[m], torch.full_like(x.grad[m], 1.0 / int(m.sum())), atol=ATOL)


def test_whiten_matches_numpy():
    x, m = _data(3)
    xn, mn = x.numpy(), m.numpy()
    sel = xn[mn]
    for unbiased, ddof in ((True, 1), (False, 0)):
        w = masked_whiten(x, m, unbiased=unbiased, eps=1e-300).numpy()
        ref = (sel - sel.mean()) / sel.std(ddof=ddof)
        assert np.allclose(w[mn], ref, atol=1e-10, rtol=0)
        assert np.all(w[~mn] == 0)
    w = masked_whiten(x, m, shift_mean=False, eps=1e-300).numpy()
    assert np.allclose(w[mn], (sel - sel.mean()) / sel.std(ddof=1) + sel.mean(), atol=1e-10, rtol=0)


def test_whiten_constant_gives_zero_not_nan():
    x = torch.full((2, 3), 4.0)
    out = masked_whiten(x, torch.ones(2, 3, dtype=torch.bool))
    assert torch.equal(out, torch.zeros(2, 3))


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.integers(0, 10_000))
def test_property_padding_does_not_change_the_mean(B, R, seed):
    x, m = _data(seed, (B, R))
    pad = torch.full((B, 3), 1e6, dtype=x.dtype)
    xp, mp = torch.cat([x, pad], 1), torch.cat([m, torch.zeros(B, 3, dtype=torch.bool)], 1)
    assert torch.allclose(masked_mean(xp, mp), masked_mean(x, m), atol=ATOL, rtol=0)
    assert torch.allclose(masked_mean(xp, mp, dim=1), masked_mean(x, m, dim=1), atol=ATOL, rtol=0)
    if int(m.sum()) >= 2:
        assert torch.allclose(masked_whiten(xp, mp)[:, :R], masked_whiten(x, m), atol=1e-9, rtol=0)


@pytest.mark.parametrize("fn", [masked_sum, masked_mean, masked_whiten])
def test_bad_input(fn):
    x, m = _data()
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        fn(None, m)
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        fn([[1.0, 2.0], [3.0]], m)
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        fn("not valid", m)
    with pytest.raises(ValueError, match="x must not contain NaN"):
        fn(torch.tensor([[float("nan"), 1.0]]), torch.ones(1, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="x must have a floating dtype"):
        fn(torch.ones(2, 2, dtype=torch.long), torch.ones(2, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask must have the shape of x"):
        fn(x, m[:, :3])
    with pytest.raises(ValueError, match="all-False"):
        fn(x, torch.zeros_like(m))
    with pytest.raises(ValueError, match="mask must be bool"):
        fn(x, m.double() * 2)
    with pytest.raises(TypeError, match="mask must be a torch.Tensor"):
        fn(x, None)


def test_bad_dim_and_empty_slice():
    x, m = _data()
    m2 = m.clone()
    m2[2] = False
    with pytest.raises(ValueError, match="along dim=1"):
        masked_mean(x, m2, dim=1)
    with pytest.raises(ValueError, match="dim must be in"):
        masked_sum(x, m, dim=2)
    with pytest.raises(TypeError, match="dim must be an int"):
        masked_mean(x, m, dim=1.0)
    with pytest.raises(ValueError, match="unbiased=True needs at least 2"):
        masked_whiten(x, torch.eye(5, 7, dtype=torch.bool) & (torch.arange(5)[:, None] == 0))
    with pytest.raises(ValueError, match="eps must be"):
        masked_whiten(x, m, eps=0.0)
