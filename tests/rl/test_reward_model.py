import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewlib.rl import (
    BOS,
    EOS,
    PAD,
    SEP,
    PreferencePairs,
    RewardModel,
    SortTask,
    bradley_terry_loss,
    pairwise_accuracy,
    preference_pairs,
    tiny_policy,
    toy_setting,
    train_reward_model,
)

# float64 comparisons of two formulas for the same quantity: rounding only.
ATOL = 1e-12


def test_bt_loss_matches_bce_with_logits_and_closed_forms():
    g = torch.Generator().manual_seed(0)
    rc, rr = torch.randn(50, generator=g, dtype=torch.float64), torch.randn(50, generator=g, dtype=torch.float64)
    ref = F.binary_cross_entropy_with_logits(rc - rr, torch.ones(50, dtype=torch.float64))
    assert torch.allclose(bradley_terry_loss(rc, rr), ref, atol=ATOL, rtol=0)
    assert bradley_terry_loss(rc, rc).item() == pytest.approx(math.log(2), abs=ATOL)
    # margin 1: -log sigmoid(1) = log(1 + e^-1)
    one = torch.ones(1, dtype=torch.float64)
    assert bradley_terry_loss(one, 0 * one).item() == pytest.approx(math.log1p(math.exp(-1)), abs=ATOL)
    # large margins stay finite (softplus, not log(sigmoid))
    assert bradley_terry_loss(torch.tensor([-200.0]), torch.tensor([200.0])).item() == pytest.approx(400.0)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.floats(-50, 50))
def test_property_bt_loss_is_shift_invariant(seed, c):
    g = torch.Generator().manual_seed(seed)
    rc, rr = torch.randn(8, generator=g, dtype=torch.float64), torch.randn(8, generator=g, dtype=torch.float64)
    assert torch.allclose(bradley_terry_loss(rc + c, rr + c), bradley_terry_loss(rc, rr), atol=1e-9, rtol=0)


def test_reward_model_reads_the_last_valid_token():
    rm = RewardModel(tiny_policy(1)).double()
    p = torch.tensor([[BOS, 3, 1, 2, 1, SEP]] * 3)
    y = torch.tensor([[1, 1, 2, 3, EOS, PAD], [1, 1, 2, EOS, PAD, PAD], [1, 1, 2, 3, 4, 5]])
    m = torch.tensor([[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], dtype=torch.bool)
    with torch.no_grad():
        r = rm(p, y, m)
        # independent: run only the valid prefix and take the final position's scalar
        ref = torch.stack([rm.trunk(torch.cat([p[i], y[i][m[i]]])[None])[0, -1, 0] for i in range(3)])
        # PAD after the last token cannot change the reward (causality)
        y2 = y.clone()
        y2[0, 5] = 7
        assert torch.equal(rm(p, y2, m)[0], r[0])
    assert r.shape == (3,)
    assert torch.allclose(r, ref, atol=ATOL, rtol=0)


def test_reward_model_copies_its_backbone():
    lm = tiny_policy(0)
    before = lm.embed.weight.clone()
    rm = RewardModel(lm)
    with torch.no_grad():
        rm.trunk.embed.weight.add_(1.0)
    assert torch.equal(lm.embed.weight, before) and lm.head.out_features == 14
    assert rm.trunk.head.out_features == 1


def test_preference_pairs_are_labelled_by_the_true_reward():
    s = toy_setting(0)
    pairs = preference_pairs(s.task, s.policy(), 64, rng=0)
    assert len(pairs) == 64
    rc, rr = s.task.reward(pairs.prompts, pairs.chosen), s.task.reward(pairs.prompts, pairs.rejected)
    assert torch.all(rc > rr)
    assert torch.equal(rc, pairs.chosen_reward) and torch.equal(rr, pairs.rejected_reward)
    assert torch.all(pairs.chosen[~pairs.chosen_mask] == PAD)
    noisy = preference_pairs(s.task, s.policy(), 400, rng=0, label_noise=0.25)
    flipped = (noisy.chosen_reward < noisy.rejected_reward).double().mean().item()
    assert abs(flipped - 0.25) < 5 * math.sqrt(0.25 * 0.75 / 400)  # binomial, 5 sd


def test_training_learns_the_preferences():
    s = toy_setting(0)
    pol = s.policy()
    train = preference_pairs(s.task, pol, 256, rng=1)
    held = preference_pairs(s.task, pol, 256, rng=2)
    untrained = RewardModel(pol)
    rm, losses = train_reward_model(train, steps=80, lr=1e-3, rng=0, batch_size=32, init=pol)
    assert len(losses) == 80 and losses[0] == pytest.approx(math.log(2), abs=1e-6)  # zero head at init
    assert sum(losses[-10:]) / 10 < 0.5 * losses[0]
    # held-out accuracy well above chance (256 pairs: sd of chance accuracy ~3 %)
    assert pairwise_accuracy(rm, held) > 0.65
    assert pairwise_accuracy(untrained, held) == 0.0  # zero head: every pair ties, none strictly right


def test_bad_input():
    rm = RewardModel()
    p = SortTask().sample_prompts(2, 0)
    y = torch.tensor([[1, EOS], [2, EOS]])
    m = torch.ones(2, 2, dtype=torch.bool)
    for bad in (None, "not valid", [[1.0, 2.0], [3.0]]):
        with pytest.raises(TypeError, match="r_chosen must be a torch.Tensor"):
            bradley_terry_loss(bad, torch.zeros(2))
        with pytest.raises(TypeError, match="task must be a SortTask"):
            preference_pairs(bad, tiny_policy(0), 2, rng=0)
        with pytest.raises(TypeError, match="pairs must be a PreferencePairs"):
            train_reward_model(bad, steps=1)
        with pytest.raises(TypeError, match="prompts must be a torch.Tensor"):
            rm(bad, y, m)
        with pytest.raises(TypeError, match="rm must be a RewardModel"):
            pairwise_accuracy(bad, None)
    with pytest.raises(ValueError, match="r_chosen must not contain NaN"):
        bradley_terry_loss(torch.tensor([float("nan")]), torch.zeros(1))
    with pytest.raises(ValueError, match="r_rejected must have the shape"):
        bradley_terry_loss(torch.zeros(2), torch.zeros(3))
    with pytest.raises(ValueError, match="non-empty 1-D"):
        bradley_terry_loss(torch.zeros(0), torch.zeros(0))
    with pytest.raises(ValueError, match="empty row"):
        rm(p, y, torch.tensor([[True, True], [False, False]]))
    with pytest.raises(TypeError, match="backbone must be a DecoderLM"):
        RewardModel("not valid")
    with pytest.raises(ValueError, match="label_noise"):
        preference_pairs(SortTask(), tiny_policy(0), 2, rng=0, label_noise=0.5)
    empty = PreferencePairs(p[:0], y[:0], m[:0], y[:0], m[:0])
    with pytest.raises(ValueError, match="at least one pair"):
        train_reward_model(empty, steps=1)
    with pytest.raises(ValueError, match="lr must be > 0"):
        train_reward_model(PreferencePairs(p, y, m, y, m), steps=1, lr=-1.0)


def test_training_is_independent_of_the_global_rng():
    pairs = preference_pairs(SortTask(), tiny_policy(0), 16, rng=0)
    torch.manual_seed(1)
    _, a = train_reward_model(pairs, steps=3, rng=0, batch_size=8)
    torch.manual_seed(2)
    _, b = train_reward_model(pairs, steps=3, rng=0, batch_size=8)
    assert a == b
