"""LLM training (chapter 8): scaling laws, memory, recomputation, accumulation, LoRA, SFT.

Builds on :mod:`interviewlib.transformer` (the decoder) and :mod:`interviewlib.nn`.
"""

from .accumulation import AccumulationResult, accumulate_gradients, token_cross_entropy_sum
from .checkpointing import (
    Checkpointed,
    MemoryEfficientAttention,
    SavedTensor,
    SavedTensorCounter,
    checkpoint_blocks,
    sqrt_segment_size,
)
from .data_pipeline import PackedMemmapDataset, token_dtype, write_token_shard
from .data_samplers import MixtureSampler, ResumableDistributedSampler
from .lora import LoRALinear, ParamCount, apply_lora, count_parameters, lora_scaling, merge_lora
from .memory import (
    TrainingMemory,
    activation_bytes_per_layer,
    bytes_per_param,
    dtype_bytes,
    model_state_bytes,
    training_memory,
)
from .scaling import (
    BESIROGLU_2024,
    HOFFMANN_2022,
    HOFFMANN_2022_UNROUNDED,
    HOFFMANN_GRID,
    ChinchillaLaw,
    chinchilla_loss,
    chinchilla_objective,
    compute_optimal_allocation,
    fit_chinchilla,
)
from .sft import (
    IGNORE_INDEX,
    PackedBatch,
    block_causal_mask,
    pack_sft_examples,
    pad_sft_batch,
    render_chat,
    sft_example,
    sft_loss,
    shift_labels,
)
from .spikes import SpikeMonitor, adam_max_update_ratio, z_loss

__all__ = [
    "SpikeMonitor",
    "adam_max_update_ratio",
    "z_loss",
    "PackedMemmapDataset",
    "token_dtype",
    "write_token_shard",
    "MixtureSampler",
    "ResumableDistributedSampler",
    "LoRALinear",
    "ParamCount",
    "apply_lora",
    "count_parameters",
    "lora_scaling",
    "merge_lora",
    "AccumulationResult",
    "accumulate_gradients",
    "token_cross_entropy_sum",
    "IGNORE_INDEX",
    "PackedBatch",
    "block_causal_mask",
    "pack_sft_examples",
    "pad_sft_batch",
    "render_chat",
    "sft_example",
    "sft_loss",
    "shift_labels",
    "BESIROGLU_2024",
    "HOFFMANN_2022",
    "HOFFMANN_2022_UNROUNDED",
    "HOFFMANN_GRID",
    "ChinchillaLaw",
    "chinchilla_loss",
    "chinchilla_objective",
    "compute_optimal_allocation",
    "fit_chinchilla",
    "TrainingMemory",
    "activation_bytes_per_layer",
    "bytes_per_param",
    "dtype_bytes",
    "model_state_bytes",
    "training_memory",
    "Checkpointed",
    "MemoryEfficientAttention",
    "SavedTensor",
    "SavedTensorCounter",
    "checkpoint_blocks",
    "sqrt_segment_size",
]
