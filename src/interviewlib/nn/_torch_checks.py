"""Argument checks for the torch half of ``interviewlib.nn`` (house message style)."""

from __future__ import annotations

import math
from typing import Any

import torch


def check_tensor(x: Any, name: str, *, ndim: int | tuple[int, ...] | None = None, what: str = "") -> torch.Tensor:
    """Require a floating-point ``torch.Tensor`` with the given number of dimensions."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(x).__name__}.")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor; got dtype {x.dtype}.")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{name} must be {want}{' ' + what if what else ''}; got shape {tuple(x.shape)}.")
    return x


def check_positive(v: Any, name: str, *, allow_zero: bool = False) -> float:
    """Require a finite real number > 0 (or >= 0)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"{name} must be a real number; got {type(v).__name__}.")
    v = float(v)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>=' if allow_zero else '>'} 0; got {v}.")
    return v


def check_unit_interval(v: Any, name: str, *, high_inclusive: bool = False) -> float:
    """Require 0 <= v < 1 (or <= 1)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"{name} must be a real number; got {type(v).__name__}.")
    v = float(v)
    if not (0.0 <= v < 1.0 or (high_inclusive and v == 1.0)):
        raise ValueError(f"{name} must be in [0, 1{']' if high_inclusive else ')'}; got {v}.")
    return v
