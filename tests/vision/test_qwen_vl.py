"""Qwen2-VL / Qwen2.5-VL resize rule and token count vs the ``transformers`` image processor."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers.models.qwen2_vl import image_processing_pil_qwen2_vl as hf_pil
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

from interviewlib.vision import QWEN25_VL_7B_PREPROCESSOR, image_grid_thw, image_token_count, smart_resize

CFG = dict(QWEN25_VL_7B_PREPROCESSOR)  # the released checkpoint's preprocessor_config.json values
SMALL = {**CFG, "min_pixels": 28 * 28 * 4, "max_pixels": 28 * 28 * 64}  # a tight budget: exercises the shrink branch


def _processor(cfg):
    # built directly from the config values (no download); the PIL backend needs no torchvision
    return Qwen2VLImageProcessorPil(**cfg)


HF = _processor(CFG)
HF_SMALL = _processor(SMALL)


def _hf_grid(proc, h, w):
    img = np.zeros((h, w, 3), dtype=np.uint8)
    # say the layout: a (1, 60, 3) array would otherwise be guessed as channels-first
    out = proc(images=[img], return_tensors="np", input_data_format="channels_last")
    return tuple(int(v) for v in out["image_grid_thw"][0]), out["pixel_values"].shape


def _ours(cfg, h, w):
    kw = {k: cfg[k] for k in ("patch_size", "merge_size", "min_pixels", "max_pixels")}
    return image_grid_thw(h, w, **kw), image_token_count(h, w, **kw)


# ---- against the reference processor ----------------------------------------------------------------


@pytest.mark.parametrize(("h", "w"), [(560, 560), (224, 224), (448, 448), (720, 1280), (1080, 1920), (20, 20),
                                  (1, 60), (333, 777), (42, 70), (14, 2800)])  # fmt: skip
def test_grid_and_pixel_values_match_hf_processor(h, w):
    (t, gh, gw), pv_shape = _hf_grid(HF, h, w)
    grid, n_tokens = _ours(CFG, h, w)
    assert grid == (t, gh, gw)
    # one row per 14 x 14 patch; each row holds C * temporal_patch_size * 14 * 14 values (the frame twice)
    assert pv_shape == (gh * gw, 3 * CFG["temporal_patch_size"] * 14 * 14)
    assert n_tokens == t * gh * gw // 4


@settings(max_examples=25, deadline=None)
@given(h=st.integers(1, 1400), w=st.integers(1, 1400), small=st.booleans())
def test_hypothesis_matches_hf_processor(h, w, small):
    cfg, proc = (SMALL, HF_SMALL) if small else (CFG, HF)
    if max(h, w) / min(h, w) > 200:
        with pytest.raises(ValueError, match="aspect ratio"):
            _ours(cfg, h, w)
        return
    assert _ours(cfg, h, w)[0] == _hf_grid(proc, h, w)[0]


def test_resize_rule_matches_hf_function_on_a_dense_grid_and_huge_sizes():
    sizes = list(range(1, 300, 7)) + [599, 600, 601, 3583, 3584, 3585, 4000, 8191, 20000]
    for h in sizes:
        for w in sizes:
            if max(h, w) / min(h, w) > 200:
                with pytest.raises(ValueError):
                    hf_pil.smart_resize(h, w, 28, CFG["min_pixels"], CFG["max_pixels"])
                with pytest.raises(ValueError, match="aspect ratio"):
                    smart_resize(h, w)
                continue
            assert smart_resize(h, w) == hf_pil.smart_resize(h, w, 28, CFG["min_pixels"], CFG["max_pixels"])
            assert smart_resize(h, w, **{k: SMALL[k] for k in ("min_pixels", "max_pixels")}) == hf_pil.smart_resize(
                h, w, 28, SMALL["min_pixels"], SMALL["max_pixels"]
            )


def test_token_count_matches_hf_number_of_patches_helper():
    for h, w in [(560, 560), (2160, 3840), (4320, 7680), (100, 19000)]:
        patches = HF.get_number_of_image_patches(h, w, {})
        assert image_token_count(h, w) == patches // 4


# ---- closed forms -----------------------------------------------------------------------------------


def test_hand_worked_sizes():
    # 560 / 28 = 20 exactly: 40 x 40 patches -> 20 x 20 = 400 tokens, + <|vision_start|>, <|vision_end|>
    assert smart_resize(560, 560) == (560, 560)
    assert image_grid_thw(560, 560) == (1, 40, 40)
    assert image_token_count(560, 560) == 400 and image_token_count(560, 560, include_special=True) == 402
    # 1080p: round(1080 / 28) = round(38.57) = 39, round(1920 / 28) = round(68.57) = 69 -> 39 * 69 tokens
    assert smart_resize(1080, 1920) == (39 * 28, 69 * 28) and image_token_count(1080, 1920) == 39 * 69
    # round half to even, as Python's round: 42 / 28 = 1.5 -> 2, 70 / 28 = 2.5 -> 2
    assert smart_resize(42, 2800)[0] == 56 and smart_resize(70, 2800)[0] == 56
    # tiny image: 20 x 20 = 400 px < 3136 -> beta = sqrt(3136 / 400) = 2.8 -> ceil(56 / 28) * 28 = 56
    assert smart_resize(20, 20) == (56, 56) and image_token_count(20, 20) == 4


def test_bounds_in_tokens_follow_from_the_pixel_bounds():
    # min_pixels / 28^2 = 4 tokens, max_pixels / 28^2 = 16384 tokens
    assert CFG["min_pixels"] // 28**2 == 4 and CFG["max_pixels"] // 28**2 == 16384
    assert image_token_count(1, 1) == 4
    assert image_token_count(8000, 8000) == 16384  # 8000 / beta = 3584 = 128 * 28: exactly the cap
    # 20000 / beta / 28 evaluates to 127.999... in floating point and floors to 127: one row and column fewer
    assert smart_resize(20000, 20000) == hf_pil.smart_resize(20000, 20000, 28, CFG["min_pixels"], CFG["max_pixels"])
    assert image_token_count(20000, 20000) == 127 * 127
    assert image_token_count(5000, 7000) <= 16384


@settings(max_examples=25, deadline=None)
@given(h=st.integers(1, 30000), w=st.integers(1, 30000))
def test_properties_multiples_of_28_and_pixel_bounds(h, w):
    if max(h, w) / min(h, w) > 200:
        return
    hb, wb = smart_resize(h, w)
    assert hb % 28 == 0 and wb % 28 == 0 and hb >= 28 and wb >= 28
    assert hb * wb >= CFG["min_pixels"]
    assert hb * wb <= CFG["max_pixels"] or min(hb, wb) == 28  # only a side clamped to one factor can overshoot


# ---- bad input --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fn", [smart_resize, image_grid_thw, image_token_count])
@pytest.mark.parametrize(("bad", "exc"), [(None, TypeError), ("not valid", TypeError), (float("nan"), TypeError),
                                      ([[1.0, 2.0], [3.0]], TypeError), (0, ValueError), (-5, ValueError),
                                      (28.0, TypeError), (True, TypeError)])  # fmt: skip
def test_bad_first_argument(fn, bad, exc):
    with pytest.raises(exc, match="height"):
        fn(bad, 100)


def test_bad_other_arguments():
    with pytest.raises(ValueError, match="width"):
        smart_resize(100, 0)
    with pytest.raises(ValueError, match="aspect ratio"):
        smart_resize(10, 2010)  # ratio 201
    assert smart_resize(10, 2000) == hf_pil.smart_resize(10, 2000, 28, CFG["min_pixels"], CFG["max_pixels"])  # 200 ok
    with pytest.raises(ValueError, match="min_pixels must be <= max_pixels"):
        smart_resize(100, 100, min_pixels=5000, max_pixels=4000)
    with pytest.raises(ValueError, match="factor"):
        smart_resize(100, 100, factor=0)
    with pytest.raises(ValueError, match="patch_size"):
        image_grid_thw(100, 100, patch_size=0)
    with pytest.raises(TypeError, match="merge_size"):
        image_token_count(100, 100, merge_size=2.0)
    with pytest.raises(TypeError, match="include_special"):
        image_token_count(100, 100, include_special=1)
    with pytest.raises(TypeError, match="unexpected keyword"):
        smart_resize(100, 100, max_pixel=10)  # a typo must not be ignored
    with pytest.raises(TypeError):
        image_token_count(100, 100, 14)  # sizes after the two pixels are keyword-only
