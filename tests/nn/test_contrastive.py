import math

import pytest
import torch
import torch.nn.functional as F

from interviewlib.nn import alignment, info_nce, info_nce_logits, uniformity

# float64 round-off.
TOL = 1e-12


def _pair(n=6, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64), torch.randn(n, d, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("tau", [0.05, 0.5, 2.0])
def test_info_nce_equals_cross_entropy_formulation(tau):
    q, k = _pair()
    q.requires_grad_(True)
    logits = F.normalize(q, dim=1) @ F.normalize(k, dim=1).T / tau
    ref = F.cross_entropy(logits, torch.arange(6))
    ours = info_nce(q, k, temperature=tau)
    torch.testing.assert_close(ours, ref, rtol=TOL, atol=TOL)
    (g_ours,) = torch.autograd.grad(ours, q)
    (g_ref,) = torch.autograd.grad(ref, q)
    torch.testing.assert_close(g_ours, g_ref, rtol=1e-10, atol=1e-10)
    sym_ref = 0.5 * (ref + F.cross_entropy(logits.T, torch.arange(6)))
    torch.testing.assert_close(info_nce(q, k, temperature=tau, symmetric=True), sym_ref, rtol=TOL, atol=TOL)


def test_logit_gradient_is_softmax_minus_identity_over_n_tau():
    q, k = _pair(5, 3, seed=1)
    tau = 0.2
    s = (F.normalize(q, dim=1) @ F.normalize(k, dim=1).T).requires_grad_(True)
    loss = (torch.logsumexp(s / tau, 1) - s.diagonal() / tau).mean()
    loss.backward()
    expected = (torch.softmax(s.detach() / tau, dim=1) - torch.eye(5, dtype=torch.float64)) / (5 * tau)
    torch.testing.assert_close(s.grad, expected, rtol=TOL, atol=TOL)
    # and info_nce_logits really is s / tau
    torch.testing.assert_close(info_nce_logits(q, k, tau), s.detach() / tau, rtol=TOL, atol=TOL)


def test_info_nce_closed_forms():
    n = 8
    same = torch.ones(n, 3, dtype=torch.float64)
    assert info_nce(same, same).item() == pytest.approx(math.log(n), abs=1e-12)  # all similarities equal
    eye = torch.eye(n, dtype=torch.float64)
    # orthonormal: positives 1/tau, negatives 0 -> log(1 + (n-1) e^{-1/tau})
    assert info_nce(eye, eye, temperature=0.5).item() == pytest.approx(math.log(1 + (n - 1) * math.exp(-2.0)))
    # the CPC bound log N - L is non-negative here
    assert math.log(n) - info_nce(eye, eye, temperature=0.5).item() >= 0


def test_alignment_and_uniformity_match_reference_formulas():
    x, y = _pair(10, 5, seed=2)
    x, y = F.normalize(x, dim=1), F.normalize(y, dim=1)
    # Wang & Isola's reference code: (x - y).norm(p=2, dim=1).pow(alpha).mean(); pdist(...).pow(2).mul(-t).exp().mean().log()
    torch.testing.assert_close(alignment(x, y), (x - y).norm(p=2, dim=1).pow(2).mean(), rtol=TOL, atol=TOL)
    torch.testing.assert_close(alignment(x, y, alpha=1.0), (x - y).norm(dim=1).mean(), rtol=TOL, atol=TOL)
    ref_u = torch.pdist(x, p=2).pow(2).mul(-2.0).exp().mean().log()
    torch.testing.assert_close(uniformity(x), ref_u, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(uniformity(x, t=0.5), torch.pdist(x).pow(2).mul(-0.5).exp().mean().log())


def test_uniformity_closed_forms():
    antipodal = torch.tensor([[1.0, 0.0], [-1.0, 0.0]], dtype=torch.float64)
    assert uniformity(antipodal).item() == pytest.approx(-8.0)  # |a-b|^2 = 4, t = 2
    assert uniformity(torch.ones(4, 2) / math.sqrt(2)).item() == pytest.approx(0.0, abs=1e-6)


def test_inputs_not_mutated():
    q, k = _pair()
    q0 = q.clone()
    info_nce(q, k)
    uniformity(q)
    torch.testing.assert_close(q, q0, rtol=0, atol=0)


def test_bad_input():
    q, k = _pair()
    with pytest.raises(ValueError, match="temperature must be > 0"):
        info_nce(q, k, temperature=0.0)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        info_nce(q, k, temperature=-1.0)
    with pytest.raises(ValueError, match="key must have the shape of query"):
        info_nce(q, k[:3])
    with pytest.raises(ValueError, match="query must be 2-D"):
        info_nce(q[0], k[0])
    with pytest.raises(ValueError, match="at least 2 rows"):
        uniformity(q[:1])
    with pytest.raises(ValueError, match="alpha must be > 0"):
        alignment(q, k, alpha=0)
    with pytest.raises(TypeError, match="torch.Tensor"):
        info_nce(q.numpy(), k)
