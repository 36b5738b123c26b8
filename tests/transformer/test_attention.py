import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewlib.transformer import mask_to_bias, scaled_dot_product_attention

# float64 on both sides; differences are summation-order rounding only.
ATOL = 1e-12


def _qkv(B=2, H=3, T=4, S=5, d=6, dv=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    dv = d if dv is None else dv
    q = torch.randn(B, H, T, d, generator=g, dtype=torch.float64)
    k = torch.randn(B, H, S, d, generator=g, dtype=torch.float64)
    v = torch.randn(B, H, S, dv, generator=g, dtype=torch.float64)
    return q, k, v


def test_matches_torch_no_mask():
    q, k, v = _qkv(dv=7)
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v), F.scaled_dot_product_attention(q, k, v), atol=ATOL, rtol=0)


def test_matches_torch_bool_and_float_masks():
    q, k, v = _qkv()
    g = torch.Generator().manual_seed(1)
    mask = torch.rand(2, 1, 4, 5, generator=g) > 0.3
    mask[..., 0] = True  # every row keeps a key
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v, mask), ref, atol=ATOL, rtol=0)
    bias = torch.randn(4, 5, generator=g, dtype=torch.float64)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v, bias), ref, atol=ATOL, rtol=0)


def test_causal_square_and_bottom_right():
    q, k, v = _qkv(T=5, S=5)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v, is_causal=True), ref, atol=ATOL, rtol=0)
    q, k, v = _qkv(T=2, S=5)
    keep = torch.ones(2, 5, dtype=torch.bool).tril(diagonal=3)  # last 2 queries of 5
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v, is_causal=True), ref, atol=ATOL, rtol=0)


def test_hand_worked_uniform_weights():
    # identical keys -> uniform weights -> output is the mean of the values
    q = torch.randn(1, 1, 3, 2, dtype=torch.float64)
    k = torch.ones(1, 1, 4, 2, dtype=torch.float64)
    v = torch.arange(8, dtype=torch.float64).view(1, 1, 4, 2)
    out, w = scaled_dot_product_attention(q, k, v, return_weights=True)
    torch.testing.assert_close(w, torch.full((1, 1, 3, 4), 0.25, dtype=torch.float64))
    torch.testing.assert_close(out[0, 0, 0], torch.tensor([3.0, 4.0], dtype=torch.float64))


def test_fully_masked_row_safe_zero_and_unsafe_nan():
    q, k, v = _qkv(B=1, H=1, T=3, S=3)
    mask = torch.ones(1, 1, 3, 3, dtype=torch.bool)
    mask[..., 1, :] = False
    out = scaled_dot_product_attention(q, k, v, mask)
    assert torch.equal(out[0, 0, 1], torch.zeros(6, dtype=torch.float64))
    # torch 2.13 CPU SDPA also returns zeros for an all-masked row
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), atol=ATOL, rtol=0)
    bad = scaled_dot_product_attention(q, k, v, mask, safe=False)
    assert torch.isnan(bad[0, 0, 1]).all() and torch.isfinite(bad[0, 0, [0, 2]]).all()


def test_safe_gradients_are_finite():
    q, k, v = (t.requires_grad_() for t in _qkv(B=1, H=1, T=3, S=3))
    mask = torch.ones(3, 3, dtype=torch.bool)
    mask[0] = False
    scaled_dot_product_attention(q, k, v, mask).sum().backward()
    assert all(torch.isfinite(t.grad).all() for t in (q, k, v))


@settings(max_examples=40, deadline=None)
@given(
    B=st.integers(1, 3), H=st.integers(1, 3), T=st.integers(1, 6), S=st.integers(1, 6),
    d=st.integers(1, 8), seed=st.integers(0, 10_000), scale=st.floats(0.01, 3.0),
)
def test_property_rows_sum_to_one_and_match_torch(B, H, T, S, d, seed, scale):
    q, k, v = _qkv(B, H, T, S, d, seed=seed)
    out, w = scaled_dot_product_attention(q, k, v, scale=scale, return_weights=True)
    torch.testing.assert_close(w.sum(-1), torch.ones(B, H, T, dtype=torch.float64), atol=1e-12, rtol=0)
    ref = F.scaled_dot_product_attention(q, k, v, scale=scale)
    torch.testing.assert_close(out, ref, atol=1e-10, rtol=0)


def test_default_scale_is_inverse_sqrt_d():
    q, k, v = _qkv(d=16)
    torch.testing.assert_close(
        scaled_dot_product_attention(q, k, v), scaled_dot_product_attention(q, k, v, scale=1 / math.sqrt(16)), atol=0, rtol=0
    )


def test_inputs_not_mutated():
    q, k, v = _qkv()
    copies = [t.clone() for t in (q, k, v)]
    mask = torch.ones(4, 5, dtype=torch.bool)
    mask[0] = False
    m0 = mask.clone()
    scaled_dot_product_attention(q, k, v, mask, is_causal=False)
    assert all(torch.equal(a, b) for a, b in zip((q, k, v), copies)) and torch.equal(mask, m0)


def test_mask_to_bias():
    b = mask_to_bias(torch.tensor([[True, False]]), torch.float16)
    assert b.dtype == torch.float16 and b[0, 0] == 0 and b[0, 1] == float("-inf")
    with pytest.raises(ValueError, match="bool"):
        mask_to_bias(torch.zeros(2))
    with pytest.raises(ValueError, match="floating"):
        mask_to_bias(torch.tensor([True]), torch.int32)


def test_bad_inputs():
    q, k, v = _qkv()
    with pytest.raises(ValueError, match=r"q must be 4-D \(B, H, T, d_head\) or 3-D \(N, T, d_head\); got shape \(2,"):
        scaled_dot_product_attention(torch.zeros(2, 3), k, v)
    with pytest.raises(TypeError, match="torch.Tensor"):
        scaled_dot_product_attention(q.numpy(), k, v)
    with pytest.raises(ValueError, match="same d_head"):
        scaled_dot_product_attention(q, k[..., :3], v)
    with pytest.raises(ValueError, match="same length S"):
        scaled_dot_product_attention(q, k, v[:, :, :2])
    with pytest.raises(ValueError, match="agree on"):
        scaled_dot_product_attention(q, k[:1], v[:1])
    with pytest.raises(ValueError, match="share a dtype"):
        scaled_dot_product_attention(q, k.float(), v)
    with pytest.raises(ValueError, match="broadcast"):
        scaled_dot_product_attention(q, k, v, torch.ones(4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="bool .True = attend. or floating"):
        scaled_dot_product_attention(q, k, v, torch.ones(4, 5, dtype=torch.int64))
    with pytest.raises(ValueError, match="dtype of the scores"):
        scaled_dot_product_attention(q, k, v, torch.zeros(4, 5, dtype=torch.float32))
    with pytest.raises(ValueError, match="floating dtype"):
        scaled_dot_product_attention(q.long(), k.long(), v.long())
    with pytest.raises(ValueError, match="scale"):
        scaled_dot_product_attention(q, k, v, scale=float("nan"))


def test_causal_with_more_queries_than_keys_is_safe():
    # bottom-right alignment: with T > S the first T - S queries see no key -> zero output, not NaN
    q, k, v = _qkv(B=1, H=1, T=4, S=2)
    out = scaled_dot_product_attention(q, k, v, is_causal=True)
    assert torch.equal(out[0, 0, :2], torch.zeros(2, 6, dtype=torch.float64))
    keep = torch.ones(4, 2, dtype=torch.bool).tril(diagonal=-2)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
    torch.testing.assert_close(out, ref, atol=ATOL, rtol=0)


# -- enable_gqa (grouped-query attention) -------------------------------------------------


def _gqa_qkv(B=2, H=6, H_kv=2, T=4, S=5, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, H, T, d, generator=g, dtype=torch.float64)
    k = torch.randn(B, H_kv, S, d, generator=g, dtype=torch.float64)
    v = torch.randn(B, H_kv, S, d + 1, generator=g, dtype=torch.float64)
    return q, k, v


@pytest.mark.parametrize("H_kv", [1, 2, 3, 6])
def test_enable_gqa_matches_torch(H_kv):
    q, k, v = _gqa_qkv(H_kv=H_kv)
    ref = F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v, enable_gqa=True), ref, atol=ATOL, rtol=0)
    mask = torch.rand(2, 1, 4, 5, generator=torch.Generator().manual_seed(3)) > 0.4
    mask[..., 0] = True
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)
    got = scaled_dot_product_attention(q, k, v, mask, enable_gqa=True)
    torch.testing.assert_close(got, ref, atol=ATOL, rtol=0)


def test_enable_gqa_causal_square_and_bottom_right():
    q, k, v = _gqa_qkv(T=5, S=5)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True), ref, atol=ATOL, rtol=0)
    q, k, v = _gqa_qkv(T=2, S=5)  # decoding: 2 new queries after 3 cached keys
    keep = torch.ones(2, 5, dtype=torch.bool).tril(diagonal=3)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=keep, enable_gqa=True)
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True), ref, atol=ATOL, rtol=0)


def test_enable_gqa_consecutive_query_heads_share_a_kv_head():
    # H = 6, H_kv = 3: query heads (0, 1) read KV head 0, (2, 3) head 1, (4, 5) head 2,
    # i.e. repeat_interleave, not repeat (which would give 0, 1, 2, 0, 1, 2).
    q, k, v = _gqa_qkv(H=6, H_kv=3)
    out, w = scaled_dot_product_attention(q, k, v, enable_gqa=True, return_weights=True)
    assert w.shape == (2, 6, 4, 5)
    for h in range(6):
        one = scaled_dot_product_attention(q[:, h : h + 1], k[:, h // 2 : h // 2 + 1], v[:, h // 2 : h // 2 + 1])
        torch.testing.assert_close(out[:, h : h + 1], one, atol=ATOL, rtol=0)
    tiled = scaled_dot_product_attention(q, k.repeat(1, 2, 1, 1), v.repeat(1, 2, 1, 1))
    assert not torch.allclose(out, tiled)


def test_enable_gqa_is_a_no_op_for_equal_heads_and_keeps_inputs():
    q, k, v = _gqa_qkv(H=3, H_kv=3)
    copies = [t.clone() for t in (q, k, v)]
    a = scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    b = scaled_dot_product_attention(q, k, v, is_causal=True)
    assert torch.equal(a, b) and all(torch.equal(t, c) for t, c in zip((q, k, v), copies))


@settings(max_examples=20, deadline=None)
@given(
    B=st.integers(1, 2), H_kv=st.integers(1, 3), group=st.integers(1, 3), T=st.integers(1, 5),
    S=st.integers(1, 5), d=st.integers(1, 6), seed=st.integers(0, 10_000),
)
def test_property_enable_gqa_matches_torch(B, H_kv, group, T, S, d, seed):
    q, k, v = _gqa_qkv(B=B, H=H_kv * group, H_kv=H_kv, T=T, S=S, d=d, seed=seed)
    ref = F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v, enable_gqa=True), ref, atol=1e-10, rtol=0)


def test_enable_gqa_bad_inputs():
    q, k, v = _gqa_qkv(H=6, H_kv=2)
    with pytest.raises(ValueError, match="pass enable_gqa=True for fewer key/value heads"):
        scaled_dot_product_attention(q, k, v)
    q4, k4, v4 = _gqa_qkv(H=6, H_kv=4)
    with pytest.raises(ValueError, match="query heads must be a multiple of the key/value heads; got 6 and 4"):
        scaled_dot_product_attention(q4, k4, v4, enable_gqa=True)
    with pytest.raises(ValueError, match="query heads must be a multiple"):
        scaled_dot_product_attention(q[:, :2], k4, v4, enable_gqa=True)  # more KV heads than query heads
    with pytest.raises(ValueError, match="agree on"):
        scaled_dot_product_attention(q, k, v[:, :1], enable_gqa=True)  # k and v disagree on H_kv
    with pytest.raises(ValueError, match="agree on"):
        scaled_dot_product_attention(q[:1], k, v, enable_gqa=True)  # batch sizes disagree
    with pytest.raises(ValueError, match=r"broadcast to \(B, H, T, S\) = \(2, 6, 4, 5\)"):
        scaled_dot_product_attention(q, k, v, torch.ones(2, 2, 4, 5, dtype=torch.bool), enable_gqa=True)


# -- 3-D inputs (N, T, d), as F.scaled_dot_product_attention accepts them ------------------------


@pytest.mark.parametrize("mask_kind", ["none", "bool2d", "bool3d", "float3d", "causal"])
def test_3d_inputs_match_torch(mask_kind):
    q, k, v = (x[0] for x in _qkv(B=1, H=3, T=5, S=5, d=4, dv=6))  # (3, 5, 4), (3, 5, 4), (3, 5, 6)
    g = torch.Generator().manual_seed(7)
    mask, kw = None, {}
    if mask_kind == "bool2d":
        mask = torch.rand(5, 5, generator=g) > 0.3
        mask[:, 0] = True  # no fully blocked rows: torch's CPU kernel and ours then agree exactly
    elif mask_kind == "bool3d":
        mask = torch.rand(3, 5, 5, generator=g) > 0.3
        mask[..., 0] = True
    elif mask_kind == "float3d":
        mask = torch.randn(3, 1, 5, generator=g, dtype=torch.float64)
    elif mask_kind == "causal":
        kw = dict(is_causal=True)  # square, so both alignments agree
    out, w = scaled_dot_product_attention(q, k, v, mask, return_weights=True, **kw)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, **kw)
    assert out.shape == (3, 5, 6) and w.shape == (3, 5, 5)
    torch.testing.assert_close(out, ref, atol=ATOL, rtol=0)


def test_3d_equals_4d_with_a_batch_of_one_including_bottom_right_causal():
    q, k, v = (x[0] for x in _qkv(B=1, H=2, T=2, S=5, d=4))
    out3 = scaled_dot_product_attention(q, k, v, is_causal=True)
    out4 = scaled_dot_product_attention(q[None], k[None], v[None], is_causal=True)[0]
    torch.testing.assert_close(out3, out4, atol=0, rtol=0)
    # the deliberate difference from torch: with T < S ours is the bottom-right causal mask
    keep = torch.ones(2, 5, dtype=torch.bool).tril(diagonal=5 - 2)
    torch.testing.assert_close(out3, F.scaled_dot_product_attention(q, k, v, attn_mask=keep), atol=ATOL, rtol=0)


def test_3d_enable_gqa_groups_along_the_leading_axis_like_torch():
    q, k, v = _gqa_qkv(H=6, H_kv=2)
    q3, k3, v3 = q[0], k[0], v[0]  # (6, T, d), (2, S, d), (2, S, d)
    ref = F.scaled_dot_product_attention(q3, k3, v3, enable_gqa=True)
    torch.testing.assert_close(scaled_dot_product_attention(q3, k3, v3, enable_gqa=True), ref, atol=ATOL, rtol=0)


def test_3d_bad_inputs():
    q, k, v = (x[0] for x in _qkv(B=1, H=3, T=4, S=5, d=6))
    with pytest.raises(ValueError, match=r"k must be 3-D like q, \(N, S, d_head\); got shape \(1, 3, 5, 6\)"):
        scaled_dot_product_attention(q, k[None], v)
    with pytest.raises(ValueError, match=r"v must be 4-D like q, \(B, H, S, d_v\)"):
        scaled_dot_product_attention(q[None], k[None], v)
    with pytest.raises(ValueError, match=r"mask must broadcast to \(N, T, S\) = \(3, 4, 5\) for 3-D q, k, v"):
        scaled_dot_product_attention(q, k, v, torch.ones(1, 3, 4, 5, dtype=torch.bool))  # torch: RuntimeError
    with pytest.raises(ValueError, match=r"mask must broadcast to \(N, T, S\)"):
        scaled_dot_product_attention(q, k, v, torch.ones(2, 4, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="or 3-D"):
        scaled_dot_product_attention(q[None, None], k[None, None], v[None, None])  # 5-D
