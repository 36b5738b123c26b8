r"""Shared-memory bank simulator: how many serialized bank cycles one warp request costs.

Model (compute capability 5.x and newer, as NVIDIA documents it): shared memory has 32 banks,
successive 32-bit words go to successive banks, so the word at byte address ``a`` is word
``a // 4`` in bank ``(a // 4) % 32``. Lanes that touch the *same* 32-bit word never conflict (a
read is broadcast, a write is done by one of them). Lanes that touch *different* words of the
same bank are served one word per cycle. The conflict degree of a request is therefore

.. math::  d = \max_{b} \#\{\text{distinct words requested in bank } b\}.

Accesses wider than 32 bits move more than the 128 bytes the 32 banks deliver per cycle, so the
hardware processes the warp in *phases*; this module assumes the phase model of NVIDIA's
compute capability 2.x documentation (8-byte accesses one half-warp at a time, 16-byte accesses
one quarter-warp at a time). NVIDIA's current guide documents only 32-bit accesses, so for wider
accesses the phase model is an assumption (community measurements differ in details); see q13-01.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._addresses import WARP_SIZE, check_access_bytes, check_active, check_warp_addresses

__all__ = ["NUM_BANKS", "BANK_BYTES", "bank_of", "SharedAccess", "shared_access"]

NUM_BANKS = 32
BANK_BYTES = 4  # one 32-bit word per bank per cycle


def bank_of(addresses: Any) -> np.ndarray:
    """Bank index ``(address // 4) % 32`` of each byte address.

    Parameters
    ----------
    addresses : array_like of int
        Non-negative byte offsets into shared memory, any shape.

    Returns
    -------
    numpy.ndarray
        int64 banks in ``[0, 32)``, same shape.

    Raises
    ------
    TypeError
        If the addresses are not integers.
    ValueError
        If an address is negative.

    Notes
    -----
    See question q13-01.

    Examples
    --------
    >>> bank_of([0, 4, 124, 128, 130]).tolist()
    [0, 1, 31, 0, 0]
    """
    try:
        arr = np.asarray(addresses)
    except Exception as exc:
        raise TypeError(f"addresses must be an integer array of byte addresses; got {type(addresses).__name__} ({exc}).") from exc
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"addresses must contain integer byte addresses; got {type(addresses).__name__} of dtype {arr.dtype}.")
    if arr.size and arr.min() < 0:
        raise ValueError(f"addresses must be non-negative byte addresses; got minimum {int(arr.min())}.")
    return (arr.astype(np.int64) // BANK_BYTES) % NUM_BANKS


@dataclass(frozen=True)
class SharedAccess:
    """Cost of warp request(s) to shared memory; arrays have the batch shape of the addresses.

    Attributes
    ----------
    degree : numpy.ndarray of int
        Conflict degree: the largest number of distinct words one bank must deliver in one phase
        (1 = conflict-free, 32 = fully serialized; 0 when no lane is active).
    wavefronts : numpy.ndarray of int
        Serialized bank cycles: the sum of the phase degrees. A conflict-free 4-byte request takes 1,
        an 8-byte one 2, a 16-byte one 4.
    phases : int
        Phases the warp is split into (1, 1, 1, 2, 4 for 1, 2, 4, 8, 16-byte accesses).
    """

    degree: np.ndarray
    wavefronts: np.ndarray
    phases: int


def shared_access(addresses: Any, *, access_bytes: int = 4, active: Any = None) -> SharedAccess:
    r"""Conflict degree and bank cycles of one warp request (or a batch of them) to shared memory.

    Parameters
    ----------
    addresses : array_like of int, shape (..., 32)
        Byte address of each lane's access; leading axes are independent requests.
    access_bytes : {1, 2, 4, 8, 16}
        Size of each lane's access (``float`` = 4, ``float2``/``double`` = 8, ``float4`` = 16).
    active : array_like of bool, optional
        Lane mask broadcastable to ``addresses``; inactive lanes request nothing.

    Returns
    -------
    SharedAccess
        ``degree``, ``wavefronts`` (batch-shaped int arrays) and ``phases``.

    Raises
    ------
    TypeError
        Non-integer addresses, non-boolean mask.
    ValueError
        Not 32 lanes, negative or misaligned addresses (``address % access_bytes != 0``).

    Notes
    -----
    A lane's access of ``s >= 4`` bytes covers the ``s/4`` consecutive words starting at word
    ``a // 4``; a 1- or 2-byte access lies inside one word. Lanes ``[p L, (p+1) L)`` form phase
    ``p`` with ``L = 32 * 4 / max(s, 4)`` lanes; in each phase the degree is the largest number of
    distinct words in one bank, and the warp's cost is the sum over phases. See question q13-01.

    Examples
    --------
    >>> lanes = np.arange(32)
    >>> int(shared_access(4 * lanes).degree)            # float a[lane]: one word per bank
    1
    >>> int(shared_access(4 * 32 * lanes).degree)       # column of a 32x32 float tile: one bank
    32
    >>> int(shared_access(np.zeros(32, dtype=int)).degree)  # everyone reads a[0]: broadcast
    1
    >>> r = shared_access(16 * lanes, access_bytes=16)  # float4 a[lane]: 4 quarter-warp phases
    >>> int(r.degree), int(r.wavefronts)
    (1, 4)
    """
    access_bytes = check_access_bytes(access_bytes)
    addr = check_warp_addresses(addresses, "addresses", access_bytes=access_bytes)
    mask = check_active(active, addr.shape)
    return _shared_access(addr, mask, access_bytes)


def _shared_access(addr: np.ndarray, mask: np.ndarray, access_bytes: int) -> SharedAccess:
    batch = addr.shape[:-1]
    n_words = max(access_bytes // BANK_BYTES, 1)
    lanes_per_phase = WARP_SIZE // n_words
    phases = n_words
    words = (addr // BANK_BYTES)[..., None] + np.arange(n_words)  # (..., 32, n_words)
    words = words.reshape(*batch, phases, lanes_per_phase * n_words)  # (..., P, L*n_words)
    valid = np.repeat(mask, n_words, axis=-1).reshape(words.shape)
    # distinct words of each phase: sort, keep first occurrences, then count them bank by bank
    k = np.sort(np.where(valid, words, -1), axis=-1)
    first = np.ones(k.shape, dtype=bool)
    first[..., 1:] = k[..., 1:] != k[..., :-1]
    first &= k >= 0
    per_bank = np.count_nonzero(
        first[..., None] & ((k % NUM_BANKS)[..., None] == np.arange(NUM_BANKS)), axis=-2
    )  # (..., P, 32) distinct words requested from each bank
    phase_degree = per_bank.max(axis=-1)  # (..., P)
    return SharedAccess(degree=phase_degree.max(axis=-1), wavefronts=phase_degree.sum(axis=-1), phases=phases)
