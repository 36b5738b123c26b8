r"""Naive vs tiled matrix transpose as address streams, fed to the bank and coalescing simulators.

Both kernels transpose a row-major ``R x C`` float matrix ``A`` into ``B = A^T`` (``C x R``). A
thread block covers a 32 x 32 tile; warp ``ty`` of the block is the 32 lanes ``tx = 0..31`` of one
tile row (block ``(bx, by)``, ``x = 32 bx + tx``, ``y = 32 by + ty``):

* **naive**: ``B[x, y] = A[y, x]``. The load is contiguous, the store walks down a column of ``B``
  with a stride of ``R`` floats: 32 sectors per warp.
* **tiled**: ``tile[ty][tx] = A[y, x]`` (coalesced load, shared-memory store), barrier, then
  ``B[32 bx + ty, 32 by + tx] = tile[tx][ty]`` (shared-memory column read, coalesced store).

The column read ``tile[tx][ty]`` hits one bank 32 times with the plain ``float tile[32][32]``;
padding a column (``[32][33]``) or an XOR swizzle (column ``c`` of row ``r`` stored at ``c ^ r``)
spreads it over all 32 banks. The kernels are *executed* from their address streams, so the
output is checked as well as counted. See question q13-05 (and q13-01 for the tile layouts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import as_float_array
from ._addresses import WARP_SIZE
from .global_memory import _coalescing
from .shared_memory import _shared_access

__all__ = ["TILE", "LAYOUTS", "tile_offsets", "TransposeTraffic", "transpose_traffic"]

TILE = 32
LAYOUTS = ("plain", "padded", "swizzled")
FLOAT_BYTES = 4


def tile_offsets(layout: Any = "plain") -> np.ndarray:
    """Byte offset in shared memory of element ``[r][c]`` of a 32 x 32 float tile.

    Parameters
    ----------
    layout : {"plain", "padded", "swizzled"}
        ``float t[32][32]``; ``float t[32][33]`` (one padding column, row pitch 33 words); or
        ``float t[32][32]`` with column ``c`` of row ``r`` stored at column ``c ^ r`` (a per-element
        swizzle, CuTe's ``Swizzle<5,0,5>`` on float offsets).

    Returns
    -------
    numpy.ndarray
        int64 array of shape (32, 32); ``bank_of`` of it is the bank map of the tile.

    Raises
    ------
    ValueError
        Unknown layout.

    Notes
    -----
    XOR with the row keeps each row a permutation of its 32 words (row stores stay conflict-free)
    and gives the 32 rows of one logical column 32 different physical columns, hence banks. It
    needs no extra memory, unlike padding. Because ``c ^ r`` also changes the two low bits of
    ``c``, it reorders the four floats inside each 16-byte chunk, so a swizzled row cannot be read
    as ``float4`` directly; CuTe's 128B swizzle XORs 16-byte chunk indices instead (vector access
    kept, but a scalar column read is then 4-way). See question q13-01.

    Examples
    --------
    >>> from interviewlib.gpu import bank_of
    >>> bank_of(tile_offsets("plain")[:4, 0]).tolist(), bank_of(tile_offsets("padded")[:4, 0]).tolist()
    ([0, 0, 0, 0], [0, 1, 2, 3])
    >>> bank_of(tile_offsets("swizzled")[:4, 1]).tolist()
    [1, 0, 3, 2]
    """
    if not isinstance(layout, str) or layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}; got {layout!r}.")
    r, c = np.meshgrid(np.arange(TILE), np.arange(TILE), indexing="ij")
    if layout == "plain":
        word = r * TILE + c
    elif layout == "padded":
        word = r * (TILE + 1) + c
    else:
        word = r * TILE + (c ^ r)
    return FLOAT_BYTES * word.astype(np.int64)


@dataclass(frozen=True)
class TransposeTraffic:
    """Output and per-kernel counts of one transpose; sums over all warps of the grid.

    Attributes
    ----------
    out : numpy.ndarray
        The matrix the address streams produced (equals ``A.T``).
    load_sectors, store_sectors : int
        32-byte sectors of the global loads and stores.
    warp_requests : int
        Warp-level global load instructions (= store instructions).
    smem_store_wavefronts, smem_load_wavefronts : int
        Shared-memory bank cycles of the tile store and tile load (0 for the naive kernel).
    smem_store_degree, smem_load_degree : int
        Worst conflict degree of any tile store / load request.
    """

    out: np.ndarray
    load_sectors: int
    store_sectors: int
    warp_requests: int
    smem_store_wavefronts: int
    smem_load_wavefronts: int
    smem_store_degree: int
    smem_load_degree: int


def transpose_traffic(A: Any, *, kernel: str = "tiled", smem_layout: str = "padded") -> TransposeTraffic:
    """Run the naive or tiled transpose of ``A`` through the simulators and count its traffic.

    Parameters
    ----------
    A : array_like, shape (R, C)
        Real matrix, stored row-major as float32-sized elements; ``R`` and ``C`` multiples of 32.
    kernel : {"naive", "tiled"}
        Kernel to simulate.
    smem_layout : {"plain", "padded", "swizzled"}
        Shared tile layout of the tiled kernel (ignored by the naive one).

    Returns
    -------
    TransposeTraffic

    Raises
    ------
    TypeError
        Non-numeric ``A``.
    ValueError
        ``A`` not 2-D, a side not a positive multiple of 32, non-finite entries, unknown option.

    Notes
    -----
    Addresses are byte offsets from 256-byte aligned buffers. ``out`` is computed by gathering
    ``A`` at the load addresses and scattering to ``B`` at the store addresses (through the tile
    at its shared addresses for the tiled kernel), so a wrong index formula fails loudly.
    See question q13-05.

    Examples
    --------
    >>> A = np.arange(64 * 32, dtype=float).reshape(64, 32)
    >>> t = transpose_traffic(A, kernel="naive")
    >>> t.load_sectors // t.warp_requests, t.store_sectors // t.warp_requests
    (4, 32)
    >>> t = transpose_traffic(A, kernel="tiled", smem_layout="plain")
    >>> t.store_sectors // t.warp_requests, t.smem_load_degree, bool(np.array_equal(t.out, A.T))
    (4, 32, True)
    """
    A = as_float_array(A, "A", ndim=2)
    R, C = A.shape
    if R == 0 or C == 0 or R % TILE or C % TILE:
        raise ValueError(f"A must have both sides positive multiples of {TILE} (one tile per block); got shape {A.shape}.")
    if not isinstance(kernel, str) or kernel not in ("naive", "tiled"):
        raise ValueError(f"kernel must be 'naive' or 'tiled'; got {kernel!r}.")
    if not isinstance(smem_layout, str) or smem_layout not in LAYOUTS:
        raise ValueError(f"smem_layout must be one of {LAYOUTS}; got {smem_layout!r}.")
    return _transpose_traffic(A, kernel, smem_layout)


def _transpose_traffic(A: np.ndarray, kernel: str, layout: str) -> TransposeTraffic:
    R, C = A.shape
    by, bx, ty, tx = np.meshgrid(
        np.arange(R // TILE), np.arange(C // TILE), np.arange(TILE), np.arange(WARP_SIZE), indexing="ij"
    )  # each (R/32, C/32, 32, 32): block, warp row, lane
    shape = (-1, WARP_SIZE)  # one row per warp request
    y, x = TILE * by + ty, TILE * bx + tx
    load = (y * C + x).reshape(shape)  # element index into A, (W, 32)
    values = A.reshape(-1)[load]  # registers after the global load, (W, 32)
    full = np.ones(load.shape, dtype=bool)
    load_cost = _coalescing(FLOAT_BYTES * load, full, FLOAT_BYTES)
    out = np.empty(C * R)
    if kernel == "naive":
        store = (x * R + y).reshape(shape)  # B[x, y]
        smem = (0, 0, 0, 0)
    else:
        offsets = tile_offsets(layout)
        block = (by * (C // TILE) + bx).reshape(shape)  # each block has its own tile
        smem_bytes = offsets.max() + FLOAT_BYTES
        st_addr = offsets[ty, tx].reshape(shape)  # tile[ty][tx]
        ld_addr = offsets[tx, ty].reshape(shape)  # tile[tx][ty]
        words = smem_bytes // FLOAT_BYTES  # words of one block's tile
        shared = np.zeros((R // TILE) * (C // TILE) * words)  # all blocks' tiles side by side
        shared[block * words + st_addr // FLOAT_BYTES] = values  # shared store
        values = shared[block * words + ld_addr // FLOAT_BYTES]  # after __syncthreads(): shared load
        st, ld = _shared_access(st_addr, full, FLOAT_BYTES), _shared_access(ld_addr, full, FLOAT_BYTES)
        smem = (int(st.wavefronts.sum()), int(ld.wavefronts.sum()), int(st.degree.max()), int(ld.degree.max()))
        store = ((TILE * bx + ty) * R + TILE * by + tx).reshape(shape)  # B[32 bx + ty, 32 by + tx]
    out[store] = values  # global store
    store_cost = _coalescing(FLOAT_BYTES * store, full, FLOAT_BYTES)
    return TransposeTraffic(
        out=out.reshape(C, R),
        load_sectors=int(load_cost.sectors.sum()),
        store_sectors=int(store_cost.sectors.sum()),
        warp_requests=load.shape[0],
        smem_store_wavefronts=smem[0],
        smem_load_wavefronts=smem[1],
        smem_store_degree=smem[2],
        smem_load_degree=smem[3],
    )
