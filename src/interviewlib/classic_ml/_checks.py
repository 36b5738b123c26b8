"""Argument checks shared by the clustering estimators (sample weights, sparse input).

The house rules: name the argument, say what was expected and what arrived, give the fix.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse

from interviewlib._validation import as_float_array


def reject_sparse(X: Any, name: str, accepted: str) -> None:
    """Raise a clear ``TypeError`` if ``X`` is a scipy.sparse matrix or array.

    Without this check ``np.asarray`` wraps a sparse matrix in a 0-d object array and the
    error that follows ("must contain real numbers; got dtype object") hides the cause.

    Examples
    --------
    >>> reject_sparse(sparse.eye(2, format="csr"), "X", "a dense array_like")
    Traceback (most recent call last):
    ...
    TypeError: X must be a dense array_like; got a scipy.sparse csr matrix of shape (2, 2). Convert it with X.toarray().
    """
    if sparse.issparse(X):
        raise TypeError(
            f"{name} must be {accepted}; got a scipy.sparse {X.format} matrix of shape {X.shape}. "
            f"Convert it with {name}.toarray()."
        )


def check_sample_weight(sample_weight: Any, n_samples: int, *, positive_sum: bool = True) -> np.ndarray:
    """Validate ``sample_weight``: ``None`` gives ones, otherwise shape ``(n_samples,)``,
    finite, non-negative and (if ``positive_sum``) with a positive sum. Returns a new
    float64 array.

    Examples
    --------
    >>> check_sample_weight(None, 2).tolist()
    [1.0, 1.0]
    >>> check_sample_weight([1.0, -1.0], 2)
    Traceback (most recent call last):
    ...
    ValueError: sample_weight must be non-negative; got 1 negative entries (smallest -1.0).
    """
    if sample_weight is None:
        return np.ones(n_samples)
    reject_sparse(sample_weight, "sample_weight", "a dense 1-D array_like")
    w = as_float_array(sample_weight, "sample_weight", ndim=1, finite=False).copy()
    if w.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight must have one entry per sample, shape ({n_samples},); got shape {w.shape}."
        )
    if not np.all(np.isfinite(w)):
        bad = int(w.size - np.count_nonzero(np.isfinite(w)))
        raise ValueError(f"sample_weight must contain only finite values; got {bad} NaN or infinite entries.")
    if np.any(w < 0):
        raise ValueError(
            f"sample_weight must be non-negative; got {int(np.sum(w < 0))} negative entries (smallest {w.min()})."
        )
    if positive_sum and n_samples and not w.sum() > 0:
        raise ValueError("sample_weight must have a positive sum; got all zeros.")
    return w
