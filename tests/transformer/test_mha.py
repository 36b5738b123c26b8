import pytest
import torch
from torch import nn

from interviewlib.transformer import MultiHeadAttention, padding_mask

ATOL = 1e-12  # float64 on both sides


def _ref(d=12, h=3, bias=True, seed=0):
    torch.manual_seed(seed)
    return nn.MultiheadAttention(d, h, bias=bias, batch_first=True).double().eval()


def test_self_attention_matches_torch_with_weights():
    ref = _ref()
    ours = MultiHeadAttention.from_torch(ref)
    x = torch.randn(2, 5, 12, dtype=torch.float64)
    out, w = ours(x, need_weights=True)
    rout, rw = ref(x, x, x, need_weights=True, average_attn_weights=False)
    torch.testing.assert_close(out, rout, atol=ATOL, rtol=0)
    torch.testing.assert_close(w, rw, atol=ATOL, rtol=0)


@pytest.mark.parametrize("bias", [True, False])
def test_cross_attention_padding_and_causal_match_torch(bias):
    ref = _ref(bias=bias, seed=1)
    ours = MultiHeadAttention.from_torch(ref)
    q = torch.randn(2, 4, 12, dtype=torch.float64)
    kv = torch.randn(2, 6, 12, dtype=torch.float64)
    km = padding_mask([6, 3], 6)
    out = ours(q, kv, key_mask=km)
    rout, _ = ref(q, kv, kv, key_padding_mask=~km)  # torch: True = padding
    torch.testing.assert_close(out, rout, atol=ATOL, rtol=0)
    # bool attn_mask: ours True = attend, torch's MHA True = blocked
    x = torch.randn(2, 5, 12, dtype=torch.float64)
    keep = torch.ones(5, 5, dtype=torch.bool).tril()
    km5 = padding_mask([5, 4], 5)
    out = ours(x, attn_mask=keep, key_mask=km5)
    rout, _ = ref(x, x, x, attn_mask=~keep, key_padding_mask=~km5)
    torch.testing.assert_close(out[1, :4], rout[1, :4], atol=ATOL, rtol=0)
    torch.testing.assert_close(out[0], rout[0], atol=ATOL, rtol=0)
    torch.testing.assert_close(ours(x, is_causal=True, key_mask=km5)[0], out[0], atol=ATOL, rtol=0)
    # additive float mask
    bias_m = torch.randn(5, 5, dtype=torch.float64)
    torch.testing.assert_close(ours(x, attn_mask=bias_m), ref(x, x, x, attn_mask=bias_m)[0], atol=ATOL, rtol=0)


def test_weights_copied_not_shared_and_inputs_unchanged():
    ref = _ref()
    ours = MultiHeadAttention.from_torch(ref)
    with torch.no_grad():
        ours.q_proj.weight.zero_()
    assert ref.in_proj_weight.abs().sum() > 0
    x = torch.randn(1, 3, 12, dtype=torch.float64)
    x0 = x.clone()
    ours(x)
    assert torch.equal(x, x0)


def test_one_head_equals_plain_attention():
    # h = 1: W_O (softmax(Q K^T / sqrt d) V), written out by hand
    torch.manual_seed(3)
    m = MultiHeadAttention(4, 1).double()
    x = torch.randn(1, 3, 4, dtype=torch.float64)
    q, k, v = m.q_proj(x), m.k_proj(x), m.v_proj(x)
    ref = m.out_proj(torch.softmax(q @ k.transpose(1, 2) / 2.0, -1) @ v)
    torch.testing.assert_close(m(x), ref, atol=ATOL, rtol=0)


@pytest.mark.parametrize("h", [1, 2, 4, 8])
def test_parameter_count_independent_of_heads(h):
    assert sum(p.numel() for p in MultiHeadAttention(16, h).parameters()) == 4 * 16 * 16 + 4 * 16


def test_bad_inputs():
    with pytest.raises(ValueError, match="d_model must be divisible by n_heads"):
        MultiHeadAttention(10, 3)
    m = MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match="query must be 3-D"):
        m(torch.randn(2, 8))
    with pytest.raises(ValueError, match="last dimension d_model=8"):
        m(torch.randn(2, 3, 6))
    with pytest.raises(ValueError, match="key_mask must be a bool tensor of shape"):
        m(torch.randn(2, 3, 8), key_mask=torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="key_mask must be a bool"):
        m(torch.randn(2, 3, 8), key_mask=torch.ones(2, 3))
    with pytest.raises(ValueError, match="broadcast"):
        m(torch.randn(2, 3, 8), attn_mask=torch.ones(4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="share B"):
        m(torch.randn(2, 3, 8), torch.randn(2, 4, 8), torch.randn(2, 5, 8))
    with pytest.raises(TypeError, match="nn.MultiheadAttention"):
        MultiHeadAttention.from_torch(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="add_bias_kv"):
        MultiHeadAttention.from_torch(nn.MultiheadAttention(8, 2, add_bias_kv=True))
