"""Qwen2.5-VL window attention layout, patch merger and absolute-time M-RoPE vs ``transformers`` 5.23."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import Qwen2_5_VLConfig
from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import (
    Qwen2_5_VisionTransformerPretrainedModel,
    Qwen2_5_VLModel,
    Qwen2_5_VLPatchMerger,
)
from transformers.vision_utils import get_vision_window_index

from interviewlib.transformer import mrope_position_ids
from interviewlib.vision import PatchMerger, qwen25_mrope_position_ids, window_attention_mask, window_partition

# float64 merger vs a float64 closed form: only summation order differs
MERGER_ATOL = 1e-12
# vs transformers in float32: its RMSNorm always computes in float32, ~1e-7 relative per op over 3 ops
MERGER_HF_ATOL = 1e-5
# an output row counts as "changed" by a perturbed input patch above this (unchanged rows are bit-identical)
CHANGED = 1e-6


def _hf_window(grids, window_size=112, patch=14, merge=2):
    idx, cu = get_vision_window_index(torch.tensor(grids), merge, window_size, patch)
    return idx, cu


def _mask_from_hf(grids, window_size=112):
    """Dense mask from transformers' permutation + window lengths, brought back to processor order."""
    idx, cu = _hf_window(grids, window_size)
    seg = torch.repeat_interleave(torch.arange(len(cu) - 1), (cu[1:] - cu[:-1]).long())  # window order
    patch_perm = (idx[:, None] * 4 + torch.arange(4)).reshape(-1)  # window position -> processor patch
    seg_proc = torch.empty_like(seg)
    seg_proc[patch_perm] = seg
    return seg_proc[:, None] == seg_proc[None, :]


# ---- window attention ---------------------------------------------------------------------------------


@pytest.mark.parametrize("grids", [[(1, 40, 40)], [(1, 12, 10)], [(1, 16, 16)], [(2, 10, 22), (1, 4, 6)],
                                   [(1, 2, 2)], [(3, 8, 8), (1, 34, 2)]])  # fmt: skip
def test_window_partition_matches_transformers(grids):
    idx, cu = window_partition(grids)
    hf_idx, hf_cu = _hf_window(grids)
    assert torch.equal(idx, hf_idx) and cu.tolist() == hf_cu.tolist()
    assert torch.equal(window_attention_mask(grids), _mask_from_hf(grids))


@settings(max_examples=25, deadline=None)
@given(grids=st.lists(st.tuples(st.integers(1, 2), st.integers(1, 20), st.integers(1, 20)), min_size=1, max_size=3),
       win=st.sampled_from([28, 56, 112, 224]))  # fmt: skip
def test_window_partition_hypothesis(grids, win):
    grids = [(t, 2 * h, 2 * w) for t, h, w in grids]
    idx, cu = window_partition(grids, window_size=win)
    hf_idx, hf_cu = _hf_window(grids, win)
    assert torch.equal(idx, hf_idx) and cu.tolist() == hf_cu.tolist()
    assert sorted(idx.tolist()) == list(range(len(idx)))  # a permutation
    assert torch.equal(window_attention_mask(grids, window_size=win), _mask_from_hf(grids, win))


def test_hand_worked_window_layout_and_full_mask():
    # 8 x 8 patches = 4 x 4 units: one 112 px window; 16 x 8 patches: two; each window 64 patches
    assert window_partition([(1, 8, 8)])[1].tolist() == [0, 64]
    assert window_partition([(1, 16, 8)])[1].tolist() == [0, 64, 128]
    # full attention: block-diagonal per frame (temporal patch), never across images
    full = window_attention_mask([(2, 2, 2), (1, 2, 4)], full=True)
    expected = torch.block_diag(torch.ones(4, 4), torch.ones(4, 4), torch.ones(8, 8)).bool()
    assert torch.equal(full, expected)
    # a window never crosses frames even though frames share (row, col)
    win = window_attention_mask([(2, 2, 2)])
    assert torch.equal(win, torch.block_diag(torch.ones(4, 4), torch.ones(4, 4)).bool())


@pytest.mark.parametrize("full", [False, True])
def test_mask_predicts_information_flow_in_a_real_hf_vision_block(full):
    """Perturb one input patch of a 1-block HF Qwen2.5-VL ViT; exactly the rows our mask allows change."""
    torch.manual_seed(0)
    cfg = Qwen2_5_VLConfig(
        vision_config={"depth": 1, "hidden_size": 16, "intermediate_size": 24, "num_heads": 2, "out_hidden_size": 8,
                       "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2, "window_size": 112,
                       "fullatt_block_indexes": [0] if full else []},
        text_config={"hidden_size": 16, "num_attention_heads": 2, "num_key_value_heads": 1, "num_hidden_layers": 1,
                     "intermediate_size": 16, "vocab_size": 32},
    )  # fmt: skip
    cfg.vision_config._attn_implementation = "eager"
    vit = Qwen2_5_VisionTransformerPretrainedModel(cfg.vision_config).double().eval()
    grids = [(1, 12, 10), (1, 4, 8)]
    n = sum(t * h * w for t, h, w in grids)
    x = torch.randn(n, 3 * 2 * 14 * 14, dtype=torch.float64)
    idx, _ = window_partition(grids)
    unperm = torch.argsort(idx)

    def rows(inp):  # last_hidden_state is in window order; bring the units back to processor order
        out = vit(inp, grid_thw=torch.tensor(grids)).last_hidden_state  # (n, d), window order
        return out.reshape(-1, 4, out.shape[-1])[unperm].reshape(n, -1)

    base = rows(x)
    mask = window_attention_mask(grids, full=full)
    for j in (0, 37, 90, 121, n - 1):
        x2 = x.clone()
        x2[j] += 1.0
        changed = (rows(x2) - base).abs().amax(-1) > CHANGED
        assert torch.equal(changed, mask[:, j])


def test_window_cost_is_linear_in_patches():
    # attention score count: windows give sum n_w^2 <= 64 * P, full attention P^2
    for side in (16, 32, 48):
        mask = window_attention_mask([(1, side, side)])
        p = side * side
        assert int(mask.sum()) == p * 64  # every window is full-size (8 x 8 patches) for multiples of 8
        assert int(window_attention_mask([(1, side, side)], full=True).sum()) == p * p


# ---- patch merger -------------------------------------------------------------------------------------


def test_patch_merger_matches_hf_with_copied_weights():
    torch.manual_seed(1)
    hf = Qwen2_5_VLPatchMerger(dim=12, context_dim=8, spatial_merge_size=2)
    ours = PatchMerger(8, 12, merge_size=2)
    ours.load_state_dict(hf.state_dict(), strict=True)  # same parameter names and shapes
    x = torch.randn(40, 8)
    torch.testing.assert_close(ours(x), hf(x), atol=MERGER_HF_ATOL, rtol=0)
    assert ours(x).shape == (10, 12)
    # float64 closed form: normalise each patch, concatenate 4 consecutive ones, Linear-GELU-Linear
    ours = ours.double()
    xd = x.double()
    w = dict(ours.named_parameters())
    z = (xd / xd.pow(2).mean(-1, keepdim=True).add(1e-6).sqrt() * w["ln_q.weight"]).reshape(10, 32)
    h = torch.nn.functional.gelu(z @ w["mlp.0.weight"].T + w["mlp.0.bias"])
    torch.testing.assert_close(ours(xd), h @ w["mlp.2.weight"].T + w["mlp.2.bias"], atol=MERGER_ATOL, rtol=0)


def test_patch_merger_groups_consecutive_patches_only():
    torch.manual_seed(2)
    merger = PatchMerger(4, 3).double()
    x = torch.randn(16, 4, dtype=torch.float64)
    y = merger(x)
    x2 = x.clone()
    x2[5] += 1.0  # patch 5 belongs to token 1 (patches 4..7)
    changed = (merger(x2) - y).abs().amax(-1) > CHANGED
    assert changed.tolist() == [False, True, False, False]


# ---- absolute-time M-RoPE -----------------------------------------------------------------------------


def _hf_model(tokens_per_second=2):
    cfg = Qwen2_5_VLConfig(
        vision_config={"depth": 1, "hidden_size": 16, "intermediate_size": 16, "num_heads": 2, "out_hidden_size": 16,
                       "spatial_merge_size": 2, "tokens_per_second": tokens_per_second},
        text_config={"hidden_size": 16, "num_attention_heads": 2, "num_key_value_heads": 1, "num_hidden_layers": 1,
                     "intermediate_size": 16, "vocab_size": 32,
                     "rope_parameters": {"rope_type": "default", "mrope_section": [1, 1, 2]}},
    )  # fmt: skip
    return Qwen2_5_VLModel(cfg)


HF_MODEL = _hf_model()


def _hf_rope(types, image_grids=None, video_grids=None, seconds=None):
    pos, _ = HF_MODEL.get_rope_index(
        torch.zeros(1, len(types), dtype=torch.long), torch.tensor([types]),
        image_grid_thw=None if image_grids is None else torch.tensor(image_grids),
        video_grid_thw=None if video_grids is None else torch.tensor(video_grids),
        second_per_grid_ts=None if seconds is None else torch.tensor(seconds),
    )  # fmt: skip
    return pos[:, 0]


def test_images_and_text_match_hf_get_rope_index_and_chapter_8():
    # text 3, image 8 x 12 patches -> 4 x 6 tokens, text 2, image 2 x 2 -> 1 x 1, text 1
    types = [0] * 3 + [1] * 24 + [0] * 2 + [1] * 1 + [0] * 1
    hf = _hf_rope(types, image_grids=[[1, 8, 12], [1, 2, 2]])
    ours = qwen25_mrope_position_ids([3, (1, 4, 6), 2, (1, 1, 1), 1])
    assert torch.equal(ours, hf)
    assert torch.equal(ours, mrope_position_ids([3, (1, 4, 6), 2, (1, 1, 1), 1]))


@pytest.mark.parametrize("seconds", [1.0, 0.5, 1.25, 0.25, 0.3])
def test_video_ids_match_hf_while_the_last_temporal_id_is_below_max_hw(seconds):
    # 3 temporal patches, 4 x 6 tokens: last temporal id floor(2 * 2 * seconds) + 1 <= max(h, w) = 6 for these
    types = [0] * 2 + [2] * (3 * 4 * 6) + [0] * 3
    hf = _hf_rope(types, video_grids=[[3, 8, 12]], seconds=[seconds])
    ours = qwen25_mrope_position_ids([2, (3, 4, 6, seconds), 3], tokens_per_second=2)
    assert torch.equal(ours, hf)


def test_long_video_vision_ids_match_hf_and_text_restart_differs_as_documented():
    # 8 temporal patches of 1 s, 2 x 2 tokens: temporal ids 0, 2, ..., 14 exceed max(h, w) - 1 = 1
    types = [0] * 1 + [2] * (8 * 2 * 2) + [0] * 2
    hf = _hf_rope(types, video_grids=[[8, 4, 4]], seconds=[1.0])
    ours = qwen25_mrope_position_ids([1, (8, 2, 2, 1.0), 2])
    assert torch.equal(ours[:, :33], hf[:, :33])  # text and video ids agree
    assert ours[0, 33].item() == 1 + 14 + 1  # ours: largest id + 1
    assert hf[0, 33].item() == 1 + 2  # transformers 5.23.0: start + max(h, w)
    # 3 patches of 2 s (step 4, last temporal id 8 >= max(h, w) = 6): the same split
    types = [0] * 2 + [2] * (3 * 4 * 6) + [0] * 3
    hf = _hf_rope(types, video_grids=[[3, 8, 12]], seconds=[2.0])
    ours = qwen25_mrope_position_ids([2, (3, 4, 6, 2.0), 3])
    assert torch.equal(ours[:, :74], hf[:, :74]) and ours[0, 74] == 2 + 8 + 1 and hf[0, 74] == 2 + 6


def test_absolute_time_alignment_and_hand_worked_ids():
    # same 4-second clip sampled at 2 fps (1 s per temporal patch) and 4 fps (0.5 s): same id at same second
    slow = qwen25_mrope_position_ids([(4, 1, 1, 1.0)], tokens_per_second=2)[0]
    fast = qwen25_mrope_position_ids([(8, 1, 1, 0.5)], tokens_per_second=2)[0]
    assert slow.tolist() == [0, 2, 4, 6] and fast.tolist() == [0, 1, 2, 3, 4, 5, 6, 7]
    assert fast[::2].tolist() == slow.tolist()
    # 3-tuples step by one per temporal patch (Qwen2-VL) and reduce to chapter 8's function
    assert torch.equal(qwen25_mrope_position_ids([1, (2, 1, 2), 1]), mrope_position_ids([1, (2, 1, 2), 1]))
    # fractional steps floor: 0.3 s * 2 = 0.6 per patch -> 0, 0, 1, 1, 2
    assert qwen25_mrope_position_ids([(5, 1, 1, 0.3)])[0].tolist() == [0, 0, 1, 1, 2]


# ---- bad input ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [None, "not valid", float("nan"), [[1.0, 2.0], [3.0]], [], [(1, 2)],
                                 [(1, 3, 4)], [(0, 2, 2)], torch.ones(1, 3)])  # fmt: skip
def test_window_functions_reject_bad_grids(bad):
    for fn in (window_partition, window_attention_mask):
        with pytest.raises((TypeError, ValueError), match="grid_thw"):
            fn(bad)


def test_window_functions_reject_bad_sizes():
    with pytest.raises(ValueError, match="window_size must be a multiple"):
        window_partition([(1, 4, 4)], window_size=100)
    with pytest.raises(ValueError, match="merge_size"):
        window_partition([(1, 4, 4)], merge_size=0)
    with pytest.raises(TypeError, match="full"):
        window_attention_mask([(1, 4, 4)], full=1)
    with pytest.raises(TypeError, match="unexpected keyword"):
        window_partition([(1, 4, 4)], windowsize=112)


def test_patch_merger_rejects_bad_input():
    merger = PatchMerger(4, 3)
    with pytest.raises(TypeError, match="x"):
        merger([[1.0]])
    with pytest.raises(ValueError, match="multiple of 4"):
        merger(torch.randn(6, 4))
    with pytest.raises(ValueError, match="x must be"):
        merger(torch.randn(8, 5))
    with pytest.raises(ValueError, match="context_dim"):
        PatchMerger(0, 3)


@pytest.mark.parametrize("bad", [None, "not valid", float("nan"), [[1.0, 2.0], [3.0]], [], [0], [(1, 2)],
                                 [(1, 1, 1, 0.0)], [(1, 1, 1, float("nan"))], [(1, 0, 1)]])  # fmt: skip
def test_mrope_rejects_bad_segments(bad):
    with pytest.raises((TypeError, ValueError), match="segment|t, h, w|seconds_per_grid"):
        qwen25_mrope_position_ids(bad)


def test_mrope_rejects_bad_tokens_per_second():
    for bad in (0, -1.0, float("inf"), True, "2"):
        with pytest.raises(ValueError, match="tokens_per_second"):
            qwen25_mrope_position_ids([1], tokens_per_second=bad)
