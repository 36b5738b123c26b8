import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chisquare

from interviewlib.probability.rand_n import (
    DEFAULT_MIN_RANGE,
    METHODS,
    CountingSource,
    StreamSampler,
    entropy_bound,
    exact_distribution,
    expected_calls,
    recycling_sample,
    rejection_sample,
    sample_uniform,
    uniform_source,
)

# Chi-square tests on seeded samples: reject uniformity only below this p-value. A fixed
# seed makes the outcome deterministic; 1e-3 leaves room for seed changes.
P_VALUE_MIN = 1e-3
# Monte Carlo mean of calls: allow 5 standard errors.
N_SE = 5


# --- exact uniformity -----------------------------------------------------------------


@pytest.mark.parametrize("depth", [2, 4, 6, 10])
def test_rejection_exact_law_matches_closed_form(depth):
    # After k rounds of two calls: P(output j) = (1 - (2/9)^k) / 7, tail (2/9)^k.
    probs, tail = exact_distribution(3, 7, method="rejection", depth=depth)
    k = depth // 2
    assert tail == Fraction(2, 9) ** k
    assert probs == {(j,): (1 - Fraction(2, 9) ** k) / 7 for j in range(7)}


@pytest.mark.parametrize("method", METHODS)
def test_exact_law_uniform_and_tail_vanishes(method):
    tails = []
    for depth in (4, 8, 12):
        probs, tail = exact_distribution(3, 7, method=method, depth=depth)
        assert sorted(probs) == [(j,) for j in range(7)]
        assert len(set(probs.values())) == 1  # all seven outputs exactly equally likely
        assert sum(probs.values()) + tail == 1
        tails.append(tail)
    assert tails[0] > tails[1] > tails[2]
    assert tails[2] < Fraction(1, 500)


def test_stream_pairs_exactly_independent():
    # The first two outputs of the stream are jointly uniform on 49 pairs at every depth.
    probs, tail = exact_distribution(3, 7, method="stream", depth=9, n_outputs=2)
    assert sorted(probs) == sorted(itertools.product(range(7), repeat=2))
    assert len(set(probs.values())) == 1
    assert sum(probs.values()) + tail == 1


def test_exact_distribution_agrees_with_brute_force():
    # Independent check of the tree search: enumerate all 3^6 full sequences and run the
    # sampler on each; a sequence whose first-output prefix has length L is one of 3^(6-L)
    # extensions, so counting full sequences gives the same probabilities.
    depth = 6
    counts = {}
    unfinished = 0
    for seq in itertools.product(range(3), repeat=depth):
        it = iter(seq)
        try:
            out = recycling_sample(lambda it=it: next(it), 3, 7)
        except (StopIteration, RuntimeError):
            unfinished += 1
            continue
        counts[out] = counts.get(out, 0) + 1
    probs, tail = exact_distribution(3, 7, method="recycling", depth=depth)
    assert tail == Fraction(unfinished, 3**depth)
    assert probs == {(j,): Fraction(c, 3**depth) for j, c in counts.items()}


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 9), m=st.integers(2, 12), method=st.sampled_from(METHODS))
def test_exact_uniform_any_n_m(n, m, method):
    depth = max(d for d in range(1, 12) if n**d <= 800)
    depth = max(depth, math.ceil(math.log(m, n)))
    probs, tail = exact_distribution(n, m, method=method, depth=depth)
    assert len(set(probs.values())) == 1
    assert len(probs) in (0, m)
    assert sum(probs.values()) + tail == 1


# --- statistical checks ---------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_chi_square_uniform(method):
    x = sample_uniform(uniform_source(3, rng=0), 3, 7, 14_000, method=method)
    assert x.dtype == np.int64
    assert chisquare(np.bincount(x, minlength=7)).pvalue > P_VALUE_MIN
    pairs = x[:-1:2] * 7 + x[1::2]  # consecutive pairs: independence
    assert chisquare(np.bincount(pairs, minlength=49)).pvalue > P_VALUE_MIN


def test_chi_square_detects_a_biased_method():
    # The test has power: the classic wrong answer (r1 + r2 + r3) mod 7 is rejected.
    rand3 = uniform_source(3, rng=2)
    x = np.array([(rand3() + rand3() + rand3()) % 7 for _ in range(14_000)])
    assert chisquare(np.bincount(x, minlength=7)).pvalue < 1e-6


# --- call counts ----------------------------------------------------------------------


def test_expected_calls_closed_forms():
    assert expected_calls(3, 7, method="rejection") == Fraction(18, 7)
    # Hand-worked path for recycling 3 -> 7 (states 1,3,2,6,4,5 then back to 1):
    # (1 + 1 + 2/9 + 2/9 + 4/81 + 5/243) / (1 - 1/729) = 141/56.
    assert expected_calls(3, 7, method="recycling") == Fraction(141, 56)
    # A fair die from a fair coin: 4 flips by rejection, 11/3 by recycling (the
    # Knuth-Yao optimum).
    assert expected_calls(2, 6, method="rejection") == 4
    assert expected_calls(2, 6, method="recycling") == Fraction(11, 3)
    # m <= n: one call per try; rand7 -> rand3 accepts 6 of 7 values.
    assert expected_calls(7, 3, method="rejection") == Fraction(7, 6)
    # m a power of n: never rejects.
    assert expected_calls(2, 8, method="recycling") == 3


@pytest.mark.parametrize("method", ["rejection", "recycling"])
def test_simulated_calls_match_expected(method):
    src = CountingSource(uniform_source(3, rng=3), 3)
    per_output = []
    for _ in range(4000):
        before = src.calls
        sample_uniform(src, 3, 7, 1, method=method)
        per_output.append(src.calls - before)
    per_output = np.array(per_output)
    se = per_output.std(ddof=1) / np.sqrt(per_output.size)
    assert abs(per_output.mean() - float(expected_calls(3, 7, method=method))) < N_SE * se


def test_stream_calls_sandwiched_by_entropy_bound():
    # Deterministic bounds: 3^calls >= 7^outputs * final_size >= 7^outputs, and without
    # rejections 3^calls <= 7^outputs * n * min_range * (1 + tiny).
    src = CountingSource(uniform_source(3, rng=4), 3)
    outputs = 20_000
    StreamSampler(src, 3, 7).sample(outputs)
    bound = entropy_bound(3, 7)
    assert outputs * bound <= src.calls <= outputs * bound + math.log(3 * DEFAULT_MIN_RANGE, 3) + 1


def test_entropy_bound_value():
    # log_3 7 computed independently through base-2 logarithms (not a copied output)
    assert entropy_bound(3, 7) == pytest.approx(math.log2(7) / math.log2(3), rel=1e-15)
    assert entropy_bound(2, 8) == pytest.approx(3.0, rel=1e-15)


def test_every_method_respects_bound_in_expectation():
    for n, m in [(3, 7), (2, 6), (5, 7), (7, 5), (10, 3)]:
        for method in ("rejection", "recycling"):
            assert float(expected_calls(n, m, method=method)) >= entropy_bound(n, m)


def test_single_sample_functions():
    rand3 = uniform_source(3, rng=5)
    assert all(0 <= rejection_sample(rand3, 3, 7) < 7 for _ in range(50))
    assert all(0 <= recycling_sample(rand3, 3, 7) < 7 for _ in range(50))


def test_generalises_to_other_sizes():
    for n, m in [(2, 6), (7, 3), (5, 13), (6, 6)]:
        for method in METHODS:
            x = sample_uniform(uniform_source(n, rng=6), n, m, 3000, method=method)
            assert x.min() >= 0 and x.max() < m
            assert chisquare(np.bincount(x, minlength=m)).pvalue > P_VALUE_MIN


def test_stream_small_min_range_is_exact_and_works():
    probs, tail = exact_distribution(2, 3, method="stream", depth=10, min_range=4)
    assert len(set(probs.values())) == 1
    x = StreamSampler(uniform_source(2, rng=7), 2, 3, min_range=3).sample(3000)
    assert chisquare(np.bincount(x, minlength=3)).pvalue > P_VALUE_MIN


def test_sample_zero_outputs():
    assert sample_uniform(uniform_source(3, rng=0), 3, 7, 0).shape == (0,)


# --- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "m"), [(1, 7), (3, 1), (0, 7), (3, -2)])
def test_bad_sizes(n, m):
    with pytest.raises(ValueError, match=r"(n|m) must be >= 2"):
        rejection_sample(lambda: 0, n, m)


@pytest.mark.parametrize("bad", [3, -1, 7])
@pytest.mark.parametrize("method", METHODS)
def test_out_of_range_source(bad, method):
    with pytest.raises(ValueError, match=r"source must return integers in \[0, 3\)"):
        sample_uniform(lambda: bad, 3, 7, 5, method=method)


@pytest.mark.parametrize("bad", [1.0, True, "1", None])
def test_non_integer_source(bad):
    with pytest.raises(ValueError, match="source must return integers"):
        recycling_sample(lambda: bad, 3, 7)


def test_one_based_source_hint():
    with pytest.raises(ValueError, match="Subtract 1"):
        sample_uniform(lambda: 3, 3, 7, 10, method="rejection")


def test_other_bad_arguments():
    with pytest.raises(TypeError, match="callable"):
        rejection_sample(3, 3, 7)
    with pytest.raises(ValueError, match="method must be one of"):
        sample_uniform(lambda: 0, 3, 7, 1, method="mod")
    with pytest.raises(ValueError, match="min_range must be >= 7"):
        StreamSampler(lambda: 0, 3, 7, min_range=6)
    with pytest.raises(ValueError, match="wrapped for n=3"):
        rejection_sample(CountingSource(lambda: 0, 3), 5, 7)
    with pytest.raises(ValueError, match="size must be >= 0"):
        sample_uniform(lambda: 0, 3, 7, -1)
    with pytest.raises(ValueError, match="method must be one of"):
        expected_calls(3, 7, method="stream")
    with pytest.raises(ValueError, match="depth must be <= 16"):
        exact_distribution(3, 7, method="rejection", depth=40)


def test_counting_source_counts_and_checks():
    values = iter([0, 2, 1, 5])
    src = CountingSource(lambda: next(values), 3)
    assert [src(), src(), src()] == [0, 2, 1]
    assert src.calls == 3
    with pytest.raises(ValueError, match=r"got 5 on call 4"):
        src()
    with pytest.raises(ValueError, match="n must be >= 2"):
        CountingSource(lambda: 0, 1)
    with pytest.raises(TypeError, match="callable"):
        CountingSource(None, 3)


def test_uniform_source_is_uniform_and_seeded():
    a, b = uniform_source(5, rng=11), uniform_source(5, rng=11)
    xs = [a() for _ in range(5000)]
    assert xs == [b() for _ in range(5000)]
    assert all(isinstance(v, int) for v in xs[:10])
    assert chisquare(np.bincount(xs, minlength=5)).pvalue > P_VALUE_MIN
