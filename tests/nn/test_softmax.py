import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from interviewlib.nn import log_softmax, softmax, softmax_backward, softmax_jacobian

# float64 round-off on O(1) numbers; anything larger would be a real bug.
TOL = 1e-12

finite_rows = arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 6)), elements=st.floats(-50, 50))


def test_matches_torch_on_random_logits():
    rng = np.random.default_rng(0)
    z = rng.normal(scale=3.0, size=(5, 7))
    zt = torch.from_numpy(z)
    np.testing.assert_allclose(softmax(z), torch.softmax(zt, dim=-1).numpy(), atol=TOL)
    np.testing.assert_allclose(log_softmax(z), torch.log_softmax(zt, dim=-1).numpy(), atol=TOL)
    np.testing.assert_allclose(softmax(z, axis=0), torch.softmax(zt, dim=0).numpy(), atol=TOL)
    np.testing.assert_allclose(softmax(z, temperature=0.3), torch.softmax(zt / 0.3, dim=-1).numpy(), atol=TOL)


def test_huge_logits_are_stable_where_naive_overflows():
    z = np.array([1e4, 0.0, -1e4])
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.exp(z) / np.exp(z).sum()
    assert np.isnan(naive).any()
    np.testing.assert_allclose(softmax(z), [1.0, 0.0, 0.0], atol=TOL)
    np.testing.assert_allclose(log_softmax(z), [0.0, -1e4, -2e4], atol=TOL)


def test_closed_forms():
    np.testing.assert_allclose(softmax([0.0, np.log(3.0)]), [0.25, 0.75], atol=TOL)
    np.testing.assert_allclose(softmax([5.0]), [1.0])
    # two classes: softmax reduces to the sigmoid of the difference
    np.testing.assert_allclose(softmax([2.0, 0.5])[0], 1 / (1 + np.exp(-1.5)), atol=TOL)


def test_temperature_limits():
    z = np.array([1.0, 3.0, 2.0])
    np.testing.assert_allclose(softmax(z, temperature=1e-3), [0.0, 1.0, 0.0], atol=1e-12)
    # z / T spans 2e-6, so p deviates from 1/3 by at most ~(1/3) * 2e-6 < 1e-6
    np.testing.assert_allclose(softmax(z, temperature=1e6), np.full(3, 1 / 3), atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(finite_rows, st.floats(-100, 100))
def test_shift_invariance_and_simplex(z, c):
    p = softmax(z)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, atol=TOL)
    assert np.all(p >= 0)
    np.testing.assert_allclose(softmax(z + c), p, atol=1e-12)
    np.testing.assert_allclose(np.exp(log_softmax(z)), p, atol=1e-12)


def test_jacobian_matches_autograd():
    z = torch.tensor([0.3, -1.2, 2.0, 0.0], dtype=torch.float64)
    J_ref = torch.autograd.functional.jacobian(lambda v: torch.softmax(v, dim=0), z).numpy()
    J = softmax_jacobian(softmax(z.numpy()))
    np.testing.assert_allclose(J, J_ref, atol=TOL)
    np.testing.assert_allclose(J, J.T, atol=TOL)
    np.testing.assert_allclose(J @ np.ones(4), 0.0, atol=TOL)  # shift invariance
    assert np.linalg.eigvalsh(J).min() > -1e-12  # positive semi-definite


def test_batched_jacobian_and_backward_match_autograd():
    rng = np.random.default_rng(1)
    z = torch.tensor(rng.normal(size=(3, 5)), requires_grad=True)
    g = torch.tensor(rng.normal(size=(3, 5)))
    torch.softmax(z, dim=1).backward(g)
    p = softmax(z.detach().numpy())
    np.testing.assert_allclose(softmax_backward(p, g.numpy()), z.grad.numpy(), atol=TOL)
    J = softmax_jacobian(p)
    assert J.shape == (3, 5, 5)
    np.testing.assert_allclose(np.einsum("nij,ni->nj", J, g.numpy()), z.grad.numpy(), atol=TOL)


def test_inputs_not_mutated():
    z = np.array([[1.0, 2.0, 3.0]])
    keep = z.copy()
    softmax(z)
    log_softmax(z)
    np.testing.assert_array_equal(z, keep)


def test_bad_input():
    with pytest.raises(ValueError, match="at least 1-D"):
        softmax(3.0)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        softmax([1.0, 2.0], temperature=0.0)
    with pytest.raises(ValueError, match="axis must be in"):
        softmax([1.0, 2.0], axis=1)
    with pytest.raises(ValueError, match="finite"):
        log_softmax([1.0, np.inf])
    with pytest.raises(ValueError, match="at least one entry"):
        softmax(np.zeros((2, 0)))
    with pytest.raises(ValueError, match="sum to 1"):
        softmax_jacobian([1.0, 2.0])
    with pytest.raises(ValueError, match="non-negative"):
        softmax_jacobian([1.5, -0.5])
    with pytest.raises(ValueError, match="shape of p"):
        softmax_backward([0.5, 0.5], [1.0, 2.0, 3.0])


def test_masked_minus_inf_logits_match_torch():
    # -inf is how masked positions arrive; torch accepts it and so must we.
    rng = np.random.default_rng(3)
    z = rng.normal(size=(5, 7))
    z[rng.random(size=z.shape) < 0.4] = -np.inf
    z[:, 0] = rng.normal(size=5)  # every row keeps at least one real logit
    ref = torch.softmax(torch.from_numpy(z), dim=-1).numpy()
    np.testing.assert_allclose(softmax(z), ref, rtol=0, atol=TOL)
    ref_log = torch.log_softmax(torch.from_numpy(z), dim=-1).numpy()
    np.testing.assert_array_equal(np.isneginf(log_softmax(z)), np.isneginf(ref_log))
    finite = np.isfinite(ref_log)
    np.testing.assert_allclose(log_softmax(z)[finite], ref_log[finite], rtol=0, atol=TOL)


def test_all_masked_row_is_defined():
    z = np.array([[0.0, 1.0], [-np.inf, -np.inf]])
    p = softmax(z)
    np.testing.assert_array_equal(p[1], [0.0, 0.0])  # no mass where nothing may be attended
    assert np.all(np.isneginf(log_softmax(z)[1]))
    np.testing.assert_allclose(p[0], torch.softmax(torch.tensor([0.0, 1.0], dtype=torch.float64), 0).numpy())


def test_temperature_never_overflows():
    # z / T would overflow to inf (and inf - inf = NaN); subtracting the max first gives the limit.
    np.testing.assert_array_equal(softmax([1e300, 0.0, -1e300], temperature=1e-10), [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(softmax([1.0, 2.0, 3.0], temperature=1e-300), [0.0, 0.0, 1.0])
    z = np.array([3.0, 1.0, -2.0])
    for t in (1e-3, 0.5, 7.0):  # where torch's z / T is finite, the two agree
        ref = torch.softmax(torch.from_numpy(z) / t, dim=0).numpy()
        np.testing.assert_allclose(softmax(z, temperature=t), ref, rtol=0, atol=TOL)


def test_nan_and_plus_inf_are_rejected():
    with pytest.raises(ValueError, match="finite or -inf"):
        softmax([0.0, np.nan])
    with pytest.raises(ValueError, match="finite or -inf"):
        softmax([0.0, np.inf])
