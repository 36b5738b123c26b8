r"""Batch normalisation: forward and hand-derived backward pass (numpy, float64).

For an input of shape ``(N, C, *spatial)`` every channel ``c`` is normalised with the
mean and variance over the :math:`m = N \prod \text{spatial}` values that share it, then
scaled and shifted by the trainable :math:`\gamma_c, \beta_c`. Conventions follow
``torch.nn.BatchNorm{1,2,3}d``: the *biased* variance normalises the batch, the *unbiased*
one (factor :math:`m/(m-1)`) enters the running estimate, and
``running = (1 - momentum) * running + momentum * batch_stat``; with ``momentum=None`` the
weight of the :math:`k`-th batch is :math:`1/k`, so the running statistics are the plain
average over every batch seen (torch's cumulative moving average).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from interviewlib._validation import as_float_array, check_scalar

__all__ = ["BatchNormCache", "BatchNormOutput", "batchnorm_backward", "batchnorm_forward"]


class BatchNormCache(NamedTuple):
    """What the backward pass needs from the forward pass."""

    x_hat: np.ndarray  # (N, C, *spatial) normalised input
    inv_std: np.ndarray  # (C,) 1 / sqrt(var + eps)
    gamma: np.ndarray  # (C,)
    training: bool  # batch statistics (True) or running statistics (False)


class BatchNormOutput(NamedTuple):
    """Result of :func:`batchnorm_forward`."""

    y: np.ndarray  # (N, C, *spatial)
    cache: BatchNormCache
    running_mean: np.ndarray | None  # (C,) updated copy (training) or the input (eval)
    running_var: np.ndarray | None  # (C,)
    num_batches_tracked: int | None = None  # batches seen, counting this one in training mode


def _channel_view(v: np.ndarray, ndim: int) -> np.ndarray:
    """Reshape a (C,) vector to broadcast against (N, C, *spatial)."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def batchnorm_forward(
    x,
    gamma,
    beta,
    *,
    running_mean=None,
    running_var=None,
    training: bool = True,
    momentum: float | None = 0.1,
    eps: float = 1e-5,
    num_batches_tracked: int | None = None,
) -> BatchNormOutput:
    r"""BatchNorm forward pass in training or evaluation mode.

    Parameters
    ----------
    x : array_like, shape (N, C) or (N, C, *spatial)
        Input; channels on axis 1 (as in PyTorch).
    gamma, beta : array_like, shape (C,)
        Trainable scale and shift (the only :math:`2C` trainable parameters).
    running_mean, running_var : array_like, shape (C,), optional
        Running estimates (buffers, not parameters). Required when ``training=False``; in
        training mode updated *copies* are returned (the inputs are never modified) or
        ``None`` if they were not given.
    training : bool
        Normalise with batch statistics (True) or with the running estimates (False).
    momentum : float in [0, 1] or None
        Weight of the new batch statistic in the running average (PyTorch's convention,
        0.1 by default; note Keras uses the complementary 0.99). ``None``: cumulative
        moving average, as ``torch.nn.BatchNorm*d(momentum=None)``: the weight is
        :math:`1/(n+1)` with :math:`n` = ``num_batches_tracked``, so after :math:`k` batches
        the running statistics are the unweighted mean of the :math:`k` batch statistics
        (the initial buffers count only while :math:`n > 0` says they hold batches).
    eps : float > 0
        Added to the variance.
    num_batches_tracked : int >= 0, optional
        Torch's buffer of the same name: how many training batches the running statistics
        already contain, *before* this call. Required with ``momentum=None`` in training
        mode when running statistics are given (the function is stateless, so the caller
        keeps the counter: pass back ``out.num_batches_tracked`` on the next call).
        Ignored for the update when ``momentum`` is a number, but still counted.

    Returns
    -------
    BatchNormOutput
        ``(y, cache, running_mean, running_var, num_batches_tracked)``; the last is the
        counter plus one in training mode (as torch increments its buffer), unchanged in
        eval mode, and ``None`` if no counter was passed.

    Raises
    ------
    TypeError
        If an array is not numeric, ``training`` is not a bool or ``num_batches_tracked``
        not an integer.
    ValueError
        On wrong shapes, ``training=False`` without running statistics, a single value
        per channel in training mode (variance undefined; PyTorch raises too), bad
        ``momentum`` / ``eps`` / ``num_batches_tracked``, or ``momentum=None`` with running
        statistics in training mode but no ``num_batches_tracked``.

    Notes
    -----
    :math:`\hat x = (x - \mu_B)/\sqrt{\sigma_B^2 + \epsilon}`, :math:`y = \gamma \hat x + \beta`,
    with :math:`\sigma_B^2 = \frac1m \sum (x - \mu_B)^2`. The running variance is updated with
    :math:`\frac{m}{m-1}\sigma_B^2`. See question q06-02.

    References
    ----------
    .. [1] Ioffe and Szegedy, "Batch Normalization: Accelerating Deep Network Training by
       Reducing Internal Covariate Shift", ICML 2015, arXiv:1502.03167.

    Examples
    --------
    >>> out = batchnorm_forward([[1.0], [3.0]], [1.0], [0.0], running_mean=[0.0], running_var=[1.0])
    >>> out.y.ravel().round(4).tolist(), out.running_mean.tolist(), out.running_var.tolist()
    ([-1.0, 1.0], [0.2], [1.1])

    Cumulative average (``momentum=None``): the caller carries the counter between calls.

    >>> rm, rv, n = [0.0], [1.0], 0
    >>> for batch in ([[1.0], [3.0]], [[5.0], [9.0]]):  # batch means 2 and 7
    ...     out = batchnorm_forward(batch, [1.0], [0.0], running_mean=rm, running_var=rv,
    ...                             momentum=None, num_batches_tracked=n)
    ...     rm, rv, n = out.running_mean, out.running_var, out.num_batches_tracked
    >>> rm.tolist(), n
    ([4.5], 2)
    """
    x = as_float_array(x, "x")
    if x.ndim < 2:
        raise ValueError(f"x must be at least 2-D (N, C, *spatial); got shape {x.shape}.")
    c = x.shape[1]
    gamma = _check_channel_vector(gamma, "gamma", c)
    beta = _check_channel_vector(beta, "beta", c)
    rm = None if running_mean is None else _check_channel_vector(running_mean, "running_mean", c)
    rv = None if running_var is None else _check_channel_vector(running_var, "running_var", c)
    if rv is not None and np.any(rv < 0):
        raise ValueError("running_var must be non-negative.")
    if momentum is not None:
        momentum = check_scalar(momentum, "momentum", low=0.0, high=1.0)
    eps = check_scalar(eps, "eps", low=0.0, low_inclusive=False)
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"training must be a bool; got {type(training).__name__}.")
    if num_batches_tracked is not None:
        num_batches_tracked = check_scalar(num_batches_tracked, "num_batches_tracked", kind="int", low=0)
    if momentum is None and training and (rm is not None or rv is not None) and num_batches_tracked is None:
        raise ValueError(
            "num_batches_tracked is required with momentum=None (cumulative average) when running statistics "
            "are updated; pass 0 on the first batch, then out.num_batches_tracked."
        )
    m = x.size // c if c else 0
    if training and m <= 1:
        raise ValueError(f"x must have more than 1 value per channel in training mode; got shape {x.shape}.")
    if not training and (rm is None or rv is None):
        raise ValueError("running_mean and running_var are required when training=False.")
    return _batchnorm_forward_core(x, gamma, beta, rm, rv, bool(training), momentum, eps, num_batches_tracked)


def _check_channel_vector(v, name: str, c: int) -> np.ndarray:
    v = as_float_array(v, name, ndim=1)
    if v.shape != (c,):
        raise ValueError(f"{name} must have shape ({c},) to match the {c} channels of x; got {v.shape}.")
    return v


def _batchnorm_forward_core(x, gamma, beta, rm, rv, training, momentum, eps, n_tracked) -> BatchNormOutput:
    axes = (0,) + tuple(range(2, x.ndim))  # every axis except the channel axis
    if training:
        if n_tracked is not None:
            n_tracked += 1  # this batch
        if momentum is None:
            momentum = 1.0 / n_tracked if n_tracked else 0.0  # cumulative average (0.0: nothing to update)
        mu = x.mean(axis=axes)  # (C,)
        var = x.var(axis=axes)  # (C,) biased: divides by m
        m = x.size // x.shape[1]
        if rm is not None:
            rm = (1.0 - momentum) * rm + momentum * mu
        if rv is not None:
            rv = (1.0 - momentum) * rv + momentum * var * m / (m - 1)  # unbiased estimate
    else:
        mu, var = rm, rv
    inv_std = 1.0 / np.sqrt(var + eps)  # (C,)
    x_hat = (x - _channel_view(mu, x.ndim)) * _channel_view(inv_std, x.ndim)
    y = _channel_view(gamma, x.ndim) * x_hat + _channel_view(beta, x.ndim)
    return BatchNormOutput(y, BatchNormCache(x_hat, inv_std, gamma, training), rm, rv, n_tracked)


def batchnorm_backward(dy, cache: BatchNormCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""BatchNorm backward pass: gradients with respect to ``x``, ``gamma`` and ``beta``.

    Parameters
    ----------
    dy : array_like, shape (N, C, *spatial)
        Upstream gradient :math:`\partial L/\partial y`.
    cache : BatchNormCache
        From :func:`batchnorm_forward`.

    Returns
    -------
    dx : numpy.ndarray, shape of ``dy``
    dgamma, dbeta : numpy.ndarray, shape (C,)

    Raises
    ------
    TypeError
        If ``cache`` is not a :class:`BatchNormCache` or ``dy`` is not numeric.
    ValueError
        If ``dy`` does not have the shape of the forward input.

    Notes
    -----
    Training mode, per channel with :math:`g = \gamma\,\partial L/\partial y`:

    .. math:: \frac{\partial L}{\partial x} = \frac{1}{m\sqrt{\sigma^2+\epsilon}}
       \Big(m g - \sum g - \hat x \sum g \hat x\Big),

    because :math:`\mu` and :math:`\sigma^2` depend on every sample of the batch; the two
    subtracted terms project out the directions that change the batch mean and scale.
    In eval mode the statistics are constants and :math:`\partial L/\partial x = g/\sqrt{\sigma^2+\epsilon}`.
    :math:`\partial L/\partial\gamma = \sum \hat x\,\partial L/\partial y`,
    :math:`\partial L/\partial\beta = \sum \partial L/\partial y`. See question q06-02.

    Examples
    --------
    >>> out = batchnorm_forward([[1.0], [3.0]], [1.0], [0.0])
    >>> dx, dg, db = batchnorm_backward([[1.0], [1.0]], out.cache)
    >>> dx.ravel().round(12).tolist(), db.tolist()
    ([0.0, 0.0], [2.0])
    """
    if not isinstance(cache, BatchNormCache):
        raise TypeError(
            f"cache must be the BatchNormCache of batchnorm_forward (out.cache); got {type(cache).__name__}."
        )
    dy = as_float_array(dy, "dy")
    if dy.shape != cache.x_hat.shape:
        raise ValueError(f"dy must have the shape of the forward input {cache.x_hat.shape}; got {dy.shape}.")
    x_hat, inv_std, gamma, training = cache
    nd = dy.ndim
    axes = (0,) + tuple(range(2, nd))
    dbeta = dy.sum(axis=axes)
    dgamma = (dy * x_hat).sum(axis=axes)
    g = dy * _channel_view(gamma, nd)  # dL/dx_hat
    if not training:
        return g * _channel_view(inv_std, nd), dgamma, dbeta
    m = dy.size // dy.shape[1]
    sum_g = _channel_view(g.sum(axis=axes), nd)
    sum_gx = _channel_view((g * x_hat).sum(axis=axes), nd)
    dx = _channel_view(inv_std, nd) / m * (m * g - sum_g - x_hat * sum_gx)
    return dx, dgamma, dbeta
