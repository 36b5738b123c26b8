r"""Qwen2-VL / Qwen2.5-VL image preprocessing: the ``smart_resize`` rule and the visual token count.

An image of ``H x W`` pixels is resized so that both sides are multiples of
``factor = patch_size * merge_size`` (14 * 2 = 28) and the pixel count lies in
``[min_pixels, max_pixels]``, keeping the aspect ratio as well as the rounding allows. The ViT
cuts the result into 14 x 14 patches (``grid_h x grid_w``); a still image is one temporal patch
(the frame is repeated ``temporal_patch_size = 2`` times inside each patch vector), so
``grid_t = 1``; the patch merger then fuses every 2 x 2 block of patches into one LLM token:

.. math:: N = \frac{grid_t\, grid_h\, grid_w}{merge^2} = \frac{H'}{28}\cdot\frac{W'}{28}.

The defaults are the values of the released checkpoint's ``preprocessor_config.json``
(``Qwen/Qwen2.5-VL-7B-Instruct``: ``min_pixels = 3136``, ``max_pixels = 12845056``, i.e. 4 to
16384 tokens), **not** the ``transformers`` class defaults (``max_pixels = 28*28*1280``).
"""

from __future__ import annotations

import math
from types import MappingProxyType

from ..transformer._checks import check_int

__all__ = ["QWEN25_VL_7B_PREPROCESSOR", "smart_resize", "image_grid_thw", "image_token_count"]

#: ``preprocessor_config.json`` of ``Qwen/Qwen2.5-VL-7B-Instruct`` (the pixel bounds and patch sizes).
QWEN25_VL_7B_PREPROCESSOR = MappingProxyType(
    {"min_pixels": 3136, "max_pixels": 12845056, "patch_size": 14, "temporal_patch_size": 2, "merge_size": 2}
)

_MIN = QWEN25_VL_7B_PREPROCESSOR["min_pixels"]
_MAX = QWEN25_VL_7B_PREPROCESSOR["max_pixels"]
_PATCH = QWEN25_VL_7B_PREPROCESSOR["patch_size"]
_MERGE = QWEN25_VL_7B_PREPROCESSOR["merge_size"]
MAX_ASPECT_RATIO = 200  # the preprocessor refuses longer/shorter side ratios above this


def _check_bounds(min_pixels: int, max_pixels: int) -> tuple[int, int]:
    lo = check_int(min_pixels, "min_pixels", low=1)
    hi = check_int(max_pixels, "max_pixels", low=1)
    if lo > hi:
        raise ValueError(f"min_pixels must be <= max_pixels; got min_pixels={lo}, max_pixels={hi}.")
    return lo, hi


def _smart_resize(h: int, w: int, factor: int, lo: int, hi: int) -> tuple[int, int]:
    # round() is Python's round-half-to-even, as in the reference preprocessor: 42 / 28 = 1.5 -> 2, 70 / 28 = 2.5 -> 2
    hb, wb = round(h / factor) * factor, round(w / factor) * factor
    if hb * wb > hi:  # too many pixels: shrink by beta, then floor to the grid
        beta = math.sqrt(h * w / hi)
        hb = max(factor, math.floor(h / beta / factor) * factor)
        wb = max(factor, math.floor(w / beta / factor) * factor)
    elif hb * wb < lo:  # too few: enlarge by beta, then ceil to the grid
        beta = math.sqrt(lo / (h * w))
        hb = math.ceil(h * beta / factor) * factor
        wb = math.ceil(w * beta / factor) * factor
    return hb, wb


def smart_resize(
    height: int, width: int, *, factor: int = _PATCH * _MERGE, min_pixels: int = _MIN, max_pixels: int = _MAX
) -> tuple[int, int]:
    r"""Target size ``(H', W')`` of the Qwen2-VL / Qwen2.5-VL image preprocessor.

    Parameters
    ----------
    height, width : int
        Input size in pixels, both >= 1.
    factor : int
        Both output sides are multiples of it: ``patch_size * merge_size`` (28).
    min_pixels, max_pixels : int
        Bounds on ``H' * W'`` (defaults: the released 7B checkpoint's 3136 and 12845056).

    Returns
    -------
    tuple of int
        ``(H', W')``. Each side is first rounded to the nearest multiple of ``factor``
        (half to even); if the area then exceeds ``max_pixels`` both sides are divided by
        :math:`\beta = \sqrt{HW / \text{max\_pixels}}` and floored to the grid (at least one
        ``factor``); if it falls below ``min_pixels`` they are multiplied by
        :math:`\beta = \sqrt{\text{min\_pixels} / HW}` and ceiled.

    Raises
    ------
    TypeError
        If a size is not an integer.
    ValueError
        If a size is < 1, ``min_pixels > max_pixels``, or the aspect ratio exceeds 200.

    Notes
    -----
    Mirrors ``smart_resize`` of ``transformers`` 5.23.0 (``models/qwen2_vl``) and of
    ``qwen-vl-utils``. Floor after shrinking can leave the area a little under ``max_pixels``;
    ceil after enlarging a little over ``min_pixels``; extreme aspect ratios can still end
    outside the bounds (the reference behaves the same). See question q12-04.

    References
    ----------
    .. [1] Wang et al., "Qwen2-VL", 2024, arXiv:2409.12191; Bai et al., "Qwen2.5-VL Technical
       Report", 2025, arXiv:2502.13923.

    Examples
    --------
    >>> smart_resize(560, 560)
    (560, 560)
    >>> smart_resize(1080, 1920)
    (1092, 1932)
    >>> smart_resize(20, 20)  # below min_pixels = 56 * 56: enlarged
    (56, 56)
    """
    h = check_int(height, "height", low=1)
    w = check_int(width, "width", low=1)
    f = check_int(factor, "factor", low=1)
    lo, hi = _check_bounds(min_pixels, max_pixels)
    if max(h, w) / min(h, w) > MAX_ASPECT_RATIO:
        raise ValueError(
            f"height / width aspect ratio must be <= {MAX_ASPECT_RATIO}; got {height} x {width} "
            f"(ratio {max(h, w) / min(h, w):.1f}). Crop or pad the image first."
        )
    return _smart_resize(h, w, f, lo, hi)


def image_grid_thw(
    height: int,
    width: int,
    *,
    patch_size: int = _PATCH,
    merge_size: int = _MERGE,
    min_pixels: int = _MIN,
    max_pixels: int = _MAX,
) -> tuple[int, int, int]:
    r"""Patch grid ``(grid_t, grid_h, grid_w)`` of one image, as the processor's ``image_grid_thw``.

    Parameters
    ----------
    height, width : int
        Input size in pixels.
    patch_size, merge_size : int
        ViT patch side (14) and patch-merger block side (2).
    min_pixels, max_pixels : int
        As in :func:`smart_resize`.

    Returns
    -------
    tuple of int
        ``(1, H' / patch_size, W' / patch_size)``: an image is a single temporal patch.

    Raises
    ------
    TypeError, ValueError
        As :func:`smart_resize`, and for non-positive patch or merge sizes.

    Notes
    -----
    See question q12-04.

    Examples
    --------
    >>> image_grid_thw(560, 560)
    (1, 40, 40)
    """
    p = check_int(patch_size, "patch_size", low=1)
    m = check_int(merge_size, "merge_size", low=1)
    hb, wb = smart_resize(height, width, factor=p * m, min_pixels=min_pixels, max_pixels=max_pixels)
    return 1, hb // p, wb // p


def image_token_count(
    height: int,
    width: int,
    *,
    patch_size: int = _PATCH,
    merge_size: int = _MERGE,
    min_pixels: int = _MIN,
    max_pixels: int = _MAX,
    include_special: bool = False,
) -> int:
    r"""LLM tokens of one image: ``grid_t * grid_h * grid_w / merge_size**2`` ``<|image_pad|>`` tokens.

    Parameters
    ----------
    height, width : int
        Input size in pixels.
    patch_size, merge_size, min_pixels, max_pixels : int
        As in :func:`image_grid_thw`.
    include_special : bool
        Add the 2 tokens that wrap every image in the chat template,
        ``<|vision_start|>`` and ``<|vision_end|>``.

    Returns
    -------
    int

    Raises
    ------
    TypeError, ValueError
        As :func:`image_grid_thw`; TypeError if ``include_special`` is not a bool.

    Notes
    -----
    See question q12-04.

    Examples
    --------
    >>> image_token_count(560, 560), image_token_count(560, 560, include_special=True)
    (400, 402)
    """
    if not isinstance(include_special, bool):
        raise TypeError(f"include_special must be a bool; got {type(include_special).__name__}.")
    t, gh, gw = image_grid_thw(
        height, width, patch_size=patch_size, merge_size=merge_size, min_pixels=min_pixels, max_pixels=max_pixels
    )
    return t * gh * gw // (merge_size * merge_size) + (2 if include_special else 0)
