import numpy as np
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
    SFT_STEPS,
    VOCAB_SIZE,
    SortTask,
    evaluate_policy,
    sft_train,
    tiny_policy,
    toy_setting,
)

# Brief: the SFT policy must be decent but imperfect (sampled exact-match roughly 20-60 %).
# The band is the specification, widened by a few points for 512-prompt sampling noise (sd ~2 %).
SFT_EXACT_MATCH_BAND = (0.15, 0.65)


def _reward_reference(prompt, response, k):
    """Plain-Python statement of the documented rule."""
    digits = sorted(int(d) for d in prompt[1:-1])
    resp = [int(t) for t in response]
    first = resp.index(EOS) if EOS in resp else len(resp)
    if first != k:
        return 0.0
    return sum(a == b for a, b in zip(resp[:k], digits)) / k


def test_constants():
    assert (BOS, SEP, EOS, PAD, VOCAB_SIZE) == (10, 11, 12, 13, 14)


def test_prompts_and_target_match_numpy_sort():
    task = SortTask(n_digits=5, max_new_tokens=7)
    p = task.sample_prompts(50, 0)
    assert p.shape == (50, 7) and p.dtype == torch.long
    assert torch.all(p[:, 0] == BOS) and torch.all(p[:, -1] == SEP) and torch.all(p[:, 1:-1] < 10)
    t = task.target(p)
    assert np.array_equal(t[:, :5].numpy(), np.sort(p[:, 1:-1].numpy(), axis=1))
    assert torch.all(t[:, 5] == EOS)
    assert torch.equal(task.sample_prompts(50, 0), p)  # seeded
    assert not torch.equal(task.sample_prompts(50, 1), p)


def test_reward_hand_worked():
    task = SortTask()
    p = torch.tensor([[BOS, 3, 1, 2, 1, SEP]] * 6)
    r = torch.tensor([
        [1, 1, 2, 3, EOS, PAD],    # exact
        [1, 1, 3, 2, EOS, PAD],    # two of four right
        [1, 1, 2, 3, 3, EOS],      # EOS late -> 0
        [1, 1, 2, EOS, PAD, PAD],  # EOS early -> 0
        [1, 1, 2, 3, 4, 5],        # no EOS -> 0
        [1, 1, 2, 3, EOS, 7],      # tokens after EOS ignored
    ])
    assert task.reward(p, r).tolist() == [1.0, 0.5, 0.0, 0.0, 0.0, 1.0]
    assert task.exact_match(p, r).tolist() == [True, False, False, False, False, True]
    assert task.reward(p, r).dtype == torch.float32


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 5))
def test_property_reward_equals_reference(seed, k):
    task = SortTask(n_digits=k, max_new_tokens=k + 2)
    g = torch.Generator().manual_seed(seed)
    p = task.sample_prompts(20, g)
    tgt = torch.cat([task.target(p), torch.full((20, 1), PAD)], 1)
    noisy = torch.randint(0, VOCAB_SIZE, tgt.shape, generator=g)
    keep = torch.rand(tgt.shape, generator=g) < 0.7
    resp = torch.where(keep, tgt, noisy)
    ours = task.reward(p, resp).tolist()
    ref = [_reward_reference(a.tolist(), b.tolist(), k) for a, b in zip(p, resp)]
    assert ours == pytest.approx(ref, abs=1e-7)
    assert torch.all(task.reward(p, task.target(p)) == 1.0)


def test_sft_batch_layout():
    task = SortTask()
    ids, labels = task.sft_batch(8, 3)
    assert ids.shape == labels.shape == (8, 11)
    assert torch.all(labels[:, :6] == -100)
    assert torch.equal(labels[:, 6:], ids[:, 6:])
    assert torch.equal(ids[:, 6:], task.target(ids[:, :6]))


def test_tiny_policy_seeded_and_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    a, b, c = tiny_policy(0), tiny_policy(0), tiny_policy(1)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.embed.weight, c.embed.weight)
    assert a.config.vocab_size == VOCAB_SIZE


def test_sft_loss_is_response_cross_entropy_and_decreases():
    task = SortTask()
    lm = tiny_policy(0)
    ids, labels = task.sft_batch(64, 5)  # the first batch sft_train(rng=5) will draw
    with torch.no_grad():
        logits = lm(ids)
        # reference: per-sequence log-likelihood of the target tokens only
        ref = -torch.stack([F.log_softmax(logits[i, 5:10], -1)[torch.arange(5), ids[i, 6:]] for i in range(64)]).mean()
    losses = sft_train(lm, task, steps=40, batch_size=64, lr=3e-3, rng=5)
    assert losses[0] == pytest.approx(ref.item(), rel=1e-5)
    assert np.mean(losses[-5:]) < 0.6 * losses[0]


def test_toy_setting_memoised_fresh_copies_and_in_band():
    s = toy_setting(0)
    assert toy_setting(0) is s and len(s.sft_losses) == SFT_STEPS
    p1, p2, ref = s.policy(), s.policy(), s.reference()
    assert p1 is not p2 and p1.training and all(q.requires_grad for q in p1.parameters())
    assert not ref.training and not any(q.requires_grad for q in ref.parameters())
    with torch.no_grad():
        p1.embed.weight.add_(1.0)  # mutating a copy must not leak into the setting
    assert torch.equal(s.policy().embed.weight, s.sft_state["embed.weight"])
    em = evaluate_policy(s.policy(), s.task, n=512, rng=123)["exact_match"]
    assert SFT_EXACT_MATCH_BAND[0] <= em <= SFT_EXACT_MATCH_BAND[1]


def test_bad_input():
    task = SortTask()
    with pytest.raises(ValueError, match="max_new_tokens must be >= 5"):
        SortTask(n_digits=4, max_new_tokens=4)
    with pytest.raises(TypeError, match="n_digits must be an integer"):
        SortTask(n_digits=None)
    with pytest.raises(TypeError, match="n must be an integer"):
        task.sample_prompts(None, 0)
    with pytest.raises(TypeError, match="rng must be a torch.Generator"):
        task.sample_prompts(3, "not valid")
    for bad in (None, "not valid", [[1, 2], [3]]):
        with pytest.raises(TypeError, match="prompts must be a torch.Tensor"):
            task.target(bad)
    with pytest.raises(ValueError, match="prompts must hold integer"):
        task.target(torch.tensor([[float("nan")] * 6]))
    with pytest.raises(ValueError, match="prompts must have 6 columns"):
        task.reward(torch.tensor([[BOS, 1, SEP]]), torch.tensor([[1, EOS]]))
    with pytest.raises(ValueError, match="BOS d1"):
        task.target(torch.tensor([[1, 1, 2, 3, 4, SEP]]))
    with pytest.raises(ValueError, match="responses must have one row per prompt"):
        task.reward(task.sample_prompts(2, 0), torch.zeros(3, 6, dtype=torch.long))
    with pytest.raises(ValueError, match="responses must hold ids"):
        task.reward(task.sample_prompts(1, 0), torch.tensor([[99, 1, 2, 3, 4, 5]]))
    with pytest.raises(TypeError, match="policy must be a DecoderLM"):
        sft_train(None, task, steps=1)
    with pytest.raises(TypeError, match="task must be a SortTask"):
        sft_train(tiny_policy(0), "not valid", steps=1)
    with pytest.raises(ValueError, match="lr must be > 0"):
        sft_train(tiny_policy(0), task, steps=1, lr=float("nan"))
    with pytest.raises(ValueError, match="n_heads must divide"):
        tiny_policy(0, d_model=30, n_heads=4)
    with pytest.raises(TypeError, match="seed must be an integer"):
        toy_setting("not valid")
    with pytest.raises(TypeError, match="seed must be an integer"):
        tiny_policy(None)
