import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import LlamaConfig, Qwen2VLConfig
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding
from transformers.models.llama4.configuration_llama4 import Llama4TextConfig
from transformers.models.qwen2_vl.configuration_qwen2_vl import Qwen2VLTextConfig
from transformers.models.qwen2_vl.modeling_qwen2_vl import Qwen2VLModel, Qwen2VLRotaryEmbedding

from interviewlib.transformer import (
    RotaryEmbedding,
    apply_rope,
    hf_rope_parameters,
    irope_layer_types,
    mrope_cos_sin,
    mrope_position_ids,
    nope_attn_scale,
    rope_cos_sin,
    rope_dynamic_ntk,
    rope_inv_freq,
    rope_linear,
    rope_llama3,
    rope_longrope,
    rope_ntk,
    rope_proportional,
    rope_yarn,
)

# Hugging Face computes base ** (2i/d) in float32; the exponent's rounding (<= eps32/2 relative) is
# multiplied by ln(base) <= ln(1e6) ~ 14, plus a few ulps for pow and the products: relative error
# <= (ln(base) + 4) * eps32 on every frequency.
EPS32 = torch.finfo(torch.float32).eps


def f32_rtol(base: float) -> float:
    return (math.log(base) + 4) * EPS32


ATOL = 1e-12  # float64 against float64 closed forms


def _hf(rope_parameters, head_dim=64, max_position_embeddings=4096, seq_len=None):
    cfg = LlamaConfig(
        hidden_size=2 * head_dim, num_attention_heads=2, head_dim=head_dim,
        max_position_embeddings=max_position_embeddings, rope_parameters=dict(rope_parameters),
    )
    kw = {} if seq_len is None else {"seq_len": seq_len}
    inv, att = ROPE_INIT_FUNCTIONS[cfg.rope_parameters["rope_type"]](cfg, **kw)
    return inv.double(), float(att)


def _assert_matches_hf(ours, params, head_dim=64, max_pos=4096, seq_len=None):
    inv, att = ours
    ref_inv, ref_att = _hf(params, head_dim, max_pos, seq_len)
    assert inv.dtype == torch.float64
    torch.testing.assert_close(inv, ref_inv, rtol=f32_rtol(params["rope_theta"]), atol=0)
    assert att == pytest.approx(ref_att, rel=1e-15)  # both sides are Python float64 arithmetic
    # the dispatcher used by DecoderLM.from_hf_llama gives the same
    inv2, att2 = hf_rope_parameters(params, head_dim, max_pos, seq_len=seq_len)
    torch.testing.assert_close(inv2, inv, atol=0, rtol=0)
    assert att2 == att


# ---- against transformers.modeling_rope_utils.ROPE_INIT_FUNCTIONS (5.23.0) -------------------------


@pytest.mark.parametrize(("base", "factor", "head_dim"), [(10000.0, 2.0, 64), (10000.0, 8.0, 128), (5e5, 4.0, 32)])
def test_linear_matches_hf(base, factor, head_dim):
    params = {"rope_type": "linear", "rope_theta": base, "factor": factor}
    _assert_matches_hf(rope_linear(head_dim, base=base, factor=factor), params, head_dim)


@pytest.mark.parametrize(("factor", "seq_len"), [(2.0, 1000), (2.0, 4096), (2.0, 10000), (4.0, 16384), (8.0, 40000)])
def test_dynamic_ntk_matches_hf(factor, seq_len):
    params = {"rope_type": "dynamic", "rope_theta": 10000.0, "factor": factor}
    ours = rope_dynamic_ntk(64, factor=factor, seq_len=seq_len, max_position_embeddings=4096)
    _assert_matches_hf(ours, params, seq_len=seq_len)


@pytest.mark.parametrize("s", [2.0, 4.0, 16.0])
def test_static_ntk_equals_hf_dynamic_with_unit_factor(s):
    # HF's dynamic base: b * (factor * T / L - (factor - 1)) ** (d / (d - 2)); factor = 1, T = s L -> b s^(d/(d-2))
    params = {"rope_type": "dynamic", "rope_theta": 10000.0, "factor": 1.0}
    inv, att = rope_ntk(64, factor=s)
    ref, ref_att = _hf(params, seq_len=int(s * 4096))
    torch.testing.assert_close(inv, ref, rtol=f32_rtol(1e4 * s**2), atol=0)
    assert att == ref_att == 1.0


YARN_CASES = [
    {"factor": 4.0, "original_max_position_embeddings": 4096},  # Llama 2 4k -> 16k
    {"factor": 16.0, "original_max_position_embeddings": 4096},
    {"factor": 32.0, "original_max_position_embeddings": 4096, "beta_fast": 16.0, "beta_slow": 2.0},
    {"factor": 4.0, "original_max_position_embeddings": 32768, "rope_theta": 1e6},  # Qwen2.5-style 32k -> 128k
    {"factor": 8.0, "original_max_position_embeddings": 2048, "truncate": False},
    {"factor": 8.0, "original_max_position_embeddings": 4096, "attention_factor": 1.0},
    {"factor": 40.0, "original_max_position_embeddings": 4096, "mscale": 1.0, "mscale_all_dim": 1.0},  # DeepSeek-V3
    {"factor": 40.0, "original_max_position_embeddings": 4096, "mscale": 1.0, "mscale_all_dim": 0.707},
]


@pytest.mark.parametrize("case", YARN_CASES)
@pytest.mark.parametrize("head_dim", [64, 128])
def test_yarn_matches_hf(case, head_dim):
    params = {"rope_type": "yarn", "rope_theta": 10000.0, **case}
    kwargs = {k: v for k, v in params.items() if k not in ("rope_type", "rope_theta")}
    ours = rope_yarn(head_dim, base=params["rope_theta"], **kwargs)
    _assert_matches_hf(ours, params, head_dim, max_pos=int(case["factor"] * case["original_max_position_embeddings"]))


@pytest.mark.parametrize("seq_len", [None, 4096, 4097, 100000])
@pytest.mark.parametrize("factor", [None, 16.0])
def test_longrope_matches_hf(seq_len, factor):
    g = torch.Generator().manual_seed(0)
    short = (1 + 0.2 * torch.rand(32, generator=g)).tolist()
    long = (1 + 30 * torch.rand(32, generator=g).sort().values).tolist()
    params = {
        "rope_type": "longrope", "rope_theta": 10000.0, "short_factor": short, "long_factor": long,
        "original_max_position_embeddings": 4096,
    }
    if factor is not None:
        params["factor"] = factor
    ours = rope_longrope(
        64, short_factor=short, long_factor=long, original_max_position_embeddings=4096, factor=factor,
        max_position_embeddings=131072, seq_len=seq_len,
    )
    _assert_matches_hf(ours, params, max_pos=131072, seq_len=seq_len)


LLAMA3_CASES = [
    (8.0, 1.0, 4.0, 8192, 128),  # Llama 3.1 (config.json rope_scaling)
    (32.0, 1.0, 4.0, 8192, 64),  # Llama 3.2 1B/3B
    (16.0, 1.0, 1.0, 8192, 128),  # Llama 4 Scout: low = high -> hard step
    (4.0, 2.0, 8.0, 2048, 32),
]


@pytest.mark.parametrize(("factor", "low", "high", "orig", "head_dim"), LLAMA3_CASES)
def test_llama3_matches_hf(factor, low, high, orig, head_dim):
    params = {
        "rope_type": "llama3", "rope_theta": 500000.0, "factor": factor, "low_freq_factor": low,
        "high_freq_factor": high, "original_max_position_embeddings": orig,
    }
    ours = rope_llama3(
        head_dim, factor=factor, low_freq_factor=low, high_freq_factor=high, original_max_position_embeddings=orig
    )
    _assert_matches_hf(ours, params, head_dim, max_pos=131072)


@pytest.mark.parametrize(("p", "factor"), [(0.25, 1.0), (0.5, 2.0), (1.0, 1.0)])
def test_proportional_matches_hf(p, factor):
    params = {"rope_type": "proportional", "rope_theta": 1e6, "partial_rotary_factor": p, "factor": factor}
    ours = rope_proportional(64, base=1e6, partial_rotary_factor=p, factor=factor)
    _assert_matches_hf(ours, params)


def test_rotary_module_with_scaled_frequencies_matches_hf_forward():
    # YaRN through RotaryEmbedding(inv_freq=..., attention_scaling=...) vs LlamaRotaryEmbedding.forward
    params = {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 8.0, "original_max_position_embeddings": 512}
    cfg = LlamaConfig(hidden_size=64, num_attention_heads=2, head_dim=32, max_position_embeddings=4096, rope_parameters=params)
    pos = torch.arange(0, 4096, 64)[None]  # (1, 64), up to 4032
    hf_cos, hf_sin = LlamaRotaryEmbedding(cfg)(torch.zeros(1, dtype=torch.float64), pos)
    inv, att = hf_rope_parameters(params, 32, 4096)
    cos, sin = RotaryEmbedding(32, inv_freq=inv, attention_scaling=att)(pos, dtype=torch.float64)
    # float32 angle m * theta with m <= 4032: error <= m * theta * 4 eps32, theta <= 1
    torch.testing.assert_close(cos, hf_cos, atol=4032 * 4 * EPS32 * att, rtol=0)
    torch.testing.assert_close(sin, hf_sin, atol=4032 * 4 * EPS32 * att, rtol=0)


# ---- closed forms and hand-worked cases ---------------------------------------------------------------


def test_pi_and_ntk_closed_forms():
    theta = rope_inv_freq(16)
    torch.testing.assert_close(rope_linear(16, factor=4.0)[0], theta / 4, atol=0, rtol=0)
    ntk, _ = rope_ntk(16, factor=4.0)
    i = torch.arange(8, dtype=torch.float64)
    torch.testing.assert_close(ntk, theta * 4.0 ** (-2 * i / 14), atol=ATOL, rtol=1e-13)
    assert ntk[0] == theta[0] and torch.isclose(ntk[-1], theta[-1] / 4, rtol=1e-13)


def test_dynamic_ntk_is_plain_inside_and_ntk_outside():
    assert torch.equal(rope_dynamic_ntk(16, factor=4.0, seq_len=2048, max_position_embeddings=2048)[0], rope_inv_freq(16))
    # T = 3L with factor 2: effective NTK ratio 2 * 3 - 1 = 5
    dyn, _ = rope_dynamic_ntk(16, factor=2.0, seq_len=6144, max_position_embeddings=2048)
    torch.testing.assert_close(dyn, rope_ntk(16, factor=5.0)[0], atol=0, rtol=1e-14)


def test_yarn_regions_follow_the_turn_count():
    d, L, s = 128, 4096, 16.0
    theta = rope_inv_freq(d)
    turns = L * theta / (2 * math.pi)
    for ramp in ("index", "turns"):
        inv, att = rope_yarn(d, factor=s, original_max_position_embeddings=L, ramp=ramp)
        fast, slow = turns > 32 * 1.5, turns < 1 / 1.5  # comfortably inside each region
        torch.testing.assert_close(inv[fast], theta[fast], atol=0, rtol=0)
        torch.testing.assert_close(inv[slow], theta[slow] / s, atol=0, rtol=1e-15)
        assert att == pytest.approx(0.1 * math.log(s) + 1, rel=1e-15)
    # the paper's ramp, linear in r: at r = (alpha + beta) / 2 the weight is 1/2 -> theta (1 + 1/s) / 2
    r0 = 2048 / (2 * math.pi)  # d_rot = 2: theta_0 = 1
    inv, _ = rope_yarn(2, factor=3.0, original_max_position_embeddings=2048, ramp="turns",
                       beta_fast=r0 + 10, beta_slow=r0 - 10)
    assert float(inv[0]) == pytest.approx((1 + 1 / 3) / 2, rel=1e-12)
    inv1, att1 = rope_yarn(64, factor=1.0, original_max_position_embeddings=4096)
    torch.testing.assert_close(inv1, rope_inv_freq(64), atol=0, rtol=1e-15)  # s = 1: nothing changes
    assert att1 == 1.0


def _meta_llama3_apply_scaling(freqs, scale_factor, low_freq_factor, high_freq_factor, old_context_len):
    # Meta's reference loop (llama-models, models/llama3/reference_impl/model.py), in float64
    low_wl, high_wl = old_context_len / low_freq_factor, old_context_len / high_freq_factor
    out = []
    for f in freqs.tolist():
        wl = 2 * math.pi / f
        if wl < high_wl:
            out.append(f)
        elif wl > low_wl:
            out.append(f / scale_factor)
        else:
            smooth = (old_context_len / wl - low_freq_factor) / (high_freq_factor - low_freq_factor)
            out.append((1 - smooth) * f / scale_factor + smooth * f)
    return torch.tensor(out, dtype=torch.float64)


def test_llama3_equals_meta_reference_loop():
    theta = rope_inv_freq(128, 500000.0)
    ref = _meta_llama3_apply_scaling(theta, 8.0, 1.0, 4.0, 8192)
    torch.testing.assert_close(rope_llama3(128)[0], ref, atol=0, rtol=1e-15)
    wavelen = 2 * math.pi / theta
    assert int((wavelen < 8192 / 4).sum()) > 0 and int((wavelen > 8192).sum()) > 0  # both regions occur


def test_longrope_hand_worked_and_partial_layout():
    inv, att = rope_longrope(4, base=100.0, short_factor=[2.0, 2.0], long_factor=[1.0, 10.0],
                             original_max_position_embeddings=1000, factor=1.0)
    torch.testing.assert_close(inv, torch.tensor([0.5, 0.05], dtype=torch.float64), atol=ATOL, rtol=0)
    assert att == 1.0
    prop, _ = rope_proportional(8, base=100.0, partial_rotary_factor=0.5)
    x = torch.randn(1, 1, 3, 8, dtype=torch.float64)
    y = apply_rope(x, *rope_cos_sin(torch.arange(3), prop, dtype=torch.float64))
    # zero-frequency pairs (2, 3) <-> dims (2, 3, 6, 7) do not rotate
    assert torch.equal(y[..., [2, 3, 6, 7]], x[..., [2, 3, 6, 7]])


@settings(max_examples=25, deadline=None)
@given(
    half=st.integers(2, 64),
    log_base=st.floats(2.0, 14.0),
    s=st.floats(1.0, 64.0),
    log2_L=st.integers(8, 15),
)
def test_every_transform_lies_between_pi_and_plain_rope(half, log_base, s, log2_L):
    # no transform rotates faster than RoPE or slower than full interpolation, and order is kept
    d, base, L = 2 * half, math.exp(log_base), 2**log2_L
    theta = rope_inv_freq(d, base)
    for inv in (
        rope_linear(d, base=base, factor=s)[0],
        rope_ntk(d, base=base, factor=s)[0],
        rope_yarn(d, base=base, factor=s, original_max_position_embeddings=L)[0],
        rope_yarn(d, base=base, factor=s, original_max_position_embeddings=L, ramp="turns")[0],
        rope_llama3(d, base=base, factor=s, original_max_position_embeddings=L)[0],
    ):
        assert bool((inv <= theta * (1 + 1e-12)).all()) and bool((inv >= theta / s * (1 - 1e-12)).all())
        assert bool((inv[1:] <= inv[:-1] * (1 + 1e-12)).all())


# ---- M-RoPE (Qwen2-VL) ---------------------------------------------------------------------------------


def test_mrope_tables_match_hf_qwen2_vl():
    cfg = Qwen2VLTextConfig(
        hidden_size=32, num_attention_heads=2, num_key_value_heads=1, num_hidden_layers=1, intermediate_size=32,
        vocab_size=64, rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
    )
    hf = Qwen2VLRotaryEmbedding(cfg)
    g = torch.Generator().manual_seed(1)
    pos = torch.randint(0, 50, (3, 2, 7), generator=g)  # (3, B, T)
    hf_cos, hf_sin = hf(torch.zeros(1, dtype=torch.float64), pos)
    cos, sin = mrope_cos_sin(pos, rope_inv_freq(16), [2, 3, 3], dtype=torch.float64)
    torch.testing.assert_close(cos, hf_cos, atol=50 * 4 * EPS32, rtol=0)
    torch.testing.assert_close(sin, hf_sin, atol=50 * 4 * EPS32, rtol=0)


def test_mrope_position_ids_match_hf_get_rope_index_for_images():
    cfg = Qwen2VLConfig(
        text_config={"hidden_size": 32, "num_attention_heads": 2, "num_key_value_heads": 1, "num_hidden_layers": 1,
                     "intermediate_size": 32, "vocab_size": 64,
                     "rope_parameters": {"rope_type": "default", "mrope_section": [2, 3, 3]}},
        vision_config={"depth": 1, "embed_dim": 16, "hidden_size": 32, "num_heads": 2, "mlp_ratio": 1,
                       "spatial_merge_size": 2, "patch_size": 2, "temporal_patch_size": 2, "in_channels": 3},
    )
    model = Qwen2VLModel(cfg)
    # text 3, image 4x6 patches -> 2x3 tokens after the 2x2 merge, text 2, image 2x2 -> 1x1, text 1
    types = [0] * 3 + [1] * 6 + [0] * 2 + [1] * 1 + [0] * 1
    hf_pos, _ = model.get_rope_index(
        torch.zeros(1, len(types), dtype=torch.long), torch.tensor([types]),
        image_grid_thw=torch.tensor([[1, 4, 6], [1, 2, 2]]),
    )
    ours = mrope_position_ids([3, (1, 2, 3), 2, (1, 1, 1), 1])
    assert torch.equal(ours, hf_pos[:, 0])


def test_mrope_hand_worked_video_and_text_reduces_to_1d():
    pos = mrope_position_ids([1, (2, 1, 2), 1])
    expected = torch.tensor([[0, 1, 1, 2, 2, 3], [0, 1, 1, 1, 1, 3], [0, 1, 2, 1, 2, 3]])
    assert torch.equal(pos, expected)
    # many frames, small grid: the next text id is max + 1 (paper / original code), here 1 + 8 = 9
    assert int(mrope_position_ids([1, (8, 1, 1), 1])[0, -1]) == 9
    text = mrope_position_ids([5])
    c1, s1 = mrope_cos_sin(text, rope_inv_freq(8), [1, 2, 1], dtype=torch.float64)
    c2, s2 = rope_cos_sin(torch.arange(5), rope_inv_freq(8), dtype=torch.float64)
    assert torch.equal(c1, c2) and torch.equal(s1, s2)


def test_mrope_score_depends_on_axis_offsets_only():
    g = torch.Generator().manual_seed(2)
    q, k = torch.randn(2, 1, 1, 1, 16, generator=g, dtype=torch.float64)
    inv = rope_inv_freq(16)

    def score(pq, pk):
        cq, sq = mrope_cos_sin(torch.tensor(pq).view(3, 1), inv, [2, 3, 3], dtype=torch.float64)
        ck, sk = mrope_cos_sin(torch.tensor(pk).view(3, 1), inv, [2, 3, 3], dtype=torch.float64)
        return float((apply_rope(q, cq, sq) * apply_rope(k, ck, sk)).sum())

    base = score([3, 5, 7], [1, 2, 9])
    assert abs(base - score([13, 8, 17], [11, 5, 19])) < 1e-12  # same (dt, dh, dw)
    assert abs(base - score([3, 5, 7], [1, 3, 9])) > 1e-6  # different dh


# ---- iRoPE / NoPE (Llama 4) ----------------------------------------------------------------------------


@pytest.mark.parametrize(("n_layers", "interval"), [(8, 4), (12, 4), (6, 2), (5, 1)])
def test_irope_pattern_matches_hf_llama4(n_layers, interval):
    cfg = Llama4TextConfig(num_hidden_layers=n_layers, no_rope_layer_interval=interval)
    assert irope_layer_types(n_layers, nope_interval=interval) == ["rope" if u else "nope" for u in cfg.no_rope_layers]


def test_nope_attn_scale_formula():
    m = torch.tensor([0, 8190, 8191, 100_000])
    expected = torch.tensor([1.0, 1.0, 1 + 0.1 * math.log(2), 1 + 0.1 * math.log(100_001 // 8192 + 1)], dtype=torch.float64)
    torch.testing.assert_close(nope_attn_scale(m), expected, atol=ATOL, rtol=0)


# ---- bad input -------------------------------------------------------------------------------------------


def test_bad_inputs():
    with pytest.raises(ValueError, match="factor must be >= 1"):
        rope_linear(8, factor=0.5)
    with pytest.raises(TypeError, match="factor must be a real number"):
        rope_linear(8, factor="2")
    with pytest.raises(ValueError, match="d_rot must be even"):
        rope_linear(7, factor=2.0)
    with pytest.raises(ValueError, match="d_rot must be >= 4"):
        rope_ntk(2, factor=2.0)
    with pytest.raises(ValueError, match="seq_len must be >= 1"):
        rope_dynamic_ntk(8, factor=2.0, seq_len=0, max_position_embeddings=16)
    with pytest.raises(ValueError, match="beta_fast must be > beta_slow"):
        rope_yarn(8, factor=2.0, original_max_position_embeddings=16, beta_fast=1.0, beta_slow=2.0)
    with pytest.raises(ValueError, match='ramp must be "index" or "turns"'):
        rope_yarn(8, factor=2.0, original_max_position_embeddings=16, ramp="linear")
    with pytest.raises(ValueError, match="short_factor must hold 4 positive numbers"):
        rope_longrope(8, short_factor=[1.0] * 3, long_factor=[1.0] * 4, original_max_position_embeddings=16, factor=2.0)
    with pytest.raises(ValueError, match="long_factor must hold 4 positive numbers"):
        rope_longrope(8, short_factor=[1.0] * 4, long_factor=[1.0, 0.0, 1.0, 1.0],
                      original_max_position_embeddings=16, factor=2.0, seq_len=17)
    with pytest.raises(ValueError, match="give factor, or max_position_embeddings"):
        rope_longrope(8, short_factor=[1.0] * 4, long_factor=[1.0] * 4, original_max_position_embeddings=16)
    with pytest.raises(ValueError, match="high_freq_factor must be >= low_freq_factor"):
        rope_llama3(8, low_freq_factor=4.0, high_freq_factor=1.0)
    with pytest.raises(ValueError, match=r"partial_rotary_factor must be in \(0, 1\]"):
        rope_proportional(8, partial_rotary_factor=1.5)
    with pytest.raises(ValueError, match="head_dim must be even"):
        rope_proportional(9)
    with pytest.raises(ValueError, match="rope_type must be one of"):
        hf_rope_parameters({"rope_type": "xpos"}, 8, 16)
    with pytest.raises(ValueError, match="each vision entry of segments must be"):
        mrope_position_ids([2, (1, 2)])
    with pytest.raises(ValueError, match="a text segment must be >= 1"):
        mrope_position_ids([0])
    with pytest.raises(TypeError, match="segments must be a non-empty sequence"):
        mrope_position_ids([])
    with pytest.raises(ValueError, match="mrope_section must be 3 sizes summing to d_rot // 2 = 4"):
        mrope_cos_sin(torch.zeros(3, 2, dtype=torch.long), rope_inv_freq(8), [1, 1, 1])
    with pytest.raises(ValueError, match=r"position_ids must be \(3, T\) or \(3, B, T\)"):
        mrope_cos_sin(torch.zeros(2, 5, dtype=torch.long), rope_inv_freq(8), [2, 1, 1])
    with pytest.raises(ValueError, match="nope_interval must be >= 1"):
        irope_layer_types(4, nope_interval=0)
    with pytest.raises(ValueError, match="positions must be 1-D"):
        nope_attn_scale(torch.zeros(2, 2))
