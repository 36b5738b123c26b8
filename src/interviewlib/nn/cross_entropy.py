r"""Cross-entropy losses and their gradients (numpy, float64).

Multi-class: :math:`L_i = -\sum_c q_{ic} \log p_{ic}` with :math:`p_i = \mathrm{softmax}(z_i)`
and target distribution :math:`q_i` (one-hot, or smoothed). Its gradient with respect to
the logits is the famous :math:`p_i - q_i`. Binary: :math:`-[y\log\sigma(x) + (1-y)\log(1-\sigma(x))]`
written in a form that never evaluates ``exp`` of a large positive number.
"""

from __future__ import annotations

import numpy as np

from interviewlib._validation import as_float_array, check_option, check_scalar
from interviewlib.nn.softmax import _log_softmax_core

__all__ = ["binary_cross_entropy_with_logits", "cross_entropy", "cross_entropy_grad"]

_REDUCTIONS = ("mean", "sum", "none")


def _check_inputs(logits, target, label_smoothing, ignore_index, reduction):
    z = as_float_array(logits, "logits", ndim=2)
    n, c = z.shape
    if c == 0:
        raise ValueError(f"logits must have at least one class column; got shape {z.shape}.")
    t = np.asarray(target)
    if t.ndim != 1 or t.shape[0] != n:
        raise ValueError(f"target must be 1-D with one class index per row of logits ({n}); got shape {t.shape}.")
    if t.size and not np.issubdtype(t.dtype, np.integer):
        raise ValueError(f"target must hold integer class indices; got dtype {t.dtype}.")
    t = t.astype(np.int64)
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
        raise TypeError(f"ignore_index must be an integer; got {type(ignore_index).__name__}.")
    valid = t != ignore_index
    bad = valid & ((t < 0) | (t >= c))
    if np.any(bad):
        raise ValueError(
            f"target must be in [0, {c - 1}] or equal ignore_index={ignore_index}; got {t[bad][:5].tolist()}."
        )
    eps = check_scalar(label_smoothing, "label_smoothing", low=0.0, high=1.0)
    reduction = check_option(reduction, "reduction", _REDUCTIONS)
    return z, t, valid, eps, reduction


def _target_distribution(t: np.ndarray, valid: np.ndarray, c: int, eps: float) -> np.ndarray:
    """Smoothed one-hot rows ``(1 - eps) * onehot + eps / C``; zero rows where ignored."""
    q = np.zeros((t.shape[0], c))
    rows = np.flatnonzero(valid)
    q[rows, t[rows]] = 1.0 - eps
    q[valid] += eps / c
    return q


def cross_entropy(logits, target, *, label_smoothing: float = 0.0, ignore_index: int = -100, reduction: str = "mean"):
    r"""Softmax cross-entropy from raw logits, matching ``torch.nn.functional.cross_entropy``.

    Parameters
    ----------
    logits : array_like, shape (N, C)
        Unnormalised scores (any finite magnitude: 1e4 is fine).
    target : array_like of int, shape (N,)
        Class indices in ``[0, C)``, or ``ignore_index`` for rows that do not count
        (padding tokens).
    label_smoothing : float in [0, 1]
        :math:`\varepsilon`; the target becomes :math:`(1-\varepsilon)\,\text{onehot} + \varepsilon / C`.
    ignore_index : int
        Target value whose rows contribute zero loss and are excluded from the mean.
    reduction : {"mean", "sum", "none"}
        ``"mean"`` divides by the number of non-ignored rows.

    Returns
    -------
    float or numpy.ndarray of shape (N,)
        The loss; ``"none"`` gives per-row losses (0 for ignored rows). With ``"mean"`` and
        every row ignored the result is ``nan`` (0/0), as in PyTorch.

    Raises
    ------
    ValueError
        On shape mismatches, out-of-range targets, non-integer targets, non-finite logits,
        ``label_smoothing`` outside [0, 1] or an unknown ``reduction``.

    Notes
    -----
    Uses :math:`\log p = z - \mathrm{logsumexp}(z)` with the max subtracted, so it never
    overflows. See question q06-04.

    References
    ----------
    .. [1] Szegedy et al., "Rethinking the Inception Architecture for Computer Vision",
       CVPR 2016, arXiv:1512.00567 (label smoothing).

    Examples
    --------
    >>> round(cross_entropy([[0.0, 0.0]], [1]), 6) == round(float(np.log(2)), 6)
    True
    >>> cross_entropy([[1e4, 0.0]], [1])
    10000.0
    """
    z, t, valid, eps, reduction = _check_inputs(logits, target, label_smoothing, ignore_index, reduction)
    q = _target_distribution(t, valid, z.shape[1], eps)
    per_row = -np.sum(q * _log_softmax_core(z, axis=1), axis=1)  # (N,)
    if reduction == "none":
        return per_row
    if reduction == "sum":
        return float(per_row.sum())
    n_valid = int(valid.sum())
    return float(per_row.sum() / n_valid) if n_valid else float("nan")


def cross_entropy_grad(
    logits, target, *, label_smoothing: float = 0.0, ignore_index: int = -100, reduction: str = "mean"
) -> np.ndarray:
    r"""Gradient of :func:`cross_entropy` with respect to the logits: :math:`(p - q)/N_\text{valid}`.

    Parameters
    ----------
    logits, target, label_smoothing, ignore_index : see :func:`cross_entropy`.
    reduction : {"mean", "sum"}
        The reduction whose gradient is wanted (``"none"`` has no scalar to differentiate).

    Returns
    -------
    numpy.ndarray, shape (N, C)
        :math:`\partial L / \partial z`; rows of ignored targets are zero, each row sums to
        zero. With ``"mean"`` and every row ignored, all zeros.

    Raises
    ------
    ValueError
        As :func:`cross_entropy`, or ``reduction="none"``.

    Notes
    -----
    Derivation: :math:`L = -\sum_c q_c z_c + \log\sum_j e^{z_j}` (using :math:`\sum_c q_c = 1`),
    so :math:`\partial L/\partial z_k = -q_k + p_k`. See question q06-04.

    Examples
    --------
    >>> cross_entropy_grad([[0.0, 0.0]], [1]).tolist()
    [[0.5, -0.5]]
    """
    z, t, valid, eps, reduction = _check_inputs(logits, target, label_smoothing, ignore_index, reduction)
    if reduction == "none":
        raise ValueError("reduction must be 'mean' or 'sum' for a gradient; got 'none'.")
    q = _target_distribution(t, valid, z.shape[1], eps)
    p = np.exp(_log_softmax_core(z, axis=1))
    grad = (p - q) * valid[:, None]
    if reduction == "mean":
        n_valid = int(valid.sum())
        grad = grad / max(n_valid, 1)
    return grad


def binary_cross_entropy_with_logits(logits, target, *, reduction: str = "mean"):
    r"""Stable binary cross-entropy on logits, matching ``F.binary_cross_entropy_with_logits``.

    Parameters
    ----------
    logits : array_like, shape (N,) or any shape
        Raw scores :math:`x`.
    target : array_like, same shape as ``logits``
        Targets :math:`y \in [0, 1]` (soft labels allowed).
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    float or numpy.ndarray
        :math:`\max(x, 0) - x y + \log(1 + e^{-|x|})`, reduced.

    Raises
    ------
    ValueError
        On shape mismatch, targets outside [0, 1], non-finite inputs or empty input with
        ``"mean"``.

    Notes
    -----
    The gradient is :math:`\sigma(x) - y`, the binary case of :math:`p - q`.
    See question q06-04.

    Examples
    --------
    >>> round(binary_cross_entropy_with_logits([0.0], [1.0]), 6) == round(float(np.log(2)), 6)
    True
    >>> binary_cross_entropy_with_logits([-1e4], [1.0])
    10000.0
    """
    x = as_float_array(logits, "logits")
    y = as_float_array(target, "target")
    if x.shape != y.shape:
        raise ValueError(f"target must have the shape of logits {x.shape}; got {y.shape}.")
    if np.any((y < 0) | (y > 1)):
        raise ValueError("target must lie in [0, 1]; got values outside.")
    reduction = check_option(reduction, "reduction", _REDUCTIONS)
    loss = np.maximum(x, 0.0) - x * y + np.log1p(np.exp(-np.abs(x)))
    if reduction == "none":
        return loss
    if reduction == "sum":
        return float(loss.sum())
    if loss.size == 0:
        raise ValueError("logits must not be empty for reduction='mean'.")
    return float(loss.mean())
