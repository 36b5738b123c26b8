import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from interviewlib.linalg import householder_qr

# Householder QR is backward stable: ||QR - A|| and ||Q^T Q - I|| are O(n eps ||A||).
# 1e-12 leaves a factor ~50 of headroom for the sizes used here.
TOL = 1e-12


def _check_factors(A, Q, R):
    k = Q.shape[1]
    scale = max(1.0, np.abs(A).max()) if A.size else 1.0
    np.testing.assert_allclose(Q @ R, A, atol=TOL * scale)
    np.testing.assert_allclose(Q.T @ Q, np.eye(k), atol=TOL)
    assert np.all(np.tril(R, -1) == 0.0)


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (5, 5), (70, 40), (1, 1), (1, 4), (4, 1)])
@pytest.mark.parametrize("mode", ["reduced", "complete"])
def test_factors_and_shapes_match_numpy(shape, mode):
    A = np.random.default_rng(0).standard_normal(shape)
    Q, R = householder_qr(A, mode=mode)
    Qn, Rn = np.linalg.qr(A, mode=mode)
    assert Q.shape == Qn.shape and R.shape == Rn.shape
    _check_factors(A, Q, R)
    # The factorisation is unique up to the signs of R's rows when A has full rank.
    k = min(shape)
    signs = np.sign(np.diag(R)[:k]) * np.sign(np.diag(Rn)[:k])
    np.testing.assert_allclose(signs[:, None] * R[:k], Rn[:k], atol=TOL)


def test_mode_r_matches_numpy_up_to_row_signs():
    A = np.random.default_rng(1).standard_normal((9, 5))
    R = householder_qr(A, mode="r")
    Rn = np.linalg.qr(A, mode="r")
    np.testing.assert_allclose(np.abs(R), np.abs(Rn), atol=TOL)


def test_hand_worked_2x2():
    # first column (3, 4) has norm 5; alpha = -sign(3) * 5 = -5
    A = np.array([[3.0, 1.0], [4.0, 2.0]])
    Q, R = householder_qr(A)
    np.testing.assert_allclose(R[0, 0], -5.0, atol=TOL)
    np.testing.assert_allclose(abs(R[1, 1]), abs(np.linalg.det(A)) / 5.0, atol=TOL)


def test_ill_conditioned_q_stays_orthogonal():
    # Classical Gram-Schmidt would lose orthogonality on a Hilbert-like matrix; Householder does not.
    n = 12
    H = 1.0 / (np.arange(n)[:, None] + np.arange(n)[None, :] + 1.0)
    Q, R = householder_qr(H)
    np.testing.assert_allclose(Q.T @ Q, np.eye(n), atol=TOL)
    np.testing.assert_allclose(Q @ R, H, atol=TOL)


def test_zero_matrix_and_zero_column():
    Q, R = householder_qr(np.zeros((4, 3)))
    assert np.all(R == 0)
    np.testing.assert_allclose(Q.T @ Q, np.eye(3), atol=TOL)
    A = np.random.default_rng(2).standard_normal((5, 3))
    A[:, 1] = 0.0
    _check_factors(A, *householder_qr(A))


@pytest.mark.parametrize("shape", [(0, 0), (0, 3), (3, 0)])
def test_empty(shape):
    Q, R = householder_qr(np.zeros(shape))
    k = min(shape)
    assert Q.shape == (shape[0], k) and R.shape == (k, shape[1])


def test_input_not_mutated():
    A = np.random.default_rng(3).standard_normal((6, 4))
    A_copy = A.copy()
    householder_qr(A, mode="complete")
    np.testing.assert_array_equal(A, A_copy)


@pytest.mark.parametrize(
    ("bad", "exc", "match"),
    [
        (np.ones(3), ValueError, "A must be 2-D"),
        (np.ones((2, 2, 2)), ValueError, "A must be 2-D"),
        (np.array([[1.0, np.nan]]), ValueError, "A must contain only finite"),
        (np.array([["a", "b"]]), TypeError, "A must contain real numbers"),
    ],
)
def test_bad_input(bad, exc, match):
    with pytest.raises(exc, match=match):
        householder_qr(bad)


def test_bad_mode():
    with pytest.raises(ValueError, match="mode must be one of"):
        householder_qr(np.eye(2), mode="full")


@settings(max_examples=40, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 8), st.integers(1, 8)),
        elements=st.floats(-10, 10, allow_nan=False),
    )
)
def test_property_orthogonal_and_reconstructs(A):
    _check_factors(A, *householder_qr(A))
