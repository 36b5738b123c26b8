import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import DeepseekV3Config, DeepseekV3ForCausalLM

from interviewlib.transformer import (
    DecoderConfig,
    DecoderLM,
    KVCache,
    MultiHeadLatentAttention,
    RotaryEmbedding,
    from_hf_deepseek_v3,
    generate,
    kv_cache_bytes,
    mla_kv_cache_elements,
)

ATOL = 1e-12  # float64, same operations up to the order of summation
# Hugging Face's DeepseekV3RMSNorm casts to float32 even for float64 inputs, and its RoPE angles are
# float32, so the reference itself is only accurate to ~1e-7 relative; a wrong weight layout gives O(1).
HF_RTOL = 1e-5
HF_ATOL = 1e-5

KW = dict(n_heads=4, q_lora_rank=12, kv_lora_rank=10, qk_nope_head_dim=6, qk_rope_head_dim=4, v_head_dim=5)


def _pair(d_model=16, seed=0, **kw):
    """A naive and an absorbed module with the same (non-trivial) weights, float64."""
    kw = {**KW, **kw}
    torch.manual_seed(seed)
    naive = MultiHeadLatentAttention(d_model, **kw).double()
    with torch.no_grad():
        for p in naive.parameters():
            p.copy_(1 + 0.3 * torch.randn_like(p) if p.ndim == 1 else 0.4 * torch.randn_like(p))
    absorbed = MultiHeadLatentAttention(d_model, **kw, absorb=True).double()
    absorbed.load_state_dict(naive.state_dict())
    return naive, absorbed


def _rope(T, d_rot, start=0):
    return RotaryEmbedding(d_rot)(torch.arange(start, start + T), dtype=torch.float64)


def _hf(seed=0, *, q_lora_rank=16, rope_interleave=True, n_layers=2, attn="sdpa"):
    torch.manual_seed(seed)
    cfg = DeepseekV3Config(
        vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=n_layers,
        first_k_dense_replace=n_layers, num_attention_heads=4, num_key_value_heads=4,
        q_lora_rank=q_lora_rank, kv_lora_rank=12, qk_nope_head_dim=8, qk_rope_head_dim=6, v_head_dim=6,
        max_position_embeddings=64, rope_interleave=rope_interleave, attn_implementation=attn,
    )  # fmt: skip
    hf = DeepseekV3ForCausalLM(cfg).double().eval()
    with torch.no_grad():  # larger than the 0.02 init, so that attention is far from uniform
        for p in hf.parameters():
            p.copy_(1 + 0.3 * torch.randn_like(p) if p.ndim == 1 else 0.3 * torch.randn_like(p))
    hf.generation_config.eos_token_id = None  # a random model: never stop early
    return hf


# --- the Hugging Face reference ---------------------------------------------------------------


@pytest.mark.parametrize("absorb", [False, True])
@pytest.mark.parametrize("q_lora_rank", [16, None])
@pytest.mark.parametrize("rope_interleave", [True, False])
def test_attention_matches_hf_deepseek_v3_attention(rope_interleave, q_lora_rank, absorb):
    hf = _hf(q_lora_rank=q_lora_rank, rope_interleave=rope_interleave, n_layers=1)
    ours = from_hf_deepseek_v3(hf, absorb=absorb)
    x = torch.randn(2, 7, 32, dtype=torch.float64)
    cos, sin = _rope(7, 6)
    causal = torch.full((7, 7), float("-inf"), dtype=torch.float64).triu(1)[None, None]  # (1, 1, T, T)
    with torch.no_grad():
        ref, _ = hf.model.layers[0].self_attn(x, position_embeddings=(cos[None], sin[None]), attention_mask=causal)
        out = ours.blocks[0].attn(x, (cos, sin))
    torch.testing.assert_close(out, ref, rtol=HF_RTOL, atol=HF_ATOL)
    assert (out - ref).abs().max() < 1e-6 * ref.abs().max()


@pytest.mark.parametrize("absorb", [False, True])
@pytest.mark.parametrize("rope_interleave", [True, False])
def test_logits_match_hf_model(rope_interleave, absorb):
    hf = _hf(rope_interleave=rope_interleave, q_lora_rank=None if absorb else 16)
    ours = from_hf_deepseek_v3(hf, absorb=absorb)
    assert ours.config.attention == "mla" and ours.blocks[1].attn.absorb is absorb
    idx = torch.randint(0, 64, (2, 9))
    with torch.no_grad():
        torch.testing.assert_close(ours(idx), hf(idx).logits, rtol=HF_RTOL, atol=HF_ATOL)


def test_interleave_permutation_is_needed():
    # The same weights read with the wrong RoPE layout must not match: the test above can fail.
    hf = _hf(rope_interleave=True)
    ours = from_hf_deepseek_v3(hf)
    hf.config.rope_interleave = False
    idx = torch.randint(0, 64, (1, 8))
    with torch.no_grad():
        assert (ours(idx) - hf(idx).logits).abs().max() > 1e-2


def test_cached_latents_equal_hf_cache():
    hf = _hf(rope_interleave=True)
    ours = from_hf_deepseek_v3(hf)
    idx = torch.randint(0, 64, (2, 5))
    cache = ours.new_cache(16)
    with torch.no_grad():
        pkv = hf(idx, use_cache=True).past_key_values
        ours(idx, cache=cache)
    for layer in range(2):
        c_kv, k_pe = cache._buffers[layer]  # (B, 1, max_len, d_c), (B, 1, max_len, d_rope)
        torch.testing.assert_close(c_kv[:, :, :5], pkv.layers[layer].keys, rtol=HF_RTOL, atol=HF_ATOL)
        torch.testing.assert_close(k_pe[:, :, :5], pkv.layers[layer].values, rtol=HF_RTOL, atol=HF_ATOL)


@pytest.mark.parametrize("absorb", [False, True])
def test_greedy_generate_matches_hf(absorb):
    hf = _hf(rope_interleave=True)
    ours = from_hf_deepseek_v3(hf, absorb=absorb)
    prompt = torch.randint(0, 64, (2, 5))
    ref = hf.generate(prompt, max_new_tokens=12, do_sample=False)
    assert torch.equal(generate(ours, prompt, 12), ref)


# --- absorbed == naive, cache == recomputation ---------------------------------------------------


@settings(max_examples=20, deadline=None)
@given(
    h=st.integers(1, 4),
    q_rank=st.one_of(st.none(), st.integers(1, 9)),
    dc=st.integers(1, 9),
    dn=st.integers(1, 6),
    half_dr=st.integers(1, 3),
    dv=st.integers(1, 6),
    T=st.integers(1, 6),
    seed=st.integers(0, 1000),
)
def test_absorbed_equals_naive_property(h, q_rank, dc, dn, half_dr, dv, T, seed):
    kw = dict(
        n_heads=h, q_lora_rank=q_rank, kv_lora_rank=dc, qk_nope_head_dim=dn, qk_rope_head_dim=2 * half_dr, v_head_dim=dv
    )
    naive, absorbed = _pair(d_model=8, seed=seed, **kw)
    x = torch.randn(2, T, 8, dtype=torch.float64)
    rope = _rope(T, 2 * half_dr)
    torch.testing.assert_close(absorbed(x, rope), naive(x, rope), rtol=0, atol=ATOL)


def test_absorbed_equals_naive_with_mask_and_gradients():
    naive, absorbed = _pair()
    x = torch.randn(2, 6, 16, dtype=torch.float64)
    rope = _rope(6, 4)
    keep = torch.ones(2, 1, 6, 6, dtype=torch.bool)
    keep[1, :, :, :2] = False  # left padding in the second row
    outs = []
    for mod in (naive, absorbed):
        mod.zero_grad()
        out = mod(x, rope, mask=keep)
        out[1, 2:].pow(2).sum().backward()
        outs.append(out)
    torch.testing.assert_close(outs[1][1, 2:], outs[0][1, 2:], rtol=0, atol=ATOL)
    torch.testing.assert_close(outs[1][0], outs[0][0], rtol=0, atol=ATOL)
    for (name, p), q in zip(naive.named_parameters(), absorbed.parameters()):
        torch.testing.assert_close(q.grad, p.grad, rtol=0, atol=1e-10, msg=name)
    all_true = torch.ones(1, 1, 6, 6, dtype=torch.bool)
    torch.testing.assert_close(naive(x, rope, mask=all_true), naive(x, rope), rtol=0, atol=ATOL)


@pytest.mark.parametrize("absorb", [False, True])
def test_cached_incremental_equals_full(absorb):
    naive, absorbed = _pair()
    mod = absorbed if absorb else naive
    x = torch.randn(3, 9, 16, dtype=torch.float64)
    full = mod(x, _rope(9, 4))
    cache = KVCache(n_layers=1, max_len=9)
    pieces = [mod(x[:, :4], _rope(4, 4), cache=cache)]
    cache.advance(4)
    for t in range(4, 9):
        pieces.append(mod(x[:, t : t + 1], _rope(1, 4, start=t), cache=cache))
        cache.advance(1)
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, rtol=0, atol=ATOL)


def test_decoder_lm_mla_cache_and_paths_agree():
    mla = dict(q_lora_rank=12, kv_lora_rank=10, qk_nope_head_dim=6, qk_rope_head_dim=4, v_head_dim=5)
    torch.manual_seed(1)
    cfg = DecoderConfig(vocab_size=40, d_model=16, n_layers=2, n_heads=4, max_len=20, attention="mla", mla=mla)
    lm = DecoderLM(cfg).double().eval()
    lm_abs = DecoderLM(DecoderConfig(**{**cfg.__dict__, "mla": {**mla, "absorb": True}})).double().eval()
    lm_abs.load_state_dict(lm.state_dict())
    idx = torch.randint(0, 40, (2, 11))
    with torch.no_grad():
        full = lm(idx)
        torch.testing.assert_close(lm_abs(idx), full, rtol=0, atol=ATOL)
        for model in (lm, lm_abs):
            cache = model.new_cache()
            step = torch.cat(
                [model(idx[:, :6], cache=cache)] + [model(idx[:, t : t + 1], cache=cache) for t in range(6, 11)], 1
            )
            torch.testing.assert_close(step, full, rtol=0, atol=ATOL)
    assert torch.equal(generate(lm, idx[:, :3], 8), generate(lm_abs, idx[:, :3], 8, use_cache=False))


def test_cache_holds_only_latent_and_rope_key():
    naive, _ = _pair()
    cache = KVCache(n_layers=1, max_len=8)
    naive(torch.randn(2, 5, 16, dtype=torch.float64), _rope(5, 4), cache=cache)
    shapes = [tuple(t.shape) for t in cache._buffers[0]]
    assert shapes == [(2, 1, 8, KW["kv_lora_rank"]), (2, 1, 8, KW["qk_rope_head_dim"])]
    per_token = mla_kv_cache_elements(
        n_layers=1, kv_lora_rank=KW["kv_lora_rank"], qk_rope_head_dim=KW["qk_rope_head_dim"]
    )
    assert cache.nbytes() == 2 * 8 * per_token * 8  # batch 2, 8 slots, float64
    # the naive path would have to store H (d_nope + d_rope) + H d_v numbers per token
    assert per_token < KW["n_heads"] * (KW["qk_nope_head_dim"] + KW["qk_rope_head_dim"] + KW["v_head_dim"])


def test_cache_elements_deepseek_v3_closed_form():
    # DeepSeek-V3 (inference/configs/config_671B.json): 61 layers, 128 heads, d_c 512, d_h 128, d_h^R 64.
    mla = mla_kv_cache_elements(n_layers=61, kv_lora_rank=512, qk_rope_head_dim=64)
    assert mla == 576 * 61 == 35136
    mha = kv_cache_bytes(n_layers=61, n_kv_heads=128, head_dim=128, seq_len=1, bytes_per_element=1)
    mqa = kv_cache_bytes(n_layers=61, n_kv_heads=1, head_dim=128, seq_len=1, bytes_per_element=1)
    assert mla / mqa == 2.25  # "equal to GQA with only 2.25 groups" (DeepSeek-V2, Table 1)
    assert mla == pytest.approx(4.5 * 128 * 61) and mha / mla == pytest.approx(2 * 128 * 128 / 576)


# --- hand-worked cases --------------------------------------------------------------------------


@pytest.mark.parametrize("absorb", [False, True])
def test_single_token_output_is_value_of_itself(absorb):
    # With one position the softmax weight is 1, so out = o_proj(concat_h W_UV_h c_kv), whatever q is.
    naive, absorbed = _pair()
    mod = absorbed if absorb else naive
    x = torch.randn(3, 1, 16, dtype=torch.float64)
    c_kv = mod.kv_a_norm(mod.kv_a_proj(x)[..., : KW["kv_lora_rank"]])  # (B, 1, d_c)
    kv = mod.kv_b_proj(c_kv).view(3, 1, KW["n_heads"], KW["qk_nope_head_dim"] + KW["v_head_dim"])
    v = kv[..., KW["qk_nope_head_dim"] :].reshape(3, 1, -1)  # (B, 1, H d_v)
    torch.testing.assert_close(mod(x, _rope(1, 4, start=7)), mod.o_proj(v), rtol=0, atol=ATOL)


def test_naive_path_equals_torch_sdpa_with_deepseek_scale():
    naive, _ = _pair()
    x = torch.randn(2, 5, 16, dtype=torch.float64)
    cos, sin = _rope(5, 4)
    H, dn, dr, dc, dv = 4, 6, 4, 10, 5
    q = naive.q_b_proj(naive.q_a_norm(naive.q_a_proj(x))).view(2, 5, H, dn + dr).transpose(1, 2)
    c, kr = naive.kv_a_proj(x).split([dc, dr], -1)
    kv = naive.kv_b_proj(naive.kv_a_norm(c)).view(2, 5, H, dn + dv).transpose(1, 2)

    def rot(t):  # rotate-half RoPE, written out
        t1, t2 = t.chunk(2, -1)
        return t * cos + torch.cat([-t2, t1], -1) * sin

    q = torch.cat([q[..., :dn], rot(q[..., dn:])], -1)
    k = torch.cat([kv[..., :dn], rot(kr)[:, None].expand(2, H, 5, dr)], -1)
    ref = F.scaled_dot_product_attention(q, k, kv[..., dn:], is_causal=True, scale=1 / math.sqrt(dn + dr))
    ref = naive.o_proj(ref.transpose(1, 2).reshape(2, 5, H * dv))
    assert naive.scale == 1 / math.sqrt(dn + dr)
    torch.testing.assert_close(naive(x, (cos, sin)), ref, rtol=0, atol=ATOL)


def test_input_not_mutated():
    naive, absorbed = _pair()
    x = torch.randn(1, 4, 16, dtype=torch.float64)
    x0 = x.clone()
    absorbed(x, _rope(4, 4))
    naive(x, _rope(4, 4))
    assert torch.equal(x, x0)


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "exc", "match"),
    [
        (dict(qk_rope_head_dim=5), ValueError, "qk_rope_head_dim must be even"),
        (dict(qk_rope_head_dim=0), ValueError, "qk_rope_head_dim must be >= 2"),
        (dict(kv_lora_rank=0), ValueError, "kv_lora_rank must be >= 1"),
        (dict(q_lora_rank=0), ValueError, "q_lora_rank must be >= 1"),
        (dict(q_lora_rank=-3), ValueError, "q_lora_rank must be >= 1"),
        (dict(n_heads=0), ValueError, "n_heads must be >= 1"),
        (dict(qk_nope_head_dim=0), ValueError, "qk_nope_head_dim must be >= 1"),
        (dict(v_head_dim=-1), ValueError, "v_head_dim must be >= 1"),
        (dict(kv_lora_rank=8.0), TypeError, "kv_lora_rank must be an integer"),
        (dict(n_heads=True), TypeError, "n_heads must be an integer"),
        (dict(absorb=1), TypeError, "absorb must be a bool"),
        (dict(norm_eps=0.0), ValueError, "eps must be a positive number"),
    ],
)
def test_bad_constructor_arguments(kw, exc, match):
    with pytest.raises(exc, match=match):
        MultiHeadLatentAttention(16, **{**KW, **kw})


def test_bad_forward_arguments():
    naive, _ = _pair()
    x = torch.randn(2, 5, 16, dtype=torch.float64)
    with pytest.raises(ValueError, match="last dimension d_model=16"):
        naive(torch.randn(2, 5, 12, dtype=torch.float64), _rope(5, 4))
    with pytest.raises(ValueError, match=r"x must be 3-D"):
        naive(torch.randn(5, 16, dtype=torch.float64), _rope(5, 4))
    with pytest.raises(ValueError, match="width qk_rope_head_dim=4; got 6"):
        naive(x, _rope(5, 6))
    with pytest.raises(ValueError, match="T=5"):
        naive(x, _rope(4, 4))
    with pytest.raises(TypeError, match="MLA needs RoPE tables"):
        naive(x, None)
    with pytest.raises(TypeError, match="cache must be a KVCache"):
        naive(x, _rope(5, 4), cache={})
    with pytest.raises(ValueError, match="mask must broadcast"):
        naive(x, _rope(5, 4), mask=torch.ones(3, 1, 5, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="KV cache is full"):
        naive(x, _rope(5, 4), cache=KVCache(n_layers=1, max_len=4))


def test_bad_cache_elements_and_decoder_config():
    with pytest.raises(ValueError, match="kv_lora_rank must be >= 1"):
        mla_kv_cache_elements(n_layers=2, kv_lora_rank=0, qk_rope_head_dim=64)
    with pytest.raises(TypeError, match="n_layers must be an integer"):
        mla_kv_cache_elements(n_layers=2.0, kv_lora_rank=512, qk_rope_head_dim=64)
    mla = dict(q_lora_rank=None, kv_lora_rank=8, qk_nope_head_dim=4, qk_rope_head_dim=3, v_head_dim=4)
    with pytest.raises(ValueError, match="must be even"):
        DecoderLM(DecoderConfig(vocab_size=10, d_model=16, n_layers=1, n_heads=2, attention="mla", mla=mla))


def test_loader_rejects_unsupported_models():
    hf = _hf(n_layers=1)
    with pytest.raises(TypeError, match="DeepseekV3ForCausalLM"):
        from_hf_deepseek_v3(torch.nn.Linear(2, 2))
    hf.config.first_k_dense_replace = 0
    with pytest.raises(ValueError, match="MoE layers are not modelled"):
        from_hf_deepseek_v3(hf)
    hf.config.first_k_dense_replace = 1
    hf.config.attention_bias = True
    with pytest.raises(ValueError, match="attention_bias"):
        from_hf_deepseek_v3(hf)
    hf.config.attention_bias = False
    hf.config.rope_parameters = {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0}
    with pytest.raises(ValueError, match="rope_type='yarn'"):
        from_hf_deepseek_v3(hf)
