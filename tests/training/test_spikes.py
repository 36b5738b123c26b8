"""Spike monitor, z-loss and Adam's worst-case step (q08-17)."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewlib.training import SpikeMonitor, adam_max_update_ratio, z_loss

EW_ATOL = 1e-12  # float64 recursions vs pandas' ewm: rounding only
Z_RTOL = 1e-12  # float64 logsumexp vs the unstabilised direct formula on O(1) logits
GRAD_ATOL = 1e-15  # float64 autograd vs the closed-form gradient (values ~1e-5)
ADAM_RTOL = 1e-6  # 2000 tiny gradients of 1e-7 leave a relative trace of about 1e-7


# ---------------------------------------------------------------- SpikeMonitor
def test_running_statistics_equal_pandas_ewm():
    x = np.random.default_rng(0).normal(size=300)
    mon = SpikeMonitor(alpha=0.1, threshold=1e9, warmup=1, log_scale=False)
    mean, var = [], []
    for v in x:
        assert not mon.update(float(v))
        mean.append(mon.mean_)
        var.append(mon.var_)
    ref = pd.Series(x).ewm(alpha=0.1, adjust=False)
    np.testing.assert_allclose(mean, ref.mean().to_numpy(), atol=EW_ATOL, rtol=0)
    np.testing.assert_allclose(var, ref.var(bias=True).to_numpy(), atol=EW_ATOL, rtol=0)


def test_hand_worked_z_score():
    mon = SpikeMonitor(alpha=0.5, threshold=2.0, warmup=2, log_scale=False, min_std=1e-9)
    assert not mon.update(1.0) and not mon.update(3.0)  # mean 2, var 0.5 * (0 + 0.5 * 4) = 1
    assert mon.mean_ == 2.0 and mon.var_ == 1.0
    assert not mon.update(4.0) and mon.z_ == 2.0  # z = (4 - 2)/1 is not > 2
    assert mon.update(10.0) and math.isclose(mon.z_, (10.0 - 3.0) / math.sqrt(1.5))  # flagged; stats frozen
    assert mon.mean_ == 3.0 and mon.count_ == 3


@settings(max_examples=25, deadline=None)
@given(noise=st.lists(st.floats(-1.0, 1.0), min_size=30, max_size=200), level=st.floats(0.1, 20.0),
       threshold=st.floats(2.0, 10.0), at=st.integers(25, 29))  # fmt: skip
def test_bounded_noise_never_flags_and_a_big_jump_always_does(noise, level, threshold, at):
    min_std = 0.01
    a = 0.4 * threshold * min_std  # |log x - log level| <= a  =>  z <= 2a / min_std < threshold
    mon = SpikeMonitor(threshold=threshold, warmup=20, min_std=min_std)
    assert not any(mon.update(level * math.exp(a * e)) for e in noise)
    mon2 = SpikeMonitor(threshold=threshold, warmup=20, min_std=min_std)
    for e in noise[:at]:
        mon2.update(level * math.exp(a * e))
    jump = a + threshold * max(math.sqrt(mon2.var_), min_std) + 0.01  # beyond anything the z-test allows
    assert mon2.update(level * math.exp(jump))


def test_spike_then_recovery_on_a_synthetic_curve():
    rng = np.random.default_rng(1)
    t = np.arange(1000)
    loss = (2 + 5 * np.exp(-t / 200)) * np.exp(0.02 * rng.standard_normal(t.size))
    loss[500:503] *= 2.0
    mon = SpikeMonitor()
    assert [k for k, v in enumerate(loss) if mon.update(v)] == [500, 501, 502]


def test_two_sided_flags_a_collapse_that_one_sided_absorbs():
    loss = [2.0 * (1 + 0.01 * (-1) ** k) for k in range(40)] + [0.01] * 10 + [3.0] * 3
    one, two = SpikeMonitor(), SpikeMonitor(two_sided=True)
    f_one = [k for k, v in enumerate(loss) if one.update(v)]
    f_two = [k for k, v in enumerate(loss) if two.update(v)]
    assert f_one == [] and f_two == list(range(40, 53))  # the drop, then the (now unabsorbed) rise


def test_nan_flags_state_roundtrip_and_tensor_input():
    mon = SpikeMonitor(warmup=3)
    for v in (2.0, 2.01, 1.99, 2.0):
        mon.update(torch.tensor(v))
    before = mon.state_dict()
    assert mon.update(float("nan")) and mon.update(math.inf) and mon.z_ == math.inf
    assert mon.mean_ == before["mean_"] and mon.flags_ == 2
    other = SpikeMonitor()
    other.load_state_dict(mon.state_dict())
    seq = [2.0, 2.02, 5.0, 1.98]
    assert [mon.update(v) for v in seq] == [other.update(v) for v in seq]
    mon.reset()
    assert mon.count_ == 0 and mon.flags_ == 0


def test_monitor_bad_input():
    mon = SpikeMonitor()
    for bad in (None, "not valid", [1.0, [2.0]], torch.ones(2)):
        with pytest.raises(TypeError, match="loss"):
            mon.update(bad)
    with pytest.raises(ValueError, match="log_scale"):
        mon.update(0.0)
    with pytest.raises(ValueError, match="alpha"):
        SpikeMonitor(alpha=1.5).update(1.0)
    with pytest.raises(ValueError, match="threshold"):
        SpikeMonitor(threshold=-1.0).update(1.0)
    with pytest.raises(ValueError, match="warmup"):
        SpikeMonitor(warmup=0).update(1.0)
    with pytest.raises(ValueError, match="missing keys"):
        mon.load_state_dict({"alpha": 0.1})
    with pytest.raises(TypeError, match="state"):
        mon.load_state_dict(None)


# ---------------------------------------------------------------- z-loss
def test_z_loss_equals_direct_formula_and_its_gradient():
    torch.manual_seed(0)
    logits = torch.randn(4, 6, 13, dtype=torch.float64, requires_grad=True)
    mask = torch.rand(4, 6) < 0.6
    c = 3e-4
    ours = z_loss(logits, coefficient=c, mask=mask)
    log_z = torch.log(torch.exp(logits).sum(-1))  # (4, 6)
    direct = c * (log_z[mask] ** 2).mean()
    torch.testing.assert_close(ours, direct, rtol=Z_RTOL, atol=0)
    (g,) = torch.autograd.grad(ours, logits)
    closed = 2 * c * log_z[..., None] * torch.softmax(logits, -1) * mask[..., None] / mask.sum()
    torch.testing.assert_close(g, closed, rtol=0, atol=GRAD_ATOL)
    # without a mask: every position counts
    torch.testing.assert_close(z_loss(logits, coefficient=c), c * (log_z**2).mean(), rtol=Z_RTOL, atol=0)


def test_z_loss_closed_form_cases():
    z = torch.zeros(2, 5)  # log Z = log 5 everywhere
    assert math.isclose(z_loss(z, coefficient=1.0).item(), math.log(5) ** 2, rel_tol=1e-6)
    normalised = torch.log_softmax(torch.randn(3, 7, dtype=torch.float64), -1)  # log Z = 0
    assert z_loss(normalised, coefficient=1.0).item() < 1e-25
    assert z_loss(torch.randn(3, 7), coefficient=0.0).item() == 0.0
    big = torch.full((1, 4), 1000.0)  # stable: no overflow where exp would overflow
    assert math.isclose(z_loss(big, coefficient=1.0).item(), (1000 + math.log(4)) ** 2, rel_tol=1e-6)


def test_z_loss_bad_input():
    for bad in (None, "not valid", float("nan"), [[1.0], [1.0, 2.0]]):
        with pytest.raises(TypeError, match="logits"):
            z_loss(bad)
    with pytest.raises(ValueError, match="floating"):
        z_loss(torch.ones(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="last"):
        z_loss(torch.ones(2, 0))
    with pytest.raises(ValueError, match="coefficient"):
        z_loss(torch.ones(2, 3), coefficient=-1.0)
    with pytest.raises(ValueError, match="mask must have shape"):
        z_loss(torch.ones(2, 3), mask=torch.ones(3, dtype=torch.bool))
    with pytest.raises(TypeError, match="mask"):
        z_loss(torch.ones(2, 3), mask=torch.ones(2))
    with pytest.raises(ValueError, match="no position"):
        z_loss(torch.ones(2, 3), mask=torch.zeros(2, dtype=torch.bool))


# ---------------------------------------------------------------- Adam's worst-case step
@pytest.mark.parametrize("beta2", [0.999, 0.99, 0.95])
def test_adam_ratio_matches_torch_adam_after_stale_second_moment(beta2):
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.Adam([p], lr=1.0, betas=(0.9, beta2), eps=1e-14)
    for _ in range(2000):
        p.grad = torch.full_like(p, 1e-7)
        opt.step()
    before = p.item()
    p.grad = torch.full_like(p, 5.0)
    opt.step()
    np.testing.assert_allclose(abs(p.item() - before), adam_max_update_ratio(0.9, beta2, step=2001), rtol=ADAM_RTOL)


def test_adam_ratio_closed_forms():
    assert adam_max_update_ratio(0.9, 0.999, step=1) == 1.0  # first step: m_hat / sqrt(v_hat) = g/|g|
    assert math.isclose(adam_max_update_ratio(0.9, 0.999), 0.1 / math.sqrt(0.001))
    assert math.isclose(adam_max_update_ratio(0.0, 0.0), 1.0)  # RMSprop-free limit: sign descent
    assert adam_max_update_ratio(0.9, 0.95, step=10**6) == adam_max_update_ratio(0.9, 0.95)


def test_adam_ratio_bad_input():
    for bad in (None, "not valid", [0.9]):
        with pytest.raises(TypeError, match="beta1"):
            adam_max_update_ratio(bad, 0.9)
    with pytest.raises(ValueError, match="beta1"):
        adam_max_update_ratio(float("nan"), 0.9)
    with pytest.raises(ValueError, match="beta2"):
        adam_max_update_ratio(0.9, 1.0)
    with pytest.raises(ValueError, match="step"):
        adam_max_update_ratio(0.9, 0.99, step=0)
