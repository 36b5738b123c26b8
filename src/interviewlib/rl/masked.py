r"""Reductions over the valid tokens of a padded batch: masked sum, mean and whitening.

Every RL loss for LLMs averages per-token quantities (log-ratios, advantages, KL terms)
over the *generated* tokens only; prompt and padding positions must not count. These three
helpers are the one place that rule lives, so PPO, GRPO and DPO agree on it.
"""

from __future__ import annotations

import numbers
from typing import Any

import torch

__all__ = ["masked_sum", "masked_mean", "masked_whiten"]


def _check(x: Any, mask: Any, dim: Any) -> tuple[torch.Tensor, torch.Tensor, int | None]:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor; got {type(x).__name__}.")
    if not x.is_floating_point():
        raise ValueError(f"x must have a floating dtype; got {x.dtype}.")
    if bool(torch.isnan(x).any()):
        raise ValueError("x must not contain NaN (a NaN here usually means a diverged loss upstream).")
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask must be a torch.Tensor; got {type(mask).__name__}.")
    if mask.shape != x.shape:
        raise ValueError(f"mask must have the shape of x {tuple(x.shape)}; got {tuple(mask.shape)}.")
    if mask.dtype != torch.bool:
        if mask.is_complex() or not bool(((mask == 0) | (mask == 1)).all()):
            raise ValueError(f"mask must be bool (True = valid token) or hold only 0/1; got dtype {mask.dtype}.")
        mask = mask != 0
    if mask.device != x.device:
        raise ValueError(f"mask must be on the device of x ({x.device}); got {mask.device}.")
    if dim is not None:
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
            raise TypeError(f"dim must be an int or None; got {type(dim).__name__}.")
        if not -x.ndim <= dim < max(x.ndim, 1):
            raise ValueError(f"dim must be in [{-x.ndim}, {x.ndim}) for a {x.ndim}-D x; got {dim}.")
        dim = int(dim) % x.ndim
    count = mask.sum() if dim is None else mask.sum(dim)
    if bool((count == 0).any()):
        where = "" if dim is None else f" along dim={dim} for at least one slice"
        raise ValueError(f"mask must select at least one element{where}; got an all-False mask.")
    return x, mask, dim


def _sum(x: torch.Tensor, mask: torch.Tensor, dim: int | None) -> torch.Tensor:
    kept = torch.where(mask, x, torch.zeros((), dtype=x.dtype, device=x.device))  # same shape; inf*0 avoided
    return kept.sum() if dim is None else kept.sum(dim)


def masked_sum(x: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    r"""Sum of ``x`` over the positions where ``mask`` is True.

    Parameters
    ----------
    x : torch.Tensor, floating, any shape, e.g. (B, R)
        Per-token values. Values under a False mask are ignored (even ``inf``).
    mask : torch.Tensor, bool (or 0/1), same shape as ``x``
        True = a valid (generated) token.
    dim : int, optional
        Reduce along this dimension only (e.g. ``dim=1`` gives one sum per sequence);
        ``None`` reduces everything to a scalar.

    Returns
    -------
    torch.Tensor
        Scalar, or ``x``'s shape without ``dim``. Differentiable in ``x``.

    Raises
    ------
    TypeError, ValueError
        If ``x`` is not a floating tensor or holds NaN, if ``mask`` has another shape or
        non-0/1 values, or if the mask selects nothing (overall, or in some slice along
        ``dim``): an empty reduction is almost always a bug (a response with no tokens).

    Notes
    -----
    See question q10-01 (and every loss of chapter 10).

    Examples
    --------
    >>> x = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    >>> m = torch.tensor([[True, True, False], [True, False, False]])
    >>> masked_sum(x, m)
    tensor(7.)
    >>> masked_sum(x, m, dim=1)
    tensor([3., 4.])
    """
    x, mask, dim = _check(x, mask, dim)
    return _sum(x, mask, dim)


def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    r"""Mean of ``x`` over the positions where ``mask`` is True.

    Parameters
    ----------
    x : torch.Tensor, floating, any shape, e.g. (B, R)
        Per-token values.
    mask : torch.Tensor, bool (or 0/1), same shape as ``x``
        True = a valid token.
    dim : int, optional
        ``None``: one mean over all valid tokens of the batch ("token-level" average, every
        token weighs the same). ``dim=1`` on (B, R): one mean per sequence; averaging those
        again gives the "sequence-level" average where every sequence weighs the same.

    Returns
    -------
    torch.Tensor
        Scalar, or ``x``'s shape without ``dim``.

    Raises
    ------
    TypeError, ValueError
        As :func:`~interviewlib.rl.masked.masked_sum`; in particular an all-False mask (the mean of nothing).

    Notes
    -----
    :math:`\bar x = \sum_i m_i x_i / \sum_i m_i`. The choice between token-level and
    sequence-level averaging is a real design decision in GRPO/DAPO (question q10-11).
    See question q10-01.

    Examples
    --------
    >>> x = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    >>> m = torch.tensor([[True, True, False], [True, False, False]])
    >>> masked_mean(x, m)
    tensor(2.3333)
    >>> masked_mean(x, m, dim=1)
    tensor([1.5000, 4.0000])
    """
    x, mask, dim = _check(x, mask, dim)
    count = mask.sum() if dim is None else mask.sum(dim)
    return _sum(x, mask, dim) / count.to(x.dtype)


def masked_whiten(
    x: torch.Tensor, mask: torch.Tensor, *, shift_mean: bool = True, unbiased: bool = True, eps: float = 1e-8
) -> torch.Tensor:
    r"""Normalise ``x`` to mean 0 and variance 1 over the valid tokens; 0 where masked.

    Parameters
    ----------
    x : torch.Tensor, floating, any shape, e.g. (B, R)
        Values to normalise, typically PPO advantages.
    mask : torch.Tensor, bool (or 0/1), same shape as ``x``
        True = a valid token. Mean and variance use these positions only.
    shift_mean : bool
        Subtract the mean (True), or only divide by the standard deviation and keep the
        mean (False, as TRL does for rewards).
    unbiased : bool
        Bessel-corrected variance (divide by ``n - 1``; needs at least two valid tokens)
        or the population variance (divide by ``n``).
    eps : float
        Added to the variance before the square root, so a constant ``x`` gives 0, not NaN.

    Returns
    -------
    torch.Tensor, same shape as ``x``
        :math:`(x - \mu)/\sqrt{\sigma^2 + \epsilon}` at valid positions (``+ mu`` back when
        ``shift_mean=False``), exactly 0 at masked positions.

    Raises
    ------
    TypeError, ValueError
        As :func:`~interviewlib.rl.masked.masked_sum`; also a non-positive or non-finite ``eps``, and
        ``unbiased=True`` with a single valid token.

    Notes
    -----
    Padding must not enter the statistics: a batch with many short responses would
    otherwise have its mean pulled towards the pad value. See question q10-02.

    Examples
    --------
    >>> x = torch.tensor([[1.0, 2.0, 3.0, 100.0]])
    >>> m = torch.tensor([[True, True, True, False]])
    >>> masked_whiten(x, m)
    tensor([[-1.0000,  0.0000,  1.0000,  0.0000]])
    """
    x, mask, _ = _check(x, mask, None)
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not (0 < eps < float("inf")):
        raise ValueError(f"eps must be a finite number > 0; got {eps!r}.")
    n = int(mask.sum())
    if unbiased and n < 2:
        raise ValueError(f"unbiased=True needs at least 2 valid tokens in mask; got {n} (pass unbiased=False).")
    zero = torch.zeros((), dtype=x.dtype, device=x.device)
    mean = _sum(x, mask, None) / n  # scalar
    centred = torch.where(mask, x - mean, zero)  # same shape
    var = (centred**2).sum() / (n - 1 if unbiased else n)  # scalar
    out = centred * torch.rsqrt(var + eps)  # same shape
    if not shift_mean:
        out = out + mean
    return torch.where(mask, out, zero)
