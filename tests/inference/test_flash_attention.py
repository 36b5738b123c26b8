import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewlib.inference import (
    causal_block_schedule,
    flash_attn_backward,
    flash_attn_forward,
    flash_attn_func,
    flash_decoding,
    merge_attention_partials,
    online_softmax,
    peak_memory_bytes,
)
from interviewlib.transformer import scaled_dot_product_attention as explicit_sdpa

# float64 on both sides: the tiled kernel only changes the order of the sums (and the
# exp(m_old - m_new) rescalings), so differences are a few ulps of O(1) numbers.
ATOL = 1e-12
# float32 inputs against a float64 reference: float32 rounding of O(1) sums over <= 64 keys.
ATOL_F32 = 1e-5
# bfloat16 inputs (8-bit mantissa, ~4e-3 relative) against a float64 reference.
ATOL_BF16 = 3e-2


def _qkv(B=2, H=3, T=9, S=11, d=5, dv=4, H_kv=None, dtype=torch.float64, seed=0, grad=False):
    g = torch.Generator().manual_seed(seed)
    H_kv = H if H_kv is None else H_kv
    q = torch.randn(B, H, T, d, generator=g, dtype=torch.float64).to(dtype)
    k = torch.randn(B, H_kv, S, d, generator=g, dtype=torch.float64).to(dtype)
    v = torch.randn(B, H_kv, S, dv, generator=g, dtype=torch.float64).to(dtype)
    return tuple(t.requires_grad_(grad) for t in (q, k, v))


def _bottom_right(T, S):
    return torch.ones(T, S, dtype=torch.bool).tril(diagonal=S - T)  # (T, S), True = attend


def _reference_lse(q, k, mask=None, causal=False):
    """logsumexp of the scaled, masked scores, computed densely with torch."""
    k = k.repeat_interleave(q.shape[1] // k.shape[1], dim=1)
    s = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])  # (B, H, T, S)
    if causal:
        s = s.masked_fill(~_bottom_right(q.shape[2], k.shape[2]), float("-inf"))
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else s + mask
    return torch.logsumexp(s, dim=-1)  # (B, H, T)


def _grads(out, inputs, seed=1):
    g = torch.Generator().manual_seed(seed)
    upstream = torch.randn(out.shape, generator=g, dtype=out.dtype)
    return torch.autograd.grad(out, inputs, upstream)


# ---------------------------------------------------------------- online softmax


@pytest.mark.parametrize("block_size", [1, 2, 3, 7, 100])
def test_online_softmax_matches_torch(block_size):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 7, generator=g, dtype=torch.float64) * 5
    x[1, 3] = float("-inf")
    p, lse = online_softmax(x, block_size=block_size)
    torch.testing.assert_close(p, torch.softmax(x, dim=-1), atol=ATOL, rtol=0)
    torch.testing.assert_close(lse, torch.logsumexp(x, dim=-1), atol=ATOL, rtol=0)
    p1, lse1 = online_softmax(x[0], block_size=block_size)  # 1-D stream
    torch.testing.assert_close(p1, torch.softmax(x[0], dim=-1), atol=ATOL, rtol=0)
    assert lse1.shape == ()


def test_online_softmax_hand_worked_and_no_overflow():
    # softmax([0, ln 3]) = [1/4, 3/4], logsumexp = ln 4.
    p, lse = online_softmax(torch.tensor([0.0, math.log(3.0)], dtype=torch.float64))
    torch.testing.assert_close(p, torch.tensor([0.25, 0.75], dtype=torch.float64), atol=ATOL, rtol=0)
    assert abs(lse.item() - math.log(4.0)) < ATOL
    # exp(1000) overflows; the running max keeps every exponent <= 0.
    p, lse = online_softmax(torch.tensor([1000.0, 1001.0], dtype=torch.float64), block_size=1)
    e = math.e
    torch.testing.assert_close(p, torch.tensor([1 / (1 + e), e / (1 + e)], dtype=torch.float64), atol=ATOL, rtol=0)
    assert abs(lse.item() - (1001.0 + math.log1p(math.exp(-1.0)))) < 1e-10


def test_online_softmax_all_blocked_row():
    x = torch.tensor([[float("-inf")] * 3, [0.0, float("-inf"), 0.0]], dtype=torch.float64)
    p, lse = online_softmax(x, block_size=2)
    assert torch.equal(p[0], torch.zeros(3, dtype=torch.float64)) and lse[0].item() == float("-inf")
    torch.testing.assert_close(p[1], torch.tensor([0.5, 0.0, 0.5], dtype=torch.float64), atol=ATOL, rtol=0)


@settings(max_examples=25, deadline=None)
@given(
    rows=st.integers(1, 4),
    n=st.integers(1, 30),
    block=st.integers(1, 12),
    scale=st.sampled_from([0.1, 1.0, 30.0]),
    seed=st.integers(0, 10_000),
)
def test_online_softmax_property(rows, n, block, scale, seed):
    x = torch.randn(rows, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * scale
    p, lse = online_softmax(x, block_size=block)
    torch.testing.assert_close(p, torch.softmax(x, dim=-1), atol=ATOL, rtol=0)
    torch.testing.assert_close(lse, torch.logsumexp(x, dim=-1), atol=1e-10, rtol=0)


# ---------------------------------------------------------------- causal schedule


def test_causal_block_schedule_hand_worked():
    assert causal_block_schedule(4, 4, 2, 2).tolist() == [[1, 0], [2, 1]]
    # 8 x 8 tiles on the diagonal: n(n+1)/2 = 36 of 64 tiles are visited, 8 of them masked.
    kind = causal_block_schedule(512, 512, 64, 64)
    assert int((kind > 0).sum()) == 36 and int((kind == 1).sum()) == 8


@pytest.mark.parametrize(("T", "S", "bq", "bk"), [(7, 7, 3, 2), (3, 10, 2, 4), (10, 3, 4, 1), (5, 13, 5, 5)])
def test_causal_block_schedule_matches_dense_mask(T, S, bq, bk):
    keep = _bottom_right(T, S)
    kind = causal_block_schedule(T, S, bq, bk)
    for a in range(kind.shape[0]):
        for b in range(kind.shape[1]):
            tile = keep[a * bq : (a + 1) * bq, b * bk : (b + 1) * bk]
            expected = 0 if not tile.any() else 2 if tile.all() else 1
            assert kind[a, b].item() == expected


# ---------------------------------------------------------------- forward


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize(("bq", "bk"), [(4, 3), (1, 1), (64, 64), (5, 11)])
def test_forward_matches_torch_sdpa(causal, bq, bk):
    q, k, v = _qkv(T=11, S=11)  # T == S so torch's top-left is_causal agrees with ours
    out, lse = flash_attn_forward(q, k, v, is_causal=causal, block_q=bq, block_k=bk)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    torch.testing.assert_close(out, ref, atol=ATOL, rtol=0)
    torch.testing.assert_close(lse, _reference_lse(q, k, causal=causal), atol=ATOL, rtol=0)


def test_forward_padding_and_bias_masks_match_torch():
    q, k, v = _qkv(T=6, S=13)
    pad = torch.ones(2, 1, 1, 13, dtype=torch.bool)
    pad[0, ..., 9:] = False  # sequence 0 has 4 padded keys
    out, lse = flash_attn_forward(q, k, v, pad, block_q=4, block_k=5)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=pad), atol=ATOL, rtol=0)
    torch.testing.assert_close(lse, _reference_lse(q, k, pad), atol=ATOL, rtol=0)
    bias = torch.randn(6, 13, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    out = flash_attn_forward(q, k, v, bias, block_q=4, block_k=5)[0]
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=bias), atol=ATOL, rtol=0)


@pytest.mark.parametrize(("T", "S"), [(3, 10), (10, 4), (1, 17)])
def test_forward_causal_T_ne_S_is_bottom_right(T, S):
    q, k, v = _qkv(T=T, S=S)
    out = flash_attn_forward(q, k, v, is_causal=True, block_q=4, block_k=3)[0]
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=_bottom_right(T, S))
    keep_any = _bottom_right(T, S).any(dim=-1)  # torch gives NaN-free zeros only for non-empty rows
    torch.testing.assert_close(out[..., keep_any, :], ref[..., keep_any, :], atol=ATOL, rtol=0)
    torch.testing.assert_close(out, explicit_sdpa(q, k, v, is_causal=True), atol=ATOL, rtol=0)


def test_forward_gqa_matches_torch_enable_gqa():
    q, k, v = _qkv(H=6, H_kv=2, T=10, S=10)
    out = flash_attn_forward(q, k, v, is_causal=True, block_q=3, block_k=4, enable_gqa=True)[0]
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    torch.testing.assert_close(out, ref, atol=ATOL, rtol=0)


def test_forward_custom_scale():
    q, k, v = _qkv(T=5, S=5)
    out = flash_attn_forward(q, k, v, scale=0.3, block_q=2, block_k=2)[0]
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, scale=0.3), atol=ATOL, rtol=0)


def test_low_precision_inputs_keep_float32_statistics():
    q64, k64, v64 = _qkv(T=40, S=40, d=16, dv=16)
    ref = F.scaled_dot_product_attention(q64, k64, v64, is_causal=True)
    out32, lse32 = flash_attn_forward(q64.float(), k64.float(), v64.float(), is_causal=True, block_q=16, block_k=16)
    assert out32.dtype == torch.float32 and lse32.dtype == torch.float32
    torch.testing.assert_close(out32.double(), ref, atol=ATOL_F32, rtol=0)
    outbf, lsebf = flash_attn_forward(*(t.bfloat16() for t in (q64, k64, v64)), is_causal=True, block_q=16, block_k=16)
    assert outbf.dtype == torch.bfloat16 and lsebf.dtype == torch.float32
    torch.testing.assert_close(outbf.double(), ref, atol=ATOL_BF16, rtol=0)


# ---------------------------------------------------------------- backward


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("padded", [False, True])
def test_gradients_match_torch_sdpa(causal, padded):
    q, k, v = _qkv(T=12, S=12, grad=True)
    mask = None
    if padded:
        mask = torch.ones(2, 1, 1, 12, dtype=torch.bool)
        mask[1, ..., 8:] = False
    out = flash_attn_func(q, k, v, mask, is_causal=causal, block_q=5, block_k=3)
    if causal and padded:  # torch refuses attn_mask together with is_causal: pass their conjunction
        ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask & _bottom_right(12, 12))
    else:
        ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
    torch.testing.assert_close(out, ref, atol=ATOL, rtol=0)
    for ours, theirs in zip(_grads(out, (q, k, v)), _grads(ref, (q, k, v))):
        torch.testing.assert_close(ours, theirs, atol=ATOL, rtol=0)


@pytest.mark.parametrize(("T", "S", "H_kv"), [(4, 13, 3), (13, 4, 3), (9, 9, 1)])
def test_gradients_T_ne_S_and_gqa_match_explicit_attention(T, S, H_kv):
    q, k, v = _qkv(H=3, H_kv=H_kv, T=T, S=S, grad=True)
    kw = dict(is_causal=True, enable_gqa=True)
    out = flash_attn_func(q, k, v, block_q=3, block_k=5, **kw)
    ref = explicit_sdpa(q, k, v, **kw)
    torch.testing.assert_close(out, ref, atol=ATOL, rtol=0)
    for ours, theirs in zip(_grads(out, (q, k, v)), _grads(ref, (q, k, v))):
        torch.testing.assert_close(ours, theirs, atol=ATOL, rtol=0)


def test_fully_masked_rows_give_zero_output_and_gradient():
    q, k, v = _qkv(B=1, H=1, T=4, S=5, grad=True)
    mask = torch.ones(1, 1, 4, 5, dtype=torch.bool)
    mask[..., 2, :] = False  # query 2 sees nothing
    out = flash_attn_func(q, k, v, mask, block_q=2, block_k=2)
    assert torch.equal(out[..., 2, :], torch.zeros(1, 1, 4, dtype=torch.float64))
    ref = explicit_sdpa(q, k, v, mask)  # safe softmax: zero weights for empty rows
    for ours, theirs in zip(_grads(out, (q, k, v)), _grads(ref, (q, k, v))):
        assert torch.isfinite(ours).all()
        torch.testing.assert_close(ours, theirs, atol=ATOL, rtol=0)
    _, lse = flash_attn_forward(q, k, v, mask)
    assert lse[0, 0, 2].item() == float("-inf")


def test_lse_output_and_its_gradient():
    q, k, v = _qkv(T=7, S=9, grad=True)
    out, lse = flash_attn_func(q, k, v, is_causal=True, block_q=2, block_k=4, return_lse=True)
    ref = _reference_lse(q, k, causal=True)
    torch.testing.assert_close(lse, ref, atol=ATOL, rtol=0)
    w = torch.linspace(-1, 1, 7, dtype=torch.float64)
    loss, loss_ref = (lse * w).sum() + out.sum(), (ref * w).sum() + explicit_sdpa(q, k, v, is_causal=True).sum()
    for ours, theirs in zip(torch.autograd.grad(loss, (q, k, v)), torch.autograd.grad(loss_ref, (q, k, v))):
        torch.testing.assert_close(ours, theirs, atol=ATOL, rtol=0)


def test_flash_attn_backward_direct_call():
    q, k, v = _qkv(T=10, S=10, grad=True)
    out, lse = flash_attn_forward(q.detach(), k.detach(), v.detach(), is_causal=True, block_q=4, block_k=4)
    dout = torch.randn(out.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    dq, dk, dv = flash_attn_backward(q, k, v, out, lse, dout, is_causal=True, block_q=3, block_k=7)  # other tiles
    ref = torch.autograd.grad(F.scaled_dot_product_attention(q, k, v, is_causal=True), (q, k, v), dout)
    for ours, theirs in zip((dq, dk, dv), ref):
        torch.testing.assert_close(ours, theirs, atol=ATOL, rtol=0)


@settings(max_examples=25, deadline=None)
@given(
    B=st.integers(1, 2),
    H_kv=st.integers(1, 2),
    group=st.integers(1, 2),
    T=st.integers(1, 12),
    S=st.integers(1, 12),
    d=st.integers(1, 6),
    bq=st.integers(1, 13),
    bk=st.integers(1, 13),
    causal=st.booleans(),
    seed=st.integers(0, 10_000),
)
def test_property_matches_explicit_attention(B, H_kv, group, T, S, d, bq, bk, causal, seed):
    q, k, v = _qkv(B=B, H=H_kv * group, H_kv=H_kv, T=T, S=S, d=d, dv=d, seed=seed, grad=True)
    kw = dict(is_causal=causal, enable_gqa=True)
    out = flash_attn_func(q, k, v, block_q=bq, block_k=bk, **kw)
    ref = explicit_sdpa(q, k, v, **kw)
    torch.testing.assert_close(out, ref, atol=ATOL, rtol=0)
    for ours, theirs in zip(_grads(out, (q, k, v)), _grads(ref, (q, k, v))):
        torch.testing.assert_close(ours, theirs, atol=ATOL, rtol=0)


# ---------------------------------------------------------------- split-K / Flash-Decoding


@pytest.mark.parametrize("num_splits", [1, 2, 3, 7, 40])
def test_flash_decoding_equals_one_pass(num_splits):
    q, k, v = _qkv(T=1, S=29, H=4, H_kv=2)
    pad = torch.ones(2, 1, 1, 29, dtype=torch.bool)
    pad[1, ..., 20:] = False
    out, lse = flash_decoding(q, k, v, pad, num_splits=num_splits, block_k=4, enable_gqa=True)
    ref_out, ref_lse = flash_attn_forward(q, k, v, pad, block_k=64, enable_gqa=True)
    torch.testing.assert_close(out, ref_out, atol=ATOL, rtol=0)
    torch.testing.assert_close(lse, ref_lse, atol=ATOL, rtol=0)
    torch.testing.assert_close(
        out, F.scaled_dot_product_attention(q, k, v, attn_mask=pad, enable_gqa=True), atol=ATOL, rtol=0
    )


def test_flash_decoding_causal_with_several_queries():
    q, k, v = _qkv(T=3, S=17)  # e.g. speculative decoding: 3 new tokens over 17 cached keys
    out, _ = flash_decoding(q, k, v, num_splits=4, is_causal=True, block_k=2)
    torch.testing.assert_close(
        out, F.scaled_dot_product_attention(q, k, v, attn_mask=_bottom_right(3, 17)), atol=ATOL, rtol=0
    )


def test_merge_partials_exact_associative_and_empty_part():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 12, generator=g, dtype=torch.float64)
    vals = torch.randn(12, 4, generator=g, dtype=torch.float64)
    cuts = [(0, 5), (5, 6), (6, 12)]
    outs = [torch.softmax(x[:, a:b], -1) @ vals[a:b] for a, b in cuts]
    lses = [torch.logsumexp(x[:, a:b], -1) for a, b in cuts]
    out, lse = merge_attention_partials(outs, lses)
    torch.testing.assert_close(out, torch.softmax(x, -1) @ vals, atol=ATOL, rtol=0)
    torch.testing.assert_close(lse, torch.logsumexp(x, -1), atol=ATOL, rtol=0)
    left = merge_attention_partials(outs[:2], lses[:2])
    nested = merge_attention_partials([left[0], outs[2]], [left[1], lses[2]])
    torch.testing.assert_close(nested[0], out, atol=ATOL, rtol=0)
    empty = merge_attention_partials(
        torch.stack([outs[0], torch.zeros(3, 4, dtype=torch.float64)]),
        torch.stack([lses[0], torch.full((3,), float("-inf"), dtype=torch.float64)]),
    )
    torch.testing.assert_close(empty[0], outs[0], atol=ATOL, rtol=0)
    none = merge_attention_partials([outs[0] * 0], [torch.full((3,), float("-inf"), dtype=torch.float64)])
    assert torch.equal(none[0], torch.zeros(3, 4, dtype=torch.float64)) and torch.isneginf(none[1]).all()


# ---------------------------------------------------------------- memory meter


def test_peak_memory_known_case():
    def f():
        a = torch.empty(1000, 1000, dtype=torch.float64)  # 8 MB
        b = torch.empty(500, 1000, dtype=torch.float64)  # 4 MB, both alive: 12 MB
        del a
        c = torch.empty(200, 1000, dtype=torch.float64)  # 1.6 MB after a's 8 MB were freed
        return b[:10] + c[:10]

    assert peak_memory_bytes(f)[1] == 12_000_000
    x = torch.randn(1000, 1000)
    assert peak_memory_bytes(lambda: x.view(-1)[:5].t())[1] == 0  # views of an input allocate nothing


def test_peak_memory_counts_tensors_saved_for_backward():
    x = torch.randn(1000, dtype=torch.float64, requires_grad=True)

    def f():
        y = x.exp()  # saved by exp's backward: must stay counted after the name y is gone
        z = y.sum()
        del y
        w = torch.empty(1000, dtype=torch.float64)  # allocated while y's storage is still alive
        return z, w

    assert peak_memory_bytes(f)[1] >= 2 * 8000


def _profiler_peak(fn):
    """Peak of the CPU allocator's own events, as recorded by torch.profiler."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events() if e.name() == "[memory]")
    current = peak = 0
    for _, nbytes in events:
        current += nbytes
        peak = max(peak, current)
    return peak


def test_peak_memory_agrees_with_profiler_on_attention():
    q, k, v = _qkv(B=1, H=2, T=256, S=256, d=32, dv=32, dtype=torch.float32)
    for fn in (
        lambda: explicit_sdpa(q, k, v, is_causal=True),
        lambda: flash_attn_forward(q, k, v, is_causal=True, block_q=32, block_k=32),
    ):
        assert peak_memory_bytes(fn)[1] == _profiler_peak(fn)


def test_peak_memory_linear_for_tiles_quadratic_for_explicit():
    peaks = {}
    for n in (256, 512, 1024):
        q, k, v = _qkv(B=1, H=1, T=n, S=n, d=32, dv=32, dtype=torch.float32)
        peaks[n] = (
            peak_memory_bytes(explicit_sdpa, q, k, v)[1],
            peak_memory_bytes(flash_attn_forward, q, k, v, block_q=64, block_k=64)[1],
        )
        assert peaks[n][0] >= 2 * n * n * 4  # scores and weights, float32
    assert peaks[1024][0] / peaks[512][0] > 3.5 and peaks[1024][1] / peaks[512][1] < 2.2


# ---------------------------------------------------------------- bad input


def test_bad_block_sizes():
    q, k, v = _qkv()
    with pytest.raises(ValueError, match="block_q must be >= 1"):
        flash_attn_forward(q, k, v, block_q=0)
    with pytest.raises(ValueError, match="block_k must be >= 1"):
        flash_attn_func(q, k, v, block_k=-2)
    with pytest.raises(TypeError, match="block_q must be an integer"):
        flash_attn_forward(q, k, v, block_q=2.5)
    with pytest.raises(ValueError, match="block_size must be >= 1"):
        online_softmax(torch.zeros(3), block_size=0)
    with pytest.raises(ValueError, match="num_splits must be >= 1"):
        flash_decoding(q, k, v, num_splits=0)
    with pytest.raises(ValueError, match="block_k must be >= 1"):
        causal_block_schedule(4, 4, 2, 0)


def test_bad_shapes_and_dtypes():
    q, k, v = _qkv()
    with pytest.raises(ValueError, match="q must be 4-D"):
        flash_attn_forward(q[0], k, v)
    with pytest.raises(ValueError, match="same d_head"):
        flash_attn_forward(q, k[..., :3], v)
    with pytest.raises(ValueError, match=r"k, v on \(B, H_kv, S\)"):
        flash_attn_forward(q, k, v[:, :, :4])
    with pytest.raises(ValueError, match="enable_gqa=True"):
        flash_attn_forward(q, k[:, :1], v[:, :1])
    with pytest.raises(ValueError, match="multiple of the key/value heads"):
        flash_attn_forward(q, k[:, :2], v[:, :2], enable_gqa=True)
    with pytest.raises(ValueError, match="share a dtype"):
        flash_attn_forward(q, k.float(), v)
    with pytest.raises(ValueError, match="mask must broadcast"):
        flash_attn_forward(q, k, v, torch.ones(9, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="scale must be a finite"):
        flash_attn_forward(q, k, v, scale=float("nan"))
    with pytest.raises(TypeError, match="q must be a torch.Tensor"):
        flash_attn_func([1.0], k, v)
    out, lse = flash_attn_forward(q, k, v)
    with pytest.raises(ValueError, match="lse must have shape"):
        flash_attn_backward(q, k, v, out, lse[..., :3], out)


def test_bad_online_softmax_and_merge_and_meter_input():
    with pytest.raises(ValueError, match="1-D"):
        online_softmax(torch.zeros(2, 2, 2))
    with pytest.raises(ValueError, match="NaN or \\+inf"):
        online_softmax(torch.tensor([0.0, float("nan")]))
    with pytest.raises(ValueError, match="NaN or \\+inf"):
        online_softmax(torch.tensor([0.0, float("inf")]))
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        online_softmax([0.0, 1.0])
    o, s = torch.zeros(3, 4), torch.zeros(3)
    with pytest.raises(ValueError, match="as many outputs as logsumexps"):
        merge_attention_partials([o, o], [s])
    with pytest.raises(TypeError, match="lses must be a sequence of tensors or one stacked tensor; got NoneType"):
        merge_attention_partials([o], None)
    with pytest.raises(ValueError, match="outs as one tensor must be stacked along dim 0"):
        merge_attention_partials(torch.tensor(1.0), [s])
    with pytest.raises(ValueError, match="part 1 has"):
        merge_attention_partials([o, torch.zeros(2, 4)], [s, s])
    with pytest.raises(TypeError, match="fn must be callable"):
        peak_memory_bytes(3)
