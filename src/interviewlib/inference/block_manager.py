r"""The block manager of a paged KV cache: block tables, refcounts, copy-on-write, prefix caching.

PagedAttention (Kwon et al. 2023) stores the KV cache of every sequence in fixed-size
*blocks* of ``block_size`` token positions drawn from one shared pool, the way an OS maps
virtual pages onto physical frames. This module is the bookkeeping half, with no tensors:
which physical block holds which logical block of which sequence (the *block table*), how
many sequences share a block (its *refcount*), which free blocks still hold reusable
content (*prefix caching*: a full block is named by a hash of its tokens chained with the
hash of the block before it), and in what order free blocks are reused (least recently
freed first, so recently used prefixes survive longest).

The tensor half, the pool of K/V blocks that a block table indexes, is in
:mod:`interviewlib.inference.paged_attention`.
"""

from __future__ import annotations

import hashlib
import numbers
from collections import OrderedDict
from collections.abc import Sequence

from ..transformer._checks import check_int

__all__ = ["BlockManager", "NoFreeBlocksError", "hash_block_tokens", "slot_of"]


class NoFreeBlocksError(RuntimeError):
    """Raised when an allocation needs more free blocks than the pool has (check ``can_allocate`` first)."""


def hash_block_tokens(parent_hash: bytes | None, token_ids: Sequence[int]) -> bytes:
    r"""Content hash of one full block, chained to the block before it.

    Parameters
    ----------
    parent_hash : bytes or None
        Hash of the previous block of the same sequence (None for the first block).
    token_ids : sequence of int
        The ``block_size`` token ids the block holds.

    Returns
    -------
    bytes
        32-byte SHA-256 digest of ``parent_hash`` followed by the token ids as int64.

    Raises
    ------
    TypeError
        If ``parent_hash`` is neither bytes nor None, or ``token_ids`` is not a sequence of int.
    ValueError
        If a token id does not fit in int64.

    Notes
    -----
    Chaining makes the hash name the whole prefix up to and including this block: two
    blocks with the same tokens after different prefixes hold different keys and values
    (attention mixed in the prefix), so they must not match. vLLM V1 does the same in
    ``hash_block_tokens`` (``vllm/v1/core/kv_cache_utils.py``), hashing the parent hash,
    the block's tokens and extra keys (LoRA id, multimodal inputs, cache salt) with a
    configurable hash function. See question q09-06.

    Examples
    --------
    >>> h0 = hash_block_tokens(None, [1, 2])
    >>> hash_block_tokens(h0, [3, 4]) == hash_block_tokens(hash_block_tokens(None, [9, 9]), [3, 4])
    False
    """
    if parent_hash is not None and not isinstance(parent_hash, bytes):
        raise TypeError(
            f"parent_hash must be bytes (the previous block's hash) or None; got {type(parent_hash).__name__}."
        )
    _check_token_ids(token_ids, "token_ids")
    return _hash_block_tokens(parent_hash, token_ids)


def _check_token_ids(token_ids: object, name: str) -> None:
    if isinstance(token_ids, (str, bytes)) or not isinstance(token_ids, Sequence):
        raise TypeError(f"{name} must be a sequence of int token ids; got {type(token_ids).__name__}.")
    for t in token_ids:
        if isinstance(t, bool) or not isinstance(t, numbers.Integral):
            raise TypeError(f"{name} must hold int token ids; got {type(t).__name__} {t!r}.")
        if not -(2**63) <= t < 2**63:
            raise ValueError(f"{name} must hold token ids that fit in int64 (they are hashed as 8 bytes); got {t}.")


def _hash_block_tokens(parent_hash: bytes | None, token_ids: Sequence[int]) -> bytes:
    h = hashlib.sha256(parent_hash or b"root")
    for t in token_ids:
        h.update(int(t).to_bytes(8, "little", signed=True))
    return h.digest()


def slot_of(block_table: Sequence[int], position: int, block_size: int) -> int:
    r"""Physical slot of token ``position``: ``block_table[position // B] * B + position % B``.

    Raises
    ------
    TypeError, ValueError
        If ``block_table`` is not a sequence of int, ``position`` is not an int >= 0,
        ``block_size`` not an int >= 1, or the table has no block for ``position``.

    Examples
    --------
    >>> slot_of([7, 2], 5, 4)  # position 5 is offset 1 of logical block 1 = physical block 2
    9
    """
    if isinstance(block_table, (str, bytes)) or not isinstance(block_table, Sequence):
        raise TypeError(f"block_table must be a sequence of int block ids; got {type(block_table).__name__}.")
    position = check_int(position, "position")
    block_size = check_int(block_size, "block_size", low=1)
    if position // block_size >= len(block_table):
        raise ValueError(
            f"position {position} needs logical block {position // block_size}, but block_table has only "
            f"{len(block_table)} blocks (block_size={block_size})."
        )
    block = check_int(block_table[position // block_size], f"block_table[{position // block_size}]")
    return block * block_size + position % block_size


class BlockManager:
    r"""Allocate fixed-size KV blocks to sequences, share them, and cache full ones by content.

    Parameters
    ----------
    num_blocks : int
        Physical blocks in the pool (ids ``0 .. num_blocks - 1``).
    block_size : int
        Token positions per block (vLLM's default on CUDA is 16).
    enable_prefix_caching : bool
        Keep the content hashes of full blocks so that a later sequence with the same prefix
        reuses them (:meth:`lookup`, :meth:`allocate` with ``token_ids``).

    Attributes
    ----------
    num_free_blocks : int
        Blocks with refcount 0 (some may still hold a cached prefix; they are evictable).
    num_used_blocks : int
        Blocks with refcount > 0; ``num_free_blocks + num_used_blocks == num_blocks``.

    Notes
    -----
    State: a refcount per block; a block table and a token count per sequence; an ordered
    free queue (front = next to reuse = least recently freed); ``hash -> block`` for cached
    full blocks and the reverse map. Invariants (tested as a state machine): a block is
    either free (refcount 0, in the queue once) or used (refcount = number of block tables
    that list it, not in the queue); a sequence of ``n`` tokens has ``ceil(n / block_size)``
    blocks. :meth:`fork` shares all blocks (refcount + 1, for parallel sampling and beam
    search); :meth:`append_slots` copies the last block first if it is shared and will be
    written (copy-on-write) and returns the ``(src, dst)`` copies the KV pool must perform.
    Freed blocks go to the back of the queue last block first, so a sequence's tail is
    evicted before its (more shareable) head, the order vLLM V1's ``BlockPool`` uses.
    See question q09-06.

    Examples
    --------
    >>> bm = BlockManager(num_blocks=4, block_size=2)
    >>> bm.allocate("a", 3)        # 3 tokens -> 2 blocks; no prefix cache -> 0 cached tokens
    0
    >>> bm.block_table("a"), bm.num_free_blocks
    ([0, 1], 2)
    >>> bm.fork("a", "b")          # "b" shares both blocks
    >>> bm.refcount(1)
    2
    >>> bm.append_slots("b", 1)    # block 1 is shared and half full: copy it before writing
    [(1, 2)]
    >>> bm.block_table("b"), bm.refcount(1)
    ([0, 2], 1)
    """

    def __init__(self, num_blocks: int, block_size: int, enable_prefix_caching: bool = False) -> None:
        self.num_blocks = check_int(num_blocks, "num_blocks", low=1)
        self.block_size = check_int(block_size, "block_size", low=1)
        if not isinstance(enable_prefix_caching, bool):
            raise TypeError(f"enable_prefix_caching must be a bool; got {type(enable_prefix_caching).__name__}.")
        self.enable_prefix_caching = enable_prefix_caching
        self._ref = [0] * self.num_blocks
        self._free: OrderedDict[int, None] = OrderedDict((b, None) for b in range(self.num_blocks))
        self._tables: dict[object, list[int]] = {}
        self._num_tokens: dict[object, int] = {}
        self._num_hashed: dict[object, int] = {}  # leading blocks of a sequence already hashed
        self._hash_to_block: dict[bytes, int] = {}
        self._block_hash: dict[int, bytes] = {}
        self.num_evictions = 0  # cached blocks whose content was dropped to reuse the block

    # ------------------------------------------------------------------ queries
    @property
    def num_free_blocks(self) -> int:
        return len(self._free)

    @property
    def num_used_blocks(self) -> int:
        return self.num_blocks - len(self._free)

    @property
    def num_cached_blocks(self) -> int:
        """Blocks that currently carry a prefix-cache hash (used or free)."""
        return len(self._block_hash)

    def blocks_needed(self, num_tokens: int) -> int:
        """Blocks that hold ``num_tokens`` positions: ``ceil(num_tokens / block_size)``."""
        return -(-check_int(num_tokens, "num_tokens") // self.block_size)

    def can_allocate(self, num_blocks: int) -> bool:
        """Whether ``num_blocks`` fresh blocks can be taken now (free ones, cached or not)."""
        return check_int(num_blocks, "num_blocks") <= len(self._free)

    def has_seq(self, seq_id: object) -> bool:
        return seq_id in self._tables

    def block_table(self, seq_id: object) -> list[int]:
        """Physical block ids of ``seq_id``, logical block 0 first (a copy)."""
        return list(self._tables[self._check_seq(seq_id)])

    def num_seq_blocks(self, seq_id: object) -> int:
        """Length of ``seq_id``'s block table (no copy)."""
        return len(self._tables[self._check_seq(seq_id)])

    def num_tokens(self, seq_id: object) -> int:
        """Token positions reserved for ``seq_id``."""
        return self._num_tokens[self._check_seq(seq_id)]

    def refcount(self, block_id: int) -> int:
        return self._ref[self._check_block(block_id)]

    def slot_mapping(self, seq_id: object, start: int, stop: int) -> list[int]:
        """Physical slots (``block * block_size + offset``) of positions ``start .. stop - 1``."""
        table, n = self._tables[self._check_seq(seq_id)], self._num_tokens[seq_id]
        start, stop = check_int(start, "start"), check_int(stop, "stop")
        if not start <= stop <= n:
            raise ValueError(
                f"positions must satisfy 0 <= start <= stop <= {n} (tokens of {seq_id!r}); got {start}, {stop}."
            )
        bs = self.block_size
        return [table[p // bs] * bs + p % bs for p in range(start, stop)]

    def lookup(self, token_ids: Sequence[int]) -> list[int]:
        r"""Cached blocks that hold the longest full-block prefix of ``token_ids`` (no state change).

        Returns an empty list when prefix caching is off. Only whole blocks match: a prefix of
        ``n`` tokens can hit at most ``n // block_size`` blocks.
        """
        if not self.enable_prefix_caching:
            return []
        hits, parent, bs = [], None, self.block_size
        for i in range(len(token_ids) // bs):
            parent = _hash_block_tokens(parent, token_ids[i * bs : (i + 1) * bs])
            block = self._hash_to_block.get(parent)
            if block is None:
                break
            hits.append(block)
        return hits

    # ------------------------------------------------------------------ mutations
    def allocate(
        self,
        seq_id: object,
        num_tokens: int,
        *,
        token_ids: Sequence[int] | None = None,
        max_cached_tokens: int | None = None,
    ) -> int:
        r"""Create the block table of a new sequence with room for ``num_tokens`` positions.

        Parameters
        ----------
        seq_id : hashable
            New sequence id (must not exist).
        num_tokens : int
            Positions to reserve (0 gives an empty table).
        token_ids : sequence of int, optional
            The sequence's tokens; with prefix caching, cached blocks of its prefix are reused
            (refcount + 1) instead of fresh ones.
        max_cached_tokens : int, optional
            Use at most this many cached tokens (whole blocks). An engine passes
            ``len(tokens) - 1`` so that at least one token is computed and yields logits.

        Returns
        -------
        int
            Tokens served from the prefix cache (a multiple of ``block_size``).

        Raises
        ------
        ValueError
            If ``seq_id`` exists or the cached prefix is longer than ``num_tokens``.
        NoFreeBlocksError
            If the fresh blocks needed exceed the free ones (nothing is changed then).
        """
        if seq_id in self._tables:
            raise ValueError(f"seq_id {seq_id!r} already has a block table; free it or use another id.")
        num_tokens = check_int(num_tokens, "num_tokens")
        hits = self.lookup(token_ids) if token_ids is not None else []
        if max_cached_tokens is not None:
            hits = hits[: check_int(max_cached_tokens, "max_cached_tokens") // self.block_size]
        hits = hits[: num_tokens // self.block_size]
        need = self.blocks_needed(num_tokens) - len(hits)
        free_hits = sum(1 for b in hits if self._ref[b] == 0)  # these leave the free queue too
        if need + free_hits > len(self._free):
            raise NoFreeBlocksError(
                f"allocating {num_tokens} tokens for {seq_id!r} needs {need} new blocks (+{free_hits} cached ones "
                f"taken off the free queue); only {len(self._free)} are free."
            )
        for b in hits:
            self._take(b)
        self._tables[seq_id] = hits + [self._pop_free() for _ in range(need)]
        self._num_tokens[seq_id] = num_tokens
        self._num_hashed[seq_id] = len(hits)
        return len(hits) * self.block_size

    def append_slots(self, seq_id: object, num_new_tokens: int) -> list[tuple[int, int]]:
        r"""Reserve ``num_new_tokens`` more positions for ``seq_id``.

        Returns
        -------
        list of (int, int)
            Block copies ``(src, dst)`` the KV pool must do before writing: copy-on-write of a
            shared, partially filled last block. Empty in the common case.

        Raises
        ------
        NoFreeBlocksError
            If the pool cannot supply the blocks; nothing is changed then.
        """
        table = self._tables[self._check_seq(seq_id)]
        num_new_tokens = check_int(num_new_tokens, "num_new_tokens")
        n = self._num_tokens[seq_id]
        if num_new_tokens == 0:
            return []
        cow = n % self.block_size != 0 and self._ref[table[-1]] > 1  # writing into a shared block
        need = -(-(n + num_new_tokens) // self.block_size) - len(table) + int(cow)
        if need > len(self._free):
            raise NoFreeBlocksError(
                f"{seq_id!r} needs {need} more blocks for {num_new_tokens} tokens; only {len(self._free)} are free."
            )
        copies = []
        if cow:
            src, dst = table[-1], self._pop_free()
            self._ref[src] -= 1  # still > 0: the other owners keep it
            table[-1] = dst
            copies.append((src, dst))
        table.extend(self._pop_free() for _ in range(need - int(cow)))
        self._num_tokens[seq_id] = n + num_new_tokens
        return copies

    def append(self, seq_id: object, num_new_tokens: int = 1) -> list[tuple[int, int]]:
        """Alias of :meth:`append_slots` (one token by default)."""
        return self.append_slots(seq_id, num_new_tokens)

    def fork(self, parent_id: object, child_id: object) -> None:
        """Give ``child_id`` the blocks of ``parent_id``, shared (refcount + 1 each)."""
        table = self._tables[self._check_seq(parent_id)]
        if child_id in self._tables:
            raise ValueError(f"child_id {child_id!r} already has a block table.")
        for b in table:
            self._ref[b] += 1
        self._tables[child_id] = list(table)
        self._num_tokens[child_id] = self._num_tokens[parent_id]
        self._num_hashed[child_id] = self._num_hashed[parent_id]

    def free(self, seq_id: object) -> None:
        """Drop ``seq_id``'s block table; blocks nobody else holds go to the free queue, tail first."""
        table = self._tables.pop(self._check_seq(seq_id))
        del self._num_tokens[seq_id], self._num_hashed[seq_id]
        for b in reversed(table):
            self._release(b)

    def free_block(self, block_id: int) -> None:
        """Release one reference to a block taken with :meth:`allocate_block`."""
        block_id = self._check_block(block_id)
        if self._ref[block_id] == 0:
            raise ValueError(f"block {block_id} is already free (refcount 0); it was freed twice or never allocated.")
        if any(block_id in t for t in self._tables.values()):
            raise ValueError(f"block {block_id} belongs to a sequence's block table; free the sequence instead.")
        self._release(block_id)

    def allocate_block(self) -> int:
        """Take one free block outside any block table (refcount 1); release it with :meth:`free_block`."""
        if not self._free:
            raise NoFreeBlocksError(f"no free block: all {self.num_blocks} are in use.")
        return self._pop_free()

    def cache_full_blocks(self, seq_id: object, token_ids: Sequence[int]) -> int:
        r"""Register the content hashes of ``seq_id``'s full blocks whose KV is now computed.

        Parameters
        ----------
        seq_id : hashable
            A sequence with a block table.
        token_ids : sequence of int
            Its tokens whose KV has been written (a prefix of the sequence); blocks entirely
            inside it are hashed, chained from the first block.

        Returns
        -------
        int
            Blocks newly registered (0 when prefix caching is off or a hash was already known).
        """
        table = self._tables[self._check_seq(seq_id)]
        if not self.enable_prefix_caching:
            return 0
        bs = self.block_size
        full = min(len(token_ids) // bs, len(table))
        start = self._num_hashed[seq_id]
        if full <= start:
            return 0
        parent = self._block_hash.get(table[start - 1]) if start else None
        if start and parent is None:  # the previous block's hash was not kept (dedup): recompute the chain
            for i in range(start):
                parent = _hash_block_tokens(parent, token_ids[i * bs : (i + 1) * bs])
        added = 0
        for i in range(start, full):
            parent = _hash_block_tokens(parent, token_ids[i * bs : (i + 1) * bs])
            b = table[i]
            if parent not in self._hash_to_block and b not in self._block_hash:
                self._hash_to_block[parent] = b
                self._block_hash[b] = parent
                added += 1
        self._num_hashed[seq_id] = full
        return added

    # ------------------------------------------------------------------ internals
    def _check_seq(self, seq_id: object) -> object:
        if seq_id not in self._tables:
            raise ValueError(f"unknown seq_id {seq_id!r}; known: {sorted(map(repr, self._tables))[:8]}.")
        return seq_id

    def _check_block(self, block_id: int) -> int:
        block_id = check_int(block_id, "block_id")
        if block_id >= self.num_blocks:
            raise ValueError(f"block_id must be in [0, {self.num_blocks}); got {block_id}.")
        return block_id

    def _pop_free(self) -> int:
        b, _ = self._free.popitem(last=False)  # least recently freed
        h = self._block_hash.pop(b, None)
        if h is not None:  # evict the cached content this block still held
            del self._hash_to_block[h]
            self.num_evictions += 1
        self._ref[b] = 1
        return b

    def _take(self, b: int) -> None:
        if self._ref[b] == 0:
            del self._free[b]  # a prefix hit on a free cached block revives it
        self._ref[b] += 1

    def _release(self, b: int) -> None:
        self._ref[b] -= 1
        if self._ref[b] == 0:
            self._free[b] = None  # back of the queue: reused last
