import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewlib.transformer import KVCache, kv_cache_bytes


def _chunks(B=2, H=3, T=7, d=4, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, H, T, d, generator=g, dtype=dtype), torch.randn(B, H, T, d, generator=g, dtype=dtype)


def _stored(cache, layer_idx, *like):
    # A zero-length write returns every stored position without changing anything.
    return cache.update(layer_idx, *(t[..., :0, :] for t in like))


def test_update_returns_the_concatenation_of_all_writes():
    k, v = _chunks(T=7)
    cache = KVCache(n_layers=2, max_len=10)
    for lo, hi in [(0, 3), (3, 4), (4, 7)]:
        for layer in range(2):
            ks, vs = cache.update(layer, k[:, :, lo:hi] + layer, v[:, :, lo:hi] - layer)
            assert ks.shape == (2, 3, hi, 4) and cache.length == lo  # length moves only on advance()
            torch.testing.assert_close(ks, k[:, :, :hi] + layer, atol=0, rtol=0)
            torch.testing.assert_close(vs, v[:, :, :hi] - layer, atol=0, rtol=0)
        cache.advance(hi - lo)
    assert cache.length == 7 and cache.batch_size == 2


def test_layers_may_cache_different_tensors():
    # MLA caches one latent and one shared RoPE key per layer, each (B, 1, T, d) with different d.
    g = torch.Generator().manual_seed(1)
    c, kr = torch.randn(2, 1, 5, 6, generator=g), torch.randn(2, 1, 5, 2, generator=g)
    cache = KVCache(n_layers=1, max_len=8)
    c1, kr1 = cache.update(0, c[:, :, :4], kr[:, :, :4])
    cache.advance(4)
    c2, kr2 = cache.update(0, c[:, :, 4:], kr[:, :, 4:])
    assert torch.equal(c2, c) and torch.equal(kr2, kr) and c1.shape == (2, 1, 4, 6)
    # a three-dimensional (B, T, d) tensor is accepted as well
    cache3 = KVCache(n_layers=1, max_len=4)
    (out,) = cache3.update(0, torch.ones(2, 3, 5))
    assert out.shape == (2, 3, 5)


def test_rewrite_without_advance_overwrites_the_same_positions():
    k, v = _chunks(T=2)
    cache = KVCache(n_layers=1, max_len=4)
    cache.update(0, k[:, :, :1], v[:, :, :1])
    ks, _ = cache.update(0, k[:, :, 1:], v[:, :, 1:])  # still position 0: nothing was advanced
    assert ks.shape[2] == 1 and torch.equal(ks, k[:, :, 1:])


def test_stored_copies_are_detached_and_independent_of_the_inputs():
    k, v = _chunks(T=3)
    k.requires_grad_(True)
    k0, v0 = k.detach().clone(), v.clone()
    cache = KVCache(n_layers=1, max_len=5)
    ks, vs = cache.update(0, k, v)
    assert not ks.requires_grad
    assert torch.equal(k.detach(), k0) and torch.equal(v, v0)  # inputs not mutated
    v.add_(1.0)  # mutating the caller's tensor later does not reach the cache
    cache.advance(3)
    _, vs = _stored(cache, 0, k.detach(), v)
    assert torch.equal(vs, v0)


def test_nbytes_is_the_preallocated_capacity_and_matches_kv_cache_bytes():
    L, B, H_kv, d, max_len = 3, 2, 2, 8, 11
    cache = KVCache(n_layers=L, max_len=max_len)
    assert cache.nbytes() == 0  # nothing allocated before the first write
    k = torch.zeros(B, H_kv, 1, d, dtype=torch.float64)
    for layer in range(L):
        cache.update(layer, k, k)
    expected = kv_cache_bytes(n_layers=L, n_kv_heads=H_kv, head_dim=d, seq_len=max_len, batch=B, bytes_per_element=8)
    assert cache.nbytes() == expected  # capacity, although only 1 position is filled


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32, torch.float8_e4m3fn])
def test_kv_cache_bytes_equals_the_size_of_real_tensors(dtype):
    L, H_kv, d, T, B = 4, 2, 16, 9, 3
    k = torch.empty(L, B, H_kv, T, d, dtype=dtype)  # one K tensor per layer; V is the same again
    ref = 2 * k.numel() * k.element_size()
    got = kv_cache_bytes(n_layers=L, n_kv_heads=H_kv, head_dim=d, seq_len=T, batch=B, bytes_per_element=k.element_size())
    assert got == ref


def test_kv_cache_bytes_hand_worked():
    # Llama-2-7B (MHA, 32 layers x 32 heads x 128): 2 * 32 * 32 * 128 * 2 B = 512 KiB per token in bf16.
    assert kv_cache_bytes(n_layers=32, n_kv_heads=32, head_dim=128, seq_len=1) == 512 * 1024
    # Llama-3-8B keeps 8 KV heads: a quarter of that; 4096 tokens of it are 512 MiB.
    assert kv_cache_bytes(n_layers=32, n_kv_heads=8, head_dim=128, seq_len=1) == 128 * 1024
    assert kv_cache_bytes(n_layers=32, n_kv_heads=8, head_dim=128, seq_len=4096) == 512 * 1024**2
    # MQA is n_heads times smaller than MHA; an fp8 cache halves bf16.
    mha = kv_cache_bytes(n_layers=2, n_kv_heads=8, head_dim=4, seq_len=10, batch=3)
    assert mha == 8 * kv_cache_bytes(n_layers=2, n_kv_heads=1, head_dim=4, seq_len=10, batch=3)
    assert mha == 2 * kv_cache_bytes(n_layers=2, n_kv_heads=8, head_dim=4, seq_len=10, batch=3, bytes_per_element=1)


@settings(max_examples=25, deadline=None)
@given(
    cuts=st.lists(st.integers(1, 11), max_size=5, unique=True),
    B=st.integers(1, 3),
    seed=st.integers(0, 1000),
)
def test_property_any_chunking_stores_the_same_sequence(cuts, B, seed):
    T = 12
    k, v = _chunks(B=B, H=2, T=T, d=3, seed=seed)
    bounds = [0, *sorted(cuts), T]
    cache = KVCache(n_layers=1, max_len=T)
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        ks, vs = cache.update(0, k[:, :, lo:hi], v[:, :, lo:hi])
        cache.advance(hi - lo)
    assert torch.equal(ks, k) and torch.equal(vs, v) and cache.length == T


def test_reset_forgets_positions_and_batch_size():
    cache = KVCache(n_layers=1, max_len=4)
    k, v = _chunks(B=2, T=3)
    cache.update(0, k, v)
    cache.advance(3)
    cache.reset()
    assert cache.length == 0 and cache.batch_size is None and cache.nbytes() == 0
    k1, v1 = _chunks(B=1, T=4, seed=5)
    ks, _ = cache.update(0, k1, v1)  # a different batch, the full capacity: both fine after reset
    assert torch.equal(ks, k1)


def test_a_failed_write_leaves_the_cache_unchanged():
    cache = KVCache(n_layers=2, max_len=3)
    k, v = _chunks(B=2, T=4)
    with pytest.raises(ValueError, match="KV cache is full"):
        cache.update(0, k, v)  # the very first write overflows
    assert cache.batch_size is None and cache.nbytes() == 0
    k1, v1 = _chunks(B=1, T=2, seed=2)
    cache.update(0, k1, v1)  # so another batch size is still accepted
    with pytest.raises(ValueError, match="other shapes or dtypes"):
        cache.update(0, k1.float(), v1.float())
    assert cache.batch_size == 1 and cache.length == 0


def test_bad_input():
    k, v = _chunks(B=2, T=2)
    cache = KVCache(n_layers=2, max_len=3)
    cache.update(0, k, v)
    cache.advance(2)
    with pytest.raises(ValueError, match="holds a batch of 2 sequences; got a batch of 1"):
        cache.update(1, k[:1], v[:1])
    with pytest.raises(ValueError, match=r"KV cache is full: max_len=3, already 2 positions, got 2 more"):
        cache.update(0, k, v)
    with pytest.raises(ValueError, match="cannot advance past max_len=3"):
        cache.advance(2)
    with pytest.raises(ValueError, match="t_new must be >= 0"):
        cache.advance(-1)
    with pytest.raises(ValueError, match="layer_idx must be < n_layers=2; got 2"):
        cache.update(2, k[:, :, :1], v[:, :, :1])
    with pytest.raises(ValueError, match="layer_idx must be >= 0"):
        cache.update(-1, k[:, :, :1], v[:, :, :1])
    with pytest.raises(TypeError, match="layer_idx must be an integer"):
        cache.update(0.0, k[:, :, :1], v[:, :, :1])
    with pytest.raises(ValueError, match="at least one tensor"):
        cache.update(0)
    with pytest.raises(ValueError, match=r"must be \(B, \.\.\., T_new, d\)"):
        cache.update(0, torch.zeros(2, 4))
    with pytest.raises(ValueError, match="agree on B and T_new"):
        cache.update(0, k[:, :, :1], v)
    with pytest.raises(ValueError, match="other shapes"):
        cache.update(0, k[:, :2, :1], v[:, :2, :1])  # fewer heads than the first write of layer 0
    with pytest.raises(ValueError, match="other shapes"):
        cache.update(0, k[:, :, :1])  # one tensor where two were cached
    with pytest.raises(TypeError, match="torch.Tensor"):
        cache.update(0, k[:, :, :1].numpy(), v[:, :, :1])
    with pytest.raises(ValueError, match="floating dtype"):
        cache.update(0, k[:, :, :1].long(), v[:, :, :1].long())
    with pytest.raises(ValueError, match="max_len must be >= 1"):
        KVCache(n_layers=1, max_len=0)
    with pytest.raises(TypeError, match="n_layers must be an integer"):
        KVCache(n_layers=True, max_len=4)
    with pytest.raises(TypeError):
        KVCache(1, 4)  # keyword-only
    with pytest.raises(ValueError, match="seq_len must be >= 1"):
        kv_cache_bytes(n_layers=1, n_kv_heads=1, head_dim=1, seq_len=0)
    with pytest.raises(TypeError, match="head_dim must be an integer"):
        kv_cache_bytes(n_layers=1, n_kv_heads=1, head_dim=2.0, seq_len=1)
    with pytest.raises(ValueError, match="bytes_per_element must be >= 1"):
        kv_cache_bytes(n_layers=1, n_kv_heads=1, head_dim=1, seq_len=1, bytes_per_element=0)
