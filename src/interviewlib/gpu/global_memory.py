r"""Global-memory coalescing simulator: 32-byte sectors and 128-byte lines per warp request.

On devices of compute capability 6.0 and newer a warp's loads and stores are coalesced into as
many 32-byte transactions (*sectors*, aligned 32-byte chunks of memory) as are needed to serve all
its active lanes; a sector is moved whole even if one byte of it is used. Caches keep 128-byte
lines of four sectors, and a request that touches several lines looks up several tags. This module
counts both for warp requests given as byte addresses, plus the efficiency

.. math::  \eta = \frac{\text{distinct bytes the lanes asked for}}{32 \cdot \text{sectors}} .

It models what one request moves, not caching across requests (the Best Practices Guide notes
that neighbouring warps re-use over-fetched lines, which is why measured penalties are smaller).
See question q13-05.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._addresses import WARP_SIZE, check_access_bytes, check_active, check_warp_addresses, count_distinct

__all__ = ["SECTOR_BYTES", "LINE_BYTES", "Coalescing", "coalescing", "warp_addresses"]

SECTOR_BYTES = 32
LINE_BYTES = 128


@dataclass(frozen=True)
class Coalescing:
    """Traffic of warp request(s); arrays have the batch shape of the addresses.

    Attributes
    ----------
    sectors : numpy.ndarray of int
        Distinct 32-byte sectors touched (the transactions of compute capability 6.0+).
    lines : numpy.ndarray of int
        Distinct 128-byte cache lines touched.
    bytes_used : numpy.ndarray of int
        Distinct bytes requested by the active lanes.
    """

    sectors: np.ndarray
    lines: np.ndarray
    bytes_used: np.ndarray

    @property
    def bytes_moved(self) -> np.ndarray:
        """Bytes transferred: ``32 * sectors``."""
        return SECTOR_BYTES * self.sectors

    @property
    def efficiency(self) -> np.ndarray:
        """``bytes_used / bytes_moved`` in (0, 1] (1.0 for a request with no active lane)."""
        moved = self.bytes_moved
        return np.where(moved > 0, self.bytes_used / np.maximum(moved, 1), 1.0)


def coalescing(addresses: Any, *, access_bytes: int = 4, active: Any = None) -> Coalescing:
    r"""Count the sectors and cache lines one warp request (or a batch) moves.

    Parameters
    ----------
    addresses : array_like of int, shape (..., 32)
        Byte address of each lane's access; leading axes are independent requests.
    access_bytes : {1, 2, 4, 8, 16}
        Size of each lane's access (``float`` = 4, ``float2`` = 8, ``float4`` = 16).
    active : array_like of bool, optional
        Lane mask broadcastable to ``addresses``; inactive lanes move nothing.

    Returns
    -------
    Coalescing
        ``sectors``, ``lines``, ``bytes_used`` and the derived ``bytes_moved``, ``efficiency``.

    Raises
    ------
    TypeError
        Non-integer addresses, non-boolean mask.
    ValueError
        Not 32 lanes, negative addresses, or an address not a multiple of ``access_bytes``.

    Notes
    -----
    An aligned access of at most 16 bytes never straddles a 32-byte sector, so each lane touches
    exactly the sector ``a // 32`` and the line ``a // 128``. Two aligned accesses of the same size
    either coincide or do not overlap, so the distinct bytes are ``access_bytes`` times the distinct
    addresses. See question q13-05.

    Examples
    --------
    The hand-worked cases of the CUDA C++ Best Practices Guide (4-byte words, CC 6.0+):

    >>> lanes = np.arange(32)
    >>> int(coalescing(4 * lanes).sectors)          # sequential and aligned: four sectors
    4
    >>> int(coalescing(4 * lanes + 4).sectors)      # sequential, misaligned by one word: five
    5
    >>> r = coalescing(8 * lanes)                   # stride 2: eight sectors, 50 % efficiency
    >>> int(r.sectors), float(r.efficiency)
    (8, 0.5)
    """
    access_bytes = check_access_bytes(access_bytes)
    addr = check_warp_addresses(addresses, "addresses", access_bytes=access_bytes)
    mask = check_active(active, addr.shape)
    return _coalescing(addr, mask, access_bytes)


def _coalescing(addr: np.ndarray, mask: np.ndarray, access_bytes: int) -> Coalescing:
    return Coalescing(
        sectors=count_distinct(addr // SECTOR_BYTES, mask),
        lines=count_distinct(addr // LINE_BYTES, mask),
        bytes_used=access_bytes * count_distinct(addr, mask),
    )


def warp_addresses(stride: Any = 1, *, offset: int = 0, elem_bytes: int = 4, base: int = 0) -> np.ndarray:
    """Byte addresses of ``a[offset + lane * stride]`` for the 32 lanes of a warp.

    Parameters
    ----------
    stride : int
        Elements between neighbouring lanes (1 = contiguous, 0 = all lanes read one element).
    offset : int
        Starting element (a non-multiple of ``32 / elem_bytes`` is a misaligned start).
    elem_bytes : int
        Element size in bytes.
    base : int
        Byte address of ``a[0]`` (``cudaMalloc`` returns 256-byte aligned pointers).

    Returns
    -------
    numpy.ndarray
        int64 addresses, shape (32,).

    Raises
    ------
    TypeError
        Non-integer arguments.
    ValueError
        Negative stride, offset or base, or ``elem_bytes < 1``.

    Notes
    -----
    An array-of-structures field is ``warp_addresses(n_fields, offset=field)``; the same field in
    a structure-of-arrays layout is ``warp_addresses(1, offset=field * n)``. See question q13-05.

    Examples
    --------
    >>> warp_addresses(2, offset=1)[:4].tolist()
    [4, 12, 20, 28]
    """
    vals = {"stride": stride, "offset": offset, "elem_bytes": elem_bytes, "base": base}
    for name, v in vals.items():
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name} must be an integer; got {type(v).__name__} {v!r}.")
        if v < (1 if name == "elem_bytes" else 0):
            raise ValueError(f"{name} must be >= {1 if name == 'elem_bytes' else 0}; got {v}.")
    return base + (offset + np.arange(WARP_SIZE, dtype=np.int64) * stride) * elem_bytes
