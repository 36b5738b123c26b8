r"""Binary support vector classifier trained by SMO with second-order working-set selection.

See question q05-03.
"""

from __future__ import annotations

import numpy as np

from interviewlib._validation import as_float_array, as_matrix, check_is_fitted, check_option, check_scalar

__all__ = ["SVC", "kernel_matrix", "smo_solve"]

_TAU = 1e-12  # LIBSVM's floor for a non-positive curvature a_ij


def kernel_matrix(X, Y=None, *, kernel: str = "rbf", gamma: float = 1.0, degree: int = 3, coef0: float = 0.0):
    r"""Kernel matrix :math:`K_{ij} = k(x_i, y_j)`.

    ``"linear"``: :math:`x^\top y`; ``"rbf"``: :math:`\exp(-\gamma\|x-y\|^2)`;
    ``"poly"``: :math:`(\gamma x^\top y + c_0)^{d}`.

    Parameters
    ----------
    X : array_like, shape (n, d)
    Y : array_like, shape (m, d), optional
        Defaults to ``X``.
    kernel : {"linear", "rbf", "poly"}
    gamma : float
        ``> 0``; unused by the linear kernel.
    degree : int
    coef0 : float

    Returns
    -------
    numpy.ndarray, shape (n, m)

    Raises
    ------
    ValueError
        On mismatched feature counts, unknown kernel or ``gamma <= 0``.

    Notes
    -----
    See question q05-03. Storing it costs :math:`O(n^2)` memory, the main reason kernel
    SVMs stop scaling beyond a few tens of thousands of samples.

    Examples
    --------
    >>> K = kernel_matrix([[0.0], [1.0]], kernel="rbf", gamma=1.0)
    >>> round(float(K[0, 1]), 6) == round(float(np.exp(-1.0)), 6)
    True
    """
    X = as_matrix(X, "X")
    Y = X if Y is None else as_matrix(Y, "Y")
    if X.shape[1] != Y.shape[1]:
        raise ValueError(f"X and Y must have the same number of features; got {X.shape[1]} and {Y.shape[1]}.")
    check_option(kernel, "kernel", ("linear", "rbf", "poly"))
    gamma = check_scalar(gamma, "gamma", low=0, low_inclusive=False)
    degree = check_scalar(degree, "degree", kind="int", low=1)
    coef0 = check_scalar(coef0, "coef0")
    return _kernel(X, Y, kernel, gamma, degree, coef0)


def _kernel(X, Y, kernel, gamma, degree, coef0):
    G = X @ Y.T
    if kernel == "linear":
        return G
    if kernel == "poly":
        return (gamma * G + coef0) ** degree
    D = (X * X).sum(1)[:, None] - 2.0 * G + (Y * Y).sum(1)[None, :]
    return np.exp(-gamma * np.maximum(D, 0.0))


def smo_solve(K, y, C: float, *, tol: float = 1e-3, max_iter: int = 1_000_000):
    r"""Solve the soft-margin SVM dual with SMO and the WSS2 rule of Fan, Chen & Lin (2005).

    .. math::

        \min_\alpha \tfrac12 \alpha^\top Q\alpha - e^\top\alpha,\quad
        Q_{ij}=y_iy_jK_{ij},\quad 0\le\alpha_i\le C,\quad y^\top\alpha=0 .

    Each step picks :math:`i=\arg\max_{t\in I_{up}} -y_tG_t` (the maximal KKT
    violator) and then :math:`j` in :math:`I_{low}` minimising the second-order decrease
    :math:`-b_{it}^2/a_{it}` with :math:`b_{it}=-y_iG_i+y_tG_t>0` and
    :math:`a_{it}=K_{ii}+K_{tt}-2K_{it}`; the two multipliers are updated in closed form
    and clipped to the box. Stops when :math:`m(\alpha)-M(\alpha)<` ``tol``.

    Parameters
    ----------
    K : array_like, shape (n, n)
        Symmetric kernel matrix.
    y : array_like, shape (n,)
        Labels in {-1, +1}.
    C : float
        Box constraint, ``> 0``.
    tol : float
        Stopping tolerance on the maximal violating pair (LIBSVM's ``eps``, default 1e-3).
    max_iter : int

    Returns
    -------
    alpha : numpy.ndarray, shape (n,)
    rho : float
        Decision function :math:`f(x)=\sum_i \alpha_i y_i k(x_i,x) - \rho`.
    n_iter : int

    Raises
    ------
    ValueError
        On bad shapes, labels other than +-1 or ``C <= 0``.

    Notes
    -----
    See question q05-03. Only two kernel rows are touched per step, so this loop is
    :math:`O(n)` per iteration; LIBSVM adds a kernel cache and shrinking on top.

    References
    ----------
    Fan, R.-E., Chen, P.-H. and Lin, C.-J. (2005). Working set selection using second order
    information for training support vector machines. JMLR 6, 1889-1918.

    Examples
    --------
    >>> X = np.array([[-1.0], [1.0]])
    >>> alpha, rho, _ = smo_solve(X @ X.T, [-1.0, 1.0], C=10.0)
    >>> [round(float(a), 6) for a in alpha], round(rho, 6)
    ([0.5, 0.5], 0.0)
    """
    K = as_matrix(K, "K", square=True)
    y = as_float_array(y, "y", ndim=1)
    if y.shape[0] != K.shape[0]:
        raise ValueError(f"y must have one label per row of K; got {y.shape[0]} labels for {K.shape[0]} rows.")
    if not np.all(np.abs(y) == 1):
        raise ValueError("y must contain only -1 and +1.")
    C = check_scalar(C, "C", low=0, low_inclusive=False)
    tol = check_scalar(tol, "tol", low=0, low_inclusive=False)
    max_iter = check_scalar(max_iter, "max_iter", kind="int", low=1)
    return _smo_core(K, y, C, tol, max_iter)


def _smo_core(K: np.ndarray, y: np.ndarray, C: float, tol: float, max_iter: int):
    n = y.shape[0]
    alpha = np.zeros(n)
    G = -np.ones(n)  # gradient of the dual objective, Q alpha - e
    diag = np.diag(K).copy()
    pos = y > 0
    n_iter = 0
    for it in range(1, max_iter + 1):
        n_iter = it
        minus_yG = -y * G
        up = np.where(pos, alpha < C, alpha > 0)  # I_up: alpha_t can move "up" along y_t
        low = np.where(pos, alpha > 0, alpha < C)  # I_low
        cand = np.where(up, minus_yG, -np.inf)
        i = int(np.argmax(cand))
        m_val = cand[i]
        M_val = np.min(np.where(low, minus_yG, np.inf))
        if m_val - M_val < tol:
            break
        Ki = K[i]
        b = m_val - minus_yG  # b_it = -y_i G_i + y_t G_t
        a = diag[i] + diag - 2.0 * Ki
        a = np.where(a > 0, a, _TAU)
        score = np.where(low & (b > 0), -(b * b) / a, np.inf)
        j = int(np.argmin(score))
        # move alpha_i by y_i t and alpha_j by -y_j t (keeps y^T alpha fixed)
        t = b[j] / a[j]
        lo_i, hi_i = (-alpha[i], C - alpha[i]) if y[i] > 0 else (alpha[i] - C, alpha[i])
        lo_j, hi_j = (alpha[j] - C, alpha[j]) if y[j] > 0 else (-alpha[j], C - alpha[j])
        t = min(max(t, lo_i, lo_j), hi_i, hi_j)
        alpha[i] = min(max(alpha[i] + y[i] * t, 0.0), C)
        alpha[j] = min(max(alpha[j] - y[j] * t, 0.0), C)
        G += t * y * (Ki - K[j])
    rho = _rho(alpha, y, G, C)
    return alpha, rho, n_iter


def _rho(alpha, y, G, C) -> float:
    """Offset as in LIBSVM: mean of y_i G_i over free SVs, else the middle of the feasible range."""
    yG = y * G
    free = (alpha > 0) & (alpha < C)
    if free.any():
        return float(yG[free].mean())
    at_up = alpha >= C
    ub_mask = (at_up & (y < 0)) | (~at_up & (y > 0))
    ub = yG[ub_mask].min() if ub_mask.any() else np.inf
    lb = yG[~ub_mask].max() if (~ub_mask).any() else -np.inf
    return float((ub + lb) / 2)


class SVC:
    r"""Soft-margin kernel SVM for two classes, trained by :func:`smo_solve`.

    Parameters
    ----------
    C : float, default 1.0
    kernel : {"linear", "rbf", "poly"}, default "rbf"
    gamma : float or "scale", default "scale"
        ``"scale"`` is :math:`1/(d\,\mathrm{Var}(X))`, scikit-learn's default.
    degree : int, default 3
    coef0 : float, default 0.0
    tol : float, default 1e-3
    max_iter : int, default 1_000_000

    Attributes
    ----------
    classes_ : numpy.ndarray, shape (2,)
        Sorted labels; ``classes_[1]`` is the positive class.
    support_ : numpy.ndarray of int
        Indices of the support vectors (``alpha_i > 0``).
    support_vectors_ : numpy.ndarray
    dual_coef_ : numpy.ndarray, shape (n_SV,)
        :math:`\alpha_i y_i` of the support vectors.
    alpha_ : numpy.ndarray, shape (n,)
    intercept_ : float
        :math:`-\rho`.
    dual_objective_ : float
        :math:`\sum_i\alpha_i - \tfrac12\sum_{ij}\alpha_i\alpha_jy_iy_jK_{ij}` (to maximise).
    n_iter_ : int

    Notes
    -----
    See question q05-03. No probabilities and no multiclass: both need wrappers (Platt
    scaling, one-vs-one), which is one of the limits discussed there.

    Examples
    --------
    >>> X = [[0.0, 0.0], [0.0, 1.0], [3.0, 0.0], [3.0, 1.0]]
    >>> clf = SVC(kernel="linear", C=10.0).fit(X, [0, 0, 1, 1])
    >>> clf.predict([[0.5, 0.5], [2.5, 0.5]]).tolist()
    [0, 1]
    """

    def __init__(self, *, C=1.0, kernel="rbf", gamma="scale", degree=3, coef0=0.0, tol=1e-3, max_iter=1_000_000):
        self.C = C
        self.kernel = kernel
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, X, y) -> SVC:
        """Fit on ``X`` (array_like, shape (n, d)) and two-class labels ``y`` (shape (n,))."""
        X = as_matrix(X, "X", allow_empty=False)
        y_in = np.asarray(y)
        if y_in.ndim != 1 or y_in.shape[0] != X.shape[0]:
            raise ValueError(f"y must be 1-D with one label per row of X; got shape {y_in.shape} for X {X.shape}.")
        classes = np.unique(y_in)
        if classes.size != 2:
            raise ValueError(f"y must contain exactly two classes (binary SVC); got {classes.size}.")
        C = check_scalar(self.C, "C", low=0, low_inclusive=False)
        kernel = check_option(self.kernel, "kernel", ("linear", "rbf", "poly"))
        if isinstance(self.gamma, str):
            check_option(self.gamma, "gamma", ("scale",))
            var = X.var()
            gamma = 1.0 / (X.shape[1] * var) if var > 0 else 1.0
        else:
            gamma = check_scalar(self.gamma, "gamma", low=0, low_inclusive=False)
        degree = check_scalar(self.degree, "degree", kind="int", low=1)
        coef0 = check_scalar(self.coef0, "coef0")
        tol = check_scalar(self.tol, "tol", low=0, low_inclusive=False)
        max_iter = check_scalar(self.max_iter, "max_iter", kind="int", low=1)
        s = np.where(y_in == classes[1], 1.0, -1.0)
        K = _kernel(X, X, kernel, gamma, degree, coef0)
        alpha, rho, n_iter = _smo_core(K, s, C, tol, max_iter)
        sv = np.flatnonzero(alpha > 0)
        ay = alpha * s
        self.classes_ = classes
        self.gamma_ = gamma
        self.alpha_ = alpha
        self.support_ = sv
        self.support_vectors_ = X[sv].copy()
        self.dual_coef_ = ay[sv]
        self.intercept_ = -rho
        self.dual_objective_ = float(alpha.sum() - 0.5 * ay[sv] @ K[np.ix_(sv, sv)] @ ay[sv])
        self.n_iter_ = n_iter
        return self

    def decision_function(self, X) -> np.ndarray:
        r"""Signed score :math:`\sum_i \alpha_i y_i k(x_i, x) + b`; positive means ``classes_[1]``."""
        check_is_fitted(self, "support_vectors_")
        X = as_matrix(X, "X")
        if X.shape[1] != self.support_vectors_.shape[1]:
            raise ValueError(f"X must have {self.support_vectors_.shape[1]} features; got {X.shape[1]}.")
        K = _kernel(X, self.support_vectors_, self.kernel, self.gamma_, self.degree, float(self.coef0))
        return K @ self.dual_coef_ + self.intercept_

    def predict(self, X) -> np.ndarray:
        """Class labels for the rows of ``X``."""
        scores = self.decision_function(X)
        return self.classes_[(scores > 0).astype(int)]
