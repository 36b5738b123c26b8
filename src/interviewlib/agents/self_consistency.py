r"""Self-consistency: sample several answers, return the most frequent one and its vote share.

Wang et al. (2022) sample several chain-of-thought paths at temperature > 0, parse each final
answer, and take a majority vote over the answers (marginalising out the reasoning). The vote
share is also a confidence signal: a low share says the model is unsure, which is what
abstention needs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["majority_vote"]


def majority_vote(answers: Any) -> tuple[np.ndarray, np.ndarray]:
    r"""Plurality vote per row over sampled answers.

    Parameters
    ----------
    answers : array_like of int, shape (Q, n)
        ``answers[q, j]`` is the label of sample ``j`` for question ``q``; a negative label is a
        sample that gave no parseable answer and does not vote.

    Returns
    -------
    winner : numpy.ndarray of int, shape (Q,)
        Most frequent non-negative label (ties: the smallest label); -1 if no sample voted.
    share : numpy.ndarray, shape (Q,)
        Votes for the winner divided by ``n`` (unparseable samples count in the denominator,
        so they lower the confidence).

    Notes
    -----
    The vote helps when the correct answer is each question's most likely answer: then the
    plurality is correct with probability tending to 1 as ``n`` grows (for two answers with
    :math:`p > 1/2` it is the binomial tail :math:`P(\mathrm{Bin}(n, p) > n/2)`, odd ``n``). When a
    wrong answer is the mode, more samples make the vote *surely* wrong. See question q11-06.

    References
    ----------
    .. [1] Wang et al., "Self-Consistency Improves Chain of Thought Reasoning in Language
       Models", ICLR 2023, arXiv:2203.11171.

    Examples
    --------
    >>> w, s = majority_vote([[3, 1, 3, 2], [0, 1, -1, -1], [-1, -1, -1, -1]])
    >>> w.tolist(), s.tolist()
    ([3, 0, -1], [0.5, 0.25, 0.0])
    """
    try:
        arr = np.asarray(answers)
    except Exception as exc:  # ragged lists
        raise TypeError(f"answers must be a (Q, n) array of int labels; got {type(answers).__name__} ({exc}).") from exc
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        if arr.dtype.kind == "f" and arr.size and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise TypeError(f"answers must hold integer labels (-1 = no answer); got dtype {arr.dtype}.")
    if arr.ndim != 2 or arr.shape[1] == 0:
        raise ValueError(f"answers must be 2-D (Q, n) with n >= 1; got shape {arr.shape}.")
    n_labels = int(arr.max()) + 1 if arr.size and arr.max() >= 0 else 0
    if n_labels == 0:
        return np.full(arr.shape[0], -1, dtype=np.int64), np.zeros(arr.shape[0])
    counts = (arr[:, :, None] == np.arange(n_labels)).sum(axis=1)  # (Q, L)
    winner = counts.argmax(axis=1)  # (Q,), first maximum = smallest label
    top = counts[np.arange(arr.shape[0]), winner]  # (Q,)
    return np.where(top > 0, winner, -1).astype(np.int64), top / arr.shape[1]
