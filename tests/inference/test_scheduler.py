"""Tests for interviewlib.inference.scheduler: token budget, chunked prefill, preemption by recompute and swap."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewlib.inference import BlockManager, Request, Scheduler


def _req(rid, prompt_len, max_tokens, first=0):
    return Request(rid, list(range(first, first + prompt_len)), max_tokens)


def _execute(sched, out, token=7):
    """Stand-in for the model: advance every scheduled request, sample ``token`` where it reaches its end."""
    finished = []
    for req, n in out.scheduled:
        req.num_computed_tokens += n
        sched.bm.cache_full_blocks(req.request_id, req.all_token_ids[: req.num_computed_tokens])
        if req.num_computed_tokens == req.num_tokens:
            req.output_token_ids.append(token)
            if len(req.output_token_ids) == req.max_tokens:
                sched.finish(req)
                finished.append(req.request_id)
    return finished


def _plan(out):
    return [(r.request_id, n) for r, n in out.scheduled]


def test_one_budget_shared_by_decodes_and_chunked_prefills():
    sched = Scheduler(BlockManager(16, 4), max_num_seqs=4, max_num_batched_tokens=8)
    sched.add(_req("a", 6, 3))
    sched.add(_req("b", 5, 3))
    out = sched.schedule()
    assert _plan(out) == [("a", 6), ("b", 2)]  # b's prompt is chunked to the 2 tokens left
    _execute(sched, out)
    out = sched.schedule()
    assert _plan(out) == [("a", 1), ("b", 3)]  # running first: a decodes, b finishes its prefill
    _execute(sched, out)
    assert _plan(sched.schedule()) == [("a", 1), ("b", 1)]


def test_without_chunked_prefill_a_prompt_waits_for_a_step_it_fits():
    sched = Scheduler(BlockManager(16, 4), max_num_seqs=4, max_num_batched_tokens=8, enable_chunked_prefill=False)
    sched.add(_req("a", 6, 3))
    sched.add(_req("b", 5, 3))
    out = sched.schedule()
    assert _plan(out) == [("a", 6)]  # 5 > 2 tokens left: b is not split
    _execute(sched, out)
    assert _plan(sched.schedule()) == [("a", 1), ("b", 5)]


def test_max_num_seqs_caps_the_running_set():
    sched = Scheduler(BlockManager(32, 4), max_num_seqs=2, max_num_batched_tokens=64)
    for i in range(4):
        sched.add(_req(f"r{i}", 2, 2))
    out = sched.schedule()
    assert len(sched.running) == 2 and len(sched.waiting) == 2 and len(out.scheduled) == 2


def test_recompute_preempts_the_newest_and_re_prefills_prompt_plus_output():
    bm = BlockManager(4, 2)  # 8 token slots
    sched = Scheduler(bm, max_num_seqs=4, max_num_batched_tokens=16)
    sched.add(_req("old", 4, 3))  # needs at most 4 + 3 - 1 = 6 slots
    sched.add(_req("new", 4, 6, first=10))
    _execute(sched, sched.schedule())  # both prefilled: 2 + 2 full blocks, pool full; both have 1 output token
    out = sched.schedule()  # both need a 3rd block for position 4: none free -> preempt "new"
    assert [r.request_id for r in out.preempted] == ["new"]
    assert _plan(out) == [("old", 1)]
    new = out.preempted[0]
    assert new.status == "waiting" and new.num_computed_tokens == 0 and new.recompute_until == 4
    assert list(sched.waiting) == [new] and not bm.has_seq("new")
    _execute(sched, out)
    out = sched.schedule()
    while "new" not in [r for r, _ in _plan(out)]:  # "new" needs 3 blocks; it waits until "old" is done
        assert _plan(out) == [("old", 1)]
        _execute(sched, out)
        out = sched.schedule()
    assert not bm.has_seq("old")
    # "new" comes back: prompt (4) + its 1 output token are computed as one prefill
    assert _plan(out) == [("new", 5)] and out.recomputed_tokens == 4  # 4 positions had been computed before


def test_no_admission_in_a_step_that_preempted():
    bm = BlockManager(4, 2)
    sched = Scheduler(bm, max_num_seqs=4, max_num_batched_tokens=16)
    sched.add(_req("a", 4, 6))
    sched.add(_req("b", 4, 6))
    _execute(sched, sched.schedule())
    sched.add(_req("c", 1, 1))
    out = sched.schedule()
    assert out.preempted and "c" not in [r for r, _ in _plan(out)]


def test_swap_moves_blocks_to_cpu_and_back_keeping_progress():
    bm, cpu = BlockManager(4, 2), BlockManager(4, 2)
    sched = Scheduler(bm, max_num_seqs=4, max_num_batched_tokens=16, preemption_mode="swap", cpu_block_manager=cpu)
    sched.add(_req("old", 4, 6))
    sched.add(_req("new", 4, 6, first=10))
    _execute(sched, sched.schedule())
    gpu_table = bm.block_table("new")
    out = sched.schedule()
    new = out.preempted[0]
    assert new.status == "swapped" and new.num_computed_tokens == 4  # progress kept
    assert out.swap_out == list(zip(gpu_table, cpu.block_table("new")))
    assert list(sched.swapped) == [new] and not bm.has_seq("new") and cpu.num_used_blocks == 2
    sched.add(_req("late", 1, 1))
    _execute(sched, out)
    # while "new" is swapped out, no waiting request is admitted
    while bm.has_seq("old"):
        out = sched.schedule()
        assert "late" not in [r for r, _ in _plan(out)]
        _execute(sched, out)
    cpu_table = cpu.block_table("new")
    out = sched.schedule()
    assert out.swap_in == list(zip(cpu_table, bm.block_table("new")[: len(cpu_table)]))
    assert ("new", 1) in _plan(out) and out.recomputed_tokens == 0 and cpu.num_used_blocks == 0


def test_swap_falls_back_to_recompute_when_cpu_pool_is_full():
    bm, cpu = BlockManager(4, 2), BlockManager(1, 2)
    sched = Scheduler(bm, max_num_seqs=4, max_num_batched_tokens=16, preemption_mode="swap", cpu_block_manager=cpu)
    sched.add(_req("old", 4, 6))
    sched.add(_req("new", 4, 6))
    _execute(sched, sched.schedule())
    out = sched.schedule()
    assert out.preempted[0].status == "waiting" and not out.swap_out and sched.num_recompute_fallbacks == 1


def test_static_batching_waits_for_the_whole_batch():
    sched = Scheduler(BlockManager(32, 4), max_num_seqs=2, max_num_batched_tokens=64, batching="static")
    sched.add(_req("short", 2, 1))
    sched.add(_req("long", 2, 4))
    sched.add(_req("next", 2, 1))
    _execute(sched, sched.schedule())  # "short" finishes at once
    assert [r.request_id for r in sched.running] == ["long"]
    for _ in range(3):
        out = sched.schedule()
        assert [r for r, _ in _plan(out)] == ["long"]  # "next" waits although a slot is free
        _execute(sched, out)
    assert _plan(sched.schedule()) == [("next", 2)]


@settings(max_examples=25, deadline=None)
@given(
    reqs=st.lists(st.tuples(st.integers(1, 12), st.integers(1, 8), st.integers(0, 6)), min_size=1, max_size=7),
    num_blocks=st.integers(6, 14),
    block_size=st.sampled_from([2, 4]),
    budget=st.integers(1, 12),
    max_num_seqs=st.integers(1, 4),
    mode=st.sampled_from(["recompute", "swap"]),
    chunked=st.booleans(),
    caching=st.booleans(),
)
def test_random_traces_respect_budget_seqs_and_blocks(
    reqs, num_blocks, block_size, budget, max_num_seqs, mode, chunked, caching
):
    if not chunked:
        budget = 24  # a whole prompt + output must fit one step without chunking
    bm = BlockManager(num_blocks, block_size, enable_prefix_caching=caching)
    cpu = BlockManager(4, block_size)
    sched = Scheduler(
        bm,
        max_num_seqs=max_num_seqs,
        max_num_batched_tokens=budget,
        enable_chunked_prefill=chunked,
        preemption_mode=mode,
        cpu_block_manager=cpu,
    )
    pending = sorted(
        (
            (arrive, _req(f"r{i}", p, m, first=i % 2))
            for i, (p, m, arrive) in enumerate(reqs)
            if -(-(p + m - 1) // block_size) <= num_blocks
        ),
        key=lambda x: x[0],
    )
    everyone = [r for _, r in pending]
    finished, step = set(), 0
    while pending or sched.has_unfinished():
        while pending and pending[0][0] <= step:
            sched.add(pending.pop(0)[1])
        out = sched.schedule()
        assert sum(n for _, n in out.scheduled) <= budget
        assert len(sched.running) <= max_num_seqs
        for req, n in out.scheduled:
            assert n >= 1 and req.num_computed_tokens + n <= req.num_tokens
            assert bm.num_tokens(req.request_id) == req.num_computed_tokens + n  # slots reserved for exactly these
        running_blocks = {b for r in sched.running for b in bm.block_table(r.request_id)}
        assert bm.num_used_blocks == len(running_blocks)  # every used block belongs to a running request
        finished |= set(_execute(sched, out))
        step += 1
        assert step < 500, "no progress"
    assert finished == {r.request_id for r in everyone}
    assert all(len(r.output_token_ids) == r.max_tokens for r in everyone)
    assert bm.num_free_blocks == num_blocks and cpu.num_free_blocks == 4


def test_request_validates_its_fields():
    assert Request("a", (1, 2), 1).all_token_ids == [1, 2]  # a tuple prompt is kept as a list
    with pytest.raises(TypeError, match="request_id must be a str; got int"):
        Request(7, [1], 1)
    with pytest.raises(ValueError, match="prompt_token_ids must hold at least one token id >= 0"):
        Request("a", [], 1)
    with pytest.raises(TypeError, match="prompt_token_ids must be a list of int token ids"):
        Request("a", [1, 2.0], 1)
    with pytest.raises(ValueError, match="max_tokens must be >= 1"):
        Request("a", [1], 0)


def test_bad_construction():
    bm = BlockManager(4, 2)
    with pytest.raises(ValueError, match="preemption_mode must be 'recompute' or 'swap'"):
        Scheduler(bm, max_num_seqs=1, max_num_batched_tokens=4, preemption_mode="drop")
    with pytest.raises(ValueError, match="needs a cpu_block_manager"):
        Scheduler(bm, max_num_seqs=1, max_num_batched_tokens=4, preemption_mode="swap")
    with pytest.raises(TypeError, match="block_manager must be a BlockManager"):
        Scheduler("bm", max_num_seqs=1, max_num_batched_tokens=4)
    with pytest.raises(ValueError, match="max_num_seqs must be >= 1"):
        Scheduler(bm, max_num_seqs=0, max_num_batched_tokens=4)
    with pytest.raises(ValueError, match="batching must be"):
        Scheduler(bm, max_num_seqs=1, max_num_batched_tokens=4, batching="dynamic")
