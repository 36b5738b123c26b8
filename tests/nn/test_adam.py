import pytest
import torch

from interviewlib.nn import Adam, AdamW

# 100 float64 steps: round-off accumulates to ~1e-14, far below the required 1e-10.
TOL = 1e-10


def _model(seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()


def _train(opt_cls, kwargs, steps=100, seed=0):
    model = _model(seed)
    opt = opt_cls(model.parameters(), **kwargs)
    g = torch.Generator().manual_seed(1)
    X = torch.randn(32, 5, generator=g, dtype=torch.float64)
    y = torch.randn(32, 1, generator=g, dtype=torch.float64)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(X), y).backward()
        opt.step()
    return [p.detach() for p in model.parameters()], opt


@pytest.mark.parametrize(
    ("ours", "ref", "kwargs"),
    [
        (Adam, torch.optim.Adam, dict(lr=1e-2)),
        (Adam, torch.optim.Adam, dict(lr=3e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
        (AdamW, torch.optim.AdamW, dict(lr=1e-2)),
        (AdamW, torch.optim.AdamW, dict(lr=3e-2, betas=(0.5, 0.9), eps=1e-7, weight_decay=0.5)),
    ],
)
def test_matches_torch_over_100_steps(ours, ref, kwargs):
    p_ours, _ = _train(ours, kwargs)
    p_ref, _ = _train(ref, kwargs)
    for a, b in zip(p_ours, p_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=TOL)


def test_adam_with_decay_differs_from_adamw():
    a, _ = _train(Adam, dict(lr=1e-2, weight_decay=0.5), steps=20)
    w, _ = _train(AdamW, dict(lr=1e-2, weight_decay=0.5), steps=20)
    assert max((x - y).abs().max().item() for x, y in zip(a, w, strict=True)) > 1e-4


def test_first_step_is_lr_times_sign():
    # m_hat = g, v_hat = g^2 -> step = lr * g / (|g| + eps): size lr whatever the gradient scale
    w = torch.tensor([1.0, 1.0, 1.0], dtype=torch.float64, requires_grad=True)
    opt = Adam([w], lr=0.1, eps=0.0)
    w.grad = torch.tensor([1e-6, -3.0, 1e6], dtype=torch.float64)
    opt.step()
    torch.testing.assert_close(w.detach(), torch.tensor([0.9, 1.1, 0.9], dtype=torch.float64))


def test_without_bias_correction_first_step_is_distorted():
    # m_1 = (1 - b1) g, v_1 = (1 - b2) g^2 -> step = lr (1 - b1) / sqrt(1 - b2)
    w = torch.tensor([0.0], dtype=torch.float64, requires_grad=True)
    opt = Adam([w], lr=1.0, betas=(0.9, 0.999), eps=0.0, bias_correction=False)
    w.grad = torch.tensor([2.0], dtype=torch.float64)
    opt.step()
    assert w.item() == pytest.approx(-0.1 / 0.001**0.5)


def test_adamw_pure_decay_closed_form():
    w = torch.tensor([2.0], dtype=torch.float64, requires_grad=True)
    opt = AdamW([w], lr=0.1, weight_decay=0.3)
    for _ in range(5):
        w.grad = torch.zeros(1, dtype=torch.float64)
        opt.step()
    assert w.item() == pytest.approx(2.0 * (1 - 0.03) ** 5, abs=1e-14)


def test_state_is_two_tensors_per_parameter():
    params, opt = _train(AdamW, dict(lr=1e-3), steps=2)
    for p in params:
        st = opt.state[next(q for q in opt.param_groups[0]["params"] if q.shape == p.shape)]
        assert st["exp_avg"].shape == p.shape
        assert st["exp_avg_sq"].shape == p.shape
        assert st["step"] == 2


def test_bad_hyperparameters():
    p = [torch.zeros(2, requires_grad=True)]
    with pytest.raises(ValueError, match="lr must be >= 0"):
        Adam(p, lr=-1.0)
    with pytest.raises(ValueError, match=r"betas\[0\] must be in \[0, 1\)"):
        Adam(p, betas=(1.0, 0.9))
    with pytest.raises(ValueError, match=r"betas\[1\] must be in \[0, 1\)"):
        AdamW(p, betas=(0.9, -0.1))
    with pytest.raises(ValueError, match="weight_decay must be >= 0"):
        AdamW(p, weight_decay=-0.1)
    with pytest.raises(ValueError, match="betas must be a pair"):
        Adam(p, betas=(0.9,))
