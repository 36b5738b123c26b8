import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from interviewlib.inference import (
    H100_SXM,
    LLAMA_3_1_8B,
    LLMEngine,
    SimResult,
    Trace,
    drive_engine,
    kv_transfer_time,
    poisson_trace,
    simulate,
    step_time,
)
from interviewlib.transformer import DecoderConfig, DecoderLM

GPU, M = H100_SXM, LLAMA_3_1_8B
REL = 1e-9  # event times are sums of hundreds of float64 step times accumulated in a different order
EPS = 1e-12  # absolute slack for "bound holds" comparisons of accumulated float64 clocks


def _prefill_alone(p: int) -> float:
    return step_time(GPU, M, prefill_tokens=p, decode_seqs=0, kv_tokens_read=p, attention_pairs=p * (p + 1) // 2)


def _decode_alone(p: int, o: int) -> float:
    """Seconds of the o - 1 single-sequence decode steps after a prompt of p tokens."""
    return sum(step_time(GPU, M, prefill_tokens=0, decode_seqs=1, kv_tokens_read=p + k) for k in range(1, o))


def _trace(arr, p, o) -> Trace:
    return Trace(np.asarray(arr, float), np.asarray(p, np.int64), np.asarray(o, np.int64))


# ---------------------------------------------------------------- closed forms
@pytest.mark.parametrize("chunked", [True, False])
def test_single_request_ttft_is_prefill_time_and_tpot_is_decode_time(chunked):
    r = simulate(_trace([0.5], [1000], [20]), GPU, M, chunked_prefill=chunked)
    assert math.isclose(r.ttft[0], _prefill_alone(1000), rel_tol=REL)
    assert math.isclose(r.tpot[0], _decode_alone(1000, 20) / 19, rel_tol=REL)
    assert r.first_token[0] > r.arrival[0] == 0.5


def test_chunked_long_prompt_ttft_is_sum_of_chunks():
    r = simulate(_trace([0.0], [5000], [1]), GPU, M, max_num_batched_tokens=2048)
    chunks = [(0, 2048), (2048, 2048), (4096, 904)]
    want = sum(step_time(GPU, M, prefill_tokens=c, decode_seqs=0, kv_tokens_read=p + c,
                         attention_pairs=c * p + c * (c + 1) // 2) for p, c in chunks)  # fmt: skip
    assert math.isclose(r.ttft[0], want, rel_tol=REL)
    assert r.tpot[0] == 0.0 and r.finish[0] == r.first_token[0]
    np.testing.assert_array_equal(r.steps[:, 3], [2048, 2048, 904])


@pytest.mark.parametrize("n", [1, 5])
def test_infinite_capacity_zero_transfer_reduces_to_requests_alone(n):
    tr = poisson_trace(n, 50.0, prompt_len=(100, 3000), output_len=(2, 30), rng=3)
    ttft = np.array([_prefill_alone(int(p)) for p in tr.prompt_len])
    tpot = np.array([_decode_alone(int(p), int(o)) / (o - 1) for p, o in zip(tr.prompt_len, tr.output_len)])
    dis = simulate(tr, GPU, M, mode="disaggregated", n_prefill=n, n_decode=n, kv_bandwidth=math.inf,
                   max_num_batched_tokens=4096)  # fmt: skip
    col = simulate(tr, GPU, M, mode="colocated", n_instances=n, max_num_batched_tokens=4096)
    for r in (dis, col):
        np.testing.assert_allclose(r.ttft, ttft, rtol=REL)
        np.testing.assert_allclose(r.tpot, tpot, rtol=REL)


def test_kv_transfer_delays_second_token_and_transfers_queue_on_the_link():
    bw, lat = 1e9, 1e-3  # slow link: a transfer (~0.2 s) outlasts a prefill (~0.04 s)
    tau = kv_transfer_time(M, 1500, bandwidth=bw, latency_s=lat)
    one = simulate(_trace([0.0], [1500], [10]), GPU, M, mode="disaggregated", kv_bandwidth=bw, kv_latency_s=lat)
    assert math.isclose(one.ttft[0], _prefill_alone(1500), rel_tol=REL)
    assert math.isclose(one.finish[0] - one.first_token[0], tau + _decode_alone(1500, 10), rel_tol=REL)
    two = simulate(_trace([0.0, 0.0], [1500, 1500], [10, 10]), GPU, M, mode="disaggregated", n_decode=2,
                   kv_bandwidth=bw, kv_latency_s=lat)  # fmt: skip
    # r1 arrives while r0's prefill runs and is prefilled next; its transfer waits for r0's to clear the link
    assert math.isclose(two.first_token[1] - two.first_token[0], _prefill_alone(1500), rel_tol=REL)
    assert math.isclose(two.finish[1] - two.finish[0], tau, rel_tol=REL)


def test_prefill_first_stalls_decodes_chunked_mixes_them():
    tr = _trace([0.0, 0.05], [500, 2000], [200, 5])
    nochunk = simulate(tr, GPU, M, chunked_prefill=False, max_num_batched_tokens=4096)
    chunk = simulate(tr, GPU, M, chunked_prefill=True, max_num_batched_tokens=4096)
    pre, dec = nochunk.steps[:, 3], nochunk.steps[:, 4]
    assert not np.any((pre > 0) & (dec > 0)) and np.any((pre == 2000) & (dec == 0))  # r0 skips a step
    assert np.any((chunk.steps[:, 3] == 2000) & (chunk.steps[:, 4] == 1))  # r0 rides along with the prompt
    assert nochunk.finish[0] > chunk.finish[0]


# ---------------------------------------------------------------- conservation and causality
@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10**6), n=st.integers(1, 10), mode=st.sampled_from(["colocated", "nochunk", "disaggregated"]),
    seqs=st.integers(1, 6), budget=st.sampled_from([64, 300, 2048]), inst=st.integers(1, 3),
    bw=st.sampled_from([math.inf, 5e9]),
)  # fmt: skip
def test_conservation_and_causality(seed, n, mode, seqs, budget, inst, bw):
    tr = poisson_trace(n, 30.0, prompt_len=(1, 600), output_len=(1, 12), rng=seed)
    kw = dict(max_num_seqs=seqs, max_num_batched_tokens=budget)
    if mode == "disaggregated":
        r = simulate(tr, GPU, M, mode=mode, n_prefill=inst, n_decode=4 - inst, kv_bandwidth=bw, **kw)
    else:
        r = simulate(tr, GPU, M, n_instances=inst, chunked_prefill=mode == "colocated", **kw)
    assert np.all(np.isfinite(r.finish)) and np.all(r.first_token > r.arrival) and np.all(r.finish >= r.first_token)
    # every prompt token computed once, every token after the first decoded once
    assert r.steps[:, 3].sum() == tr.prompt_len.sum()
    assert r.steps[:, 4].sum() == (tr.output_len - 1).sum()
    assert np.all(r.steps[:, 4] <= seqs)
    if mode != "nochunk":
        assert np.all(r.steps[:, 3] + r.steps[:, 4] <= budget)
    for k in np.unique(r.steps[:, 0]):  # one instance runs one step at a time
        s = r.steps[r.steps[:, 0] == k]
        assert np.all(s[1:, 1] >= s[:-1, 1] + s[:-1, 2] - EPS)
    # lower bounds: nobody is faster than when alone on an idle GPU
    alone = np.array([_prefill_alone(int(p)) for p in tr.prompt_len])
    assert np.all(r.ttft >= alone - EPS)
    floor = np.array([step_time(GPU, M, prefill_tokens=0, decode_seqs=1, kv_tokens_read=int(p) + 1) for p in tr.prompt_len])
    assert np.all(r.tpot[tr.output_len > 1] >= floor[tr.output_len > 1] - EPS)


# ---------------------------------------------------------------- goodput and traces
def test_goodput_and_attainment_by_hand():
    r = SimResult(np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.1, 1.5, 2.1, 3.1]), np.array([1.0, 2.0, 4.0, 5.0]),
                  np.array([10, 11, 2, 1]), 2, np.zeros((0, 5)))  # fmt: skip
    np.testing.assert_allclose(r.tpot, [0.1, 0.05, 1.9, 0.0], rtol=REL)
    assert r.attainment(ttft_slo=0.2, tpot_slo=0.2) == 0.5  # request 1 misses TTFT, request 2 misses TPOT
    assert math.isclose(r.goodput(ttft_slo=0.2, tpot_slo=0.2, per_gpu=False), 2 / 5.0, rel_tol=REL)
    assert math.isclose(r.goodput(ttft_slo=0.2, tpot_slo=0.2), 2 / 5.0 / 2, rel_tol=REL)


def test_poisson_trace_is_exponential_and_reproducible():
    t = poisson_trace(4000, 8.0, prompt_len=(5, 9), output_len=3, rng=11)
    gaps = np.diff(np.concatenate([[0.0], t.arrival]))
    assert stats.kstest(gaps, "expon", args=(0, 1 / 8.0)).pvalue > 1e-3  # a correct sampler fails 1 in 1000 seeds
    assert t.prompt_len.min() == 5 and t.prompt_len.max() == 9 and np.all(t.output_len == 3)
    np.testing.assert_array_equal(poisson_trace(50, 8.0, prompt_len=7, output_len=3, rng=11).arrival,
                                  poisson_trace(50, 8.0, prompt_len=7, output_len=3, rng=11).arrival)  # fmt: skip


# ---------------------------------------------------------------- the real engine on a simulated clock
def _engine(**kw):
    _ = torch.manual_seed(0)
    lm = DecoderLM(DecoderConfig(vocab_size=32, d_model=16, n_layers=1, n_heads=2, n_kv_heads=1, max_len=96)).eval()
    return LLMEngine(lm, num_gpu_blocks=64, block_size=8, **kw)


def test_drive_engine_single_request_and_conservation():
    tr = _trace([0.25], [40], [6])
    r = drive_engine(_engine(max_num_seqs=4, max_num_batched_tokens=64), tr, [[t % 32 for t in range(40)]], GPU, M)
    assert math.isclose(r.ttft[0], step_time(GPU, M, prefill_tokens=40, decode_seqs=0, kv_tokens_read=40), rel_tol=REL)
    want = sum(step_time(GPU, M, prefill_tokens=0, decode_seqs=1, kv_tokens_read=40 + k) for k in range(1, 6)) / 5
    assert math.isclose(r.tpot[0], want, rel_tol=REL)
    tr = poisson_trace(8, 200.0, prompt_len=(3, 30), output_len=(1, 8), rng=5)
    prompts = [[int(t) % 32 for t in range(p)] for p in tr.prompt_len]
    e = _engine(max_num_seqs=3, max_num_batched_tokens=16)
    r = drive_engine(e, tr, prompts, GPU, M)
    assert np.all(r.first_token > r.arrival) and np.all(r.finish >= r.first_token)
    assert r.steps[:, 3].sum() == tr.prompt_len.sum() and r.steps[:, 4].sum() == (tr.output_len - 1).sum()
    assert [len(e.outputs[f"r{i}"]) for i in range(8)] == tr.output_len.tolist()


# ---------------------------------------------------------------- bad input
def test_bad_input():
    tr = _trace([0.0], [10], [2])
    with pytest.raises(ValueError, match="mode must be"):
        simulate(tr, GPU, M, mode="split")
    with pytest.raises(TypeError, match="trace must be a Trace"):
        simulate([0.0], GPU, M)
    with pytest.raises(ValueError, match="kv_capacity is 5"):
        simulate(tr, GPU, M, kv_capacity=5)
    with pytest.raises(ValueError, match="max_num_seqs must be >= 1"):
        simulate(tr, GPU, M, max_num_seqs=0)
    with pytest.raises(ValueError, match="kv_bandwidth must be > 0"):
        simulate(tr, GPU, M, mode="disaggregated", kv_bandwidth=0.0)
    with pytest.raises(ValueError, match="efficiencies must be in"):
        simulate(tr, GPU, M, flop_efficiency=2.0)
    with pytest.raises(ValueError, match="non-decreasing"):
        _trace([1.0, 0.5], [1, 1], [1, 1])
    with pytest.raises(ValueError, match="prompt_len must be integers >= 1"):
        _trace([0.0], [0], [1])
    with pytest.raises(ValueError, match="low <= high"):
        poisson_trace(3, 1.0, prompt_len=(9, 3), output_len=1)
    with pytest.raises(ValueError, match="rate must be > 0"):
        poisson_trace(3, -1.0, prompt_len=3, output_len=1)
    with pytest.raises(ValueError, match="prompts must hold one token list"):
        drive_engine(_engine(), tr, [[1, 2]], GPU, M)
    with pytest.raises(TypeError, match="prompts must be a list of token-id lists"):
        drive_engine(_engine(), tr, None, GPU, M)
    with pytest.raises(TypeError, match="model must be a ModelShape"):
        drive_engine(_engine(), tr, [[1] * 10], GPU, None)
    with pytest.raises(TypeError, match="gpu must be a GPUSpec"):
        simulate(tr, None, M)
    with pytest.raises(ValueError, match="prompt_len must be a 1-D array of numbers"):
        Trace(np.array([0.0, 1.0]), [[1, 2], [3]], np.array([1, 1]))
    e = _engine()
    e.add_request("x", [1, 2], None)
    with pytest.raises(ValueError, match="engine must be fresh"):
        drive_engine(e, tr, [[t % 32 for t in range(10)]], GPU, M)
