r"""Kernel PCA with an RBF kernel: PCA of the centred Gram matrix.

See question q05-04.
"""

from __future__ import annotations

import numpy as np

from interviewlib._validation import as_matrix, check_is_fitted, check_scalar
from interviewlib.classic_ml.svm import _kernel

__all__ = ["KernelPCA"]


class KernelPCA:
    r"""RBF kernel PCA (Schölkopf, Smola & Müller 1998).

    With the Gram matrix :math:`K_{ij}=\exp(-\gamma\|x_i-x_j\|^2)` centred in feature space,
    :math:`\tilde K = HKH` with :math:`H=I-\tfrac1n\mathbf 1\mathbf 1^\top`, the
    eigenpairs :math:`\tilde K a_k=\lambda_k a_k` give the training projections
    :math:`\sqrt{\lambda_k}\,a_k`: PCA in the feature space without ever forming it.

    Parameters
    ----------
    n_components : int, default 2
    gamma : float, default 1.0

    Attributes
    ----------
    eigenvalues_ : numpy.ndarray, shape (k,)
        Eigenvalues of the centred Gram matrix (scikit-learn's ``eigenvalues_``).
    eigenvectors_ : numpy.ndarray, shape (n, k)
        Unit eigenvectors, largest-magnitude entry positive.
    X_fit_ : numpy.ndarray, shape (n, d)

    Notes
    -----
    See question q05-04. Costs :math:`O(n^2)` memory and :math:`O(n^3)` time, the price
    of non-linearity.

    References
    ----------
    Schölkopf, B., Smola, A. and Müller, K.-R. (1998). Nonlinear component analysis as a
    kernel eigenvalue problem. Neural Computation 10(5).

    Examples
    --------
    >>> kp = KernelPCA(n_components=1, gamma=1.0).fit([[0.0], [1.0], [2.0]])
    >>> kp.transform([[0.0], [1.0], [2.0]]).shape
    (3, 1)
    """

    def __init__(self, *, n_components=2, gamma=1.0):
        self.n_components = n_components
        self.gamma = gamma

    def fit(self, X) -> KernelPCA:
        """Fit on ``X`` (array_like, shape (n, d)); returns ``self``."""
        X = as_matrix(X, "X", allow_empty=False)
        n = X.shape[0]
        k = check_scalar(self.n_components, "n_components", kind="int", low=1, high=n)
        gamma = check_scalar(self.gamma, "gamma", low=0, low_inclusive=False)
        K = _kernel(X, X, "rbf", gamma, 3, 0.0)
        self._col_mean = K.mean(axis=0)
        self._all_mean = K.mean()
        Kc = K - self._col_mean[None, :] - self._col_mean[:, None] + self._all_mean
        w, V = np.linalg.eigh(Kc)
        w, V = w[::-1][:k], V[:, ::-1][:, :k]
        idx = np.argmax(np.abs(V), axis=0)
        V = V * np.sign(V[idx, np.arange(k)])[None, :]
        self.eigenvalues_ = np.maximum(w, 0.0)
        self.eigenvectors_ = V
        self.X_fit_ = X.copy()
        self.gamma_ = gamma
        return self

    def transform(self, X) -> np.ndarray:
        """Project new points (shape (m, d)) onto the kernel principal axes; shape (m, k)."""
        check_is_fitted(self, "eigenvectors_")
        X = as_matrix(X, "X")
        if X.shape[1] != self.X_fit_.shape[1]:
            raise ValueError(f"X must have {self.X_fit_.shape[1]} features; got {X.shape[1]}.")
        K = _kernel(X, self.X_fit_, "rbf", self.gamma_, 3, 0.0)
        Kc = K - K.mean(axis=1, keepdims=True) - self._col_mean[None, :] + self._all_mean
        scale = np.sqrt(np.where(self.eigenvalues_ > 0, self.eigenvalues_, np.inf))
        return Kc @ (self.eigenvectors_ / scale[None, :])
