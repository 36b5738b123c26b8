"""GAE and discounted returns vs direct double sums (numpy, float64), the lambda limits, masks, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewlib.rl import discounted_returns, gae, potential_shaping

ATOL64 = 1e-10  # float64 recursion vs float64 double sum over <= 12 terms: only rounding differs
ATOL32 = 1e-5  # float32 input vs float64 reference, |values| <= ~10, <= 12 terms


def _reference_gae(r: np.ndarray, v: np.ndarray, lengths: np.ndarray, gamma: float, lam: float):
    """Direct double sum A_t = sum_l (gamma*lam)^l delta_{t+l}, written independently of the library."""
    B, T = r.shape
    adv = np.zeros((B, T))
    for b in range(B):
        L = int(lengths[b])
        delta = [r[b, t] + gamma * (v[b, t + 1] if t + 1 < L else 0.0) - v[b, t] for t in range(L)]
        for t in range(L):
            adv[b, t] = sum((gamma * lam) ** l * delta[t + l] for l in range(L - t))
    ret = np.where(np.arange(T)[None] < lengths[:, None], adv + v, 0.0)
    return adv, ret


def _n_step_average(r: np.ndarray, v: np.ndarray, L: int, gamma: float, lam: float) -> np.ndarray:
    """GAE as the lambda-weighted average of n-step advantages (Schulman et al. 2016, eq. 16), finite horizon."""
    out = np.zeros(L)
    for t in range(L):
        def a_n(n: int, t: int = t) -> float:  # n-step advantage; beyond the end the episode is over (V = 0)
            k = min(n, L - t)
            boot = v[t + n] if t + n < L else 0.0
            return sum(gamma**i * r[t + i] for i in range(k)) + gamma**n * boot - v[t]

        H = L - t  # every n >= H gives the Monte-Carlo advantage a_n(H)
        out[t] = (1 - lam) * sum(lam ** (n - 1) * a_n(n) for n in range(1, H)) + lam ** (H - 1) * a_n(H)
    return out


def _batch(seed: int, B: int = 4, T: int = 7, dtype=torch.float64):
    g = np.random.default_rng(seed)
    r = g.normal(size=(B, T))
    v = g.normal(size=(B, T))
    lengths = g.integers(1, T + 1, size=B)
    mask = np.arange(T)[None] < lengths[:, None]
    return r, v, lengths, torch.tensor(r, dtype=dtype), torch.tensor(v, dtype=dtype), torch.tensor(mask)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    gamma=st.floats(0.0, 1.0),
    lam=st.floats(0.0, 1.0),
    B=st.integers(1, 5),
    T=st.integers(1, 12),
)
def test_gae_matches_double_sum(seed, gamma, lam, B, T):
    r, v, lengths, rt, vt, mask = _batch(seed, B, T)
    adv, ret = gae(rt, vt, mask, gamma=gamma, lam=lam)
    ref_adv, ref_ret = _reference_gae(r, v, lengths, gamma, lam)
    np.testing.assert_allclose(adv.numpy(), ref_adv, atol=ATOL64, rtol=0)
    np.testing.assert_allclose(ret.numpy(), ref_ret, atol=ATOL64, rtol=0)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), gamma=st.floats(0.0, 1.0), lam=st.floats(0.0, 0.999), T=st.integers(1, 9))
def test_gae_equals_lambda_average_of_n_step_advantages(seed, gamma, lam, T):
    r, v, _, rt, vt, _ = _batch(seed, 1, T)
    adv, _ = gae(rt, vt, torch.ones(1, T, dtype=torch.bool), gamma=gamma, lam=lam)
    np.testing.assert_allclose(adv[0].numpy(), _n_step_average(r[0], v[0], T, gamma, lam), atol=1e-9, rtol=0)


def test_lambda_zero_is_td_residual():
    r, v, lengths, rt, vt, mask = _batch(1, B=3, T=6)
    adv, ret = gae(rt, vt, mask, gamma=0.9, lam=0.0)
    for b in range(3):
        L = lengths[b]
        v_next = np.append(v[b, 1:L], 0.0)
        np.testing.assert_allclose(adv[b, :L].numpy(), r[b, :L] + 0.9 * v_next - v[b, :L], atol=ATOL64)
        # the one-step TD target r + gamma V'
        np.testing.assert_allclose(ret[b, :L].numpy(), r[b, :L] + 0.9 * v_next, atol=ATOL64)


def test_lambda_one_is_monte_carlo_return_minus_value():
    r, v, lengths, rt, vt, mask = _batch(2, B=3, T=6)
    adv, ret = gae(rt, vt, mask, gamma=0.8, lam=1.0)
    G = discounted_returns(rt, mask, gamma=0.8)
    for b in range(3):
        L = lengths[b]
        mc = np.array([sum(0.8**i * r[b, t + i] for i in range(L - t)) for t in range(L)])
        np.testing.assert_allclose(G[b, :L].numpy(), mc, atol=ATOL64)
        np.testing.assert_allclose(adv[b, :L].numpy(), mc - v[b, :L], atol=ATOL64)
        np.testing.assert_allclose(ret[b, :L].numpy(), mc, atol=ATOL64)


def test_hand_worked_sparse_reward():
    # reward 1 at the last of 3 tokens, V = 0.5 everywhere, gamma = 1, lam = 0.5:
    # delta = [0, 0, 0.5]; A_2 = 0.5, A_1 = 0 + 0.5*0.5 = 0.25, A_0 = 0.125
    r = torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64)
    v = torch.full((1, 3), 0.5, dtype=torch.float64)
    adv, ret = gae(r, v, torch.ones(1, 3, dtype=torch.bool), gamma=1.0, lam=0.5)
    torch.testing.assert_close(adv, torch.tensor([[0.125, 0.25, 0.5]], dtype=torch.float64), atol=ATOL64, rtol=0)
    torch.testing.assert_close(ret, torch.tensor([[0.625, 0.75, 1.0]], dtype=torch.float64), atol=ATOL64, rtol=0)


def test_gamma_zero_gives_reward_minus_value():
    _, _, _, rt, vt, mask = _batch(3)
    adv, _ = gae(rt, vt, mask, gamma=0.0, lam=0.7)
    torch.testing.assert_close(adv, torch.where(mask, rt - vt, torch.zeros(())), atol=ATOL64, rtol=0)


def test_padding_is_ignored_and_zero():
    _, _, _, rt, vt, mask = _batch(4, B=5, T=8)
    adv, ret = gae(rt, vt, mask, gamma=0.95, lam=0.9)
    junk_r = torch.where(mask, rt, torch.full_like(rt, 1e6))
    junk_v = torch.where(mask, vt, torch.full_like(vt, -1e6))
    adv2, ret2 = gae(junk_r, junk_v, mask, gamma=0.95, lam=0.9)
    torch.testing.assert_close(adv, adv2, atol=0, rtol=0)
    torch.testing.assert_close(ret, ret2, atol=0, rtol=0)
    assert bool((adv[~mask] == 0).all()) and bool((ret[~mask] == 0).all())


def test_rows_are_independent_of_the_batch():
    _, _, lengths, rt, vt, mask = _batch(5, B=4, T=9)
    adv, _ = gae(rt, vt, mask, gamma=1.0, lam=0.95)
    for b in range(4):
        L = int(lengths[b])
        alone, _ = gae(rt[b : b + 1, :L], vt[b : b + 1, :L], torch.ones(1, L, dtype=torch.bool), gamma=1.0, lam=0.95)
        torch.testing.assert_close(adv[b, :L], alone[0], atol=ATOL64, rtol=0)


def test_float32_and_int_mask_and_inputs_not_mutated():
    r, v, lengths, rt, vt, mask = _batch(6, dtype=torch.float32)
    r_copy, v_copy = rt.clone(), vt.clone()
    adv, _ = gae(rt, vt, mask.to(torch.int64), gamma=0.99, lam=0.95)
    assert adv.dtype == torch.float32
    np.testing.assert_allclose(adv.numpy(), _reference_gae(r, v, lengths, 0.99, 0.95)[0], atol=ATOL32)
    assert torch.equal(rt, r_copy) and torch.equal(vt, v_copy)


def test_discounted_returns_equals_gae_with_zero_values():
    _, _, _, rt, _, mask = _batch(7)
    G = discounted_returns(rt, mask, gamma=0.9)
    adv, _ = gae(rt, torch.zeros_like(rt), mask, gamma=0.9, lam=1.0)
    torch.testing.assert_close(G, adv, atol=ATOL64, rtol=0)


# ------------------------------------------------------------------ bad input


def _ok():
    return torch.zeros(2, 3), torch.zeros(2, 3), torch.ones(2, 3, dtype=torch.bool)


@pytest.mark.parametrize("bad", [None, "not valid", float("nan"), [[1.0, 2.0], [3.0]]])
def test_rejects_non_tensor_rewards(bad):
    _, v, m = _ok()
    with pytest.raises(TypeError, match="rewards"):
        gae(bad, v, m)
    with pytest.raises(TypeError, match="rewards"):
        discounted_returns(bad, m)


def test_rejects_bad_tensors():
    r, v, m = _ok()
    with pytest.raises(ValueError, match="values must have the shape"):
        gae(r, torch.zeros(2, 4), m)
    with pytest.raises(ValueError, match="mask must have the shape"):
        gae(r, v, torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="rewards must be 2-D"):
        gae(torch.zeros(3), v, m)
    with pytest.raises(ValueError, match="rewards must have a floating"):
        gae(torch.zeros(2, 3, dtype=torch.long), v, m)
    with pytest.raises(ValueError, match="values must contain only finite"):
        gae(r, torch.full((2, 3), float("nan")), m)
    with pytest.raises(ValueError, match="mask must be bool"):
        gae(r, v, torch.full((2, 3), 2))


def test_rejects_empty_and_non_prefix_masks():
    r, v, _ = _ok()
    with pytest.raises(ValueError, match="row 1 is all False"):
        gae(r, v, torch.tensor([[True, True, False], [False, False, False]]))
    with pytest.raises(ValueError, match="prefix"):
        gae(r, v, torch.tensor([[True, False, True], [True, True, True]]))
    with pytest.raises(ValueError, match="all False"):
        discounted_returns(r, torch.zeros(2, 3, dtype=torch.bool))


@pytest.mark.parametrize(("name", "value"), [("gamma", 1.5), ("gamma", -0.1), ("lam", 1.01), ("lam", float("nan"))])
def test_rejects_gamma_lambda_outside_unit_interval(name, value):
    r, v, m = _ok()
    with pytest.raises(ValueError, match=name):
        gae(r, v, m, **{name: value})


def test_rejects_non_numeric_gamma():
    r, v, m = _ok()
    with pytest.raises(TypeError, match="gamma"):
        gae(r, v, m, gamma="0.9")
    with pytest.raises(TypeError, match="lam"):
        gae(r, v, m, lam=None)


# ------------------------------------------------------------------ potential-based shaping


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), gamma=st.floats(0.0, 1.0), lam=st.floats(0.0, 1.0))
def test_shaping_telescopes_and_equals_a_shifted_critic(seed, gamma, lam):
    r, v, lengths, rt, vt, mask = _batch(seed, B=4, T=7)
    phi = torch.tensor(np.random.default_rng(seed + 1).normal(size=(4, 8)))
    F = potential_shaping(phi, mask, gamma=gamma)
    for b in range(4):  # sum_t gamma^t F_t = -Phi(s_0): the terminal state has potential 0
        L = int(lengths[b])
        disc = sum(gamma**t * float(F[b, t]) for t in range(L))
        assert abs(disc + float(phi[b, 0])) < 1e-9
    # GAE on shaped rewards with critic V == GAE on task rewards with critic V + Phi (Wiewiora 2003)
    adv_shaped, _ = gae(rt + F, vt, mask, gamma=gamma, lam=lam)
    adv_shift, _ = gae(rt, vt + phi[:, :-1], mask, gamma=gamma, lam=lam)
    torch.testing.assert_close(adv_shaped, adv_shift, atol=1e-9, rtol=0)


def test_shaping_hand_worked_and_terminal_ignored():
    phi = torch.tensor([[0.0, 0.5, 1.0, 7.0], [0.2, 0.4, 3.0, 3.0]], dtype=torch.float64)
    mask = torch.tensor([[True, True, True], [True, False, False]])
    F = potential_shaping(phi, mask, gamma=1.0)
    expected = torch.tensor([[0.5, 0.5, -1.0], [-0.2, 0.0, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(F, expected, atol=ATOL64, rtol=0)


def test_shaping_bad_input():
    m = torch.ones(2, 3, dtype=torch.bool)
    with pytest.raises(TypeError, match="potentials"):
        potential_shaping([[1.0, 2.0], [3.0]], m)
    with pytest.raises(ValueError, match="mask must have the shape"):
        potential_shaping(torch.zeros(2, 3), m)
    with pytest.raises(ValueError, match="all False"):
        potential_shaping(torch.zeros(2, 4), torch.zeros(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="gamma"):
        potential_shaping(torch.zeros(2, 4), m, gamma=2.0)
