import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import LlamaConfig
from transformers.models.llama.modeling_llama import LlamaMLP, LlamaRMSNorm

from interviewlib.transformer import RMSNorm, SwiGLU

# float64 on both sides: the two differ only in summation order.
ATOL = 1e-12
# float32 on both sides (Hugging Face's LlamaRMSNorm always computes in float32).
ATOL_F32 = 1e-6


def _x(*shape, seed=0, dtype=torch.float64, scale=1.0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype) * scale


def _norm_pair(d, eps, seed=0):
    ours = RMSNorm(d, eps=eps).double()
    ref = torch.nn.RMSNorm(d, eps=eps, dtype=torch.float64)
    with torch.no_grad():
        ours.weight.copy_(1 + 0.3 * _x(d, seed=seed + 100))
        ref.weight.copy_(ours.weight)
    return ours, ref


@pytest.mark.parametrize(("shape", "eps"), [((2, 5, 8), 1e-6), ((3, 16), 1e-5), ((1, 1, 1, 4), 0.5), ((7,), 1e-6)])
def test_matches_torch_rmsnorm(shape, eps):
    ours, ref = _norm_pair(shape[-1], eps)
    x = _x(*shape, seed=1, scale=3.0)
    torch.testing.assert_close(ours(x), ref(x), atol=ATOL, rtol=0)


def test_gradients_match_torch_rmsnorm():
    ours, ref = _norm_pair(6, 1e-6)
    x1 = _x(4, 6, seed=2).requires_grad_(True)
    x2 = x1.detach().clone().requires_grad_(True)
    w = _x(4, 6, seed=3)
    (ours(x1) * w).sum().backward()
    (ref(x2) * w).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, atol=ATOL, rtol=0)
    torch.testing.assert_close(ours.weight.grad, ref.weight.grad, atol=ATOL, rtol=0)
    assert torch.autograd.gradcheck(ours, (_x(2, 6, seed=4).requires_grad_(True),))


def test_matches_hf_llama_rmsnorm_in_float32():
    ours = RMSNorm(16, eps=1e-5)
    ref = LlamaRMSNorm(16, eps=1e-5)
    with torch.no_grad():
        ours.weight.copy_(1 + 0.3 * _x(16, seed=5, dtype=torch.float32))
        ref.weight.copy_(ours.weight)
    x = _x(3, 4, 16, seed=6, dtype=torch.float32, scale=10.0)
    torch.testing.assert_close(ours(x), ref(x), atol=ATOL_F32, rtol=0)


def test_hand_worked():
    # x = (3, 4): mean square 12.5, so y = x / sqrt(12.5 + eps)
    eps = 1e-6
    y = RMSNorm(2, eps=eps).double()(torch.tensor([3.0, 4.0], dtype=torch.float64))
    torch.testing.assert_close(y, torch.tensor([3.0, 4.0], dtype=torch.float64) / math.sqrt(12.5 + eps), atol=1e-15, rtol=0)
    # a constant vector c normalises to sign(c) (up to eps); no mean is subtracted, unlike LayerNorm
    y = RMSNorm(5, eps=0.0 + 1e-12).double()(torch.full((5,), -2.0, dtype=torch.float64))
    torch.testing.assert_close(y, torch.full((5,), -1.0, dtype=torch.float64), atol=1e-12, rtol=0)
    # zero input stays zero (no division by zero thanks to eps)
    assert torch.equal(RMSNorm(3)(torch.zeros(2, 3)), torch.zeros(2, 3))


@settings(max_examples=25, deadline=None)
@given(d=st.integers(1, 16), c=st.floats(1e-2, 1e2), seed=st.integers(0, 10_000))
def test_property_scale_invariant_and_unit_rms(d, c, seed):
    # eps = 1e-20 is negligible against a mean square >= 0.25 * c^2 >= 2.5e-5, so only rounding remains
    norm = RMSNorm(d, eps=1e-20).double()
    x = _x(3, d, seed=seed)
    x = x + 0.5 * torch.sign(x)  # every |entry| >= 0.5: away from the zero vector
    y = norm(x)
    torch.testing.assert_close(norm(c * x), y, atol=ATOL, rtol=0)
    torch.testing.assert_close(y.pow(2).mean(-1), torch.ones(3, dtype=torch.float64), atol=ATOL, rtol=0)


def test_half_precision_input_is_normalised_in_float32():
    # 300^2 = 9e4 overflows float16 (max 65504): a naive float16 mean square is inf.
    x = torch.full((2, 8), 300.0, dtype=torch.float16)
    assert torch.isinf(x.pow(2).mean(-1)).all()
    norm = RMSNorm(8).half()
    y = norm(x)
    assert y.dtype == torch.float16 and torch.isfinite(y).all()
    ref = torch.nn.RMSNorm(8, eps=1e-6)(x.float()).half()
    torch.testing.assert_close(y, ref, atol=0, rtol=0)
    # a float32 gain promotes the output, as in LlamaRMSNorm
    assert RMSNorm(8)(x).dtype == torch.float32 and LlamaRMSNorm(8)(x).dtype == torch.float32


def test_rmsnorm_bad_input():
    with pytest.raises(ValueError, match="d must be >= 1"):
        RMSNorm(0)
    with pytest.raises(TypeError, match="d must be an integer"):
        RMSNorm(4.0)
    for eps in (0.0, -1e-6, float("nan"), "1e-6", True):
        with pytest.raises(ValueError, match="eps must be a positive number"):
            RMSNorm(4, eps=eps)
    norm = RMSNorm(4)
    with pytest.raises(ValueError, match=r"last dimension 4; got shape \(2, 5\)"):
        norm(torch.zeros(2, 5))
    with pytest.raises(TypeError, match="torch.Tensor"):
        norm([1.0, 2.0, 3.0, 4.0])
    with pytest.raises(ValueError, match="floating dtype"):
        norm(torch.ones(2, 4, dtype=torch.long))


def _swiglu_pair(d, d_ff, seed=0):
    ours = SwiGLU(d, d_ff).double()
    cfg = LlamaConfig(hidden_size=d, intermediate_size=d_ff, num_attention_heads=1, hidden_act="silu")
    ref = LlamaMLP(cfg).double()
    with torch.no_grad():
        for i, name in enumerate(("gate_proj", "up_proj", "down_proj")):
            w = getattr(ours, name).weight
            w.copy_(_x(*w.shape, seed=seed + i))
            getattr(ref, name).weight.copy_(w)
    return ours, ref


def test_swiglu_matches_hf_llama_mlp_and_the_formula():
    ours, ref = _swiglu_pair(8, 20)
    x = _x(2, 5, 8, seed=7)
    torch.testing.assert_close(ours(x), ref(x), atol=ATOL, rtol=0)
    g, u = x @ ours.gate_proj.weight.T, x @ ours.up_proj.weight.T  # (B, T, d_ff)
    by_hand = (g * torch.sigmoid(g) * u) @ ours.down_proj.weight.T  # SiLU(z) = z * sigmoid(z)
    torch.testing.assert_close(ours(x), by_hand, atol=ATOL, rtol=0)


def test_swiglu_parameters_and_gating():
    ffn = SwiGLU(12, 32)
    assert sum(p.numel() for p in ffn.parameters()) == 3 * 12 * 32
    assert all(m.bias is None for m in (ffn.gate_proj, ffn.up_proj, ffn.down_proj))
    x = _x(3, 12, seed=8, dtype=torch.float32)
    assert torch.equal(ffn(torch.zeros(3, 12)), torch.zeros(3, 12))
    with torch.no_grad():
        ffn.up_proj.weight.zero_()  # the gate multiplies a zero "up" branch
    assert torch.equal(ffn(x), torch.zeros(3, 12))
    with torch.no_grad():
        ffn.gate_proj.weight.fill_(0.0)  # SiLU(0) = 0 closes the gate whatever "up" is
        ffn.up_proj.weight.normal_()
    assert torch.equal(ffn(x), torch.zeros(3, 12))


def test_swiglu_bad_input():
    with pytest.raises(ValueError, match="d_ff must be >= 1"):
        SwiGLU(4, 0)
    with pytest.raises(TypeError, match="d_model must be an integer"):
        SwiGLU(True, 8)
