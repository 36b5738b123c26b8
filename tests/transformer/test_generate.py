import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.generation.logits_process import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

from interviewlib.transformer import (
    DecoderConfig,
    DecoderLM,
    TransformerLM,
    from_hf_llama,
    generate,
    sample_next,
    top_k_filter,
    top_p_filter,
)

# Sampling checks: N draws of one distribution; each token's frequency is within Z_BOUND binomial
# standard deviations of its probability (5 sd: a false alarm has probability ~6e-7 per token).
N_DRAWS = 40_000
Z_BOUND = 5.0


def _logits(B=4, V=12, seed=0, dtype=torch.float32, scale=2.0):
    return torch.randn(B, V, generator=torch.Generator().manual_seed(seed), dtype=dtype) * scale


def _hf_llama(seed=0):
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=32,
    )
    hf = LlamaForCausalLM(cfg).double().eval()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():  # O(1) logits, so that greedy paths are not decided by rounding
        for name, p in hf.named_parameters():
            if p.ndim == 2:
                p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) / (1 if "embed" in name else math.sqrt(p.shape[1])))
    return hf


def _lm(seed=0, max_len=24, vocab_size=16):
    torch.manual_seed(seed)
    cfg = DecoderConfig(vocab_size=vocab_size, d_model=16, n_layers=2, n_heads=4, n_kv_heads=2, max_len=max_len)
    model = DecoderLM(cfg).double()
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim == 2:
                p.normal_(0.0, 0.5)
    return model


def _prompt(B=2, T=5, V=64, seed=3):
    return torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(seed))


def _hf_greedy(hf, idx, n, **kw):
    # A random tiny model: no eos (so nothing stops early), an explicit pad id and attention mask
    # (so transformers does not warn), greedy.
    kw = {"eos_token_id": None, "pad_token_id": 0, **kw}
    return hf.generate(idx, attention_mask=torch.ones_like(idx), do_sample=False, max_new_tokens=n, **kw)


@pytest.mark.parametrize("use_cache", [True, False])
def test_greedy_matches_hf_generate(use_cache):
    hf = _hf_llama()
    ours, idx = from_hf_llama(hf), _prompt()
    ref = _hf_greedy(hf, idx, 12, min_new_tokens=12)
    got = generate(ours, idx, 12, use_cache=use_cache)
    assert ref.shape == (2, 17) and torch.equal(got, ref)


def test_eos_matches_hf_generate_with_pad_equal_to_eos():
    hf = _hf_llama()
    ours, idx = from_hf_llama(hf), _prompt()
    free = _hf_greedy(hf, idx, 12)
    eos = int(free[1, 5 + 2])  # row 1 emits this token at step 3
    ref = _hf_greedy(hf, idx, 12, eos_token_id=eos, pad_token_id=eos)
    got = generate(ours, idx, 12, eos_token_id=eos)
    assert torch.equal(got, ref)
    for row in got[:, 5:]:  # once a row produced eos it keeps emitting it
        hits = (row == eos).nonzero()
        if len(hits):
            assert (row[int(hits[0]) :] == eos).all()
    # a batch whose every row finishes stops early, as HF's does
    one = generate(ours, idx[1:], 12, eos_token_id=eos)
    assert one.shape[1] < 17 and one[0, -1] == eos
    assert torch.equal(one, _hf_greedy(hf, idx[1:], 12, eos_token_id=eos, pad_token_id=eos))


@pytest.mark.parametrize("k", [1, 2, 5, 12, 20])
def test_top_k_filter_matches_hf(k):
    for dtype in (torch.float32, torch.float64):
        x = _logits(dtype=dtype)
        torch.testing.assert_close(top_k_filter(x, k), TopKLogitsWarper(k)(None, x), atol=0, rtol=0)


def test_top_k_filter_hand_worked_and_ties():
    x = torch.tensor([[1.0, 3.0, 3.0, 2.0]])
    ninf = float("-inf")
    assert top_k_filter(x, 1).tolist() == [[ninf, 3.0, 3.0, ninf]]  # ties with the k-th value are kept
    assert top_k_filter(x, 3).tolist() == [[ninf, 3.0, 3.0, 2.0]]
    torch.testing.assert_close(top_k_filter(x, 1), TopKLogitsWarper(1)(None, x), atol=0, rtol=0)
    assert torch.equal(top_k_filter(x, 10), x)  # k >= V keeps everything
    y = x.clone()
    top_k_filter(y, 2)
    assert torch.equal(y, x)  # input not mutated


@settings(max_examples=25, deadline=None)
@given(
    B=st.integers(1, 4), V=st.integers(2, 64), p=st.floats(0.01, 1.0, exclude_max=True), min_keep=st.integers(1, 3),
    scale=st.floats(0.1, 5.0), double=st.booleans(), seed=st.integers(0, 10_000),
)
def test_property_top_p_filter_matches_hf(B, V, p, min_keep, scale, double, seed):
    x = _logits(B, V, seed=seed, dtype=torch.float64 if double else torch.float32, scale=scale)
    ref = TopPLogitsWarper(p, min_tokens_to_keep=min_keep)(None, x)
    torch.testing.assert_close(top_p_filter(x, p, min_keep=min_keep), ref, atol=0, rtol=0)


def test_top_p_one_keeps_everything_even_when_the_tail_underflows():
    # p = 1 is "no nucleus filtering" (HF's generate does not even add TopPLogitsWarper then,
    # transformers 5.23.0 generation/utils.py); a float32 cumulative sum of the sorted
    # probabilities reaches 1.0 before the tail, which used to drop tail tokens (hypothesis
    # found B=1, V=22, scale=4, seed=5)
    x = _logits(1, 22, seed=5, dtype=torch.float32, scale=4.0)
    assert torch.equal(top_p_filter(x, 1.0), x)


def test_top_p_filter_hand_worked():
    x = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]], dtype=torch.float64))
    keep = lambda p, **kw: torch.isfinite(top_p_filter(x, p, **kw))[0].tolist()  # noqa: E731
    assert keep(0.4) == [True, False, False, False]  # 0.5 already reaches 0.4
    assert keep(0.6) == [True, True, False, False]  # the token that crosses p is included
    assert keep(0.9) == [True, True, True, False]
    assert keep(1.0) == [True, True, True, True]
    assert keep(0.01, min_keep=3) == [True, True, True, False]
    kept = top_p_filter(x, 0.6)
    assert torch.equal(kept[0, :2], x[0, :2])  # kept logits are not changed


def test_top_p_filter_tie_caveat():
    # Tied logits straddle the cut: both keep the same number of tokens (hence the same mass),
    # but may keep different tokens among the tied ones; ours keeps the lowest ids (stable sort).
    x = torch.tensor([[1.0] + [0.5] * 18 + [-1.0]])
    ours, ref = top_p_filter(x, 0.5), TopPLogitsWarper(0.5)(None, x)
    kept_ours, kept_ref = torch.isfinite(ours[0]), torch.isfinite(ref[0])
    assert kept_ours.sum() == kept_ref.sum()
    probs = torch.softmax(x[0], -1)
    torch.testing.assert_close(probs[kept_ours].sum(), probs[kept_ref].sum())
    n = int(kept_ours.sum())
    assert kept_ours[:n].all() and not kept_ours[n:].any()
    # the other caveat: a cumulative sum that equals p exactly; here both keep exactly 2 of 4 equal tokens
    u = torch.zeros(1, 4)
    assert torch.isfinite(top_p_filter(u, 0.5)).sum() == torch.isfinite(TopPLogitsWarper(0.5)(None, u)).sum() == 2


def _hf_distribution(x, temperature=1.0, top_k=None, top_p=None):
    scores = TemperatureLogitsWarper(temperature)(None, x)
    if top_k is not None:
        scores = TopKLogitsWarper(top_k)(None, scores)
    if top_p is not None:
        scores = TopPLogitsWarper(top_p)(None, scores)
    return torch.softmax(scores, -1)


@pytest.mark.parametrize(
    ("temperature", "top_k", "top_p"), [(1.0, None, None), (0.6, None, None), (1.5, 5, None), (1.0, None, 0.8), (0.8, 6, 0.9)]
)
def test_sampled_frequencies_match_the_filtered_softmax(temperature, top_k, top_p):
    row = _logits(B=1, V=10, seed=7, dtype=torch.float64)
    probs = _hf_distribution(row, temperature, top_k, top_p)[0]
    g = torch.Generator().manual_seed(11)
    draws = sample_next(row.expand(N_DRAWS, -1), do_sample=True, temperature=temperature, top_k=top_k, top_p=top_p, generator=g)
    freq = torch.bincount(draws, minlength=10).double() / N_DRAWS
    bound = Z_BOUND * torch.sqrt(probs * (1 - probs) / N_DRAWS) + 1e-12
    assert ((freq - probs).abs() <= bound).all(), (freq, probs)
    assert (freq[probs == 0] == 0).all()  # filtered tokens are never drawn


def test_sampling_keeps_double_precision_logits():
    # Two logits 1e-9 apart are equal in float32; top_k=1 must still keep only the larger one.
    x = torch.tensor([[1.0, 1.0 + 1e-9]], dtype=torch.float64).expand(1000, -1)
    draws = sample_next(x, do_sample=True, top_k=1, generator=torch.Generator().manual_seed(0))
    assert (draws == 1).all()
    assert torch.isinf(TopKLogitsWarper(1)(None, x)[:, 0]).all()  # HF keeps only one as well


def test_greedy_and_top_k_one():
    x = _logits(B=6, V=9, seed=4)
    assert torch.equal(sample_next(x), x.argmax(-1))
    assert torch.equal(sample_next(x, do_sample=True, top_k=1, temperature=3.0), x.argmax(-1))
    model, idx = _lm(), _prompt(V=16)
    greedy = generate(model, idx, 10)
    assert torch.equal(generate(model, idx, 10, do_sample=True, top_k=1, rng=5), greedy)
    assert torch.equal(generate(model, idx, 10, use_cache=False), greedy)


def test_seeded_sampling_is_reproducible():
    model, idx = _lm(), _prompt(V=16)
    kw = dict(do_sample=True, temperature=1.5, top_p=0.95)
    a = generate(model, idx, 15, rng=123, **kw)
    assert torch.equal(a, generate(model, idx, 15, rng=123, **kw))
    assert torch.equal(a, generate(model, idx, 15, rng=torch.Generator().manual_seed(123), **kw))
    assert torch.equal(a, generate(model, idx, 15, rng=123, use_cache=False, **kw))  # same draws without a cache
    assert not torch.equal(a, generate(model, idx, 15, rng=124, **kw))
    assert torch.equal(a[:, :5], idx) and a.shape == (2, 20)


def test_generate_edge_cases_and_side_effects():
    model, idx = _lm(max_len=8), _prompt(T=3, V=16)
    idx0 = idx.clone()
    model.train()
    out = generate(model, idx, 5)  # exactly max_len
    assert out.shape == (2, 8) and model.training and torch.equal(idx, idx0)
    assert all(p.grad is None for p in model.parameters())
    assert torch.equal(generate(model, idx, 0), idx)
    with torch.no_grad():
        model.eval()
        assert torch.equal(out[:, 3], model(idx)[:, -1].argmax(-1))  # the first new token is the argmax


def test_generate_bad_input():
    model, idx = _lm(max_len=8), _prompt(T=3, V=16)
    with pytest.raises(ValueError, match=r"prompt length 3 \+ max_new_tokens 6 = 9 exceeds the model's max_len=8"):
        generate(model, idx, 6)
    with pytest.raises(ValueError, match="at least one prompt token"):
        generate(model, idx[:, :0], 2)
    with pytest.raises(ValueError, match="integer token ids"):
        generate(model, idx.float(), 2)
    with pytest.raises(ValueError, match=r"idx must be 2-D \(B, T\)"):
        generate(model, idx[0], 2)
    with pytest.raises(ValueError, match="max_new_tokens must be >= 0"):
        generate(model, idx, -1)
    with pytest.raises(TypeError, match="max_new_tokens must be an integer"):
        generate(model, idx, 2.0)
    with pytest.raises(TypeError, match="rng must be a torch.Generator, an int seed or None"):
        generate(model, idx, 2, do_sample=True, rng="seed")
    for p in (0.0, 1.5, True):
        with pytest.raises(ValueError, match="top_p must be a number in"):
            generate(model, idx, 2, do_sample=True, top_p=p)
    with pytest.raises(ValueError, match="top_k must be >= 1"):
        generate(model, idx, 2, do_sample=True, top_k=0)
    with pytest.raises(TypeError, match="top_k must be an integer"):
        generate(model, idx, 2, do_sample=True, top_k=2.5)
    for t in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
            generate(model, idx, 2, do_sample=True, temperature=t)
    with pytest.raises(TypeError, match="eos_token_id must be an integer"):
        generate(model, idx, 2, eos_token_id=1.0)
    with pytest.raises(ValueError, match="eos_token_id must be < vocab_size=16"):
        generate(model, idx, 2, eos_token_id=16)
    with pytest.raises(TypeError, match="DecoderLM-like nn.Module"):
        generate(TransformerLM(vocab_size=8, d_model=8, n_heads=2, n_layers=1, max_len=8), idx, 2)
    with pytest.raises(TypeError, match="DecoderLM-like nn.Module"):
        generate(lambda x: x, idx, 2)


def test_filter_and_sample_bad_input():
    x = _logits()
    with pytest.raises(ValueError, match="k must be >= 1"):
        top_k_filter(x, 0)
    with pytest.raises(TypeError, match="k must be an integer"):
        top_k_filter(x, True)
    with pytest.raises(ValueError, match=r"logits must be 2-D \(B, V\)"):
        top_k_filter(x[0], 2)
    with pytest.raises(ValueError, match="floating dtype"):
        top_p_filter(x.long(), 0.5)
    for p in (0.0, -0.1, 1.01, float("nan"), "0.5", False):
        with pytest.raises(ValueError, match=r"p must be a number in \(0, 1\]"):
            top_p_filter(x, p)
    with pytest.raises(ValueError, match="min_keep must be >= 1"):
        top_p_filter(x, 0.5, min_keep=0)
    for t in (0.0, float("inf"), True):
        with pytest.raises(ValueError, match="temperature must be a finite number > 0 when sampling"):
            sample_next(x, do_sample=True, temperature=t)
    with pytest.raises(TypeError, match="torch.Tensor"):
        sample_next(x.tolist())
