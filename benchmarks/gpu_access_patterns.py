"""Effective bandwidth of contiguous vs strided (and misaligned) copies on a CUDA GPU (chapter 13, q13-05).

The CPU simulators in ``interviewlib.gpu`` count sectors; this script measures what those counts
cost on real hardware, in the spirit of the ``offsetCopy`` / ``strideCopy`` kernels of NVIDIA's
CUDA C++ Best Practices Guide. Each copy moves the same number of *useful* bytes; the effective
bandwidth is ``2 * useful bytes / time`` (read + write), timed with CUDA events, median of
several repeats. Without a GPU it prints ``no GPU`` and exits 0, so CI can run it.

Usage: ``python benchmarks/gpu_access_patterns.py [--mib 64] [--repeats 20]``
"""

from __future__ import annotations

import argparse
import statistics
import sys

import torch


def _time_ms(fn, repeats: int) -> float:
    fn()  # warm-up (allocations, kernel selection)
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def _offset_rows(n: int, dev: torch.device, repeats: int) -> list[tuple[str, float]]:
    src = torch.randn(n + 64, device=dev)  # a little slack for the offset copies
    dst = torch.empty_like(src)
    rows = [("contiguous", _time_ms(lambda: dst[:n].copy_(src[:n]), repeats))]
    for offset in (1, 8):  # elements: 4 bytes (misaligned start) and 32 bytes (sector aligned)
        rows.append((f"offset {offset} (+{4 * offset} B)", _time_ms(lambda o=offset: dst[o : o + n].copy_(src[o : o + n]), repeats)))
    return rows


def _stride_rows(n: int, dev: torch.device, repeats: int) -> list[tuple[str, float]]:
    rows = []
    for stride in (2, 4, 8, 32):
        big = torch.randn(n * stride, device=dev)  # stride elements apart: only 1/stride of each sector is used
        out = torch.empty_like(big)
        rows.append((f"stride {stride}", _time_ms(lambda b=big, o=out, s=stride: o[::s].copy_(b[::s]), repeats)))
        del big, out
        torch.cuda.empty_cache()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=64, help="useful bytes copied per pattern, MiB")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("no GPU: torch.cuda.is_available() is False; nothing to measure (the simulators run on CPU).")
        return 0

    n = args.mib * 2**20 // 4  # useful float32 elements
    dev = torch.device("cuda")
    print(f"device: {torch.cuda.get_device_name(dev)}, useful bytes per copy: {args.mib} MiB, median of {args.repeats}")
    print(f"{'pattern':<26}{'time ms':>10}{'eff. GB/s':>12}{'vs contiguous':>15}")
    rows = _offset_rows(n, dev, args.repeats) + _stride_rows(n, dev, args.repeats)
    base = rows[0][1]
    for name, ms in rows:
        gbps = 2 * 4 * n / (ms * 1e-3) / 1e9
        print(f"{name:<26}{ms:>10.3f}{gbps:>12.1f}{base / ms:>15.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
