"""Single-process parts of question q08-18: formulas, sharding arithmetic, ring attention on a list of shards."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewlib.training import model_state_bytes
from interviewlib.training.parallel import (
    SCHEMES,
    RingComm,
    TensorParallelMLP,
    ZeroAdam,
    batch_shard,
    causal_pairs_per_rank,
    comm_bytes_per_rank,
    ring_all_reduce_bytes,
    ring_attention,
    ring_attention_simulated,
    sequence_shards,
    shard_mlp,
    toy_mlp,
)

# float64: the sharded computations add the same products in a different order (per-rank
# partial sums, per-block softmax merges); ~1e-16 observed.
TOL_FP64 = 1e-12


# -- communication formulas: hand-worked cases -----------------------------------------------------


def test_ring_all_reduce_bytes_hand_cases():
    assert ring_all_reduce_bytes(1024, 4, 4) == 2 * 3 * 256 * 4
    assert ring_all_reduce_bytes(1000, 1, 2) == 0  # one rank sends nothing
    assert ring_all_reduce_bytes(10, 2, 8) == 80  # 2 * (1/2) * 10 * 8


def test_comm_volume_hand_cases():
    psi = 7_000_000_000
    dp = comm_bytes_per_rank("dp", world=64, n_params=psi)  # bf16 gradients
    assert dp == pytest.approx(2 * 63 / 64 * psi * 2)
    assert comm_bytes_per_rank("zero1", world=64, n_params=psi) == dp == comm_bytes_per_rank("zero2", world=64, n_params=psi)
    assert comm_bytes_per_rank("zero3", world=64, n_params=psi) == pytest.approx(1.5 * dp)  # ZeRO paper: 1.5x
    # Megatron TP of one layer, 8 ranks, 4096 tokens x 4096 hidden, bf16: 4 all-reduces of 32 MiB
    tp = comm_bytes_per_rank("tp", world=8, tokens=4096, hidden=4096, n_layers=1)
    assert tp == pytest.approx(4 * 2 * 7 / 8 * 4096 * 4096 * 2)
    assert comm_bytes_per_rank("sp", world=8, tokens=4096, hidden=4096) == tp  # Korthikanti 2022: same volume
    assert comm_bytes_per_rank("pp", world=4, tokens=4096, hidden=4096) == comm_bytes_per_rank("pp", world=16, tokens=4096, hidden=4096)
    assert comm_bytes_per_rank("cp", world=4, tokens=8, kv_hidden=2, n_layers=1, elem_bytes=1) == pytest.approx(2 * 3 / 4 * 16)
    assert comm_bytes_per_rank("ep", world=2, tokens=10, hidden=3, top_k=2, elem_bytes=1) == pytest.approx(4 * 0.5 * 60)
    assert set(SCHEMES) == {"dp", "zero1", "zero2", "zero3", "tp", "sp", "pp", "cp", "ep"}


def test_zero_memory_formula_agrees_with_the_8_11_estimator():
    # model_state_bytes (question 8.11) uses 2 + 2 + 12 bytes per parameter; ZeRO-3 divides all by N_d
    psi, nd = 7_500_000_000, 64
    assert model_state_bytes(psi, zero_stage=3, dp_size=nd)["total"] == pytest.approx(16 * psi / nd)
    assert model_state_bytes(psi, zero_stage=1, dp_size=nd)["total"] == pytest.approx(4 * psi + 12 * psi / nd)


# -- sharding arithmetic ---------------------------------------------------------------------------


@pytest.mark.parametrize("world", [1, 2, 3, 4])
def test_mlp_shards_sum_to_the_full_mlp(world):
    mlp = toy_mlp(world, seed=world)
    x = torch.randn(5, 6, dtype=torch.float64)
    parts = [shard_mlp(mlp[0], mlp[2], r, world) for r in range(world)]
    y = sum(b(F.gelu(a(x))) for a, b in parts) + mlp[2].bias
    torch.testing.assert_close(y, mlp(x), rtol=0, atol=TOL_FP64)
    f = mlp[0].out_features // world
    torch.testing.assert_close(parts[-1][0].weight, mlp[0].weight[-f:], rtol=0, atol=0)  # rows of fc1
    torch.testing.assert_close(parts[-1][1].weight, mlp[2].weight[:, -f:], rtol=0, atol=0)  # columns of fc2


def test_sequence_shards_and_causal_work():
    assert [s.tolist() for s in sequence_shards(6, 3)] == [[0, 1], [2, 3], [4, 5]]
    assert [s.tolist() for s in sequence_shards(8, 2, layout="zigzag")] == [[0, 1, 6, 7], [2, 3, 4, 5]]
    # contiguous causal split: rank r computes sum_{i in chunk r} (i + 1); the last over the first -> 2p - 1
    for p in (2, 4, 8):
        T = 16 * p
        work = causal_pairs_per_rank(T, p)
        assert sum(work) == T * (T + 1) // 2
        c = T // p
        assert work == [c * (r * c) + c * (c + 1) // 2 for r in range(p)]
        zig = causal_pairs_per_rank(T, p, layout="zigzag")
        assert len(set(zig)) == 1 and sum(zig) == T * (T + 1) // 2  # perfectly balanced


@settings(max_examples=25, deadline=None)
@given(world=st.integers(1, 4), chunk=st.integers(1, 3), causal=st.booleans(), zigzag=st.booleans(),
       gqa=st.booleans(), seed=st.integers(0, 10_000))
def test_ring_attention_simulated_equals_full_attention(world, chunk, causal, zigzag, gqa, seed):
    layout = "zigzag" if zigzag else "contiguous"
    T = chunk * world * (2 if zigzag else 1)
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(2, 4, T, 3, generator=g, dtype=torch.float64)
    k = torch.randn(2, 2 if gqa else 4, T, 3, generator=g, dtype=torch.float64)
    v = torch.randn(2, 2 if gqa else 4, T, 3, generator=g, dtype=torch.float64)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=gqa)
    out = ring_attention_simulated(q, k, v, world, causal=causal, layout=layout)
    torch.testing.assert_close(out, ref, rtol=0, atol=TOL_FP64)


def test_ring_attention_custom_scale():
    q, k, v = torch.randn(3, 1, 1, 8, 2, dtype=torch.float64).unbind(0)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.3)
    torch.testing.assert_close(ring_attention_simulated(q, k, v, 4, causal=True, scale=0.3), ref, rtol=0, atol=TOL_FP64)


def test_batch_shard():
    x = torch.arange(12.0).view(6, 2)
    assert torch.equal(torch.cat([batch_shard(x, r, 3) for r in range(3)]), x)


# -- bad input -------------------------------------------------------------------------------------


def test_bad_input():
    with pytest.raises(ValueError, match="scheme must be one of"):
        comm_bytes_per_rank("fsdp", world=2, n_params=10)
    with pytest.raises(ValueError, match="scheme must be one of"):
        comm_bytes_per_rank(None, world=2, n_params=10)
    with pytest.raises(ValueError, match="n_params must be >= 1"):
        comm_bytes_per_rank("dp", world=2)
    with pytest.raises(TypeError, match="tokens must be an integer"):
        comm_bytes_per_rank("tp", world=2, tokens=1.5, hidden=4)
    with pytest.raises(ValueError, match="world must be >= 1"):
        comm_bytes_per_rank("dp", world=0, n_params=4)
    with pytest.raises(TypeError, match="n_elements must be an integer"):
        ring_all_reduce_bytes(None, 2, 4)
    with pytest.raises(ValueError, match="layout must be one of"):
        sequence_shards(8, 2, layout="striped")
    with pytest.raises(ValueError, match=r"T=6 must be divisible by 4"):
        sequence_shards(6, 2, layout="zigzag")
    with pytest.raises(TypeError, match="T must be an integer"):
        causal_pairs_per_rank(math.nan, 2)
    q = torch.randn(1, 1, 4, 2)
    with pytest.raises(TypeError, match="q must be a torch.Tensor"):
        ring_attention_simulated(None, q, q, 2)
    with pytest.raises(ValueError, match=r"q must be 4-D"):
        ring_attention_simulated(q[0], q, q, 2)
    with pytest.raises(ValueError, match="share the sequence length"):
        ring_attention_simulated(q, q[:, :, :2], q[:, :, :2], 2)
    with pytest.raises(TypeError, match="comm must be a RingComm"):
        ring_attention(q, q, q, None)
    mlp = toy_mlp(2)
    with pytest.raises(TypeError, match="fc1 must be a torch.nn.Linear"):
        shard_mlp(None, mlp[2], 0, 2)
    with pytest.raises(ValueError, match="world dividing the 8 hidden units"):
        shard_mlp(mlp[0], mlp[2], 0, 3)
    with pytest.raises(ValueError, match="fc1.out_features=8 must equal fc2.in_features=6"):
        shard_mlp(mlp[0], mlp[0], 0, 2)
    with pytest.raises(TypeError, match="comm must be a RingComm"):
        TensorParallelMLP(mlp[0], mlp[2], "world")
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        ZeroAdam(None, None)
    with pytest.raises(TypeError, match="comm must be a RingComm"):
        ZeroAdam(mlp, None)
    with pytest.raises(ValueError, match="stage must be 0, 1, 2 or 3"):
        ZeroAdam(mlp, None, stage=4)
    with pytest.raises(ValueError, match="lr must be > 0"):
        ZeroAdam(mlp, None, lr=-1.0)
    with pytest.raises(RuntimeError, match="initialised torch.distributed process group"):
        RingComm()
    with pytest.raises(ValueError, match="batch axis divisible by world=4"):
        batch_shard(torch.zeros(6, 2), 0, 4)
    with pytest.raises(ValueError, match="rank must be < world=2"):
        batch_shard(torch.zeros(6, 2), 2, 2)
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        batch_shard([[1.0], [2.0, 3.0]], 0, 2)


def test_bad_input_first_argument_named():
    from interviewlib.training.parallel import TensorParallelAttention, parallel_tour, toy_attention, toy_data

    q = torch.randn(1, 1, 4, 2)
    with pytest.raises(TypeError, match="q must be a torch.Tensor"):
        ring_attention(None, q, q, None)  # q is checked before comm
    with pytest.raises(TypeError, match="fc1 must be a torch.nn.Linear"):
        TensorParallelMLP(None, None, None)
    with pytest.raises(TypeError, match="attn must be a GroupedQueryAttention"):
        TensorParallelAttention("attn", None)
    with pytest.raises(TypeError, match="group must be a torch.distributed.ProcessGroup"):
        RingComm("world")
    for fn in (toy_mlp, toy_attention, toy_data):
        with pytest.raises(TypeError, match="world must be an integer"):
            fn(None)
        with pytest.raises(ValueError, match="world must be >= 1"):
            fn(0)
    with pytest.raises(TypeError, match="rank must be an integer"):
        parallel_tour(None, 2)


_TOP_LEVEL_LAMBDA = lambda rank, world: rank  # noqa: E731  (a lambda at module level: not importable by name)


def test_run_workers_bad_input():
    """Every refusal happens before a process is spawned."""
    from interviewlib.training.parallel import run_workers
    from interviewlib.training.parallel.launch import rank_and_world

    for worker in (None, "rank_and_world", lambda rank, world: rank, _TOP_LEVEL_LAMBDA):
        with pytest.raises(TypeError, match="worker must be a top-level function"):
            run_workers(worker, world=2)
    with pytest.raises(ValueError, match="world must be >= 1"):
        run_workers(rank_and_world, world=0)
    with pytest.raises(ValueError, match=r"world must be 1\.\.4 processes; got 5"):
        run_workers(rank_and_world, world=5)
    with pytest.raises(TypeError, match="world must be an integer"):
        run_workers(rank_and_world, world=2.0)
    for timeout_s in (0, -1.0, float("nan"), "60"):
        with pytest.raises(ValueError, match="timeout_s must be a positive number of seconds"):
            run_workers(rank_and_world, world=2, timeout_s=timeout_s)
