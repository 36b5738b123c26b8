"""Benchmarks for interviewlib.tensor: group-by sum vs pandas (the ratio is reported, no target)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from harness import Result, compare

from interviewlib.tensor import groupby_sum


def run() -> list[Result]:
    rng = np.random.default_rng(0)
    results = []
    for n, g in [(10_000, 100), (1_000_000, 1_000), (1_000_000, 100_000)]:
        keys = rng.integers(0, g, size=n)
        vals = rng.normal(size=n)
        results.append(
            compare(
                "group-by sum (int keys) vs pandas",
                f"n={n:,}, groups={g:,}",
                lambda k=keys, v=vals: groupby_sum(k, v)[1],
                lambda k=keys, v=vals: pd.Series(v).groupby(k).sum().to_numpy(),
                error=lambda a, b: float(np.max(np.abs(a - b))),
                repeats=5,
            )
        )
    n, g = 200_000, 500
    skeys = np.array([f"user{i}" for i in range(g)])[rng.integers(0, g, size=n)]
    vals = rng.normal(size=n)
    results.append(
        compare(
            "group-by sum (string keys) vs pandas",
            f"n={n:,}, groups={g:,}",
            lambda: groupby_sum(skeys, vals)[1],
            lambda: pd.Series(vals).groupby(skeys).sum().to_numpy(),
            error=lambda a, b: float(np.max(np.abs(a - b))),
            repeats=5,
        )
    )
    return results
