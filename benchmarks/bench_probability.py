"""Chapter 2 (probability): random(7) call counts, naive Bayes, logistic MLE, KL/JS.

The random(7) rows are counts, not times: the number of random(3) calls per output of
each method against the entropy bound log 7 / log 3. They are printed as their own
table; ``run()`` returns the timing rows for the shared table.

Timings run with BLAS limited to one thread for ours and the reference alike: on the
shared 2-core machine a multi-threaded OpenBLAS GEMM (our Newton step forms X^T W X)
stalls for seconds under load, which measures the machine, not the algorithm.
"""

from __future__ import annotations

import numpy as np
from harness import Result, compare
from scipy.spatial.distance import jensenshannon
from scipy.stats import entropy
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import MultinomialNB as SkMultinomialNB
from threadpoolctl import threadpool_limits

from interviewlib.probability import (
    CountingSource,
    LogisticRegressionMLE,
    MultinomialNB,
    entropy_bound,
    expected_calls,
    js_divergence,
    kl_divergence,
    sample_uniform,
    uniform_source,
)

N_OUTPUTS = 100_000


def calls_table() -> None:
    """Print calls per output (exact expectation and measured) for each method."""
    print("| n -> m | method | exact E[calls/output] | measured (100k outputs) | bound log m/log n | excess |")
    print("|---|---|---:|---:|---:|---:|")
    for n, m in [(3, 7), (2, 6), (5, 7)]:
        bound = entropy_bound(n, m)
        for method in ("rejection", "recycling", "stream"):
            src = CountingSource(uniform_source(n, rng=0), n)
            sample_uniform(src, n, m, N_OUTPUTS, method=method)
            measured = src.calls / N_OUTPUTS
            if method == "stream":
                exact = "→ bound"
            else:
                e = expected_calls(n, m, method=method)
                exact = f"{e} = {float(e):.4f}"
            print(f"| {n} -> {m} | {method} | {exact} | {measured:.4f} | {bound:.4f} | {measured / bound - 1:+.2%} |")
    print()


def run() -> list[Result]:
    calls_table()
    with threadpool_limits(limits=1, user_api="blas"):
        return _timings()


def _timings() -> list[Result]:
    rng = np.random.default_rng(0)
    results = []

    n, d, c = 20_000, 1_000, 10
    y = rng.integers(0, c, n)
    X = rng.poisson(rng.gamma(0.3, 1.0, (c, d))[y]).astype(float)

    def nb_error(a, b):
        return float(np.abs(a - b).max())

    results.append(
        compare(
            "MultinomialNB fit+predict_log_proba",
            f"{n}x{d}, {c} classes",
            lambda: MultinomialNB().fit(X, y).predict_log_proba(X),
            lambda: SkMultinomialNB().fit(X, y).predict_log_proba(X),
            error=nb_error,
            repeats=5,
            target=3,
        )
    )

    n, d = 20_000, 20
    Xl = rng.normal(size=(n, d))
    yl = (rng.random(n) < 1 / (1 + np.exp(-Xl @ rng.normal(size=d)))).astype(int)
    results.append(
        compare(
            "logistic MLE (Newton/IRLS) vs sklearn newton-cg, C=inf",
            f"{n}x{d}",
            lambda: LogisticRegressionMLE().fit(Xl, yl).coef_,
            lambda: LogisticRegression(C=np.inf, solver="newton-cg", tol=1e-10, max_iter=1000).fit(Xl, yl).coef_,
            repeats=5,
        )
    )

    P, Q = rng.random((2_000, 1_000)), rng.random((2_000, 1_000))
    results.append(
        compare("KL rows vs scipy.stats.entropy", "2000x1000", lambda: kl_divergence(P, Q), lambda: entropy(P, Q, axis=1))
    )
    results.append(
        compare(
            "JS rows vs jensenshannon**2",
            "2000x1000",
            lambda: js_divergence(P, Q),
            lambda: jensenshannon(P, Q, axis=1) ** 2,
        )
    )
    return results
