import copy

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


# -- amsgrad, maximize -------------------------------------------------------------------------


def _steps(model, opt, steps, *, sign=1.0):
    """``steps`` full-batch steps on a fixed regression problem (loss ``sign * mse``)."""
    g = torch.Generator().manual_seed(1)
    X = torch.randn(32, 5, generator=g, dtype=torch.float64)
    y = torch.randn(32, 1, generator=g, dtype=torch.float64)
    for _ in range(steps):
        opt.zero_grad()
        (sign * torch.nn.functional.mse_loss(model(X), y)).backward()
        opt.step()


@pytest.mark.parametrize(("ours", "ref"), [(Adam, torch.optim.Adam), (AdamW, torch.optim.AdamW)])
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("maximize", [False, True])
def test_amsgrad_and_maximize_match_torch_over_100_steps(ours, ref, amsgrad, maximize):
    kwargs = dict(lr=2e-2, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=amsgrad, maximize=maximize)
    p_ours, p_ref = _model(0), _model(0)
    _steps(p_ours, ours(p_ours.parameters(), **kwargs), 100)
    _steps(p_ref, ref(p_ref.parameters(), **kwargs), 100)
    for a, b in zip(p_ours.parameters(), p_ref.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=TOL)


def test_amsgrad_changes_the_trajectory():
    # the gradients shrink as the fit improves, so v decreases and its running max differs
    plain, ams = _model(0), _model(0)
    _steps(plain, Adam(plain.parameters(), lr=2e-2), 100)
    _steps(ams, Adam(ams.parameters(), lr=2e-2, amsgrad=True), 100)
    diff = max((a - b).abs().max().item() for a, b in zip(plain.parameters(), ams.parameters(), strict=True))
    assert diff > 1e-4


def test_amsgrad_second_step_by_hand():
    # g = 1 then g = 0: v drops from 1e-3 to 0.999e-3, the max stays 1e-3; m_hat and the
    # corrections are the same with and without AMSGrad, only the denominator differs.
    b1, b2 = 0.9, 0.999
    m_hat = (1 - b1) * b1 / (1 - b1**2)
    v2 = (1 - b2) * b2
    for amsgrad, v_used in [(False, v2), (True, 1 - b2)]:
        w = torch.tensor([0.0], dtype=torch.float64, requires_grad=True)
        opt = Adam([w], lr=1.0, betas=(b1, b2), eps=0.0, amsgrad=amsgrad)
        for g in (1.0, 0.0):
            w.grad = torch.tensor([g], dtype=torch.float64)
            opt.step()
        expected = -1.0 - m_hat / (v_used / (1 - b2**2)) ** 0.5
        assert w.item() == pytest.approx(expected, rel=1e-13)
        assert ("max_exp_avg_sq" in opt.state[w]) is amsgrad


@pytest.mark.parametrize("cls", [Adam, AdamW])
def test_maximize_f_equals_minimize_minus_f(cls):
    # the gradient is negated before weight decay, so the two runs see identical updates
    a, b = _model(0), _model(0)
    _steps(a, cls(a.parameters(), lr=1e-2, weight_decay=0.2, maximize=True), 30, sign=-1.0)
    _steps(b, cls(b.parameters(), lr=1e-2, weight_decay=0.2), 30)
    for x, y in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(x, y, rtol=0, atol=0)


# -- state_dict interchange with torch.optim -------------------------------------------------


@pytest.mark.parametrize(("ours", "ref"), [(Adam, torch.optim.Adam), (AdamW, torch.optim.AdamW)])
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("direction", ["torch->ours", "ours->torch"])
def test_state_dict_moves_between_torch_and_ours(ours, ref, amsgrad, direction, tmp_path):
    kwargs = dict(lr=3e-2, betas=(0.85, 0.99), eps=1e-7, weight_decay=0.05, amsgrad=amsgrad)
    first, second = (ref, ours) if direction == "torch->ours" else (ours, ref)
    model = _model(0)
    opt = first(model.parameters(), **kwargs)
    _steps(model, opt, 30)
    torch.save(opt.state_dict(), tmp_path / "opt.pt")  # a real checkpoint round trip
    # continuation A: the optimizer that wrote the state keeps going
    cont_a = copy.deepcopy(model)
    opt_a = first(cont_a.parameters(), **kwargs)
    opt_a.load_state_dict(torch.load(tmp_path / "opt.pt"))
    # continuation B: the other implementation, built with default hyperparameters; the loaded
    # state_dict must bring lr, betas, eps, weight_decay and amsgrad with it
    cont_b = copy.deepcopy(model)
    opt_b = second(cont_b.parameters())
    opt_b.load_state_dict(torch.load(tmp_path / "opt.pt"))
    _steps(cont_a, opt_a, 50)
    _steps(cont_b, opt_b, 50)
    for a, b in zip(cont_a.parameters(), cont_b.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=TOL)
    # and both moved on from the checkpoint (the comparison is not of 50 no-op steps)
    assert max((a - p).abs().max().item() for a, p in zip(cont_a.parameters(), model.parameters(), strict=True)) > 1e-3


def test_our_state_dict_round_trip_keeps_flags():
    model = _model(0)
    opt = AdamW(model.parameters(), lr=1e-2, amsgrad=True, maximize=True, bias_correction=False)
    _steps(model, opt, 3)
    other = AdamW(copy.deepcopy(model).parameters())
    other.load_state_dict(opt.state_dict())
    group = other.param_groups[0]
    assert (group["amsgrad"], group["maximize"], group["bias_correction"]) == (True, True, False)
    assert all(st["step"] == 3 and "max_exp_avg_sq" in st for st in other.state.values())


def test_state_dict_without_new_keys_loads_with_defaults():
    # a state saved before amsgrad/maximize existed (or by torch, which has no bias_correction)
    model = _model(0)
    opt = Adam(model.parameters(), lr=1e-2)
    _steps(model, opt, 2)
    sd = opt.state_dict()
    for g in sd["param_groups"]:
        for key in ("amsgrad", "maximize", "bias_correction", "decoupled_weight_decay"):
            del g[key]
    other = Adam(copy.deepcopy(model).parameters(), amsgrad=True)
    other.load_state_dict(sd)
    assert (other.param_groups[0]["amsgrad"], other.param_groups[0]["bias_correction"]) == (False, True)


def test_load_state_dict_bad_input():
    model = _model(0)
    with pytest.raises(TypeError, match="state_dict must be a dict with keys 'state' and 'param_groups'"):
        Adam(model.parameters()).load_state_dict([1, 2])
    ref = torch.optim.AdamW(model.parameters())
    with pytest.raises(ValueError, match=r"decoupled_weight_decay=True, which Adam cannot run; load it into AdamW"):
        Adam(model.parameters()).load_state_dict(ref.state_dict())
    with pytest.raises(ValueError, match=r"which AdamW cannot run; load it into Adam\."):
        AdamW(model.parameters()).load_state_dict(torch.optim.Adam(model.parameters()).state_dict())
    sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    _steps(model, sgd, 1)
    with pytest.raises(ValueError, match=r"state_dict\['state'\]\[0\] lacks \['step', 'exp_avg', 'exp_avg_sq'\]"):
        Adam(model.parameters()).load_state_dict(sgd.state_dict())
    sd = Adam(model.parameters()).state_dict()
    sd["param_groups"][0]["betas"] = (1.5, 0.9)
    with pytest.raises(ValueError, match=r"state_dict\['param_groups'\]\[0\]: betas\[0\] must be in \[0, 1\)"):
        Adam(model.parameters()).load_state_dict(sd)


def test_bad_flags_and_params():
    p = [torch.zeros(2, requires_grad=True)]
    with pytest.raises(TypeError, match="amsgrad must be a bool; got str"):
        Adam(p, amsgrad="yes")
    with pytest.raises(TypeError, match="maximize must be a bool; got int"):
        AdamW(p, maximize=1)
    with pytest.raises(TypeError, match="params must be an iterable of tensors"):
        Adam(None)
    with pytest.raises(TypeError, match="params must be an iterable of tensors"):
        AdamW("weights")
