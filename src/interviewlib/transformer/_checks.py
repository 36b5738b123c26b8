"""Argument checks for torch inputs, in the house message style."""

from __future__ import annotations

import numbers
from typing import Any

import torch


def check_tensor(x: Any, name: str, *, ndim: int | None = None, layout: str = "", floating: bool = True) -> torch.Tensor:
    """Check that ``x`` is a tensor with ``ndim`` dimensions and a floating dtype."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(x).__name__}.")
    if ndim is not None and x.ndim != ndim:
        extra = f" {layout}" if layout else ""
        raise ValueError(f"{name} must be {ndim}-D{extra}; got shape {tuple(x.shape)}.")
    if floating and not x.is_floating_point():
        raise ValueError(f"{name} must have a floating dtype; got {x.dtype}.")
    return x


def check_int(v: Any, name: str, *, low: int = 0) -> int:
    """Check that ``v`` is an integer (not bool) at least ``low``."""
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {type(v).__name__} {v!r}.")
    if v < low:
        raise ValueError(f"{name} must be >= {low}; got {v}.")
    return int(v)


def check_mask(mask: Any, name: str, target: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """Check a boolean or additive mask that must broadcast to ``target``."""
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(mask).__name__}.")
    if mask.dtype != torch.bool and not mask.is_floating_point():
        raise ValueError(
            f"{name} must be bool (True = attend) or floating (additive, -inf = blocked); got {mask.dtype}."
        )
    if mask.is_floating_point() and mask.dtype != dtype:
        raise ValueError(f"{name} must have the dtype of the scores ({dtype}); got {mask.dtype}.")
    try:
        shape = torch.broadcast_shapes(tuple(mask.shape), target)
    except RuntimeError:
        shape = None
    if shape != target:
        raise ValueError(f"{name} must broadcast to (B, H, T, S) = {target}; got shape {tuple(mask.shape)}.")
    return mask
