
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import GPTNeoXConfig, LlamaConfig
from transformers.models.gpt_neox.modeling_gpt_neox import apply_rotary_pos_emb as neox_apply
from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb as llama_apply

from interviewlib.transformer import RotaryEmbedding, apply_rope, rope_cos_sin, rope_inv_freq, rotate_half

# float64 on both sides with the same cos/sin: only rounding of a few products and sums.
ATOL = 1e-12
# Hugging Face builds inv_freq (base ** (2i/d)) and the angles m * theta in float32. With d a power of
# two the exponent 2i/d is exact, so theta is off by <= 2 ulps (pow); the angle adds one rounding and
# cos/sin another: |error| <= m_max * 4 * eps32 for theta <= 1.
EPS32 = torch.finfo(torch.float32).eps
F32_INV_FREQ_RTOL = 2 * EPS32


def f32_angle_atol(m_max: int) -> float:
    return max(m_max, 1) * 4 * EPS32


def _x(B=2, H=3, T=5, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, H, T, d, generator=g, dtype=torch.float64)


def _llama_config(head_dim=16, base=10000.0, **extra):
    return LlamaConfig(
        hidden_size=2 * head_dim, num_attention_heads=2, head_dim=head_dim, max_position_embeddings=4096,
        rope_parameters={"rope_type": "default", "rope_theta": base, **extra},
    )


# ---- against Hugging Face -------------------------------------------------------------------------


@pytest.mark.parametrize("batched_tables", [False, True])
def test_apply_matches_hf_llama_with_same_tables(batched_tables):
    q, k = _x(seed=1), _x(seed=2)
    pos = torch.tensor([[0, 1, 2, 3, 4], [7, 8, 9, 10, 11]]) if batched_tables else torch.arange(5)
    cos, sin = rope_cos_sin(pos, rope_inv_freq(8), dtype=torch.float64)  # (T, 8) or (B, T, 8)
    hf_cos, hf_sin = (cos, sin) if batched_tables else (cos[None], sin[None])  # HF wants (B, T, d)
    ref_q, ref_k = llama_apply(q, k, hf_cos, hf_sin)
    torch.testing.assert_close(apply_rope(q, cos, sin), ref_q, atol=ATOL, rtol=0)
    torch.testing.assert_close(apply_rope(k, cos, sin), ref_k, atol=ATOL, rtol=0)


@pytest.mark.parametrize(("head_dim", "base"), [(16, 10000.0), (32, 500000.0), (64, 1e6)])
def test_tables_match_hf_llama_rotary_embedding(head_dim, base):
    hf = LlamaRotaryEmbedding(_llama_config(head_dim, base))
    pos = torch.stack([torch.arange(64), torch.arange(100, 164)])  # (2, 64)
    x = torch.zeros(1, dtype=torch.float64)
    hf_cos, hf_sin = hf(x, pos)  # float32 angles, returned as float64
    ours = RotaryEmbedding(head_dim, base=base)
    cos, sin = ours(pos, dtype=torch.float64)  # (2, 64, head_dim)
    tol = f32_angle_atol(164)
    torch.testing.assert_close(cos, hf_cos, atol=tol, rtol=0)
    torch.testing.assert_close(sin, hf_sin, atol=tol, rtol=0)
    # the frequencies themselves: float32 rounding of base ** (2i/d), relative
    torch.testing.assert_close(ours.inv_freq, hf.inv_freq.double(), rtol=F32_INV_FREQ_RTOL, atol=0)


def test_end_to_end_matches_hf_llama():
    hf = LlamaRotaryEmbedding(_llama_config(16, 10000.0))
    q = _x(T=6, d=16, seed=3).float()
    pos = torch.arange(6)[None]
    ref_q, _ = llama_apply(q, q, *hf(q, pos))
    ours = apply_rope(q, *RotaryEmbedding(16)(pos[0]))
    torch.testing.assert_close(ours, ref_q, atol=f32_angle_atol(6) * 8, rtol=0)  # |q| entries < 4, plus float32 products


def test_partial_rope_matches_gpt_neox():
    cfg = GPTNeoXConfig(hidden_size=32, num_attention_heads=2, rotary_pct=0.5)
    d, d_rot = 16, int(16 * cfg.rope_parameters["partial_rotary_factor"])
    assert d_rot == 8
    q, k = _x(d=d, seed=4), _x(d=d, seed=5)
    cos, sin = rope_cos_sin(torch.arange(5), rope_inv_freq(d_rot), dtype=torch.float64)
    ref_q, ref_k = neox_apply(q, k, cos[None], sin[None])
    out_q = apply_rope(q, cos, sin)
    torch.testing.assert_close(out_q, ref_q, atol=ATOL, rtol=0)
    torch.testing.assert_close(apply_rope(k, cos, sin), ref_k, atol=ATOL, rtol=0)
    assert torch.equal(out_q[..., d_rot:], q[..., d_rot:])  # pass-through dims untouched


# ---- closed forms -----------------------------------------------------------------------------------


def test_complex_multiplication_closed_form():
    # rotate-half pairs (x_i, x_{i+d/2}) as complex z_i = x_i + i x_{i+d/2}; RoPE is z_i * e^{i m theta_i}
    x = _x(T=7, d=12, seed=6)
    theta = rope_inv_freq(12, 500.0)
    m = torch.arange(7, dtype=torch.float64)
    z = torch.view_as_complex(torch.stack((x[..., :6], x[..., 6:]), dim=-1).contiguous())  # (B, H, T, 6)
    rotated = z * torch.polar(torch.ones(7, 6, dtype=torch.float64), m[:, None] * theta)
    expected = torch.cat((rotated.real, rotated.imag), dim=-1)
    torch.testing.assert_close(apply_rope(x, *rope_cos_sin(m, theta, dtype=torch.float64)), expected, atol=ATOL, rtol=0)


def test_two_dimensional_hand_worked():
    # d = 2, theta = 1: (1, 0) at position m is (cos m, sin m)
    x = torch.tensor([1.0, 0.0], dtype=torch.float64).expand(1, 1, 4, 2)
    out = apply_rope(x, *rope_cos_sin(torch.arange(4), rope_inv_freq(2), dtype=torch.float64))
    m = torch.arange(4, dtype=torch.float64)
    torch.testing.assert_close(out[0, 0], torch.stack((m.cos(), m.sin()), dim=-1), atol=ATOL, rtol=0)


def test_inv_freq_closed_form_and_rotate_half():
    torch.testing.assert_close(rope_inv_freq(6, 1000.0), torch.tensor([1.0, 0.1, 0.01], dtype=torch.float64))
    x = torch.randn(3, 8, dtype=torch.float64)
    assert torch.equal(rotate_half(rotate_half(x)), -x)  # multiplication by i twice


@settings(max_examples=25, deadline=None)
@given(
    half=st.integers(1, 8),
    m=st.integers(0, 2000),
    n=st.integers(0, 2000),
    shift=st.integers(-500, 500),
    seed=st.integers(0, 2**16),
)
def test_score_depends_only_on_relative_position(half, m, n, shift, seed):
    d = 2 * half
    g = torch.Generator().manual_seed(seed)
    q, k = torch.randn(2, d, generator=g, dtype=torch.float64)
    theta = rope_inv_freq(d)

    def score(a, b):
        qa = apply_rope(q.view(1, 1, 1, d), *rope_cos_sin(torch.tensor([a]), theta, dtype=torch.float64))
        kb = apply_rope(k.view(1, 1, 1, d), *rope_cos_sin(torch.tensor([b]), theta, dtype=torch.float64))
        return float((qa * kb).sum())

    s0 = score(m, n)
    # positions up to ~2500 rad: float64 cos/sin of the angle are accurate to ~1e-13 each
    assert abs(s0 - score(m + shift + 500, n + shift + 500)) < 1e-9 * (1 + abs(s0))
    # and equals q^T R_{n-m} k (rotate k alone by the offset)
    k_rel = apply_rope(k.view(1, 1, 1, d), *rope_cos_sin(torch.tensor([n - m]), theta, dtype=torch.float64))
    assert abs(s0 - float((q * k_rel.view(d)).sum())) < 1e-9 * (1 + abs(s0))


def test_norm_preserved_full_and_partial():
    x = _x(T=9, d=16, seed=7)
    for d_rot in (16, 8, 2):
        y = apply_rope(x, *rope_cos_sin(torch.arange(100, 109), rope_inv_freq(d_rot), dtype=torch.float64))
        torch.testing.assert_close(y.norm(dim=-1), x.norm(dim=-1), atol=ATOL, rtol=0)


def test_kv_cache_consistency_and_no_mutation():
    # keys rotated at their absolute positions stay valid when the sequence grows
    x = _x(T=10, seed=8)
    x0 = x.clone()
    inv = rope_inv_freq(8)
    full = apply_rope(x, *rope_cos_sin(torch.arange(10), inv, dtype=torch.float64))
    tail = apply_rope(x[:, :, 6:], *rope_cos_sin(torch.arange(6, 10), inv, dtype=torch.float64))
    torch.testing.assert_close(full[:, :, 6:], tail, atol=ATOL, rtol=0)
    assert torch.equal(x, x0)


def test_attention_scaling_scales_tables_and_rotary_module_inv_freq():
    inv = rope_inv_freq(8, 50.0) / 3
    cos, sin = RotaryEmbedding(8, inv_freq=inv, attention_scaling=1.5)(torch.arange(4), dtype=torch.float64)
    ref_cos, ref_sin = rope_cos_sin(torch.arange(4), inv, dtype=torch.float64)
    torch.testing.assert_close(cos, 1.5 * ref_cos, atol=ATOL, rtol=0)
    torch.testing.assert_close(sin, 1.5 * ref_sin, atol=ATOL, rtol=0)
    assert torch.equal(cos[0], torch.full((8,), 1.5, dtype=torch.float64))


# ---- bad input --------------------------------------------------------------------------------------


def test_bad_inputs():
    with pytest.raises(ValueError, match="d_rot must be even"):
        rope_inv_freq(7)
    with pytest.raises(ValueError, match="d_rot must be >= 2"):
        rope_inv_freq(0)
    with pytest.raises(TypeError, match="d_rot must be an integer"):
        rope_inv_freq(8.0)
    with pytest.raises(ValueError, match="base must be a finite number > 1"):
        rope_inv_freq(8, base=1.0)
    inv = rope_inv_freq(8)
    with pytest.raises(ValueError, match="positions must be 1-D"):
        rope_cos_sin(torch.zeros(2, 3, 4), inv)
    with pytest.raises(ValueError, match="inv_freq must be 1-D"):
        rope_cos_sin(torch.arange(3), inv[None])
    with pytest.raises(TypeError, match="positions must be a torch.Tensor"):
        rope_cos_sin([0, 1], inv)
    cos, sin = rope_cos_sin(torch.arange(5), inv, dtype=torch.float64)
    x = _x()
    with pytest.raises(ValueError, match="x must be 4-D"):
        apply_rope(x[0], cos, sin)
    with pytest.raises(ValueError, match="cos and sin must share a shape"):
        apply_rope(x, cos, sin[:4])
    with pytest.raises(ValueError, match="must be even and <= d=8"):
        apply_rope(x, cos[:, :7], sin[:, :7])
    with pytest.raises(ValueError, match="must be even and <= d=4"):
        apply_rope(x[..., :4], cos, sin)
    with pytest.raises(ValueError, match=r"cos must be \(T, d_rot\) or \(B, T, d_rot\)"):
        apply_rope(x[:, :, :4], cos, sin)
    with pytest.raises(ValueError, match=r"cos must be \(T, d_rot\) or \(B, T, d_rot\)"):
        apply_rope(x, cos.expand(3, 5, 8), sin.expand(3, 5, 8))
    with pytest.raises(ValueError, match="x must have a floating dtype"):
        apply_rope(x.long(), cos, sin)
    with pytest.raises(ValueError, match="last dimension of x must be even"):
        rotate_half(torch.zeros(3, 5))
    with pytest.raises(ValueError, match=r"inv_freq must have shape \(4,\)"):
        RotaryEmbedding(8, inv_freq=torch.ones(3, dtype=torch.float64))
