r"""Offline-tokenised, packed token shards on disk, read back through ``numpy.memmap``.

The layout is the one Megatron-LM's ``IndexedDataset`` popularised: one flat binary file of
token ids per shard (``<prefix>.bin``, little-endian ``uint16`` when every id fits, else
``uint32``) plus a small index (``<prefix>.idx.npz``) with the document offsets. Training
reads fixed-length windows straight out of the page cache: no tokenizer, no parsing, no
Python objects per document, and ``O(1)`` random access to sample ``i``.

Packing: documents are concatenated (each followed by ``eos_id`` if given) into one stream
and cut into windows of ``seq_len + 1`` tokens that overlap by one token, so window ``i`` is
``stream[i L : (i + 1) L + 1]`` (inputs = first ``L``, targets = last ``L``) and no token is
padding. The document id of every token is available for block-causal masks (question q08-14).

See question q08-16.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._validation import check_scalar

__all__ = ["token_dtype", "write_token_shard", "PackedMemmapDataset"]

_UINT16_LIMIT = 2**16  # ids 0..65535 fit in uint16


def token_dtype(vocab_size: int) -> np.dtype:
    r"""The smallest unsigned dtype that holds every id of a vocabulary: uint16 or uint32.

    Parameters
    ----------
    vocab_size : int >= 1

    Returns
    -------
    numpy.dtype
        ``uint16`` for ``vocab_size <= 65536`` (2 bytes a token), else ``uint32``.

    Notes
    -----
    Megatron-LM picks ``uint16`` below 65 500 and ``int32`` above. A 128K-token vocabulary
    (Llama 3) therefore needs 4 bytes a token, a 50K one (GPT-2) only 2. See question q08-16.

    Examples
    --------
    >>> token_dtype(50257), token_dtype(128256)
    (dtype('uint16'), dtype('uint32'))
    """
    vocab_size = check_scalar(vocab_size, "vocab_size", kind="int", low=1)
    if vocab_size > 2**32:
        raise ValueError(f"vocab_size must be <= 2**32 to fit uint32 ids; got {vocab_size}.")
    return np.dtype(np.uint16 if vocab_size <= _UINT16_LIMIT else np.uint32)


def _check_path(path: Any, name: str) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or os.PathLike path prefix; got {type(path).__name__}.")
    return Path(path)


def _as_doc(doc: Any, k: int, vocab_size: int) -> np.ndarray:
    if isinstance(doc, (str, bytes)) or not isinstance(doc, (Sequence, np.ndarray)):
        raise TypeError(f"docs[{k}] must be a sequence of int token ids; got {type(doc).__name__}.")
    try:
        arr = np.asarray(doc)
    except ValueError as exc:  # ragged nesting
        raise TypeError(f"docs[{k}] must be a flat sequence of int token ids ({exc}).") from exc
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"docs[{k}] must hold integer token ids; got dtype {arr.dtype}.")
    if arr.ndim != 1:
        raise ValueError(f"docs[{k}] must be 1-D; got shape {arr.shape}.")
    if arr.size and (arr.min() < 0 or arr.max() >= vocab_size):
        raise ValueError(f"docs[{k}] must hold ids in [0, {vocab_size}); got range [{arr.min()}, {arr.max()}].")
    return arr.astype(np.int64, copy=False)


def write_token_shard(path: str | os.PathLike, docs: Iterable[Any], *, vocab_size: int, eos_id: int | None = None) -> int:
    r"""Write tokenised documents as one packed shard: ``<path>.bin`` + ``<path>.idx.npz``.

    Parameters
    ----------
    path : str or os.PathLike
        Path prefix; the two files get the suffixes ``.bin`` and ``.idx.npz``.
    docs : iterable of 1-D int sequences
        Token ids of each document, all in ``[0, vocab_size)``. Empty documents are kept
        (they occupy only their ``eos_id``, if any).
    vocab_size : int
        Chooses the on-disk dtype (:func:`token_dtype`).
    eos_id : int, optional
        Appended after every document so the model sees where one ends.

    Returns
    -------
    int
        Number of tokens written.

    Raises
    ------
    TypeError, ValueError
        On a non-path prefix, a document that is not a flat int sequence, ids out of range,
        or an ``eos_id`` outside the vocabulary.

    Notes
    -----
    The index stores ``doc_offsets`` (int64, ``n_docs + 1``; document ``d`` is
    ``tokens[doc_offsets[d] : doc_offsets[d + 1]]``, its EOS included), the dtype name and
    the vocabulary size. The file is written through a temporary name and renamed, so a
    crash never leaves a half-written shard that looks complete (a pre-allocated but
    unwritten region would read back as a run of token 0). See question q08-16.

    Examples
    --------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> write_token_shard(os.path.join(d, "s0"), [[5, 6, 7], [8]], vocab_size=10, eos_id=0)
    6
    >>> np.fromfile(os.path.join(d, "s0.bin"), dtype=np.uint16).tolist()
    [5, 6, 7, 0, 8, 0]
    """
    prefix = _check_path(path, "path")
    vocab_size = check_scalar(vocab_size, "vocab_size", kind="int", low=1)
    if eos_id is not None:
        eos_id = check_scalar(eos_id, "eos_id", kind="int", low=0, high=vocab_size - 1)
    if isinstance(docs, (str, bytes)) or not isinstance(docs, Iterable):
        raise TypeError(f"docs must be an iterable of token-id sequences; got {type(docs).__name__}.")
    dtype = token_dtype(vocab_size)
    tail = np.array([] if eos_id is None else [eos_id], dtype=np.int64)
    offsets = [0]
    tmp = prefix.with_name(prefix.name + ".bin.tmp")
    with open(tmp, "wb") as f:
        for k, doc in enumerate(docs):
            arr = np.concatenate([_as_doc(doc, k, vocab_size), tail])  # (len_d,)
            f.write(arr.astype(dtype.newbyteorder("<")).tobytes())
            offsets.append(offsets[-1] + arr.size)
    np.savez(prefix.with_name(prefix.name + ".idx.npz"), doc_offsets=np.asarray(offsets, dtype=np.int64),
             dtype=np.array(dtype.name), vocab_size=np.int64(vocab_size))  # fmt: skip
    os.replace(tmp, prefix.with_name(prefix.name + ".bin"))
    return offsets[-1]


class PackedMemmapDataset:
    r"""Fixed-length training windows over one or more packed shards, memory-mapped.

    Parameters
    ----------
    paths : str, os.PathLike, or sequence of them
        Shard prefixes written by :func:`write_token_shard`, read in order as one stream.
    seq_len : int >= 1
        Window length :math:`L`; item ``i`` holds the :math:`L + 1` tokens
        ``stream[i L : i L + L + 1]``.

    Attributes
    ----------
    n_tokens : int
        Tokens in all shards together.
    doc_offsets : numpy.ndarray of int64
        Global document boundaries in the concatenated stream.

    Raises
    ------
    TypeError, ValueError
        Bad paths, missing files, a ``.bin`` whose size disagrees with its index, shards
        with different vocabularies, or fewer than :math:`L + 1` tokens in total.

    Notes
    -----
    ``len(ds) = (n_tokens - 1) // L``; the last partial window is dropped. Nothing is read
    at construction except the small indices; ``__getitem__`` slices the memmaps (the OS
    pages the bytes in). Pickling (for ``DataLoader`` worker processes) sends only the
    paths; each worker reopens its own maps instead of receiving a copy of the data.
    See question q08-16.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "s0")
    >>> _ = write_token_shard(p, [[1, 2, 3], [4, 5]], vocab_size=8, eos_id=0)
    >>> ds = PackedMemmapDataset(p, seq_len=3)
    >>> len(ds), ds[0].tolist(), ds[1].tolist(), ds.doc_ids(1).tolist()
    (2, [1, 2, 3, 0], [0, 4, 5, 0], [0, 1, 1, 1])
    """

    def __init__(self, paths: Any, *, seq_len: int) -> None:
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        if not isinstance(paths, Sequence) or not paths:
            raise TypeError(f"paths must be a path prefix or a non-empty sequence of them; got {type(paths).__name__}.")
        self.paths = [str(_check_path(p, f"paths[{k}]")) for k, p in enumerate(paths)]
        self.seq_len = check_scalar(seq_len, "seq_len", kind="int", low=1)
        self._open()

    def _open(self) -> None:
        self._maps, offsets, starts, vocab = [], [np.zeros(1, dtype=np.int64)], [0], None
        for p in self.paths:
            idx_file, bin_file = Path(p + ".idx.npz"), Path(p + ".bin")
            if not idx_file.exists() or not bin_file.exists():
                raise ValueError(f"paths: shard {p!r} must have {bin_file.name} and {idx_file.name}; one is missing.")
            with np.load(idx_file) as z:
                doc_offsets, dtype, v = z["doc_offsets"], np.dtype(str(z["dtype"])).newbyteorder("<"), int(z["vocab_size"])
            if vocab is not None and v != vocab:
                raise ValueError(f"all shards must share one vocabulary; {p!r} has vocab_size {v}, earlier shards {vocab}.")
            vocab, n = v, int(doc_offsets[-1])
            if bin_file.stat().st_size != n * dtype.itemsize:
                raise ValueError(f"shard {p!r}: {bin_file.name} has {bin_file.stat().st_size} bytes, index says {n} tokens x {dtype.itemsize}.")
            self._maps.append(np.memmap(bin_file, dtype=dtype, mode="r", shape=(n,)) if n else np.zeros(0, dtype))
            offsets.append(doc_offsets[1:] + starts[-1])
            starts.append(starts[-1] + n)
        self.vocab_size = vocab
        self._starts = np.asarray(starts, dtype=np.int64)  # (n_shards + 1,) global start of each shard
        self.doc_offsets = np.concatenate(offsets)
        self.n_tokens = int(self._starts[-1])
        if self.n_tokens < self.seq_len + 1:
            raise ValueError(f"the shards hold {self.n_tokens} tokens; need at least seq_len + 1 = {self.seq_len + 1}.")

    def __getstate__(self) -> dict:
        return {"paths": self.paths, "seq_len": self.seq_len}

    def __setstate__(self, state: dict) -> None:
        self.paths, self.seq_len = state["paths"], state["seq_len"]
        self._open()

    def __len__(self) -> int:
        return (self.n_tokens - 1) // self.seq_len

    def _index(self, i: Any) -> int:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"index must be an integer; got {type(i).__name__}.")
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"index {i} out of range for {n} windows.")
        return int(i) % n

    def _tokens(self, lo: int, hi: int) -> np.ndarray:
        first = int(np.searchsorted(self._starts, lo, side="right")) - 1
        last = int(np.searchsorted(self._starts, hi - 1, side="right")) - 1
        parts = [self._maps[s][max(lo, self._starts[s]) - self._starts[s] : min(hi, self._starts[s + 1]) - self._starts[s]]
                 for s in range(first, last + 1)]  # fmt: skip
        return np.concatenate(parts).astype(np.int64)  # (hi - lo,) a window may span shards

    def __getitem__(self, i: int) -> np.ndarray:
        """Window ``i`` as int64, shape ``(seq_len + 1,)``: inputs ``[:-1]``, targets ``[1:]``."""
        lo = self._index(i) * self.seq_len
        return self._tokens(lo, lo + self.seq_len + 1)

    def doc_ids(self, i: int) -> np.ndarray:
        """Global document index of each token of window ``i``, shape ``(seq_len + 1,)``."""
        lo = self._index(i) * self.seq_len
        pos = np.arange(lo, lo + self.seq_len + 1)  # (L + 1,)
        return np.searchsorted(self.doc_offsets, pos, side="right") - 1
