"""Tests for interviewlib.gpu.occupancy: hand-worked cases from NVIDIA's guides, NVIDIA's own
``cuda_occupancy.h`` (when a CUDA toolkit and a C++ compiler are present), properties, bad input."""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewlib.gpu.occupancy import (
    COMPUTE_CAPABILITIES,
    GPU_ARCHS,
    GPUArch,
    _occupancy,
    get_gpu_arch,
    occupancy,
    waves,
)

KB = 1024
ALL_GPUS = list(GPU_ARCHS)


# --- hand-worked cases ---------------------------------------------------------------------


@pytest.mark.parametrize("gpu", ["V100", "A100", "H100 SXM"])
def test_programming_guide_register_example(gpu):
    # CUDA C++ Programming Guide, "Multiprocessor Level": 512-thread blocks at 64 registers
    # need 2 x 512 x 64 = 64 K registers, so two blocks fit; at 65 registers only one.
    two = occupancy(gpu, 512, registers_per_thread=64)
    one = occupancy(gpu, 512, registers_per_thread=65)
    assert (two.blocks_per_sm, two.warps_per_sm) == (2, 32)
    assert (one.blocks_per_sm, one.warps_per_sm) == (1, 16)
    assert one.limited_by == ("registers",)


def test_best_practices_32_registers_is_full_occupancy_on_cc70():
    # Best Practices Guide: on cc 7.0 (64 K registers, 2048 threads) 100 % occupancy allows
    # at most 32 registers per thread.
    assert occupancy("V100", 256, registers_per_thread=32).occupancy == 1.0
    assert occupancy("V100", 256, registers_per_thread=33).occupancy < 1.0


def test_best_practices_37_register_example():
    # Best Practices Guide, "Calculating Occupancy": cc 7.0, 37 registers per thread:
    # 128-thread blocks -> 12 blocks, 75 %; 320-thread blocks -> 4 blocks, 63 % (62.5).
    small = occupancy("V100", 128, registers_per_thread=37)
    large = occupancy("V100", 320, registers_per_thread=37)
    assert (small.blocks_per_sm, small.occupancy) == (12, 0.75)
    assert (large.blocks_per_sm, large.occupancy) == (4, 0.625)


def test_sub_partition_rounding_by_hand():
    # 40 registers: 40*32 = 1280 per warp (already a multiple of 256); a sub-partition holds
    # 16384 // 1280 = 12 warps, the SM 48 (not 65536 // 1280 = 51); 8-warp blocks -> 6.
    occ = occupancy("H100 SXM", 256, registers_per_thread=40)
    assert occ.limits["registers"] == 48 // 8 == 6
    assert occ.occupancy == 48 / 64
    # 33 registers: 1056 rounds up to 1280 as well.
    assert occupancy("H100 SXM", 256, registers_per_thread=33).blocks_per_sm == 6


def test_shared_memory_limit_by_hand():
    # A100: 48 KB + 1 KB reserved per block -> 164 // 49 = 3 blocks.
    occ = occupancy("A100", 128, shared_mem_per_block=48 * KB)
    assert occ.shared_per_block == 49 * KB and occ.blocks_per_sm == 3 and occ.limited_by == ("shared_memory",)
    # H100: 100 KB + 1 KB -> 228 // 101 = 2 blocks.
    assert occupancy("H100 SXM", 128, shared_mem_per_block=100 * KB).blocks_per_sm == 2
    # Granularity: 1 byte still costs one 128-byte unit plus the reserved kilobyte.
    assert occupancy("H100 SXM", 128, shared_mem_per_block=1).shared_per_block == KB + 128
    # Volta: no reserved memory, 256-byte units; no shared memory = no shared-memory limit.
    assert occupancy("V100", 128, shared_mem_per_block=1).shared_per_block == 256
    assert occupancy("V100", 128).limits["shared_memory"] == math.inf


def test_opt_in_maximum_per_block():
    assert occupancy("H100 SXM", 128, shared_mem_per_block=227 * KB).blocks_per_sm == 1
    assert occupancy("H100 SXM", 128, shared_mem_per_block=227 * KB + 1).blocks_per_sm == 0
    assert occupancy("A100", 128, shared_mem_per_block=163 * KB).blocks_per_sm == 1
    assert occupancy("A100", 128, shared_mem_per_block=163 * KB + 1).blocks_per_sm == 0


def test_carveout():
    # 10 KB + 1 KB per block in a 32 KB carveout -> 2 blocks; 20 KB + 1 KB in an 8 KB
    # preference is rounded up to the 32 KB configuration -> 1 block.
    assert occupancy("H100 SXM", 128, shared_mem_per_block=10 * KB, shared_carveout=32 * KB).blocks_per_sm == 2
    assert occupancy("H100 SXM", 128, shared_mem_per_block=20 * KB, shared_carveout=8 * KB).blocks_per_sm == 1
    # A 40 KB preference becomes the 64 KB configuration: 64 // 11 = 5 blocks.
    assert occupancy("H100 SXM", 128, shared_mem_per_block=10 * KB, shared_carveout=40 * KB).blocks_per_sm == 5


def test_warp_and_block_limits():
    # 1536-thread SMs (cc 8.9): one 1024-thread block, 2/3 occupancy.
    occ = occupancy("RTX 4090", 1024)
    assert occ.blocks_per_sm == 1 and occ.limited_by == ("warps",) and occ.occupancy == 32 / 48
    # Tiny blocks hit the 32-blocks-per-SM cap: 32 x 1 warp = half of 64 warp slots.
    occ = occupancy("H100 SXM", 32)
    assert occ.blocks_per_sm == 32 and occ.limited_by == ("blocks",) and occ.occupancy == 0.5
    # A 33-thread block still occupies two warps.
    assert occupancy("H100 SXM", 33).warps_per_block == 2


def test_too_many_resources_cannot_launch():
    # 1024 threads x 65 registers: 32 warps x 2304 > 64 K registers -> 0 blocks.
    assert occupancy("H100 SXM", 1024, registers_per_thread=65).blocks_per_sm == 0
    assert occupancy("H100 SXM", 1024, registers_per_thread=64).blocks_per_sm == 1
    # 255 registers -> 8192 per warp, 2 warps per sub-partition, 8 per SM: a 7-warp block
    # fits (rounded up to 8 warps it needs exactly 64 K registers), a 9-warp block does not.
    assert occupancy("H100 SXM", 224, registers_per_thread=255).blocks_per_sm == 1
    assert occupancy("H100 SXM", 288, registers_per_thread=255).blocks_per_sm == 0


def test_records():
    assert {k: v.sm_count for k, v in GPU_ARCHS.items()} == {"V100": 80, "A100": 108, "RTX 4090": 128, "H100 SXM": 132}
    assert get_gpu_arch("H100 SXM").cuda_cores == 16896 and get_gpu_arch("V100").cuda_cores == 5120
    assert COMPUTE_CAPABILITIES["9.0"].max_shared_per_sm == 228 * KB
    assert COMPUTE_CAPABILITIES["8.0"].max_shared_per_sm == 164 * KB
    assert all(c.max_warps_per_sm * 32 == c.max_threads_per_sm for c in COMPUTE_CAPABILITIES.values())
    custom = GPUArch("toy", COMPUTE_CAPABILITIES["9.0"], 2, 128)
    assert get_gpu_arch(custom) is custom and get_gpu_arch("  a100 ").name == "A100"


# --- NVIDIA's cuda_occupancy.h as the reference ---------------------------------------------

HEADER = Path("/usr/local/cuda/include/cuda_occupancy.h")
if not HEADER.exists():
    HEADER = next(iter(sorted(Path("/usr/local").glob("cuda-*/include/cuda_occupancy.h"))), HEADER)
CXX = shutil.which("g++") or shutil.which("c++")
N_REFERENCE_CASES = 600  # per compute capability; the compiled reference answers them in milliseconds

HARNESS = r"""
#include <cstdio>
#include "cuda_occupancy.h"
int main() {
  int ma, mi, mt, t, r, carve; long smsm, optin, res, s;
  while (scanf("%d %d %d %ld %ld %ld %d %d %ld %d", &ma, &mi, &mt, &smsm, &optin, &res, &t, &r, &s, &carve) == 10) {
    cudaOccDeviceProp p; p.computeMajor = ma; p.computeMinor = mi; p.maxThreadsPerBlock = 1024;
    p.maxThreadsPerMultiprocessor = mt; p.regsPerBlock = 65536; p.regsPerMultiprocessor = 65536;
    p.warpSize = 32; p.sharedMemPerBlock = 49152; p.sharedMemPerMultiprocessor = smsm; p.numSms = 1;
    p.sharedMemPerBlockOptin = optin; p.reservedSharedMemPerBlock = res;
    cudaOccFuncAttributes a; a.maxThreadsPerBlock = 1024; a.numRegs = r; a.sharedSizeBytes = 0;
    a.shmemLimitConfig = FUNC_SHMEM_LIMIT_OPTIN; a.maxDynamicSharedSizeBytes = optin; a.numBlockBarriers = 0;
    cudaOccDeviceState st; st.carveoutConfig = carve;
    cudaOccResult out;
    cudaOccError e = cudaOccMaxActiveBlocksPerMultiprocessor(&out, &p, &a, &st, t, s);
    printf("%d %d\n", (int)e, e == CUDA_OCC_SUCCESS ? out.activeBlocksPerMultiprocessor : -1);
  }
}
"""


@pytest.mark.skipif(not (HEADER.exists() and CXX), reason="needs a CUDA toolkit's cuda_occupancy.h and a C++ compiler")
def test_matches_nvidia_cuda_occupancy_header(tmp_path):
    src, exe = tmp_path / "harness.cpp", tmp_path / "harness"
    src.write_text(HARNESS)
    subprocess.run([CXX, "-O1", f"-I{HEADER.parent}", str(src), "-o", str(exe)], check=True, timeout=60)
    rng = np.random.default_rng(0)
    rows, ours = [], []
    for key, cc in COMPUTE_CAPABILITIES.items():
        major, minor = key.split(".")
        for _ in range(N_REFERENCE_CASES):
            t, r = int(rng.integers(1, 1025)), int(rng.integers(1, 256))
            s = int(rng.choice([0, rng.integers(0, 48 * KB), rng.integers(0, cc.max_shared_per_block + 1)]))
            pct = int(rng.choice([-1, -1, rng.integers(0, 101)]))  # -1 = no carveout preference
            carve = None if pct == -1 else pct * cc.max_shared_per_sm // 100  # the header's percent -> bytes
            rows.append(f"{major} {minor} {cc.max_threads_per_sm} {cc.max_shared_per_sm} {cc.max_shared_per_block} "
                        f"{cc.reserved_shared_per_block} {t} {r} {s} {pct}")  # fmt: skip
            ours.append(_occupancy(cc, t, r, s, carve).blocks_per_sm)
    out = subprocess.run([str(exe)], input="\n".join(rows) + "\n", capture_output=True, text=True, timeout=60)
    ref = [tuple(map(int, line.split())) for line in out.stdout.splitlines()]
    assert len(ref) == len(rows)
    assert all(err == 0 for err, _ in ref)
    mismatches = [(row, o, b) for row, o, (_, b) in zip(rows, ours, ref, strict=True) if o != b]
    assert mismatches == []


# --- properties ------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    gpu=st.sampled_from(ALL_GPUS),
    threads=st.integers(1, 1024),
    regs=st.integers(1, 254),
    smem=st.integers(0, 96 * KB - 1),
)
def test_monotone_in_registers_and_shared_memory(gpu, threads, regs, smem):
    base = occupancy(gpu, threads, registers_per_thread=regs, shared_mem_per_block=smem)
    more_regs = occupancy(gpu, threads, registers_per_thread=regs + 1, shared_mem_per_block=smem)
    more_smem = occupancy(gpu, threads, registers_per_thread=regs, shared_mem_per_block=smem + 1)
    assert more_regs.blocks_per_sm <= base.blocks_per_sm
    assert more_smem.blocks_per_sm <= base.blocks_per_sm
    cc = get_gpu_arch(gpu).compute_capability
    assert 0.0 <= base.occupancy <= 1.0
    assert base.blocks_per_sm * threads <= cc.max_threads_per_sm
    assert base.blocks_per_sm * base.registers_per_block <= cc.registers_per_sm
    assert base.blocks_per_sm * base.shared_per_block <= cc.max_shared_per_sm


# --- waves -----------------------------------------------------------------------------------


def test_waves_closed_form():
    w = waves("A100", 108 * 4, 4)
    assert (w.n_waves, w.last_wave_blocks, w.efficiency) == (1, 432, 1.0)
    w = waves("A100", 108 * 4 + 1, 4)
    assert (w.n_waves, w.last_wave_blocks) == (2, 1) and w.efficiency == 433 / 864
    w = waves("H100 SXM", 1000, 2)
    assert (w.slots, w.n_waves, w.last_wave_blocks) == (264, 4, 1000 - 3 * 264)


@settings(max_examples=25, deadline=None)
@given(gpu=st.sampled_from(ALL_GPUS), n=st.integers(1, 10**6), b=st.integers(1, 16))
def test_waves_properties(gpu, n, b):
    w = waves(gpu, n, b)
    assert (w.n_waves - 1) * w.slots < n <= w.n_waves * w.slots
    assert 1 <= w.last_wave_blocks <= w.slots
    assert 0 < w.efficiency <= 1


# --- bad input -------------------------------------------------------------------------------


def test_unknown_gpu_lists_known_ones():
    with pytest.raises(ValueError, match=r"gpu must be one of \['V100', 'A100', 'RTX 4090', 'H100 SXM'\]"):
        occupancy("B300", 256)
    with pytest.raises(TypeError, match="gpu must be a GPU name"):
        occupancy(None, 256)
    with pytest.raises(TypeError, match="gpu must be a GPU name"):
        waves(9.0, 10, 1)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"threads_per_block": 1025}, ValueError, "threads_per_block must be <= 1024"),
        ({"threads_per_block": 0}, ValueError, "threads_per_block must be >= 1"),
        ({"threads_per_block": 256.0}, TypeError, "threads_per_block must be an integer"),
        ({"threads_per_block": True}, TypeError, "threads_per_block must be an integer"),
        ({"threads_per_block": None}, TypeError, "threads_per_block must be an integer"),
        ({"registers_per_thread": 256}, ValueError, "registers_per_thread must be <= 255"),
        ({"registers_per_thread": 0}, ValueError, "registers_per_thread must be >= 1"),
        ({"shared_mem_per_block": -1}, ValueError, "shared_mem_per_block must be >= 0"),
        ({"shared_carveout": 229 * KB}, ValueError, "shared_carveout must be <= 233472"),
    ],
)
def test_occupancy_bad_arguments(kwargs, exc, match):
    args = {"threads_per_block": 256} | kwargs
    with pytest.raises(exc, match=match):
        occupancy("H100 SXM", **args)


def test_waves_bad_arguments():
    with pytest.raises(ValueError, match="grid_blocks must be >= 1"):
        waves("A100", 0, 1)
    with pytest.raises(ValueError, match="blocks_per_sm must be >= 1"):
        waves("A100", 10, 0)
    with pytest.raises(ValueError, match="blocks_per_sm must be <= 32"):
        waves("A100", 10, 33)
    with pytest.raises(TypeError, match="grid_blocks must be an integer"):
        waves("A100", float("nan"), 1)


def test_record_constructors_validate():
    from interviewlib.gpu.occupancy import ComputeCapability

    with pytest.raises(TypeError, match="compute_capability must be a ComputeCapability"):
        GPUArch("toy", "9.0", 2, 128)
    with pytest.raises(ValueError, match="sm_count must be >= 1"):
        GPUArch("toy", COMPUTE_CAPABILITIES["9.0"], 0, 128)
    with pytest.raises(TypeError, match="cc must be a str"):
        ComputeCapability(None, 2048, 32, (0, 8), 8 * KB, 0, 128)
    with pytest.raises(ValueError, match="cc must be 'major.minor'"):
        ComputeCapability("sm90", 2048, 32, (0, 8), 8 * KB, 0, 128)
    with pytest.raises(TypeError, match="shared_carveouts_kb must be a non-empty tuple"):
        ComputeCapability("9.0", 2048, 32, [0, 8], 8 * KB, 0, 128)
