"""GRPO losses: every loss type against a direct loop formula, advantages, KL estimators, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewlib.rl.grpo import (
    LOSS_TYPES,
    group_advantages,
    grpo_loss,
    informative_groups,
    kl_penalty,
    repeat_prompts,
    truncated_responses,
)

EXACT = 1e-12  # float64 loops vs vectorised torch: only rounding differs
MC_SIGMAS = 5.0  # Monte-Carlo checks: allow 5 standard errors (false alarm ~6e-7)


def _random_batch(seed: int, B: int = 6, R: int = 5, spread: float = 0.3):
    g = torch.Generator().manual_seed(seed)
    old = -torch.rand(B, R, generator=g, dtype=torch.float64) * 2 - 0.1
    new = old + spread * torch.randn(B, R, generator=g, dtype=torch.float64)
    ref = old + spread * torch.randn(B, R, generator=g, dtype=torch.float64)
    lengths = torch.randint(1, R + 1, (B,), generator=g)
    mask = torch.arange(R)[None, :] < lengths[:, None]
    adv = torch.randn(B, generator=g, dtype=torch.float64)
    return new, old, ref, adv, mask


def _direct(new, old, ref, adv, mask, loss_type, eps_l, eps_h, beta, L=None):
    """The four objectives written out with Python loops, from the papers' formulas."""
    B, R = new.shape
    new_, old_, ref_, a_, m_ = new.tolist(), old.tolist(), ref.tolist(), adv.tolist(), mask.tolist()

    def clip(x):
        return min(max(x, 1 - eps_l), 1 + eps_h)

    def k3(i, t):
        lr = ref_[i][t] - new_[i][t]
        return math.exp(lr) - lr - 1

    rows = []  # per sequence: (sum of token terms, number of tokens)
    for i in range(B):
        idx = [t for t in range(R) if m_[i][t]]
        if loss_type == "gspo":
            s = math.exp(sum(new_[i][t] - old_[i][t] for t in idx) / len(idx))
            kl = sum(k3(i, t) for t in idx) / len(idx)
            rows.append((-min(s * a_[i], clip(s) * a_[i]) + beta * kl, 1))
            continue
        total = 0.0
        for t in idx:
            r = math.exp(new_[i][t] - old_[i][t])
            total += -min(r * a_[i], clip(r) * a_[i]) + beta * k3(i, t)
        rows.append((total, len(idx)))
    if loss_type in ("grpo", "gspo"):
        return sum(s / n for s, n in rows) / B
    if loss_type == "dapo":
        return sum(s for s, _ in rows) / sum(n for _, n in rows)
    return sum(s for s, _ in rows) / (B * (R if L is None else L))


@pytest.mark.parametrize("loss_type", LOSS_TYPES)
@pytest.mark.parametrize(("eps_l", "eps_h", "beta"), [(0.2, None, 0.0), (0.2, 0.28, 0.04), (0.05, 0.1, 0.5)])
def test_every_loss_type_equals_direct_formula_and_its_gradient(loss_type, eps_l, eps_h, beta):
    for seed in range(3):
        new, old, ref, adv, mask = _random_batch(seed)
        new = new.requires_grad_(True)
        res = grpo_loss(new, old, adv, mask, loss_type=loss_type, epsilon_low=eps_l, epsilon_high=eps_h,
                        ref_logprobs=ref, beta=beta)  # fmt: skip
        want = _direct(new.detach(), old, ref, adv, mask, loss_type, eps_l, eps_h if eps_h else eps_l, beta)
        assert abs(res.loss.item() - want) < EXACT
        # gradient: autograd of ours vs a finite difference of the direct loop formula
        (grad,) = torch.autograd.grad(res.loss, new)
        i, t = int(mask.sum(1).argmax()), 0
        h = 1e-6
        plus, minus = new.detach().clone(), new.detach().clone()
        plus[i, t] += h
        minus[i, t] -= h
        e = eps_h if eps_h else eps_l
        fd = (_direct(plus, old, ref, adv, mask, loss_type, eps_l, e, beta)
              - _direct(minus, old, ref, adv, mask, loss_type, eps_l, e, beta)) / (2 * h)  # fmt: skip
        assert abs(float(grad[i, t]) - fd) < 1e-6
        assert float(grad[~mask].abs().max()) == 0.0  # masked tokens get no gradient


@pytest.mark.parametrize("loss_type", LOSS_TYPES)
def test_gradient_at_ratio_one_closed_form(loss_type):
    # on-policy (ratio 1, no clip, beta 0) the gradient w.r.t. log pi(o_{i,t}) is -A_i times the token weight
    new, _, _, adv, mask = _random_batch(7)
    new = new.requires_grad_(True)
    res = grpo_loss(new, new.detach().clone(), adv, mask, loss_type=loss_type)
    (grad,) = torch.autograd.grad(res.loss, new)
    B, R = mask.shape
    n = mask.sum(1, keepdim=True).double()
    weight = {"grpo": 1 / (B * n), "gspo": 1 / (B * n), "dapo": 1 / mask.sum().double() * torch.ones_like(n),
              "dr_grpo": torch.full_like(n, 1 / (B * R))}[loss_type]  # fmt: skip
    want = torch.where(mask, -adv[:, None] * weight, torch.zeros(()).double())
    torch.testing.assert_close(grad, want, rtol=0, atol=EXACT)
    assert res.clip_fraction == 0.0 and abs(res.ratio_mean - 1.0) < EXACT


def test_dr_grpo_constant_length():
    new, old, ref, adv, mask = _random_batch(3)
    res = grpo_loss(new, old, adv, mask, loss_type="dr_grpo", max_response_length=12)
    assert abs(float(res.loss) - _direct(new, old, ref, adv, mask, "dr_grpo", 0.2, 0.2, 0.0, L=12)) < EXACT
    with pytest.raises(ValueError, match="max_response_length"):
        grpo_loss(new, old, adv, mask, loss_type="dr_grpo", max_response_length=1)


def test_gspo_ratio_is_geometric_mean_of_token_ratios():
    new, old, _, adv, mask = _random_batch(11, spread=0.05)
    res = grpo_loss(new, old, adv, mask, loss_type="gspo", epsilon_low=0.5)
    token_ratio = torch.exp(new - old)
    geo = torch.stack([token_ratio[i, mask[i]].prod() ** (1 / int(mask[i].sum())) for i in range(len(adv))])
    assert abs(res.ratio_mean - float(geo.mean())) < EXACT
    s = torch.exp(((new - old) * mask).sum(1) / mask.sum(1))
    torch.testing.assert_close(geo, s, rtol=1e-12, atol=0)


def test_clip_fraction_and_clip_higher():
    lp = torch.log(torch.tensor([[1.25, 1.0], [0.7, 1.0]], dtype=torch.float64))
    old = torch.zeros(2, 2, dtype=torch.float64)
    mask = torch.tensor([[True, False], [True, False]])
    adv = torch.tensor([1.0, -1.0], dtype=torch.float64)
    sym = grpo_loss(lp, old, adv, mask, loss_type="dapo", epsilon_low=0.2)
    assert sym.clip_fraction == 1.0  # 1.25 > 1.2 with A > 0, 0.7 < 0.8 with A < 0
    higher = grpo_loss(lp, old, adv, mask, loss_type="dapo", epsilon_low=0.2, epsilon_high=0.28)
    assert higher.clip_fraction == 0.5  # clip-higher lets the positive token through
    # clipped branch has no gradient: loss = -(1.2*1 + 0.8*(-1))/2 = -0.2 with the symmetric clip
    assert abs(float(sym.loss) - (-0.2)) < EXACT


def test_kl_term_adds_beta_times_k3():
    new, old, ref, adv, mask = _random_batch(5)
    base = grpo_loss(new, old, adv, mask, loss_type="grpo", ref_logprobs=ref, beta=0.0)
    with_kl = grpo_loss(new, old, adv, mask, loss_type="grpo", ref_logprobs=ref, beta=0.1)
    k3 = kl_penalty(new, ref)
    per_seq = torch.stack([k3[i, mask[i]].mean() for i in range(len(adv))]).mean()
    assert abs(float(with_kl.loss) - float(base.loss) - 0.1 * float(per_seq)) < EXACT
    assert abs(with_kl.kl - float(k3[mask].mean())) < EXACT


# ---- advantages ---------------------------------------------------------------------------------

def test_group_advantages_match_numpy():
    rng = np.random.default_rng(0)
    r = rng.integers(0, 5, size=24).astype(float) / 4
    got = group_advantages(torch.tensor(r), 6)
    g = r.reshape(4, 6)
    want = (g - g.mean(1, keepdims=True)) / (g.std(1, ddof=1, keepdims=True) + 1e-4)
    np.testing.assert_allclose(got.numpy(), want.reshape(-1), rtol=0, atol=EXACT)
    got_none = group_advantages(torch.tensor(r), 6, scale="none")
    np.testing.assert_allclose(got_none.numpy(), (g - g.mean(1, keepdims=True)).reshape(-1), atol=EXACT)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 6), st.integers(2, 8), st.integers(0, 10_000), st.sampled_from(["group", "none"]))
def test_group_advantages_sum_to_zero_per_group(n_groups, G, seed, scale):
    g = torch.Generator().manual_seed(seed)
    r = torch.randint(0, 3, (n_groups * G,), generator=g).double()
    a = group_advantages(r, G, scale=scale).reshape(n_groups, G)
    assert float(a.sum(1).abs().max()) < 1e-9
    flat = informative_groups(r, G)
    assert bool((a[~flat] == 0).all())  # an all-equal group has exactly zero advantage


def test_informative_groups_and_repeat_prompts():
    r = torch.tensor([0.0, 0.0, 0.5, 0.0, 1.0, 1.0])
    assert informative_groups(r, 2).tolist() == [False, True, False]
    p = torch.tensor([[10, 1, 11], [10, 2, 11]])
    rep = repeat_prompts(p, 3)
    assert rep.shape == (6, 3) and torch.equal(rep, torch.cat([p[:1]] * 3 + [p[1:]] * 3))


def test_truncated_responses():
    resp = torch.tensor([[1, 12, 13], [1, 2, 3], [12, 13, 13]])
    mask = torch.tensor([[True, True, False], [True, True, True], [True, False, False]])
    assert truncated_responses(resp, mask, 12).tolist() == [False, True, False]
    # an EOS id under a False mask does not count
    assert truncated_responses(torch.tensor([[1, 12]]), torch.tensor([[True, False]]), 12).tolist() == [True]


# ---- KL estimators ------------------------------------------------------------------------------

@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-20, 0), min_size=1, max_size=10), st.lists(st.floats(-20, 0), min_size=1, max_size=10))
def test_k3_non_negative(a, b):
    n = min(len(a), len(b))
    k3 = kl_penalty(torch.tensor(a[:n], dtype=torch.float64), torch.tensor(b[:n], dtype=torch.float64))
    assert bool((k3 >= 0).all())
    assert float(kl_penalty(torch.tensor(a[:n]), torch.tensor(a[:n])).abs().max()) == 0.0


def test_k1_k3_unbiased_on_a_categorical():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(8, generator=g, dtype=torch.float64)
    for spread in (1.0, 0.1):  # far from and close to the reference
        p = torch.softmax(logits, 0)  # pi_theta
        q = torch.softmax(logits + spread * torch.randn(8, generator=g, dtype=torch.float64), 0)  # pi_ref
        true_kl = float((p * (p.log() - q.log())).sum())
        x = torch.multinomial(p, 200_000, replacement=True, generator=g)
        var = {}
        for est in ("k1", "k3"):
            vals = kl_penalty(p.log()[x], q.log()[x], estimator=est)
            se = float(vals.std()) / math.sqrt(len(vals))
            assert abs(float(vals.mean()) - true_kl) < MC_SIGMAS * se
            var[est] = float(vals.var())
    # close to pi_ref, k3 has far less variance than k1 (Schulman's point; far away it need not)
    assert var["k3"] < 0.1 * var["k1"]
    # k2 is biased: its exact expectation differs from the KL
    k2_exact = float((p * 0.5 * (q.log() - p.log()) ** 2).sum())
    assert abs(k2_exact - true_kl) > 0.01 * true_kl  # about 3.5 % off here


# ---- bad input ----------------------------------------------------------------------------------

def test_bad_input_advantages():
    with pytest.raises(ValueError, match="group_size must be >= 2"):
        group_advantages(torch.ones(4), 1)
    with pytest.raises(ValueError, match="not a positive multiple of group_size=3"):
        group_advantages(torch.ones(4), 3)
    with pytest.raises(ValueError, match="NaN"):
        group_advantages(torch.tensor([1.0, float("nan")]), 2)
    with pytest.raises(ValueError, match="rewards must be 1-D"):
        group_advantages(torch.ones(2, 2), 2)
    with pytest.raises(TypeError, match="rewards"):
        group_advantages([1.0, 0.0], 2)
    with pytest.raises(ValueError, match="scale"):
        group_advantages(torch.ones(4), 2, scale="batch")
    with pytest.raises(ValueError, match="group_size must be >= 2"):
        repeat_prompts(torch.ones(2, 3, dtype=torch.long), 1)
    with pytest.raises(ValueError, match="integer token ids"):
        repeat_prompts(torch.ones(2, 3), 2)


def test_bad_input_loss():
    new, old, ref, adv, mask = _random_batch(0)
    with pytest.raises(ValueError, match="old_logprobs must have the shape"):
        grpo_loss(new, old[:, :-1], adv, mask)
    with pytest.raises(ValueError, match="advantages must have length"):
        grpo_loss(new, old, adv[:-1], mask)
    with pytest.raises(ValueError, match="response_mask must have the shape"):
        grpo_loss(new, old, adv, mask[:, :-1])
    empty = mask.clone()
    empty[2] = False
    with pytest.raises(ValueError, match=r"no valid token in rows \[2\]"):
        grpo_loss(new, old, adv, empty, loss_type="dapo")
    with pytest.raises(ValueError, match="loss_type"):
        grpo_loss(new, old, adv, mask, loss_type="bnpo")
    with pytest.raises(ValueError, match="ref_logprobs is required"):
        grpo_loss(new, old, adv, mask, beta=0.1)
    with pytest.raises(ValueError, match="epsilon_low"):
        grpo_loss(new, old, adv, mask, epsilon_low=1.5)
    with pytest.raises(TypeError, match="response_mask must be a bool"):
        grpo_loss(new, old, adv, mask.long())
    with pytest.raises(ValueError, match="logprobs must not contain NaN"):
        grpo_loss(torch.full_like(new, float("nan")), old, adv, mask)
    with pytest.raises(ValueError, match="estimator"):
        kl_penalty(new, ref, estimator="k4")
    with pytest.raises(ValueError, match="ref_logprobs must have the shape"):
        kl_penalty(new, ref[:1])
    for bad in (None, "not valid", float("nan"), [[1.0, 2.0], [3.0]]):
        with pytest.raises((TypeError, ValueError), match="logprobs"):
            grpo_loss(bad, old, adv, mask)


def test_k3_in_the_loss_differentiates_the_reverse_kl():
    # exact enumeration on a categorical pi_theta = softmax(theta): the expected gradient of k3 (samples x ~ pi_theta
    # held fixed, as in the loss) equals grad KL(pi_ref || pi_theta), not grad KL(pi_theta || pi_ref); k1 gives zero
    g = torch.Generator().manual_seed(1)
    theta = torch.randn(6, generator=g, dtype=torch.float64, requires_grad=True)
    ref = torch.log_softmax(torch.randn(6, generator=g, dtype=torch.float64), 0)
    logp = torch.log_softmax(theta, 0)
    p = logp.exp().detach()
    (g_k3,) = torch.autograd.grad((p * kl_penalty(logp, ref, estimator="k3")).sum(), theta, retain_graph=True)
    (g_k1,) = torch.autograd.grad((p * kl_penalty(logp, ref, estimator="k1")).sum(), theta, retain_graph=True)
    (g_rev,) = torch.autograd.grad((ref.exp() * (ref - logp)).sum(), theta, retain_graph=True)
    (g_fwd,) = torch.autograd.grad((logp.exp() * (logp - ref)).sum(), theta)
    torch.testing.assert_close(g_k3, g_rev, rtol=0, atol=1e-12)
    assert float(g_k1.abs().max()) < 1e-12
    assert float((g_k3 - g_fwd).abs().max()) > 1e-3
