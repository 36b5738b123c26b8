import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from interviewlib.transformer import (
    EncoderLayer,
    attention_memory_bytes,
    crossover_seq_len,
    decode_step_flops,
    layer_flops,
    scaled_dot_product_attention,
)


def measured(fn):
    with FlopCounterMode(display=False) as fc:
        fn()
    return fc.get_total_flops()


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 20), h=st.sampled_from([1, 2, 4]), dh=st.integers(1, 6), b=st.integers(1, 3), mult=st.integers(1, 4))
def test_layer_flops_equal_flopcountermode_exactly(n, h, dh, b, mult):
    d = h * dh
    layer = EncoderLayer(d, h, mult * d)
    x = torch.randn(b, n, d)
    with torch.no_grad():
        assert measured(lambda: layer(x)) == layer_flops(n, d, d_ff=mult * d, batch=b)["total"]


def test_components_against_counter():
    n, d, h = 9, 8, 2
    q = torch.randn(1, h, n, d // h)
    assert measured(lambda: scaled_dot_product_attention(q, q, q)) == (
        layer_flops(n, d)["scores"] + layer_flops(n, d)["attn_v"]
    )


def test_closed_form_and_crossover():
    f = layer_flops(100, 16)
    assert f["total"] == 24 * 100 * 16**2 + 4 * 100**2 * 16
    d = 64
    n = crossover_seq_len(d)
    assert n == 6 * d
    g = layer_flops(n, d)
    assert g["scores"] + g["attn_v"] == g["qkv"] + g["out_proj"] + g["ffn"]
    assert crossover_seq_len(10, d_ff=30) == 50


def test_decode_step_vs_counter():
    # one new token: projections + FFN on 1 token, attention over t+1 cached keys
    d, h, t = 8, 2, 5
    layer = EncoderLayer(d, h, 4 * d)
    x = torch.randn(1, 1, d)
    kv = torch.randn(1, h, t + 1, d // h)
    with torch.no_grad():
        dense = measured(lambda: (layer.self_attn.q_proj(x), layer.self_attn.k_proj(x), layer.self_attn.v_proj(x),
                                  layer.self_attn.out_proj(x), layer.ffn(x)))
        attn = measured(lambda: scaled_dot_product_attention(torch.randn(1, h, 1, d // h), kv, kv))
    f = decode_step_flops(t, d)
    assert (f["dense"], f["attention"]) == (dense, attn)
    assert f["kv_cache_elements"] == 2 * kv.numel()


def test_attention_memory_matches_tensor():
    w = torch.zeros(2, 3, 7, 7, dtype=torch.float16)
    assert attention_memory_bytes(7, 3, batch=2, bytes_per_element=2) == w.numel() * w.element_size()


def test_bad_inputs():
    with pytest.raises(ValueError, match="n must be >= 1"):
        layer_flops(0, 4)
    with pytest.raises(TypeError, match="integer"):
        layer_flops(2.0, 4)
    with pytest.raises(ValueError, match="t must be >= 0"):
        decode_step_flops(-1, 4)
