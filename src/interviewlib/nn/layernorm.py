r"""LayerNorm and RMSNorm: forward and hand-derived backward passes (numpy, float64).

Both normalise each token (each row) over its own feature axis, so they do not depend on
the other samples of the batch. LayerNorm centres and scales,
:math:`y = \gamma (x - \mu)/\sqrt{\sigma^2 + \epsilon} + \beta`; RMSNorm only rescales,
:math:`y = \gamma x / \sqrt{\overline{x^2} + \epsilon}`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from interviewlib._validation import as_float_array, check_scalar

__all__ = ["NormCache", "layernorm_backward", "layernorm_forward", "rmsnorm_backward", "rmsnorm_forward"]


class NormCache(NamedTuple):
    """What the backward pass needs: normalised input, 1/std per row, gamma."""

    x_hat: np.ndarray  # (..., D)
    inv_std: np.ndarray  # (..., 1)
    gamma: np.ndarray  # (D,)


def _check(x, gamma, beta, eps, *, need_beta: bool):
    x = as_float_array(x, "x")
    if x.ndim < 1 or x.shape[-1] == 0:
        raise ValueError(f"x must be at least 1-D with a non-empty last (feature) axis; got shape {x.shape}.")
    d = x.shape[-1]
    gamma = as_float_array(gamma, "gamma", ndim=1)
    if gamma.shape != (d,):
        raise ValueError(f"gamma must have shape ({d},) to match the last axis of x; got {gamma.shape}.")
    if need_beta:
        beta = as_float_array(beta, "beta", ndim=1)
        if beta.shape != (d,):
            raise ValueError(f"beta must have shape ({d},) to match the last axis of x; got {beta.shape}.")
    eps = check_scalar(eps, "eps", low=0.0, low_inclusive=False)
    return x, gamma, beta, eps


def layernorm_forward(x, gamma, beta, *, eps: float = 1e-5) -> tuple[np.ndarray, NormCache]:
    r"""LayerNorm over the last axis, matching ``torch.nn.LayerNorm(D)``.

    Parameters
    ----------
    x : array_like, shape (..., D)
        Input, e.g. (B, T, D) token features.
    gamma, beta : array_like, shape (D,)
        Elementwise affine parameters.
    eps : float > 0
        Added to the (biased) variance.

    Returns
    -------
    y : numpy.ndarray, shape (..., D)
    cache : NormCache

    Raises
    ------
    ValueError
        On shape mismatch, empty feature axis or ``eps <= 0``.

    Notes
    -----
    Statistics are per row, so train and eval modes are identical and padding rows do not
    affect the other rows. See question q06-03.

    References
    ----------
    .. [1] Ba, Kiros and Hinton, "Layer Normalization", arXiv:1607.06450, 2016.

    Examples
    --------
    >>> y, _ = layernorm_forward([[1.0, 3.0]], [1.0, 1.0], [0.0, 0.0], eps=1e-12)
    >>> y.round(6).tolist()
    [[-1.0, 1.0]]
    """
    x, gamma, beta, eps = _check(x, gamma, beta, eps, need_beta=True)
    mu = x.mean(axis=-1, keepdims=True)
    inv_std = 1.0 / np.sqrt(x.var(axis=-1, keepdims=True) + eps)  # (..., 1)
    x_hat = (x - mu) * inv_std
    return gamma * x_hat + beta, NormCache(x_hat, inv_std, gamma)


def layernorm_backward(dy, cache: NormCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""LayerNorm backward: :math:`(\partial L/\partial x, \partial L/\partial\gamma, \partial L/\partial\beta)`.

    Parameters
    ----------
    dy : array_like, shape (..., D)
        Upstream gradient.
    cache : NormCache
        From :func:`layernorm_forward`.

    Returns
    -------
    dx : numpy.ndarray, shape (..., D)
    dgamma, dbeta : numpy.ndarray, shape (D,)

    Raises
    ------
    TypeError
        If ``cache`` is not a :class:`NormCache` or ``dy`` is not numeric.
    ValueError
        If ``dy`` does not have the forward input's shape.

    Notes
    -----
    Same algebra as BatchNorm, transposed: with :math:`g = \gamma \odot \partial L/\partial y`,
    :math:`\partial L/\partial x = \frac{1}{D\sigma}(D g - \sum_j g_j - \hat x \sum_j g_j\hat x_j)`
    per row. See question q06-03.

    Examples
    --------
    >>> y, cache = layernorm_forward([[1.0, 3.0]], [1.0, 1.0], [0.0, 0.0])
    >>> dx, dg, db = layernorm_backward([[1.0, 1.0]], cache)
    >>> dx.round(12).tolist(), db.tolist()
    ([[0.0, 0.0]], [1.0, 1.0])
    """
    dy = _check_dy(dy, cache, "layernorm_forward")
    x_hat, inv_std, gamma = cache
    d = dy.shape[-1]
    lead = tuple(range(dy.ndim - 1))
    dgamma = (dy * x_hat).sum(axis=lead)
    dbeta = dy.sum(axis=lead)
    g = dy * gamma
    dx = inv_std / d * (d * g - g.sum(axis=-1, keepdims=True) - x_hat * (g * x_hat).sum(axis=-1, keepdims=True))
    return dx, dgamma, dbeta


def _check_dy(dy, cache: NormCache, producer: str) -> np.ndarray:
    if not isinstance(cache, NormCache):
        raise TypeError(f"cache must be the NormCache returned by {producer}; got {type(cache).__name__}.")
    dy = as_float_array(dy, "dy")
    if dy.shape != cache.x_hat.shape:
        raise ValueError(f"dy must have the shape of the forward input {cache.x_hat.shape}; got {dy.shape}.")
    return dy


def rmsnorm_forward(x, gamma, *, eps: float = 1e-6) -> tuple[np.ndarray, NormCache]:
    r"""RMSNorm over the last axis, matching ``torch.nn.RMSNorm(D, eps=eps)``.

    Parameters
    ----------
    x : array_like, shape (..., D)
    gamma : array_like, shape (D,)
    eps : float > 0
        Added to the mean square. (``torch.nn.RMSNorm`` defaults to the dtype's machine
        epsilon when ``eps=None``; pass it explicitly to compare.)

    Returns
    -------
    y : numpy.ndarray, shape (..., D)
    cache : NormCache
        ``x_hat = x / rms``, ``inv_std = 1 / rms``.

    Raises
    ------
    ValueError
        On shape mismatch, empty feature axis or ``eps <= 0``.

    Notes
    -----
    No mean subtraction and no :math:`\beta`: cheaper (one reduction instead of two) and,
    in Transformers, as good as LayerNorm. See question q06-03.

    References
    ----------
    .. [1] Zhang and Sennrich, "Root Mean Square Layer Normalization", NeurIPS 2019,
       arXiv:1910.07467.

    Examples
    --------
    >>> y, _ = rmsnorm_forward([[3.0, 4.0]], [1.0, 1.0], eps=1e-12)
    >>> (y * np.sqrt(12.5)).round(6).tolist()
    [[3.0, 4.0]]
    """
    x, gamma, _, eps = _check(x, gamma, None, eps, need_beta=False)
    inv_rms = 1.0 / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)  # (..., 1)
    x_hat = x * inv_rms
    return gamma * x_hat, NormCache(x_hat, inv_rms, gamma)


def rmsnorm_backward(dy, cache: NormCache) -> tuple[np.ndarray, np.ndarray]:
    r"""RMSNorm backward: :math:`(\partial L/\partial x, \partial L/\partial\gamma)`.

    Parameters
    ----------
    dy : array_like, shape (..., D)
    cache : NormCache
        From :func:`rmsnorm_forward`.

    Returns
    -------
    dx : numpy.ndarray, shape (..., D)
    dgamma : numpy.ndarray, shape (D,)

    Raises
    ------
    TypeError
        If ``cache`` is not a :class:`NormCache` or ``dy`` is not numeric.
    ValueError
        If ``dy`` does not have the forward input's shape.

    Notes
    -----
    With :math:`g = \gamma\odot\partial L/\partial y` and :math:`r = \mathrm{rms}(x)`:
    :math:`\partial L/\partial x = \frac1r\big(g - \hat x\,\overline{g\hat x}\big)`, the
    LayerNorm formula without the mean-removal term. See question q06-03.

    Examples
    --------
    >>> y, cache = rmsnorm_forward([[3.0, 4.0]], [1.0, 1.0])
    >>> dx, dg = rmsnorm_backward([[4.0, -3.0]], cache)  # orthogonal to x: only 1/r scaling
    >>> bool(np.allclose(dx, np.array([[4.0, -3.0]]) / np.sqrt(12.5 + 1e-6)))
    True
    """
    dy = _check_dy(dy, cache, "rmsnorm_forward")
    x_hat, inv_rms, gamma = cache
    dgamma = (dy * x_hat).sum(axis=tuple(range(dy.ndim - 1)))
    g = dy * gamma
    dx = inv_rms * (g - x_hat * np.mean(g * x_hat, axis=-1, keepdims=True))
    return dx, dgamma
