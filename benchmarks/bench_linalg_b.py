"""Chapter 1, questions 1.4-1.6: least squares, symmetric eigendecomposition, SVD.

Errors compare invariants, not raw factors (eigenvectors and singular vectors are
defined only up to sign): the solution for least squares, the sorted eigenvalues, the
singular values.
"""

from __future__ import annotations

import numpy as np
from harness import Result, compare

from interviewlib.linalg import eigh, lstsq, svd


def run() -> list[Result]:
    rng = np.random.default_rng(0)
    results = []

    A = rng.standard_normal((4000, 100))
    b = rng.standard_normal(4000)
    results.append(
        compare(
            "lstsq (Householder QR) vs numpy.linalg.lstsq",
            "4000×100",
            lambda: lstsq(A, b, method="qr"),
            lambda: np.linalg.lstsq(A, b, rcond=None)[0],
            repeats=7,
            target=5,
        )
    )

    S = rng.standard_normal((200, 200))
    S = (S + S.T) / 2
    results.append(
        compare(
            "eigh (tridiagonal + bisection + inverse iteration) vs numpy.linalg.eigh",
            "200×200",
            lambda: eigh(S)[0],
            lambda: np.linalg.eigh(S)[0],
            repeats=5,
            target=30,
        )
    )

    results.append(
        compare(
            "eigh(method='jacobi') vs numpy.linalg.eigh (no target)",
            "200×200",
            lambda: eigh(S, method="jacobi")[0],
            lambda: np.linalg.eigh(S)[0],
            repeats=3,
        )
    )

    M = rng.standard_normal((200, 100))
    results.append(
        compare(
            "svd (QR + Gram-preconditioned one-sided Jacobi) vs numpy.linalg.svd",
            "200×100",
            lambda: svd(M)[1],
            lambda: np.linalg.svd(M, full_matrices=False)[1],
            repeats=7,
            target=30,
        )
    )
    return results
