"""Pipeline schedules and their simulator: closed forms, dependencies, torch's action lists, a real run."""

from __future__ import annotations

import math
import types
from graphlib import TopologicalSorter

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.distributed.pipelining import schedules as tsched

from interviewlib.training.parallel import (
    Action,
    PipelineSchedule,
    closed_form_bubble,
    gpipe_schedule,
    interleaved_1f1b_schedule,
    one_f_one_b_schedule,
    pipeline_step_worker,
    run_workers,
    simulate_pipeline,
    single_process_step,
    split_layers,
    zb_h1_schedule,
)

SIM_TOL = 1e-9  # timelines are sums of at most a few hundred float costs (t / v with v = 3 is inexact)
GRAD_TOL = 1e-12  # float64; the pipeline sums micro-batch gradients in another order than one backward

# ---------------------------------------------------------------- helpers


def _deps(a: Action, n_stages: int, kinds: dict) -> list[tuple[str, int, int]]:
    if a.kind == "F":
        return [] if a.stage == 0 else [("F", a.stage - 1, a.microbatch)]
    if a.kind == "W":
        return [("I", a.stage, a.microbatch)]
    out = [("F", a.stage, a.microbatch)]
    if a.stage + 1 < n_stages:
        out.append((kinds[a.stage + 1], a.stage + 1, a.microbatch))
    return out


def _assert_timeline_valid(tl, t_f, t_b, t_w):
    """Every action once; no overlap on a rank; each starts after its inputs exist; durations right."""
    s = tl.schedule
    v = s.n_chunks
    cost = {"F": t_f / v, "B": t_b / v, "I": (t_b - t_w) / v, "W": t_w / v}
    when = {}
    kinds = {}
    for r, acts in enumerate(s.order):
        prev_end = 0.0
        for a, t0, t1 in zip(acts, tl.start[r], tl.end[r], strict=True):
            assert a.stage % s.n_ranks == r
            assert t0 >= prev_end - SIM_TOL and math.isclose(t1 - t0, cost[a.kind], abs_tol=SIM_TOL)
            prev_end = t1
            when[(a.kind, a.stage, a.microbatch)] = (t0, t1)
            if a.kind in "BI":
                kinds[a.stage] = a.kind
    expected = s.n_stages * s.n_microbatches * (2 if s.name != "ZB-H1" else 3)
    assert len(when) == expected
    for (kind, stage, mb), (t0, _) in when.items():
        for dep in _deps(Action(kind, stage, mb), s.n_stages, kinds):
            assert t0 >= when[dep][1] - SIM_TOL, (kind, stage, mb, dep)


def _torch_order(sched) -> list[list[str]]:
    return [
        [str(a) for a in sched.pipeline_order[r] if a is not None and a.computation_type.value in "FBIW"]
        for r in sorted(sched.pipeline_order)
    ]


def _fake_stages(p: int, v: int):
    """Duck-typed stand-ins with just what torch's schedule constructors read (no process group needed)."""
    return [
        types.SimpleNamespace(
            stage_index=k * p, num_stages=p * v, group_size=p, group_rank=0, submod=torch.nn.Linear(1, 1)
        )
        for k in range(v)
    ]


def _ours(sched: PipelineSchedule) -> list[list[str]]:
    return [[str(a) for a in acts] for acts in sched.order]


def _longest_path_ends(sched, t_f, t_b, t_w) -> dict:
    """Independent reference: end time = longest path in the DAG (rank order + data dependencies)."""
    v = sched.n_chunks
    cost = {"F": t_f / v, "B": t_b / v, "I": (t_b - t_w) / v, "W": t_w / v}
    kinds = {a.stage: a.kind for acts in sched.order for a in acts if a.kind in "BI"}
    graph = {}
    for acts in sched.order:
        for i, a in enumerate(acts):
            graph[a] = ([acts[i - 1]] if i else []) + [Action(*d) for d in _deps(a, sched.n_stages, kinds)]
    end = {}
    for a in TopologicalSorter(graph).static_order():
        end[a] = max((end[q] for q in graph[a]), default=0.0) + cost[a.kind]
    return end


# ---------------------------------------------------------------- hand-worked and closed forms


def test_gpipe_two_ranks_by_hand():
    tl = simulate_pipeline(gpipe_schedule(2, 2), t_f=1.0, t_b=2.0)
    # rank 1: F0 [1,2] F1 [2,3] B0 [3,5] B1 [5,7]; rank 0: F0 [0,1] F1 [1,2] B0 [5,7] B1 [7,9]
    assert tl.start == ((0.0, 1.0, 5.0, 7.0), (1.0, 2.0, 3.0, 5.0))
    assert tl.makespan == 9.0 and math.isclose(tl.bubble_fraction, 1 / 3)  # 1 - 12 / 18 = (p-1)/(m+p-1)
    assert tl.bubble_ratio == 0.5 == (2 - 1) / 2  # (p-1)/m form
    assert tl.peak_activations == (2.0, 2.0)


@settings(max_examples=25, deadline=None)
@given(
    p=st.integers(1, 7),
    extra=st.integers(0, 9),
    t_f=st.floats(0.25, 3.0),
    t_b=st.floats(0.25, 6.0),
)
def test_gpipe_and_1f1b_bubble_is_closed_form(p, extra, t_f, t_b):
    m = p + extra
    for sched in (gpipe_schedule(p, m), one_f_one_b_schedule(p, m)):
        tl = simulate_pipeline(sched, t_f=t_f, t_b=t_b, t_w=t_b / 2)
        _assert_timeline_valid(tl, t_f, t_b, t_b / 2)
        assert math.isclose(tl.bubble_fraction, (p - 1) / (m + p - 1), abs_tol=SIM_TOL)
        assert math.isclose(tl.bubble_ratio, (p - 1) / m, abs_tol=SIM_TOL)
        assert math.isclose(tl.makespan, (m + p - 1) * (t_f + t_b), rel_tol=SIM_TOL)
        assert math.isclose(tl.bubble_fraction, closed_form_bubble(sched.name, p, m, t_f=t_f, t_b=t_b), abs_tol=SIM_TOL)
    assert simulate_pipeline(gpipe_schedule(p, m)).peak_activations == (float(m),) * p
    assert simulate_pipeline(one_f_one_b_schedule(p, m)).peak_activations == tuple(float(p - r) for r in range(p))


@settings(max_examples=25, deadline=None)
@given(
    p=st.integers(1, 6),
    rounds=st.integers(1, 3),
    v=st.integers(2, 4),
    t_f=st.floats(0.25, 3.0),
    t_b=st.floats(0.25, 6.0),
)
def test_interleaved_bubble_is_divided_by_v(p, rounds, v, t_f, t_b):
    m = p * rounds
    tl = simulate_pipeline(interleaved_1f1b_schedule(p, m, v), t_f=t_f, t_b=t_b, t_w=t_b / 2)
    _assert_timeline_valid(tl, t_f, t_b, t_b / 2)
    assert math.isclose(tl.bubble_ratio, (p - 1) / (v * m), abs_tol=SIM_TOL)  # Megatron-LM: (1/v)(p-1)/m
    assert math.isclose(
        tl.bubble_fraction, closed_form_bubble("interleaved", p, m, n_chunks=v, t_f=t_f, t_b=t_b), abs_tol=SIM_TOL
    )
    # rank r holds its warm-up forwards plus one, each 1/v of a micro-batch
    want = tuple(min((v - 1) * p + 2 * (p - 1 - r) + 1, m * v) / v for r in range(p))
    assert all(math.isclose(a, b) for a, b in zip(tl.peak_activations, want, strict=True))


@settings(max_examples=25, deadline=None)
@given(
    p=st.integers(1, 7),
    extra=st.integers(0, 9),
    t_f=st.floats(0.5, 3.0),
    t_i=st.floats(0.5, 3.0),
    w=st.floats(0.05, 1.0),
)
def test_zb_h1_bubble_and_memory(p, extra, t_f, t_i, w):
    m = p + extra
    t_w = w * min(t_f, t_i)  # the regime of Qi et al.'s formula
    t_b = t_i + t_w
    tl = simulate_pipeline(zb_h1_schedule(p, m), t_f=t_f, t_b=t_b, t_w=t_w)
    _assert_timeline_valid(tl, t_f, t_b, t_w)
    idle = tl.makespan - tl.busy[0]
    assert math.isclose(idle, (p - 1) * (t_f + t_i - t_w), abs_tol=SIM_TOL)
    assert math.isclose(
        tl.bubble_fraction, closed_form_bubble("ZB-H1", p, m, t_f=t_f, t_b=t_b, t_w=t_w), abs_tol=SIM_TOL
    )
    assert tl.peak_activations == (float(p),) * p  # every rank holds p micro-batches, 1F1B's peak


@pytest.mark.parametrize(("p", "m"), [(2, 2), (4, 8), (8, 24)])
def test_zb_h1_is_a_third_of_1f1b_with_equal_f_b_w(p, m):
    one = simulate_pipeline(one_f_one_b_schedule(p, m), t_f=1.0, t_b=2.0, t_w=1.0)
    zb = simulate_pipeline(zb_h1_schedule(p, m), t_f=1.0, t_b=2.0, t_w=1.0)
    idle_one, idle_zb = one.makespan - one.busy[0], zb.makespan - zb.busy[0]
    assert idle_one == 3 * (p - 1) and idle_zb == p - 1  # the paper's "one third"


@settings(max_examples=25, deadline=None)
@given(
    kind=st.sampled_from(["GPipe", "1F1B", "interleaved", "ZB-H1"]),
    p=st.integers(1, 5),
    k=st.integers(1, 3),
    t_f=st.floats(0.25, 3.0),
    t_b=st.floats(0.5, 6.0),
    w=st.floats(0.05, 0.95),
)
def test_simulator_equals_longest_path_reference(kind, p, k, t_f, t_b, w):
    m = p * k
    sched = {
        "GPipe": lambda: gpipe_schedule(p, m + 1),
        "1F1B": lambda: one_f_one_b_schedule(p, m + 1),
        "interleaved": lambda: interleaved_1f1b_schedule(p, m, 2),
        "ZB-H1": lambda: zb_h1_schedule(p, m + 1),
    }[kind]()
    tl = simulate_pipeline(sched, t_f=t_f, t_b=t_b, t_w=w * t_b)
    ref = _longest_path_ends(sched, t_f, t_b, w * t_b)
    for acts, ends in zip(sched.order, tl.end, strict=True):
        for a, e in zip(acts, ends, strict=True):
            assert math.isclose(e, ref[a], abs_tol=SIM_TOL)


def test_communication_latency_adds_per_hop():
    p, m = 4, 8
    tl = simulate_pipeline(gpipe_schedule(p, m), t_comm=0.5)
    base = simulate_pipeline(gpipe_schedule(p, m))
    assert math.isclose(tl.makespan - base.makespan, 2 * (p - 1) * 0.5)  # one hop each way per boundary


# ---------------------------------------------------------------- torch's action lists


@pytest.mark.parametrize(("p", "m"), [(2, 2), (2, 5), (3, 3), (4, 8), (5, 7)])
def test_single_stage_orders_match_torch(p, m):
    stage = types.SimpleNamespace(num_stages=p, stage_index=0)
    assert _torch_order(tsched.ScheduleGPipe(stage, m)) == _ours(gpipe_schedule(p, m))
    theirs, ours = _torch_order(tsched.Schedule1F1B(stage, m)), _ours(one_f_one_b_schedule(p, m))
    assert theirs[:-1] == ours[:-1]
    # torch 2.13's Schedule1F1B.pipeline_order numbers the last rank's forwards 1..m instead of 0..m-1
    # (its _get_pipeline_order increments before the first append); the executed order is 0..m-1,
    # see test_real_pipeline_run. Accept either the correct list or exactly that shift.
    shifted = [f"{p - 1}F{int(a.split('F')[1]) + 1}" if "F" in a else a for a in ours[-1]]
    assert theirs[-1] in (ours[-1], shifted)


@pytest.mark.parametrize(("p", "rounds", "v"), [(2, 1, 2), (2, 2, 3), (3, 2, 2), (4, 1, 2), (4, 3, 2)])
def test_interleaved_order_matches_torch(p, rounds, v):
    m = p * rounds
    theirs = _torch_order(tsched.ScheduleInterleaved1F1B(_fake_stages(p, v), m))
    assert theirs == _ours(interleaved_1f1b_schedule(p, m, v))


@pytest.mark.parametrize(("p", "m"), [(2, 2), (2, 6), (3, 4), (4, 8), (5, 10)])
def test_zb_h1_order_matches_torch_zero_bubble_with_one_stage_per_rank(p, m):
    theirs = _torch_order(tsched.ScheduleInterleavedZeroBubble(_fake_stages(p, 1), m))
    assert theirs == _ours(zb_h1_schedule(p, m))


@pytest.mark.distributed
def test_real_pipeline_run():
    """torch.distributed.pipelining on 2 gloo ranks: executed order = ours; losses and grads = one process."""
    world, n_layers, width, batch, m, seed = 2, 8, 5, 16, 4, 3
    runs = [("GPipe", m, 1), ("1F1B", m, 1), ("interleaved 1F1B", m, 2), ("ZB-H1", m, 1)]
    res = run_workers(pipeline_step_worker, world=world, args=(runs, n_layers, width, batch, seed), timeout_s=90)
    ref_losses, ref_grads = single_process_step(n_layers, width, batch, m, seed)
    ours = {
        "GPipe": gpipe_schedule(world, m),
        "1F1B": one_f_one_b_schedule(world, m),
        "interleaved 1F1B": interleaved_1f1b_schedule(world, m, 2),
        "ZB-H1": zb_h1_schedule(world, m),
    }
    for name, _, _ in runs:
        assert [r[name]["executed"] for r in res] == _ours(ours[name]), name
        assert res[-1][name]["losses"] == pytest.approx(ref_losses, abs=GRAD_TOL)
        grads = {k: g for r in res for k, g in r[name]["grads"].items()}
        assert set(grads) == set(ref_grads)
        for k, g in grads.items():
            torch.testing.assert_close(g, ref_grads[k], atol=GRAD_TOL, rtol=0)


# ---------------------------------------------------------------- edge cases and bad input


def test_single_rank_has_no_bubble():
    for sched in (gpipe_schedule(1, 3), one_f_one_b_schedule(1, 3), zb_h1_schedule(1, 3)):
        assert simulate_pipeline(sched).bubble_fraction == 0.0


def test_split_layers():
    assert split_layers(80, 8) == [range(10 * s, 10 * s + 10) for s in range(8)]
    with pytest.raises(ValueError, match="n_stages must divide n_layers"):
        split_layers(80, 3 * 2)


@pytest.mark.parametrize("fn", [one_f_one_b_schedule, zb_h1_schedule])
def test_too_few_microbatches(fn):
    with pytest.raises(ValueError, match=r"n_microbatches >= n_ranks.*got n_microbatches=3 < n_ranks=4"):
        fn(4, 3)


def test_interleaved_constraints():
    with pytest.raises(ValueError, match="multiple of n_ranks"):
        interleaved_1f1b_schedule(4, 6, 2)
    with pytest.raises(ValueError, match="n_chunks must be >= 2"):
        interleaved_1f1b_schedule(4, 8, 1)


@pytest.mark.parametrize("bad", [None, "not valid", float("nan"), [1, [2]], 0, -1, True])
def test_bad_sizes(bad):
    for call in (
        lambda: gpipe_schedule(bad, 2),
        lambda: one_f_one_b_schedule(2, bad),
        lambda: interleaved_1f1b_schedule(2, 2, bad),
        lambda: split_layers(bad, 2),
        lambda: closed_form_bubble("GPipe", bad, 2),
    ):
        with pytest.raises((TypeError, ValueError), match="n_ranks|n_microbatches|n_chunks|n_layers"):
            call()


@pytest.mark.parametrize("bad", [None, "not valid", float("nan"), [1, [2]]])
def test_simulate_rejects_non_schedules_and_bad_times(bad):
    with pytest.raises(TypeError, match="schedule must be a PipelineSchedule"):
        simulate_pipeline(bad)
    with pytest.raises((TypeError, ValueError), match="t_f"):
        simulate_pipeline(gpipe_schedule(2, 2), t_f=bad)
    with pytest.raises((TypeError, ValueError), match="name"):
        closed_form_bubble(bad, 2, 2)


def test_simulate_rejects_broken_schedules():
    good = gpipe_schedule(2, 2)
    with pytest.raises(ValueError, match="t_w .* must be < t_b"):
        simulate_pipeline(good, t_b=1.0, t_w=1.0)
    missing = PipelineSchedule("x", 2, 2, 1, (good.order[0][:-1], good.order[1]))
    with pytest.raises(ValueError, match=r"stage 0, micro-batch 1 needs one F and one B"):
        simulate_pipeline(missing)
    swapped = PipelineSchedule("x", 2, 2, 1, (good.order[1], good.order[0]))
    with pytest.raises(ValueError, match="belongs to rank"):
        simulate_pipeline(swapped)
    backward_first = PipelineSchedule("x", 2, 2, 1, (good.order[0], good.order[1][2:] + good.order[1][:2]))
    with pytest.raises(ValueError, match="deadlocks"):
        simulate_pipeline(backward_first)


def test_closed_form_guards():
    with pytest.raises(ValueError, match="must be one of"):
        closed_form_bubble("DualPipe", 4, 8)
    with pytest.raises(ValueError, match="assumes W is no longer than F and I"):
        closed_form_bubble("ZB-H1", 4, 8, t_f=1.0, t_b=2.0, t_w=1.5)


def test_worker_rejects_unknown_schedule():
    with pytest.raises(ValueError, match="schedule must be one of"):
        pipeline_step_worker(0, 1, [("DualPipe", 2, 1)], 2, 2, 4, 0)
