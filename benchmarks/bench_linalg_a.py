"""Benchmarks for questions 1.1-1.3: rank by elimination and the matrix exponential.

Targets (chapter 1 issue): rank at n = 512 within 5x numpy.linalg.matrix_rank (SVD);
expm at n = 256 within 3x scipy.linalg.expm. Both references run LAPACK/C code; ours is
numpy with a Python loop over pivots (rank) or over squarings (expm). Both expm follow
Al-Mohy and Higham (2009) and pick the same (m, s); below n = 400 both form A^8 and A^10
for the exact 1-norms. The stacked case is 2000 small matrices: SciPy 1.17.1 loops over
them in Python, ours is vectorised over the stack.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
from harness import Result, compare

from interviewlib.linalg import expm, rank


def _relerr(X, Y) -> float:
    return float(np.linalg.norm(X - Y, 1) / np.linalg.norm(Y, 1))


def run() -> list[Result]:
    rng = np.random.default_rng(0)
    results = []
    for n, r in [(128, 64), (512, 256)]:
        A = rng.standard_normal((n, r)) @ rng.standard_normal((r, n))  # rank r
        results.append(
            compare(
                "rank (complete pivoting) vs numpy.linalg.matrix_rank",
                f"{n}x{n}, rank {r}",
                lambda A=A: rank(A),
                lambda A=A: np.linalg.matrix_rank(A),
                error=lambda a, b: abs(a - b),
                repeats=5,
                target=5.0 if n == 512 else None,
            )
        )
    for n in (64, 256):
        A = rng.standard_normal((n, n)) * (10.0 / np.sqrt(n))  # ||A||_1 ~ 80: several squarings
        results.append(
            compare(
                "expm vs scipy.linalg.expm",
                f"{n}x{n}",
                lambda A=A: expm(A),
                lambda A=A: sla.expm(A),
                error=_relerr,
                repeats=7,
                target=3.0 if n == 256 else None,
            )
        )
    T = np.triu(rng.standard_normal((256, 256))) * 2.0  # triangular: exact diagonals while squaring
    results.append(
        compare(
            "expm vs scipy.linalg.expm, upper triangular",
            "256x256",
            lambda: expm(T),
            lambda: sla.expm(T),
            error=_relerr,
            repeats=7,
        )
    )
    S = rng.standard_normal((2000, 4, 4)) * 3.0
    results.append(
        compare(
            "expm vs scipy.linalg.expm, stacked input",
            "2000 x 4x4",
            lambda: expm(S),
            lambda: sla.expm(S),
            error=lambda X, Y: max(_relerr(x, y) for x, y in zip(X, Y)),
            repeats=7,
        )
    )
    return results
