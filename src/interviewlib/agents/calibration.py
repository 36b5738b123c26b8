r"""Is the model's confidence trustworthy? Expected calibration error and accuracy-coverage curves.

A model that can abstain answers only when its confidence reaches a threshold; sweeping the
threshold trades coverage (fraction answered) for selective accuracy (accuracy on what was
answered). That only works if confidence ranks right answers above wrong ones; calibration
asks more: that among answers given with confidence 0.8, about 80% are right.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import as_float_array, check_scalar

__all__ = ["expected_calibration_error", "accuracy_coverage"]


def _check_pair(confidence: Any, correct: Any) -> tuple[np.ndarray, np.ndarray]:
    conf = as_float_array(confidence, "confidence", ndim=1, allow_empty=False)
    if np.any((conf < 0) | (conf > 1)):
        raise ValueError("confidence must lie in [0, 1].")
    ok = as_float_array(correct, "correct", ndim=1)
    if ok.shape != conf.shape:
        raise ValueError(f"correct must match confidence's shape {conf.shape}; got {ok.shape}.")
    if not np.all((ok == 0) | (ok == 1)):
        raise ValueError("correct must hold 0/1 (or bool) outcomes.")
    return conf, ok


def expected_calibration_error(confidence: Any, correct: Any, *, n_bins: int = 10) -> float:
    r"""ECE with equal-width bins: :math:`\sum_b \frac{|B_b|}{N}\,|\mathrm{acc}(B_b) - \mathrm{conf}(B_b)|`.

    Parameters
    ----------
    confidence : array_like, shape (N,)
        Confidence of each prediction, in [0, 1].
    correct : array_like of bool or 0/1, shape (N,)
        Whether each prediction was right.
    n_bins : int
        Bins :math:`(\frac{b-1}{M}, \frac{b}{M}]`, the first also holding 0 (scikit-learn's
        ``calibration_curve(strategy="uniform")`` assigns bins the same way).

    Returns
    -------
    float
        In [0, 1]; empty bins contribute nothing.

    Notes
    -----
    A binned estimate: it depends on ``n_bins`` and is biased upward for small bins. Perfect
    accuracy-vs-coverage ranking does not imply low ECE, nor the other way round (a model that
    always says 0.7 and is right 70% of the time has ECE 0 and useless ranking). See question q11-06.

    References
    ----------
    .. [1] Naeini, Cooper and Hauskrecht, "Obtaining Well Calibrated Probabilities Using Bayesian
       Binning", AAAI 2015, doi:10.1609/aaai.v29i1.9602.
    .. [2] Guo, Pleiss, Sun and Weinberger, "On Calibration of Modern Neural Networks", ICML 2017,
       arXiv:1706.04599.

    Examples
    --------
    >>> expected_calibration_error([0.9, 0.9, 0.6, 0.6], [1, 0, 1, 1], n_bins=10)
    0.4
    """
    conf, ok = _check_pair(confidence, correct)
    m = check_scalar(n_bins, "n_bins", kind="int", low=1)
    bins = np.searchsorted(np.linspace(0.0, 1.0, m + 1)[1:-1], conf)  # (N,): bin (lo, hi], as scikit-learn
    gap = np.abs(np.bincount(bins, weights=ok, minlength=m) - np.bincount(bins, weights=conf, minlength=m))  # (M,)
    return float(gap.sum() / conf.size)


def accuracy_coverage(confidence: Any, correct: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Selective prediction: answer only when confidence >= t, for every distinct threshold t.

    Returns
    -------
    thresholds : numpy.ndarray, shape (K,)
        Distinct confidences, descending.
    coverage : numpy.ndarray, shape (K,)
        Fraction of predictions with confidence >= threshold (ties are kept or dropped together).
    accuracy : numpy.ndarray, shape (K,)
        Accuracy among those (selective accuracy = 1 - selective risk).

    References
    ----------
    .. [1] Geifman and El-Yaniv, "Selective Classification for Deep Neural Networks",
       NeurIPS 2017, arXiv:1705.08500.

    Examples
    --------
    >>> t, c, a = accuracy_coverage([0.9, 0.8, 0.8, 0.3], [1, 1, 0, 0])
    >>> t.tolist(), c.tolist(), a.tolist()
    ([0.9, 0.8, 0.3], [0.25, 0.75, 1.0], [1.0, 0.6666666666666666, 0.5])
    """
    conf, ok = _check_pair(confidence, correct)
    order = np.argsort(-conf, kind="stable")
    c, o = conf[order], ok[order]
    hits = np.cumsum(o)  # (N,)
    last = np.r_[c[1:] != c[:-1], True]  # last position of each run of equal confidences
    n = np.arange(1, c.size + 1)[last]
    return c[last], n / c.size, hits[last] / n
