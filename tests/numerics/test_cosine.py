import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics.pairwise import cosine_similarity as sk_cosine

from interviewlib.numerics import cosine_similarity, pairwise_cosine_similarity

# float64 dot products of length <= 50 with O(1) entries: errors of a few ulps
ATOL = 1e-12


def test_pairwise_matches_sklearn_random():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 7))
    Y = rng.normal(size=(13, 7))
    np.testing.assert_allclose(pairwise_cosine_similarity(X, Y), sk_cosine(X, Y), atol=ATOL)
    np.testing.assert_allclose(pairwise_cosine_similarity(X), sk_cosine(X), atol=ATOL)


def test_zero_rows_give_zero_like_sklearn_and_torch():
    X = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
    Y = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, -1.0]])
    ours = pairwise_cosine_similarity(X, Y)
    np.testing.assert_allclose(ours, sk_cosine(X, Y), atol=ATOL)
    assert ours[0, 0] == 0.0 and ours[0, 1] == 0.0 and ours[1, 0] == 0.0
    t = F.cosine_similarity(torch.tensor(X)[:, None, :], torch.tensor(Y)[None, :, :], dim=-1).numpy()
    np.testing.assert_allclose(ours, t, atol=ATOL)


def test_tiny_vectors_not_clamped_unlike_torch():
    # torch clamps each norm at eps=1e-8, so two parallel vectors of norm 1e-10 give ~1e-4;
    # we return the true cosine 1.
    a = np.array([1e-10, 0.0])
    assert cosine_similarity(a, a) == pytest.approx(1.0)
    assert F.cosine_similarity(torch.tensor(a), torch.tensor(a), dim=0).item() < 1e-3


def test_hand_worked_values():
    assert cosine_similarity([1, 0], [0, 1]) == 0.0
    assert cosine_similarity([1, 2], [-2, -4]) == pytest.approx(-1.0)
    assert cosine_similarity([1, 1], [1, 0]) == pytest.approx(1 / np.sqrt(2))
    assert cosine_similarity([3, 4], [4, 3]) == pytest.approx(24 / 25)


def test_paired_matches_torch_with_broadcast_and_axis():
    rng = np.random.default_rng(1)
    A = rng.normal(size=(5, 4, 3))
    b = rng.normal(size=(4, 3))
    ref = F.cosine_similarity(torch.tensor(A), torch.tensor(b), dim=-1).numpy()
    np.testing.assert_allclose(cosine_similarity(A, b), ref, atol=ATOL)
    ref1 = F.cosine_similarity(torch.tensor(A), torch.tensor(A[::-1].copy()), dim=1).numpy()
    np.testing.assert_allclose(cosine_similarity(A, A[::-1], axis=1), ref1, atol=ATOL)


finite = st.floats(-100, 100, allow_nan=False)


@pytest.mark.parametrize("scale", [4.152923e-161, 1e-300, 1e155, 1e300])
def test_tiny_and_huge_vectors_keep_their_true_cosine(scale):
    # hypothesis found a row of 4e-161s whose squares are subnormal: cos came out 0.99995
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(4, 3)), rng.normal(size=(5, 3))
    K = pairwise_cosine_similarity(X, Y)
    np.testing.assert_allclose(pairwise_cosine_similarity(scale * X, Y), K, atol=1e-12)
    np.testing.assert_allclose(cosine_similarity(scale * X[0], Y), K[0], atol=1e-12)
    assert pairwise_cosine_similarity(np.full((1, 3), scale), np.ones((1, 3)))[0, 0] == pytest.approx(1.0, abs=1e-15)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, (4, 3), elements=finite), arrays(np.float64, (4, 3), elements=finite))
def test_properties_unit_distance_identity_and_bounds(X, Y):
    K = pairwise_cosine_similarity(X, Y)
    assert np.all(np.abs(K) <= 1.0)
    np.testing.assert_allclose(K, pairwise_cosine_similarity(Y, X).T, atol=ATOL)
    # scale invariance
    np.testing.assert_allclose(pairwise_cosine_similarity(3.0 * X, Y), K, atol=1e-9)
    # ||a - b||^2 = 2 - 2 cos for unit vectors (non-zero rows only)
    nx, ny = np.linalg.norm(X, axis=1), np.linalg.norm(Y, axis=1)
    keep_x, keep_y = nx > 1e-3, ny > 1e-3
    U, V = X[keep_x] / nx[keep_x, None], Y[keep_y] / ny[keep_y, None]
    D2 = ((U[:, None, :] - V[None, :, :]) ** 2).sum(-1)
    np.testing.assert_allclose(D2, 2 - 2 * K[np.ix_(keep_x, keep_y)], atol=1e-9)


def test_centred_cosine_is_pearson():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=30), rng.normal(size=30) + 0.5
    assert cosine_similarity(a - a.mean(), b - b.mean()) == pytest.approx(np.corrcoef(a, b)[0, 1], abs=ATOL)


def test_inputs_not_mutated():
    X = np.array([[3.0, 4.0], [0.0, 0.0]])
    X0 = X.copy()
    pairwise_cosine_similarity(X, X)
    cosine_similarity(X, X)
    np.testing.assert_array_equal(X, X0)


def test_bad_input():
    with pytest.raises(ValueError, match="same number of columns"):
        pairwise_cosine_similarity(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="X must be 2-D"):
        pairwise_cosine_similarity(np.ones(3))
    with pytest.raises(ValueError, match="finite"):
        pairwise_cosine_similarity([[np.nan, 1.0]])
    with pytest.raises(ValueError, match="broadcastable"):
        cosine_similarity(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="at least 1-D"):
        cosine_similarity(1.0, 2.0)
    with pytest.raises(ValueError, match="axis must be"):
        cosine_similarity(np.ones(3), np.ones(3), axis=1)


def test_empty_shapes():
    assert pairwise_cosine_similarity(np.ones((0, 3)), np.ones((2, 3))).shape == (0, 2)
