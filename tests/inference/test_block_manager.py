"""Tests for interviewlib.inference.block_manager: tables, refcounts, copy-on-write, prefix caching, LRU."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from interviewlib.inference import BlockManager, NoFreeBlocksError, hash_block_tokens, slot_of


# ---------------------------------------------------------------- hand-worked cases
def test_allocate_rounds_up_to_whole_blocks_and_maps_slots():
    bm = BlockManager(num_blocks=8, block_size=4)
    assert bm.allocate("a", 9) == 0  # 9 tokens -> ceil(9/4) = 3 blocks, no cache
    assert bm.block_table("a") == [0, 1, 2]
    assert (bm.num_free_blocks, bm.num_used_blocks) == (5, 3)
    # slot = block * block_size + offset, by hand: position 5 -> block 1, offset 1 -> 5; position 8 -> 8
    assert bm.slot_mapping("a", 4, 9) == [4, 5, 6, 7, 8]
    assert slot_of([7, 2], 5, 4) == 2 * 4 + 1


def test_append_allocates_only_at_block_boundaries():
    bm = BlockManager(num_blocks=4, block_size=2)
    bm.allocate("a", 1)
    assert bm.append_slots("a", 1) == [] and len(bm.block_table("a")) == 1  # fills block 0
    assert bm.append("a") == [] and len(bm.block_table("a")) == 2  # position 2 opens block 1
    assert bm.num_tokens("a") == 3
    assert bm.append_slots("a", 0) == []


def test_fork_shares_blocks_and_copy_on_write_on_partial_shared_block():
    bm = BlockManager(num_blocks=6, block_size=4)
    bm.allocate("parent", 6)  # blocks [0, 1]; block 1 holds positions 4, 5 (half full)
    bm.fork("parent", "child")
    assert [bm.refcount(b) for b in (0, 1)] == [2, 2]
    assert bm.num_used_blocks == 2  # sharing costs no memory
    copies = bm.append_slots("child", 1)  # writing position 6 into shared block 1 -> copy it first
    assert copies == [(1, 2)]
    assert bm.block_table("child") == [0, 2] and bm.block_table("parent") == [0, 1]
    assert [bm.refcount(b) for b in (0, 1, 2)] == [2, 1, 1]
    assert bm.append_slots("parent", 1) == []  # block 1 is the parent's alone now: no copy


def test_fork_at_block_boundary_needs_no_copy():
    bm = BlockManager(num_blocks=6, block_size=4)
    bm.allocate("p", 8)  # two full blocks
    bm.fork("p", "c")
    assert bm.append_slots("c", 1) == []  # the new token opens a fresh block; full shared blocks stay shared
    assert bm.block_table("c")[:2] == bm.block_table("p")


def test_free_returns_blocks_tail_first_and_they_are_reused_in_that_order():
    bm = BlockManager(num_blocks=4, block_size=1)
    bm.allocate("a", 2)  # blocks 0, 1
    bm.allocate("b", 2)  # blocks 2, 3
    bm.free("a")  # queue: 1, 0 (tail first)
    bm.free("b")  # queue: 1, 0, 3, 2
    bm.allocate("c", 4)
    assert bm.block_table("c") == [1, 0, 3, 2]


def test_prefix_cache_hit_shares_full_blocks_only():
    bm = BlockManager(num_blocks=8, block_size=2, enable_prefix_caching=True)
    tokens = [5, 6, 7, 8, 9]
    bm.allocate("a", 5)
    assert bm.cache_full_blocks("a", tokens) == 2  # blocks of [5, 6] and [7, 8]; [9] is not full
    assert bm.lookup([5, 6, 7, 8, 1, 2]) == bm.block_table("a")[:2]
    assert bm.lookup([5, 6, 0, 8]) == bm.block_table("a")[:1]
    assert bm.lookup([5]) == []  # less than a block
    got = bm.allocate("b", 6, token_ids=[5, 6, 7, 8, 1, 2])
    assert got == 4
    assert bm.block_table("b")[:2] == bm.block_table("a")[:2]
    assert bm.refcount(bm.block_table("a")[0]) == 2
    assert bm.num_used_blocks == 3 + 1  # a: 3 blocks, b: 1 new block


def test_chained_hash_distinguishes_same_block_after_different_prefix():
    bm = BlockManager(num_blocks=8, block_size=2, enable_prefix_caching=True)
    bm.allocate("a", 4)
    bm.cache_full_blocks("a", [1, 2, 3, 4])
    assert bm.lookup([9, 9, 3, 4]) == []  # block [3, 4] after another prefix is a different block


def test_hash_block_tokens_matches_independent_sha256():
    h0 = hashlib.sha256(b"root")
    for t in (3, 4):
        h0.update(int(t).to_bytes(8, "little", signed=True))
    assert hash_block_tokens(None, [3, 4]) == h0.digest()
    h1 = hashlib.sha256(h0.digest())
    h1.update((7).to_bytes(8, "little", signed=True))
    assert hash_block_tokens(h0.digest(), [7]) == h1.digest()


def test_max_cached_tokens_caps_the_hit():
    bm = BlockManager(num_blocks=8, block_size=2, enable_prefix_caching=True)
    bm.allocate("a", 4)
    bm.cache_full_blocks("a", [1, 2, 3, 4])
    # an engine asks for at most len - 1 = 3 cached tokens so one token is computed: 1 block
    assert bm.allocate("b", 4, token_ids=[1, 2, 3, 4], max_cached_tokens=3) == 2


def test_freed_cached_blocks_survive_until_evicted_lru():
    bm = BlockManager(num_blocks=4, block_size=2, enable_prefix_caching=True)
    bm.allocate("old", 2)
    bm.cache_full_blocks("old", [1, 1])
    bm.allocate("new", 2)
    bm.cache_full_blocks("new", [2, 2])
    bm.free("old")
    bm.free("new")  # queue: 2 free never-used blocks, then old's block, then new's block
    assert bm.num_free_blocks == 4 and bm.num_cached_blocks == 2
    assert bm.lookup([1, 1]) and bm.lookup([2, 2])  # free but still cached
    bm.allocate("x", 6)  # takes the 2 never-used blocks and evicts the least recently freed ("old")
    assert bm.lookup([1, 1]) == [] and bm.lookup([2, 2]) != []
    assert bm.num_evictions == 1


def test_hit_on_free_cached_block_revives_it():
    bm = BlockManager(num_blocks=2, block_size=2, enable_prefix_caching=True)
    bm.allocate("a", 2)
    bm.cache_full_blocks("a", [4, 4])
    block = bm.block_table("a")[0]
    bm.free("a")
    assert bm.allocate("b", 3, token_ids=[4, 4, 5]) == 2
    assert bm.block_table("b")[0] == block and bm.refcount(block) == 1 and bm.num_free_blocks == 0


def test_prefix_caching_off_never_hits():
    bm = BlockManager(num_blocks=4, block_size=2)
    bm.allocate("a", 2)
    assert bm.cache_full_blocks("a", [1, 2]) == 0
    assert bm.lookup([1, 2]) == [] and bm.allocate("b", 2, token_ids=[1, 2]) == 0


def test_standalone_block_allocate_and_free():
    bm = BlockManager(num_blocks=2, block_size=4)
    b = bm.allocate_block()
    assert bm.refcount(b) == 1
    bm.free_block(b)
    assert bm.refcount(b) == 0 and bm.num_free_blocks == 2


# ---------------------------------------------------------------- errors
def test_bad_construction():
    with pytest.raises(ValueError, match="num_blocks must be >= 1"):
        BlockManager(0, 4)
    with pytest.raises(TypeError, match="block_size must be an integer"):
        BlockManager(4, 2.0)
    with pytest.raises(TypeError, match="enable_prefix_caching must be a bool"):
        BlockManager(4, 2, 1)


def test_block_ids_out_of_range_and_double_free():
    bm = BlockManager(num_blocks=4, block_size=2)
    with pytest.raises(ValueError, match=r"block_id must be in \[0, 4\); got 4"):
        bm.refcount(4)
    with pytest.raises(ValueError, match="block_id must be >= 0"):
        bm.free_block(-1)
    with pytest.raises(ValueError, match="already free"):
        bm.free_block(0)
    bm.allocate("a", 2)
    with pytest.raises(ValueError, match="belongs to a sequence"):
        bm.free_block(bm.block_table("a")[0])


def test_unknown_and_duplicate_sequences():
    bm = BlockManager(num_blocks=4, block_size=2)
    bm.allocate("a", 2)
    with pytest.raises(ValueError, match="already has a block table"):
        bm.allocate("a", 2)
    with pytest.raises(ValueError, match="unknown seq_id 'zz'"):
        bm.free("zz")
    with pytest.raises(ValueError, match="already has a block table"):
        bm.fork("a", "a")
    bm.free("a")
    with pytest.raises(ValueError, match="unknown seq_id 'a'"):
        bm.free("a")  # freeing twice


def test_pool_too_small_raises_and_changes_nothing():
    bm = BlockManager(num_blocks=3, block_size=4)
    bm.allocate("a", 4)
    before = (bm.num_free_blocks, bm.block_table("a"))
    with pytest.raises(NoFreeBlocksError, match="needs 3 new blocks"):
        bm.allocate("b", 12)  # a request larger than what is left of the pool
    with pytest.raises(NoFreeBlocksError, match="needs 3 more blocks"):
        bm.append_slots("a", 12)
    assert (bm.num_free_blocks, bm.block_table("a")) == before and not bm.has_seq("b")
    assert bm.num_tokens("a") == 4


def test_slot_mapping_range_checked():
    bm = BlockManager(num_blocks=4, block_size=2)
    bm.allocate("a", 3)
    with pytest.raises(ValueError, match="start <= stop <= 3"):
        bm.slot_mapping("a", 0, 4)


# ---------------------------------------------------------------- state machine
class BlockManagerMachine(RuleBasedStateMachine):
    """Random allocate / append / fork / free / hit sequences against a plain model of KV contents.

    The model records which token each physical slot holds (the "KV" written there). A
    prefix-cache hit or a shared block must already hold exactly the sequence's tokens, and a
    write may never land in a block another sequence also lists; both would corrupt attention.
    """

    BS = 2
    NB = 10

    @initialize(caching=st.booleans())
    def setup(self, caching):
        self.bm = BlockManager(self.NB, self.BS, enable_prefix_caching=caching)
        self.tokens: dict[str, list[int]] = {}
        self.content: dict[int, dict[int, int]] = {}  # block -> offset -> token
        self.n = 0

    def _write(self, sid, start):
        table, toks = self.bm.block_table(sid), self.tokens[sid]
        for p in range(start, len(toks)):
            b = table[p // self.BS]
            assert self.bm.refcount(b) == 1, "write into a shared block"
            self.content.setdefault(b, {})[p % self.BS] = toks[p]

    @rule(toks=st.lists(st.integers(0, 2), min_size=1, max_size=7))
    def allocate(self, toks):
        sid = f"s{self.n}"
        self.n += 1
        need_max = self.bm.blocks_needed(len(toks))
        try:
            cached = self.bm.allocate(sid, len(toks), token_ids=toks, max_cached_tokens=len(toks) - 1)
        except NoFreeBlocksError:
            assert need_max > self.bm.num_free_blocks
            return
        self.tokens[sid] = list(toks)
        self._write(sid, cached)
        self.bm.cache_full_blocks(sid, toks)

    @precondition(lambda self: self.tokens)
    @rule(data=st.data(), extra=st.lists(st.integers(0, 2), min_size=1, max_size=3))
    def append(self, data, extra):
        sid = data.draw(st.sampled_from(sorted(self.tokens)))
        start = len(self.tokens[sid])
        try:
            copies = self.bm.append_slots(sid, len(extra))
        except NoFreeBlocksError:
            return
        for src, dst in copies:  # the KV pool copies the block before the write
            self.content[dst] = dict(self.content.get(src, {}))
        self.tokens[sid] += extra
        self._write(sid, start)
        self.bm.cache_full_blocks(sid, self.tokens[sid])

    @precondition(lambda self: self.tokens)
    @rule(data=st.data())
    def fork(self, data):
        sid = data.draw(st.sampled_from(sorted(self.tokens)))
        child = f"s{self.n}"
        self.n += 1
        self.bm.fork(sid, child)
        self.tokens[child] = list(self.tokens[sid])

    @precondition(lambda self: self.tokens)
    @rule(data=st.data())
    def free(self, data):
        sid = data.draw(st.sampled_from(sorted(self.tokens)))
        self.bm.free(sid)
        del self.tokens[sid]

    @invariant()
    def accounting(self):
        bm = self.bm
        owners = [0] * self.NB
        for sid, toks in self.tokens.items():
            table = bm.block_table(sid)
            assert len(table) == -(-len(toks) // self.BS) and bm.num_tokens(sid) == len(toks)
            for b in table:
                owners[b] += 1
        assert [bm.refcount(b) for b in range(self.NB)] == owners  # refcount = number of tables listing it
        free = [b for b in range(self.NB) if owners[b] == 0]
        assert sorted(bm._free) == free  # free exactly when unowned, each once: nothing leaked
        assert bm.num_free_blocks + bm.num_used_blocks == self.NB

    @invariant()
    def contents_match(self):
        if not hasattr(self, "bm"):
            return
        for sid, toks in self.tokens.items():
            table = self.bm.block_table(sid)
            for p, t in enumerate(toks):
                assert self.content[table[p // self.BS]][p % self.BS] == t
            for i, b in enumerate(self.bm.lookup(toks)):  # a hit holds exactly the prefix's tokens
                assert [self.content[b][o] for o in range(self.BS)] == toks[i * self.BS : (i + 1) * self.BS]

    @invariant()
    def hash_maps_are_inverse(self):
        if hasattr(self, "bm"):
            assert {b: h for h, b in self.bm._hash_to_block.items()} == self.bm._block_hash


BlockManagerMachine.TestCase.settings = settings(
    max_examples=25, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestBlockManagerMachine = BlockManagerMachine.TestCase


def test_hash_block_tokens_and_slot_of_bad_input():
    with pytest.raises(TypeError, match="parent_hash must be bytes .* or None; got str"):
        hash_block_tokens("root", [1, 2])
    with pytest.raises(TypeError, match="token_ids must hold int token ids; got float"):
        hash_block_tokens(None, [1, 2.0])
    with pytest.raises(ValueError, match="token_ids must hold token ids that fit in int64"):
        hash_block_tokens(None, [2**63])
    with pytest.raises(ValueError, match="position 8 needs logical block 2, but block_table has only 2 blocks"):
        slot_of([7, 2], 8, 4)
    with pytest.raises(ValueError, match="block_size must be >= 1"):
        slot_of([7, 2], 1, 0)
    with pytest.raises(TypeError, match=r"block_table\[0\] must be an integer"):
        slot_of(["7", 2], 1, 4)
