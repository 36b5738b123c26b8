import pytest
import torch
import torch.nn.functional as F

from interviewlib.rl import (
    EOS,
    PAD,
    SortTask,
    evaluate_policy,
    response_logprobs,
    response_mask_from,
    sample_rollout,
    sequence_logprob,
    tiny_policy,
    toy_setting,
)
from interviewlib.transformer import generate

# float64 model: a full-sequence pass and a prefix pass differ only by summation order.
ATOL64 = 1e-10
# float32: the sampler's KV-cache pass and the scoring pass round differently.
ATOL32 = 1e-5


def _model64(seed=0):
    lm = toy_setting(0).policy() if seed == "sft" else tiny_policy(seed)
    return lm.double()


def _direct_logprobs(model, prompts, responses, mask, temperature=1.0):
    """Independent reference: one prefix forward pass per response position."""
    B, P = prompts.shape
    out = torch.zeros(responses.shape, dtype=torch.float64)
    seq = torch.cat([prompts, responses], 1)
    with torch.no_grad():
        for t in range(responses.shape[1]):
            logits = model(seq[:, : P + t])[:, -1].double() / temperature  # (B, V)
            out[:, t] = F.log_softmax(logits, -1)[torch.arange(B), responses[:, t]]
    return torch.where(mask, out, torch.zeros_like(out))


def test_response_logprobs_equal_prefix_by_prefix_computation():
    lm = _model64("sft")
    task = SortTask()
    ro = sample_rollout(lm, task.sample_prompts(16, 0), max_new_tokens=6, rng=1)
    for temp in (1.0, 0.7):
        ours = response_logprobs(lm, ro.prompts, ro.responses, ro.response_mask, temperature=temp)
        ref = _direct_logprobs(lm, ro.prompts, ro.responses, ro.response_mask, temp)
        assert torch.allclose(ours, ref, atol=ATOL64, rtol=0)
    seq = sequence_logprob(lm, ro.prompts, ro.responses, ro.response_mask)
    ref1 = _direct_logprobs(lm, ro.prompts, ro.responses, ro.response_mask).sum(1)
    assert torch.allclose(seq, ref1, atol=ATOL64, rtol=0)


def test_sample_rollout_equals_generate_with_same_generator():
    lm = toy_setting(0).policy()
    task = SortTask()
    prompts = task.sample_prompts(64, 2)
    for temp in (1.0, 1.5):
        ro = sample_rollout(lm, prompts, max_new_tokens=6, temperature=temp, rng=torch.Generator().manual_seed(9))
        gen = generate(lm, prompts, 6, do_sample=True, temperature=temp, rng=torch.Generator().manual_seed(9),
                       eos_token_id=EOS)[:, 6:]
        L = gen.shape[1]
        m = ro.response_mask
        assert torch.equal(ro.responses[:, :L][m[:, :L]], gen[m[:, :L]])  # same tokens up to the first EOS
        assert torch.all(ro.responses[~m] == PAD) and torch.all(ro.responses[:, L:] == PAD)
        # the mask ends at the first EOS (or covers everything when there is none)
        for row, mrow in zip(ro.responses, m):
            n = int(mrow.sum())
            assert torch.all(mrow[:n]) and not torch.any(mrow[n:])
            assert EOS not in row[: n - 1].tolist() and (row[n - 1] == EOS or n == 6)
        ref = _direct_logprobs(lm, prompts, ro.responses, m, temp).float()
        assert torch.allclose(ro.logprobs, ref, atol=ATOL32, rtol=0)
        assert not ro.logprobs.requires_grad and ro.sequences.shape == (64, 12)


def test_sampling_frequencies_follow_the_policy():
    # first response token of one prompt: empirical frequencies vs softmax of the logits
    lm = toy_setting(0).policy()
    prompts = SortTask().sample_prompts(1, 4).repeat(4000, 1)
    ro = sample_rollout(lm, prompts, max_new_tokens=6, rng=0)
    with torch.no_grad():
        p = F.softmax(lm(prompts[:1])[0, -1].double(), -1)
    freq = torch.bincount(ro.responses[:, 0], minlength=14).double() / 4000
    sd = (p * (1 - p) / 4000).sqrt()
    assert torch.all((freq - p).abs() <= 5 * sd + 1e-12)  # 5 sd per token
    lp0 = torch.log(p)[ro.responses[:, 0]]
    assert torch.allclose(ro.logprobs[:, 0].double(), lp0, atol=ATOL32, rtol=0)


def test_gradient_flows_only_through_valid_tokens():
    lm = tiny_policy(0)
    task = SortTask()
    ro = sample_rollout(lm, task.sample_prompts(4, 0), max_new_tokens=6, rng=0)
    lp = response_logprobs(lm, ro.prompts, ro.responses, ro.response_mask)
    assert lp.requires_grad and torch.all(lp[~ro.response_mask] == 0)
    lp.sum().backward()
    assert lm.head.weight.grad is not None and lm.head.weight.grad.abs().sum() > 0


def test_response_mask_hand_worked():
    r = torch.tensor([[EOS, 1, EOS], [1, 2, 3], [1, EOS, PAD]])
    assert response_mask_from(r).tolist() == [[True, False, False], [True, True, True], [True, True, False]]


def test_evaluate_policy_greedy_matches_manual():
    s = toy_setting(0)
    lm, task = s.policy(), s.task
    g = torch.Generator().manual_seed(5)
    prompts = task.sample_prompts(64, g)
    out = generate(lm, prompts, 6, eos_token_id=EOS)[:, 6:]
    out = torch.cat([out, torch.full((64, 6 - out.shape[1]), PAD)], 1)
    r = task.reward(prompts, out)
    res = evaluate_policy(lm, task, n=64, rng=5, greedy=True)
    assert res["reward"] == pytest.approx(r.double().mean().item())
    assert res["exact_match"] == pytest.approx((r == 1).double().mean().item())


def test_bad_input():
    lm = tiny_policy(0)
    p = SortTask().sample_prompts(2, 0)
    y = torch.tensor([[1, EOS], [2, EOS]])
    m = torch.ones(2, 2, dtype=torch.bool)
    for bad in (None, "not valid", [[1, 2], [3]]):
        with pytest.raises(TypeError, match="policy must be a DecoderLM"):
            sample_rollout(bad, p, max_new_tokens=3)
        with pytest.raises(TypeError, match="model must be a DecoderLM"):
            response_logprobs(bad, p, y, m)
        with pytest.raises(TypeError, match="model must be a DecoderLM"):
            sequence_logprob(bad, p, y, m)
        with pytest.raises(TypeError, match="policy must be a DecoderLM"):
            evaluate_policy(bad, SortTask())
        with pytest.raises(TypeError, match="responses must be a torch.Tensor"):
            response_mask_from(bad)
    with pytest.raises(ValueError, match="prompts must hold integer"):
        sample_rollout(lm, torch.tensor([[float("nan")]]), max_new_tokens=3)
    with pytest.raises(ValueError, match="max_new_tokens must be >= 1"):
        sample_rollout(lm, p, max_new_tokens=0)
    with pytest.raises(ValueError, match="temperature must be"):
        sample_rollout(lm, p, max_new_tokens=3, temperature=0.0)
    with pytest.raises(ValueError, match="exceeds the model's max_len"):
        sample_rollout(lm, p, max_new_tokens=100)
    with pytest.raises(TypeError, match="response_mask must be a bool"):
        response_logprobs(lm, p, y, m.float())
    with pytest.raises(ValueError, match="response_mask must have the shape"):
        response_logprobs(lm, p, y, m[:, :1])
    with pytest.raises(ValueError, match="same batch size"):
        response_logprobs(lm, p[:1], y, m)
    with pytest.raises(ValueError, match="all-False"):
        sequence_logprob(lm, p, y, torch.zeros(2, 2, dtype=torch.bool))
    with pytest.raises(TypeError, match="task must be a SortTask"):
        evaluate_policy(lm, None)
