import math
from dataclasses import replace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewlib.training import model_state_bytes, training_memory
from interviewlib.training.parallel import (
    H100_SXM_80GB,
    QWEN25_72B,
    Hardware,
    ModelShape,
    ParallelLayout,
    check_layout,
    enumerate_layouts,
    estimate_layout,
    estimate_step_time,
    interleaved_1f1b_schedule,
    layout_memory,
    one_f_one_b_schedule,
    plan_layouts,
    simulate_pipeline,
)

REL = 1e-12  # sums of a handful of float products: only rounding (~1e-16 per operation) separates them
FAST = replace(H100_SXM_80GB, intra_node_bandwidth=1e30, inter_node_bandwidth=1e30)  # communication-free


# --- the model shape ---------------------------------------------------------------------------


def test_qwen25_72b_matches_transformers_on_meta_device():
    # Independent count: build Qwen2ForCausalLM from the released config's fields on the meta device
    from transformers import Qwen2Config, Qwen2ForCausalLM

    cfg = Qwen2Config(
        hidden_size=8192, num_hidden_layers=80, num_attention_heads=64, num_key_value_heads=8,
        intermediate_size=29568, vocab_size=152064, tie_word_embeddings=False,
    )  # fmt: skip
    with torch.device("meta"):
        ref = Qwen2ForCausalLM(cfg)
    assert QWEN25_72B.n_params == sum(p.numel() for p in ref.parameters()) == 72_706_203_648
    assert QWEN25_72B.layer_params == sum(p.numel() for p in ref.model.layers[0].parameters())


def test_model_shape_hand_count_and_tied_embeddings():
    m = ModelShape("toy", n_layers=2, hidden=8, n_heads=4, n_kv_heads=2, ffn_hidden=12, vocab_size=10,
                   tie_embeddings=True, qkv_bias=False)  # fmt: skip
    kv = 2 * 8 // 4
    layer = 8 * 8 + 2 * 8 * kv + 8 * 8 + 3 * 8 * 12 + 2 * 8
    assert m.layer_params == layer
    assert m.n_params == 2 * layer + 8 + 10 * 8


# --- memory -------------------------------------------------------------------------------------


@pytest.mark.parametrize("recompute", ["none", "selective", "full"])
@pytest.mark.parametrize(("tp", "zero", "dp"), [(1, 0, 1), (8, 1, 125), (4, 3, 16), (2, 2, 8)])
def test_single_stage_memory_equals_training_memory(recompute, tp, zero, dp):
    # pp = 1: one stage with everything, one micro-batch in flight: chapter 8's estimator is the reference
    lay = ParallelLayout(tp=tp, pp=1, dp=dp, zero_stage=zero, micro_batch=2, grad_accum=3, seq_len=4096,
                         recompute=recompute)  # fmt: skip
    ours = layout_memory(lay)
    m = QWEN25_72B
    ref = training_memory(
        m.n_params, n_layers=m.n_layers, hidden=m.hidden, n_heads=m.n_heads, n_kv_heads=m.n_kv_heads,
        seq_len=4096, micro_batch=2, vocab_size=m.vocab_size, ffn_hidden=m.ffn_hidden, mlp="swiglu",
        dropout=False, attention="flash", recompute=recompute, zero_stage=zero, dp_size=dp,
        tensor_parallel=tp, sequence_parallel=tp > 1,
    )  # fmt: skip
    assert ours.model_states == pytest.approx(ref.model_states, rel=REL)
    # training_memory also counts the embedding's dropout mask; Qwen2.5 has no dropout, so both omit it
    assert ours.activations == pytest.approx(ref.activations, rel=REL)
    extra = 4 * QWEN25_72B.layer_params / tp if zero == 3 else 0.0  # ZeRO-3's two gathered bf16 layers
    assert ours.temporaries == pytest.approx(ref.temporaries + extra, rel=REL)


def test_pipeline_stage_memory_hand_worked():
    # TP8 PP5 DP25, 16 layers a stage; the first stage holds p = 5 micro-batches of its 16 layers (Korthikanti:
    # p x L/p = L layers' worth), the last stage one micro-batch plus the LM head and logits.
    m, p, t, d = QWEN25_72B, 5, 8, 25
    lay = ParallelLayout(tp=t, pp=p, dp=d, zero_stage=1, grad_accum=20, seq_len=8192, recompute="selective")
    got = layout_memory(lay)
    emb = m.vocab_size * m.hidden
    first = 16 * m.layer_params + emb
    last = 16 * m.layer_params + emb + m.hidden
    assert got.detail["stage_params"] in (first, last)
    states = model_state_bytes(int(got.detail["stage_params"]), zero_stage=1, dp_size=d, tensor_parallel=t)
    assert got.model_states == pytest.approx(states["total"], rel=REL)
    per_layer = layout_memory(replace(lay, pp=1, dp=125, grad_accum=4)).activations  # 80 layers, one in flight
    s, h, v = 8192, m.hidden, m.vocab_size
    head = 4 * s * h / t + 4 * s * v / t
    emb_ids = 8 * s
    layer = (per_layer - head - emb_ids) / 80
    first_acts = 5 * (16 * layer + emb_ids)
    last_acts = 16 * layer + head
    assert got.activations == pytest.approx(max(first_acts, last_acts), rel=1e-9)
    assert first_acts == pytest.approx(80 * layer + 5 * emb_ids, rel=1e-9)


def test_zero_stages_and_recompute_only_reduce_memory():
    base = ParallelLayout(tp=8, pp=2, dp=64, grad_accum=8, seq_len=16384)
    states = [layout_memory(replace(base, zero_stage=z)).model_states for z in range(4)]
    assert states == sorted(states, reverse=True) and states[3] < states[0] / 10
    acts = [layout_memory(replace(base, recompute=r)).activations for r in ("none", "selective", "full")]
    assert acts == sorted(acts, reverse=True)


# --- step time -----------------------------------------------------------------------------------


def test_compute_term_is_6n_plus_attention_over_peak():
    lay = ParallelLayout(tp=1, pp=1, dp=1, zero_stage=0, grad_accum=3, seq_len=2048, recompute="none")
    t = estimate_step_time(lay, hardware=FAST)
    m, s = QWEN25_72B, 2048
    dense = m.n_params - m.vocab_size * m.hidden  # the embedding lookup is not a matmul
    flops = (6 * dense + 6 * m.hidden * s * m.n_layers) * s * 3
    assert t["compute"] == pytest.approx(flops / (989e12 * 0.5), rel=REL)
    assert t["tp_comm"] == t["dp_comm"] == t["pp_bubble"] == 0.0
    full = estimate_step_time(replace(lay, recompute="full"), hardware=FAST)["compute"]
    assert full / t["compute"] == pytest.approx(4 / 3, rel=REL)  # one more forward: 8N instead of 6N


@pytest.mark.parametrize(("p", "m", "v"), [(2, 2, 1), (4, 8, 1), (5, 20, 1), (4, 8, 2), (2, 6, 2)])
def test_bubble_matches_an_event_simulation_of_the_schedule(p, m, v):
    # Reference: the pipeline-schedule simulator of question 8.19 on the same schedule (t_b = 2 t_f).
    lay = ParallelLayout(tp=8, pp=p, dp=1, zero_stage=1, grad_accum=m, seq_len=4096, virtual_stages=v)
    # equal stages: a model whose embedding and head are negligible, layers divisible by p * v
    model = ModelShape("even", n_layers=p * v * 2, hidden=1024, n_heads=8, n_kv_heads=8, ffn_hidden=4096,
                       vocab_size=8, qkv_bias=False)  # fmt: skip
    t = estimate_step_time(lay, model, FAST)
    ours = t["total"] / t["compute"]  # (m + (p - 1) / v) / m
    sched = one_f_one_b_schedule(p, m) if v == 1 else interleaved_1f1b_schedule(p, m, v)
    sim = simulate_pipeline(sched, t_f=1.0, t_b=2.0)  # per stage and micro-batch; it divides by v itself
    assert ours == pytest.approx(sim.makespan / (m * 3.0), rel=2e-3)  # embedding/head: ~1e-4 of a stage


def test_communication_terms_hand_worked():
    hw = H100_SXM_80GB
    lay = ParallelLayout(tp=8, pp=1, dp=125, zero_stage=1, micro_batch=1, grad_accum=4, seq_len=8192,
                         recompute="none")  # fmt: skip
    t = estimate_step_time(lay)
    m, s, h = QWEN25_72B, 8192, QWEN25_72B.hidden
    ring = lambda nbytes, n, bw: (n - 1) / n * nbytes / (bw * hw.comm_efficiency)  # noqa: E731
    # 4 all-gather/reduce-scatter pairs of 2sbh bytes per layer and micro-batch on NVLink
    assert t["tp_comm"] == pytest.approx(4 * 80 * 4 * 2 * ring(2 * s * h, 8, hw.intra_node_bandwidth), rel=REL)
    # ZeRO-1: reduce-scatter bf16 grads + all-gather bf16 params once, half of it hidden
    shard = m.n_params / 8
    assert t["dp_comm"] == pytest.approx(0.5 * 2 * ring(2 * shard, 125, hw.inter_node_bandwidth), rel=REL)
    z3 = estimate_step_time(replace(lay, zero_stage=3))["dp_comm"]
    assert z3 == pytest.approx(4 * 3 / 2 * t["dp_comm"], rel=REL)  # every micro-batch: gather, gather, scatter


# --- the planner ---------------------------------------------------------------------------------


def _brute_force_fitting(world, gb, seq, hw=H100_SXM_80GB):
    """All valid, fitting layouts by an independent loop over every factorisation (no shortcuts)."""
    found = set()
    for tp in range(1, world + 1):
        for pp in range(1, world + 1):
            if world % (tp * pp):
                continue
            dp = world // (tp * pp)
            for mb in (1, 2):
                if gb % (dp * mb) or tp > hw.gpus_per_node or 64 % tp or 8 % tp or 8 % tp or pp > 80:
                    continue
                ga = gb // (dp * mb)
                for v in (1, 2):
                    for z in (1, 2, 3):
                        for r in ("none", "selective", "full"):
                            lay = ParallelLayout(tp, pp, dp, z, mb, ga, seq, r, v)
                            try:
                                check_layout(lay, world_size=world)
                            except ValueError:
                                continue
                            if layout_memory(lay).total <= hw.memory_bytes * hw.usable_fraction:
                                found.add(lay)
    return found


@pytest.mark.parametrize(("world", "gb", "seq"), [(64, 64, 8192), (96, 48, 32768), (40, 40, 8192)])
def test_plan_finds_exactly_the_brute_force_set(world, gb, seq):
    plan = plan_layouts(world, global_batch=gb, seq_len=seq)
    assert {e.layout for e in plan.fitting} == _brute_force_fitting(world, gb, seq)
    times = [e.step_time["total"] for e in plan.fitting]
    assert times == sorted(times)


def test_awkward_world_sizes():
    # 1000 = 2^3 5^3: with TP8 inside a node, dp * pp = 125, so no power-of-two global batch divides
    assert plan_layouts(1000, global_batch=512).fitting == []
    reasons = plan_layouts(1000, global_batch=512).reasons()
    assert set(reasons) <= {"global_batch must be a multiple of dp * micro_batch", "tp must divide n_heads=64 and n_kv_heads=8",
                            "pp * virtual_stages must be <= n_layers=80"}  # fmt: skip
    assert plan_layouts(1000, global_batch=500).fitting  # a multiple of 125 works
    assert plan_layouts(960, global_batch=480).fitting and plan_layouts(1024, global_batch=512).fitting
    # tp = 5 divides 1000 but neither the 64 heads nor the 8-GPU node
    assert any("tp must divide" in e.reason and e.layout.tp == 5 for e in plan_layouts(1000, global_batch=500).rejected)


def test_plan_of_1000_ranks_is_complete_and_fits():
    plan = plan_layouts(1000, global_batch=500, seq_len=8192)
    limit = H100_SXM_80GB.memory_bytes * H100_SXM_80GB.usable_fraction
    assert all(e.memory.total <= limit and e.layout.world_size == 1000 for e in plan.fitting)
    assert all(e.reason for e in plan.rejected)
    assert any(e.reason.startswith("out of memory") for e in plan.rejected)
    n = len(enumerate_layouts(1000, global_batch=500))
    assert len(plan.fitting) + len(plan.rejected) == n
    assert 0.2 < plan.best.mfu < 0.5  # sanity band: Llama 3 405B reports 38-43% BF16 MFU on H100


@settings(max_examples=20, deadline=None)
@given(nodes=st.integers(1, 64), gb_mult=st.integers(1, 8))
def test_plan_invariants(nodes, gb_mult):
    world = 8 * nodes
    plan = plan_layouts(world, global_batch=8 * gb_mult * nodes, seq_len=4096, micro_batches=(1,), virtual_stages=(1,))
    for e in plan.fitting:
        lay = e.layout
        assert lay.world_size == world and lay.global_batch == 8 * gb_mult * nodes
        assert e.step_time["total"] == pytest.approx(sum(v for k, v in e.step_time.items() if k != "total"), rel=REL)
        assert e.tokens_per_second == pytest.approx(lay.global_batch * 4096 / e.step_time["total"], rel=REL)


# --- bad input ------------------------------------------------------------------------------------


def test_constraints_raise_naming_them():
    with pytest.raises(ValueError, match="tp must divide n_heads=64 and n_kv_heads=8"):
        check_layout(ParallelLayout(tp=16, pp=1, dp=1))
    gqa = ModelShape("gqa", n_layers=8, hidden=64, n_heads=8, n_kv_heads=2, ffn_hidden=128, vocab_size=16)
    with pytest.raises(ValueError, match="n_kv_heads=2"):
        check_layout(ParallelLayout(tp=4, pp=1, dp=1, seq_len=64), gqa)
    with pytest.raises(ValueError, match="tp must divide gpus_per_node=4"):
        check_layout(ParallelLayout(tp=8, pp=1, dp=1), gpus_per_node=4)
    with pytest.raises(ValueError, match="pp \\* virtual_stages must be <= n_layers=80"):
        check_layout(ParallelLayout(tp=8, pp=125, dp=1, grad_accum=125))
    with pytest.raises(ValueError, match="world_size must equal tp\\*pp\\*dp"):
        check_layout(ParallelLayout(tp=8, pp=4, dp=30, grad_accum=4), world_size=1000)
    with pytest.raises(ValueError, match="1F1B schedule needs grad_accum"):
        check_layout(ParallelLayout(tp=8, pp=8, dp=1, grad_accum=4))
    with pytest.raises(ValueError, match="interleaved schedule needs"):
        check_layout(ParallelLayout(tp=8, pp=4, dp=1, grad_accum=6, virtual_stages=2))
    with pytest.raises(ValueError, match="sequence parallelism"):
        check_layout(ParallelLayout(tp=8, pp=1, dp=1, seq_len=1001))


@pytest.mark.parametrize("bad", [None, "not valid", math.nan, [[1, 2], [3]]])
def test_bad_first_arguments(bad):
    for fn in (check_layout, layout_memory, estimate_step_time, estimate_layout):
        with pytest.raises(TypeError, match="layout must be a ParallelLayout"):
            fn(bad)
    with pytest.raises((TypeError, ValueError), match="world_size"):
        plan_layouts(bad, global_batch=8)
    with pytest.raises((TypeError, ValueError), match="world_size"):
        enumerate_layouts(bad, global_batch=8)
    with pytest.raises((TypeError, ValueError), match="tp"):
        ParallelLayout(bad, 1, 1)
    if not isinstance(bad, str):  # the records' first field is a free-form name
        with pytest.raises(TypeError, match="name must be a str"):
            ModelShape(bad, 1, 8, 2, 2, 8, 8)
        with pytest.raises(TypeError, match="name must be a str"):
            Hardware(bad)


def test_bad_options():
    with pytest.raises(ValueError, match="zero_stage must be 0, 1, 2 or 3"):
        ParallelLayout(tp=1, pp=1, dp=1, zero_stage=4)
    with pytest.raises(ValueError, match="recompute must be one of"):
        ParallelLayout(tp=1, pp=1, dp=1, recompute="some")
    with pytest.raises(ValueError, match="n_heads of n_kv_heads"):
        ModelShape("x", n_layers=1, hidden=8, n_heads=4, n_kv_heads=3, ffn_hidden=8, vocab_size=8)
    with pytest.raises(ValueError, match="usable_fraction"):
        Hardware(usable_fraction=1.5)
    with pytest.raises(TypeError, match="zero_stages must be a non-empty sequence"):
        enumerate_layouts(8, global_batch=8, zero_stages=())
    with pytest.raises(TypeError, match="hardware must be a Hardware"):
        estimate_step_time(ParallelLayout(tp=1, pp=1, dp=1), hardware="H100")
    est = estimate_layout(ParallelLayout(tp=8, pp=1, dp=125, zero_stage=0, grad_accum=4))
    assert not est.fits and est.reason.startswith("out of memory")
