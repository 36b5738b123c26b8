"""Distributed training (chapter 8 part 2): parallelism built on raw collectives, planners, simulators.

Every from-scratch scheme runs on real ``torch.distributed`` gloo processes through
:func:`~interviewlib.training.parallel.launch.run_workers` and is checked against the
single-process computation and against torch's own implementation.
"""

from .collectives import RingComm, ring_all_reduce_bytes
from .comm_volume import SCHEMES, comm_bytes_per_rank
from .context_parallel import causal_pairs_per_rank, ring_attention, ring_attention_simulated, sequence_shards
from .data_parallel import allreduce_gradients, batch_shard
from .failures import (
    LLAMA3_405B_INTERRUPTIONS,
    JobSimulation,
    cluster_mtbf,
    expected_goodput,
    expected_segment_time,
    simulate_job,
    simulate_timeline,
    young_daly_interval,
)
from .launch import free_port, run_workers
from .layout import H100_SXM_80GB, QWEN25_72B, Hardware, ModelShape, ParallelLayout, check_layout
from .pipeline_run import pipeline_step_worker, single_process_step
from .pipeline_schedule import (
    Action,
    PipelineSchedule,
    gpipe_schedule,
    interleaved_1f1b_schedule,
    one_f_one_b_schedule,
    split_layers,
    zb_h1_schedule,
)
from .pipeline_simulate import PipelineTimeline, closed_form_bubble, simulate_pipeline
from .planner import (
    LayoutEstimate,
    LayoutPlan,
    enumerate_layouts,
    estimate_layout,
    estimate_step_time,
    layout_memory,
    plan_layouts,
)
from .tensor_parallel import TensorParallelAttention, TensorParallelMLP, shard_mlp
from .tour import TOUR_LR, all_reduce_timing, parallel_tour, toy_attention, toy_data, toy_mlp
from .zero import ZeroAdam

__all__ = [
    "free_port",
    "run_workers",
    "Action",
    "PipelineSchedule",
    "PipelineTimeline",
    "closed_form_bubble",
    "gpipe_schedule",
    "interleaved_1f1b_schedule",
    "one_f_one_b_schedule",
    "pipeline_step_worker",
    "simulate_pipeline",
    "single_process_step",
    "split_layers",
    "zb_h1_schedule",
    "RingComm",
    "ring_all_reduce_bytes",
    "SCHEMES",
    "comm_bytes_per_rank",
    "causal_pairs_per_rank",
    "ring_attention",
    "ring_attention_simulated",
    "sequence_shards",
    "allreduce_gradients",
    "batch_shard",
    "TensorParallelAttention",
    "TensorParallelMLP",
    "shard_mlp",
    "TOUR_LR",
    "all_reduce_timing",
    "parallel_tour",
    "toy_attention",
    "toy_data",
    "toy_mlp",
    "ZeroAdam",
    "H100_SXM_80GB",
    "QWEN25_72B",
    "Hardware",
    "LayoutEstimate",
    "LayoutPlan",
    "ModelShape",
    "ParallelLayout",
    "check_layout",
    "enumerate_layouts",
    "estimate_layout",
    "estimate_step_time",
    "layout_memory",
    "plan_layouts",
    "LLAMA3_405B_INTERRUPTIONS",
    "JobSimulation",
    "cluster_mtbf",
    "expected_goodput",
    "expected_segment_time",
    "simulate_job",
    "simulate_timeline",
    "young_daly_interval",
]
