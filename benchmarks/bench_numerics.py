"""Benchmarks for interviewlib.numerics: pairwise cosine vs scikit-learn, isqrt vs math.isqrt."""

from __future__ import annotations

import math

import numpy as np
from harness import Result, compare
from sklearn.metrics.pairwise import cosine_similarity as sk_cosine

from interviewlib.numerics import isqrt_newton, pairwise_cosine_similarity


def run() -> list[Result]:
    rng = np.random.default_rng(0)
    results = []
    for n, m, d in [(200, 200, 64), (1000, 1000, 128), (2000, 5000, 256)]:
        X, Y = rng.normal(size=(n, d)), rng.normal(size=(m, d))
        results.append(
            compare(
                "pairwise cosine vs sklearn",
                f"{n}x{m}, d={d}",
                lambda X=X, Y=Y: pairwise_cosine_similarity(X, Y),
                lambda X=X, Y=Y: sk_cosine(X, Y),
                repeats=5,
                target=2.0,
            )
        )
    for bits in (64, 4096):
        N = int(rng.integers(1, 2**62)) ** (bits // 62 + 1)
        results.append(
            compare(
                "isqrt Newton vs math.isqrt",
                f"{N.bit_length()} bits",
                lambda N=N: isqrt_newton(N),
                lambda N=N: math.isqrt(N),
                error=lambda a, b: float(a != b),
                repeats=7,
            )
        )
    return results
