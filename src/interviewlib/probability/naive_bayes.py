r"""Multinomial naive Bayes from scratch, in log space with additive smoothing.

The model of question q02-02: a document is a vector of feature counts
:math:`x \in \mathbb{N}^d`; given its class :math:`c`, each token is drawn independently
from a categorical distribution :math:`\theta_c` over the :math:`d` features ("naive"
conditional independence). By Bayes' rule

.. math::

    \log P(c \mid x) = \log \pi_c + \sum_j x_j \log \theta_{cj} - \log Z(x),

where the multinomial coefficient cancels between classes. Additive (Laplace for
:math:`\alpha = 1`) smoothing :math:`\hat\theta_{cj} = (N_{cj} + \alpha) / (N_c + \alpha d)`
keeps a feature unseen in a class from zeroing the whole product.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from interviewlib._validation import as_float_array, check_is_fitted, check_scalar


def _check_labels(y, n: int) -> np.ndarray:
    try:
        y = np.asarray(y)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"y must be a 1-D array of class labels; got {type(y).__name__} ({exc}).") from exc
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"y must be 1-D with {n} labels (one per row of X); got shape {y.shape}.")
    if y.dtype == object and y.size:  # Python objects: all numbers or all strings become a plain dtype
        y = np.array(y.tolist())
    if y.dtype.kind not in "biufUS":
        kinds = sorted({type(v).__name__ for v in y.tolist()})
        raise TypeError(f"y must hold integer, float or string labels; got {', '.join(kinds) or y.dtype}.")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise ValueError(f"y must not contain NaN or infinite labels; got {int(np.sum(~np.isfinite(y)))}.")
    return y


class MultinomialNB:
    r"""Multinomial naive Bayes classifier (matches ``sklearn.naive_bayes.MultinomialNB``).

    Parameters
    ----------
    alpha : float, default 1.0
        Additive smoothing, ``alpha > 0`` (1 = Laplace, < 1 = Lidstone). Zero is
        rejected: it gives :math:`\log 0 = -\infty` for unseen features and NaN scores.
        (scikit-learn >= 1.4 keeps ``alpha`` as given by default, ``force_alpha=True``;
        with ``force_alpha=False`` it raises values below 1e-10 to 1e-10.)
    fit_prior : bool, default True
        Learn class priors from class frequencies; if False use a uniform prior.
    class_prior : array_like of shape (n_classes,), optional
        Fixed class priors (in the order of ``classes_``); overrides ``fit_prior``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted class labels.
    class_count_ : ndarray of shape (n_classes,)
        Number of training samples per class.
    feature_count_ : ndarray of shape (n_classes, n_features)
        Summed feature counts :math:`N_{cj}` per class.
    class_log_prior_ : ndarray of shape (n_classes,)
        :math:`\log \pi_c`.
    feature_log_prob_ : ndarray of shape (n_classes, n_features)
        :math:`\log \hat\theta_{cj}`.
    n_features_in_ : int

    Notes
    -----
    Fitting is one matrix product (one-hot labels transposed times counts), so it is
    :math:`O(n d C)`; prediction is one product :math:`X \log\theta^\top`. Scores are
    normalised with ``logsumexp``, never by exponentiating, so long documents do not
    underflow. Only dense input and unit sample weights are supported.
    See question q02-02.

    References
    ----------
    .. [1] C. D. Manning, P. Raghavan, H. Schütze, *Introduction to Information
       Retrieval*, ch. 13, Cambridge University Press, 2008.

    Examples
    --------
    >>> X = [[2, 1, 0], [3, 0, 0], [0, 1, 3], [0, 2, 2]]
    >>> clf = MultinomialNB().fit(X, ["ham", "ham", "spam", "spam"])
    >>> clf.predict([[1, 0, 0], [0, 0, 1]]).tolist()
    ['ham', 'spam']
    >>> np.exp(clf.feature_log_prob_).sum(axis=1).round(12).tolist()
    [1.0, 1.0]
    """

    def __init__(self, *, alpha: float = 1.0, fit_prior: bool = True, class_prior=None) -> None:
        self.alpha = alpha
        self.fit_prior = fit_prior
        self.class_prior = class_prior

    def fit(self, X, y) -> MultinomialNB:
        """Count features per class and compute smoothed log-probabilities.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            Non-negative counts (or frequencies such as tf-idf).
        y : array_like of shape (n_samples,)
            Class labels: integers, finite floats or strings.

        Returns
        -------
        self

        Raises
        ------
        TypeError
            If ``y`` is ragged or holds something other than numbers or strings (``None``,
            complex numbers, objects).
        ValueError
            If ``X`` is not 2-D, empty or negative, if ``y`` has the wrong length or NaN or
            infinite labels (scikit-learn refuses them too; ``np.unique`` would make NaN a
            class), if ``alpha <= 0``, or if ``class_prior`` is malformed.
        """
        alpha = check_scalar(self.alpha, "alpha", low=0, low_inclusive=False)
        X = _check_counts(X)
        y = _check_labels(y, X.shape[0])
        classes, codes = np.unique(y, return_inverse=True)
        onehot = np.zeros((X.shape[0], classes.size))  # (n, C)
        onehot[np.arange(X.shape[0]), codes] = 1.0
        self.classes_ = classes
        self.n_features_in_ = X.shape[1]
        self.class_count_ = onehot.sum(axis=0)  # (C,)
        self.feature_count_ = onehot.T @ X  # (C, d)
        smoothed = self.feature_count_ + alpha
        self.feature_log_prob_ = np.log(smoothed) - np.log(smoothed.sum(axis=1, keepdims=True))
        self.class_log_prior_ = self._log_prior(classes.size)
        return self

    def _log_prior(self, n_classes: int) -> np.ndarray:
        if self.class_prior is not None:
            prior = as_float_array(self.class_prior, "class_prior", ndim=1)
            if prior.shape[0] != n_classes or np.any(prior <= 0) or not np.isclose(prior.sum(), 1.0):
                raise ValueError(
                    f"class_prior must hold {n_classes} positive probabilities summing to 1 "
                    f"(one per class in classes_); got {prior.tolist()}."
                )
            return np.log(prior)
        if self.fit_prior:
            return np.log(self.class_count_) - np.log(self.class_count_.sum())
        return np.full(n_classes, -np.log(n_classes))

    def _joint_log_likelihood(self, X) -> np.ndarray:
        check_is_fitted(self, ("feature_log_prob_", "class_log_prior_"))
        X = _check_counts(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X must have {self.n_features_in_} features, as in fit; got {X.shape[1]}.")
        return X @ self.feature_log_prob_.T + self.class_log_prior_  # (n, C)

    def predict_log_proba(self, X) -> np.ndarray:
        """Log posterior probabilities, shape (n_samples, n_classes)."""
        jll = self._joint_log_likelihood(X)
        return jll - logsumexp(jll, axis=1, keepdims=True)

    def predict_proba(self, X) -> np.ndarray:
        """Posterior probabilities, shape (n_samples, n_classes)."""
        return np.exp(self.predict_log_proba(X))

    def predict(self, X) -> np.ndarray:
        """Most probable class per row, shape (n_samples,)."""
        jll = self._joint_log_likelihood(X)
        return self.classes_[np.argmax(jll, axis=1)]


def _check_counts(X) -> np.ndarray:
    X = as_float_array(X, "X", ndim=2)
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X must have at least one sample and one feature; got shape {X.shape}.")
    if np.any(X < 0):
        raise ValueError("X must contain non-negative counts (multinomial naive Bayes); got negative entries.")
    return X
