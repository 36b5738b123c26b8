r"""Cross-entropy losses and their gradients (numpy, float64).

Multi-class: :math:`L_i = -\sum_c q_{ic} \log p_{ic}` with :math:`p_i = \mathrm{softmax}(z_i)`
and target distribution :math:`q_i` (one-hot, smoothed, or given as soft labels), optionally
weighted per class. Its gradient with respect to the logits is the famous :math:`p_i - q_i`
(:math:`p_i \sum_c A_{ic} - A_i` with class weights, see :func:`cross_entropy`). Binary:
:math:`-[y\log\sigma(x) + (1-y)\log(1-\sigma(x))]` written in a form that never evaluates
``exp`` of a large positive number.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from interviewlib._validation import as_float_array, check_option, check_scalar
from interviewlib.nn.softmax import _log_softmax_core

__all__ = ["binary_cross_entropy_with_logits", "cross_entropy", "cross_entropy_grad"]

_REDUCTIONS = ("mean", "sum", "none")


class _Problem(NamedTuple):
    """Validated cross-entropy input, flattened to one row per position."""

    z: np.ndarray  # (M, C) logits, class axis last; M = N * d1 * ... * dk
    coef: np.ndarray  # (M, C) A: loss_i = -sum_c A_ic log p_ic (weights, smoothing, ignored rows all folded in)
    denom: float  # what "mean" divides by: the weight of the counted rows (index targets) or M (probabilities)
    n_counted: int  # rows that are not ignored
    out_shape: tuple[int, ...]  # (N, d1, ..., dk), the shape of reduction="none"
    reduction: str


def _check_inputs(logits, target, weight, label_smoothing, ignore_index, reduction) -> _Problem:
    z = as_float_array(logits, "logits")
    if z.ndim < 2:
        raise ValueError(f"logits must be at least 2-D, (N, C) or (N, C, d1, ...); got shape {z.shape}.")
    c = z.shape[1]
    if c == 0:
        raise ValueError(f"logits must have at least one class (axis 1); got shape {z.shape}.")
    out_shape = (z.shape[0],) + z.shape[2:]
    z_rows = np.moveaxis(z, 1, -1).reshape(-1, c)  # (M, C)
    if weight is None:
        w = np.ones(c)
    else:
        w = as_float_array(weight, "weight", ndim=1)
        if w.shape != (c,):
            raise ValueError(f"weight must have one entry per class, shape ({c},); got {w.shape}.")
        if np.any(w < 0):
            raise ValueError(f"weight must be non-negative; got {w[w < 0][:5].tolist()}.")
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
        raise TypeError(f"ignore_index must be an integer; got {type(ignore_index).__name__}.")
    eps = check_scalar(label_smoothing, "label_smoothing", low=0.0, high=1.0)
    reduction = check_option(reduction, "reduction", _REDUCTIONS)
    try:
        t = np.asarray(target)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"target must be array-like; got {type(target).__name__} ({exc}).") from exc
    if t.shape == z.shape:  # class probabilities, one distribution per position
        if not np.issubdtype(t.dtype, np.floating):
            raise TypeError(
                f"target of the shape of logits {z.shape} holds class probabilities and must be floating; "
                f"got dtype {t.dtype}."
            )
        q = as_float_array(t, "target")
        if np.any(q < 0):
            raise ValueError("target probabilities must be non-negative; got negative entries.")
        if ignore_index != -100:
            raise ValueError(
                f"ignore_index applies to class-index targets only; got ignore_index={ignore_index} with "
                "probability targets (torch raises for ignore_index >= 0). Give ignored positions zero weight instead."
            )
        q_rows = np.moveaxis(q, 1, -1).reshape(-1, c)  # (M, C)
        coef = w * ((1.0 - eps) * q_rows + eps / c)  # (M, C)
        return _Problem(z_rows, coef, float(q_rows.shape[0]), q_rows.shape[0], out_shape, reduction)
    if t.shape != out_shape:
        layout = "row" if z.ndim == 2 else "position (N, d1, ...)"
        raise ValueError(
            f"target must hold one class index per {layout} of logits, shape {out_shape}, or class probabilities "
            f"of the shape of logits {z.shape}; got shape {t.shape}."
        )
    if t.size and not np.issubdtype(t.dtype, np.integer):
        raise ValueError(f"target must hold integer class indices; got dtype {t.dtype}.")
    t = t.astype(np.int64).reshape(-1)  # (M,)
    valid = t != ignore_index
    bad = valid & ((t < 0) | (t >= c))
    if np.any(bad):
        raise ValueError(
            f"target must be in [0, {c - 1}] or equal ignore_index={ignore_index}; got {t[bad][:5].tolist()}."
        )
    rows = np.flatnonzero(valid)
    coef = np.zeros_like(z_rows)  # (M, C); ignored rows stay zero
    coef[rows] = (eps / c) * w  # smoothing spreads eps over the classes, each weighted by its class weight
    coef[rows, t[rows]] += (1.0 - eps) * w[t[rows]]
    return _Problem(z_rows, coef, float(w[t[rows]].sum()), rows.size, out_shape, reduction)


def cross_entropy(
    logits,
    target,
    *,
    weight=None,
    label_smoothing: float = 0.0,
    ignore_index: int = -100,
    reduction: str = "mean",
):
    r"""Softmax cross-entropy from raw logits, matching ``torch.nn.functional.cross_entropy``.

    Parameters
    ----------
    logits : array_like, shape (N, C) or (N, C, d1, ..., dk)
        Unnormalised scores (any finite magnitude: 1e4 is fine), classes on axis 1 as in
        PyTorch (e.g. ``(B, V, T)`` for a sequence, ``(N, C, H, W)`` for segmentation).
    target : array_like
        Either class indices, integer, shape (N,) or (N, d1, ..., dk), in ``[0, C)`` or
        ``ignore_index`` for positions that do not count (padding tokens); or class
        probabilities, floating, of the shape of ``logits`` (soft labels, distillation),
        non-negative. Which one is decided by the shape, as in PyTorch.
    weight : array_like, shape (C,), optional
        Non-negative weight per class (PyTorch's ``weight``).
    label_smoothing : float in [0, 1]
        :math:`\varepsilon`; the target becomes :math:`(1-\varepsilon)\,\text{target} + \varepsilon / C`.
    ignore_index : int
        Class-index targets only: the value whose positions contribute zero loss and are
        excluded from the mean.
    reduction : {"mean", "sum", "none"}
        ``"mean"`` divides by the summed weight of the counted targets (the number of
        non-ignored positions without ``weight``); with probability targets it divides by
        the number of positions :math:`N d_1 \cdots d_k`, whatever the weights (PyTorch's
        rules for both).

    Returns
    -------
    float or numpy.ndarray of shape (N, d1, ..., dk)
        The loss; ``"none"`` gives per-position losses (0 for ignored positions). With
        ``"mean"`` and nothing to divide by (every position ignored, zero total weight, or
        no positions) the result is ``nan``, as in PyTorch.

    Raises
    ------
    TypeError
        On non-numeric input, or probability targets that are not floating.
    ValueError
        On shape mismatches, out-of-range or non-integer class indices, negative
        probabilities or weights, non-finite logits, ``ignore_index`` with probability
        targets, ``label_smoothing`` outside [0, 1] or an unknown ``reduction``.

    Notes
    -----
    Uses :math:`\log p = z - \mathrm{logsumexp}(z)` with the max subtracted, so it never
    overflows. Every case is :math:`L_i = -\sum_c A_{ic}\log p_{ic}` for a coefficient row
    :math:`A_i`. Class-index target :math:`y`: :math:`A_i = (1-\varepsilon) w_y e_y +
    \tfrac{\varepsilon}{C} w` (so with weights the smoothing term weights each class by its
    own :math:`w_c`, as torch does, and the mean divides both terms by :math:`\sum_i w_{y_i}`).
    Probability target :math:`q`: :math:`A_i = w \odot ((1-\varepsilon) q_i + \tfrac{\varepsilon}{C})`.
    Probability rows need not sum to 1 (PyTorch does not check). See question q06-04.

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
    >>> cross_entropy([[0.0, 0.0]], [[0.5, 0.5]]) == cross_entropy([[0.0, 0.0]], [0])  # soft target
    True
    >>> cross_entropy([[0.0, 0.0], [0.0, 0.0]], [0, 1], weight=[3.0, 1.0], reduction="none").round(4).tolist()
    [2.0794, 0.6931]
    """
    pb = _check_inputs(logits, target, weight, label_smoothing, ignore_index, reduction)
    per_row = -np.sum(pb.coef * _log_softmax_core(pb.z, axis=1), axis=1)  # (M,)
    if pb.reduction == "none":
        return per_row.reshape(pb.out_shape)
    if pb.reduction == "sum":
        return float(per_row.sum())
    return float(per_row.sum() / pb.denom) if pb.denom > 0 else float("nan")


def cross_entropy_grad(
    logits,
    target,
    *,
    weight=None,
    label_smoothing: float = 0.0,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> np.ndarray:
    r"""Gradient of :func:`cross_entropy` with respect to the logits: :math:`(p\sum_c A_c - A)/D`.

    Parameters
    ----------
    logits, target, weight, label_smoothing, ignore_index : see :func:`cross_entropy`.
    reduction : {"mean", "sum"}
        The reduction whose gradient is wanted (``"none"`` has no scalar to differentiate).

    Returns
    -------
    numpy.ndarray, shape of ``logits``
        :math:`\partial L / \partial z`; positions of ignored targets are zero. Without
        weights and with one-hot or normalised soft targets this is the famous
        :math:`(p - q)/N_\text{valid}` and each row sums to zero. With ``"mean"`` and every
        position ignored, all zeros; with a zero total weight over counted positions,
        all ``nan`` (both as PyTorch's autograd).

    Raises
    ------
    ValueError
        As :func:`cross_entropy`, or ``reduction="none"``.

    Notes
    -----
    Derivation: :math:`L_i = -\sum_c A_c z_c + (\sum_c A_c)\log\sum_j e^{z_j}`, so
    :math:`\partial L_i/\partial z_k = p_k \sum_c A_c - A_k`; for an unweighted target
    distribution :math:`\sum_c A_c = 1` and this is :math:`p_k - q_k`. See question q06-04.

    Examples
    --------
    >>> cross_entropy_grad([[0.0, 0.0]], [1]).tolist()
    [[0.5, -0.5]]
    """
    pb = _check_inputs(logits, target, weight, label_smoothing, ignore_index, reduction)
    if pb.reduction == "none":
        raise ValueError("reduction must be 'mean' or 'sum' for a gradient; got 'none'.")
    p = np.exp(_log_softmax_core(pb.z, axis=1))  # (M, C)
    grad = p * pb.coef.sum(axis=1, keepdims=True) - pb.coef  # (M, C)
    if pb.reduction == "mean":
        if pb.denom > 0:
            grad = grad / pb.denom
        elif pb.n_counted:
            grad = np.full_like(grad, np.nan)  # d(x / 0): undefined, as torch's autograd gives
    n, c = pb.out_shape[0], pb.z.shape[1]
    return np.moveaxis(grad.reshape((n,) + pb.out_shape[1:] + (c,)), -1, 1)  # back to (N, C, d1, ...)


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
