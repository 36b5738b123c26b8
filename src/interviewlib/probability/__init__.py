"""Probability (chapter 2): random(7) from random(3), Bayes and naive Bayes, MLE, KL/JS."""

from interviewlib.probability.bayes import bayes_posterior, beta_binomial_update, diagnostic_posterior
from interviewlib.probability.divergence import (
    fit_gaussian_to_mixture,
    gaussian_kl,
    js_divergence,
    kl_divergence,
    mvn_kl,
)
from interviewlib.probability.mle import LogisticRegressionMLE, bernoulli_mle, gaussian_mle, poisson_mle
from interviewlib.probability.naive_bayes import MultinomialNB
from interviewlib.probability.rand_n import (
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

__all__ = [
    "METHODS",
    "CountingSource",
    "LogisticRegressionMLE",
    "MultinomialNB",
    "StreamSampler",
    "bayes_posterior",
    "bernoulli_mle",
    "beta_binomial_update",
    "diagnostic_posterior",
    "entropy_bound",
    "exact_distribution",
    "expected_calls",
    "fit_gaussian_to_mixture",
    "gaussian_kl",
    "gaussian_mle",
    "js_divergence",
    "kl_divergence",
    "mvn_kl",
    "poisson_mle",
    "recycling_sample",
    "rejection_sample",
    "sample_uniform",
    "uniform_source",
]
