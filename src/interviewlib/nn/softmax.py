r"""Softmax, log-softmax and the softmax Jacobian (numpy, float64).

The softmax of a vector :math:`z \in \mathbb{R}^K` is
:math:`\mathrm{softmax}(z)_i = e^{z_i} / \sum_j e^{z_j}`. Subtracting :math:`\max_j z_j`
first changes nothing mathematically (shift invariance) but keeps every exponent
:math:`\le 0`, so nothing overflows.
"""

from __future__ import annotations

import numpy as np

from interviewlib._validation import as_float_array, check_scalar

__all__ = ["log_softmax", "softmax", "softmax_backward", "softmax_jacobian"]


def _check_axis(axis: int, ndim: int) -> int:
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"axis must be an integer; got {type(axis).__name__}.")
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis must be in [{-ndim}, {ndim - 1}] for a {ndim}-D input; got {axis}.")
    return int(axis)


def _check_logits(z) -> np.ndarray:
    """Logits may hold -inf (masked positions, as torch accepts); NaN and +inf are rejected."""
    z = as_float_array(z, "z", finite=False)
    if np.isnan(z).any() or np.isposinf(z).any():
        raise ValueError(
            f"z must be finite or -inf (a masked logit); got {int(np.isnan(z).sum())} NaN and "
            f"{int(np.isposinf(z).sum())} +inf entries."
        )
    return z


def _shifted(z: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """``z - max(z)`` (every entry <= 0, the largest exactly 0) and the rows that are all -inf."""
    m = np.max(z, axis=axis, keepdims=True)
    empty = np.isneginf(m)  # a row with every logit masked
    return z - np.where(empty, 0.0, m), empty


def _log_softmax_core(z: np.ndarray, axis: int, temperature: float = 1.0) -> np.ndarray:
    shifted, empty = _shifted(z, axis)
    with np.errstate(over="ignore"):  # after the shift only -inf can come out: exp(-inf) = 0 is exact
        shifted = shifted / temperature
    total = np.sum(np.exp(shifted), axis=axis, keepdims=True)  # >= 1 except in all -inf rows
    out = shifted - np.log(np.where(empty, 1.0, total))
    return np.where(empty, -np.inf, out)  # all -inf rows: log 0 = -inf everywhere, by definition


def _softmax_core(z: np.ndarray, axis: int, temperature: float = 1.0) -> np.ndarray:
    shifted, empty = _shifted(z, axis)
    with np.errstate(over="ignore"):  # after the shift only -inf can come out: exp(-inf) = 0 is exact
        e = np.exp(shifted / temperature)
    total = np.sum(e, axis=axis, keepdims=True)
    return np.where(empty, 0.0, e / np.where(empty, 1.0, total))  # all -inf rows: zeros, by definition


def softmax(z, axis: int = -1, *, temperature: float = 1.0) -> np.ndarray:
    r"""Numerically stable softmax along ``axis``, optionally with a temperature.

    Parameters
    ----------
    z : array_like, shape (..., K, ...)
        Logits; at least 1-D, finite or ``-inf`` (a masked position, as torch accepts).
    axis : int
        Axis over which the probabilities sum to one.
    temperature : float
        :math:`T > 0`; computes :math:`\mathrm{softmax}(z / T)`. :math:`T \to 0` approaches
        a one-hot argmax, :math:`T \to \infty` the uniform distribution.

    Returns
    -------
    numpy.ndarray
        Probabilities with the shape of ``z``, non-negative, summing to one along ``axis``.
        A slice whose logits are all ``-inf`` (everything masked) is defined as all zeros
        (torch returns NaN there; zeros is what a fully masked attention row should
        contribute, as in :func:`interviewlib.transformer.attention.scaled_dot_product_attention`).

    Raises
    ------
    ValueError
        If ``z`` is 0-D or empty along ``axis``, contains NaN or ``+inf``, or ``temperature <= 0``.

    Notes
    -----
    ``softmax(z + c) == softmax(z)`` for any constant ``c``, which is why subtracting the
    maximum is free. The maximum is subtracted *before* dividing by the temperature, so
    ``z / T`` never overflows (a tiny ``T`` or a huge ``z`` gives the one-hot limit, not NaN).
    See question q06-07.

    References
    ----------
    .. [1] Bridle, "Probabilistic interpretation of feedforward classification network
       outputs", 1990.

    Examples
    --------
    >>> p = softmax([1000.0, 1000.0, 0.0])
    >>> [round(float(v), 6) for v in p]
    [0.5, 0.5, 0.0]
    >>> softmax([[0.0, -np.inf], [-np.inf, -np.inf]]).tolist()
    [[1.0, 0.0], [0.0, 0.0]]
    """
    z = _check_logits(z)
    if z.ndim == 0:
        raise ValueError("z must be at least 1-D; got a 0-D scalar.")
    axis = _check_axis(axis, z.ndim)
    if z.shape[axis] == 0:
        raise ValueError(f"z must have at least one entry along axis {axis}; got shape {z.shape}.")
    temperature = check_scalar(temperature, "temperature", low=0, low_inclusive=False)
    return _softmax_core(z, axis, temperature)


def log_softmax(z, axis: int = -1) -> np.ndarray:
    r"""Numerically stable :math:`\log \mathrm{softmax}(z) = z - \mathrm{logsumexp}(z)`.

    Parameters
    ----------
    z : array_like, shape (..., K, ...)
        Logits; at least 1-D, finite or ``-inf``.
    axis : int
        Axis of the classes.

    Returns
    -------
    numpy.ndarray
        Log-probabilities with the shape of ``z`` (all :math:`\le 0`); ``-inf`` where the
        logit is ``-inf``, and everywhere in a slice whose logits are all ``-inf``.

    Raises
    ------
    ValueError
        As :func:`softmax`.

    Notes
    -----
    Computing ``np.log(softmax(z))`` underflows to ``-inf`` as soon as a probability is
    below ~1e-308; the log-sum-exp form stays finite. See questions q06-04 and q06-07.

    Examples
    --------
    >>> round(float(log_softmax([0.0, -1000.0])[1]), 6)
    -1000.0
    """
    z = _check_logits(z)
    if z.ndim == 0:
        raise ValueError("z must be at least 1-D; got a 0-D scalar.")
    axis = _check_axis(axis, z.ndim)
    if z.shape[axis] == 0:
        raise ValueError(f"z must have at least one entry along axis {axis}; got shape {z.shape}.")
    return _log_softmax_core(z, axis)


def softmax_jacobian(p) -> np.ndarray:
    r"""Jacobian :math:`\partial p / \partial z = \mathrm{diag}(p) - p p^\top` of the softmax.

    Parameters
    ----------
    p : array_like, shape (K,) or (N, K)
        Softmax output(s) (rows of non-negative numbers summing to one).

    Returns
    -------
    numpy.ndarray, shape (K, K) or (N, K, K)
        ``J[..., i, j] = dp_i / dz_j``; symmetric, positive semi-definite, rows sum to 0.

    Raises
    ------
    ValueError
        If ``p`` is not 1-D or 2-D, is empty, has negative entries or rows not summing to 1.

    Notes
    -----
    :math:`\partial p_i/\partial z_j = p_i(\delta_{ij} - p_j)`. The all-ones vector is in
    the null space (shift invariance). See question q06-07.

    Examples
    --------
    >>> J = softmax_jacobian([0.5, 0.5])
    >>> J.tolist()
    [[0.25, -0.25], [-0.25, 0.25]]
    """
    p = _check_probabilities(p)
    return _jacobian_core(p)


def _jacobian_core(p: np.ndarray) -> np.ndarray:
    eye = np.eye(p.shape[-1])
    return p[..., :, None] * eye - p[..., :, None] * p[..., None, :]


def _check_probabilities(p) -> np.ndarray:
    p = as_float_array(p, "p", ndim=(1, 2), allow_empty=False)
    if p.shape[-1] == 0:
        raise ValueError(f"p must have at least one class; got shape {p.shape}.")
    if np.any(p < 0):
        raise ValueError("p must be non-negative (a softmax output); got negative entries.")
    if not np.allclose(p.sum(axis=-1), 1.0, atol=1e-8):
        raise ValueError("p must sum to 1 along its last axis (a softmax output); pass softmax(z), not z.")
    return p


def softmax_backward(p, grad_p) -> np.ndarray:
    r"""Vector-Jacobian product: gradient w.r.t. the logits from the gradient w.r.t. ``p``.

    Parameters
    ----------
    p : array_like, shape (N, K) or (K,)
        Softmax output (last axis = classes).
    grad_p : array_like, same shape as ``p``
        Upstream gradient :math:`\partial L / \partial p`.

    Returns
    -------
    numpy.ndarray, same shape as ``p``
        :math:`\partial L/\partial z = p \odot (g - \langle g, p\rangle)`, computed in
        :math:`O(K)` per row without forming the :math:`K \times K` Jacobian.

    Raises
    ------
    ValueError
        If the shapes differ or ``p`` is not a probability vector.

    Notes
    -----
    See question q06-07.

    Examples
    --------
    >>> softmax_backward([0.5, 0.5], [1.0, 0.0]).tolist()
    [0.25, -0.25]
    """
    p = _check_probabilities(p)
    g = as_float_array(grad_p, "grad_p")
    if g.shape != p.shape:
        raise ValueError(f"grad_p must have the shape of p {p.shape}; got {g.shape}.")
    return p * (g - np.sum(g * p, axis=-1, keepdims=True))
