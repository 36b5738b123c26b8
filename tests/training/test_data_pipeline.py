"""Packed memmap shards, the resumable distributed sampler and the mixture sampler (q08-16)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader, DistributedSampler

from interviewlib.training import (
    MixtureSampler,
    PackedMemmapDataset,
    ResumableDistributedSampler,
    token_dtype,
    write_token_shard,
)

MIXTURE_MAX_DEVIATION = 2.0  # greedy quota rule: measured <= ~1.2 samples for <= 16 sources; i.i.d. drifts ~sqrt(t)


def _docs(rng, n_docs, vocab):
    return [rng.integers(1, vocab, rng.integers(0, 30)).tolist() for _ in range(n_docs)]


# ---------------------------------------------------------------- shards and the memmap dataset
def test_token_dtype_boundaries():
    assert token_dtype(1) == np.uint16 and token_dtype(65536) == np.uint16
    assert token_dtype(65537) == np.uint32 and token_dtype(128256) == np.uint32


def test_shard_roundtrip_equals_concatenated_stream(tmp_path):
    rng = np.random.default_rng(0)
    docs_a, docs_b = _docs(rng, 20, 300), _docs(rng, 15, 300)
    n_a = write_token_shard(tmp_path / "a", docs_a, vocab_size=300, eos_id=0)
    n_b = write_token_shard(tmp_path / "b", docs_b, vocab_size=300, eos_id=0)
    stream = np.concatenate([np.r_[d, 0] for d in docs_a + docs_b]).astype(np.int64)
    assert n_a + n_b == stream.size
    assert np.fromfile(tmp_path / "a.bin", dtype="<u2").size == n_a  # 2 bytes a token on disk
    ds = PackedMemmapDataset([tmp_path / "a", tmp_path / "b"], seq_len=7)
    assert len(ds) == (stream.size - 1) // 7 and ds.n_tokens == stream.size
    for i in range(len(ds)):  # includes windows that straddle the shard boundary
        np.testing.assert_array_equal(ds[i], stream[7 * i : 7 * i + 8])
    np.testing.assert_array_equal(ds[-1], ds[len(ds) - 1])
    # document ids: a new document starts right after every EOS
    doc_of_token = np.cumsum(np.r_[0, stream[:-1] == 0])
    for i in (0, 3, len(ds) - 1):
        np.testing.assert_array_equal(ds.doc_ids(i), doc_of_token[7 * i : 7 * i + 8])


def test_uint32_shard_and_no_eos(tmp_path):
    docs = [[70000, 1, 2], [99999]]
    assert write_token_shard(tmp_path / "s", docs, vocab_size=100000) == 4
    ds = PackedMemmapDataset(tmp_path / "s", seq_len=3)
    assert ds[0].tolist() == [70000, 1, 2, 99999] and ds.doc_ids(0).tolist() == [0, 0, 0, 1]


def test_dataset_pickles_paths_not_data_and_works_in_a_dataloader(tmp_path):
    import pickle

    write_token_shard(tmp_path / "s", [list(range(1, 200))], vocab_size=256)
    ds = PackedMemmapDataset(tmp_path / "s", seq_len=9)
    blob = pickle.dumps(ds)
    assert len(blob) < 500  # the 199 tokens are not in the pickle
    np.testing.assert_array_equal(pickle.loads(blob)[5], ds[5])
    batch = next(iter(DataLoader(ds, batch_size=4, shuffle=False)))
    assert batch.dtype == torch.int64 and tuple(batch.shape) == (4, 10)
    assert batch[1].tolist() == list(range(10, 20))


def test_shard_bad_input(tmp_path):
    with pytest.raises(ValueError, match="ids in"):
        write_token_shard(tmp_path / "s", [[1, 300]], vocab_size=300)
    with pytest.raises(TypeError, match="docs\\[0\\]"):
        write_token_shard(tmp_path / "s", ["abc"], vocab_size=300)
    with pytest.raises(TypeError, match="integer token ids"):
        write_token_shard(tmp_path / "s", [[1.5, 2.0]], vocab_size=300)
    with pytest.raises(TypeError, match="docs must be"):
        write_token_shard(tmp_path / "s", None, vocab_size=300)
    with pytest.raises(TypeError, match="path"):
        write_token_shard(None, [[1]], vocab_size=300)
    with pytest.raises(ValueError, match="eos_id"):
        write_token_shard(tmp_path / "s", [[1]], vocab_size=300, eos_id=300)
    with pytest.raises(ValueError, match="paths: shard .* missing"):
        PackedMemmapDataset(tmp_path / "nope", seq_len=4)
    for bad in (None, float("nan"), [[1.0, 2.0], [3.0]]):
        with pytest.raises(TypeError, match="paths"):
            PackedMemmapDataset(bad, seq_len=4)
    write_token_shard(tmp_path / "t", [[1, 2, 3]], vocab_size=10)
    with pytest.raises(ValueError, match="at least seq_len"):
        PackedMemmapDataset(tmp_path / "t", seq_len=3)
    with open(tmp_path / "t.bin", "ab") as f:  # a truncated / over-long .bin must not be read silently
        f.write(b"\0\0")
    with pytest.raises(ValueError, match="bytes, index says"):
        PackedMemmapDataset(tmp_path / "t", seq_len=1)
    write_token_shard(tmp_path / "u", [[1, 2, 3]], vocab_size=11)
    write_token_shard(tmp_path / "v", [[1, 2, 3]], vocab_size=10)
    with pytest.raises(ValueError, match="one vocabulary"):
        PackedMemmapDataset([tmp_path / "u", tmp_path / "v"], seq_len=2)
    ds = PackedMemmapDataset(tmp_path / "u", seq_len=1)
    with pytest.raises(IndexError):
        ds[2]
    with pytest.raises(TypeError, match="integer"):
        ds[1.0]


# ---------------------------------------------------------------- the distributed sampler
@pytest.mark.parametrize(("n", "world"), [(10, 3), (12, 4), (7, 2), (5, 4), (3, 4), (1, 1)])
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("drop_last", [False, True])
def test_partition_equals_torch_distributed_sampler(n, world, shuffle, drop_last):
    if drop_last and n < world:
        return  # torch gives every rank 0 samples; ours refuses (tested below)
    for epoch in (0, 3):
        for rank in range(world):
            ref = DistributedSampler(range(n), num_replicas=world, rank=rank, shuffle=shuffle, seed=7, drop_last=drop_last)
            ours = ResumableDistributedSampler(n, num_replicas=world, rank=rank, shuffle=shuffle, seed=7, drop_last=drop_last)
            ref.set_epoch(epoch)
            ours.set_epoch(epoch)
            assert list(ours) == list(ref) and len(ours) == len(ref)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 60), world=st.integers(1, 6), drop_last=st.booleans(), seed=st.integers(0, 99),
       steps=st.integers(0, 8), micro=st.integers(1, 3), new_world=st.integers(1, 6))  # fmt: skip
def test_disjoint_union_and_exact_resume(n, world, drop_last, seed, steps, micro, new_world):
    if drop_last and n < max(world, new_world):
        return
    kw = dict(shuffle=True, seed=seed, drop_last=drop_last)
    full = [list(ResumableDistributedSampler(n, num_replicas=world, rank=r, **kw)) for r in range(world)]
    flat = [i for seq in full for i in seq]
    per = len(full[0])
    assert all(len(seq) == per for seq in full)  # equal length: no rank waits in a collective
    if drop_last:
        assert len(set(flat)) == len(flat) == (n // world) * world  # disjoint
    else:
        assert set(flat) == set(range(n)) and len(flat) - n < world  # union = all, < W duplicates
    # interrupted run: `steps` steps of `micro` samples per rank, save, restore in a new object
    k = min(steps * micro, per)
    s = ResumableDistributedSampler(n, num_replicas=world, rank=0, **kw)
    s.advance(k * world)
    resumed = [ResumableDistributedSampler(n, num_replicas=world, rank=r, **kw) for r in range(world)]
    for r in resumed:
        r.load_state_dict(s.state_dict())
    for r in range(world):
        assert full[r][:k] + list(resumed[r]) == full[r]  # resume == uninterrupted
    # elastic resume with another world size: the rest of the epoch is still dealt out exactly once
    if not drop_last:
        order = list(ResumableDistributedSampler(n, num_replicas=1, rank=0, **kw))  # the epoch's permutation
        assert [i for seq in zip(*full) for i in seq][: min(k * world, n)] == order[: min(k * world, n)]
        rest = [ResumableDistributedSampler(n, num_replicas=new_world, rank=r, **kw) for r in range(new_world)]
        for r in rest:
            r.load_state_dict(s.state_dict())
        left = [i for r in rest for i in r]
        tail = order[k * world :]
        assert set(tail) <= set(left) and len(left) - len(tail) < new_world
        assert len({len(r) for r in rest}) == 1


def test_new_epoch_reshuffles_and_resets():
    s = ResumableDistributedSampler(50, num_replicas=2, rank=0, seed=1)
    e0 = list(s)
    s.advance(10)
    s.set_epoch(1)
    other = ResumableDistributedSampler(50, num_replicas=2, rank=1, seed=1)
    other.set_epoch(1)
    assert s.consumed_samples == 0 and list(s) != e0
    assert sorted(list(s) + list(other)) == list(range(50))


def test_sampler_bad_input():
    for bad in (None, "not valid", float("nan"), [[1.0, 2.0], [3.0]]):
        with pytest.raises(TypeError, match="num_samples"):
            ResumableDistributedSampler(bad, num_replicas=2, rank=0)
    with pytest.raises(ValueError, match="num_samples"):
        ResumableDistributedSampler(0, num_replicas=2, rank=0)
    with pytest.raises(ValueError, match="rank"):
        ResumableDistributedSampler(10, num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="leaves every rank empty"):
        ResumableDistributedSampler(3, num_replicas=4, rank=0, drop_last=True)
    s = ResumableDistributedSampler(10, num_replicas=2, rank=0)
    with pytest.raises(ValueError, match="past the end"):
        s.advance(11)
    other = ResumableDistributedSampler(11, num_replicas=2, rank=0)
    with pytest.raises(ValueError, match="num_samples"):
        s.load_state_dict(other.state_dict())
    with pytest.raises(ValueError, match="missing keys"):
        s.load_state_dict({"epoch": 0})
    with pytest.raises(TypeError, match="state"):
        s.load_state_dict("not valid")


# ---------------------------------------------------------------- the mixture sampler
@settings(max_examples=25, deadline=None)
@given(w=st.lists(st.floats(0.01, 1.0), min_size=1, max_size=8), n=st.integers(1, 400), cut=st.integers(0, 400))
def test_mixture_prefix_proportions_and_resume(w, n, cut):
    sizes = [7 + 3 * i for i in range(len(w))]
    m = MixtureSampler(w, sizes=sizes, seed=3)
    src, loc = m.take(n)
    p = np.asarray(w) / np.sum(w)
    counts = np.cumsum(np.eye(len(w), dtype=np.int64)[src], axis=0)  # (n, S)
    t = np.arange(1, n + 1)[:, None]
    assert np.abs(counts - p * t).max() < MIXTURE_MAX_DEVIATION
    assert all(0 <= loc[j] < sizes[src[j]] for j in range(n))
    # every source cycles through all its samples before repeating one
    for i in range(len(w)):
        picks = loc[src == i]
        for e in range(len(picks) // sizes[i]):
            assert sorted(picks[e * sizes[i] : (e + 1) * sizes[i]]) == list(range(sizes[i]))
    # resume from a saved state == uninterrupted
    cut = min(cut, n)
    a = MixtureSampler(w, sizes=sizes, seed=3)
    a.take(cut)
    b = MixtureSampler(w, sizes=sizes, seed=3)
    b.load_state_dict(a.state_dict())
    s2, l2 = b.take(n - cut)
    np.testing.assert_array_equal(s2, src[cut:])
    np.testing.assert_array_equal(l2, loc[cut:])


def test_mixture_exact_counts_and_iid_contrast():
    m = MixtureSampler([0.5, 0.25, 0.17, 0.08], sizes=[1000] * 4, seed=0)
    src, _ = m.take(10000)
    assert np.bincount(src, minlength=4).tolist() == [5000, 2500, 1700, 800]
    iid = np.random.default_rng(0).choice(4, size=10000, p=[0.5, 0.25, 0.17, 0.08])
    assert np.abs(np.bincount(iid, minlength=4) - [5000, 2500, 1700, 800]).max() > MIXTURE_MAX_DEVIATION


def test_mixture_zero_weight_source_is_never_drawn():
    src, _ = MixtureSampler([1.0, 0.0], sizes=[3, 3]).take(10)
    assert (src == 0).all()


def test_mixture_bad_input():
    with pytest.raises(TypeError, match="weights"):
        MixtureSampler(None, sizes=[1])
    with pytest.raises(ValueError, match="weights"):
        MixtureSampler([float("nan"), 1.0], sizes=[1, 1])
    with pytest.raises(ValueError, match="weights"):
        MixtureSampler([-1.0, 2.0], sizes=[1, 1])
    with pytest.raises(TypeError, match="weights"):
        MixtureSampler([[1.0], [1.0, 2.0]], sizes=[1, 1])
    with pytest.raises(ValueError, match="sizes"):
        MixtureSampler([1.0, 1.0], sizes=[1])
    with pytest.raises(ValueError, match="sizes\\[0\\]"):
        MixtureSampler([1.0], sizes=[0])
    m = MixtureSampler([1.0, 1.0], sizes=[2, 2], seed=0)
    with pytest.raises(ValueError, match="other weights"):
        m.load_state_dict(MixtureSampler([1.0, 2.0], sizes=[2, 2], seed=0).state_dict())
    with pytest.raises(TypeError, match="state"):
        m.load_state_dict(None)
