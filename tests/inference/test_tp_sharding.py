from datetime import timedelta
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewlib.inference import (
    RankShard,
    ShardPlan,
    distributed_attention_forward,
    plan_attention_shards,
    shard_attention,
    tensor_parallel_attention,
    valid_tp_sizes,
)
from interviewlib.transformer import GroupedQueryAttention, KVCache, RotaryEmbedding

# float64: the sharded forward computes the same per-head dot products; only the order of the
# o_proj sum changes (a sum of per-rank partial products instead of one matmul), ~1e-16 observed.
TP_TOL_FP64 = 1e-12
# Wall-clock cap on the two-process gloo run (a few seconds: two spawned interpreters importing
# torch); beyond it the workers are killed and the test fails with a message instead of hanging.
GLOO_TIMEOUT_S = 60.0
HEAD_DIM, T = 4, 7


def _vllm_reference(n_heads, n_kv_heads, tp):
    """vLLM 0.33.0's QKVParallelLinear arithmetic, transcribed: per-rank (q slice, kv slice)."""
    assert n_heads % tp == 0  # ModelConfig.verify_with_parallel_config
    num_heads = n_heads // tp
    if tp >= n_kv_heads:
        assert tp % n_kv_heads == 0  # divide(tp_size, total_num_kv_heads)
        num_kv, replicas = 1, tp // n_kv_heads
    else:
        assert n_kv_heads % tp == 0
        num_kv, replicas = n_kv_heads // tp, 1
    out = []
    for rank in range(tp):
        q = tuple(range(rank * num_heads, (rank + 1) * num_heads))  # weight loader: shard_rank = tp_rank for q
        kv_rank = rank // replicas  # shard_rank = tp_rank // num_kv_head_replicas for k and v
        out.append((q, tuple(range(kv_rank * num_kv, (kv_rank + 1) * num_kv))))
    return out


def _check_plan_invariants(plan: ShardPlan):
    """Every real query head on exactly one rank, and each rank's local GQA grouping is the global one."""
    g = plan.n_heads // plan.n_kv_heads
    real_q = sorted(j for r in plan.ranks for j in r.q_heads if j >= 0)
    assert real_q == list(range(plan.n_heads))
    assert [r.rank for r in plan.ranks] == list(range(plan.tp_size))
    for r in plan.ranks:
        assert len(r.q_heads) >= 1 and len(r.kv_heads) >= 1
        assert len(r.q_heads) % len(r.kv_heads) == 0
        local_g = len(r.q_heads) // len(r.kv_heads)
        for local, j in enumerate(r.q_heads):
            if j >= 0:  # query head j must find its own KV head j // g at the local position
                assert r.kv_heads[local // local_g] == j // g


def _attn(n_heads, n_kv_heads, *, seed=0, bias=True):
    torch.manual_seed(seed)
    return GroupedQueryAttention(n_heads * HEAD_DIM, n_heads=n_heads, n_kv_heads=n_kv_heads, bias=bias).double()


def _inputs(d_model, *, seed=1, b=2, t=T):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(b, t, d_model, generator=gen, dtype=torch.float64)
    cos, sin = RotaryEmbedding(HEAD_DIM)(torch.arange(t))
    return x, (cos.double(), sin.double())


# -- planner: hand cases -------------------------------------------------------------------------


@pytest.mark.parametrize(("tp", "q_per_rank", "kv_per_rank", "kv_copies"), [(2, 16, 4, 8), (4, 8, 2, 8), (8, 4, 1, 8), (16, 2, 1, 16)])
def test_llama3_8b_vllm_plan(tp, q_per_rank, kv_per_rank, kv_copies):
    plan = plan_attention_shards(32, 8, tp)  # Llama-3-8B: 32 query heads, 8 KV heads
    assert {len(r.q_heads) for r in plan.ranks} == {q_per_rank}
    assert {len(r.kv_heads) for r in plan.ranks} == {kv_per_rank}
    assert plan.kv_copies == kv_copies and plan.padded_heads == 32 and plan.imbalance == 1.0
    assert [(r.q_heads, r.kv_heads) for r in plan.ranks] == _vllm_reference(32, 8, tp)
    _check_plan_invariants(plan)


def test_llama3_8b_tp4_and_tp16_by_hand():
    assert plan_attention_shards(32, 8, 4).ranks[1] == RankShard(1, tuple(range(8, 16)), (2, 3))
    tp16 = plan_attention_shards(32, 8, 16)  # 8 KV heads < 16 ranks: each KV head on 2 ranks
    assert [r.kv_heads[0] for r in tp16.ranks] == [r // 2 for r in range(16)]
    assert tp16.ranks[15] == RankShard(15, (30, 31), (7,))


def test_40_heads_on_tp16_refused_by_vllm_padded_to_48_or_split_unevenly():
    # Qwen2.5-14B/32B have 40 query / 8 KV heads
    with pytest.raises(ValueError, match=r"Total number of attention heads \(40\) must be divisible by tensor parallel size \(16\)"):
        plan_attention_shards(40, 8, 16)
    pad = plan_attention_shards(40, 8, 16, strategy="pad")
    assert pad.padded_heads == 48 and pad.kv_copies == 16  # group of 5 padded to 6; KV heads still replicated x2
    assert {len(r.q_heads) for r in pad.ranks} == {3}
    assert sum(j < 0 for r in pad.ranks for j in r.q_heads) == 8
    assert pad.ranks[1] == RankShard(1, (3, 4, -1), (0,))  # group 0 = heads 0..4 plus one dummy
    uneven = plan_attention_shards(40, 8, 16, strategy="uneven")
    assert uneven.padded_heads == 40
    assert [len(r.q_heads) for r in uneven.ranks] == [3, 2] * 8  # each KV group of 5 split 3 + 2
    assert uneven.ranks[:2] == (RankShard(0, (0, 1, 2), (0,)), RankShard(1, (3, 4), (0,)))
    assert pad.max_q_heads == uneven.max_q_heads == 3  # same busiest rank: both run at ceil(40/16) heads
    assert uneven.imbalance == pytest.approx(3 / 2.5)
    for plan in (pad, uneven):
        _check_plan_invariants(plan)


def test_qwen25_7b_tp_sizes():
    # Qwen2.5-7B: 28 query / 4 KV heads -> vLLM accepts TP 1, 2, 4 (and 28)
    assert valid_tp_sizes(28, 4) == (1, 2, 4, 28)
    assert valid_tp_sizes(28, 4, max_tp=8) == (1, 2, 4)
    with pytest.raises(ValueError, match=r"heads \(28\) must be divisible by tensor parallel size \(8\)"):
        plan_attention_shards(28, 4, 8)
    with pytest.raises(ValueError, match=r"QKVParallelLinear needs .* 4 and 14 are neither"):
        plan_attention_shards(28, 4, 14)  # 28 % 14 == 0, but 4 KV heads cannot be split or replicated on 14
    pad8 = plan_attention_shards(28, 4, 8, strategy="pad")
    assert pad8.padded_heads == 32 and pad8.ranks[1].q_heads == (4, 5, 6, -1)


def test_mha_padding_matches_vllm_nvlm_dummy_heads():
    # vLLM's NVLM-D adds 7 dummy heads to InternViT-6B's 25 so that 8 ranks divide them
    plan = plan_attention_shards(25, 25, 8, strategy="pad")
    assert plan.padded_heads == 32 and plan.kv_copies == 32
    assert plan.ranks[-1] == RankShard(7, (-1,) * 4, (-1,) * 4)
    assert plan.ranks[6] == RankShard(6, (24, -1, -1, -1), (24, -1, -1, -1))


def test_uneven_mha_by_hand():
    plan = plan_attention_shards(3, 3, 2, strategy="uneven")
    assert plan.ranks == (RankShard(0, (0, 1), (0, 1)), RankShard(1, (2,), (2,)))
    assert plan.imbalance == pytest.approx(2 / 1.5)


def test_mqa_replicates_the_single_kv_head():
    plan = plan_attention_shards(8, 1, 4)
    assert all(r.kv_heads == (0,) for r in plan.ranks) and plan.kv_copies == 4


# -- planner: properties -------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(h_kv=st.integers(1, 12), g=st.integers(1, 6), tp=st.integers(1, 16))
def test_plans_are_consistent_and_agree_with_vllm_where_it_accepts(h_kv, g, tp):
    h = h_kv * g
    accepted = tp in valid_tp_sizes(h, h_kv, max_tp=tp)
    for strategy in ("vllm", "pad", "uneven"):
        if strategy == "vllm" and not accepted:
            with pytest.raises(ValueError, match="vLLM 0.33.0 refuses"):
                plan_attention_shards(h, h_kv, tp, strategy=strategy)
            continue
        if strategy == "uneven" and tp > h:
            continue
        plan = plan_attention_shards(h, h_kv, tp, strategy=strategy)
        _check_plan_invariants(plan)
        assert plan.max_q_heads == max(len(r.q_heads) for r in plan.ranks) >= -(-h // tp)
        if accepted:  # every strategy is vLLM's layout when vLLM accepts
            assert [(r.q_heads, r.kv_heads) for r in plan.ranks] == _vllm_reference(h, h_kv, tp)
        if strategy == "pad":
            assert plan.padded_heads % tp == 0 and len({len(r.q_heads) for r in plan.ranks}) == 1
        if strategy == "uneven":
            assert plan.padded_heads == h and all(j >= 0 for r in plan.ranks for j in r.q_heads)


# -- sharded attention == unsharded (float64, RoPE, causal) ---------------------------------------

CASES = [  # (n_heads, n_kv_heads, tp_size, strategy)
    (4, 4, 2, "vllm"),  # MHA
    (4, 4, 4, "vllm"),
    (3, 3, 2, "pad"),
    (3, 3, 2, "uneven"),
    (8, 2, 2, "vllm"),  # GQA, KV heads partitioned
    (8, 2, 4, "vllm"),  # GQA, KV heads replicated
    (8, 2, 8, "vllm"),
    (8, 2, 3, "pad"),
    (8, 2, 3, "uneven"),
    (10, 2, 4, "pad"),
    (10, 2, 4, "uneven"),
    (4, 1, 2, "vllm"),  # MQA
    (4, 1, 4, "vllm"),
    (5, 1, 2, "pad"),
    (5, 1, 3, "uneven"),
    (6, 3, 4, "pad"),
    (6, 3, 4, "uneven"),
]


@pytest.mark.parametrize(("h", "h_kv", "tp", "strategy"), CASES)
def test_sharded_equals_unsharded(h, h_kv, tp, strategy):
    attn = _attn(h, h_kv)
    x, rope = _inputs(attn.q_proj.in_features)
    plan = plan_attention_shards(h, h_kv, tp, strategy=strategy)
    shards = shard_attention(attn, plan)
    assert len(shards) == tp
    with torch.no_grad():
        ref = attn(x, rope)  # (B, T, d)
        out = tensor_parallel_attention(shards, x, rope)
    torch.testing.assert_close(out, ref, rtol=0, atol=TP_TOL_FP64)
    for s, r in zip(shards, plan.ranks):  # column-parallel shapes: only this rank's heads
        assert s.q_proj.weight.shape == (len(r.q_heads) * HEAD_DIM, h * HEAD_DIM)
        assert s.k_proj.weight.shape == (len(r.kv_heads) * HEAD_DIM, h * HEAD_DIM)
        assert s.o_proj.weight.shape == (h * HEAD_DIM, len(r.q_heads) * HEAD_DIM)  # row-parallel


def test_column_and_row_slices_are_the_original_weights():
    attn = _attn(8, 2)
    shard = shard_attention(attn, plan_attention_shards(8, 2, 2))[1]  # q heads 4..7, KV head 1
    d = 8 * HEAD_DIM
    torch.testing.assert_close(shard.q_proj.weight, attn.q_proj.weight[4 * HEAD_DIM :], rtol=0, atol=0)
    torch.testing.assert_close(shard.k_proj.bias, attn.k_proj.bias[HEAD_DIM:], rtol=0, atol=0)
    torch.testing.assert_close(shard.o_proj.weight, attn.o_proj.weight[:, 4 * HEAD_DIM :], rtol=0, atol=0)
    assert shard.o_proj.weight.shape == (d, 4 * HEAD_DIM)


def test_dummy_heads_have_zero_weights_and_contribute_nothing():
    attn = _attn(3, 3)
    shards = shard_attention(attn, plan_attention_shards(3, 3, 2, strategy="pad"))  # (0, 1) | (2, dummy)
    dummy_q = shards[1].q_proj.weight[HEAD_DIM:]
    assert torch.count_nonzero(dummy_q) == 0 and torch.count_nonzero(shards[1].o_proj.weight[:, HEAD_DIM:]) == 0


def test_sharded_with_padding_mask_and_kv_cache_decode():
    attn = _attn(8, 2)
    x, (cos, sin) = _inputs(attn.q_proj.in_features, t=6)
    keep = torch.ones(2, 1, 1, 6, dtype=torch.bool)
    keep[1, ..., :2] = False  # left padding on row 1
    plan = plan_attention_shards(8, 2, 3, strategy="uneven")
    shards = shard_attention(attn, plan)
    with torch.no_grad():
        torch.testing.assert_close(
            tensor_parallel_attention(shards, x, (cos, sin), mask=keep), attn(x, (cos, sin), mask=keep), rtol=0, atol=TP_TOL_FP64
        )
        # prefill 4 positions, decode 2: every rank caches only its own KV heads
        full_cache, caches = KVCache(n_layers=1, max_len=6), [KVCache(n_layers=1, max_len=6) for _ in shards]
        ref, out = [], []
        for a, b in ((0, 4), (4, 5), (5, 6)):
            rope = (cos[a:b], sin[a:b])
            ref.append(attn(x[:, a:b], rope, cache=full_cache))
            out.append(sum(s(x[:, a:b], rope, cache=c) for s, c in zip(shards, caches)))
            full_cache.advance(b - a)
            for c in caches:
                c.advance(b - a)
    torch.testing.assert_close(torch.cat(out, 1), torch.cat(ref, 1), rtol=0, atol=TP_TOL_FP64)
    # 2 KV heads on 3 ranks: KV head 0 lives on 2 ranks, so 3 KV-head copies are cached in total
    assert plan.kv_copies == 3
    assert sum(c.nbytes() for c in caches) * 2 == full_cache.nbytes() * 3


def test_gradients_flow_through_every_shard():
    attn = _attn(4, 2)
    x, rope = _inputs(attn.q_proj.in_features)
    shards = shard_attention(attn, plan_attention_shards(4, 2, 2))
    tensor_parallel_attention(shards, x, rope).square().sum().backward()
    assert all(p.grad is not None for s in shards for p in s.parameters())


# -- real torch.distributed (gloo, 2 CPU processes) -----------------------------------------------

GLOO_CASES = [(4, 1, "vllm"), (8, 2, "vllm"), (6, 3, "uneven"), (3, 3, "pad"), (3, 3, "uneven")]


def _gloo_worker(rank: int, world: int, port: int, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world, timeout=timedelta(seconds=30)
    )
    try:
        outs = []
        for i, (h, h_kv, strategy) in enumerate(GLOO_CASES):
            attn = _attn(h, h_kv, seed=i)  # every rank builds the same full module, keeps only its shard
            shard = shard_attention(attn, plan_attention_shards(h, h_kv, world, strategy=strategy))[rank]
            x, rope = _inputs(attn.q_proj.in_features, seed=100 + i)
            with torch.no_grad():
                outs.append(distributed_attention_forward(shard, x, rope))
        torch.save(outs, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.distributed
def test_gloo_tensor_parallel_attention_equals_single_process(tmp_path, spawn_workers):
    spawn_workers(_gloo_worker, world=2, out_dir=tmp_path, timeout_s=GLOO_TIMEOUT_S)
    per_rank = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    for i, (h, h_kv, _) in enumerate(GLOO_CASES):
        attn = _attn(h, h_kv, seed=i)
        x, rope = _inputs(attn.q_proj.in_features, seed=100 + i)
        with torch.no_grad():
            ref = attn(x, rope)
        for rank in range(2):  # the all-reduce hands every rank the full output
            torch.testing.assert_close(per_rank[rank][i], ref, rtol=0, atol=TP_TOL_FP64)


# -- bad input ------------------------------------------------------------------------------------


def test_bad_input():
    with pytest.raises(ValueError, match="n_kv_heads must divide n_heads"):
        plan_attention_shards(6, 4, 2)
    with pytest.raises(ValueError, match="tp_size must be >= 1"):
        plan_attention_shards(4, 4, 0)
    with pytest.raises(TypeError, match="tp_size must be an integer"):
        plan_attention_shards(4, 4, 2.0)
    with pytest.raises(TypeError, match="n_heads must be an integer"):
        plan_attention_shards(True, 1, 1)
    with pytest.raises(ValueError, match="strategy must be one of"):
        plan_attention_shards(6, 6, 4, strategy="round_robin")
    with pytest.raises(ValueError, match=r"strategy='uneven' needs tp_size <= n_heads.*5 > 3"):
        plan_attention_shards(3, 3, 5, strategy="uneven")
    with pytest.raises(ValueError, match="max_tp must be >= 1"):
        valid_tp_sizes(4, 2, max_tp=0)
    attn = _attn(4, 2)
    with pytest.raises(ValueError, match=r"plan is for n_heads=8, n_kv_heads=2; attn has n_heads=4"):
        shard_attention(attn, plan_attention_shards(8, 2, 2))
    with pytest.raises(TypeError, match="plan must be a ShardPlan"):
        shard_attention(attn, [(0, 1), (2, 3)])
    with pytest.raises(TypeError, match="attn must be a GroupedQueryAttention"):
        shard_attention(torch.nn.Linear(4, 4), plan_attention_shards(4, 2, 2))
    x, rope = _inputs(attn.q_proj.in_features)
    with pytest.raises(ValueError, match="shards must be a non-empty list"):
        tensor_parallel_attention([], x, rope)
    with pytest.raises(TypeError, match=r"shards\[1\] must be a GroupedQueryAttention"):
        tensor_parallel_attention([attn, "rank1"], x, rope)
    with pytest.raises(TypeError, match="shards must be a non-empty list .*; got NoneType"):
        tensor_parallel_attention(None, x, rope)
    with pytest.raises(RuntimeError, match="torch.distributed is not initialised"):
        distributed_attention_forward(attn, x, rope)
    with pytest.raises(TypeError, match="shard must be a GroupedQueryAttention"):
        distributed_attention_forward(None, x, rope)


def test_inputs_not_mutated():
    attn = _attn(6, 3)
    before = {k: v.clone() for k, v in attn.state_dict().items()}
    shards = shard_attention(attn, plan_attention_shards(6, 3, 4, strategy="pad"))
    with torch.no_grad():
        for s in shards:
            for p in s.parameters():
                p.add_(1.0)  # shards own their weights: editing them leaves attn alone
    assert all(torch.equal(before[k], v) for k, v in attn.state_dict().items())


def test_hand_built_plans_are_validated():
    ranks = plan_attention_shards(4, 2, 2).ranks
    assert ShardPlan(4, 2, 2, "vllm", ranks) == plan_attention_shards(4, 2, 2)
    with pytest.raises(ValueError, match=r"ranks must be RankShard 0 \.\. 1 in order"):
        ShardPlan(4, 2, 2, "vllm", ranks[::-1])
    with pytest.raises(ValueError, match=r"ranks\[1\] holds head indices outside n_heads=4"):
        ShardPlan(4, 2, 2, "vllm", (ranks[0], RankShard(1, (2, 4), (1,))))
    with pytest.raises(TypeError, match="ranks must be a tuple of RankShard"):
        ShardPlan(4, 2, 2, "vllm", [(0, 1), (2, 3)])
    with pytest.raises(ValueError, match="strategy must be one of"):
        ShardPlan(4, 2, 2, "round_robin", ranks)
    with pytest.raises(ValueError, match="q_heads must be whole GQA groups: 3 query heads for 2 KV heads"):
        RankShard(0, (0, 1, 2), (0, 1))
    with pytest.raises(TypeError, match="kv_heads must be a tuple of int head indices"):
        RankShard(0, (0, 1), [0])
    with pytest.raises(ValueError, match="q_heads must hold at least one head index >= -1"):
        RankShard(0, (-2,), (0,))
