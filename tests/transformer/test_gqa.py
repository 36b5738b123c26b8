import pytest
import torch
import torch.nn.functional as F
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb as hf_apply_rotary_pos_emb

from interviewlib.transformer import GroupedQueryAttention, KVCache, mha_to_gqa

# float64 on both sides; differences are summation-order rounding only.
ATOL = 1e-12


def _tables(positions, d_rot, base=10000.0):
    # RoPE tables written out here (rotate-half layout), independent of interviewlib.transformer.rope.
    inv = base ** (-torch.arange(0, d_rot, 2, dtype=torch.float64) / d_rot)  # (d_rot/2,)
    ang = torch.as_tensor(positions, dtype=torch.float64)[..., None] * inv  # (..., T, d_rot/2)
    emb = torch.cat([ang, ang], dim=-1)  # (..., T, d_rot)
    return emb.cos(), emb.sin()


def _attn(d=16, H=4, H_kv=2, head_dim=None, bias=False, seed=0):
    torch.manual_seed(seed)
    attn = GroupedQueryAttention(d, n_heads=H, n_kv_heads=H_kv, head_dim=head_dim, bias=bias).double()
    with torch.no_grad():  # O(1) weights so that attention is far from uniform
        for p in attn.parameters():
            p.normal_(0.0, 0.5)
    return attn


def _x(B=2, T=6, d=16, seed=1):
    return torch.randn(B, T, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _reference(attn, x, rope=None, mask=None, d_rot=None):
    """Projections by hand, HF's RoPE rotation, torch's SDPA with enable_gqa."""
    B, T, _ = x.shape
    H, H_kv, dh = attn.n_heads, attn.n_kv_heads, attn.head_dim
    q = F.linear(x, attn.q_proj.weight, attn.q_proj.bias).view(B, T, H, dh).transpose(1, 2)
    k = F.linear(x, attn.k_proj.weight, attn.k_proj.bias).view(B, T, H_kv, dh).transpose(1, 2)
    v = F.linear(x, attn.v_proj.weight, attn.v_proj.bias).view(B, T, H_kv, dh).transpose(1, 2)
    if rope is not None:
        cos, sin = (t if t.ndim == 3 else t[None] for t in rope)  # (B or 1, T, d_rot)
        r = cos.shape[-1] if d_rot is None else d_rot
        qr, kr = hf_apply_rotary_pos_emb(q[..., :r], k[..., :r], cos, sin)
        q, k = torch.cat([qr, q[..., r:]], -1), torch.cat([kr, k[..., r:]], -1)
    keep = torch.ones(T, T, dtype=torch.bool).tril()  # (T, T) causal
    if mask is not None:
        keep = keep & mask
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=keep, enable_gqa=True)  # (B, H, T, dh)
    return F.linear(out.transpose(1, 2).reshape(B, T, H * dh), attn.o_proj.weight)


@pytest.mark.parametrize(("H", "H_kv"), [(4, 4), (4, 2), (4, 1)], ids=["MHA", "GQA", "MQA"])
def test_matches_torch_sdpa_enable_gqa(H, H_kv):
    attn, x = _attn(H=H, H_kv=H_kv), _x()
    torch.testing.assert_close(attn(x, None), _reference(attn, x), atol=ATOL, rtol=0)
    rope = _tables(torch.arange(6), 4)
    torch.testing.assert_close(attn(x, rope), _reference(attn, x, rope), atol=ATOL, rtol=0)


def test_per_row_positions_partial_rope_bias_and_explicit_head_dim():
    attn, x = _attn(d=16, H=4, H_kv=2, head_dim=6, bias=True), _x()
    pos = torch.tensor([[0, 1, 2, 3, 4, 5], [7, 8, 9, 10, 11, 12]])  # (B, T): the second row is shifted
    rope = _tables(pos, 4)  # 4 of the 6 dims rotate
    torch.testing.assert_close(attn(x, rope), _reference(attn, x, rope, d_rot=4), atol=ATOL, rtol=0)
    # RoPE: a common shift of every position leaves all scores, hence the output, unchanged
    same = _tables(torch.arange(6) + 7, 4)
    torch.testing.assert_close(attn(x, same), attn(x, _tables(torch.arange(6), 4)), atol=1e-10, rtol=0)


def test_extra_mask_is_combined_with_causality():
    attn, x = _attn(), _x(T=5)
    mask = torch.ones(2, 1, 5, 5, dtype=torch.bool)
    mask[1, ..., :2] = False  # row 1: its first two tokens are padding keys
    mask[1, ..., :2, 0] = True  # ... but padded queries keep one key (no empty rows)
    rope = _tables(torch.arange(5), 4)
    torch.testing.assert_close(attn(x, rope, mask=mask), _reference(attn, x, rope, mask=mask), atol=ATOL, rtol=0)


def test_cached_decoding_equals_the_full_forward():
    attn, x = _attn(H=4, H_kv=1), _x(T=7)
    full = attn(x, _tables(torch.arange(7), 4))
    cache = KVCache(n_layers=1, max_len=7)
    outs = []
    for lo, hi in [(0, 3), (3, 4), (4, 5), (5, 7)]:
        outs.append(attn(x[:, lo:hi], _tables(torch.arange(lo, hi), 4), cache=cache))
        cache.advance(hi - lo)
    torch.testing.assert_close(torch.cat(outs, 1), full, atol=ATOL, rtol=0)
    # the cache holds only H_kv = 1 head: 4x fewer elements than MHA
    assert cache.nbytes() == 2 * 1 * 2 * 7 * attn.head_dim * 8


def test_parameter_count_and_biases():
    d, H, H_kv, dh = 16, 4, 2, 6
    attn = GroupedQueryAttention(d, n_heads=H, n_kv_heads=H_kv, head_dim=dh)
    assert sum(p.numel() for p in attn.parameters()) == d * (H + 2 * H_kv) * dh + H * dh * d
    attn = GroupedQueryAttention(d, n_heads=H, n_kv_heads=H_kv, head_dim=dh, bias=True)
    assert sum(p.numel() for p in attn.parameters()) == d * (H + 2 * H_kv) * dh + H * dh * d + (H + 2 * H_kv) * dh
    assert attn.o_proj.bias is None and attn.k_proj.bias is not None
    assert GroupedQueryAttention(12, n_heads=3).n_kv_heads == 3  # default: MHA


def test_gradients_flow_to_every_weight():
    attn, x = _attn(bias=True), _x()
    attn(x, _tables(torch.arange(6), 4)).pow(2).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in attn.parameters())


def test_bad_input():
    with pytest.raises(ValueError, match="n_heads must be divisible by n_kv_heads.*n_heads=4, n_kv_heads=3"):
        GroupedQueryAttention(16, n_heads=4, n_kv_heads=3)
    with pytest.raises(ValueError, match="d_model must be divisible by n_heads"):
        GroupedQueryAttention(18, n_heads=4)
    with pytest.raises(ValueError, match="n_kv_heads must be >= 1"):
        GroupedQueryAttention(16, n_heads=4, n_kv_heads=0)
    with pytest.raises(TypeError, match="n_heads must be an integer"):
        GroupedQueryAttention(16, n_heads=4.0)
    attn, x = _attn(), _x(T=5)
    rope = _tables(torch.arange(5), 4)
    with pytest.raises(ValueError, match=r"x must be 3-D \(B, T, d_model\)"):
        attn(x[0], rope)
    with pytest.raises(ValueError, match="last dimension d_model=16"):
        attn(x[..., :8], rope)
    with pytest.raises(ValueError, match="d_rot .* must be even"):
        attn(x, (rope[0][..., :3], rope[1][..., :3]))  # an odd number of rotated dims
    with pytest.raises(ValueError, match="cos must be"):
        attn(x, _tables(torch.arange(4), 4))  # tables for 4 positions, x has 5
    with pytest.raises(TypeError, match=r"rope must be a \(cos, sin\) pair"):
        attn(x, rope[0])
    with pytest.raises(TypeError, match="cache must be a KVCache"):
        attn(x, rope, cache={})
    cache = KVCache(n_layers=1, max_len=8)
    with pytest.raises(ValueError, match=r"mask must broadcast to \(B, H, T, S\) = \(2, 4, 5, 5\)"):
        attn(x, rope, mask=torch.ones(5, 4, dtype=torch.bool), cache=cache)
    assert cache.nbytes() == 0 and cache.batch_size is None  # checked before anything was cached
    with pytest.raises(ValueError, match="dtype of the scores"):
        attn(x, rope, mask=torch.zeros(5, 5, dtype=torch.float32))


def _group_mean(w, n_groups, group, rows_per_head):
    """Average consecutive heads, written as an explicit loop over the new heads."""
    out = []
    for j in range(n_groups):
        heads = [w[(j * group + i) * rows_per_head : (j * group + i + 1) * rows_per_head] for i in range(group)]
        out.append(torch.stack(heads).mean(0))
    return torch.cat(out)


def test_mha_to_gqa_identity_when_heads_are_unchanged():
    src, x = _attn(H=4, H_kv=4, bias=True), _x()
    before = {k: v.clone() for k, v in src.state_dict().items()}
    same = mha_to_gqa(src, 4)
    assert same is not src and same.n_kv_heads == 4
    for k, v in same.state_dict().items():
        assert torch.equal(v, before[k])
    rope = _tables(torch.arange(6), 4)
    torch.testing.assert_close(same(x, rope), src(x, rope), atol=0, rtol=0)


@pytest.mark.parametrize(("H_kv_src", "H_kv"), [(4, 2), (4, 1), (2, 1)])
def test_mha_to_gqa_pools_each_groups_weights(H_kv_src, H_kv):
    src = _attn(H=4, H_kv=H_kv_src, bias=True)
    before = {k: v.clone() for k, v in src.state_dict().items()}
    new = mha_to_gqa(src, H_kv)
    g, dh = H_kv_src // H_kv, src.head_dim
    for name in ("k_proj", "v_proj"):
        w, b = getattr(src, name).weight, getattr(src, name).bias
        torch.testing.assert_close(getattr(new, name).weight, _group_mean(w, H_kv, g, dh), atol=ATOL, rtol=0)
        torch.testing.assert_close(getattr(new, name).bias, _group_mean(b, H_kv, g, dh), atol=ATOL, rtol=0)
    assert torch.equal(new.q_proj.weight, src.q_proj.weight) and torch.equal(new.o_proj.weight, src.o_proj.weight)
    assert new.k_proj.weight.dtype == torch.float64 and new.n_kv_heads == H_kv
    assert all(torch.equal(v, before[k]) for k, v in src.state_dict().items())  # source unchanged


@pytest.mark.parametrize("H_kv", [2, 1])
def test_mha_to_gqa_equals_attention_with_each_groups_mean_kv(H_kv):
    src, x = _attn(H=4, H_kv=4, bias=True), _x()
    B, T, _ = x.shape
    rope = _tables(torch.arange(T), 4)
    cos, sin = rope[0][None], rope[1][None]
    dh = src.head_dim
    q = src.q_proj(x).view(B, T, 4, dh).transpose(1, 2)
    k = src.k_proj(x).view(B, T, 4, dh).transpose(1, 2)
    v = src.v_proj(x).view(B, T, 4, dh).transpose(1, 2)
    q, k = hf_apply_rotary_pos_emb(q, k, cos, sin)
    g = 4 // H_kv
    k_mean = k.view(B, H_kv, g, T, dh).mean(2)  # (B, H_kv, T, dh): the mean of each group's rotated keys
    v_mean = v.view(B, H_kv, g, T, dh).mean(2)
    out = F.scaled_dot_product_attention(q, k_mean, v_mean, is_causal=True, enable_gqa=True)
    ref = src.o_proj(out.transpose(1, 2).reshape(B, T, 4 * dh))
    torch.testing.assert_close(mha_to_gqa(src, H_kv)(x, rope), ref, atol=ATOL, rtol=0)
    assert not torch.allclose(mha_to_gqa(src, H_kv)(x, rope), src(x, rope), atol=1e-3)  # pooling changes the function


def test_mha_to_gqa_bad_input():
    src = _attn(H=4, H_kv=4)
    with pytest.raises(TypeError, match="attn must be a GroupedQueryAttention; got Linear"):
        mha_to_gqa(torch.nn.Linear(2, 2), 1)
    with pytest.raises(ValueError, match="n_kv_heads must divide the source's 4 KV heads; got 3"):
        mha_to_gqa(src, 3)
    with pytest.raises(ValueError, match="n_kv_heads must divide the source's 4 KV heads; got 8"):
        mha_to_gqa(src, 8)
    with pytest.raises(ValueError, match="n_kv_heads must be >= 1"):
        mha_to_gqa(src, 0)
