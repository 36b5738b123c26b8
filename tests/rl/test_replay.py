"""Rollout reuse: several updates per batch, the replay buffer's staleness and eviction, the GRPO loop."""

from __future__ import annotations

import pytest
import torch

from interviewlib.rl.grpo import group_advantages, grpo_loss, repeat_prompts
from interviewlib.rl.grpo_loop import grpo_train
from interviewlib.rl.replay import GroupBatch, ReplayBuffer, importance_weighted_mean, update_on_batch
from interviewlib.rl.rollout import response_logprobs, sample_rollout
from interviewlib.rl.toy import SortTask, tiny_policy, toy_setting

RATIO_ONE = 1e-5  # float32 forward passes of the same weights: ratio 1 up to rounding


def _batch(rewards, version=0, G=2, R=3):
    n = len(rewards)
    r = torch.tensor(rewards, dtype=torch.float64)
    return GroupBatch(
        prompts=torch.arange(n)[:, None].repeat(1, 2),
        responses=torch.zeros(n, R, dtype=torch.long),
        response_mask=torch.ones(n, R, dtype=torch.bool),
        old_logprobs=torch.zeros(n, R),
        advantages=group_advantages(r, G, scale="none"),
        rewards=r,
        version=torch.full((n,), version, dtype=torch.long),
        group_size=G,
    )


def _toy_batch(lm, seed=0, n_prompts=3, G=4):
    task = SortTask()
    ro = sample_rollout(lm, repeat_prompts(task.sample_prompts(n_prompts, seed), G), max_new_tokens=6, rng=seed)
    r = task.reward(ro.prompts, ro.responses).double()
    return GroupBatch(ro.prompts, ro.responses, ro.response_mask, ro.logprobs, group_advantages(r, G), r,
                      torch.zeros(len(r), dtype=torch.long), G)  # fmt: skip


def test_buffer_staleness_and_fifo_eviction():
    buf = ReplayBuffer(capacity=3)
    assert buf.add(_batch([1, 0, 0, 0], version=0), version=0) == 1  # the all-zero group is not stored
    assert buf.add(_batch([1, 0, 1, 0], version=2), version=2) == 2
    assert buf.staleness(version=5).tolist() == [5, 3, 3]
    buf.add(_batch([0, 1], version=4), version=4)  # over capacity: the oldest (version 0) goes
    assert len(buf) == 3 and buf.staleness(version=4).tolist() == [2, 2, 0] and buf.n_evicted == 1


def test_buffer_max_staleness_and_sampling():
    buf = ReplayBuffer(capacity=10, max_staleness=3, informative_only=False)
    buf.add(_batch([1, 1, 0, 1], version=0), version=0)
    buf.add(_batch([0, 1], version=2), version=2)
    got = buf.sample(5, version=4, rng=0)  # version 0 is 4 > 3 versions old: evicted first
    assert got.n_groups == 1 and got.version.tolist() == [2, 2] and buf.n_evicted == 2
    assert buf.sample(1, version=10, rng=0) is None  # everything too stale now
    buf.add(_batch([1, 0, 0, 1, 1, 0], version=11), version=11)
    a = buf.sample(2, version=11, rng=1)
    assert a.n_groups == 2 and len({tuple(x) for x in a.prompts.tolist()}) == 4  # without replacement


def test_group_batch_select_and_cat():
    b = _batch([1, 0, 0, 1, 1, 1])
    s = b.select_groups(torch.tensor([2, 0]))
    assert s.prompts[:, 0].tolist() == [4, 5, 0, 1]
    c = GroupBatch.cat([b, s])
    assert c.n_groups == 5 and len(c) == 10


def test_first_update_on_policy_then_off_policy():
    lm = toy_setting(0).policy()  # the SFT policy: its groups have reward variance, so a gradient
    b = _toy_batch(lm)
    assert float(b.advantages.abs().sum()) > 0
    opt = torch.optim.SGD(lm.parameters(), lr=0.5)
    res = update_on_batch(lm, opt, b, num_iterations=3, max_grad_norm=None)
    assert abs(res[0].ratio_mean - 1) < RATIO_ONE and res[0].clip_fraction == 0.0
    # after the first step the stored old log-probs are stale: ratios move away from 1
    assert abs(res[2].ratio_mean - 1) > 10 * RATIO_ONE
    # the loss reported for iteration k is grpo_loss at the weights before step k: recompute the last one
    lm2 = toy_setting(0).policy()
    opt2 = torch.optim.SGD(lm2.parameters(), lr=0.5)
    update_on_batch(lm2, opt2, b, num_iterations=2, max_grad_norm=None)
    lp = response_logprobs(lm2, b.prompts, b.responses, b.response_mask)
    want = grpo_loss(lp, b.old_logprobs, b.advantages, b.response_mask)
    assert abs(want.loss.item() - res[2].loss.item()) < 1e-6


def test_grpo_train_smoke_and_reproducible():
    task = SortTask()
    h1 = grpo_train(tiny_policy(0), task, steps=3, n_prompts=2, group_size=4, rng=0, num_iterations=2)
    h2 = grpo_train(tiny_policy(0), task, steps=3, n_prompts=2, group_size=4, rng=0, num_iterations=2)
    assert h1.reward == h2.reward and h1.loss == h2.loss and h1.samples == [8, 16, 24]
    assert all(0 <= z <= 1 for z in h1.zero_adv_fraction)


def test_grpo_train_gspo_equals_grpo_with_one_update():
    # one update per batch: every ratio is 1, and the GSPO gradient w.r.t. token t of response i is
    # -A_i / (B |o_i|), exactly GRPO's; the two runs must coincide
    task = SortTask()
    a = grpo_train(tiny_policy(1), task, steps=3, n_prompts=2, group_size=4, rng=0, loss_type="grpo")
    b = grpo_train(tiny_policy(1), task, steps=3, n_prompts=2, group_size=4, rng=0, loss_type="gspo")
    assert a.reward == b.reward
    assert max(abs(x - y) for x, y in zip(a.loss, b.loss)) < 1e-6


def test_grpo_train_dynamic_sampling_and_replay():
    task = SortTask()
    h = grpo_train(tiny_policy(2), task, steps=3, n_prompts=2, group_size=4, rng=0, dynamic_sampling=True,
                   max_sampling_rounds=3)  # fmt: skip
    assert h.samples[-1] >= 24 and len(h.reward) == 3
    buf = ReplayBuffer(capacity=8, max_staleness=4)
    h = grpo_train(toy_setting(0).policy(), task, steps=4, n_prompts=2, group_size=4, rng=0, replay=buf, replay_groups=2)
    assert len(buf) > 0 and h.replay_staleness[0] != h.replay_staleness[0]  # NaN: empty buffer at step 0
    assert all(s >= 1 for s in h.replay_staleness[1:] if s == s)


def test_bad_input():
    with pytest.raises(ValueError, match="group_size must be >= 2"):
        _batch([1, 0], G=1)
    with pytest.raises(ValueError, match="not a positive multiple of group_size=2"):
        _batch([1, 0, 1])
    with pytest.raises(ValueError, match="capacity must be >= 1"):
        ReplayBuffer(0)
    with pytest.raises(TypeError, match="batch must be a GroupBatch"):
        ReplayBuffer(2).add("not valid", version=0)
    lm = tiny_policy(0)
    with pytest.raises(TypeError, match="optimizer"):
        update_on_batch(lm, None, _batch([1, 0]))
    with pytest.raises(ValueError, match="num_iterations must be >= 1"):
        update_on_batch(lm, torch.optim.SGD(lm.parameters(), lr=0.1), _batch([1, 0]), num_iterations=0)
    task = SortTask()
    with pytest.raises(ValueError, match="group_size must be >= 2"):
        grpo_train(lm, task, steps=1, group_size=1)
    with pytest.raises(ValueError, match="reference"):
        grpo_train(lm, task, steps=1, beta=0.1)
    with pytest.raises(ValueError, match="loss_type"):
        grpo_train(lm, task, steps=1, loss_type="ppo")
    for bad in (None, "not valid", float("nan"), [[1.0, 2.0], [3.0]]):
        with pytest.raises((TypeError, ValueError), match="policy"):
            grpo_train(bad, task, steps=1)
        with pytest.raises((TypeError, ValueError), match="policy"):
            update_on_batch(bad, torch.optim.SGD(lm.parameters(), lr=0.1), _batch([1, 0]))


def test_importance_weighted_mean_unbiased_and_variance():
    g = torch.Generator().manual_seed(0)
    mu = torch.softmax(torch.randn(6, generator=g, dtype=torch.float64), 0)  # behaviour
    pi = torch.softmax(torch.randn(6, generator=g, dtype=torch.float64), 0)  # target
    f = torch.rand(6, generator=g, dtype=torch.float64)
    exact = float((pi * f).sum())
    x = torch.multinomial(mu, 100_000, replacement=True, generator=g)
    est = importance_weighted_mean(f[x], pi.log()[x], mu.log()[x])
    var_exact = float((mu * (pi / mu) ** 2 * f**2).sum()) - exact**2  # per-sample variance, closed form
    assert abs(float(est) - exact) < 5 * (var_exact / len(x)) ** 0.5
    # self-normalised and clipped versions: weights <= clip, and on-policy everything equals the plain mean
    same = importance_weighted_mean(f[x], mu.log()[x], mu.log()[x], clip=2.0, self_normalize=True)
    assert abs(float(same) - float(f[x].mean())) < 1e-12
    with pytest.raises(ValueError, match="target_logprobs must have the shape"):
        importance_weighted_mean(f, pi.log()[:3], mu.log())
    for bad in (None, "not valid", float("nan"), [[1.0, 2.0], [3.0]]):
        with pytest.raises((TypeError, ValueError), match="values"):
            importance_weighted_mean(bad, pi.log(), mu.log())
