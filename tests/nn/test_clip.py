import math

import pytest
import torch

from interviewlib.nn import clip_grad_norm_

# float64 round-off on sums of a few hundred squares.
TOL = 1e-12


def _params_with_grads(seed, scale):
    g = torch.Generator().manual_seed(seed)
    shapes = [(3, 4), (5,), (2, 2, 2)]
    ps = [torch.zeros(s, dtype=torch.float64, requires_grad=True) for s in shapes]
    for p in ps:
        p.grad = scale * torch.randn(p.shape, generator=g, dtype=torch.float64)
    return ps


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0, math.inf])
@pytest.mark.parametrize("scale", [0.01, 10.0])
def test_matches_torch(norm_type, scale):
    ours, ref = _params_with_grads(0, scale), _params_with_grads(0, scale)
    n_ours = clip_grad_norm_(ours, max_norm=1.0, norm_type=norm_type)
    n_ref = torch.nn.utils.clip_grad_norm_(ref, max_norm=1.0, norm_type=norm_type)
    torch.testing.assert_close(n_ours, n_ref, rtol=TOL, atol=TOL)
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=TOL, atol=TOL)


def test_clipped_norm_equals_max_norm_and_direction_kept():
    ps = _params_with_grads(1, 100.0)
    before = torch.cat([p.grad.flatten() for p in ps]).clone()
    total = clip_grad_norm_(ps, max_norm=2.0)
    after = torch.cat([p.grad.flatten() for p in ps])
    assert total.item() == pytest.approx(before.norm().item())
    assert after.norm().item() == pytest.approx(2.0, rel=1e-6)  # 1e-6 is torch's epsilon in the coefficient
    cos = torch.dot(before, after) / (before.norm() * after.norm())
    assert cos.item() == pytest.approx(1.0, abs=1e-12)


def test_small_gradients_untouched_and_none_grads_skipped():
    p = torch.zeros(2, requires_grad=True)
    p.grad = torch.tensor([0.3, 0.4])
    q = torch.zeros(3, requires_grad=True)  # no grad
    total = clip_grad_norm_([p, q], max_norm=1.0)
    assert total.item() == pytest.approx(0.5)
    assert p.grad.tolist() == pytest.approx([0.3, 0.4])
    assert clip_grad_norm_([q], 1.0).item() == 0.0


def test_bad_input():
    p = torch.zeros(2, requires_grad=True)
    p.grad = torch.ones(2)
    with pytest.raises(ValueError, match="max_norm must be a number >= 0"):
        clip_grad_norm_([p], -1.0)
    with pytest.raises(ValueError, match="norm_type must be > 0"):
        clip_grad_norm_([p], 1.0, norm_type=0.0)
    with pytest.raises(TypeError, match=r"parameters\[0\] must be a torch.Tensor"):
        clip_grad_norm_([[1.0]], 1.0)
