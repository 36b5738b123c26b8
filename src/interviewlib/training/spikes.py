r"""Loss spikes: a running-statistics detector, PaLM's z-loss, and Adam's worst-case step.

:class:`SpikeMonitor` keeps an exponentially weighted mean and variance of the (log) loss
and flags a step whose z-score exceeds a threshold; flagged values are kept out of the
statistics, so a spike cannot teach the monitor that spikes are normal. :func:`z_loss` is
the auxiliary loss :math:`c\,(\log Z)^2` of PaLM that keeps the softmax normaliser near 1.
:func:`adam_max_update_ratio` is the largest per-coordinate Adam step, in units of the
learning rate, when a large gradient meets a stale (small) second moment.

Gradient clipping and QK-Clip live in chapter 6 (:func:`~interviewlib.nn.clip.clip_grad_norm_`,
:func:`~interviewlib.nn.muon.qk_clip`) and are reused, not repeated, here.

See question q08-17.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch

from ..nn._torch_checks import check_positive, check_unit_interval
from ..transformer._checks import check_int, check_tensor

__all__ = ["SpikeMonitor", "z_loss", "adam_max_update_ratio"]


def _as_loss(loss: Any) -> float:
    if isinstance(loss, torch.Tensor):
        if loss.numel() != 1 or not (loss.is_floating_point() or loss.dtype in (torch.int32, torch.int64)):
            raise TypeError(f"loss must be a real number or a one-element tensor; got a tensor of shape {tuple(loss.shape)}, dtype {loss.dtype}.")
        return float(loss.detach().item())
    if isinstance(loss, bool) or not isinstance(loss, numbers.Real):
        raise TypeError(f"loss must be a real number; got {type(loss).__name__}.")
    return float(loss)


class SpikeMonitor:
    r"""Flag loss spikes with a z-score against exponentially weighted running statistics.

    Parameters
    ----------
    alpha : float in (0, 1)
        EMA weight of the newest value (memory of about :math:`1/\alpha` steps).
    threshold : float > 0
        Flag when :math:`z = (x - \mu)/\max(\sigma, \sigma_{\min}) >` ``threshold``.
    warmup : int >= 1
        Values absorbed before anything can be flagged.
    log_scale : bool
        Track :math:`x = \log(\text{loss})` (default): a spike is then a *ratio*, the same
        test at loss 8 and at loss 1.5. Requires loss > 0.
    min_std : float > 0
        Floor on :math:`\sigma` (in log units: 0.01 = 1%), so a nearly constant loss does
        not make tiny wiggles look like spikes.
    two_sided : bool
        Also flag sudden *drops* (:math:`z < -\tau`). A corrupted stretch the model can fit
        (e.g. all one token) drives the loss towards 0; a one-sided monitor absorbs those
        values, its variance balloons, and the later rise is no longer flagged.

    Attributes
    ----------
    mean_, var_ : float
        Running mean and variance of :math:`x` over the values not flagged.
    count_ : int
        Values absorbed into the statistics.
    z_ : float
        z-score of the last value (``inf`` for NaN/inf).
    flags_ : int
        Number of values flagged so far.

    Notes
    -----
    With :math:`d = x - \mu`: :math:`\mu \leftarrow \mu + \alpha d`,
    :math:`\sigma^2 \leftarrow (1-\alpha)(\sigma^2 + \alpha d^2)` (the exponentially
    weighted variance). A non-finite loss is always flagged. A flagged value leaves the
    statistics untouched, so a lasting level shift stays flagged until :meth:`reset`.
    Use it on the loss of the batch *before* ``optimizer.step()`` to skip that update, or
    after the fact to trigger a rewind to the last checkpoint. See question q08-17.

    Examples
    --------
    >>> mon = SpikeMonitor(warmup=5, threshold=6.0)
    >>> flags = [mon.update(2.0 + 0.01 * (-1) ** k) for k in range(20)]
    >>> any(flags), mon.update(3.0), mon.update(float("nan")), mon.flags_
    (False, True, True, 2)
    """

    def __init__(self, *, alpha: float = 0.05, threshold: float = 6.0, warmup: int = 20, log_scale: bool = True, min_std: float = 0.01, two_sided: bool = False) -> None:
        self.alpha = alpha
        self.threshold = threshold
        self.warmup = warmup
        self.log_scale = log_scale
        self.min_std = min_std
        self.two_sided = two_sided
        self.reset()

    def _check(self) -> None:
        a = check_unit_interval(self.alpha, "alpha")
        if a == 0.0:
            raise ValueError("alpha must be in (0, 1); got 0.0.")
        check_positive(self.threshold, "threshold")
        check_positive(self.min_std, "min_std")
        check_int(self.warmup, "warmup", low=1)
        if not isinstance(self.log_scale, bool) or not isinstance(self.two_sided, bool):
            raise TypeError(f"log_scale and two_sided must be bool; got {type(self.log_scale).__name__}, {type(self.two_sided).__name__}.")

    def reset(self) -> None:
        """Forget the statistics (e.g. after a deliberate change of data or learning rate)."""
        self.mean_, self.var_, self.count_, self.z_, self.flags_ = 0.0, 0.0, 0, 0.0, 0

    def update(self, loss: Any) -> bool:
        """Feed one loss value; return True if it is a spike."""
        self._check()
        value = _as_loss(loss)
        if not math.isfinite(value):
            self.z_, self.flags_ = math.inf, self.flags_ + 1
            return True
        if self.log_scale:
            if value <= 0:
                raise ValueError(f"loss must be > 0 with log_scale=True; got {value}. Use log_scale=False for losses that can be <= 0.")
            value = math.log(value)
        if self.count_ == 0:
            self.mean_, self.count_, self.z_ = value, 1, 0.0
            return False
        self.z_ = (value - self.mean_) / max(math.sqrt(self.var_), self.min_std)
        if self.count_ >= self.warmup and (self.z_ > self.threshold or (self.two_sided and self.z_ < -self.threshold)):
            self.flags_ += 1
            return True
        d = value - self.mean_
        self.mean_ += self.alpha * d
        self.var_ = (1.0 - self.alpha) * (self.var_ + self.alpha * d * d)
        self.count_ += 1
        return False

    def state_dict(self) -> dict[str, Any]:
        """Hyperparameters and statistics (save it with the checkpoint)."""
        keys = ("alpha", "threshold", "warmup", "log_scale", "min_std", "two_sided", "mean_", "var_", "count_", "z_", "flags_")
        return {k: getattr(self, k) for k in keys}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict`."""
        if not isinstance(state, dict):
            raise TypeError(f"state must be a dict from state_dict(); got {type(state).__name__}.")
        missing = set(self.state_dict()) - state.keys()
        if missing:
            raise ValueError(f"state is missing keys {sorted(missing)}.")
        for k in self.state_dict():
            setattr(self, k, state[k])
        self._check()


def z_loss(logits: torch.Tensor, *, coefficient: float = 1e-4, mask: torch.Tensor | None = None) -> torch.Tensor:
    r"""PaLM's auxiliary z-loss :math:`c \cdot \operatorname{mean}\,(\log Z)^2`, :math:`Z = \sum_v e^{z_v}`.

    Parameters
    ----------
    logits : torch.Tensor, shape (..., V)
        Output logits (any leading shape, e.g. (B, T, V)).
    coefficient : float >= 0
        :math:`c`; PaLM used :math:`10^{-4}`.
    mask : torch.Tensor of bool, shape (...), optional
        Positions to average over (e.g. tokens with a label); default all.

    Returns
    -------
    torch.Tensor
        0-D, in the dtype of ``logits``; add it to the cross-entropy.

    Raises
    ------
    TypeError, ValueError
        Non-floating or 0-D logits, a mask of the wrong shape or dtype, an empty selection,
        or a negative coefficient.

    Notes
    -----
    Cross-entropy is unchanged if every logit of a row shifts by a constant, so nothing
    pins :math:`\log Z`; it can drift until exponentials overflow in low precision. The
    z-loss gradient is :math:`\partial/\partial z_v = 2c\,\log Z\cdot \operatorname{softmax}(z)_v`
    per position (divided by the number of positions): it pushes :math:`\log Z` to 0
    without changing the predicted distribution's shape. See question q08-17.

    References
    ----------
    .. [1] Chowdhery et al., "PaLM: Scaling Language Modeling with Pathways", arXiv:2204.02311, 2022.

    Examples
    --------
    >>> z = torch.log(torch.tensor([[1.0, 1.0, 2.0]]))  # Z = 4, log Z = log 4
    >>> round(z_loss(z, coefficient=1.0).item(), 6) == round(math.log(4.0) ** 2, 6)
    True
    """
    logits = check_tensor(logits, "logits")
    if logits.ndim < 1 or logits.shape[-1] == 0:
        raise ValueError(f"logits must have a non-empty last (vocabulary) dimension; got shape {tuple(logits.shape)}.")
    if isinstance(coefficient, bool) or not isinstance(coefficient, (int, float)) or not math.isfinite(coefficient) or coefficient < 0:
        raise ValueError(f"coefficient must be a finite number >= 0; got {coefficient!r}.")
    log_z = torch.logsumexp(logits, dim=-1)  # (...,)
    if mask is None:
        return coefficient * log_z.square().mean()
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise TypeError(f"mask must be a bool tensor of shape {tuple(log_z.shape)}; got {mask!r:.60}.")
    if mask.shape != log_z.shape:
        raise ValueError(f"mask must have shape {tuple(log_z.shape)} (logits without the last dim); got {tuple(mask.shape)}.")
    if not bool(mask.any()):
        raise ValueError("mask selects no position; the mean over zero positions is undefined.")
    return coefficient * log_z[mask].square().mean()


def adam_max_update_ratio(beta1: float, beta2: float, *, step: int | None = None) -> float:
    r"""Largest Adam step per coordinate, in learning rates, after a stale second moment: :math:`(1-\beta_1)/\sqrt{1-\beta_2}`.

    Parameters
    ----------
    beta1, beta2 : float in [0, 1)
    step : int >= 1, optional
        The step :math:`t` (1-based) at which the large gradient arrives; includes Adam's
        bias corrections, i.e. multiplies by :math:`\sqrt{1-\beta_2^t}/(1-\beta_1^t)`.
        Default: the limit :math:`t \to \infty`.

    Returns
    -------
    float
        :math:`|\hat m/\sqrt{\hat v}|` when a gradient :math:`G` arrives after a long run of
        gradients :math:`\ll G` (and :math:`\epsilon \ll \sqrt{\hat v}`).

    Notes
    -----
    Then :math:`m \approx (1-\beta_1)G` and :math:`v \approx (1-\beta_2)G^2`. A steady
    gradient gives a step of 1 learning rate; a stale :math:`v` multiplies it by this
    ratio in *every* such coordinate at once, all along one batch's gradient: 3.16 for
    :math:`(0.9, 0.999)`, 0.45 for :math:`(0.9, 0.95)`. Lowering :math:`\beta_2` (OPT went
    0.98 -> 0.95) shortens the memory of :math:`v` and lowers this bound. See question q08-17.

    Examples
    --------
    >>> round(adam_max_update_ratio(0.9, 0.999), 3), round(adam_max_update_ratio(0.9, 0.95), 3)
    (3.162, 0.447)
    >>> adam_max_update_ratio(0.9, 0.999, step=1)  # the very first step is exactly 1 lr
    1.0
    """
    b1 = check_unit_interval(beta1, "beta1")
    b2 = check_unit_interval(beta2, "beta2")
    ratio = (1.0 - b1) / math.sqrt(1.0 - b2)
    if step is None:
        return ratio
    t = check_int(step, "step", low=1)
    return ratio * math.sqrt(1.0 - b2**t) / (1.0 - b1**t)
