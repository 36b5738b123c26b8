r"""Cosine similarity: paired (along an axis) and pairwise (all rows of X against all rows of Y).

The cosine of the angle between two vectors is

.. math:: \cos(a, b) = \frac{a \cdot b}{\lVert a \rVert_2 \, \lVert b \rVert_2}.

It is undefined when either vector is zero. This module follows scikit-learn and PyTorch in
returning **0** in that case (scikit-learn divides by a "safe" norm that replaces norms
below ``10 * machine epsilon`` by 1; PyTorch clamps each norm from below by ``eps = 1e-8``).
Here a row whose norm is exactly zero is left as a zero row, so every similarity involving
it is 0, and every other row is divided by its true norm (no clamping), so very short but
non-zero vectors still get their true cosine.
"""

from __future__ import annotations

import numpy as np

from interviewlib._validation import as_float_array

__all__ = ["cosine_similarity", "pairwise_cosine_similarity"]


def _safe_normalize_rows(X: np.ndarray) -> np.ndarray:
    """Rows divided by their Euclidean norm; zero rows stay zero (new array).

    Each row is first divided by its largest absolute entry, as LAPACK's ``dnrm2`` does:
    squaring entries near 1e-161 lands in subnormal numbers (the norm of a row of 4e-161
    came out 5e-5 wrong) and squaring entries near 1e155 overflows to inf.
    """
    scale = np.max(np.abs(X), axis=-1, keepdims=True)
    Xs = X / np.where(scale == 0.0, 1.0, scale)
    norms = np.linalg.norm(Xs, axis=-1, keepdims=True)
    return Xs / np.where(norms == 0.0, 1.0, norms)


def _pairwise_cosine_core(X: np.ndarray, Y: np.ndarray | None) -> np.ndarray:
    Xn = _safe_normalize_rows(X)
    Yn = Xn if Y is None else _safe_normalize_rows(Y)
    K = Xn @ Yn.T
    np.clip(K, -1.0, 1.0, out=K)  # rounding can push |cos| a few ulps past 1
    return K


def pairwise_cosine_similarity(X, Y=None) -> np.ndarray:
    r"""Cosine similarity between every row of ``X`` and every row of ``Y``.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Query vectors, one per row.
    Y : array_like, shape (m, d), optional
        Key vectors. Defaults to ``X`` (the Gram matrix of cosines).

    Returns
    -------
    numpy.ndarray, shape (n, m)
        ``K[i, j] = cos(X[i], Y[j])``, clipped to ``[-1, 1]``. Entries that involve a zero
        row are 0 (the scikit-learn convention).

    Raises
    ------
    ValueError
        If ``X`` or ``Y`` is not 2-D, contains NaN/inf, or the numbers of columns differ.

    Notes
    -----
    Normalise once, then one matrix product: :math:`K = \hat X \hat Y^\top` costs
    :math:`O(nmd)` and runs in BLAS, which is why it is as fast as scikit-learn's version.
    For unit vectors :math:`\lVert a-b\rVert^2 = 2 - 2\cos(a, b)`, so ranking by cosine
    equals ranking by Euclidean distance after normalisation. See question q03-01.

    References
    ----------
    scikit-learn ``sklearn.metrics.pairwise.cosine_similarity`` (v1.9).

    Examples
    --------
    >>> K = pairwise_cosine_similarity([[1, 0], [1, 1], [0, 0]], [[1, 0], [0, 2]])
    >>> K.round(4).tolist()
    [[1.0, 0.0], [0.7071, 0.7071], [0.0, 0.0]]
    """
    Xa = as_float_array(X, "X", ndim=2)
    if Y is None:
        return _pairwise_cosine_core(Xa, None)
    Ya = as_float_array(Y, "Y", ndim=2)
    if Xa.shape[1] != Ya.shape[1]:
        raise ValueError(
            f"X and Y must have the same number of columns; got X of shape {Xa.shape} and Y of shape {Ya.shape}."
        )
    return _pairwise_cosine_core(Xa, Ya)


def cosine_similarity(a, b, *, axis: int = -1) -> np.ndarray | float:
    r"""Paired cosine similarity of ``a`` and ``b`` along ``axis`` (like ``torch.nn.functional.cosine_similarity``).

    Parameters
    ----------
    a, b : array_like
        Arrays whose shapes broadcast against each other, e.g. two vectors of shape (d,),
        or a batch (n, d) against one query (d,).
    axis : int
        The axis that holds the vector components (default: the last).

    Returns
    -------
    float or numpy.ndarray
        The broadcast shape with ``axis`` removed (a Python float for two vectors). Pairs
        in which either vector is zero give 0.

    Raises
    ------
    ValueError
        If an input is 0-D or contains NaN/inf, the shapes do not broadcast, or ``axis``
        is out of range.

    Notes
    -----
    Unlike PyTorch, which divides by ``max(||a||, eps) * max(||b||, eps)`` with
    ``eps = 1e-8``, we do not clamp: a vector of norm ``1e-10`` still gets its true cosine.
    See question q03-01.

    Examples
    --------
    >>> round(cosine_similarity([1, 0], [1, 1]), 6)
    0.707107
    >>> cosine_similarity([[1, 0], [0, 0]], [3, 0]).tolist()
    [1.0, 0.0]
    """
    A = as_float_array(a, "a")
    B = as_float_array(b, "b")
    if A.ndim == 0 or B.ndim == 0:
        raise ValueError(f"a and b must be at least 1-D vectors; got shapes {A.shape} and {B.shape}.")
    try:
        shape = np.broadcast_shapes(A.shape, B.shape)
    except ValueError as exc:
        raise ValueError(f"a and b must have broadcastable shapes; got {A.shape} and {B.shape}.") from exc
    nd = len(shape)
    if not -nd <= axis < nd:
        raise ValueError(f"axis must be in [{-nd}, {nd - 1}] for broadcast shape {shape}; got {axis}.")
    A = np.moveaxis(np.broadcast_to(A, shape), axis, -1)
    B = np.moveaxis(np.broadcast_to(B, shape), axis, -1)
    out = np.clip(np.sum(_safe_normalize_rows(A) * _safe_normalize_rows(B), axis=-1), -1.0, 1.0)
    return float(out) if out.ndim == 0 else out
