"""majority_vote vs collections.Counter, the two-answer binomial tail, ECE and accuracy-coverage vs brute force and
scikit-learn's calibration_curve, bad input."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.calibration import calibration_curve

from interviewlib.agents import accuracy_coverage, expected_calibration_error, majority_vote


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_majority_vote_vs_counter(seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(-1, 4, size=(20, int(rng.integers(1, 9))))
    winner, share = majority_vote(a)
    for row, w, s in zip(a.tolist(), winner, share):
        c = Counter(x for x in row if x >= 0)
        if not c:
            assert w == -1 and s == 0
            continue
        top = max(c.values())
        assert w == min(k for k, v in c.items() if v == top) and s == top / len(row)


def test_two_answer_binomial_tail():
    rng = np.random.default_rng(0)
    n, p, trials = 7, 0.65, 40_000
    w, _ = majority_vote((rng.random((trials, n)) > p).astype(int))
    exact = stats.binom.sf(n // 2, n, p)
    assert abs((w == 0).mean() - exact) < 4 * np.sqrt(exact * (1 - exact) / trials)  # 4 standard errors


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 15))
def test_ece_vs_loop_and_sklearn(seed, m):
    rng = np.random.default_rng(seed)
    conf = rng.random(200)
    ok = rng.random(200) < conf**2
    loop = 0.0
    for b in range(m):
        lo, hi = b / m, (b + 1) / m
        sel = (conf > lo) & (conf <= hi) if b else (conf <= hi)
        if sel.any():
            loop += sel.mean() * abs(ok[sel].mean() - conf[sel].mean())
    assert expected_calibration_error(conf, ok, n_bins=m) == pytest.approx(loop, abs=1e-12)
    if ok.any() and not ok.all():
        pt, pp = calibration_curve(ok, conf, n_bins=m, strategy="uniform")
        counts = np.bincount(np.searchsorted(np.linspace(0, 1, m + 1)[1:-1], conf), minlength=m)
        ref = np.sum(counts[counts > 0] / conf.size * np.abs(pt - pp))
        assert expected_calibration_error(conf, ok, n_bins=m) == pytest.approx(ref, abs=1e-12)


def test_ece_closed_forms():
    assert expected_calibration_error([0.7] * 10, [1] * 7 + [0] * 3) == pytest.approx(0.0)
    assert expected_calibration_error([1.0, 1.0], [0, 0]) == pytest.approx(1.0)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_accuracy_coverage_vs_brute_force(seed):
    rng = np.random.default_rng(seed)
    conf = rng.integers(0, 6, size=30) / 5  # ties on purpose
    ok = rng.random(30) < 0.6
    t, c, a = accuracy_coverage(conf, ok)
    assert t.tolist() == sorted(set(conf.tolist()), reverse=True)
    for ti, ci, ai in zip(t, c, a):
        sel = conf >= ti
        assert ci == pytest.approx(sel.mean()) and ai == pytest.approx(ok[sel].mean())


@pytest.mark.parametrize("bad", [None, "not valid", float("nan"), [[1.0, 2.0], [3.0]]])
def test_bad_input(bad):
    with pytest.raises((TypeError, ValueError), match="answers"):
        majority_vote(bad)
    with pytest.raises((TypeError, ValueError), match="confidence"):
        expected_calibration_error(bad, [1])
    with pytest.raises((TypeError, ValueError), match="confidence"):
        accuracy_coverage(bad, [1])


def test_bad_arguments():
    with pytest.raises(ValueError, match="confidence"):
        expected_calibration_error([1.5], [1])
    with pytest.raises(ValueError, match="correct"):
        expected_calibration_error([0.5], [2])
    with pytest.raises(ValueError, match="correct"):
        accuracy_coverage([0.5, 0.2], [1])
    with pytest.raises(ValueError, match="n_bins"):
        expected_calibration_error([0.5], [1], n_bins=0)
    with pytest.raises(ValueError, match="answers"):
        majority_vote([1, 2, 3])
