"""LLM inference (chapter 9): paged KV cache, scheduler, serving engine, online-softmax attention, cost models.

Builds on :mod:`interviewlib.transformer` (the decoder, its KV cache and ``generate``).
"""

from .batch_invariance import heuristic_num_splits, split_k_matmul, split_kv_attention, split_rms_norm, split_sum
from .block_manager import BlockManager, NoFreeBlocksError, hash_block_tokens, slot_of
from .cost_model import (
    A100_SXM_80GB,
    H100_SXM,
    LLAMA_3_1_8B,
    GPUSpec,
    ModelShape,
    StepCost,
    kv_capacity_tokens,
    kv_transfer_time,
    step_cost,
    step_time,
)
from .engine import LLMEngine, SamplingParams, StepStats
from .flash_attention import (
    causal_block_schedule,
    flash_attn_backward,
    flash_attn_forward,
    flash_attn_func,
    flash_decoding,
    merge_attention_partials,
    online_softmax,
    peak_memory_bytes,
)
from .paged_attention import PagedKVCacheView, PagedKVPool, paged_attention, paged_batch
from .scheduler import Request, Scheduler, SchedulerOutput
from .serving_sim import SimResult, Trace, drive_engine, poisson_trace, simulate
from .tp_sharding import (
    RankShard,
    ShardPlan,
    distributed_attention_forward,
    plan_attention_shards,
    shard_attention,
    tensor_parallel_attention,
    valid_tp_sizes,
)

__all__ = [
    "A100_SXM_80GB",
    "BlockManager",
    "GPUSpec",
    "H100_SXM",
    "LLAMA_3_1_8B",
    "LLMEngine",
    "ModelShape",
    "NoFreeBlocksError",
    "PagedKVCacheView",
    "PagedKVPool",
    "RankShard",
    "Request",
    "SamplingParams",
    "Scheduler",
    "SchedulerOutput",
    "ShardPlan",
    "SimResult",
    "StepCost",
    "StepStats",
    "Trace",
    "causal_block_schedule",
    "distributed_attention_forward",
    "drive_engine",
    "flash_attn_backward",
    "flash_attn_forward",
    "flash_attn_func",
    "flash_decoding",
    "hash_block_tokens",
    "heuristic_num_splits",
    "kv_capacity_tokens",
    "kv_transfer_time",
    "merge_attention_partials",
    "online_softmax",
    "paged_attention",
    "paged_batch",
    "peak_memory_bytes",
    "plan_attention_shards",
    "poisson_trace",
    "shard_attention",
    "simulate",
    "slot_of",
    "split_k_matmul",
    "split_kv_attention",
    "split_rms_norm",
    "split_sum",
    "step_cost",
    "step_time",
    "tensor_parallel_attention",
    "valid_tp_sizes",
]
