r"""Maximum likelihood estimation: closed forms and logistic regression by Newton/IRLS.

Question q02-03. The MLE maximises :math:`\ell(\theta) = \sum_i \log p(x_i \mid \theta)`,
equivalently minimises the negative log-likelihood (NLL), i.e. the cross-entropy between
the empirical distribution and the model, i.e. :math:`\mathrm{KL}(\hat p_{\text{data}}
\,\|\, p_\theta)` up to a constant.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.special import expit, log_expit

from interviewlib._validation import as_float_array, as_matrix, check_is_fitted, check_scalar


def _sample(x, name: str = "x") -> np.ndarray:
    return as_float_array(x, name, ndim=1, allow_empty=False)


def bernoulli_mle(x) -> float:
    r"""MLE of the success probability from 0/1 observations: the sample mean.

    Parameters
    ----------
    x : array_like of shape (n,)
        Observations, each 0 or 1.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``x`` is empty or contains values other than 0 and 1.

    Notes
    -----
    :math:`\ell(p) = k \log p + (n-k)\log(1-p)`, :math:`\ell'(p) = 0 \Rightarrow
    \hat p = k/n`. With all zeros (or all ones) the MLE sits on the boundary, 0 (or 1):
    the small-sample failure that a Beta prior (MAP) fixes. See question q02-03.

    Examples
    --------
    >>> bernoulli_mle([1, 0, 1, 1])
    0.75
    """
    x = _sample(x)
    if not np.all((x == 0) | (x == 1)):
        raise ValueError("x must contain only 0 and 1 (Bernoulli observations).")
    return float(x.mean())


def gaussian_mle(x) -> tuple[float, float]:
    r"""MLE of a normal distribution: sample mean and the *biased* variance.

    Parameters
    ----------
    x : array_like of shape (n,)
        Real observations.

    Returns
    -------
    tuple of float
        :math:`(\hat\mu, \hat\sigma^2)` with :math:`\hat\sigma^2 = \frac1n\sum(x_i-\hat\mu)^2`.

    Raises
    ------
    ValueError
        If ``x`` is empty or not finite.

    Notes
    -----
    :math:`E[\hat\sigma^2] = \frac{n-1}{n}\sigma^2`: the MLE is biased (it uses the
    fitted mean), but consistent. A single observation gives variance 0, where the
    likelihood is unbounded. See question q02-03.

    Examples
    --------
    >>> gaussian_mle([1.0, 2.0, 3.0, 4.0])
    (2.5, 1.25)
    """
    x = _sample(x)
    mu = float(x.mean())
    return mu, float(np.mean((x - mu) ** 2))


def poisson_mle(x) -> float:
    r"""MLE of the Poisson rate from counts: the sample mean.

    Parameters
    ----------
    x : array_like of shape (n,)
        Non-negative integer counts.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``x`` is empty or contains negative or non-integer values.

    Notes
    -----
    :math:`\ell(\lambda) = \sum x_i \log\lambda - n\lambda - \sum \log x_i!`, so
    :math:`\hat\lambda = \bar x`. Fisher information :math:`I(\lambda) = 1/\lambda` per
    observation, hence :math:`\mathrm{Var}(\hat\lambda) \approx \lambda / n`.
    See question q02-03.

    Examples
    --------
    >>> poisson_mle([0, 2, 1, 3])
    1.5
    """
    x = _sample(x)
    if np.any(x < 0) or np.any(x != np.round(x)):
        raise ValueError("x must contain non-negative integer counts (Poisson observations).")
    return float(x.mean())


class LogisticRegressionMLE:
    r"""Binary logistic regression fitted by Newton's method (IRLS), optional L2 (MAP).

    Parameters
    ----------
    l2 : float, default 0.0
        Strength :math:`\lambda \ge 0` of the penalty :math:`\frac{\lambda}{2}\|w\|^2` on the
        weights (not the intercept). ``0`` is plain MLE; :math:`\lambda > 0` is the MAP
        estimate under the prior :math:`w \sim \mathcal N(0, \lambda^{-1} I)`, the same
        model as scikit-learn's ``LogisticRegression(C=1/l2)``.
    fit_intercept : bool, default True
        Add an unpenalised intercept.
    tol : float, default 1e-10
        Stop when the Newton decrement :math:`g^\top H^{-1} g / 2` falls below ``tol``.
    max_iter : int, default 100
        Maximum number of Newton steps.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
    coef_ : ndarray of shape (1, n_features)
    intercept_ : ndarray of shape (1,)
    n_iter_ : int
        Newton steps taken.
    hessian_ : ndarray of shape (p, p)
        Hessian of the penalised NLL at the solution (intercept last when fitted);
        its inverse estimates the covariance of the MLE (observed Fisher information).

    Notes
    -----
    NLL :math:`L(w) = -\sum_i [y_i \log \sigma(z_i) + (1-y_i)\log(1-\sigma(z_i))]`,
    :math:`z = Xw`. Gradient :math:`X^\top(p - y)`, Hessian :math:`X^\top W X` with
    :math:`W = \mathrm{diag}(p(1-p))`. The Newton step solves
    :math:`H\Delta = g`, which is a weighted least-squares problem (hence *iteratively
    reweighted least squares*). A backtracking line search keeps every step a descent
    step. Convergence is quadratic near the optimum: a handful of iterations. Each
    step costs :math:`O(n p^2 + p^3)`.

    If the classes are linearly separable and ``l2 == 0`` the MLE does not exist
    (:math:`\|w\| \to \infty`); when the fitted ``w`` separates the training data a
    ``RuntimeWarning`` says so (quasi-complete separation is not detected). Use
    ``l2 > 0`` there. See question q02-03.

    References
    ----------
    .. [1] P. McCullagh, J. A. Nelder, *Generalized Linear Models*, 2nd ed., 1989.

    Examples
    --------
    >>> X = [[0.0], [1.0], [2.0], [3.0], [1.5], [2.5]]
    >>> y = [0, 0, 1, 1, 1, 0]
    >>> clf = LogisticRegressionMLE().fit(X, y)
    >>> clf.predict([[0.0], [3.0]]).tolist()
    [0, 1]
    >>> bool(np.abs(clf.gradient_).max() < 1e-8)
    True
    """

    def __init__(self, *, l2: float = 0.0, fit_intercept: bool = True, tol: float = 1e-10, max_iter: int = 100):
        self.l2 = l2
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter

    def _design(self, X: np.ndarray) -> np.ndarray:
        if self.fit_intercept:
            return np.hstack([X, np.ones((X.shape[0], 1))])
        return X

    def fit(self, X, y) -> LogisticRegressionMLE:
        """Fit by damped Newton steps from ``w = 0``.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
        y : array_like of shape (n_samples,)
            Exactly two distinct labels; the larger (after sorting) is the positive class.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            On bad shapes, non-finite values, not exactly two classes, or bad
            hyperparameters.
        """
        l2 = check_scalar(self.l2, "l2", low=0)
        tol = check_scalar(self.tol, "tol", low=0, low_inclusive=False)
        max_iter = check_scalar(self.max_iter, "max_iter", kind="int", low=1)
        X = as_matrix(X, "X", allow_empty=False)
        y = np.asarray(y)
        if y.ndim != 1 or y.shape[0] != X.shape[0]:
            raise ValueError(f"y must be 1-D with {X.shape[0]} labels (one per row of X); got shape {y.shape}.")
        classes, t = np.unique(y, return_inverse=True)
        if classes.size != 2:
            raise ValueError(f"y must contain exactly 2 classes (binary logistic regression); got {classes.size}.")
        t = t.astype(np.float64)
        A = self._design(X)  # (n, p)
        p = A.shape[1]
        penalty = np.full(p, l2)
        if self.fit_intercept:
            penalty[-1] = 0.0

        def nll(w: np.ndarray) -> float:
            z = A @ w
            return float(-(t @ log_expit(z) + (1 - t) @ log_expit(-z)) + 0.5 * penalty @ (w * w))

        w = np.zeros(p)
        f = nll(w)
        converged = False
        n_iter = 0
        for n_iter in range(1, max_iter + 1):  # noqa: B007  (n_iter is reported)
            mu = expit(A @ w)  # (n,)
            g = A.T @ (mu - t) + penalty * w  # (p,)
            H = (A * (mu * (1 - mu))[:, None]).T @ A + np.diag(penalty)  # (p, p)
            try:
                step = np.linalg.solve(H, g)
            except np.linalg.LinAlgError:
                step = np.linalg.lstsq(H, g, rcond=None)[0]
            decrement = 0.5 * float(g @ step)
            if decrement < tol:  # take this last (tiny) step: quadratic convergence
                w, f = w - step, nll(w - step)
                converged = True
                break
            eta = 1.0
            while True:  # backtracking (Armijo) line search
                w_new = w - eta * step
                f_new = nll(w_new)
                if f_new <= f - 0.25 * eta * 2 * decrement or eta < 1e-10:
                    break
                eta *= 0.5
            w, f = w_new, f_new
        if not converged:
            warnings.warn(
                f"Newton did not converge in {max_iter} iterations. Raise max_iter or set l2 > 0.",
                RuntimeWarning,
                stacklevel=2,
            )
        if l2 == 0 and np.all((2 * t - 1) * (A @ w) > 0):
            warnings.warn(
                "the classes are linearly separated by the fitted w, so the MLE does not exist "
                "(scaling w up always lowers the NLL); the coefficients only reflect the stopping rule. "
                "Set l2 > 0 (MAP with a Gaussian prior).",
                RuntimeWarning,
                stacklevel=2,
            )
        mu = expit(A @ w)
        self.classes_ = classes
        self.coef_ = w[: X.shape[1]][None, :]
        self.intercept_ = np.array([w[-1] if self.fit_intercept else 0.0])
        self.n_iter_ = n_iter
        self.gradient_ = A.T @ (mu - t) + penalty * w
        self.hessian_ = (A * (mu * (1 - mu))[:, None]).T @ A + np.diag(penalty)
        self.nll_ = f
        return self

    def decision_function(self, X) -> np.ndarray:
        """Logits :math:`Xw + b`, shape (n_samples,)."""
        check_is_fitted(self, ("coef_", "intercept_"))
        X = as_matrix(X, "X")
        if X.shape[1] != self.coef_.shape[1]:
            raise ValueError(f"X must have {self.coef_.shape[1]} features, as in fit; got {X.shape[1]}.")
        return X @ self.coef_[0] + self.intercept_[0]

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n_samples, 2), columns in ``classes_`` order."""
        p1 = expit(self.decision_function(X))
        return np.column_stack([1 - p1, p1])

    def predict(self, X) -> np.ndarray:
        """Predicted labels, shape (n_samples,)."""
        z = self.decision_function(X)
        return self.classes_[(z > 0).astype(int)]
