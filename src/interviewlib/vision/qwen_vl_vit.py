r"""Qwen2.5-VL's vision side: window attention layout, the 2 x 2 patch merger, absolute-time M-RoPE ids.

* **Window attention.** Most ViT blocks attend only inside windows of ``window_size`` pixels
  (112 px = 8 x 8 patches of 14 px = 4 x 4 merged tokens); four blocks (indexes 7, 15, 23, 31 of
  32 in the released config) attend over the whole frame. :func:`window_partition` gives the
  permutation that makes every window contiguous plus the cumulative window lengths (what a
  varlen attention kernel wants); :func:`window_attention_mask` gives the same thing as a dense
  boolean mask in the processor's patch order.
* **Patch merger.** :class:`PatchMerger`: RMSNorm, concatenate each 2 x 2 block of patch
  features (4 x 1280 = 5120 for the ViT), MLP to the LLM width.
* **M-RoPE aligned to absolute time.** :func:`qwen25_mrope_position_ids`: like Qwen2-VL's
  M-RoPE (:func:`~interviewlib.transformer.rope_scaling.mrope_position_ids`), but the temporal id of
  temporal patch ``j`` of a video is ``floor(j * tokens_per_second * seconds_per_grid)``, so
  ids follow seconds, not frame counts.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..transformer._checks import check_int, check_tensor
from ..transformer.rmsnorm import RMSNorm

__all__ = ["window_partition", "window_attention_mask", "PatchMerger", "qwen25_mrope_position_ids"]


def _check_grids(grid_thw: Any, merge_size: int) -> list[tuple[int, int, int]]:
    if isinstance(grid_thw, torch.Tensor):
        if grid_thw.ndim != 2 or grid_thw.shape[1] != 3 or grid_thw.is_floating_point():
            raise ValueError(
                f"grid_thw must be an integer (N, 3) tensor; got {grid_thw.dtype} {tuple(grid_thw.shape)}."
            )
        grid_thw = grid_thw.tolist()
    if isinstance(grid_thw, (str, bytes)) or not isinstance(grid_thw, Sequence) or not grid_thw:
        raise TypeError(f"grid_thw must be a non-empty sequence of (t, h, w) patch grids; got {grid_thw!r}.")
    grids = []
    for g in grid_thw:
        if isinstance(g, (str, bytes)) or not isinstance(g, Sequence) or len(g) != 3:
            raise ValueError(f"each entry of grid_thw must be a (t, h, w) triple; got {g!r}.")
        t, h, w = (check_int(v, "grid_thw entries", low=1) for v in g)
        if h % merge_size or w % merge_size:
            raise ValueError(f"grid_thw h and w must be multiples of merge_size={merge_size}; got {(t, h, w)}.")
        grids.append((t, h, w))
    return grids


def _unit_window_ids(grids, merge_size: int, window_size: int, patch_size: int) -> torch.Tensor:
    """Window id of every merged unit, units in processor order (image, frame, row, col)."""
    m = check_int(merge_size, "merge_size", low=1)
    unit_px = m * check_int(patch_size, "patch_size", low=1)
    ws = check_int(window_size, "window_size", low=1)
    if ws % unit_px:
        raise ValueError(f"window_size must be a multiple of patch_size * merge_size = {unit_px}; got {ws}.")
    wm = ws // unit_px  # window side in merged units (4 for 112 px)
    ids, offset = [], 0
    for t, h, w in grids:
        uh, uw = h // m, w // m
        nh, nw = -(-uh // wm), -(-uw // wm)  # windows per column / row; edge windows are smaller
        r = torch.arange(uh).repeat_interleave(uw)  # (uh*uw,)
        c = torch.arange(uw).repeat(uh)  # (uh*uw,)
        frame_ids = (r // wm) * nw + c // wm  # (uh*uw,)
        ids.append((torch.arange(t)[:, None] * nh * nw + frame_ids).reshape(-1) + offset)  # (t*uh*uw,)
        offset += t * nh * nw
    return torch.cat(ids)


def window_partition(
    grid_thw: Any, *, window_size: int = 112, patch_size: int = 14, merge_size: int = 2
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Reorder merged units so each attention window is contiguous, and give the window lengths.

    Parameters
    ----------
    grid_thw : sequence of (t, h, w) or torch.Tensor, shape (N, 3)
        Patch grids of the images/videos in the batch (``image_grid_thw``), in 14 px patches.
    window_size : int
        Window side in pixels (112 in the released configs); a multiple of ``patch_size * merge_size``.
    patch_size, merge_size : int
        14 and 2.

    Returns
    -------
    index : torch.Tensor, shape (U,), int64
        Permutation of the ``U = sum t*h*w / merge**2`` merged units (each is ``merge**2``
        consecutive patches): windows in order (image, frame, window row, window column),
        units row-major inside a window.
    cu_seqlens : torch.Tensor, shape (n_windows + 1,), int64
        Cumulative window lengths in **patches**, starting at 0.

    Raises
    ------
    TypeError, ValueError
        For malformed grids, sizes that are not positive integers, h or w not divisible by
        ``merge_size``, or a window that is not a whole number of merged units.

    Notes
    -----
    Windows at the right/bottom edge are smaller; nothing is padded. Windows never cross frames
    or images. Equals ``transformers.vision_utils.get_vision_window_index`` (5.23.0), which builds
    it by padding and reshaping. See question q12-03.

    Examples
    --------
    >>> idx, cu = window_partition([(1, 12, 10)])  # 6 x 5 merged units, windows of 4 x 4 units
    >>> cu.tolist()
    [0, 64, 80, 112, 120]
    >>> idx[:5].tolist()
    [0, 1, 2, 3, 5]
    """
    grids = _check_grids(grid_thw, check_int(merge_size, "merge_size", low=1))
    wid = _unit_window_ids(grids, merge_size, window_size, patch_size)  # (U,)
    index = torch.argsort(wid, stable=True)  # (U,)
    counts = torch.bincount(wid)  # (n_windows,), every id occurs: each window has >= 1 unit
    cu = torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0) * merge_size**2])  # (n_windows + 1,)
    return index, cu


def window_attention_mask(
    grid_thw: Any, *, window_size: int = 112, patch_size: int = 14, merge_size: int = 2, full: bool = False
) -> torch.Tensor:
    r"""Dense boolean attention mask of a Qwen2.5-VL ViT block, patches in processor order.

    Parameters
    ----------
    grid_thw, window_size, patch_size, merge_size
        As in :func:`window_partition`.
    full : bool
        ``False``: a window-attention block. ``True``: a full-attention block, which still
        attends only within one frame (temporal patch) of one image.

    Returns
    -------
    torch.Tensor, shape (P, P), bool
        ``P = sum t*h*w`` patches in the order the processor emits them (per image, per frame,
        merged 2 x 2 blocks row-major, the 4 patches of a block consecutive). True = attend.

    Raises
    ------
    TypeError, ValueError
        As :func:`window_partition`; TypeError if ``full`` is not a bool.

    Notes
    -----
    For teaching and tests only: a real kernel never builds a ``P x P`` mask, it runs
    attention per segment of :func:`window_partition`'s ``cu_seqlens``. See question q12-03.

    Examples
    --------
    >>> m = window_attention_mask([(1, 16, 8)])  # 128 patches, 2 windows of 8 x 8 patches
    >>> m.shape, int(m.sum()), int(window_attention_mask([(1, 16, 8)], full=True).sum())
    (torch.Size([128, 128]), 8192, 16384)
    """
    if not isinstance(full, bool):
        raise TypeError(f"full must be a bool; got {type(full).__name__}.")
    grids = _check_grids(grid_thw, check_int(merge_size, "merge_size", low=1))
    if full:
        seg = torch.repeat_interleave(torch.arange(sum(t for t, _, _ in grids)),
                                      torch.tensor([h * w for t, h, w in grids for _ in range(t)]))  # fmt: skip
    else:
        seg = _unit_window_ids(grids, merge_size, window_size, patch_size).repeat_interleave(merge_size**2)  # (P,)
    return seg[:, None] == seg[None, :]  # (P, P)


class PatchMerger(nn.Module):
    r"""Qwen2.5-VL vision-language merger: RMSNorm, group ``merge**2`` patches, 2-layer GELU MLP.

    Parameters
    ----------
    context_dim : int
        ViT width (1280 in the released models).
    out_dim : int
        LLM width (3584 for the 7B).
    merge_size : int
        Side of the merged block (2): ``merge**2`` consecutive patch vectors become one token.
    eps : float
        RMSNorm epsilon (1e-6).

    Notes
    -----
    ``x (P, c) -> RMSNorm -> view (P / m**2, m**2 c) -> Linear(m**2 c, m**2 c) -> GELU ->
    Linear(m**2 c, out_dim)``. Parameter names follow ``Qwen2_5_VLPatchMerger`` of
    ``transformers`` 5.23.0 (``ln_q``, ``mlp``), so its state dict loads directly. The input must
    be in an order where each merged block's patches are consecutive (the processor order and
    the window order both are). See question q12-03.

    Examples
    --------
    >>> merger = PatchMerger(16, 24)
    >>> merger(torch.randn(40, 16)).shape  # 40 patches -> 10 tokens
    torch.Size([10, 24])
    """

    def __init__(self, context_dim: int, out_dim: int, *, merge_size: int = 2, eps: float = 1e-6) -> None:
        super().__init__()
        c = check_int(context_dim, "context_dim", low=1)
        o = check_int(out_dim, "out_dim", low=1)
        self.unit = check_int(merge_size, "merge_size", low=1) ** 2
        self.hidden = c * self.unit
        self.ln_q = RMSNorm(c, eps=eps)
        self.mlp = nn.Sequential(nn.Linear(self.hidden, self.hidden), nn.GELU(), nn.Linear(self.hidden, o))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Merge ``(P, context_dim)`` patch features into ``(P / merge**2, out_dim)`` tokens."""
        check_tensor(x, "x", ndim=2, layout="(P, context_dim)")
        if x.shape[1] != self.hidden // self.unit or x.shape[0] % self.unit:
            raise ValueError(
                f"x must be (P, {self.hidden // self.unit}) with P a multiple of {self.unit}; got {tuple(x.shape)}."
            )
        return self.mlp(self.ln_q(x).reshape(-1, self.hidden))  # (P / m^2, out_dim)


def qwen25_mrope_position_ids(segments: Sequence[Any], *, tokens_per_second: float = 2.0) -> torch.Tensor:
    r"""M-RoPE position ids of Qwen2.5-VL, with video temporal ids aligned to absolute time.

    Parameters
    ----------
    segments : sequence
        In order: an int ``n`` is ``n`` text tokens; ``(t, h, w)`` is an image (or a video whose
        temporal ids step by 1, as in Qwen2-VL); ``(t, h, w, seconds_per_grid)`` is a video whose
        ``t`` temporal patches each span ``seconds_per_grid`` seconds
        (``temporal_patch_size / fps``). Sizes are *after* the 2 x 2 merge.
    tokens_per_second : float
        Temporal ids per second of video (2 in the released ``vision_config``).

    Returns
    -------
    torch.Tensor, shape (3, T), int64
        Rows temporal, height, width. Text: three equal ids. Vision cell ``(j, a, b)``:
        ``start + (floor(j * tokens_per_second * seconds_per_grid), a, b)``. The next segment
        starts at the largest id so far plus one.

    Raises
    ------
    TypeError, ValueError
        For malformed segments or a non-positive ``seconds_per_grid`` / ``tokens_per_second``.

    Notes
    -----
    With 3-tuples only this equals :func:`~interviewlib.transformer.rope_scaling.mrope_position_ids`. The
    temporal id depends on the timestamp only: sampling the same clip at 2 or 4 fps gives the
    same id for the same second. The "largest id + 1" rule is the one of the original
    ``get_rope_index`` in ``transformers`` 4.x (the code added with Qwen2.5-VL, file header
    "The Qwen Team and The HuggingFace Inc. team"). ``transformers`` 5.23.0 computes the same
    vision ids but starts the text after a block at ``start + max(h, w)``; the two differ only
    when a video's last temporal id exceeds ``max(h, w) - 1``. See question q12-03.

    References
    ----------
    .. [1] Bai et al., "Qwen2.5-VL Technical Report", 2025, arXiv:2502.13923, Sec. 2.1.3.

    Examples
    --------
    >>> qwen25_mrope_position_ids([1, (3, 1, 1, 1.0), 1])[0].tolist()  # 1 s per grid, 2 ids per second
    [0, 1, 3, 5, 6]
    """
    if isinstance(segments, (str, bytes)) or not isinstance(segments, Sequence) or not segments:
        raise TypeError(
            f"segments must be a non-empty sequence of ints and (t, h, w[, seconds]) tuples; got {segments!r}."
        )
    if isinstance(tokens_per_second, bool) or not isinstance(tokens_per_second, numbers.Real) \
            or not math.isfinite(tokens_per_second) or tokens_per_second <= 0:  # fmt: skip
        raise ValueError(f"tokens_per_second must be a positive finite number; got {tokens_per_second!r}.")
    parts, start = [], 0
    for seg in segments:
        if isinstance(seg, Sequence) and not isinstance(seg, (str, bytes)):
            if len(seg) not in (3, 4):
                raise ValueError(
                    f"each vision entry of segments must be (t, h, w) or (t, h, w, seconds); got {tuple(seg)}."
                )
            t, h, w = (check_int(v, "t, h, w", low=1) for v in seg[:3])
            step = 1.0
            if len(seg) == 4:
                spg = seg[3]
                if isinstance(spg, bool) or not isinstance(spg, numbers.Real) or not math.isfinite(spg) or spg <= 0:
                    raise ValueError(f"seconds_per_grid must be a positive finite number; got {spg!r}.")
                step = float(tokens_per_second) * float(spg)
            tid = torch.floor(torch.arange(t, dtype=torch.float64) * step).long()  # (t,)
            grid = torch.stack(torch.meshgrid(tid, torch.arange(h), torch.arange(w), indexing="ij")).reshape(3, -1)
            parts.append(grid + start)  # (3, t*h*w)
        else:
            n = check_int(seg, "a text segment", low=1)
            parts.append(torch.arange(start, start + n).expand(3, n))  # (3, n)
        start = int(parts[-1].max()) + 1
    return torch.cat(parts, dim=1)  # (3, T)
