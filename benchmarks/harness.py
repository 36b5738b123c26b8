"""Timing harness shared by the benchmark scripts.

Each case times our function and its reference in the same process, interleaved
(ours, ref, ours, ref, ...) so that drifts in machine load hit both alike, and reports
the median of the repeats, the ratio ours/reference and the largest error between the
two results. Targets are ratios, never absolute times.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Result:
    name: str
    size: str
    ours_s: float
    ref_s: float
    error: float
    target: float | None

    @property
    def ratio(self) -> float:
        return self.ours_s / self.ref_s

    @property
    def ok(self) -> bool | None:
        return None if self.target is None else self.ratio <= self.target


def _time_once(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def compare(
    name: str,
    size: str,
    ours: Callable[[], Any],
    ref: Callable[[], Any],
    *,
    error: Callable[[Any, Any], float] | None = None,
    repeats: int = 7,
    warmup: int = 1,
    target: float | None = None,
) -> Result:
    """Time ``ours()`` against ``ref()``; ``error(ours_out, ref_out)`` measures disagreement."""
    for _ in range(warmup):
        ours()
        ref()
    t_ours, t_ref = [], []
    out_ours = out_ref = None
    for _ in range(repeats):
        dt, out_ours = _time_once(ours)
        t_ours.append(dt)
        dt, out_ref = _time_once(ref)
        t_ref.append(dt)
    if error is None:
        err = float(np.max(np.abs(np.asarray(out_ours, dtype=float) - np.asarray(out_ref, dtype=float))))
    else:
        err = float(error(out_ours, out_ref))
    return Result(name, size, statistics.median(t_ours), statistics.median(t_ref), err, target)


def print_table(results: list[Result]) -> None:
    """Print a Markdown table (paste it into benchmarks/README.md)."""
    print("| case | size | ours (ms) | reference (ms) | ratio | target | max error |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in results:
        target = "" if r.target is None else f"≤ {r.target:g}× {'✓' if r.ok else '✗'}"
        print(
            f"| {r.name} | {r.size} | {r.ours_s * 1e3:.2f} | {r.ref_s * 1e3:.2f} | "
            f"{r.ratio:.2f}× | {target} | {r.error:.1e} |"
        )
