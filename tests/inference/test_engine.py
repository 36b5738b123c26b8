"""Tests for interviewlib.inference.engine: the engine reproduces plain generate token for token."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interviewlib.inference import LLMEngine, SamplingParams, StepStats
from interviewlib.transformer import DecoderConfig, DecoderLM, generate

VOCAB, MAX_LEN = 48, 64


@pytest.fixture(scope="module")
def lm():
    torch.manual_seed(0)
    cfg = DecoderConfig(vocab_size=VOCAB, d_model=32, n_layers=2, n_heads=4, n_kv_heads=2, max_len=MAX_LEN)
    return DecoderLM(cfg).double().eval()  # float64: batching/padding cannot flip an argmax by rounding


_REF: dict = {}


def reference(model, prompt, p: SamplingParams):
    """Independent reference: interviewlib.transformer.generate on the prompt alone (contiguous KV cache)."""
    key = (id(model), tuple(prompt), p)
    if key not in _REF:
        kw = dict(eos_token_id=p.eos_token_id)
        if p.temperature > 0:
            kw.update(do_sample=True, temperature=p.temperature, top_k=p.top_k, top_p=p.top_p, rng=p.seed)
        out = generate(model, torch.tensor([prompt]), p.max_tokens, **kw)
        _REF[key] = out[0, len(prompt) :].tolist()
    return _REF[key]


def drive(engine, trace):
    """Add each (arrival_step, id, prompt, params) at its step, run to completion, return outputs."""
    pending = sorted(trace, key=lambda r: r[0])
    step = 0
    while pending or engine.has_unfinished():
        while pending and pending[0][0] <= step:
            _, rid, prompt, params = pending.pop(0)
            engine.add_request(rid, prompt, params)
        engine.step()
        step += 1
        assert step < 1000, "engine made no progress"
    return engine.outputs


def params_st():
    greedy = st.builds(SamplingParams, max_tokens=st.integers(1, 10))
    sampled = st.builds(
        SamplingParams,
        max_tokens=st.integers(1, 10),
        temperature=st.sampled_from([0.7, 1.0, 1.5]),
        top_k=st.sampled_from([None, 5]),
        top_p=st.sampled_from([None, 0.9]),
        seed=st.integers(0, 10_000),
    )
    return st.one_of(greedy, sampled)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.data(),
    block_size=st.sampled_from([2, 4, 8]),
    spare_blocks=st.integers(0, 6),
    budget=st.integers(2, 24),
    max_num_seqs=st.integers(1, 5),
    chunked=st.booleans(),
    caching=st.booleans(),
    mode=st.sampled_from(["recompute", "swap"]),
    batching=st.sampled_from(["continuous", "continuous", "static"]),
)
def test_engine_matches_generate_on_random_traces(
    lm, data, block_size, spare_blocks, budget, max_num_seqs, chunked, caching, mode, batching
):
    shared = data.draw(st.lists(st.integers(0, VOCAB - 1), min_size=8, max_size=8))
    reqs = data.draw(
        st.lists(
            st.tuples(st.integers(0, 8), st.integers(1, 14), params_st(), st.integers(0, 6)), min_size=1, max_size=6
        )
    )
    trace = []
    for i, (n_shared, n_own, p, arrive) in enumerate(reqs):
        own = data.draw(st.lists(st.integers(0, VOCAB - 1), min_size=n_own, max_size=n_own))
        trace.append((arrive, f"r{i}", shared[:n_shared] + own, p))
    longest = max(len(pr) + p.max_tokens - 1 for _, _, pr, p in trace)
    num_blocks = -(-longest // block_size) + spare_blocks  # tight pools force preemption
    engine = LLMEngine(
        lm,
        num_gpu_blocks=num_blocks,
        block_size=block_size,
        max_num_seqs=max_num_seqs,
        max_num_batched_tokens=budget if chunked else MAX_LEN,
        enable_chunked_prefill=chunked,
        enable_prefix_caching=caching,
        preemption_mode=mode,
        num_cpu_blocks=num_blocks,
        batching=batching,
    )
    outputs = drive(engine, trace)
    for _, rid, prompt, p in trace:
        assert outputs[rid] == reference(lm, prompt, p), rid
    for s in engine.stats_history:
        assert s.num_scheduled_tokens <= engine.scheduler.max_num_batched_tokens
        assert s.num_running <= max_num_seqs
    assert engine.block_manager.num_free_blocks == num_blocks  # every block came back


def _burst(n=6, max_tokens=9):
    g = torch.Generator().manual_seed(1)
    trace = []
    for i in range(n):
        prompt = torch.randint(0, VOCAB, (5 + i,), generator=g).tolist()  # varied lengths: partial last blocks
        p = (
            SamplingParams(max_tokens=max_tokens, temperature=1.0, seed=i)
            if i % 2
            else SamplingParams(max_tokens=max_tokens)
        )
        trace.append((0, f"r{i}", prompt, p))
    return trace


@pytest.mark.parametrize("mode", ["recompute", "swap"])
def test_burst_that_overflows_the_pool_preempts_and_still_matches(lm, mode):
    trace = _burst()
    engine = LLMEngine(
        lm,
        num_gpu_blocks=12,
        block_size=4,
        max_num_seqs=6,
        max_num_batched_tokens=32,
        preemption_mode=mode,
        num_cpu_blocks=24,
    )
    outputs = drive(engine, trace)
    hist = engine.stats_history
    assert sum(s.num_preempted for s in hist) > 0
    if mode == "recompute":
        assert sum(s.recomputed_tokens for s in hist) > 0 and sum(s.blocks_swapped_out for s in hist) == 0
    else:
        out_blocks, in_blocks = sum(s.blocks_swapped_out for s in hist), sum(s.blocks_swapped_in for s in hist)
        assert out_blocks > 0 and out_blocks == in_blocks and sum(s.recomputed_tokens for s in hist) == 0
    for _, rid, prompt, p in trace:
        assert outputs[rid] == reference(lm, prompt, p)


def test_prefix_caching_skips_shared_prompt_blocks(lm):
    system = list(range(1, 17))  # 16 shared tokens = 4 blocks of 4
    trace = [
        (0, "a", system + [20, 21], SamplingParams(max_tokens=3)),
        (5, "b", system + [30], SamplingParams(max_tokens=3)),
    ]
    engine = LLMEngine(lm, num_gpu_blocks=16, block_size=4, max_num_batched_tokens=64, enable_prefix_caching=True)
    outputs = drive(engine, trace)
    assert sum(s.prefix_cache_hit_tokens for s in engine.stats_history) == 16
    prefills = [s.num_prefill_tokens for s in engine.stats_history if s.num_prefill_tokens]
    assert prefills == [18, 1]  # "b" computes only its own token
    for _, rid, prompt, p in trace:
        assert outputs[rid] == reference(lm, prompt, p)


def test_fully_cached_prompt_still_computes_its_last_token(lm):
    prompt = list(range(1, 9))  # exactly 2 blocks
    engine = LLMEngine(lm, num_gpu_blocks=8, block_size=4, max_num_batched_tokens=64, enable_prefix_caching=True)
    drive(engine, [(0, "a", prompt, SamplingParams(max_tokens=2))])
    drive(engine, [(0, "b", prompt, SamplingParams(max_tokens=2))])
    last = [s for s in engine.stats_history if "b" in s.new_tokens][0]
    assert last.prefix_cache_hit_tokens == 4 and last.num_prefill_tokens == 4  # hit capped at len - 1 -> 1 block
    assert engine.outputs["b"] == engine.outputs["a"] == reference(lm, prompt, SamplingParams(max_tokens=2))


def test_eos_stops_like_generate(lm):
    prompt = [3, 1, 4, 1, 5]
    free_run = reference(lm, prompt, SamplingParams(max_tokens=10))
    eos = free_run[3]
    p = SamplingParams(max_tokens=10, eos_token_id=eos)
    engine = LLMEngine(lm, num_gpu_blocks=8, block_size=4)
    out = drive(engine, [(0, "a", prompt, p)])["a"]
    assert out == reference(lm, prompt, p) and out[-1] == eos and len(out) == free_run.index(eos) + 1


def test_continuous_batching_needs_fewer_steps_than_static(lm):
    trace = [(0, f"r{i}", [i + 1] * 3, SamplingParams(max_tokens=2 if i % 2 else 12)) for i in range(6)]
    steps, outs = {}, {}
    for batching in ("continuous", "static"):
        engine = LLMEngine(lm, num_gpu_blocks=32, block_size=4, max_num_seqs=3, batching=batching)
        outs[batching] = drive(engine, trace)
        steps[batching] = len(engine.stats_history)
    assert outs["continuous"] == outs["static"]
    assert steps["continuous"] < steps["static"]


def test_stats_account_for_every_token(lm):
    trace = _burst(n=4)
    engine = LLMEngine(lm, num_gpu_blocks=10, block_size=4, max_num_seqs=4, max_num_batched_tokens=12)
    outputs = drive(engine, trace)
    hist = engine.stats_history
    assert all(isinstance(s, StepStats) for s in hist)
    assert sum(len(s.new_tokens) for s in hist) == sum(map(len, outputs.values()))
    assert sorted(r for s in hist for r in s.finished) == sorted(outputs)
    # every computed position: prompt + output - 1 per request, plus whatever preemption recomputed
    computed = sum(s.num_prefill_tokens + s.num_decode_seqs for s in hist)
    recomputed = sum(s.recomputed_tokens for s in hist)
    assert computed == sum(len(pr) + len(outputs[r]) - 1 for _, r, pr, _ in trace) + recomputed
    assert hist[-1].free_blocks == 10 and [s.step_index for s in hist] == list(range(len(hist)))


# ---------------------------------------------------------------- bad input
def test_rejected_requests_leave_the_engine_usable(lm):
    engine = LLMEngine(lm, num_gpu_blocks=4, block_size=4, max_model_len=20)
    engine.add_request("ok", [1, 2, 3], SamplingParams(max_tokens=4))
    with pytest.raises(ValueError, match="exceeds max_model_len=20"):
        engine.add_request("long", list(range(18)), SamplingParams(max_tokens=4))
    with pytest.raises(ValueError, match="already in use"):
        engine.add_request("ok", [1], SamplingParams(max_tokens=1))
    with pytest.raises(ValueError, match="empty prompt"):
        engine.add_request("empty", [], SamplingParams(max_tokens=1))
    with pytest.raises(ValueError, match=r"must lie in \[0, 48\)"):
        engine.add_request("vocab", [1, 99], SamplingParams(max_tokens=1))
    with pytest.raises(TypeError, match="list of int"):
        engine.add_request("floats", [1.0, 2.0], SamplingParams(max_tokens=1))
    with pytest.raises(TypeError, match="request_id must be a str"):
        engine.add_request(7, [1], SamplingParams(max_tokens=1))
    with pytest.raises(TypeError, match="params must be a SamplingParams"):
        engine.add_request("p", [1], {"max_tokens": 1})
    with pytest.raises(ValueError, match="needs 5 KV blocks but the pool has only 4"):
        engine.add_request("big", list(range(10)), SamplingParams(max_tokens=10))
    with pytest.raises(ValueError, match="eos_token_id must be < vocab_size=48"):
        engine.add_request("eos", [1], SamplingParams(max_tokens=1, eos_token_id=50))
    with pytest.raises(ValueError, match="unknown request_id 'nope'"):
        engine.get_output("nope")
    out = engine.run()
    assert list(out) == ["ok"] and out["ok"] == reference(lm, [1, 2, 3], SamplingParams(max_tokens=4))
    with pytest.raises(ValueError, match="already in use"):
        engine.add_request("ok", [1], SamplingParams(max_tokens=1))  # finished ids stay taken
    assert engine.get_output("ok") == out["ok"]


def test_sampling_params_validation():
    with pytest.raises(ValueError, match="max_tokens must be >= 1"):
        SamplingParams(max_tokens=0)
    with pytest.raises(ValueError, match="temperature must be a finite number >= 0"):
        SamplingParams(temperature=-1.0)
    with pytest.raises(ValueError, match="top_p must be a number in"):
        SamplingParams(top_p=0.0)
    with pytest.raises(ValueError, match="top_k must be >= 1"):
        SamplingParams(top_k=0)
    with pytest.raises(TypeError, match="seed must be an integer"):
        SamplingParams(seed="1")


def test_bad_engine_construction(lm):
    with pytest.raises(TypeError, match="DecoderLM with GQA"):
        LLMEngine(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="max_model_len must be <= the model's max_len=64"):
        LLMEngine(lm, max_model_len=65)
    with pytest.raises(ValueError, match="without chunked prefill max_num_batched_tokens must be >= max_model_len"):
        LLMEngine(lm, enable_chunked_prefill=False, max_num_batched_tokens=16)
    with pytest.raises(ValueError, match="needs num_cpu_blocks >= 1"):
        LLMEngine(lm, preemption_mode="swap")
    with pytest.raises(ValueError, match="preemption_mode must be"):
        LLMEngine(lm, preemption_mode="evict", num_cpu_blocks=2)


def test_unseeded_sampling_runs_and_is_in_vocab(lm):
    engine = LLMEngine(lm, num_gpu_blocks=8, block_size=4)
    engine.add_request("a", [1, 2], SamplingParams(max_tokens=5, temperature=1.0))
    out = engine.run()["a"]
    assert len(out) == 5 and all(0 <= t < VOCAB for t in out)
