import math
from dataclasses import replace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
)

from interviewlib.transformer import (
    DecoderBlock,
    DecoderConfig,
    DecoderLM,
    KVCache,
    TransformerLM,
    from_hf_llama,
    kv_cache_bytes,
    rope_inv_freq,
)
from interviewlib.transformer.decoder import convert_kv_heads

# Hugging Face runs in float64 here but still computes the RoPE angles (position * inv_freq,
# cos, sin) and every RMSNorm in float32, so its logits carry float32 rounding (~1e-7 relative,
# logits are O(1) with the weights below). test_hf_tolerance_catches_real_bugs checks that this
# tolerance is still far below what a wrong RoPE base, a wrong head mapping or a wrong eps does.
HF_ATOL = 5e-6
# float64 on both sides (ours against ours): summation-order rounding only.
ATOL = 1e-10

SMALL = dict(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4)


def _scale_weights(model, seed):
    """O(1) activations (the default std 0.02 makes attention nearly uniform and RoPE nearly invisible)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 2 and "embed" in name:
                p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype))
            elif p.ndim == 2:
                p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) / math.sqrt(p.shape[1]))
            elif name.endswith("bias"):
                p.copy_(0.3 * torch.randn(p.shape, generator=g, dtype=p.dtype))
            else:  # RMSNorm gains
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return model


def _hf(cls=LlamaForCausalLM, config_cls=LlamaConfig, seed=0, **kw):
    torch.manual_seed(seed)
    cfg = config_cls(**{**SMALL, "num_key_value_heads": 2, "max_position_embeddings": 64, **kw})
    return _scale_weights(cls(cfg).double().eval(), seed + 1)


def _ids(B=2, T=24, V=64, seed=2):
    return torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(seed))


def _err(a, b):
    return (a - b).abs().max().item()


@pytest.mark.parametrize("H_kv", [4, 2, 1], ids=["MHA", "GQA", "MQA"])
def test_logits_match_hf_llama(H_kv):
    hf = _hf(num_key_value_heads=H_kv)
    ours, idx = from_hf_llama(hf), _ids()
    assert ours.config.n_kv_heads == H_kv and ours.embed.weight.dtype == torch.float64 and not ours.training
    with torch.no_grad():
        torch.testing.assert_close(ours(idx), hf(idx).logits, atol=HF_ATOL, rtol=0)


def test_hf_tolerance_catches_real_bugs():
    hf, idx = _hf(), _ids()
    with torch.no_grad():
        ref = hf(idx).logits
        ours = from_hf_llama(hf)
        assert _err(ours(idx), ref) < HF_ATOL
        mutants = {}
        for base in (10000.0 * 1.01, 20000.0):  # a RoPE base 1 % off, or doubled
            m = from_hf_llama(hf)
            m.rope.inv_freq = rope_inv_freq(8, base)
            mutants[f"base {base}"] = m
        m = from_hf_llama(hf)  # query heads assigned to KV heads by `repeat` instead of `repeat_interleave`
        perm = [0, 2, 1, 3]
        for blk in m.blocks:
            blk.attn.q_proj.weight.copy_(blk.attn.q_proj.weight.view(4, 8, 32)[perm].reshape(32, 32))
            blk.attn.o_proj.weight.copy_(blk.attn.o_proj.weight.view(32, 4, 8)[:, perm].reshape(32, 32))
        mutants["repeat mapping"] = m
        m = from_hf_llama(hf)  # the two KV heads swapped
        for blk in m.blocks:
            blk.attn.k_proj.weight.copy_(blk.attn.k_proj.weight.view(2, 8, 32)[[1, 0]].reshape(16, 32))
        mutants["swapped KV heads"] = m
        m = from_hf_llama(hf)  # RMSNorm eps 1e-5 instead of the config's 1e-6
        for blk in m.blocks:
            blk.attn_norm.eps = blk.ffn_norm.eps = 1e-5
        mutants["eps"] = m
        for name, m in mutants.items():
            assert _err(m(idx), ref) > 4 * HF_ATOL, name


def test_cached_decoding_matches_hf_full_and_hf_cached_forward():
    hf, idx = _hf(), _ids(T=12)
    ours = from_hf_llama(hf)
    with torch.no_grad():
        full = hf(idx).logits
        out = hf(idx[:, :5], use_cache=True)
        pkv, hf_steps = out.past_key_values, [out.logits]
        cache = ours.new_cache(12)
        our_steps = [ours(idx[:, :5], cache=cache)]  # prefill
        for t in range(5, 12):  # decode one token at a time
            hf_steps.append(hf(idx[:, t : t + 1], past_key_values=pkv, use_cache=True).logits)
            our_steps.append(ours(idx[:, t : t + 1], cache=cache))
    ours_inc, hf_inc = torch.cat(our_steps, 1), torch.cat(hf_steps, 1)
    assert cache.length == 12 and pkv.get_seq_length() == 12
    torch.testing.assert_close(ours_inc, full, atol=HF_ATOL, rtol=0)
    torch.testing.assert_close(ours_inc, hf_inc, atol=HF_ATOL, rtol=0)
    torch.testing.assert_close(ours_inc, ours(idx).detach(), atol=ATOL, rtol=0)
    # the cache holds the RoPE-rotated keys and the values, exactly what HF's DynamicCache holds
    for layer in range(2):
        k, v = cache.update(layer, *(t[..., :0, :] for t in (pkv.layers[layer].keys, pkv.layers[layer].values)))
        torch.testing.assert_close(k, pkv.layers[layer].keys, atol=HF_ATOL, rtol=0)
        torch.testing.assert_close(v, pkv.layers[layer].values, atol=HF_ATOL, rtol=0)


def test_cache_size_is_kv_cache_bytes():
    ours = from_hf_llama(_hf())
    cache = ours.new_cache(20)
    with torch.no_grad():
        ours(_ids(B=3, T=4), cache=cache)
    assert cache.nbytes() == kv_cache_bytes(n_layers=2, n_kv_heads=2, head_dim=8, seq_len=20, batch=3, bytes_per_element=8)


def test_qwen2_layout_with_qkv_bias():
    hf = _hf(Qwen2ForCausalLM, Qwen2Config)
    layer = hf.model.layers[0].self_attn
    assert layer.q_proj.bias is not None and layer.o_proj.bias is None
    ours, idx = from_hf_llama(hf), _ids()
    assert ours.config.attention_bias and ours.blocks[0].attn.k_proj.bias.abs().sum() > 0
    with torch.no_grad():
        torch.testing.assert_close(ours(idx), hf(idx).logits, atol=HF_ATOL, rtol=0)


def test_tied_embeddings_explicit_head_dim_and_other_base():
    hf = _hf(tie_word_embeddings=True, head_dim=12, rope_parameters={"rope_type": "default", "rope_theta": 500000.0})
    assert hf.lm_head.weight is hf.model.embed_tokens.weight
    ours, idx = from_hf_llama(hf), _ids()
    assert ours.head.weight is ours.embed.weight and ours.config.resolved_head_dim() == 12
    assert ours.config.rope_base == 500000.0
    with torch.no_grad():
        torch.testing.assert_close(ours(idx), hf(idx).logits, atol=HF_ATOL, rtol=0)


def test_mistral_sliding_window_caps_max_len():
    hf = _hf(MistralForCausalLM, MistralConfig, sliding_window=8)
    ours = from_hf_llama(hf)
    assert ours.config.max_len == 8  # exact only while the window covers the whole sequence
    idx = _ids(T=8)
    with torch.no_grad():
        torch.testing.assert_close(ours(idx), hf(idx).logits, atol=HF_ATOL, rtol=0)
        assert _err(ours.blocks[0].attn.q_proj.weight, hf.model.layers[0].self_attn.q_proj.weight) == 0


def _lm(seed=0, **kw):
    torch.manual_seed(seed)
    cfg = dict(vocab_size=32, d_model=16, n_layers=2, n_heads=4, n_kv_heads=2, max_len=16)
    model = DecoderLM(DecoderConfig(**{**cfg, **kw})).double().eval()
    return _scale_weights(model, seed + 1)


@settings(max_examples=20, deadline=None)
@given(cuts=st.lists(st.integers(1, 11), max_size=6, unique=True), B=st.integers(1, 2), seed=st.integers(0, 1000))
def test_property_cached_decoding_in_any_chunks_equals_the_full_forward(cuts, B, seed):
    model, idx = _lm(), _ids(B=B, T=12, V=32, seed=seed)
    bounds = [0, *sorted(cuts), 12]
    cache = model.new_cache()
    with torch.no_grad():
        full = model(idx)
        parts = [model(idx[:, lo:hi], cache=cache) for lo, hi in zip(bounds[:-1], bounds[1:])]
    torch.testing.assert_close(torch.cat(parts, 1), full, atol=ATOL, rtol=0)
    assert cache.length == 12


def test_causality_future_tokens_do_not_change_past_logits():
    model, idx = _lm(), _ids(T=10, V=32)
    idx2 = idx.clone()
    idx2[:, 6:] = (idx2[:, 6:] + 1) % 32
    with torch.no_grad():
        a, b = model(idx), model(idx2)
    torch.testing.assert_close(a[:, :6], b[:, :6], atol=ATOL, rtol=0)
    assert _err(a[:, 6:], b[:, 6:]) > 1e-3


def test_packed_documents_equal_separate_runs():
    # Two documents packed in one row: positions restart at 0 and a block-diagonal mask keeps them apart.
    model, idx = _lm(), _ids(B=1, T=10, V=32)
    doc = torch.tensor([0] * 4 + [1] * 6)
    mask = doc[:, None] == doc[None, :]  # (T, T)
    pos = torch.cat([torch.arange(4), torch.arange(6)])
    with torch.no_grad():
        packed = model(idx, position_ids=pos, mask=mask)
        torch.testing.assert_close(packed[:, :4], model(idx[:, :4]), atol=ATOL, rtol=0)
        torch.testing.assert_close(packed[:, 4:], model(idx[:, 4:]), atol=ATOL, rtol=0)
        pos_b = torch.stack([pos, pos])  # (B, T) positions work the same
        torch.testing.assert_close(model(idx.repeat(2, 1), position_ids=pos_b, mask=mask), packed.repeat(2, 1, 1))


def test_nope_single_layer_is_blind_to_the_order_of_earlier_tokens():
    # Without positions, one causal layer sees the last token's prefix as a set: permuting it changes nothing.
    idx = _ids(B=1, T=8, V=32)
    perm = torch.cat([torch.tensor([5, 0, 3, 1, 6, 2, 4]), torch.tensor([7])])
    with torch.no_grad():
        nope = _lm(n_layers=1, rope_dim=0)
        assert nope.rope is None
        torch.testing.assert_close(nope(idx)[:, -1], nope(idx[:, perm])[:, -1], atol=ATOL, rtol=0)
        rope = _lm(n_layers=1)  # RoPE makes the same permutation visible
        assert _err(rope(idx)[:, -1], rope(idx[:, perm])[:, -1]) > 1e-3
        partial = _lm(n_layers=1, rope_dim=2)  # partial RoPE: 2 of 4 dims rotate
        assert partial.rope.d_rot == 2 and _err(partial(idx)[:, -1], partial(idx[:, perm])[:, -1]) > 1e-3


def test_config_defaults_and_init():
    assert DecoderConfig(vocab_size=8, d_model=16, n_layers=1, n_heads=4).resolved_d_ff() == 48  # 42.7 -> 48
    assert DecoderConfig(vocab_size=8, d_model=24, n_layers=1, n_heads=4).resolved_d_ff() == 64  # exactly 64
    assert DecoderConfig(vocab_size=8, d_model=48, n_layers=1, n_heads=4).resolved_d_ff() == 128
    assert DecoderConfig(vocab_size=8, d_model=48, n_layers=1, n_heads=4, d_ff=100).resolved_d_ff() == 100
    assert DecoderConfig(vocab_size=8, d_model=48, n_layers=1, n_heads=4).resolved_head_dim() == 12
    torch.manual_seed(0)
    model = DecoderLM(DecoderConfig(vocab_size=64, d_model=64, n_layers=2, n_heads=4, n_kv_heads=1, max_len=8))
    assert isinstance(model.blocks[0], DecoderBlock) and model.blocks[0].attn.n_kv_heads == 1
    w = torch.cat([p.flatten() for n, p in model.named_parameters() if p.ndim == 2])
    # ~0.1M samples of N(0, 0.02^2): the sample std is within 1 % of 0.02 with overwhelming probability
    assert abs(w.std().item() - 0.02) < 0.0002
    assert all(p.eq(1).all() for n, p in model.named_parameters() if p.ndim == 1)  # norm gains start at 1
    assert model.head.weight is not model.embed.weight
    tied = DecoderLM(DecoderConfig(vocab_size=64, d_model=16, n_layers=1, n_heads=4, tie_embeddings=True))
    assert tied.head.weight is tied.embed.weight
    n_params = sum(p.numel() for p in tied.parameters())
    assert n_params == 64 * 16 + (16 * (4 + 2 * 4) * 4 + 16 * 16) + 3 * 16 * 48 + 3 * 16  # embed, attn, ffn, norms
    assert model.new_cache().max_len == 8 and model.new_cache(5).max_len == 5


def test_convert_kv_heads_identity_and_mqa():
    model, idx = _lm(n_kv_heads=4), _ids(T=8, V=32)
    with torch.no_grad():
        same = convert_kv_heads(model, 4)
        torch.testing.assert_close(same(idx), model(idx), atol=0, rtol=0)
        mqa = convert_kv_heads(model, 1)
    assert mqa.config.n_kv_heads == 1 and mqa.blocks[1].attn.k_proj.weight.shape == (4, 16)
    torch.testing.assert_close(mqa.blocks[1].attn.k_proj.weight, model.blocks[1].attn.k_proj.weight.view(4, 4, 16).mean(0))
    assert torch.equal(mqa.head.weight, model.head.weight)


def test_bad_config():
    base = dict(vocab_size=32, d_model=16, n_layers=1, n_heads=4)
    with pytest.raises(ValueError, match="n_heads must be divisible by n_kv_heads"):
        DecoderLM(DecoderConfig(**base, n_kv_heads=3))
    with pytest.raises(ValueError, match="RoPE dimension must be even"):
        DecoderLM(DecoderConfig(**base, rope_dim=3))
    with pytest.raises(ValueError, match="RoPE dimension must be even"):
        DecoderLM(DecoderConfig(**base, head_dim=5))  # full RoPE on an odd head
    with pytest.raises(ValueError, match="rope_dim must be <= head_dim=4"):
        DecoderLM(DecoderConfig(**base, rope_dim=6))
    with pytest.raises(ValueError, match="d_model must be divisible by n_heads"):
        DecoderLM(DecoderConfig(**{**base, "d_model": 18}))
    with pytest.raises(ValueError, match="attention must be 'gqa' or 'mla'"):
        DecoderLM(DecoderConfig(**base, attention="linear"))
    with pytest.raises(ValueError, match="max_len must be >= 1"):
        DecoderLM(DecoderConfig(**base, max_len=0))
    with pytest.raises(TypeError, match="n_layers must be an integer"):
        DecoderLM(DecoderConfig(**{**base, "n_layers": 1.0}))
    with pytest.raises(TypeError, match="config must be a DecoderConfig; got dict"):
        DecoderLM(base)


def test_bad_forward_input():
    model = _lm(max_len=8)
    idx = _ids(B=2, T=4, V=32)
    with pytest.raises(ValueError, match="integer token ids"):
        model(idx.double())
    with pytest.raises(ValueError, match=r"idx must be 2-D \(B, T\)"):
        model(idx[0])
    with pytest.raises(TypeError, match="torch.Tensor"):
        model(idx.tolist())
    with pytest.raises(ValueError, match=r"token ids in \[0, 32\)"):
        model(idx + 32)
    with pytest.raises(ValueError, match=r"token ids in \[0, 32\)"):
        model(idx - 40)
    with pytest.raises(ValueError, match="sequence length must be <= max_len=8"):
        model(_ids(B=1, T=9, V=32))
    with pytest.raises(ValueError, match=r"position_ids must be \(T,\) or \(B, T\)"):
        model(idx, position_ids=torch.arange(5))
    with pytest.raises(TypeError, match="cache must be a KVCache"):
        model(idx, cache={"k": None})
    with pytest.raises(ValueError, match="cache must have n_layers=2"):
        model(idx, cache=KVCache(n_layers=1, max_len=8))
    with pytest.raises(ValueError, match=r"mask must broadcast to \(B, H, T, S\) = \(2, 4, 4, 4\)"):
        model(idx, mask=torch.ones(4, 3, dtype=torch.bool))


def test_bad_cache_use_leaves_the_cache_unchanged():
    model = _lm(max_len=16)
    idx = _ids(B=2, T=4, V=32)
    cache = model.new_cache(6)
    with torch.no_grad():
        first = model(idx, cache=cache)
        with pytest.raises(ValueError, match=r"mask must broadcast to \(B, H, T, S\) = \(2, 4, 1, 5\)"):
            model(idx[:, :1], cache=cache, mask=torch.ones(1, 4, dtype=torch.bool))  # S = 5, not 4
        with pytest.raises(ValueError, match="holds a batch of 2 sequences; got a batch of 1"):
            model(idx[:1, :1], cache=cache)
        with pytest.raises(ValueError, match="KV cache is full: max_len=6, already 4 positions, got 3 more"):
            model(idx[:, :3], cache=cache)
        assert cache.length == 4
        nxt = model(idx[:, :2], cache=cache)  # still usable after the errors
    with torch.no_grad():
        ref = model(torch.cat([idx, idx[:, :2]], 1))
    torch.testing.assert_close(torch.cat([first, nxt], 1), ref, atol=ATOL, rtol=0)


def test_from_hf_llama_rejects_other_layouts():
    with pytest.raises(TypeError, match="Llama layout; got TransformerLM"):
        from_hf_llama(TransformerLM(vocab_size=8, d_model=8, n_heads=2, n_layers=1, max_len=4))
    with pytest.raises(ValueError, match="biases on o_proj or the MLP"):
        from_hf_llama(_hf(num_hidden_layers=1, attention_bias=True))
    with pytest.raises(ValueError, match="biases on o_proj or the MLP"):
        from_hf_llama(_hf(num_hidden_layers=1, mlp_bias=True))
    with pytest.raises(ValueError, match="hidden_act='gelu'"):
        from_hf_llama(_hf(num_hidden_layers=1, hidden_act="gelu"))


def test_replace_keeps_config_frozen():
    cfg = DecoderConfig(vocab_size=8, d_model=16, n_layers=1, n_heads=4)
    with pytest.raises(AttributeError):
        cfg.n_heads = 2
    assert replace(cfg, n_kv_heads=1).n_kv_heads == 1 and cfg.n_kv_heads is None
