r"""Byte-level BPE: learn merges from a corpus, encode, decode, save as ``tokenizer.json``.

Training starts from the 256 byte values. It counts every adjacent pair of symbols inside
each pre-token (weighted by how often the pre-token occurs), turns the most frequent pair
into a new symbol, and repeats until the vocabulary has the requested size. The ordered
list of merges *is* the model; encoding replays it, lowest rank first, on each pre-token.

A naive trainer recounts all pairs of the corpus after every merge: O(merges x corpus).
This one counts once and then updates incrementally. Each pair keeps the set of words
it occurs in, so a merge touches only those words, and each touched word reports the
pairs it lost and gained. The best pair comes from a max-heap with lazy deletion: an
entry whose count went stale is pushed back with its current count when it reaches the
top, instead of being found and fixed in the heap when the count changes.

The bookkeeping follows Hugging Face ``tokenizers`` (``models/bpe/trainer.rs``), so that
both learn the same merges from the same words: ids are special tokens first, then the
256 bytes in the code-point order of their GPT-2 stand-in characters, then one id per new
token string; equal counts go to the smaller ``(left id, right id)``; a merge whose string
already exists reuses its id.
"""

from __future__ import annotations

import collections
import heapq
import os
from collections.abc import Iterable, Sequence

import regex

from .._validation import check_is_fitted, check_scalar
from .pretokenize import _byte_map, _compile, _split, check_pattern

__all__ = ["ByteLevelBPE"]

# byte values in the order of their printable stand-ins (GPT-2's encoder.json order)
_BYTE_ORDER = sorted(range(256), key=lambda b: ord(_byte_map()[b]))


def _utf8(text: str, name: str) -> bytes:
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a str; got {type(text).__name__}.")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"{name} is not valid Unicode (a lone surrogate at index {exc.start}).") from exc


def _merge_word(word: list[int], a: int, b: int, new: int) -> tuple[list[int], list[tuple[tuple[int, int], int]]]:
    # Replace each non-overlapping (a, b), left to right, by `new`; report pair count changes.
    # Like the Rust trainer, the merged pair itself is not decremented: it leaves the queue.
    out: list[int] = []
    changes = []
    i, n = 0, len(word)
    while i < n:
        if word[i] == a and i + 1 < n and word[i + 1] == b:
            if out:
                changes += [((out[-1], a), -1), ((out[-1], new), 1)]
            if i + 2 < n:
                changes += [((b, word[i + 2]), -1), ((new, word[i + 2]), 1)]
            out.append(new)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return out, changes


def _learn_merges(
    word_counts: dict[bytes, int], n_special: int, vocab_size: int, min_frequency: int
) -> tuple[list[tuple[int, int]], list[bytes]]:
    tokens = [bytes([b]) for b in _BYTE_ORDER]  # id n_special + j  ->  tokens[j]
    token_id = {t: n_special + j for j, t in enumerate(tokens)}
    byte_id = [token_id[bytes([b])] for b in range(256)]
    words = [[byte_id[b] for b in w] for w in word_counts]
    counts = list(word_counts.values())
    pair_counts: dict[tuple[int, int], int] = collections.defaultdict(int)
    where: dict[tuple[int, int], set[int]] = collections.defaultdict(set)
    for i, (w, c) in enumerate(zip(words, counts)):
        for pair in zip(w, w[1:]):
            pair_counts[pair] += c
            where[pair].add(i)
    # max-heap via negated counts; ties -> smaller pair first (tuples compare element-wise)
    heap = [(-pair_counts[p], p, pos) for p, pos in where.items()]
    heapq.heapify(heap)
    merges: list[tuple[int, int]] = []
    while heap and n_special + len(tokens) < vocab_size:
        neg, pair, pos = heapq.heappop(heap)
        count = pair_counts[pair]
        if -neg != count:  # stale entry: requeue with the current count
            heapq.heappush(heap, (-count, pair, pos))
            continue
        if count < 1 or count < min_frequency:
            break
        a, b = pair
        new_token = tokens[a - n_special] + tokens[b - n_special]
        new = token_id.get(new_token)
        if new is None:
            new = token_id[new_token] = n_special + len(tokens)
            tokens.append(new_token)
        merges.append(pair)
        gained: dict[tuple[int, int], set[int]] = collections.defaultdict(set)
        for i in pos:
            words[i], changes = _merge_word(words[i], a, b, new)
            for p, delta in changes:
                pair_counts[p] += delta * counts[i]
                if delta > 0:
                    gained[p].add(i)
        for p, gained_pos in gained.items():
            if pair_counts[p] > 0:
                heapq.heappush(heap, (-pair_counts[p], p, gained_pos))
    return merges, tokens


class ByteLevelBPE:
    r"""Byte-level BPE tokenizer (GPT-2 family), trained from scratch.

    Parameters
    ----------
    vocab_size : int
        Target size including the special tokens and the 256 byte tokens, so at least
        ``256 + len(special_tokens)``. Training stops early if no pair is left.
    pattern : str
        Pre-tokenisation regex: a name in ``PATTERNS`` (``"gpt2"``, ``"cl100k"``,
        ``"llama3"``, ``"o200k"``) or a regex for the ``regex`` module.
    special_tokens : sequence of str
        Strings that get their own ids (``0, 1, ...``) and are never split, e.g.
        ``"<|endoftext|>"``. Training text is not searched for them.
    min_frequency : int
        Stop when the best pair occurs fewer times than this (0 or 1: never).

    Attributes
    ----------
    merges_ : list of (int, int)
        The learned merges in rank order, as pairs of ids.
    vocab_ : dict of int to bytes
        Every ordinary token's bytes (the 256 single bytes and one entry per new string).
    special_tokens_ : dict of str to int

    Raises
    ------
    TypeError
        From ``fit`` for a non-str document or bad hyperparameter types; from ``encode`` for
        non-str text; from ``decode`` for non-int ids.
    ValueError
        ``vocab_size < 256 + len(special_tokens)``, repeated special tokens, a pattern that
        does not compile, text with a lone surrogate, an unknown special token or token id,
        a special token in the text that is not allowed, or use before ``fit``.

    Notes
    -----
    Byte-level means no unknown token: every string is a byte sequence and every byte is
    a token, so ``decode(encode(s)) == s`` for any ``str`` that is valid Unicode. Merges are
    learned within pre-tokens only, which keeps punctuation off words and numbers apart.
    Training is deterministic and follows the rules of Hugging Face's ``BpeTrainer`` (see
    the module docstring), so both learn the same merges from the same corpus. The cost
    is one pass to count pairs, then per merge the words that contain the pair.
    See question q09-03.

    Examples
    --------
    >>> bpe = ByteLevelBPE(vocab_size=262, special_tokens=["<|endoftext|>"])
    >>> bpe = bpe.fit(["low lower lowest", "low low"])
    >>> [bpe.vocab_[i] for i in range(257, 262)]        # the five learned tokens, in order
    [b'lo', b'low', b' low', b' lowe', b'st']
    >>> ids = bpe.encode("lowest<|endoftext|>", allowed_special="all")
    >>> ids, [bpe.decode([i]) for i in ids]
    ([258, 69, 261, 0], ['low', 'e', 'st', '<|endoftext|>'])
    >>> bpe.decode(bpe.encode("新词 ✓"))              # unseen characters: bytes, no <unk>
    '新词 ✓'
    """

    def __init__(
        self,
        *,
        vocab_size: int = 1024,
        pattern: str = "gpt2",
        special_tokens: Sequence[str] = (),
        min_frequency: int = 0,
    ) -> None:
        self.vocab_size = vocab_size
        self.pattern = pattern
        self.special_tokens = special_tokens
        self.min_frequency = min_frequency

    # ------------------------------------------------------------------ training
    def _checked_params(self) -> tuple[int, str, list[str], int]:
        if isinstance(self.special_tokens, str) or not isinstance(self.special_tokens, Iterable):
            raise TypeError(f"special_tokens must be a sequence of str; got {type(self.special_tokens).__name__}.")
        specials = list(self.special_tokens)
        for s in specials:
            if not isinstance(s, str) or not s:
                raise TypeError(f"special_tokens must hold non-empty str; got {s!r}.")
        if len(set(specials)) != len(specials):
            raise ValueError(f"special_tokens must be distinct; got {specials}.")
        size = check_scalar(self.vocab_size, "vocab_size", kind="int")
        if size < 256 + len(specials):
            raise ValueError(
                f"vocab_size must be >= 256 + len(special_tokens) = {256 + len(specials)} "
                f"(every byte is a token); got {size}."
            )
        min_freq = check_scalar(self.min_frequency, "min_frequency", kind="int", low=0)
        return size, check_pattern(self.pattern), specials, min_freq

    def fit(self, texts: str | Iterable[str]) -> ByteLevelBPE:
        """Learn merges from ``texts`` (one str, or an iterable of documents); returns ``self``.

        Each document is pre-tokenised on its own; an empty corpus gives the 256 byte tokens
        (and the special tokens) and no merges.
        """
        size, pattern, specials, min_freq = self._checked_params()
        docs = [texts] if isinstance(texts, str) else texts
        if not isinstance(docs, Iterable):
            raise TypeError(f"texts must be a str or an iterable of str; got {type(texts).__name__}.")
        compiled = _compile(pattern)
        pieces: collections.Counter[str] = collections.Counter()
        for k, doc in enumerate(docs):
            _utf8(doc, f"texts[{k}]")
            pieces.update(_split(doc, compiled))
        word_counts = {p.encode("utf-8"): c for p, c in pieces.items()}
        merges, tokens = _learn_merges(word_counts, len(specials), size, min_freq)
        n = len(specials)
        self._set_state(merges, {n + j: t for j, t in enumerate(tokens)}, {s: i for i, s in enumerate(specials)})
        return self

    def truncated(self, vocab_size: int) -> ByteLevelBPE:
        """The tokenizer that ``fit`` with this smaller ``vocab_size`` would have learned.

        BPE is greedy and never looks ahead, so a run to a smaller size replays the first
        merges of a longer run exactly: one training run gives every smaller vocabulary.
        """
        check_is_fitted(self, "merges_")
        base = 256 + len(self.special_tokens_)
        size = check_scalar(vocab_size, "vocab_size", kind="int", low=base)
        seen = {self.vocab_[i] for i in self._byte_ids}
        kept = 0
        for a, b in self.merges_:
            if len(self.special_tokens_) + len(seen) >= size:
                break
            seen.add(self.vocab_[a] + self.vocab_[b])
            kept += 1
        out = ByteLevelBPE(vocab_size=size, pattern=self.pattern, special_tokens=list(self.special_tokens_))
        out.min_frequency = self.min_frequency
        out._set_state(self.merges_[:kept], {i: t for i, t in self.vocab_.items() if t in seen}, self.special_tokens_)
        return out

    def _set_state(self, merges, vocab: dict[int, bytes], specials: dict[str, int]) -> None:
        self.merges_, self.vocab_, self.special_tokens_ = list(merges), dict(vocab), dict(specials)
        ids = {t: i for i, t in self.vocab_.items()}
        # a later duplicate of a pair overrides an earlier one, as in HF's and GPT-2's rank maps
        self._ranks = {(a, b): (r, ids[self.vocab_[a] + self.vocab_[b]]) for r, (a, b) in enumerate(self.merges_)}
        self._byte_ids = [ids[bytes([b])] for b in range(256)]
        self._cache: dict[bytes, list[int]] = {}

    # ------------------------------------------------------------------ encoding
    def _bpe(self, piece: bytes) -> list[int]:
        ids = self._cache.get(piece)
        if ids is not None:
            return ids
        ids = [self._byte_ids[b] for b in piece]
        ranks, never = self._ranks, (len(self._ranks), -1)
        while len(ids) > 1:
            # GPT-2's rule: the adjacent pair with the lowest rank, every occurrence, left to right
            a, b = min(zip(ids, ids[1:]), key=lambda p: ranks.get(p, never)[0])
            _, new = ranks.get((a, b), never)
            if new < 0:
                break
            out, i = [], 0
            while i < len(ids):
                if i + 1 < len(ids) and ids[i] == a and ids[i + 1] == b:
                    out.append(new)
                    i += 2
                else:
                    out.append(ids[i])
                    i += 1
            ids = out
        if len(self._cache) < 1 << 16:
            self._cache[piece] = ids
        return ids

    def _encode_ordinary(self, text: str) -> list[int]:
        out: list[int] = []
        for piece in _split(text, _compile(self.pattern)):
            out += self._bpe(piece.encode("utf-8"))
        return out

    def _special_set(self, value, name: str) -> set[str]:
        if value == "all":
            return set(self.special_tokens_)
        if isinstance(value, str) or not isinstance(value, Iterable):
            raise TypeError(f'{name} must be "all" or a collection of special-token strings; got {value!r}.')
        chosen = set(value)
        unknown = chosen - set(self.special_tokens_)
        if unknown:
            raise ValueError(
                f"{name} names unknown special tokens {sorted(unknown)}; known: {sorted(self.special_tokens_)}."
            )
        return chosen

    def encode(self, text: str, *, allowed_special=(), disallowed_special="all") -> list[int]:
        """Token ids of ``text``.

        Special tokens named in ``allowed_special`` (``"all"`` or a collection) become their
        ids. Any other special token found in the text raises ``ValueError`` unless
        ``disallowed_special`` leaves it out; then it is encoded as plain text (tiktoken's
        rule: a user who types ``<|endoftext|>`` should not end the document).
        """
        check_is_fitted(self, "merges_")
        _utf8(text, "text")
        allowed = self._special_set(allowed_special, "allowed_special")
        disallowed = self._special_set(disallowed_special, "disallowed_special") - allowed
        for s in sorted(disallowed):
            if s in text:
                raise ValueError(
                    f"text contains the special token {s!r}; pass allowed_special={{{s!r}}} to encode it as "
                    f"one token, or disallowed_special=() to encode it as plain text."
                )
        if not allowed:
            return self._encode_ordinary(text)
        # longest first, so that "<|end|>" cannot steal the start of "<|endoftext|>"
        special_re = regex.compile("|".join(regex.escape(s) for s in sorted(allowed, key=len, reverse=True)))
        out, start = [], 0
        for m in special_re.finditer(text):
            out += self._encode_ordinary(text[start : m.start()]) + [self.special_tokens_[m.group()]]
            start = m.end()
        return out + self._encode_ordinary(text[start:])

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """The bytes behind ``ids`` (a token may hold part of a UTF-8 character)."""
        check_is_fitted(self, "merges_")
        specials = {i: s.encode("utf-8") for s, i in self.special_tokens_.items()}
        out = []
        for i in ids:
            if isinstance(i, bool) or not isinstance(i, int):
                raise TypeError(f"ids must hold int; got {type(i).__name__} {i!r}.")
            token = self.vocab_.get(i, specials.get(i))
            if token is None:
                raise ValueError(f"unknown token id {i}; ids run from 0 to {self.n_vocab - 1}.")
            out.append(token)
        return b"".join(out)

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ``ids``; bytes that are not valid UTF-8 become U+FFFD (as GPT-2 and HF do)."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    @property
    def n_vocab(self) -> int:
        """Number of ids (one more than the largest id)."""
        check_is_fitted(self, "merges_")
        return 1 + max([*self.vocab_, *self.special_tokens_.values()])

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike) -> None:
        """Write a Hugging Face ``tokenizer.json`` (see :func:`~interviewlib.tokenizers.tokenizer_json.to_tokenizer_json`)."""
        from .tokenizer_json import save_tokenizer_json

        save_tokenizer_json(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> ByteLevelBPE:
        """Read a byte-level BPE ``tokenizer.json`` (see :func:`~interviewlib.tokenizers.tokenizer_json.load_tokenizer_json`)."""
        from .tokenizer_json import load_tokenizer_json

        return load_tokenizer_json(path)
