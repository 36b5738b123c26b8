r"""Principal component analysis via the SVD of the centred data (or the covariance eigh).

See question q05-04.
"""

from __future__ import annotations

import numpy as np

from interviewlib._validation import as_matrix, check_is_fitted, check_option, check_scalar

__all__ = ["PCA"]


def _fix_signs(components: np.ndarray) -> np.ndarray:
    """Make the largest-magnitude entry of each component positive (a deterministic sign)."""
    idx = np.argmax(np.abs(components), axis=1)
    signs = np.sign(components[np.arange(components.shape[0]), idx])
    signs[signs == 0] = 1.0
    return components * signs[:, None]


class PCA:
    r"""Principal component analysis.

    The first :math:`k` principal axes are the top eigenvectors of the sample covariance
    :math:`S=\tfrac{1}{n-1}X_c^\top X_c`; they both maximise the retained variance and
    minimise the squared reconstruction error. With the thin SVD
    :math:`X_c = U\Sigma V^\top` the axes are the rows of :math:`V^\top` and the
    variances are :math:`\sigma_i^2/(n-1)`.

    Parameters
    ----------
    n_components : int, float or None, default None
        An int keeps that many components; a float in (0, 1) keeps the fewest components
        whose cumulative explained-variance ratio reaches it; None keeps ``min(n, d)``.
    solver : {"svd", "eigh", "auto"}, default "auto"
        ``"svd"`` factorises :math:`X_c` (backward stable, accuracy :math:`\sim\epsilon\kappa`);
        ``"eigh"`` factorises :math:`X_c^\top X_c` (one pass, :math:`d\times d` work,
        but squares the condition number); ``"auto"`` uses eigh when ``n >= 10 d`` and
        ``d <= 1000`` (scikit-learn's rule since 1.5), SVD otherwise.
    whiten : bool, default False
        Scale the projections to unit variance.

    Attributes
    ----------
    mean_ : numpy.ndarray, shape (d,)
    components_ : numpy.ndarray, shape (k, d)
        Orthonormal principal axes, largest-magnitude entry of each made positive.
    explained_variance_ : numpy.ndarray, shape (k,)
    explained_variance_ratio_ : numpy.ndarray, shape (k,)
    singular_values_ : numpy.ndarray, shape (k,)
    n_components_ : int

    Notes
    -----
    See question q05-04. Zero-variance data (all rows equal) gives zero variances and a
    ratio of 0 rather than a division by zero.

    References
    ----------
    Pearson, K. (1901). On lines and planes of closest fit to systems of points in space.
    Halko, N., Martinsson, P.-G. and Tropp, J. A. (2011). Finding structure with randomness.
    SIAM Review 53(2).

    Examples
    --------
    >>> X = [[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]
    >>> p = PCA(n_components=1).fit(X)
    >>> [round(float(v), 6) for v in p.components_[0]], round(float(p.explained_variance_[0]), 6)
    ([0.707107, 0.707107], 2.0)
    """

    def __init__(self, *, n_components=None, solver="auto", whiten=False):
        self.n_components = n_components
        self.solver = solver
        self.whiten = whiten

    def fit(self, X) -> PCA:
        """Fit on ``X`` (array_like, shape (n, d)) with ``n >= 2``; returns ``self``."""
        X = as_matrix(X, "X", allow_empty=False)
        n, d = X.shape
        if n < 2:
            raise ValueError(f"X must have at least 2 samples to estimate a covariance; got {n}.")
        solver = check_option(self.solver, "solver", ("svd", "eigh", "auto"))
        kmax = min(n, d)
        if self.n_components is None:
            k, frac = kmax, None
        elif isinstance(self.n_components, float) and not float(self.n_components).is_integer():
            frac = check_scalar(self.n_components, "n_components", low=0, high=1, low_inclusive=False,
                                high_inclusive=False)
            k = kmax
        else:
            k = check_scalar(self.n_components, "n_components", kind="int", low=1, high=kmax)
            frac = None
        if solver == "auto":
            solver = "eigh" if (n >= 10 * d and d <= 1000) else "svd"
        self.mean_ = X.mean(axis=0)
        Xc = X - self.mean_
        if solver == "svd":
            _, s, Vt = np.linalg.svd(Xc, full_matrices=False)
            var = s**2 / (n - 1)
        else:
            w, V = np.linalg.eigh(Xc.T @ Xc)
            w, V = np.maximum(w[::-1], 0.0), V[:, ::-1]
            Vt, var, s = V.T, w / (n - 1), np.sqrt(w)
        total = var.sum() if solver == "svd" else float(((Xc**2).sum()) / (n - 1))
        ratio = var / total if total > 0 else np.zeros_like(var)
        if frac is not None:
            k = int(np.searchsorted(np.cumsum(ratio), frac) + 1)
            k = min(k, kmax)
        self.components_ = _fix_signs(Vt[:k])
        self.explained_variance_ = var[:k]
        self.explained_variance_ratio_ = ratio[:k]
        self.singular_values_ = s[:k]
        self.n_components_ = k
        return self

    def transform(self, X) -> np.ndarray:
        """Project ``X`` (shape (m, d)) onto the principal axes; shape (m, k)."""
        check_is_fitted(self, "components_")
        X = as_matrix(X, "X")
        if X.shape[1] != self.mean_.shape[0]:
            raise ValueError(f"X must have {self.mean_.shape[0]} features; got {X.shape[1]}.")
        Z = (X - self.mean_) @ self.components_.T
        if self.whiten:
            Z = Z / np.sqrt(np.where(self.explained_variance_ > 0, self.explained_variance_, 1.0))
        return Z

    def fit_transform(self, X) -> np.ndarray:
        """``fit(X).transform(X)``."""
        return self.fit(X).transform(X)

    def inverse_transform(self, Z) -> np.ndarray:
        """Map projections (shape (m, k)) back to the input space: the rank-k reconstruction."""
        check_is_fitted(self, "components_")
        Z = as_matrix(Z, "Z")
        if Z.shape[1] != self.n_components_:
            raise ValueError(f"Z must have {self.n_components_} columns; got {Z.shape[1]}.")
        if self.whiten:
            Z = Z * np.sqrt(self.explained_variance_)
        return Z @ self.components_ + self.mean_
