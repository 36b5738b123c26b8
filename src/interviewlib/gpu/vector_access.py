r"""Vector accesses and packing: ``float2``/``float4`` copies and ``half2`` arithmetic, counted.

A CUDA thread can load or store 1, 2, 4, 8 or 16 bytes in one instruction, provided the address
is a multiple of the size (the limit up to Hopper; compute capability 10.0 adds 32-byte global
loads/stores, which this module does not model). Copying ``n`` floats with ``w`` floats per access (``w`` = 1, 2, 4 for
``float``, ``float2``, ``float4``) needs ``n / w`` thread accesses, i.e. ``n / (32 w)`` warp
instructions each way, while the bytes (and, for contiguous data, the sectors) stay the same:
the win is fewer instructions (issue slots, address arithmetic, loop overhead) and more bytes in
flight per instruction. ``half2`` packs two ``half`` values in one 32-bit register so that one
``HFMA2`` instruction performs two fused multiply-adds. See question q13-04.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._addresses import WARP_SIZE
from .global_memory import SECTOR_BYTES, coalescing

__all__ = ["VectorCopyCost", "vector_copy_cost", "pack_half2", "unpack_half2", "hfma2"]

FLOAT_BYTES = 4


@dataclass(frozen=True)
class VectorCopyCost:
    """Instructions and memory traffic of copying ``n`` floats, ``width`` floats per thread access.

    Attributes
    ----------
    n, width : int
        Problem size and floats per access.
    thread_accesses : int
        Thread-level loads (equal to the stores): ``n // width`` vector ones plus the scalar tail.
    warp_instructions : int
        Warp-level memory instructions, loads plus stores.
    sectors : int
        32-byte sectors moved, loads plus stores.
    lines : int
        128-byte line look-ups, loads plus stores.
    """

    n: int
    width: int
    thread_accesses: int
    warp_instructions: int
    sectors: int
    lines: int

    @property
    def bytes_moved(self) -> int:
        return SECTOR_BYTES * self.sectors

    @property
    def bytes_per_instruction(self) -> float:
        """Useful bytes (loads and stores) per warp instruction."""
        return 2 * FLOAT_BYTES * self.n / max(self.warp_instructions, 1)


def vector_copy_cost(n: Any, *, width: int = 4, offset_bytes: int = 0) -> VectorCopyCost:
    r"""Count instructions and sectors of ``dst[i] = src[i]`` for ``n`` floats with ``width``-float accesses.

    Thread ``t`` copies floats ``[t w, (t+1) w)`` with one ``w``-float access; the ``n mod w``
    floats left over are copied by a scalar tail (one float per thread), as real kernels do.

    Parameters
    ----------
    n : int
        Number of floats (``n >= 0``).
    width : {1, 2, 4}
        Floats per access: ``float``, ``float2`` or ``float4``.
    offset_bytes : int
        Byte offset of ``src`` and ``dst`` from a 256-byte aligned allocation. A vector access needs
        ``offset_bytes % (4 * width) == 0``.

    Returns
    -------
    VectorCopyCost

    Raises
    ------
    TypeError
        Non-integer ``n``, ``width`` or ``offset_bytes``.
    ValueError
        Negative ``n`` or offset, ``width`` not in (1, 2, 4), or a misaligned vector access
        (CUDA requires vector types to be naturally aligned).

    Notes
    -----
    Warp-level instructions: ``ceil((n // w) / 32)`` vector plus ``ceil((n mod w) / 32)`` scalar,
    times two (load and store). Sectors come from
    :func:`~interviewlib.gpu.global_memory.coalescing` on every warp's addresses. See question q13-04.

    Examples
    --------
    >>> [vector_copy_cost(4096, width=w).warp_instructions for w in (1, 2, 4)]
    [256, 128, 64]
    >>> [vector_copy_cost(4096, width=w).sectors for w in (1, 2, 4)]  # same bytes, same sectors
    [1024, 1024, 1024]
    """
    for name, v in (("n", n), ("width", width), ("offset_bytes", offset_bytes)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name} must be an integer; got {type(v).__name__} {v!r}.")
        if v < 0:
            raise ValueError(f"{name} must be >= 0; got {v}.")
    if width not in (1, 2, 4):
        raise ValueError(f"width must be 1, 2 or 4 floats per access (float, float2, float4); got {width}.")
    vec_bytes = FLOAT_BYTES * width
    if offset_bytes % FLOAT_BYTES or offset_bytes % vec_bytes:
        need = FLOAT_BYTES if offset_bytes % FLOAT_BYTES else vec_bytes
        raise ValueError(
            f"offset_bytes={offset_bytes} makes a {vec_bytes}-byte access misaligned: it must be a multiple of "
            f"{need} bytes (CUDA vector types must be naturally aligned; use width=1 or realign the pointer)."
        )
    return _vector_copy_cost(int(n), int(width), int(offset_bytes))


def _warps(first_byte: int, count: int, access_bytes: int) -> tuple[int, int, int]:
    """(warp instructions, sectors, lines) of ``count`` consecutive ``access_bytes`` accesses."""
    if count == 0:
        return 0, 0, 0
    n_warps = -(-count // WARP_SIZE)
    idx = np.arange(n_warps * WARP_SIZE).reshape(n_warps, WARP_SIZE)  # (W, 32) thread ids
    r = coalescing(first_byte + idx * access_bytes, access_bytes=access_bytes, active=idx < count)
    return n_warps, int(r.sectors.sum()), int(r.lines.sum())


def _vector_copy_cost(n: int, width: int, offset_bytes: int) -> VectorCopyCost:
    n_vec, n_tail = n // width, n % width
    body = _warps(offset_bytes, n_vec, FLOAT_BYTES * width)
    tail = _warps(offset_bytes + FLOAT_BYTES * width * n_vec, n_tail, FLOAT_BYTES)
    return VectorCopyCost(
        n=n,
        width=width,
        thread_accesses=n_vec + n_tail,
        warp_instructions=2 * (body[0] + tail[0]),  # each load has its store
        sectors=2 * (body[1] + tail[1]),
        lines=2 * (body[2] + tail[2]),
    )


def _as_half(x: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(x)
    except Exception as exc:
        raise TypeError(f"{name} must be array-like of real numbers; got {type(x).__name__} ({exc}).") from exc
    if arr.dtype == object or arr.dtype == bool or not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise TypeError(f"{name} must contain real numbers; got {type(x).__name__} of dtype {arr.dtype}.")
    return arr.astype("<f2")


def pack_half2(lo: Any, hi: Any) -> np.ndarray:
    """Pack two half-precision arrays into ``half2`` words: ``lo`` in bits 0-15, ``hi`` in bits 16-31.

    Parameters
    ----------
    lo, hi : array_like
        Values rounded to float16 (``.x`` and ``.y`` of CUDA's ``half2``); same shape.

    Returns
    -------
    numpy.ndarray
        uint32 words (a *view* of the interleaved float16 pairs, no arithmetic).

    Raises
    ------
    TypeError
        Non-numeric input.
    ValueError
        Shapes differ.

    Notes
    -----
    ``np.stack([lo, hi], -1)`` lays the halves out as ``x0 y0 x1 y1 ...`` (little-endian), which is
    exactly how an array of ``half2`` sits in memory; ``.view('<u4')`` reinterprets each pair as one
    32-bit word. Non-finite values are allowed (they are valid float16 bit patterns). See q13-04.

    Examples
    --------
    >>> hex(int(pack_half2([1.0], [-2.0])[0]))  # 1.0 = 0x3c00, -2.0 = 0xc000
    '0xc0003c00'
    """
    a, b = _as_half(lo, "lo"), _as_half(hi, "hi")
    if a.shape != b.shape:
        raise ValueError(f"lo and hi must have the same shape; got {a.shape} and {b.shape}.")
    return np.ascontiguousarray(np.stack([a, b], axis=-1)).view("<u4")[..., 0]


def unpack_half2(packed: Any) -> tuple[np.ndarray, np.ndarray]:
    """Split ``half2`` words (uint32) back into their ``.x`` (low) and ``.y`` (high) float16 halves.

    Raises
    ------
    TypeError
        If ``packed`` is not an unsigned/signed 32-bit integer array.

    Examples
    --------
    >>> x, y = unpack_half2(pack_half2([0.5, 3.0], [7.0, -1.0]))
    >>> x.tolist(), y.tolist()
    ([0.5, 3.0], [7.0, -1.0])
    """
    try:
        arr = np.asarray(packed)
    except Exception as exc:
        raise TypeError(f"packed must be a uint32 array of half2 words; got {type(packed).__name__} ({exc}).") from exc
    if arr.dtype not in (np.dtype(np.uint32), np.dtype(np.int32)):
        raise TypeError(f"packed must be a uint32 array of half2 words; got {type(packed).__name__} of dtype {arr.dtype}.")
    halves = np.ascontiguousarray(arr.astype("<u4")).view("<f2").reshape(*arr.shape, 2)
    return halves[..., 0].copy(), halves[..., 1].copy()


def hfma2(a: Any, b: Any, c: Any) -> np.ndarray:
    r"""``half2`` fused multiply-add on packed words: both lanes of ``a * b + c``, rounded once.

    Parameters
    ----------
    a, b, c : array_like of uint32
        Packed ``half2`` words of the same shape (see :func:`pack_half2`).

    Returns
    -------
    numpy.ndarray
        uint32 words holding ``(a.x*b.x + c.x, a.y*b.y + c.y)`` in float16.

    Raises
    ------
    TypeError
        If an argument is not a 32-bit integer array.
    ValueError
        Shapes differ.

    Notes
    -----
    ``n`` half-precision FMAs take ``n`` scalar instructions but ``ceil(n/2)`` ``HFMA2`` ones: the
    32-bit datapath does two 16-bit lanes at once. Emulated in float64: the product of two float16
    values is exact there (22 significant bits), and for float16 addends the float64 sum is exact or
    off by far less than half a float16 ulp, so rounding it once to float16 gives the fused,
    round-to-nearest-even result of ``__hfma2``. See question q13-04.

    Examples
    --------
    >>> one, two = pack_half2([1.0], [2.0]), pack_half2([3.0], [0.5])
    >>> [h.tolist() for h in unpack_half2(hfma2(one, two, one))]   # (1*3+1, 2*0.5+2)
    [[4.0], [3.0]]
    """
    halves = []
    for name, v in (("a", a), ("b", b), ("c", c)):
        try:
            arr = np.asarray(v)
        except Exception as exc:
            raise TypeError(f"{name} must be a uint32 array of half2 words; got {type(v).__name__} ({exc}).") from exc
        if arr.dtype not in (np.dtype(np.uint32), np.dtype(np.int32)):
            raise TypeError(f"{name} must be a uint32 array of half2 words; got {type(v).__name__} of dtype {arr.dtype}.")
        halves.append(arr)
    if not halves[0].shape == halves[1].shape == halves[2].shape:
        raise ValueError(f"a, b and c must have the same shape; got {[h.shape for h in halves]}.")
    (ax, ay), (bx, by), (cx, cy) = (unpack_half2(h) for h in halves)
    with np.errstate(over="ignore", invalid="ignore"):
        x = (ax.astype(np.float64) * bx + cx).astype("<f2")
        y = (ay.astype(np.float64) * by + cy).astype("<f2")
    return pack_half2(x, y)
