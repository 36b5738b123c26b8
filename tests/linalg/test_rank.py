"""Tests for interviewlib.linalg.rank: elimination rank (float, tolerance) and exact rank."""

from fractions import Fraction

import numpy as np
import pytest
import scipy.linalg as sla
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from interviewlib.linalg import default_tol, rank, rank_exact, row_echelon

EPS = np.finfo(np.float64).eps
# Products of standard normal factors have singular values O(1) down to ~1e-3 at these
# sizes, far above the default tolerance (~1e-13), so rank is unambiguous: SVD and
# elimination must agree exactly.
SIZES = [(1, 1), (3, 7), (7, 3), (10, 10), (25, 40), (60, 30)]


def low_rank(m, n, r, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((m, r)) @ rng.standard_normal((r, n))


# ---------------------------------------------------------------- reference comparisons


@pytest.mark.parametrize(("m", "n"), SIZES)
def test_rank_matches_numpy_on_low_rank_products(m, n):
    for r in range(0, min(m, n) + 1, max(1, min(m, n) // 4)):
        A = low_rank(m, n, r, seed=100 * m + n + r)
        assert rank(A) == np.linalg.matrix_rank(A) == r


def test_row_echelon_matches_scipy_lu_upper_factor():
    # For a full-rank square matrix, partial pivoting chooses the same pivots as LAPACK's
    # getrf, so our echelon form equals scipy's U factor (up to rounding).
    rng = np.random.default_rng(3)
    A = rng.standard_normal((8, 8))
    R, piv = row_echelon(A)
    _, _, U = sla.lu(A)
    assert piv == tuple(range(8))
    np.testing.assert_allclose(R, U, rtol=0, atol=1e-12)  # O(n * eps * growth) on O(1) entries


def test_row_echelon_preserves_row_space():
    # Row operations do not change the row space: stacking R under A adds no rank.
    A = low_rank(9, 12, 4, seed=5)
    R, piv = row_echelon(A)
    assert len(piv) == 4
    assert np.linalg.matrix_rank(np.vstack([A, R[: len(piv)]])) == 4
    # echelon structure: zeros below each pivot, zero rows after the last pivot row
    for k, j in enumerate(piv):
        assert np.all(R[k + 1 :, j] == 0)
        assert np.all(R[k, :j] == 0)
    assert np.all(R[len(piv) :] == 0)


@pytest.mark.parametrize("seed", range(5))
def test_rank_exact_matches_numpy_on_small_integer_products(seed):
    # Integer products B @ C with B (m x r), C (r x n) and a full-rank check by numpy:
    # small integers, so the float SVD rank is reliable and independent of our code.
    rng = np.random.default_rng(seed)
    B = rng.integers(-3, 4, size=(6, 3))
    C = rng.integers(-3, 4, size=(3, 7))
    A = B @ C
    assert rank_exact(A) == np.linalg.matrix_rank(A.astype(float))


# ---------------------------------------------------------------- closed forms


def test_hand_worked_examples():
    A = [[1, 2, 3], [2, 4, 6], [1, 0, 1]]  # row 2 = 2 * row 1
    assert rank(A) == rank_exact(A) == 2
    assert rank(np.eye(5)) == rank_exact(np.eye(5, dtype=int)) == 5
    assert rank(np.ones((4, 6))) == rank_exact(np.ones((4, 6), dtype=int)) == 1
    R, piv = row_echelon([[0.0, 0.0, 1.0], [0.0, 2.0, 0.0]])  # needs a skip and a swap
    assert piv == (1, 2)
    np.testing.assert_array_equal(R, [[0.0, 2.0, 0.0], [0.0, 0.0, 1.0]])


def test_default_tol_formula():
    A = np.array([[1.0, -4.0, 2.0], [0.5, 3.0, 0.0]])
    assert default_tol(A) == 3 * EPS * 4.0
    assert default_tol(np.zeros((2, 3))) == 0.0
    assert default_tol(np.zeros((0, 3))) == 0.0


def test_naive_zero_test_overcounts_float_rank():
    # A rank-2 product: rounding leaves tiny non-zero "pivots" that tol=0 counts.
    A = low_rank(8, 8, 2, seed=11)
    assert rank(A) == 2
    assert rank(A, tol=0.0) > 2


def test_exact_rank_of_hilbert_matrix_is_full():
    # The Hilbert matrix is invertible (its determinant is 1 / integer), so its exact
    # rank is n even where its float version is numerically rank deficient.
    n = 14
    H = [[Fraction(1, i + j + 1) for j in range(n)] for i in range(n)]
    assert rank_exact(H) == n
    assert np.linalg.matrix_rank(sla.hilbert(n)) < n


def test_rank_exact_detects_what_floats_cannot():
    # rows differ by 1e-20 relative: exact rank 2, float rank 1
    big = 10**20
    A = [[big, big + 1], [big + 1, big + 2]]  # det = big*(big+2) - (big+1)^2 = -1
    assert rank_exact(A) == 2
    assert rank(np.array(A, dtype=float)) == 1


def test_rank_exact_accepts_integral_floats_and_numpy_ints():
    assert rank_exact(np.array([[2.0, 4.0], [1.0, 2.0]])) == 1
    assert rank_exact(np.array([[1, 0], [0, 1]], dtype=np.int8)) == 2
    assert rank_exact([[True, False], [False, True]]) == 2


# ---------------------------------------------------------------- properties


int_matrices = st.integers(1, 6).flatmap(
    lambda m: st.integers(1, 6).flatmap(lambda n: arrays(np.int64, (m, n), elements=st.integers(-4, 4)))
)


@settings(max_examples=50, deadline=None)
@given(int_matrices)
def test_exact_rank_transpose_invariant(A):
    assert rank_exact(A) == rank_exact(A.T)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_exact_rank_of_product_is_at_most_min(data):
    m, k, n = (data.draw(st.integers(1, 5)) for _ in range(3))
    A = data.draw(arrays(np.int64, (m, k), elements=st.integers(-3, 3)))
    B = data.draw(arrays(np.int64, (k, n), elements=st.integers(-3, 3)))
    assert rank_exact(A @ B) <= min(rank_exact(A), rank_exact(B))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 12), st.integers(1, 12), st.integers(0, 12), st.integers(0, 2**32 - 1))
def test_float_rank_properties_on_low_rank_products(m, n, r, seed):
    r = min(r, m, n)
    A = low_rank(m, n, r, seed)
    assert rank(A) == rank(A.T) == r
    B = low_rank(n, 7, min(3, n), seed + 1)
    assert rank(A @ B) <= min(rank(A), rank(B))


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 8), st.integers(1, 8), st.integers(0, 2**32 - 1))
def test_rank_nullity(m, n, seed):
    # dim null(A) from scipy's SVD-based null_space plus our rank equals n
    A = low_rank(m, n, min(m, n, 3), seed)
    assert rank(A) + sla.null_space(A).shape[1] == n


# ---------------------------------------------------------------- edge cases and bad input


@pytest.mark.parametrize("shape", [(0, 0), (0, 4), (4, 0)])
def test_empty_matrices_have_rank_zero(shape):
    A = np.zeros(shape)
    assert rank(A) == 0
    assert rank_exact(A.astype(int)) == 0
    R, piv = row_echelon(A)
    assert R.shape == shape
    assert piv == ()


def test_one_by_one_and_zero_matrix():
    assert rank([[3.0]]) == rank_exact([[3]]) == 1
    assert rank([[0.0]]) == rank_exact([[0]]) == 0
    assert rank(np.zeros((3, 5))) == rank_exact(np.zeros((3, 5), dtype=int)) == 0


def test_tiny_but_nonzero_matrix_keeps_its_rank():
    # the tolerance is relative: scaling A does not change its rank
    A = low_rank(5, 5, 3, seed=2)
    assert rank(1e-200 * A) == rank(1e200 * A) == 3


def test_inputs_are_not_mutated():
    A = low_rank(6, 5, 3, seed=4)
    A_copy = A.copy()
    row_echelon(A)
    rank(A)
    np.testing.assert_array_equal(A, A_copy)
    M = [[Fraction(1, 2), 1], [1, 2]]
    rank_exact(M)
    assert M == [[Fraction(1, 2), 1], [1, 2]]


@pytest.mark.parametrize("fn", [rank, row_echelon, default_tol])
@pytest.mark.parametrize(
    ("bad", "exc", "match"),
    [
        ([1.0, 2.0], ValueError, "A must be 2-D"),
        (np.zeros((2, 2, 2)), ValueError, "A must be 2-D"),
        ([[1.0, np.nan]], ValueError, "A must contain only finite values"),
        ([[1.0, np.inf]], ValueError, "A must contain only finite values"),
        ([["a", "b"]], TypeError, "A must contain real numbers"),
    ],
)
def test_float_functions_reject_bad_input(fn, bad, exc, match):
    with pytest.raises(exc, match=match):
        fn(bad)


@pytest.mark.parametrize(("tol", "exc"), [(-1.0, ValueError), (np.nan, ValueError), ("1e-9", TypeError)])
def test_bad_tol(tol, exc):
    with pytest.raises(exc, match="tol must"):
        rank(np.eye(2), tol=tol)


@pytest.mark.parametrize(
    ("bad", "exc", "match"),
    [
        ([1, 2], ValueError, "A must be 2-D"),
        ([[0.5, 1]], ValueError, "non-integral float 0.5"),
        ([[1.0, float("nan")]], ValueError, "A must contain only finite values"),
        ([[1, "2"]], TypeError, "A must contain rational numbers"),
        ([[1, None]], TypeError, "A must contain rational numbers"),
        ([[1 + 2j, 1]], TypeError, "A must contain rational numbers"),
    ],
)
def test_rank_exact_rejects_bad_input(bad, exc, match):
    with pytest.raises(exc, match=match):
        rank_exact(bad)


# ---------------------------------------------------------------- pivoting strategies


def kahan(n, c):
    """Kahan's upper-triangular matrix: pivots s**k stay moderate while sigma_min is tiny."""
    s = np.sqrt(1 - c * c)
    return np.diag(s ** np.arange(n)) @ (np.eye(n) - c * np.triu(np.ones((n, n)), 1))


def test_partial_pivoting_overcounts_where_complete_pivoting_does_not():
    # Over many seeded 8x8 rank-3 products, partial pivoting leaves amplified rounding
    # noise above the tolerance in some of them; complete pivoting and the SVD never do.
    wrong_partial = wrong_complete = 0
    for seed in range(200):
        A = low_rank(8, 8, 3, seed)
        assert np.linalg.matrix_rank(A) == 3
        wrong_partial += rank(A, pivoting="partial") != 3
        wrong_complete += rank(A) != 3
    assert wrong_partial > 0
    assert wrong_complete == 0


def test_kahan_matrix_defeats_elimination_but_not_svd():
    # Documented limitation: sigma_min ~ 1e-18 is below numpy's tolerance, but no pivot is.
    K = kahan(100, 0.4)
    assert np.linalg.matrix_rank(K) == 99
    assert rank(K) == rank(K, pivoting="partial") == 100


@pytest.mark.parametrize("pivoting", ["complete", "partial"])
def test_both_pivotings_agree_with_numpy_on_well_separated_rank(pivoting):
    A = low_rank(12, 9, 9, seed=8)  # full column rank, well conditioned enough
    assert rank(A, pivoting=pivoting) == np.linalg.matrix_rank(A) == 9


def test_bad_pivoting_option():
    with pytest.raises(ValueError, match="pivoting must be one of"):
        rank(np.eye(2), pivoting="rook")
