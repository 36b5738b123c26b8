r"""Long-term memory for an agent: a store with write / read / forget, and the scores it ranks by.

Reading ranks every stored memory for a query by one of:

* ``"bm25"``: lexical, :class:`~interviewlib.agents.bm25.BM25`;
* ``"dense"``: cosine similarity of :class:`~interviewlib.agents.embedding.TfidfSVD` embeddings;
* ``"hybrid"``: reciprocal rank fusion of the two (Cormack et al. 2009);
* ``"recency"``: newest first (what a sliding context window keeps);
* ``"generative"``: Park et al. (2023)'s recency + importance + relevance, each min-max scaled.

and returns the best ``k`` that fit a token budget: the part of the context window given to memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import as_float_array, check_option, check_scalar
from .bm25 import BM25, tokenize
from .embedding import TfidfSVD
from .ranking import reciprocal_rank_fusion

__all__ = ["Memory", "MemoryStore", "minmax_scale", "generative_agents_score"]

METHODS = ("bm25", "dense", "hybrid", "recency", "generative")


@dataclass(frozen=True)
class Memory:
    """One stored memory: id, text, write time and last access (hours), importance, token count."""

    id: int
    text: str
    time: float
    last_access: float
    importance: float
    n_tokens: int


def minmax_scale(x: Any) -> np.ndarray:
    r"""Scale to [0, 1] by :math:`(x - \min x)/(\max x - \min x)`; a constant vector becomes 0.5.

    Examples
    --------
    >>> minmax_scale([2.0, 4.0, 3.0])
    array([0. , 1. , 0.5])
    >>> minmax_scale([7.0, 7.0])
    array([0.5, 0.5])
    """
    x = as_float_array(x, "x", ndim=1)
    if x.size == 0:
        return x.copy()
    span = x.max() - x.min()
    return np.full_like(x, 0.5) if span == 0 else (x - x.min()) / span


def generative_agents_score(
    hours_since_access: Any,
    importance: Any,
    relevance: Any,
    *,
    decay: float = 0.995,
    weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
) -> np.ndarray:
    r"""Park et al. (2023)'s retrieval score: weighted sum of min-max scaled recency, importance, relevance.

    Parameters
    ----------
    hours_since_access : array_like, shape (n,)
        Hours since each memory was last retrieved (>= 0); recency is ``decay ** hours``.
    importance : array_like, shape (n,)
        Importance per memory (the paper asks the LLM for an integer 1-10).
    relevance : array_like, shape (n,)
        Similarity of each memory to the query (the paper: cosine of embeddings).
    decay : float
        Per-hour decay factor in (0, 1]; 0.995 in the paper.
    weights : tuple of 3 floats
        :math:`(\alpha_{rec}, \alpha_{imp}, \alpha_{rel})`; all 1 in the paper.

    Returns
    -------
    numpy.ndarray, shape (n,)
        :math:`\alpha_{rec} \hat r + \alpha_{imp} \hat i + \alpha_{rel} \hat s` with hats = :func:`minmax_scale`.

    Notes
    -----
    Min-max scaling is relative to the candidates scored together, so adding one memory can
    change every other score; a constant component contributes 0.5 (as in the authors' code).
    Their released code differs from the paper: weights ``[0.5, 3, 2]`` (recency, relevance,
    importance), decay 0.99, and recency ``decay ** rank`` over memories sorted by last
    access. See question q11-05.

    References
    ----------
    .. [1] Park et al., "Generative Agents: Interactive Simulacra of Human Behavior", UIST 2023,
       arXiv:2304.03442.

    Examples
    --------
    >>> generative_agents_score([0.0, 10.0, 100.0], [3, 9, 1], [0.2, 0.1, 0.9]).round(3)
    array([1.375, 1.876, 1.   ])
    """
    h = as_float_array(hours_since_access, "hours_since_access", ndim=1)
    imp = as_float_array(importance, "importance", ndim=1)
    rel = as_float_array(relevance, "relevance", ndim=1)
    if not (h.shape == imp.shape == rel.shape):
        raise ValueError(
            f"hours_since_access, importance and relevance must have one shape; got {h.shape}, {imp.shape}, {rel.shape}."
        )
    if np.any(h < 0):
        raise ValueError("hours_since_access must be >= 0 (an access cannot lie in the future).")
    decay = check_scalar(decay, "decay", low=0, high=1, low_inclusive=False)
    w = as_float_array(weights, "weights", ndim=1)
    if w.shape != (3,):
        raise ValueError(f"weights must be 3 numbers (recency, importance, relevance); got shape {w.shape}.")
    return w[0] * minmax_scale(decay**h) + w[1] * minmax_scale(imp) + w[2] * minmax_scale(rel)


class MemoryStore:
    r"""An agent's long-term memory: write texts, read the best ``k`` for a query within a token budget, forget.

    Parameters
    ----------
    n_components : int
        Width of the dense (LSA) embedding; capped by the size of the store.
    rrf_k : float
        Reciprocal rank fusion constant for ``method="hybrid"``.
    decay : float
        Per-hour recency decay for ``method="generative"`` and for :meth:`evict`.

    Notes
    -----
    Write is an append (id, text, time in hours, importance); indexes are rebuilt lazily on
    the next read. A read with ``now`` set marks what it returns as accessed at ``now`` (the
    Generative Agents recency counts from the last retrieval). Forgetting is explicit
    (:meth:`forget`, e.g. the user asks, or a fact was superseded) or by capacity
    (:meth:`evict` drops the lowest importance x recency). See question q11-05.

    Examples
    --------
    >>> mem = MemoryStore(n_components=4)
    >>> for t, text in enumerate(["I love hiking", "my dog is called Rex", "lunch was pasta"]):
    ...     _ = mem.write(text, time=float(t))
    >>> [m.text for m in mem.read("what is my dog called", k=1, method="bm25")]
    ['my dog is called Rex']
    """

    def __init__(self, *, n_components: int = 64, rrf_k: float = 60.0, decay: float = 0.995) -> None:
        self.n_components = n_components
        self.rrf_k = rrf_k
        self.decay = decay
        self._items: dict[int, Memory] = {}
        self._next_id = 0
        self._index: tuple | None = None

    def __len__(self) -> int:
        return len(self._items)

    @property
    def memories(self) -> list[Memory]:
        """All stored memories, oldest id first."""
        return list(self._items.values())

    def write(self, text: str, *, time: float, importance: float = 1.0) -> int:
        """Store ``text`` written at ``time`` (hours) with an ``importance`` (>= 0); returns its id."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str; got {type(text).__name__}.")
        time = check_scalar(time, "time")
        importance = check_scalar(importance, "importance", low=0)
        mid = self._next_id
        self._items[mid] = Memory(mid, text, time, time, importance, len(tokenize(text)))
        self._next_id += 1
        self._index = None
        return mid

    def forget(self, ids: Sequence[int]) -> int:
        """Delete the memories ``ids`` (unknown ids are ignored); returns how many were deleted."""
        if isinstance(ids, (str, bytes)) or not isinstance(ids, Sequence):
            raise TypeError(f"ids must be a list of memory ids; got {type(ids).__name__}.")
        if not all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in ids):
            raise TypeError(f"ids must contain only int memory ids; got {ids!r:.60}.")
        gone = [int(i) for i in ids if int(i) in self._items]
        for i in gone:
            del self._items[i]
        if gone:
            self._index = None
        return len(gone)

    def evict(self, capacity: int, *, now: float) -> list[int]:
        """Keep the ``capacity`` memories with the largest ``importance * decay ** (now - last_access)``.

        Returns the evicted ids (ties: the older id goes first).
        """
        capacity = check_scalar(capacity, "capacity", kind="int", low=0)
        now = check_scalar(now, "now")
        if len(self._items) <= capacity:
            return []
        mems = self.memories
        keep = np.array([m.importance * self.decay ** max(now - m.last_access, 0.0) for m in mems])
        order = np.argsort(-keep, kind="stable")  # best first; among ties the older id first
        drop = sorted(mems[i].id for i in order[capacity:])
        self.forget(drop)
        return drop

    def ranking(self, query: str, *, method: str = "hybrid", now: float | None = None) -> np.ndarray:
        """Ids of all memories, best first for ``query`` under ``method`` (see the module docstring)."""
        if not isinstance(query, str):
            raise TypeError(f"query must be a str; got {type(query).__name__}.")
        check_option(method, "method", METHODS)
        if now is not None:
            now = check_scalar(now, "now")
        if not self._items:
            return np.zeros(0, dtype=np.int64)
        return self._rank(query, method, now)

    def read(
        self,
        query: str,
        *,
        k: int = 5,
        method: str = "hybrid",
        budget: int | None = None,
        now: float | None = None,
    ) -> list[Memory]:
        """The best memories for ``query``: at most ``k``, in rank order, whose tokens fit in ``budget``.

        Memories that do not fit are skipped (a shorter one further down may still fit). With
        ``now`` set, the returned memories are marked as accessed at ``now``.
        """
        order = self.ranking(query, method=method, now=now)
        k = check_scalar(k, "k", kind="int", low=1)
        if budget is not None:
            budget = check_scalar(budget, "budget", kind="int", low=0)
        out, used = [], 0
        for i in order.tolist():
            m = self._items[i]
            if budget is not None and used + m.n_tokens > budget:
                continue
            out.append(m)
            used += m.n_tokens
            if len(out) == k:
                break
        if now is not None:
            for m in out:
                self._items[m.id] = Memory(m.id, m.text, m.time, now, m.importance, m.n_tokens)
        return out

    def _build(self):
        mems = self.memories
        ids = np.array([m.id for m in mems], dtype=np.int64)
        texts = [m.text for m in mems]
        bm25 = BM25().fit([tokenize(t) for t in texts])
        n_terms = len({tok for t in texts for tok in tokenize(t)})
        k = min(check_scalar(self.n_components, "n_components", kind="int", low=1), len(texts), n_terms)
        if k >= 1:
            lsa = TfidfSVD(n_components=k).fit(texts)
            emb = lsa.transform(texts)  # (N, k)
            emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        else:
            lsa, emb = None, None
        self._index = (ids, bm25, lsa, emb)
        return self._index

    def _rank(self, query: str, method: str, now: float | None) -> np.ndarray:
        ids, bm25, lsa, emb = self._index or self._build()
        mems = self.memories
        if method == "recency":
            t = np.array([m.time for m in mems])
            return ids[np.argsort(-t, kind="stable")]

        def dense() -> np.ndarray:
            if lsa is None:
                return np.zeros(len(ids))
            q = lsa.transform([query])[0]  # (k,)
            return emb @ (q / max(np.linalg.norm(q), 1e-12))  # (N,) cosine

        if method == "bm25":
            return ids[np.argsort(-bm25.score(tokenize(query)), kind="stable")]
        if method == "dense":
            return ids[np.argsort(-dense(), kind="stable")]
        if method == "hybrid":
            lex = ids[np.argsort(-bm25.score(tokenize(query)), kind="stable")]
            sem = ids[np.argsort(-dense(), kind="stable")]
            fused, _ = reciprocal_rank_fusion([lex.tolist(), sem.tolist()], k=self.rrf_k)
            return fused
        # "generative"
        if now is None:
            now = max(m.time for m in mems)
        hours = np.maximum(now - np.array([m.last_access for m in mems]), 0.0)
        score = generative_agents_score(hours, [m.importance for m in mems], dense(), decay=self.decay)
        return ids[np.argsort(-score, kind="stable")]
