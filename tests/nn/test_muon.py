import math

import numpy as np
import pytest
import scipy.linalg
import torch

from interviewlib.nn import (
    NS_COEFFICIENTS,
    Muon,
    max_attention_logits,
    muon_lr_scale,
    newton_schulz,
    polar_factor_svd,
    qk_clip,
)

# float64 iteration vs the scalar polynomial applied to SVD singular values: round-off only.
TOL64 = 1e-10
# bfloat16 has an 8-bit mantissa (relative step 2**-8 ~ 4e-3); allow a few ulps.
TOL_BF16 = 3e-2


def _scalar_map(s, steps):
    a, b, c = NS_COEFFICIENTS
    for _ in range(steps):
        s = a * s + b * s**3 + c * s**5
    return s


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (5, 5)])
@pytest.mark.parametrize("steps", [0, 1, 5])
def test_newton_schulz_applies_the_quintic_to_singular_values(shape, steps):
    g = torch.Generator().manual_seed(0)
    G = torch.randn(shape, generator=g, dtype=torch.float64)
    U, S, Vh = torch.linalg.svd(G, full_matrices=False)
    expected = U @ torch.diag(_scalar_map(S / (G.norm() + 1e-7), steps)) @ Vh
    torch.testing.assert_close(newton_schulz(G, steps, compute_dtype=None), expected, rtol=0, atol=TOL64)


def test_five_steps_land_near_one_but_not_exactly():
    g = torch.Generator().manual_seed(1)
    G = torch.randn(64, 32, generator=g, dtype=torch.float64)
    s = torch.linalg.svdvals(newton_schulz(G, compute_dtype=None))
    assert s.min() > 0.6
    assert s.max() < 1.25
    assert (s - 1).abs().max() > 0.05  # the coefficients trade exactness for speed


def test_bf16_matches_torch_reference_code():
    from torch.optim._muon import _zeropower_via_newtonschulz

    g = torch.Generator().manual_seed(2)
    G = torch.randn(48, 24, generator=g)
    ref = _zeropower_via_newtonschulz(G, NS_COEFFICIENTS, 5, 1e-7).float()
    ours = newton_schulz(G)
    assert ours.dtype == G.dtype
    torch.testing.assert_close(ours, ref, rtol=TOL_BF16, atol=TOL_BF16)


def test_polar_factor_matches_scipy():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(5, 5))
    u, _ = scipy.linalg.polar(A)
    torch.testing.assert_close(polar_factor_svd(torch.from_numpy(A)), torch.from_numpy(u), rtol=0, atol=1e-12)


def test_lr_scales():
    assert muon_lr_scale((512, 128)) == pytest.approx(2.0)
    assert muon_lr_scale((128, 512)) == pytest.approx(1.0)
    assert muon_lr_scale((128, 512), "match_rms_adamw") == pytest.approx(0.2 * math.sqrt(512))
    assert muon_lr_scale((7, 3), "none") == 1.0
    # Moonlight's rationale: a full-rank orthogonal A x B matrix has RMS 1/sqrt(max(A, B))
    O = polar_factor_svd(torch.randn(100, 30, dtype=torch.float64))
    rms = O.pow(2).mean().sqrt().item()
    assert rms * muon_lr_scale((100, 30), "match_rms_adamw") == pytest.approx(0.2, rel=1e-9)


@pytest.mark.parametrize("lr_scale", ["original", "match_rms_adamw"])
def test_optimizer_matches_torch_optim_muon(lr_scale):
    def run(cls, **kw):
        torch.manual_seed(0)
        W1 = torch.nn.Parameter(torch.randn(16, 8) * 0.3)
        W2 = torch.nn.Parameter(torch.randn(8, 16) * 0.3)
        opt = cls([W1, W2], lr=0.02, momentum=0.9, weight_decay=0.1, **kw)
        X, y = torch.randn(32, 8), torch.randn(32, 8)
        for _ in range(5):
            opt.zero_grad()
            ((torch.tanh(X @ W1.T) @ W2.T - y) ** 2).mean().backward()
            opt.step()
        return W1.detach(), W2.detach()

    ours = run(Muon, lr_scale=lr_scale)
    ref = run(torch.optim.Muon, adjust_lr_fn=lr_scale)
    for a, b in zip(ours, ref, strict=True):
        # each step moves entries by lr * scale * O(1/sqrt(16)); bf16 noise is ~1% of that per step
        torch.testing.assert_close(a, b, rtol=0, atol=5 * 0.02 * muon_lr_scale(tuple(a.shape), lr_scale) * TOL_BF16)


def test_optimizer_step_closed_form_in_float64():
    # one step from zero momentum: B = (1-b) G, U = (1-b) G + b B; W <- (1 - lr wd) W - lr s NS(U)
    torch.manual_seed(4)
    W0 = torch.randn(6, 3, dtype=torch.float64)
    G = torch.randn(6, 3, dtype=torch.float64)
    W = torch.nn.Parameter(W0.clone())
    opt = Muon([W], lr=0.05, momentum=0.9, weight_decay=0.2, ns_dtype=None)
    W.grad = G.clone()
    opt.step()
    U = 0.1 * G + 0.9 * (0.1 * G)
    Uu, S, Vh = torch.linalg.svd(U, full_matrices=False)
    O = Uu @ torch.diag(_scalar_map(S / (U.norm() + 1e-7), 5)) @ Vh
    expected = (1 - 0.05 * 0.2) * W0 - 0.05 * math.sqrt(6 / 3) * O
    torch.testing.assert_close(W.detach(), expected, rtol=0, atol=TOL64)
    torch.testing.assert_close(W.grad, G, rtol=0, atol=0)  # the gradient is not modified


def test_qk_clip_caps_each_head_at_tau():
    torch.manual_seed(5)
    h, dh, dm = 3, 4, 8
    x = torch.randn(2, 5, dm, dtype=torch.float64)
    wq, wk = torch.randn(h * dh, dm, dtype=torch.float64), torch.randn(h * dh, dm, dtype=torch.float64)
    wq[:dh] *= 10.0  # head 0 has huge logits
    s = max_attention_logits(x, wq, wk, h)
    # reference: explicit per-head loop
    for j in range(h):
        q = x @ wq[j * dh : (j + 1) * dh].T
        k = x @ wk[j * dh : (j + 1) * dh].T
        assert s[j].item() == pytest.approx((q @ k.transpose(1, 2) / math.sqrt(dh)).max().item())
    tau = float(s.min() + s.max()) / 2
    wq0 = wq.clone()
    wq2, wk2 = qk_clip(wq, wk, s, tau=tau)
    s2 = max_attention_logits(x, wq2, wk2, h)
    torch.testing.assert_close(s2, torch.minimum(s, torch.tensor(tau, dtype=torch.float64)), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(wq, wq0, rtol=0, atol=0)  # inputs untouched


def test_bad_input():
    with pytest.raises(ValueError, match="at least 2-D"):
        newton_schulz(torch.ones(3))
    with pytest.raises(ValueError, match="steps must be an integer >= 0"):
        newton_schulz(torch.ones(2, 2), steps=-1)
    with pytest.raises(ValueError, match="Muon only handles 2-D weights"):
        Muon([torch.nn.Parameter(torch.ones(3))])
    with pytest.raises(ValueError, match="Muon only handles 2-D weights"):
        Muon([torch.nn.Parameter(torch.ones(2, 3, 4))])
    with pytest.raises(ValueError, match="momentum must be in"):
        Muon([torch.nn.Parameter(torch.ones(2, 2))], momentum=1.0)
    with pytest.raises(ValueError, match="lr_scale must be one of"):
        Muon([torch.nn.Parameter(torch.ones(2, 2))], lr_scale="rms")
    with pytest.raises(ValueError, match="mode must be one of"):
        muon_lr_scale((2, 2), "x")
    with pytest.raises(ValueError, match="tau must be > 0"):
        qk_clip(torch.ones(4, 2), torch.ones(4, 2), torch.ones(2), tau=0.0)
    with pytest.raises(ValueError, match="n_heads must be a positive integer dividing"):
        qk_clip(torch.ones(4, 2), torch.ones(4, 2), torch.ones(3))
    with pytest.raises(ValueError, match="w_k must have the shape of w_q"):
        max_attention_logits(torch.ones(1, 2, 2), torch.ones(4, 2), torch.ones(2, 2), 2)
