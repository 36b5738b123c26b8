"""PPO pieces vs direct formulas: per-token rewards, clipped policy loss (value and autograd gradient),
clipped value loss, the approx-KL estimator vs the exact KL, the critic's slicing, one trainer step."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewlib.rl import (
    PPOConfig,
    PPOTrainer,
    ValueModel,
    per_token_rewards,
    ppo_policy_loss,
    toy_setting,
    value_loss,
)
from interviewlib.rl.toy import BOS, EOS, SEP, tiny_policy

ATOL64 = 1e-12  # float64 elementwise formulas, a handful of operations each
MC_SIGMA = 4.0  # Monte-Carlo checks: allow 4 standard errors (false-failure rate ~6e-5)


def _inputs(seed: int, B: int = 4, R: int = 6):
    g = np.random.default_rng(seed)
    old = np.log(g.uniform(0.05, 0.95, size=(B, R)))
    new = old + g.normal(scale=0.3, size=(B, R))
    adv = g.normal(size=(B, R))
    lengths = g.integers(1, R + 1, size=B)
    mask = np.arange(R)[None] < lengths[:, None]
    t = lambda a: torch.tensor(a, dtype=torch.float64)  # noqa: E731
    return old, new, adv, mask, t(old), t(new), t(adv), torch.tensor(mask)


def _direct_clip_loss(new, old, adv, mask, eps):
    ratio = np.exp(new - old)
    per_token = np.maximum(-adv * ratio, -adv * np.clip(ratio, 1 - eps, 1 + eps))
    clipped = ((adv > 0) & (ratio > 1 + eps)) | ((adv < 0) & (ratio < 1 - eps))
    return per_token[mask].mean(), clipped[mask].mean(), ratio


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), eps=st.floats(0.05, 0.5))
def test_policy_loss_matches_direct_formula(seed, eps):
    old, new, adv, mask, to, tn, ta, tm = _inputs(seed)
    out = ppo_policy_loss(tn, to, ta, tm, clip_eps=eps)
    loss, frac, ratio = _direct_clip_loss(new, old, adv, mask, eps)
    assert abs(out.loss.item() - loss) < ATOL64
    assert abs(out.clip_frac.item() - frac) < ATOL64
    assert abs(out.approx_kl.item() - ((ratio - 1) - np.log(ratio))[mask].mean()) < ATOL64


def test_policy_gradient_matches_closed_form():
    # d/d logpi of max(-A rho, -A clip(rho)) is -A rho where the unclipped term is active, else 0
    old, new, adv, mask, to, tn, ta, tm = _inputs(3, B=6, R=8)
    tn = tn.clone().requires_grad_(True)
    ppo_policy_loss(tn, to, ta, tm, clip_eps=0.2).loss.backward()
    ratio = np.exp(new - old)
    active = ~(((adv > 0) & (ratio > 1.2)) | ((adv < 0) & (ratio < 0.8)))
    expected = np.where(mask & active, -adv * ratio, 0.0) / mask.sum()
    np.testing.assert_allclose(tn.grad.numpy(), expected, atol=ATOL64, rtol=0)
    assert tn.grad[~tm].abs().max() == 0  # padding gets no gradient


def test_policy_gradient_autograd_gradcheck():
    # away from the kinks |rho - 1| = eps the loss is smooth: finite differences agree with autograd
    g = torch.Generator().manual_seed(0)
    old = torch.log(torch.rand(3, 5, generator=g, dtype=torch.float64) * 0.8 + 0.1)
    new = (old + 0.5 * torch.randn(3, 5, generator=g, dtype=torch.float64)).requires_grad_(True)
    adv = torch.randn(3, 5, generator=g, dtype=torch.float64)
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2, [True] + [False] * 4])
    ratio = torch.exp(new - old).detach()
    assert ((ratio - 1).abs() - 0.2).abs().min() > 1e-3  # no point sits on a kink
    assert torch.autograd.gradcheck(lambda x: ppo_policy_loss(x, old, adv, mask).loss, (new,))


def test_ratio_one_gives_minus_mean_advantage_and_no_clipping():
    _, _, adv, mask, to, _, ta, tm = _inputs(4)
    out = ppo_policy_loss(to.clone(), to, ta, tm)
    assert abs(out.loss.item() + adv[mask].mean()) < ATOL64
    assert out.clip_frac.item() == 0 and abs(out.approx_kl.item()) < ATOL64


def test_old_logprobs_and_advantages_carry_no_gradient():
    _, _, _, _, to, tn, ta, tm = _inputs(5)
    to, ta, tn = to.clone().requires_grad_(True), ta.clone().requires_grad_(True), tn.clone().requires_grad_(True)
    ppo_policy_loss(tn, to, ta, tm).loss.backward()
    assert to.grad is None and ta.grad is None and tn.grad is not None


def test_approx_kl_estimates_the_exact_kl():
    # tokens drawn from pi_old: mean of (rho - 1) - log rho is unbiased for KL(pi_old || pi_new)
    g = torch.Generator().manual_seed(0)
    p_old = torch.tensor([0.5, 0.3, 0.15, 0.05], dtype=torch.float64)
    p_new = torch.tensor([0.4, 0.35, 0.15, 0.10], dtype=torch.float64)
    n = 20_000
    tok = torch.multinomial(p_old, n, replacement=True, generator=g)[None]  # (1, n)
    out = ppo_policy_loss(torch.log(p_new)[tok], torch.log(p_old)[tok], torch.zeros(1, n, dtype=torch.float64),
                          torch.ones(1, n, dtype=torch.bool))
    exact = float((p_old * (p_old / p_new).log()).sum())
    rho = (p_new / p_old)[tok]
    se = float(((rho - 1) - rho.log()).std()) / math.sqrt(n)
    assert abs(out.approx_kl.item() - exact) < MC_SIGMA * se


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), c=st.floats(0.05, 1.0))
def test_value_loss_matches_direct_formula(seed, c):
    g = np.random.default_rng(seed)
    v, v_old, ret = g.normal(size=(3, 5)), g.normal(size=(3, 5)), g.normal(size=(3, 5))
    lengths = g.integers(1, 6, size=3)
    mask = np.arange(5)[None] < lengths[:, None]
    t = lambda a: torch.tensor(a, dtype=torch.float64)  # noqa: E731
    out = value_loss(t(v), t(v_old), t(ret), torch.tensor(mask), clip_range=c)
    e1, e2 = (v - ret) ** 2, (np.clip(v, v_old - c, v_old + c) - ret) ** 2
    assert abs(out.loss.item() - 0.5 * np.maximum(e1, e2)[mask].mean()) < ATOL64
    assert abs(out.clip_frac.item() - (e2 > e1)[mask].mean()) < ATOL64
    plain = value_loss(t(v), t(v_old), t(ret), torch.tensor(mask), clip_range=None)
    assert abs(plain.loss.item() - 0.5 * e1[mask].mean()) < ATOL64


def test_value_loss_gradient_is_zero_where_clipping_bites():
    v = torch.tensor([[2.0, 0.1]], dtype=torch.float64, requires_grad=True)
    v_old = torch.tensor([[0.0, 0.0]], dtype=torch.float64)
    ret = torch.tensor([[3.0, 1.0]], dtype=torch.float64)
    # token 0 moved past the clip towards its target: the clipped error is larger, no gradient
    # token 1 inside the clip: gradient (v - R) / n = (0.1 - 1) / 2
    value_loss(v, v_old, ret, torch.ones(1, 2, dtype=torch.bool), clip_range=0.2).loss.backward()
    torch.testing.assert_close(v.grad, torch.tensor([[0.0, -0.45]], dtype=torch.float64), atol=ATOL64, rtol=0)


def test_per_token_rewards_direct_formula_and_sum():
    old, new, _, mask, to, tn, _, tm = _inputs(6)
    scores = torch.tensor([1.0, -0.5, 2.0, 0.0], dtype=torch.float64)
    rewards, kl = per_token_rewards(scores, tn, to, tm, kl_coef=0.1)
    lengths = mask.sum(1)
    expected = np.where(mask, -0.1 * (new - old), 0.0)
    expected[np.arange(4), lengths - 1] += scores.numpy()
    np.testing.assert_allclose(rewards.numpy(), expected, atol=ATOL64, rtol=0)
    np.testing.assert_allclose(rewards.sum(1).numpy(), scores.numpy() - 0.1 * kl.sum(1).numpy(), atol=ATOL64)


def test_per_token_rewards_k3_and_dense_scores():
    old, new, _, mask, to, tn, _, tm = _inputs(7)
    _, kl3 = per_token_rewards(torch.zeros(4, dtype=torch.float64), tn, to, tm, kl_estimator="k3")
    rho = np.exp(old - new)  # pi_ref / pi
    np.testing.assert_allclose(kl3.numpy(), np.where(mask, rho - 1 - np.log(rho), 0.0), atol=ATOL64)
    assert bool((kl3 >= 0).all())
    dense = torch.ones(4, 6, dtype=torch.float64)
    rewards, _ = per_token_rewards(dense, tn, to, tm, kl_coef=0.0)
    torch.testing.assert_close(rewards, tm.to(torch.float64), atol=0, rtol=0)


def test_value_model_reads_the_state_before_each_token():
    torch.manual_seed(0)
    critic = ValueModel(tiny_policy(0))
    torch.nn.init.normal_(critic.trunk.head.weight)
    p = torch.tensor([[BOS, 3, 1, SEP]])
    y = torch.tensor([[1, 3, EOS]])
    full = critic.trunk(torch.cat([p, y], 1)).squeeze(-1)  # (1, 7)
    torch.testing.assert_close(critic(p, y), full[:, 3:6])
    # causal: V(s_t) does not depend on the token generated at t or later
    torch.testing.assert_close(critic(p, torch.tensor([[1, 9, 9]]))[:, :2], critic(p, y)[:, :2])


def test_value_model_starts_at_zero_and_leaves_backbone_alone():
    lm = tiny_policy(1)
    before = {k: v.clone() for k, v in lm.state_dict().items()}
    critic = ValueModel(lm)
    assert critic(torch.tensor([[BOS, 2, SEP]]), torch.tensor([[2, EOS]])).abs().max() == 0
    assert all(torch.equal(before[k], v) for k, v in lm.state_dict().items())


def test_trainer_step_updates_policy_and_critic_and_keeps_reference():
    s = toy_setting(0)
    policy, ref = s.policy(), s.reference()
    critic = ValueModel(policy)
    ref_before = [p.clone() for p in ref.parameters()]
    pol_before = [p.clone() for p in policy.parameters()]
    trainer = PPOTrainer(policy, ref, critic, lambda p, r, m: s.task.reward(p, r),
                         PPOConfig(epochs=2, minibatch_size=8))
    stats = trainer.step(s.task.sample_prompts(16, 0), rng=0)
    assert all(math.isfinite(v) for v in stats.values())
    assert 0 <= stats["clip_frac"] <= 1 and 1 <= stats["length"] <= 6 and 0 <= stats["score"] <= 1
    assert all(torch.equal(a, b) for a, b in zip(ref_before, ref.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(pol_before, policy.parameters()))
    assert critic.trunk.head.weight.abs().max() > 0


def test_trainer_is_deterministic_given_rng():
    s = toy_setting(0)

    def run():
        policy = s.policy()
        tr = PPOTrainer(policy, s.reference(), ValueModel(policy), lambda p, r, m: s.task.reward(p, r),
                        PPOConfig(epochs=1, minibatch_size=8))
        g = torch.Generator().manual_seed(3)
        return [tr.step(s.task.sample_prompts(8, g), rng=g) for _ in range(2)]

    assert run() == run()


# ------------------------------------------------------------------ bad input


def _ok(B=2, R=3):
    return torch.zeros(B, R), torch.zeros(B, R), torch.zeros(B, R), torch.ones(B, R, dtype=torch.bool)


@pytest.mark.parametrize("bad", [None, "not valid", float("nan"), [[1.0, 2.0], [3.0]]])
def test_first_argument_rejected(bad):
    a, b, c, m = _ok()
    with pytest.raises(TypeError, match="logprobs"):
        ppo_policy_loss(bad, b, c, m)
    with pytest.raises(TypeError, match="values"):
        value_loss(bad, b, c, m)
    with pytest.raises(TypeError, match="scores"):
        per_token_rewards(bad, a, b, m)


def test_mismatched_shapes_of_logprobs_and_masks():
    a, b, c, m = _ok()
    with pytest.raises(ValueError, match="mask must have the shape of logprobs"):
        ppo_policy_loss(a, b, c, torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="old_logprobs must have the shape"):
        ppo_policy_loss(a, torch.zeros(3, 3), c, m)
    with pytest.raises(ValueError, match="advantages must have the shape"):
        ppo_policy_loss(a, b, torch.zeros(2, 2), m)
    with pytest.raises(ValueError, match="returns must have the shape"):
        value_loss(a, b, torch.zeros(2, 2), m)
    with pytest.raises(ValueError, match="ref_logprobs must have the shape"):
        per_token_rewards(torch.zeros(2), a, torch.zeros(2, 4), m)
    with pytest.raises(ValueError, match="scores must have one entry per row"):
        per_token_rewards(torch.zeros(3), a, b, m)


def test_all_masked_responses_rejected():
    a, b, c, _ = _ok()
    empty = torch.tensor([[True, False, False], [False, False, False]])
    with pytest.raises(ValueError, match="all False"):
        ppo_policy_loss(a, b, c, empty)
    with pytest.raises(ValueError, match="all False"):
        value_loss(a, b, c, empty)
    with pytest.raises(ValueError, match="all False"):
        per_token_rewards(torch.zeros(2), a, b, empty)


def test_bad_hyperparameters():
    a, b, c, m = _ok()
    with pytest.raises(ValueError, match="clip_eps"):
        ppo_policy_loss(a, b, c, m, clip_eps=0.0)
    with pytest.raises(ValueError, match="clip_eps"):
        ppo_policy_loss(a, b, c, m, clip_eps=1.5)
    with pytest.raises(ValueError, match="clip_range"):
        value_loss(a, b, c, m, clip_range=-0.1)
    with pytest.raises(ValueError, match="kl_coef"):
        per_token_rewards(torch.zeros(2), a, b, m, kl_coef=-1.0)
    with pytest.raises(ValueError, match="kl_estimator"):
        per_token_rewards(torch.zeros(2), a, b, m, kl_estimator="k2")
    with pytest.raises(ValueError, match="nan|finite"):
        ppo_policy_loss(torch.full((2, 3), float("nan")), b, c, m)
    for kwargs, name in (({"gamma": 1.2}, "gamma"), ({"lam": -0.5}, "lam"), ({"epochs": 0}, "epochs"),
                         ({"clip_eps": 0.0}, "clip_eps")):
        with pytest.raises(ValueError, match=name):
            PPOConfig(**kwargs)


def test_trainer_and_critic_bad_arguments():
    s = toy_setting(0)
    policy = s.policy()
    critic = ValueModel(policy)
    with pytest.raises(TypeError, match="backbone"):
        ValueModel("not valid")
    with pytest.raises(TypeError, match="policy"):
        PPOTrainer(None, s.reference(), critic, lambda p, r, m: r)
    with pytest.raises(ValueError, match="reference"):
        PPOTrainer(policy, policy, critic, lambda p, r, m: r)
    with pytest.raises(TypeError, match="reward_fn"):
        PPOTrainer(policy, s.reference(), critic, "not valid")
    trainer = PPOTrainer(policy, s.reference(), critic, lambda p, r, m: torch.zeros(3))
    with pytest.raises(ValueError, match="reward_fn must return"):
        trainer.step(s.task.sample_prompts(4, 0), rng=0)
