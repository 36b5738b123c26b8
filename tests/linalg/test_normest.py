"""Tests for interviewlib.linalg.onenormest (Higham-Tisseur block 1-norm estimator)."""

import numpy as np
import pytest
import scipy.sparse.linalg as spla
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from interviewlib.linalg import onenormest

# The estimate is ||F x||_1 for some ||x||_1 = 1, so it never exceeds the true norm; the
# product F x is computed in floating point, so allow a few ulps above it.
ABOVE_RTOL = 1e-12
# Agreement of two float computations of the same 1-norm (sums of n <= 60 products).
EXACT_RTOL = 1e-12


def exact(*factors):
    P = factors[0]
    for F in factors[1:]:
        P = P @ F
    return np.linalg.norm(P, 1)


# ---------------------------------------------------------------- reference comparisons


def test_quality_matches_scipy_onenormest():
    # scipy.sparse.linalg.onenormest implements the same Algorithm 2.4 (t = 2, itmax = 5).
    # Both are randomised: compare the distribution of est / ||P||_1 over many products.
    rng = np.random.default_rng(1)
    ours, theirs = [], []
    np.random.seed(0)  # noqa: NPY002 -- scipy's onenormest draws its probes from the legacy global state
    for trial in range(150):
        n = int(rng.integers(5, 60))
        A, B = rng.standard_normal((n, n)), rng.standard_normal((n, n))
        ref = exact(A, B)
        ours.append(onenormest(A, B, rng=trial) / ref)
        theirs.append(spla.onenormest(A @ B) / ref)
    ours, theirs = np.array(ours), np.array(theirs)
    assert np.all(ours <= 1 + ABOVE_RTOL)
    assert ours.min() >= 0.5  # never worse than a factor 2 on these products...
    # ...and as good as scipy's on average (the means' sampling error is ~0.01 each; 0.05 is 4 sigma)
    assert abs(ours.mean() - theirs.mean()) <= 0.05
    assert np.mean(ours >= 1 - EXACT_RTOL) >= 0.3  # often exact


@pytest.mark.parametrize("t", [1, 2, 4])
def test_exact_for_nonnegative_products(t):
    # For F >= 0 entrywise the first step already finds the heaviest column.
    rng = np.random.default_rng(t)
    A, B, C = (np.abs(rng.standard_normal((40, 40))) for _ in range(3))
    np.testing.assert_allclose(onenormest(A, B, C, t=t, rng=0), exact(A, B, C), rtol=EXACT_RTOL)


def test_finds_a_single_heavy_column():
    A = np.random.default_rng(3).standard_normal((100, 100)) * 1e-3
    A[:, 37] = np.linspace(-5, 5, 100)  # column 37 dominates the 1-norm
    np.testing.assert_allclose(onenormest(A, rng=0), np.linalg.norm(A, 1), rtol=EXACT_RTOL)


# ---------------------------------------------------------------- closed forms


def test_identity_and_permutation():
    n = 30
    P = np.eye(n)[np.random.default_rng(0).permutation(n)]
    assert onenormest(np.eye(n), rng=0) == 1.0
    np.testing.assert_allclose(onenormest(P, 3.0 * P, rng=0), 3.0, rtol=EXACT_RTOL)


def test_rank_one():
    # ||u v^T||_1 = ||u||_1 max|v|
    rng = np.random.default_rng(4)
    u, v = rng.standard_normal(25), rng.standard_normal(25)
    np.testing.assert_allclose(onenormest(np.outer(u, v), rng=0), np.abs(u).sum() * np.abs(v).max(), rtol=EXACT_RTOL)


def test_small_orders_are_exact():
    rng = np.random.default_rng(5)
    for n in (1, 2, 3, 4):
        A, B = rng.standard_normal((n, n)), rng.standard_normal((n, n))
        np.testing.assert_allclose(onenormest(A, B, rng=0), exact(A, B), rtol=EXACT_RTOL)
    A = rng.standard_normal((6, 6))
    np.testing.assert_allclose(onenormest(A, t=6, rng=0), exact(A), rtol=EXACT_RTOL)  # t >= n: exact


# ---------------------------------------------------------------- properties


@settings(max_examples=40, deadline=None)
@given(
    st.integers(5, 12).flatmap(
        # multiples of 1/8 in [-3, 3]: no subnormal products, so scaling by 4 stays exact
        lambda n: st.tuples(*(arrays(np.float64, (n, n), elements=st.integers(-24, 24).map(lambda k: k / 8)),) * 2)
    ),
    st.integers(0, 2**31),
)
def test_lower_bound_and_scaling(mats, seed):
    A, B = mats
    est = onenormest(A, B, rng=seed)
    assert 0.0 <= est <= exact(A, B) * (1 + ABOVE_RTOL) + 1e-300
    # scaling a factor by a power of two scales the estimate exactly (same probes, same path)
    assert onenormest(4.0 * A, B, rng=seed) == 4.0 * est


def test_deterministic_for_a_seed():
    A = np.random.default_rng(6).standard_normal((50, 50))
    assert onenormest(A, A, rng=7) == onenormest(A, A, rng=7)


# ---------------------------------------------------------------- edge cases and bad input


def test_empty_and_zero():
    assert onenormest(np.zeros((0, 0))) == 0.0
    assert onenormest(np.zeros((10, 10)), rng=0) == 0.0


def test_inputs_are_not_mutated():
    A = np.random.default_rng(8).standard_normal((20, 20))
    A_copy = A.copy()
    onenormest(A, A, rng=0)
    np.testing.assert_array_equal(A, A_copy)


@pytest.mark.parametrize(
    ("args", "kwargs", "exc", "match"),
    [
        ((), {}, ValueError, "at least one factor"),
        ((np.zeros((3, 4)),), {}, ValueError, r"factors\[0\] must be square"),
        ((np.eye(3), np.eye(4)), {}, ValueError, r"factors\[1\] must have order 3"),
        ((np.eye(3), [[np.nan] * 3] * 3), {}, ValueError, "finite"),
        ((np.eye(6),), {"t": 0}, ValueError, "t must be >= 1"),
        ((np.eye(6),), {"itmax": 1}, ValueError, "itmax must be >= 2"),
        ((np.eye(6),), {"t": 2.0}, TypeError, "t must be an integer"),
        ((np.eye(6) * 1j,), {}, TypeError, "must be real"),
    ],
)
def test_bad_input(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        onenormest(*args, **kwargs)
