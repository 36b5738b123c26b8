r"""Bayes' rule: discrete posteriors, the diagnostic-test base-rate example, Beta-Binomial.

Question q02-02. For hypotheses :math:`H_i` with priors :math:`P(H_i)` and data :math:`D`,

.. math::

    P(H_i \mid D) = \frac{P(D \mid H_i)\, P(H_i)}{\sum_k P(D \mid H_k)\, P(H_k)}.
"""

from __future__ import annotations

import numpy as np

from interviewlib._validation import as_float_array, check_scalar


def bayes_posterior(prior, likelihood) -> np.ndarray:
    r"""Posterior over a finite set of hypotheses.

    Parameters
    ----------
    prior : array_like of shape (k,)
        Non-negative prior weights (normalised here), not all zero.
    likelihood : array_like of shape (k,) or (n, k)
        :math:`P(D \mid H_i)` for one observation, or one row per observation set.

    Returns
    -------
    numpy.ndarray of shape (k,) or (n, k)
        Posterior probabilities, each row summing to 1.

    Raises
    ------
    ValueError
        On negative entries, mismatched lengths, an all-zero prior, or data that every
        hypothesis with prior mass deems impossible (evidence :math:`P(D) = 0`).

    Notes
    -----
    Computed as prior times likelihood divided by the evidence (their sum).
    See question q02-02.

    Examples
    --------
    >>> bayes_posterior([0.5, 0.5], [0.9, 0.3]).round(3).tolist()
    [0.75, 0.25]
    """
    prior = as_float_array(prior, "prior", ndim=1, allow_empty=False)
    like = as_float_array(likelihood, "likelihood", ndim=(1, 2), allow_empty=False)
    if np.any(prior < 0) or prior.sum() == 0:
        raise ValueError("prior must be non-negative and not all zero.")
    if np.any(like < 0):
        raise ValueError("likelihood must be non-negative.")
    if like.shape[-1] != prior.shape[0]:
        raise ValueError(
            f"likelihood must have {prior.shape[0]} entries per row (one per hypothesis); got shape {like.shape}."
        )
    joint = like * (prior / prior.sum())
    evidence = joint.sum(axis=-1, keepdims=True)
    if np.any(evidence == 0):
        raise ValueError("the evidence P(D) is 0: the data are impossible under every hypothesis with prior mass.")
    return joint / evidence


def diagnostic_posterior(prevalence: float, sensitivity: float, specificity: float) -> float:
    r"""Probability of disease given a positive test, :math:`P(D \mid +)`.

    Parameters
    ----------
    prevalence : float
        Base rate :math:`P(D)` in ``[0, 1]``.
    sensitivity : float
        True-positive rate :math:`P(+ \mid D)` in ``[0, 1]``.
    specificity : float
        True-negative rate :math:`P(- \mid \neg D)` in ``[0, 1]``.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If a probability is outside ``[0, 1]`` or a positive test is impossible.

    Notes
    -----
    .. math::

        P(D \mid +) = \frac{s\,p}{s\,p + (1 - c)(1 - p)}

    with prevalence :math:`p`, sensitivity :math:`s`, specificity :math:`c`. With a rare
    disease the false positives :math:`(1-c)(1-p)` dominate: the base-rate fallacy.
    See question q02-02.

    Examples
    --------
    >>> round(diagnostic_posterior(0.001, 0.99, 0.95), 4)
    0.0194
    """
    p = check_scalar(prevalence, "prevalence", low=0, high=1)
    s = check_scalar(sensitivity, "sensitivity", low=0, high=1)
    c = check_scalar(specificity, "specificity", low=0, high=1)
    positive = s * p + (1 - c) * (1 - p)
    if positive == 0:
        raise ValueError("a positive test has probability 0 with these rates; P(D | +) is undefined.")
    return s * p / positive


def beta_binomial_update(a: float, b: float, successes: int, trials: int) -> tuple[float, float]:
    r"""Conjugate update of a :math:`\mathrm{Beta}(a, b)` prior after binomial data.

    Parameters
    ----------
    a, b : float
        Prior pseudo-counts, both ``> 0``.
    successes : int
        Number of successes :math:`k`, ``0 <= k <= trials``.
    trials : int
        Number of trials :math:`n \ge 0`.

    Returns
    -------
    tuple of float
        Posterior parameters :math:`(a + k,\ b + n - k)`.

    Raises
    ------
    ValueError
        On non-positive ``a``/``b`` or inconsistent counts.

    Notes
    -----
    :math:`p(\theta \mid k) \propto \theta^k (1-\theta)^{n-k} \cdot \theta^{a-1}(1-\theta)^{b-1}`,
    again a Beta density. Posterior mean :math:`(a+k)/(a+b+n)` shrinks the MLE
    :math:`k/n` toward the prior mean; the MAP is :math:`(a+k-1)/(a+b+n-2)`.
    See question q02-02.

    Examples
    --------
    >>> beta_binomial_update(1, 1, 7, 10)
    (8.0, 4.0)
    """
    a = check_scalar(a, "a", low=0, low_inclusive=False)
    b = check_scalar(b, "b", low=0, low_inclusive=False)
    trials = check_scalar(trials, "trials", kind="int", low=0)
    successes = check_scalar(successes, "successes", kind="int", low=0, high=trials)
    return a + successes, b + trials - successes
