import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewlib.inference import (
    LLMEngine,
    SamplingParams,
    heuristic_num_splits,
    split_k_matmul,
    split_kv_attention,
    split_rms_norm,
    split_sum,
)
from interviewlib.transformer import DecoderConfig, DecoderLM, generate

U32 = 2.0**-24  # unit roundoff of float32 (round to nearest)
T_HALF_ULP = 2.0**-24  # half an ulp of 1.0: 1 + T_HALF_ULP is a tie and rounds back to 1 (ties to even)
# Attention: softmax-weighted averages of O(1) values over <= 80 keys; float32 rounding gives ~1e-6,
# a wrong mask, scale or merge weight moves outputs by >= 1e-2.
ATTN_ATOL = 2e-5
MAX_WITNESS_TRIES = 200  # deterministic search over seeded candidates; the first one almost always works


def gamma(n):
    """Higham's gamma_n = n u / (1 - n u): the error bound of any n-term recursive summation."""
    return n * U32 / (1 - n * U32)


def _randn(*shape, seed=0, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _np_ordered_sum(row, num_splits):
    """Whiteboard reference of the documented order, in numpy float32 scalars (each op rounds)."""
    n = len(row)
    chunk = -(-n // num_splits)
    partials = []
    for s in range(num_splits):
        acc = np.float32(0.0)
        for j, val in enumerate(row[s * chunk : (s + 1) * chunk]):
            acc = np.float32(val) if j == 0 else np.float32(acc + np.float32(val))
        partials.append(acc)
    total = partials[0]
    for p in partials[1:]:
        total = np.float32(total + p)
    return total


def _witness(make, differs):
    """First seeded candidate for which ``differs`` holds (a deterministic search, not luck)."""
    for seed in range(MAX_WITNESS_TRIES):
        cand = make(seed)
        if differs(cand):
            return cand
    raise AssertionError(f"no witness among {MAX_WITNESS_TRIES} seeded candidates")


# ---------------------------------------------------------------------------------------------- heuristic
def test_heuristic_hand_cases():
    assert [heuristic_num_splits(b, 256) for b in (1, 2, 3, 4, 5, 8, 16, 17, 1000)] == [16, 8, 4, 4, 2, 2, 1, 1, 1]
    assert heuristic_num_splits(1, 40) == 2  # 40 >= 2 * 16, 40 < 4 * 16
    assert heuristic_num_splits(1, 15) == 1
    assert heuristic_num_splits(1, 0) == 1
    assert heuristic_num_splits(2, 1024, num_cores=132, min_split_len=1) == 64  # 132 // 2 = 66 -> 64


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 300), st.integers(0, 5000), st.integers(1, 200), st.integers(1, 64))
def test_heuristic_properties(work, length, cores, min_len):
    s = heuristic_num_splits(work, length, num_cores=cores, min_split_len=min_len)
    assert s >= 1 and s & (s - 1) == 0  # a power of two
    assert s == 1 or (s * work <= cores and length >= s * min_len)
    assert heuristic_num_splits(work + 1, length, num_cores=cores, min_split_len=min_len) <= s  # more rows, fewer splits


# ---------------------------------------------------------------------------------------------- split_sum
def test_split_sum_closed_form_non_associativity():
    t = T_HALF_ULP
    x = torch.tensor([1.0] + [t] * 7)
    assert split_sum(x, num_splits=1).item() == 1.0  # every 1 + t is a tie, rounds to even = 1
    assert split_sum(x, num_splits=2).item() == 1.0 + 4 * t  # [1, t, t, t] -> 1, [t, t, t, t] -> 4t exactly
    assert split_sum(x, num_splits=4).item() == 1.0 + 6 * t  # [1, t] -> 1, then 2t + 2t + 2t
    assert split_sum(x, num_splits=8).item() == 1.0  # 1 + t + t + ... left to right again
    assert split_sum(x.double(), num_splits=1).item() == 1.0 + 7 * t  # float64 has room for all of it


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 70), st.integers(1, 8), st.integers(0, 10_000))
def test_split_sum_is_the_documented_order(n, splits, seed):
    splits = min(splits, n)
    row = (_randn(n, seed=seed) * torch.exp(_randn(n, seed=seed + 1) * 3)).numpy()  # wide dynamic range
    got = split_sum(torch.from_numpy(row), num_splits=splits).item()
    assert got == float(_np_ordered_sum(row, splits))  # bitwise: same rounding at every step


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 300), st.sampled_from([1, 2, 3, 4, 16, "auto"]), st.integers(0, 10_000))
def test_split_sum_within_recursive_summation_bound(n, splits, seed):
    if isinstance(splits, int):
        splits = min(splits, n)
    x = _randn(3, n, seed=seed)
    got = split_sum(x, num_splits=splits).double()
    exact = x.double().sum(-1)  # float32 inputs, float64 sum: error ~1e-16 relative
    assert torch.all((got - exact).abs() <= gamma(n) * x.double().abs().sum(-1) + 1e-300)


def test_auto_split_changes_the_bits_of_a_row_with_batch_size():
    K = 256
    assert heuristic_num_splits(1, K) == 16 and heuristic_num_splits(16, K) == 1
    row = _witness(
        lambda s: _randn(1, K, seed=s),
        lambda r: not torch.equal(split_sum(r, num_splits=16), split_sum(r, num_splits=1)),
    )
    batch = torch.cat([row, _randn(63, K, seed=999)])  # the row, then other requests
    alone = split_sum(batch[:1])  # "auto": 16 splits
    assert not torch.equal(split_sum(batch[:16])[:1], alone)  # "auto": 1 split -> other bits
    assert torch.equal(split_sum(batch[:16], num_splits=4)[:1], split_sum(batch[:1], num_splits=4))


@settings(max_examples=20, deadline=None)
@given(st.integers(2, 40), st.integers(1, 200), st.integers(1, 8), st.integers(0, 10_000))
def test_fixed_split_sum_is_batch_invariant(B, n, splits, seed):
    x = _randn(B, n, seed=seed)
    splits = min(splits, n)
    full = split_sum(x, num_splits=splits)
    for b in (1, B // 2, B):
        assert torch.equal(split_sum(x[:b], num_splits=splits), full[:b])
    assert torch.equal(split_sum(x[B - 1 :], num_splits=splits), full[B - 1 :])  # any row, alone


# ---------------------------------------------------------------------------------------------- matmul
def test_split_k_matmul_closed_form():
    t = T_HALF_ULP
    a = torch.tensor([[1.0] + [t] * 7, [t] * 7 + [1.0]])
    b = torch.ones(8, 1)
    # row 1: 1 + t ties back to 1 each time; row 2: 7t is exact, then 1 + 7t = 1 + 3.5 ulp ties to even, 1 + 8t
    assert split_k_matmul(a, b, split_k=1).flatten().tolist() == [1.0, 1.0 + 8 * t]
    # row 1: [1, t, t, t] -> 1 and [t, t, t, t] -> 4t; row 2: 4t and (3t + 1 -> 1 + 4t), sum 1 + 8t
    assert split_k_matmul(a, b, split_k=2).flatten().tolist() == [1.0 + 4 * t, 1.0 + 8 * t]


def test_split_k_matmul_equals_float32_whiteboard_dot_products():
    a, w = _randn(3, 37, seed=1), _randn(37, 5, seed=2)
    prod = (a[:, None, :] * w.T[None]).numpy()  # (3, 5, 37), each product rounded once
    for s in (1, 3, 5):
        want = np.array([[_np_ordered_sum(prod[i, j], s) for j in range(5)] for i in range(3)], dtype=np.float32)
        assert np.array_equal(split_k_matmul(a, w, split_k=s).numpy(), want)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 40), st.integers(1, 130), st.integers(1, 20), st.sampled_from([1, 2, 4, 7, "auto"]),
       st.integers(0, 10_000))  # fmt: skip
def test_split_k_matmul_close_to_float64(M, K, N, split_k, seed):
    if isinstance(split_k, int):
        split_k = min(split_k, K)
    a, w = _randn(M, K, seed=seed), _randn(K, N, seed=seed + 1)
    got = split_k_matmul(a, w, split_k=split_k).double()
    exact = a.double() @ w.double()
    bound = gamma(K + 1) * (a.double().abs() @ w.double().abs())  # one rounding per product + the sum
    assert torch.all((got - exact).abs() <= bound)


@settings(max_examples=20, deadline=None)
@given(st.integers(2, 48), st.integers(1, 100), st.integers(1, 24), st.integers(1, 6), st.integers(0, 10_000))
def test_fixed_split_k_matmul_is_batch_invariant(M, K, N, split_k, seed):
    a, w = _randn(M, K, seed=seed), _randn(K, N, seed=seed + 1)
    split_k = min(split_k, K)
    full = split_k_matmul(a, w, split_k=split_k)
    for i in {0, M // 2, M - 1}:
        assert torch.equal(split_k_matmul(a[i : i + 1], w, split_k=split_k), full[i : i + 1])
    assert torch.equal(split_k_matmul(a[: M // 2 + 1], w, split_k=split_k), full[: M // 2 + 1])


def test_auto_split_k_matmul_differs_across_batch_sizes_on_a_witness_row():
    K, N = 256, 64
    w = _randn(K, N, seed=7)
    # N = 64 -> 4 column tiles: M <= 16 gives 4 tiles -> split 4; M = 64 gives 16 tiles -> split 1
    assert heuristic_num_splits(1 * 4, K) == 4 and heuristic_num_splits(4 * 4, K) == 1
    row = _witness(
        lambda s: _randn(1, K, seed=100 + s),
        lambda r: not torch.equal(split_k_matmul(r, w, split_k=4), split_k_matmul(r, w, split_k=1)),
    )
    batch = torch.cat([row, _randn(63, K, seed=5)])
    alone = split_k_matmul(batch[:1], w)
    assert torch.equal(split_k_matmul(batch[:8], w)[:1], alone)  # still split 4
    assert not torch.equal(split_k_matmul(batch, w)[:1], alone)  # split 1: other bits
    assert torch.equal(split_k_matmul(batch, w, split_k=1)[:1], split_k_matmul(batch[:1], w, split_k=1))


# ---------------------------------------------------------------------------------------------- RMSNorm
def test_split_rms_norm_hand_case():
    y = split_rms_norm(torch.tensor([[3.0, 4.0]]), eps=0.0)  # mean square 12.5
    torch.testing.assert_close(y, torch.tensor([[3.0, 4.0]]) / math.sqrt(12.5), rtol=2 * U32, atol=0)
    assert torch.equal(split_rms_norm(torch.zeros(2, 5), eps=1e-6), torch.zeros(2, 5))


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 20), st.integers(1, 300), st.sampled_from([1, 2, 4, "auto"]), st.booleans(), st.integers(0, 10_000))
def test_split_rms_norm_matches_torch_float64(B, d, splits, use_weight, seed):
    if isinstance(splits, int):
        splits = min(splits, d)
    x = _randn(B, d, seed=seed) * 3
    w = _randn(d, seed=seed + 1) if use_weight else None
    got = split_rms_norm(x, w, eps=1e-5, num_splits=splits).double()
    ref = F.rms_norm(x.double(), (d,), None if w is None else w.double(), eps=1e-5)
    # sum of d squares (gamma_d relative), / d, + eps, sqrt (halves it), /, * w: a few more roundings
    rtol = gamma(d + 1) / 2 + 6 * U32
    assert torch.all((got - ref).abs() <= rtol * ref.abs())


def test_split_rms_norm_batch_dependence_and_invariance():
    d = 256
    assert heuristic_num_splits(1, d) == 16 and heuristic_num_splits(16, d) == 1
    row = _witness(
        lambda s: _randn(1, d, seed=300 + s),
        lambda r: not torch.equal(split_rms_norm(r, num_splits=16), split_rms_norm(r, num_splits=1)),
    )
    batch = torch.cat([row, _randn(31, d, seed=8)])
    assert not torch.equal(split_rms_norm(batch)[:1], split_rms_norm(batch[:1]))  # "auto": 1 vs 16 splits
    invariant = split_rms_norm(batch, num_splits=1)
    for b in (1, 2, 5, 17, 32):
        assert torch.equal(split_rms_norm(batch[:b], num_splits=1), invariant[:b])


# ---------------------------------------------------------------------------------------------- attention
def _sdpa64(q, k, v):
    T, S = q.shape[2], k.shape[2]
    mask = torch.ones(T, S, dtype=torch.bool).tril(diagonal=S - T)  # bottom-right causal
    return F.scaled_dot_product_attention(q.double(), k.double(), v.double(), attn_mask=mask)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 4), st.integers(1, 3), st.integers(1, 80), st.integers(1, 6), st.integers(0, 10_000),
       st.sampled_from([dict(), dict(num_splits=3), dict(split_size=16), dict(split_size=5)]))  # fmt: skip
def test_split_kv_attention_matches_sdpa_float64(B, H, S, T, seed, mode):
    T = min(T, S)
    if mode.get("num_splits", 0) > S:
        mode = dict(num_splits=S)
    q, k, v = _randn(B, H, T, 16, seed=seed), _randn(B, H, S, 16, seed=seed + 1), _randn(B, H, S, 16, seed=seed + 2)
    got = split_kv_attention(q, k, v, **mode).double()
    torch.testing.assert_close(got, _sdpa64(q, k, v), rtol=0, atol=ATTN_ATOL)


def test_split_kv_attention_equal_keys_average_the_visible_values():
    v = _randn(1, 1, 10, 4, seed=3)
    k = torch.ones(1, 1, 10, 4)  # equal scores: uniform weights over the visible keys
    out = split_kv_attention(torch.ones(1, 1, 3, 4), k, v, split_size=4)  # positions 7, 8, 9
    want = torch.stack([v[0, 0, : p + 1].mean(0) for p in (7, 8, 9)])[None, None]
    torch.testing.assert_close(out, want, rtol=0, atol=1e-6)


def test_split_kv_attention_batch_dependence_and_invariance():
    S, d = 64, 16
    # decode: B * H * T query rows; 2 heads: B = 1 -> 2 rows -> 4 splits of 16; B = 8 -> 16 rows -> 1 split
    assert heuristic_num_splits(2, S) == 4 and heuristic_num_splits(16, S) == 1

    def make(seed):
        return tuple(_randn(1, 2, n, d, seed=400 + 3 * seed + i) for i, n in enumerate((1, S, S)))

    q, k, v = _witness(make, lambda c: not torch.equal(split_kv_attention(*c, num_splits=4),
                                                       split_kv_attention(*c, num_splits=1)))  # fmt: skip
    others = [_randn(7, 2, n, d, seed=9 + i) for i, n in enumerate((1, S, S))]
    qb, kb, vb = (torch.cat([x, o]) for x, o in zip((q, k, v), others))
    assert not torch.equal(split_kv_attention(qb, kb, vb)[:1], split_kv_attention(q, k, v))  # "auto"
    for mode in (dict(num_splits=4), dict(split_size=16)):
        assert torch.equal(split_kv_attention(qb, kb, vb, **mode)[:1], split_kv_attention(q, k, v, **mode))


def test_fixed_split_size_is_invariant_to_chunked_prefill_but_fixed_num_splits_is_not():
    d, S, T = 16, 64, 16  # a prefill chunk: positions 48..63

    def chunk_vs_decode(qkv, **mode):
        q, k, v = qkv
        chunk = split_kv_attention(q, k, v, **mode)
        alone = [split_kv_attention(q[:, :, t : t + 1], k[:, :, : S - T + t + 1], v[:, :, : S - T + t + 1], **mode)
                 for t in range(T)]  # fmt: skip
        return [torch.equal(chunk[:, :, t : t + 1], a) for t, a in enumerate(alone)]

    def make(seed):
        return tuple(_randn(1, 2, n, d, seed=500 + 3 * seed + i) for i, n in enumerate((T, S, S)))

    qkv = _witness(make, lambda c: not all(chunk_vs_decode(c, num_splits=4)))
    assert not all(chunk_vs_decode(qkv, num_splits=4))  # boundaries ceil(S / 4) move with S
    for c in (1, 7, 16, 100):
        assert all(chunk_vs_decode(qkv, split_size=c))  # boundaries at 0, c, 2c, ...: same for every S


# ---------------------------------------------------------------------------------------------- bad input
def test_bad_input():
    x, w = torch.ones(2, 8), torch.ones(8, 3)
    with pytest.raises(TypeError, match="torch.Tensor"):
        split_sum([1.0, 2.0])
    with pytest.raises(ValueError, match="0-D"):
        split_sum(torch.tensor(1.0))
    with pytest.raises(ValueError, match="floating"):
        split_sum(torch.ones(3, dtype=torch.long))
    with pytest.raises(ValueError, match="'auto' or a positive int"):
        split_sum(x, num_splits="fast")
    with pytest.raises(TypeError, match="integer"):
        split_sum(x, num_splits=2.0)
    with pytest.raises(TypeError, match="integer"):
        split_sum(x, num_splits=True)
    with pytest.raises(ValueError, match=">= 1"):
        split_sum(x, num_splits=0)
    with pytest.raises(ValueError, match="<= the reduction length 8"):
        split_sum(x, num_splits=9)
    with pytest.raises(ValueError, match="K must agree"):
        split_k_matmul(x, torch.ones(7, 3))
    with pytest.raises(ValueError, match="2-D"):
        split_k_matmul(x[0], w)
    with pytest.raises(ValueError, match="dtype"):
        split_k_matmul(x, w.double())
    with pytest.raises(ValueError, match="block_m must be >= 1"):
        split_k_matmul(x, w, block_m=0)
    with pytest.raises(ValueError, match="eps"):
        split_rms_norm(x, eps=-1.0)
    with pytest.raises(ValueError, match=r"weight must have shape \(8,\)"):
        split_rms_norm(x, torch.ones(7))
    with pytest.raises(ValueError, match="d >= 1"):
        split_rms_norm(torch.ones(2, 0))
    q, k = torch.ones(1, 2, 3, 4), torch.ones(1, 2, 5, 4)
    with pytest.raises(ValueError, match="4-D"):
        split_kv_attention(q[0], k, k)
    with pytest.raises(ValueError, match="k and v must be"):
        split_kv_attention(q, k, torch.ones(1, 2, 6, 4))
    with pytest.raises(ValueError, match="T <= S"):
        split_kv_attention(torch.ones(1, 2, 6, 4), k, k)
    with pytest.raises(ValueError, match="split_size must be >= 1"):
        split_kv_attention(q, k, k, split_size=0)
    with pytest.raises(ValueError, match="scale"):
        split_kv_attention(q, k, k, scale=float("nan"))
    with pytest.raises(ValueError, match="work_items must be >= 1"):
        heuristic_num_splits(0, 10)
    assert split_sum(torch.ones(3, 0)).tolist() == [0.0, 0.0, 0.0]  # empty reduction
    assert split_k_matmul(torch.ones(2, 0), torch.ones(0, 3)).tolist() == [[0.0] * 3] * 2
    assert torch.equal(x, torch.ones(2, 8))  # inputs untouched


# ---------------------------------------------------------------------------------------------- engine
def _lm():
    torch.manual_seed(0)
    cfg = DecoderConfig(vocab_size=32, d_model=16, n_layers=2, n_heads=4, n_kv_heads=2, max_len=48)
    model = DecoderLM(cfg).double().eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim == 2:
                p.normal_(0.0, 0.5)
    return model


def test_seeded_request_gives_the_same_tokens_in_any_batch():
    model = _lm()
    prompt = [3, 1, 4, 1, 5, 9, 2, 6]
    params = SamplingParams(max_tokens=12, temperature=0.9, top_p=0.95, seed=1234)
    want = generate(model, torch.tensor([prompt]), 12, do_sample=True, temperature=0.9, top_p=0.95, rng=1234)
    want = want[0, len(prompt) :].tolist()
    others = [([7, 7, 2], 5), ([1] * 14, 6), ([5, 4, 3, 2, 1, 0, 9, 8, 7, 6, 5], 7), ([3, 1, 4, 1, 5, 9], 8)]

    def run(n_others, *, late=False, **engine_kwargs):
        eng = LLMEngine(model, **engine_kwargs)
        if not late:
            eng.add_request("x", prompt, params)
        for i, (p, seed) in enumerate(others[:n_others]):
            eng.add_request(f"o{i}", p, SamplingParams(max_tokens=9, temperature=1.0, seed=seed))
        if late:  # joins a running batch after two steps
            eng.step()
            eng.step()
            eng.add_request("x", prompt, params)
        return eng.run()["x"]

    assert run(0, num_gpu_blocks=32, block_size=4) == want
    assert run(4, num_gpu_blocks=32, block_size=4, max_num_seqs=5) == want
    assert run(4, late=True, num_gpu_blocks=32, block_size=4, max_num_batched_tokens=6) == want  # chunked prefill
    assert run(4, num_gpu_blocks=12, block_size=4, max_num_batched_tokens=8, enable_prefix_caching=True) == want


def test_a_shared_generator_makes_a_row_depend_on_its_batch():
    model = _lm()
    prompts = torch.tensor([[3, 1, 4, 1, 5], [2, 7, 1, 8, 2], [1, 6, 1, 8, 0]])

    def differs(seed):
        alone = generate(model, prompts[:1], 10, do_sample=True, rng=seed)
        batched = generate(model, prompts, 10, do_sample=True, rng=seed)  # one RNG stream for 3 rows
        return not torch.equal(batched[:1], alone)

    assert any(differs(seed) for seed in range(MAX_WITNESS_TRIES))
