r"""Combining and scoring rankings: reciprocal rank fusion and recall@k.

A hybrid retriever runs a lexical and a dense ranker and fuses their ranked lists; RRF uses only
the ranks, so the two scores (BM25's unbounded sums, cosines in [-1, 1]) never need calibrating.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._validation import check_scalar

__all__ = ["reciprocal_rank_fusion", "recall_at_k"]


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], *, k: float = 60.0) -> tuple[np.ndarray, np.ndarray]:
    r"""Fuse ranked lists by :math:`\sum_r 1/(k + \mathrm{rank}_r(d))`, ranks counted from 1.

    Parameters
    ----------
    rankings : sequence of sequences of int
        Each list holds item ids, best first, without repeats; an item missing from a list
        gets nothing from it.
    k : float
        Damping constant (> 0); 60 in Cormack et al. (2009).

    Returns
    -------
    ids : numpy.ndarray of int
        Every item seen, best fused score first (ties: smaller id first).
    scores : numpy.ndarray, same length
        Their fused scores.

    Notes
    -----
    Only ranks are used, so scores on different scales (BM25's unbounded sums, cosines in
    [-1, 1]) need no calibration. See question q11-05.

    References
    ----------
    .. [1] Cormack, Clarke and Buettcher, "Reciprocal Rank Fusion outperforms Condorcet and
       individual Rank Learning Methods", SIGIR 2009, doi:10.1145/1571941.1572114.

    Examples
    --------
    >>> ids, s = reciprocal_rank_fusion([[3, 1, 2], [1, 2, 3]])
    >>> ids.tolist()
    [1, 3, 2]
    """
    if isinstance(rankings, (str, bytes)) or not isinstance(rankings, Sequence) or len(rankings) == 0:
        raise TypeError(f"rankings must be a non-empty list of ranked id lists; got {rankings!r:.60}.")
    k = check_scalar(k, "k", low=0, low_inclusive=False)
    fused: dict[int, float] = {}
    for r, ranking in enumerate(rankings):
        if isinstance(ranking, (str, bytes)) or not isinstance(ranking, Sequence):
            raise TypeError(f"rankings[{r}] must be a list of int ids; got {type(ranking).__name__}.")
        ids = [int(i) if isinstance(i, (int, np.integer)) and not isinstance(i, bool) else None for i in ranking]
        if None in ids:
            raise TypeError(f"rankings[{r}] must contain only int ids; got {ranking!r:.60}.")
        if len(set(ids)) != len(ids):
            raise ValueError(f"rankings[{r}] repeats an id; each list must rank every item at most once.")
        for rank, i in enumerate(ids, start=1):
            fused[i] = fused.get(i, 0.0) + 1.0 / (k + rank)
    items = np.array(sorted(fused), dtype=np.int64)
    scores = np.array([fused[i] for i in items.tolist()])
    order = np.argsort(-scores, kind="stable")
    return items[order], scores[order]


def recall_at_k(rankings: Sequence[Sequence[int]], relevant: Sequence[int], k: int) -> float:
    """Fraction of queries whose relevant id is among the first ``k`` of its ranking.

    Examples
    --------
    >>> recall_at_k([[4, 2, 9], [1, 5, 3]], [2, 3], k=2)
    0.5
    """
    if isinstance(rankings, (str, bytes)) or not isinstance(rankings, Sequence):
        raise TypeError(f"rankings must be a list of ranked id lists; got {type(rankings).__name__}.")
    if len(rankings) == 0:
        raise ValueError("rankings must hold at least one ranking; got an empty list.")
    for r, ranking in enumerate(rankings):
        if isinstance(ranking, (str, bytes)) or not isinstance(ranking, Sequence):
            raise TypeError(f"rankings[{r}] must be a list of int ids; got {type(ranking).__name__}.")
        if not all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in ranking):
            raise TypeError(f"rankings[{r}] must contain only int ids; got {ranking!r:.60}.")
    if isinstance(relevant, (str, bytes)) or not isinstance(relevant, Sequence) or len(relevant) != len(rankings):
        raise ValueError(f"relevant must hold one id per ranking ({len(rankings)}); got {relevant!r:.60}.")
    k = check_scalar(k, "k", kind="int", low=1)
    return float(np.mean([rel in list(ranking)[:k] for ranking, rel in zip(rankings, relevant)]))
