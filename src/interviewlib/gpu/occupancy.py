r"""Occupancy and waves: how many threads an SM really holds, and how a grid is scheduled.

A CUDA core is one FP32 lane; it is not a thread slot. An SM issues one instruction per
cycle for one *warp* (32 threads, SIMT) on each of its 4 sub-partitions, and keeps many
more warps resident than it can issue, so that while some wait on memory others compute.
How many are resident is set by the smallest of four per-SM budgets:

.. math::

    B_{\text{SM}} = \min\Big(B_{\max},\ \Big\lfloor\frac{W_{\max}}{w}\Big\rfloor,\
    \Big\lfloor\frac{4\,\lfloor (R_{\text{SM}}/4) / r_w \rfloor}{w}\Big\rfloor,\
    \Big\lfloor\frac{S_{\text{SM}}}{s_b}\Big\rfloor\Big),

with :math:`w = \lceil T / 32\rceil` warps per block, :math:`r_w` the registers of one warp
rounded up to the allocation unit (256), :math:`s_b` the block's shared memory plus the
1 KB the driver reserves per block (cc >= 8.0), rounded up to the allocation granularity.
Occupancy is :math:`B_{\text{SM}}\,w / W_{\max}`.

The per-compute-capability limits are those of the CUDA Programming Guide for CUDA 13.x,
appendix "Compute Capabilities" (the technical-specifications table and the "Shared Memory
Capacity per Compute Capability" table; cc 7.0, no longer in that guide, from
NVIDIA's ``cuda_occupancy.h`` and CCCL's ``arch_traits.h``). The rules (allocation units,
register file split over 4 sub-partitions, carveout sizes, reserved shared memory) follow
``cuda_occupancy.h`` of CUDA 13.0, the engine behind
``cudaOccupancyMaxActiveBlocksPerMultiprocessor``. Block-barrier and partitioned-caching
limits of that header are not modelled (they do not bind for ordinary kernels).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..transformer._checks import check_int

__all__ = [
    "ComputeCapability",
    "GPUArch",
    "Occupancy",
    "Waves",
    "COMPUTE_CAPABILITIES",
    "GPU_ARCHS",
    "get_gpu_arch",
    "occupancy",
    "waves",
]

KB = 1024
WARP_SIZE = 32
MAX_THREADS_PER_BLOCK = 1024


@dataclass(frozen=True)
class ComputeCapability:
    """Per-SM limits of one compute capability (bytes for memory, 32-bit registers).

    Attributes
    ----------
    cc : str
        ``"major.minor"``, e.g. ``"9.0"``.
    max_threads_per_sm, max_blocks_per_sm : int
        Resident threads and thread blocks per SM.
    shared_carveouts_kb : tuple of int
        Shared-memory sizes (KB) an SM can be configured to; the largest is the maximum
        shared memory per SM. A kernel's request is rounded up to the next one.
    max_shared_per_block : int
        Opt-in maximum per block (``cudaFuncAttributeMaxDynamicSharedMemorySize``); above
        48 KB a kernel must opt in and use dynamic shared memory.
    reserved_shared_per_block : int
        Shared memory the driver reserves for every resident block (1 KB from cc 8.0).
    shared_alloc_unit : int
        Allocation granularity of shared memory per block.
    registers_per_sm, max_registers_per_block, max_registers_per_thread : int
        64 K, 64 K and 255 on every capability from 5.0 on.
    register_alloc_unit : int
        Registers are given to a warp in units of 256.
    sub_partitions : int
        Warp schedulers (SMSPs) per SM; each owns a quarter of the register file.

    Notes
    -----
    See question q13-02.
    """

    cc: str
    max_threads_per_sm: int
    max_blocks_per_sm: int
    shared_carveouts_kb: tuple[int, ...]
    max_shared_per_block: int
    reserved_shared_per_block: int
    shared_alloc_unit: int
    registers_per_sm: int = 64 * KB
    max_registers_per_block: int = 64 * KB
    max_registers_per_thread: int = 255
    register_alloc_unit: int = 256
    sub_partitions: int = 4

    def __post_init__(self) -> None:
        if not isinstance(self.cc, str):
            raise TypeError(f"cc must be a str such as '9.0'; got {type(self.cc).__name__}.")
        major, _, minor = self.cc.partition(".")
        if not (major.isdigit() and minor.isdigit()):
            raise ValueError(f"cc must be 'major.minor' such as '9.0'; got {self.cc!r}.")
        for f in ("max_threads_per_sm", "max_blocks_per_sm", "max_shared_per_block", "shared_alloc_unit",
                  "registers_per_sm", "max_registers_per_block", "max_registers_per_thread",
                  "register_alloc_unit", "sub_partitions"):  # fmt: skip
            check_int(getattr(self, f), f, low=1)
        check_int(self.reserved_shared_per_block, "reserved_shared_per_block", low=0)
        if not isinstance(self.shared_carveouts_kb, tuple) or not self.shared_carveouts_kb:
            raise TypeError(
                f"shared_carveouts_kb must be a non-empty tuple of KB sizes; got {self.shared_carveouts_kb!r}."
            )
        for c in self.shared_carveouts_kb:
            check_int(c, "shared_carveouts_kb entry", low=0)

    @property
    def max_warps_per_sm(self) -> int:
        return self.max_threads_per_sm // WARP_SIZE

    @property
    def max_shared_per_sm(self) -> int:
        return max(self.shared_carveouts_kb) * KB


_VOLTA_CARVEOUTS = (0, 8, 16, 32, 64, 96)
_A100_CARVEOUTS = (0, 8, 16, 32, 64, 100, 132, 164)
_GA10X_CARVEOUTS = (0, 8, 16, 32, 64, 100)
_HOPPER_CARVEOUTS = (0, 8, 16, 32, 64, 100, 132, 164, 196, 228)

COMPUTE_CAPABILITIES: dict[str, ComputeCapability] = {
    "7.0": ComputeCapability("7.0", 2048, 32, _VOLTA_CARVEOUTS, 96 * KB, 0, 256),
    "8.0": ComputeCapability("8.0", 2048, 32, _A100_CARVEOUTS, 163 * KB, KB, 128),
    "8.6": ComputeCapability("8.6", 1536, 16, _GA10X_CARVEOUTS, 99 * KB, KB, 128),
    "8.9": ComputeCapability("8.9", 1536, 24, _GA10X_CARVEOUTS, 99 * KB, KB, 128),
    "9.0": ComputeCapability("9.0", 2048, 32, _HOPPER_CARVEOUTS, 227 * KB, KB, 128),
    "10.0": ComputeCapability("10.0", 2048, 32, _HOPPER_CARVEOUTS, 227 * KB, KB, 128),
}


@dataclass(frozen=True)
class GPUArch:
    """One product: its compute capability, SM count and FP32 lanes ("CUDA cores") per SM.

    Notes
    -----
    SM counts: V100 SXM2 80, A100 108, H100 SXM5 132 (NVIDIA architecture whitepapers),
    RTX 4090 128 (Ada whitepaper). CUDA cores = ``sm_count * fp32_lanes_per_sm``.
    See question q13-02.
    """

    name: str
    compute_capability: ComputeCapability
    sm_count: int
    fp32_lanes_per_sm: int

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise TypeError(f"name must be a str; got {type(self.name).__name__}.")
        if not isinstance(self.compute_capability, ComputeCapability):
            raise TypeError(
                f"compute_capability must be a ComputeCapability (e.g. COMPUTE_CAPABILITIES['9.0']); "
                f"got {type(self.compute_capability).__name__}."
            )
        check_int(self.sm_count, "sm_count", low=1)
        check_int(self.fp32_lanes_per_sm, "fp32_lanes_per_sm", low=1)

    @property
    def cuda_cores(self) -> int:
        return self.sm_count * self.fp32_lanes_per_sm

    @property
    def max_resident_threads(self) -> int:
        return self.sm_count * self.compute_capability.max_threads_per_sm


GPU_ARCHS: dict[str, GPUArch] = {
    "V100": GPUArch("V100", COMPUTE_CAPABILITIES["7.0"], 80, 64),
    "A100": GPUArch("A100", COMPUTE_CAPABILITIES["8.0"], 108, 64),
    "RTX 4090": GPUArch("RTX 4090", COMPUTE_CAPABILITIES["8.9"], 128, 128),
    "H100 SXM": GPUArch("H100 SXM", COMPUTE_CAPABILITIES["9.0"], 132, 128),
}


def get_gpu_arch(gpu: Any) -> GPUArch:
    """Look up a :class:`GPUArch` by name (case-insensitive) or pass one through.

    Examples
    --------
    >>> get_gpu_arch("h100 sxm").sm_count, get_gpu_arch("A100").cuda_cores
    (132, 6912)
    >>> get_gpu_arch("T4")
    Traceback (most recent call last):
    ...
    ValueError: gpu must be one of ['V100', 'A100', 'RTX 4090', 'H100 SXM'] or a GPUArch; got 'T4'.
    """
    if isinstance(gpu, GPUArch):
        return gpu
    if not isinstance(gpu, str):
        raise TypeError(f"gpu must be a GPU name (str) or a GPUArch; got {type(gpu).__name__}.")
    for name, arch in GPU_ARCHS.items():
        if name.lower() == gpu.strip().lower():
            return arch
    raise ValueError(f"gpu must be one of {list(GPU_ARCHS)} or a GPUArch; got {gpu!r}.")


@dataclass(frozen=True)
class Occupancy:
    """Result of :func:`occupancy`.

    ``limits`` maps each budget (``"blocks"``, ``"warps"``, ``"registers"``,
    ``"shared_memory"``) to the blocks per SM it allows (``math.inf`` if it does not bind);
    ``limited_by`` names those equal to the minimum.
    """

    blocks_per_sm: int
    warps_per_block: int
    limits: dict[str, float]
    registers_per_block: int
    shared_per_block: int
    max_warps_per_sm: int

    @property
    def warps_per_sm(self) -> int:
        return self.blocks_per_sm * self.warps_per_block

    @property
    def occupancy(self) -> float:
        return self.warps_per_sm / self.max_warps_per_sm

    @property
    def limited_by(self) -> tuple[str, ...]:
        return tuple(k for k, v in self.limits.items() if v == self.blocks_per_sm)


def _round_up(x: int, unit: int) -> int:
    return -(-x // unit) * unit


def occupancy(
    gpu: str | GPUArch, threads_per_block: int, *, registers_per_thread: int = 32,
    shared_mem_per_block: int = 0, shared_carveout: int | None = None,
) -> Occupancy:  # fmt: skip
    r"""Resident blocks and warps per SM for one kernel launch configuration.

    Parameters
    ----------
    gpu : str or GPUArch
        A name from ``GPU_ARCHS`` (``"V100"``, ``"A100"``, ``"RTX 4090"``,
        ``"H100 SXM"``) or a :class:`GPUArch`.
    threads_per_block : int
        1 to 1024.
    registers_per_thread : int
        As reported by ``nvcc --resource-usage`` (1 to 255).
    shared_mem_per_block : int
        Static plus dynamic shared memory of one block, bytes. Above 48 KB the kernel is
        assumed to have opted in; above the opt-in maximum it cannot launch (0 blocks).
    shared_carveout : int, optional
        Preferred shared-memory size per SM in bytes (``cudaFuncAttributePreferredShared
        MemoryCarveout``), rounded up to a supported configuration. None = the maximum, the
        occupancy calculator's convention; a real driver picks the carveout per kernel by
        itself and treats the attribute only as a hint.

    Returns
    -------
    Occupancy
        ``blocks_per_sm``, ``warps_per_sm``, ``occupancy`` (fraction of the SM's warp
        slots), the per-resource ``limits`` and ``limited_by``.

    Raises
    ------
    TypeError
        If an argument is not an integer / the GPU is not a name or GPUArch.
    ValueError
        If the GPU name is unknown, ``threads_per_block`` is outside 1..1024,
        ``registers_per_thread`` outside 1..255 or a memory size is negative or above
        the SM's maximum.

    Notes
    -----
    Mirrors ``cudaOccupancyMaxActiveBlocksPerMultiprocessor``: registers are allocated
    per warp (``ceil(32 r / 256) * 256``), each of the 4 sub-partitions owns 16 K
    registers and holds whole warps; a block whose warps, rounded up to a multiple of 4,
    would need more than 64 K registers cannot launch ("too many resources requested").
    See question q13-02.

    Examples
    --------
    The Programming Guide's example: 512-thread blocks at 64 registers fit twice
    (2 x 512 x 64 = 64 K registers), at 65 registers only once.

    >>> occupancy("V100", 512, registers_per_thread=64).blocks_per_sm
    2
    >>> occupancy("V100", 512, registers_per_thread=65).blocks_per_sm
    1
    >>> occ = occupancy("H100 SXM", 256, registers_per_thread=32)
    >>> occ.blocks_per_sm, occ.warps_per_sm, occ.occupancy
    (8, 64, 1.0)
    """
    arch = get_gpu_arch(gpu)
    cc = arch.compute_capability
    t = check_int(threads_per_block, "threads_per_block", low=1)
    if t > MAX_THREADS_PER_BLOCK:
        raise ValueError(f"threads_per_block must be <= {MAX_THREADS_PER_BLOCK}; got {t}.")
    r = check_int(registers_per_thread, "registers_per_thread", low=1)
    if r > cc.max_registers_per_thread:
        raise ValueError(f"registers_per_thread must be <= {cc.max_registers_per_thread}; got {r}.")
    s = check_int(shared_mem_per_block, "shared_mem_per_block", low=0)
    if shared_carveout is not None:
        check_int(shared_carveout, "shared_carveout", low=0)
        if shared_carveout > cc.max_shared_per_sm:
            raise ValueError(
                f"shared_carveout must be <= {cc.max_shared_per_sm} bytes on cc {cc.cc}; got {shared_carveout}."
            )
    return _occupancy(cc, t, r, s, shared_carveout)


def _carveout_at_least(cc: ComputeCapability, nbytes: int) -> int:
    """The smallest supported shared-memory configuration of at least ``nbytes``."""
    return min(c * KB for c in cc.shared_carveouts_kb if c * KB >= nbytes)


def _occupancy(cc: ComputeCapability, t: int, r: int, s: int, carveout: int | None) -> Occupancy:
    warps = -(-t // WARP_SIZE)
    limits: dict[str, float] = {"blocks": cc.max_blocks_per_sm, "warps": cc.max_warps_per_sm // warps}

    regs_warp = _round_up(r * WARP_SIZE, cc.register_alloc_unit)
    regs_block = regs_warp * warps
    if max(regs_block, regs_warp * _round_up(warps, cc.sub_partitions)) > cc.max_registers_per_block:
        limits["registers"] = 0
    else:
        warps_per_partition = (cc.registers_per_sm // cc.sub_partitions) // regs_warp
        limits["registers"] = warps_per_partition * cc.sub_partitions // warps

    smem_block = _round_up(s + cc.reserved_shared_per_block, cc.shared_alloc_unit)
    if s > cc.max_shared_per_block:
        limits["shared_memory"] = 0
    elif smem_block == 0:
        limits["shared_memory"] = math.inf
    else:
        preferred = cc.max_shared_per_sm if carveout is None else _carveout_at_least(cc, carveout)
        per_sm = preferred if preferred >= smem_block else _carveout_at_least(cc, smem_block)
        limits["shared_memory"] = per_sm // smem_block

    blocks = int(min(limits.values()))
    return Occupancy(blocks, warps, limits, regs_block, smem_block, cc.max_warps_per_sm)


@dataclass(frozen=True)
class Waves:
    """Result of :func:`waves`: slots = SMs x resident blocks per SM."""

    grid_blocks: int
    slots: int
    n_waves: int
    last_wave_blocks: int

    @property
    def efficiency(self) -> float:
        """Busy block-slots / available block-slots over all waves (1.0 = no tail)."""
        return self.grid_blocks / (self.n_waves * self.slots)


def waves(gpu: str | GPUArch, grid_blocks: int, blocks_per_sm: int) -> Waves:
    r"""Split a grid into waves of ``sm_count * blocks_per_sm`` blocks (equal-length blocks).

    Parameters
    ----------
    gpu : str or GPUArch
    grid_blocks : int
        Blocks in the grid (>= 1).
    blocks_per_sm : int
        Resident blocks per SM, e.g. ``occupancy(...).blocks_per_sm`` (>= 1).

    Returns
    -------
    Waves
        ``n_waves`` = :math:`\lceil N / (\text{SMs}\cdot B_{\text{SM}})\rceil`,
        ``last_wave_blocks`` and ``efficiency`` = :math:`N / (\text{waves}\cdot\text{slots})`.

    Raises
    ------
    TypeError, ValueError
        On a bad GPU name or a non-positive integer count.

    Notes
    -----
    Assumes every block takes the same time, so the last, partly filled wave costs as much
    as a full one (the tail effect). See question q13-02.

    Examples
    --------
    >>> w = waves("H100 SXM", 133, 1)
    >>> w.n_waves, w.last_wave_blocks, round(w.efficiency, 3)
    (2, 1, 0.504)
    """
    arch = get_gpu_arch(gpu)
    n = check_int(grid_blocks, "grid_blocks", low=1)
    b = check_int(blocks_per_sm, "blocks_per_sm", low=1)
    if b > arch.compute_capability.max_blocks_per_sm:
        raise ValueError(
            f"blocks_per_sm must be <= {arch.compute_capability.max_blocks_per_sm} on {arch.name}; got {b}."
        )
    slots = arch.sm_count * b
    n_waves = -(-n // slots)
    return Waves(n, slots, n_waves, n - (n_waves - 1) * slots)
