"""Argument checks for the warp address simulators (shared memory, global memory, vector access).

A *warp request* is one memory instruction executed by a warp: 32 byte addresses, one per lane,
given as an integer array whose last axis has length 32 (leading axes batch many requests).
Inactive lanes are masked with ``active`` rather than dropped, so lane numbers keep their meaning
(the shared-memory phases depend on them).
"""

from __future__ import annotations

from typing import Any

import numpy as np

WARP_SIZE = 32
ACCESS_BYTES = (1, 2, 4, 8, 16)  # sizes of one thread's access that CUDA loads and stores support


def _describe(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return f"array of dtype {x.dtype} and shape {x.shape}"
    return type(x).__name__


def check_access_bytes(v: Any, name: str = "access_bytes") -> int:
    """Require one of the natural access sizes 1, 2, 4, 8, 16 bytes (per-thread sizes up to Hopper)."""
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{name} must be an integer in {ACCESS_BYTES}; got {type(v).__name__} {v!r}.")
    if int(v) not in ACCESS_BYTES:
        raise ValueError(f"{name} must be one of {ACCESS_BYTES} bytes (the per-thread load/store sizes up to Hopper; Blackwell's 32-byte global accesses are not modelled); got {v}.")
    return int(v)


def check_warp_addresses(addresses: Any, name: str, *, access_bytes: int) -> np.ndarray:
    """Return ``addresses`` as an int64 array of shape (..., 32) after checking lanes, sign and alignment.

    Raises
    ------
    TypeError
        Non-integer input (floats, strings, None, ragged lists).
    ValueError
        Last axis not 32 lanes, a negative address, or an address that is not a multiple of
        ``access_bytes`` (CUDA requires naturally aligned accesses).
    """
    try:
        arr = np.asarray(addresses)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be an integer array of byte addresses; got {_describe(addresses)} ({exc}).") from exc
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must contain integer byte addresses; got {_describe(arr)}.")
    if arr.ndim == 0 or arr.shape[-1] != WARP_SIZE:
        raise ValueError(
            f"{name} must have {WARP_SIZE} lanes on its last axis (one address per lane of a warp); "
            f"got shape {arr.shape}. Mark idle lanes with active=... instead of dropping them."
        )
    arr = arr.astype(np.int64, copy=False)
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name} must be non-negative byte addresses; got minimum {int(arr.min())}.")
    bad = arr % access_bytes != 0
    if np.any(bad):
        first = np.argwhere(bad)[0]
        lane, example = int(first[-1]), int(arr[tuple(first)])
        raise ValueError(
            f"{name} must be aligned to access_bytes={access_bytes} (a {access_bytes}-byte access needs an "
            f"address that is a multiple of {access_bytes}); got address {example} (lane {lane}). "
            "CUDA raises cudaErrorMisalignedAddress for such an access."
        )
    return arr


def check_active(active: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Return the lane mask broadcast to ``shape`` (all lanes active when ``active`` is None)."""
    if active is None:
        return np.ones(shape, dtype=bool)
    try:
        mask = np.asarray(active)
    except Exception as exc:
        raise TypeError(f"active must be a boolean lane mask; got {_describe(active)} ({exc}).") from exc
    if mask.dtype != bool:
        raise TypeError(f"active must be a boolean lane mask; got {_describe(mask)}.")
    try:
        return np.broadcast_to(mask, shape)
    except ValueError as exc:
        raise ValueError(f"active must broadcast to the addresses' shape {shape}; got shape {mask.shape}.") from exc


def count_distinct(keys: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Number of distinct values per row of ``keys`` (..., M), counting only entries where ``valid``."""
    k = np.where(valid, keys, -1)
    k = np.sort(k, axis=-1)
    new = np.ones(k.shape, dtype=bool)
    new[..., 1:] = k[..., 1:] != k[..., :-1]
    return np.count_nonzero(new & (k >= 0), axis=-1)
