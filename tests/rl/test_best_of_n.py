import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewlib.rl import best_of_n_expectation, best_of_n_kl_bound

# float64 sums of at most a few hundred terms: rounding only.
ATOL = 1e-10


def _brute_force(proxy, gold, n):
    """Average over every n-subset of the gold score of its proxy-argmax (numpy, itertools)."""
    vals = [gold[list(c)][np.argmax(proxy[list(c)])] for c in itertools.combinations(range(len(proxy)), n)]
    return float(np.mean(vals))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 8))
def test_equals_enumeration_of_all_subsets(seed, N):
    rng = np.random.default_rng(seed)
    proxy, gold = rng.normal(size=N), rng.normal(size=N)  # distinct proxies almost surely
    for n in range(1, N + 1):
        ours = best_of_n_expectation(torch.from_numpy(proxy), torch.from_numpy(gold), n).item()
        assert ours == pytest.approx(_brute_force(proxy, gold, n), abs=ATOL)


def test_rows_closed_forms_and_monotone_self_curve():
    rng = np.random.default_rng(0)
    proxy = torch.from_numpy(rng.normal(size=(4, 30)))
    gold = torch.from_numpy(rng.normal(size=(4, 30)))
    assert torch.allclose(best_of_n_expectation(proxy, gold, 1), gold.mean(1), atol=ATOL, rtol=0)
    top = gold.gather(1, proxy.argmax(1, keepdim=True)).squeeze(1)
    assert torch.allclose(best_of_n_expectation(proxy, gold, 30), top, atol=ATOL, rtol=0)
    row = torch.stack([best_of_n_expectation(proxy[0], gold[0], n) for n in range(1, 31)])
    assert torch.allclose(row, torch.stack([best_of_n_expectation(proxy, gold, n)[0] for n in range(1, 31)]))
    self_curve = torch.stack([best_of_n_expectation(proxy, proxy, n) for n in range(1, 31)])  # (30, 4)
    assert torch.all(self_curve[1:] >= self_curve[:-1] - ATOL)  # E[max of n] grows with n
    # expected max of n i.i.d. draws from the empirical distribution: 1 - F^n form via ranks
    x = torch.sort(proxy[0]).values.numpy()
    n = 5
    pmax = np.array([math.comb(i, n - 1) for i in range(30)]) / math.comb(30, n)
    assert best_of_n_expectation(proxy[0], proxy[0], n).item() == pytest.approx(float((pmax * x).sum()), abs=ATOL)


def test_kl_bound():
    assert best_of_n_kl_bound(1) == 0.0
    assert best_of_n_kl_bound(4) == pytest.approx(math.log(4) - 0.75)
    # exact for a continuous base distribution: KL(BoN || base) = E_bon[log(n F^{n-1})] by quadrature
    n = 8
    u = (np.arange(200_000) + 0.5) / 200_000  # quantiles of the base
    dens = n * u ** (n - 1)
    kl = float(np.mean(dens * np.log(dens)))
    assert kl == pytest.approx(best_of_n_kl_bound(n), abs=1e-6)


def test_bad_input():
    x = torch.zeros(3)
    for bad in (None, "not valid", [[1.0, 2.0], [3.0]]):
        with pytest.raises(TypeError, match="proxy must be a torch.Tensor"):
            best_of_n_expectation(bad, x, 1)
    with pytest.raises(ValueError, match="proxy must not contain NaN"):
        best_of_n_expectation(torch.tensor([float("nan")]), torch.zeros(1), 1)
    with pytest.raises(ValueError, match="gold must have the shape"):
        best_of_n_expectation(x, torch.zeros(4), 1)
    with pytest.raises(ValueError, match="n must be an integer in"):
        best_of_n_expectation(x, x, 4)
    with pytest.raises(ValueError, match="1-D"):
        best_of_n_expectation(torch.zeros(2, 2, 2), torch.zeros(2, 2, 2), 1)
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        best_of_n_kl_bound(0)
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        best_of_n_kl_bound(None)
