"""Tests for interviewlib.inference.paged_attention: paged reads equal contiguous attention."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewlib.inference import PagedKVCacheView, PagedKVPool, paged_attention, paged_batch
from interviewlib.transformer import DecoderConfig, DecoderLM, KVCache

# float64 throughout; gathers and masked padding are exact, only summation order differs
ATOL = 1e-12


def _pool(num_blocks=8, block_size=4, h_kv=2, d=8, layers=1):
    return PagedKVPool(
        n_layers=layers, num_blocks=num_blocks, block_size=block_size, n_kv_heads=h_kv, head_dim=d, dtype=torch.float64
    )


def _lm(seed=0, **kw):
    torch.manual_seed(seed)
    cfg = dict(vocab_size=40, d_model=32, n_layers=2, n_heads=4, n_kv_heads=2, max_len=48)
    cfg.update(kw)
    return DecoderLM(DecoderConfig(**cfg)).double().eval()


def test_pool_write_gather_roundtrip_and_layout():
    pool = _pool(num_blocks=3, block_size=2, h_kv=1, d=2)
    k = torch.arange(6, dtype=torch.float64).view(3, 1, 2)  # 3 tokens
    pool.write(0, torch.tensor([5, 0, 3]), k, -k)
    assert pool.k[0, 2, 1].tolist() == [[0.0, 1.0]]  # slot 5 = block 2, offset 1
    kk, vv = pool.gather(0, torch.tensor([[3, 5]]))  # (B=1, S=2)
    assert kk.shape == (1, 1, 2, 2)
    assert kk[0, 0].tolist() == [[4.0, 5.0], [0.0, 1.0]] and torch.equal(vv, -kk)


def test_copy_blocks_within_and_across_pools():
    gpu, cpu = _pool(num_blocks=4), _pool(num_blocks=2)
    gpu.k.normal_()
    gpu.v.normal_()
    gpu.copy_blocks([(1, 3)])  # copy-on-write
    assert torch.equal(gpu.k[:, 3], gpu.k[:, 1]) and torch.equal(gpu.v[:, 3], gpu.v[:, 1])
    gpu.copy_blocks([(2, 0), (3, 1)], cpu)  # swap out
    assert torch.equal(cpu.k[:, 0], gpu.k[:, 2]) and torch.equal(cpu.v[:, 1], gpu.v[:, 3])
    assert gpu.nbytes() == 2 * 4 * 4 * 2 * 8 * 8


@settings(max_examples=25, deadline=None)
@given(
    lens=st.lists(st.integers(1, 13), min_size=1, max_size=4),
    block_size=st.sampled_from([1, 2, 4, 5]),
    t_q=st.integers(1, 3),
    groups=st.sampled_from([1, 2]),
    seed=st.integers(0, 2**16),
)
def test_paged_attention_equals_contiguous_sdpa(lens, block_size, t_q, groups, seed):
    g = torch.Generator().manual_seed(seed)
    lens = [max(n, t_q) for n in lens]
    h_kv, d = 2, 4
    max_blocks = max(-(-n // block_size) for n in lens)
    num_blocks = sum(-(-n // block_size) for n in lens) + 2
    pool = _pool(num_blocks=num_blocks, block_size=block_size, h_kv=h_kv, d=d)
    perm = torch.randperm(num_blocks, generator=g).tolist()  # scattered physical blocks
    tables, ks, vs = [], [], []
    for n in lens:
        nb = -(-n // block_size)
        table, perm = perm[:nb], perm[nb:]
        k = torch.randn(n, h_kv, d, generator=g, dtype=torch.float64)
        v = torch.randn(n, h_kv, d, generator=g, dtype=torch.float64)
        pool.write(0, torch.tensor([table[p // block_size] * block_size + p % block_size for p in range(n)]), k, v)
        tables.append(table + [0] * (max_blocks - nb))
        ks.append(k)
        vs.append(v)
    q = torch.randn(len(lens), h_kv * groups, t_q, d, generator=g, dtype=torch.float64)
    out = paged_attention(q, pool, 0, torch.tensor(tables), torch.tensor(lens))
    for b, n in enumerate(lens):  # reference: torch SDPA on the row's own contiguous keys, causal bottom-right
        k = ks[b].transpose(0, 1)[None].repeat_interleave(groups, 1)  # (1, H, n, d)
        v = vs[b].transpose(0, 1)[None].repeat_interleave(groups, 1)
        keep = torch.ones(t_q, n, dtype=torch.bool).tril(n - t_q)
        ref = torch.nn.functional.scaled_dot_product_attention(q[b : b + 1], k, v, attn_mask=keep)
        torch.testing.assert_close(out[b : b + 1], ref, atol=ATOL, rtol=0)


def test_paged_attention_hand_worked_single_key():
    pool = _pool(num_blocks=2, block_size=2, h_kv=1, d=2)
    pool.write(0, torch.tensor([2]), torch.tensor([[[1.0, 0.0]]]), torch.tensor([[[2.0, 5.0]]]))  # block 1, offset 0
    q = torch.ones(1, 1, 1, 2, dtype=torch.float64)
    # one key: softmax weight 1, output = that value, whatever the score
    out = paged_attention(q, pool, 0, torch.tensor([[1]]), torch.tensor([1]), scale=1 / math.sqrt(2))
    assert out.flatten().tolist() == [2.0, 5.0]


def test_model_on_paged_view_equals_contiguous_cache_chunked():
    lm = _lm()
    idx = torch.randint(0, 40, (1, 11))
    full = lm(idx)
    pool = _pool(num_blocks=6, block_size=3, h_kv=2, d=8, layers=2)
    table = [4, 0, 5, 2]  # any physical blocks
    outs, start = [], 0
    for chunk in (5, 1, 4, 1):  # chunked prefill, then decode steps
        tokens = idx[0, start : start + chunk].tolist()
        x, pos, mask, view = paged_batch(pool, [(tokens, start, table)])
        outs.append(lm(x, position_ids=pos, mask=mask, cache=view))
        start += chunk
    torch.testing.assert_close(torch.cat(outs, 1), full, atol=ATOL, rtol=0)
    cache = KVCache(n_layers=2, max_len=11)  # the same through the contiguous cache
    ref = torch.cat([lm(idx[:, :5], cache=cache), lm(idx[:, 5:], cache=cache)], 1)
    torch.testing.assert_close(ref, full, atol=ATOL, rtol=0)


def test_view_is_a_kvcache_and_default_positions_work_for_one_sequence():
    lm = _lm(1)
    idx = torch.randint(0, 40, (1, 7))
    pool = _pool(num_blocks=4, block_size=2, h_kv=2, d=8, layers=2)
    _, _, _, view = paged_batch(pool, [(idx[0, :4].tolist(), 0, [3, 1, 0, 2])])
    assert isinstance(view, KVCache) and view.length == 0 and view.max_len == 4
    a = lm(idx[:, :4], cache=view)  # no position_ids / mask: past = view.length
    _, _, _, view = paged_batch(pool, [(idx[0, 4:].tolist(), 4, [3, 1, 0, 2])])
    assert view.length == 4
    b = lm(idx[:, 4:], cache=view)
    torch.testing.assert_close(torch.cat([a, b], 1), lm(idx), atol=ATOL, rtol=0)


@settings(max_examples=15, deadline=None)
@given(
    prefix=st.lists(st.integers(0, 12), min_size=1, max_size=4),
    new=st.lists(st.integers(1, 4), min_size=1, max_size=4),
    seed=st.integers(0, 2**16),
)
def test_left_padded_batch_equals_each_row_alone(prefix, new, seed):
    lm = _lm(2)
    g = torch.Generator().manual_seed(seed)
    rows_n = list(zip(prefix, new))
    bs = 4
    pool = _pool(num_blocks=sum(-(-(p + n) // bs) for p, n in rows_n) + 1, block_size=bs, h_kv=2, d=8, layers=2)
    free = torch.randperm(pool.num_blocks, generator=g).tolist()
    rows, seqs = [], []
    for p, n in rows_n:
        nb = -(-(p + n) // bs)
        table, free = free[:nb], free[nb:]
        seq = torch.randint(0, 40, (p + n,), generator=g)
        if p:  # cache the prefix first, one sequence alone
            x, pos, mask, view = paged_batch(pool, [(seq[:p].tolist(), 0, table)])
            lm(x, position_ids=pos, mask=mask, cache=view)
        rows.append((seq[p:].tolist(), p, table))
        seqs.append(seq)
    x, pos, mask, view = paged_batch(pool, rows)
    logits = lm(x, position_ids=pos, mask=mask, cache=view)  # (B, T, V)
    for b, seq in enumerate(seqs):
        n = len(rows[b][0])
        ref = lm(seq[None])[0, -n:]  # contiguous, no cache
        torch.testing.assert_close(logits[b, -n:], ref, atol=ATOL, rtol=0)


# ---------------------------------------------------------------- errors
def test_paged_attention_bad_input():
    pool = _pool(num_blocks=2, block_size=2, h_kv=1, d=2)
    q = torch.zeros(1, 1, 2, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"context_lens must lie in \[T=2"):
        paged_attention(q, pool, 0, torch.tensor([[0]]), torch.tensor([1]))
    with pytest.raises(ValueError, match=r"block ids in \[0, 2\)"):
        paged_attention(q, pool, 0, torch.tensor([[5]]), torch.tensor([2]))
    with pytest.raises(TypeError, match="pool must be a PagedKVPool"):
        paged_attention(q, "pool", 0, torch.tensor([[0]]), torch.tensor([2]))
    with pytest.raises(ValueError, match="layer must be < n_layers=1"):
        paged_attention(q, pool, 1, torch.tensor([[0]]), torch.tensor([2]))
    with pytest.raises(ValueError, match="q must be 4-D"):
        paged_attention(q[0], pool, 0, torch.tensor([[0]]), torch.tensor([2]))
    with pytest.raises(ValueError, match="must have B=1 rows"):
        paged_attention(q, pool, 0, torch.tensor([[0], [1]]), torch.tensor([2]))


def test_paged_batch_bad_input_and_view_reset():
    pool = _pool()
    with pytest.raises(ValueError, match="no new tokens"):
        paged_batch(pool, [([], 0, [0])])
    with pytest.raises(ValueError, match="cannot hold 5 positions"):
        paged_batch(pool, [([1, 2, 3, 4, 5], 0, [0])])
    with pytest.raises(ValueError, match="at least one sequence"):
        paged_batch(pool, [])
    with pytest.raises(ValueError, match=r"block ids in \[0, 8\)"):
        paged_batch(pool, [([1], 0, [8])])
    with pytest.raises(ValueError, match="start must be >= 0"):
        paged_batch(pool, [([1], -1, [0])])
    with pytest.raises(ValueError, match="num_blocks must be >= 1"):
        PagedKVPool(n_layers=1, num_blocks=0, block_size=2, n_kv_heads=1, head_dim=2)
    view = paged_batch(pool, [([1], 0, [0])])[3]
    assert isinstance(view, PagedKVCacheView)
    slots = torch.tensor([0, 1])
    index = (torch.zeros(2, dtype=torch.long), torch.arange(2))
    with pytest.raises(ValueError, match="T must be <= S"):
        PagedKVCacheView(pool, slots, index, slots[None], 3)
    with pytest.raises(ValueError, match=r"read_slots must hold pool slots in \[0, 32\)"):
        PagedKVCacheView(pool, slots, index, torch.tensor([[0, 32]]), 2)
    with pytest.raises(ValueError, match=r"write_index\[1\] must have the shape of write_slots"):
        PagedKVCacheView(pool, slots, (index[0], torch.arange(3)), slots[None], 2)
    with pytest.raises(TypeError, match="build a new one"):
        view.reset()
