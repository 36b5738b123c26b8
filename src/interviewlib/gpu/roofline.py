r"""The roofline model and the arithmetic intensity of the kernels an LLM runs.

A kernel that performs :math:`F` FLOPs and moves :math:`Q` bytes between HBM and the chip
has arithmetic intensity :math:`I = F / Q`. On a GPU with peak :math:`P` and bandwidth
:math:`B` it can reach at most (Williams, Waterman and Patterson 2009)

.. math::

    \text{attainable}(I) = \min(P,\ I\,B), \qquad I^* = P / B \ \text{(ridge point)}.

Below :math:`I^*` a kernel is memory-bound, above it compute-bound. The byte counts here
are the compulsory HBM traffic (each operand read once, each result written once), i.e.
the best a kernel with perfect on-chip reuse can do; real kernels move more.

GPU records are :class:`interviewlib.inference.cost_model.GPUSpec` (chapter 9's H100 SXM
and A100 80GB SXM are reused); this module adds the H200 SXM and V100 SXM2 datasheets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import as_float_array
from ..inference.cost_model import A100_SXM_80GB, H100_SXM, GPUSpec, _check_gpu, _positive
from ..transformer._checks import check_int

__all__ = [
    "H200_SXM",
    "V100_SXM2",
    "ROOFLINE_GPUS",
    "MemoryHierarchy",
    "MEMORY_HIERARCHIES",
    "attainable_flops",
    "ridge_point",
    "matmul_intensity",
    "elementwise_intensity",
    "attention_intensity",
]

# H200 SXM datasheet: 989 TFLOP/s dense BF16 (1,979 with sparsity), 141 GB HBM3e at 4.8 TB/s,
# NVLink 900 GB/s. V100 SXM2 datasheet: 125 TFLOP/s FP16 tensor (no BF16), 900 GB/s HBM2,
# 32 GB, NVLink 300 GB/s.
H200_SXM = GPUSpec("H200 SXM", peak_flops=989e12, mem_bandwidth=4.8e12, mem_bytes=141e9, link_bandwidth=900e9)
V100_SXM2 = GPUSpec("V100 SXM2", peak_flops=125e12, mem_bandwidth=900e9, mem_bytes=32e9, link_bandwidth=300e9)
ROOFLINE_GPUS: dict[str, GPUSpec] = {g.name: g for g in (V100_SXM2, A100_SXM_80GB, H100_SXM, H200_SXM)}


@dataclass(frozen=True)
class MemoryHierarchy:
    """On-chip capacities of one GPU (bytes) next to its HBM/NVLink record.

    Attributes
    ----------
    spec : GPUSpec
        Peak FLOP/s, HBM bandwidth and capacity, NVLink bandwidth.
    sm_count : int
    registers_per_sm : int
        Register file per SM (64 K x 4 bytes on all three).
    l1_shared_per_sm : int
        Combined L1 data cache / shared memory per SM.
    max_shared_per_sm : int
        Largest shared-memory carveout of that L1.
    l2_bytes : int

    Notes
    -----
    V100: 80 SMs, 128 KB L1/shared (96 KB shared), 6 MB L2 (Volta whitepaper). A100: 108 SMs,
    192 KB (164 KB), 40 MB (Ampere whitepaper / tuning guide). H100 SXM5: 132 SMs, 256 KB
    (228 KB), 50 MB (Hopper whitepaper / tuning guide). See question q13-03.
    """

    spec: GPUSpec
    sm_count: int
    registers_per_sm: int
    l1_shared_per_sm: int
    max_shared_per_sm: int
    l2_bytes: int

    def __post_init__(self) -> None:
        if not isinstance(self.spec, GPUSpec):
            raise TypeError(f"spec must be a GPUSpec (e.g. H100_SXM); got {type(self.spec).__name__}.")
        for f in ("sm_count", "registers_per_sm", "l1_shared_per_sm", "max_shared_per_sm", "l2_bytes"):
            check_int(getattr(self, f), f, low=1)
        if self.max_shared_per_sm > self.l1_shared_per_sm:
            raise ValueError(
                f"max_shared_per_sm ({self.max_shared_per_sm}) must be <= l1_shared_per_sm ({self.l1_shared_per_sm})."
            )

    def levels(self) -> dict[str, int]:
        """Whole-GPU capacity of each level, fastest first: registers, L1/shared, L2, HBM."""
        return {
            "registers": self.sm_count * self.registers_per_sm,
            "L1/shared": self.sm_count * self.l1_shared_per_sm,
            "L2": self.l2_bytes,
            "HBM": int(self.spec.mem_bytes),
        }


_KB, _MB = 1024, 1024**2
MEMORY_HIERARCHIES: dict[str, MemoryHierarchy] = {
    "V100 SXM2": MemoryHierarchy(V100_SXM2, 80, 256 * _KB, 128 * _KB, 96 * _KB, 6 * _MB),
    "A100 80GB SXM": MemoryHierarchy(A100_SXM_80GB, 108, 256 * _KB, 192 * _KB, 164 * _KB, 40 * _MB),
    "H100 SXM": MemoryHierarchy(H100_SXM, 132, 256 * _KB, 256 * _KB, 228 * _KB, 50 * _MB),
}


def ridge_point(gpu: GPUSpec) -> float:
    """Arithmetic intensity (FLOP/byte) at which the two roofs meet: ``peak / bandwidth``.

    Examples
    --------
    >>> round(ridge_point(H100_SXM), 1), round(ridge_point(A100_SXM_80GB), 1)
    (295.2, 153.0)

    Notes
    -----
    See question q13-03.
    """
    _check_gpu(gpu)
    return gpu.ridge_point


def attainable_flops(gpu: GPUSpec, intensity: Any) -> np.ndarray | float:
    r"""Roofline bound :math:`\min(P, I B)` in FLOP/s for intensities ``intensity`` (FLOP/byte).

    Parameters
    ----------
    gpu : GPUSpec
    intensity : float or array_like
        Non-negative, finite arithmetic intensities.

    Returns
    -------
    float or numpy.ndarray
        Same shape as ``intensity`` (a float for a scalar).

    Raises
    ------
    TypeError
        If ``gpu`` is not a GPUSpec or ``intensity`` is not numeric.
    ValueError
        On negative or non-finite intensities.

    Examples
    --------
    >>> attainable_flops(H100_SXM, 1.0) / 1e12      # memory roof: 1 FLOP/byte x 3.35 TB/s
    3.35
    >>> attainable_flops(H100_SXM, [1e4]) / 1e12    # far right of the ridge: the peak
    array([989.])

    Notes
    -----
    See question q13-03.
    """
    _check_gpu(gpu)
    i = as_float_array(intensity, "intensity")
    if np.any(i < 0):
        raise ValueError(f"intensity must be >= 0 FLOP/byte; got minimum {i.min()}.")
    out = np.minimum(gpu.peak_flops, i * gpu.mem_bandwidth)
    return float(out) if out.ndim == 0 else out


def matmul_intensity(m: int, n: int, k: int, *, bytes_per_elem: float = 2.0) -> float:
    r"""Intensity of :math:`C_{m\times n} = A_{m\times k} B_{k\times n}`: :math:`2mnk / (b(mk + kn + mn))`.

    Examples
    --------
    >>> round(matmul_intensity(4096, 4096, 4096), 1)     # square bf16 GEMM: n/3
    1365.3
    >>> round(matmul_intensity(1, 4096, 4096), 4)        # GEMV (decode, batch 1): ~1
    0.9995

    Notes
    -----
    For :math:`m \ll k, n` (decode with batch :math:`m`) this is :math:`\approx m` FLOP/byte
    in bf16: the weights are read once per step whatever the batch. See question q13-03.
    """
    m = check_int(m, "m", low=1)
    n, k = check_int(n, "n", low=1), check_int(k, "k", low=1)
    b = _positive(bytes_per_elem, "bytes_per_elem")
    return 2.0 * m * n * k / (b * (m * k + k * n + m * n))


def elementwise_intensity(flops_per_elem: float, *, reads: int = 2, writes: int = 1,
                          bytes_per_elem: float = 2.0) -> float:  # fmt: skip
    r"""Intensity of an element-wise (or row-wise, single-pass) op: FLOPs per element / bytes per element.

    Examples
    --------
    >>> elementwise_intensity(1) == 1 / 6      # c = a + b in bf16: 1 FLOP, 3 x 2 bytes
    True
    >>> elementwise_intensity(5, reads=1)      # fused softmax, ~5 ops per element
    1.25

    Notes
    -----
    A fused softmax reads each score once and writes each probability once; counting max,
    subtract, exp, sum and divide as one FLOP each gives ~5 FLOPs per element. See question
    q13-03.
    """
    f = _positive(flops_per_elem, "flops_per_elem", allow_zero=True)
    r = check_int(reads, "reads", low=0)
    w = check_int(writes, "writes", low=0)
    if r + w == 0:
        raise ValueError("reads + writes must be >= 1 (an op that moves no bytes has no intensity).")
    return f / ((r + w) * _positive(bytes_per_elem, "bytes_per_elem"))


def attention_intensity(q_len: int, kv_len: int, *, n_heads: int, n_kv_heads: int, head_dim: int,
                        bytes_per_elem: float = 2.0) -> float:  # fmt: skip
    r"""Intensity of fused (Flash-style) attention for one sequence.

    FLOPs :math:`4 H q s d` (:math:`QK^\top` and :math:`PV`); bytes
    :math:`b\,(2Hqd + 2H_{kv}sd)` (read Q, write O, read K and V once; the score matrix
    stays on chip).

    Examples
    --------
    Decode (one query) with GQA group size 4 in bf16 is ~4 FLOP/byte at any context length:

    >>> round(attention_intensity(1, 8192, n_heads=32, n_kv_heads=8, head_dim=128), 2)
    4.0
    >>> round(attention_intensity(4096, 4096, n_heads=32, n_kv_heads=8, head_dim=128))
    3277

    Notes
    -----
    Decode reads the whole KV cache to produce one token per head group, so the intensity
    is about :math:`H/H_{kv}` (bf16) and batching does not raise it (every sequence has its
    own cache). Causal masking halves the FLOPs of prefill. See question q13-03.
    """
    q = check_int(q_len, "q_len", low=1)
    s = check_int(kv_len, "kv_len", low=1)
    h, hkv = check_int(n_heads, "n_heads", low=1), check_int(n_kv_heads, "n_kv_heads", low=1)
    d = check_int(head_dim, "head_dim", low=1)
    if h % hkv:
        raise ValueError(f"n_heads ({h}) must be a multiple of n_kv_heads ({hkv}).")
    b = _positive(bytes_per_elem, "bytes_per_elem")
    flops = 4.0 * h * q * s * d
    return flops / (b * (2.0 * h * q * d + 2.0 * hkv * s * d))
