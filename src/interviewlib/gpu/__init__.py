"""GPU and CUDA (chapter 13): numpy simulators and analytic models that count what the hardware does
(shared-memory banks, coalesced sectors, vector accesses, occupancy, rooflines). No GPU needed.
"""

from .global_memory import LINE_BYTES, SECTOR_BYTES, Coalescing, coalescing, warp_addresses
from .occupancy import (
    COMPUTE_CAPABILITIES,
    GPU_ARCHS,
    ComputeCapability,
    GPUArch,
    Occupancy,
    Waves,
    get_gpu_arch,
    occupancy,
    waves,
)
from .roofline import (
    H200_SXM,
    MEMORY_HIERARCHIES,
    ROOFLINE_GPUS,
    V100_SXM2,
    MemoryHierarchy,
    attainable_flops,
    attention_intensity,
    elementwise_intensity,
    matmul_intensity,
    ridge_point,
)
from .shared_memory import BANK_BYTES, NUM_BANKS, SharedAccess, bank_of, shared_access
from .transpose import LAYOUTS, TILE, TransposeTraffic, tile_offsets, transpose_traffic
from .vector_access import VectorCopyCost, hfma2, pack_half2, unpack_half2, vector_copy_cost

__all__ = [
    "COMPUTE_CAPABILITIES",
    "GPU_ARCHS",
    "ComputeCapability",
    "GPUArch",
    "Occupancy",
    "Waves",
    "get_gpu_arch",
    "occupancy",
    "waves",
    "H200_SXM",
    "ROOFLINE_GPUS",
    "V100_SXM2",
    "MemoryHierarchy",
    "MEMORY_HIERARCHIES",
    "attainable_flops",
    "attention_intensity",
    "elementwise_intensity",
    "matmul_intensity",
    "ridge_point",
    "LINE_BYTES",
    "SECTOR_BYTES",
    "Coalescing",
    "coalescing",
    "warp_addresses",
    "BANK_BYTES",
    "NUM_BANKS",
    "SharedAccess",
    "bank_of",
    "shared_access",
    "LAYOUTS",
    "TILE",
    "TransposeTraffic",
    "tile_offsets",
    "transpose_traffic",
    "VectorCopyCost",
    "hfma2",
    "pack_half2",
    "unpack_half2",
    "vector_copy_cost",
]
