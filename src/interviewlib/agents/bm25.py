r"""Lexical retrieval: a documented regex tokenizer and Okapi BM25 (``rank_bm25.BM25Okapi``'s convention).

BM25 scores a document :math:`d` for a query :math:`q` by summing, over the query's tokens (with
repetition), an idf weight times a saturating, length-normalised term frequency:

.. math::

    s(d, q) = \sum_{t \in q} \mathrm{idf}(t)\,
    \frac{f_{t,d}\,(k_1 + 1)}{f_{t,d} + k_1\,(1 - b + b\,|d| / \overline{|d|})}.

The idf follows ``rank-bm25`` 0.2.2 exactly: :math:`\ln(N - n_t + 0.5) - \ln(n_t + 0.5)`, and every
term whose idf is *negative* (it occurs in more than half of the documents) gets the floor
:math:`\epsilon \cdot \overline{\mathrm{idf}}`, where the mean runs over the whole vocabulary
*before* flooring. A term with idf exactly 0 keeps 0, and the floor is itself negative when the
mean idf is (small corpora where most words are common).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._validation import check_is_fitted, check_scalar

__all__ = ["tokenize", "BM25"]

# CJK ideographs (URO, extension A, compatibility), kana and Hangul syllables: one token per character.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]|(?:(?![{_CJK}])[^\W_])+")


def tokenize(text: str) -> list[str]:
    r"""Split text into lowercase word tokens; CJK text into single characters.

    Parameters
    ----------
    text : str
        Any Unicode text.

    Returns
    -------
    list of str
        After NFKC normalisation (full-width letters and digits become ASCII) and
        ``casefold``: maximal runs of letters and digits (``[^\W_]+``, so punctuation,
        whitespace and ``_`` separate tokens), except that each CJK ideograph, kana or
        Hangul syllable is a token of its own.

    Raises
    ------
    TypeError
        If ``text`` is not a ``str``.

    Notes
    -----
    Per-character CJK tokens are the usual baseline for Chinese without a word segmenter
    (character unigrams); bigrams or a segmenter would be sharper. See question q11-05.

    Examples
    --------
    >>> tokenize("My cat's name is Ｍｉｌｏ, 住在北京!")
    ['my', 'cat', 's', 'name', 'is', 'milo', '住', '在', '北', '京']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; got {type(text).__name__}.")
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())


def check_documents(docs: Any, name: str, *, allow_empty: bool = False) -> list[list[str]]:
    """Validate a list of tokenised documents (each a list of str tokens); return plain lists."""
    if isinstance(docs, (str, bytes)) or not isinstance(docs, Sequence):
        raise TypeError(
            f"{name} must be a list of token lists (e.g. [tokenize(t) for t in texts]); got {type(docs).__name__}."
        )
    if not allow_empty and len(docs) == 0:
        raise ValueError(f"{name} must hold at least one document; got an empty list.")
    out = []
    for i, doc in enumerate(docs):
        if isinstance(doc, (str, bytes)) or not isinstance(doc, Sequence):
            raise TypeError(
                f"{name}[{i}] must be a list of str tokens, not {type(doc).__name__}; tokenize raw text first."
            )
        if not all(isinstance(tok, str) for tok in doc):
            bad = next(type(tok).__name__ for tok in doc if not isinstance(tok, str))
            raise TypeError(f"{name}[{i}] must contain only str tokens; got a {bad}.")
        out.append(list(doc))
    return out


def check_query(query: Any, name: str = "query") -> list[str]:
    """Validate one tokenised query (a list of str tokens, possibly empty)."""
    if isinstance(query, (str, bytes)) or not isinstance(query, Sequence):
        hint = " (tokenize it first)" if isinstance(query, str) else ""
        raise TypeError(f"{name} must be a list of str tokens{hint}; got {type(query).__name__}.")
    if not all(isinstance(tok, str) for tok in query):
        bad = next(type(tok).__name__ for tok in query if not isinstance(tok, str))
        raise TypeError(f"{name} must contain only str tokens; got a {bad}.")
    return list(query)


class BM25:
    r"""Okapi BM25 over a tokenised corpus, scoring like ``rank_bm25.BM25Okapi``.

    Parameters
    ----------
    k1 : float
        Term-frequency saturation (> 0); ``f (k1+1) / (f + k1 ...)`` tends to ``k1 + 1``.
    b : float
        Length normalisation in [0, 1] (0: none, 1: full).
    epsilon : float
        Floor for negative idf, as a fraction of the mean idf (>= 0).

    Attributes
    ----------
    vocabulary_ : dict of str to int
        Term -> column, in order of first appearance.
    idf_ : numpy.ndarray, shape (V,)
        Floored idf per term.
    average_idf_ : float
        Mean idf over the vocabulary before flooring.
    doc_len_ : numpy.ndarray, shape (N,)
        Tokens per document; ``avgdl_`` is their mean.
    weights_ : numpy.ndarray, shape (N, V)
        ``idf * f (k1+1) / (f + k1 (1 - b + b |d|/avgdl))``: the score of one query token.

    Notes
    -----
    Scoring is one matrix-vector product of ``weights_`` with the query's term counts, so a
    repeated query token counts twice and an unknown one counts zero, as in ``rank_bm25``.
    Dense storage, O(N V) memory: fine for an agent's memory of thousands of entries; an
    inverted index (sparse columns) is what a search engine uses. A corpus whose documents are
    all empty has no vocabulary: every score is 0 (``rank_bm25`` divides by zero there). An
    empty document scores 0 for every query; with ``b = 1`` its length normalisation is 0 and
    ``rank_bm25`` computes 0/0 = nan for it whenever the query has an indexed term.
    See question q11-05.

    References
    ----------
    .. [1] Robertson and Zaragoza, "The Probabilistic Relevance Framework: BM25 and Beyond",
       2009, doi:10.1561/1500000019.
    .. [2] Trotman, Puurula and Burgess, "Improvements to BM25 and Language Models Examined",
       ADCS 2014, doi:10.1145/2682862.2682863.

    Examples
    --------
    >>> bm = BM25().fit([["red", "cat"], ["blue", "dog"], ["red", "dog", "dog"], ["cat", "fish"], ["fish"]])
    >>> bm.score(["dog"]).round(4)
    array([0.    , 0.3365, 0.4141, 0.    , 0.    ])
    >>> bm.top_k(["dog", "fish"], 2)
    array([4, 2])
    """

    def __init__(self, *, k1: float = 1.5, b: float = 0.75, epsilon: float = 0.25) -> None:
        self.k1 = k1
        self.b = b
        self.epsilon = epsilon

    def fit(self, corpus: Sequence[Sequence[str]]) -> BM25:
        """Index ``corpus`` (a list of token lists, at least one document); returns ``self``."""
        docs = check_documents(corpus, "corpus")
        k1 = check_scalar(self.k1, "k1", low=0, low_inclusive=False)
        b = check_scalar(self.b, "b", low=0, high=1)
        eps = check_scalar(self.epsilon, "epsilon", low=0)
        vocab: dict[str, int] = {}
        for doc in docs:
            for tok in doc:
                vocab.setdefault(tok, len(vocab))
        tf = np.zeros((len(docs), len(vocab)))  # (N, V)
        for i, doc in enumerate(docs):
            if doc:
                cols, counts = np.unique([vocab[t] for t in doc], return_counts=True)
                tf[i, cols] = counts
        self.vocabulary_ = vocab
        self.doc_len_ = tf.sum(axis=1)  # (N,)
        self.avgdl_ = float(self.doc_len_.mean())
        n_docs = len(docs)
        df = (tf > 0).sum(axis=0)  # (V,)
        idf = np.log(n_docs - df + 0.5) - np.log(df + 0.5)  # (V,)
        self.average_idf_ = float(idf.mean()) if idf.size else 0.0
        self.idf_ = np.where(idf < 0, eps * self.average_idf_, idf)  # (V,)
        if self.avgdl_ > 0:
            norm = k1 * (1 - b + b * self.doc_len_ / self.avgdl_)  # (N,)
            denom = tf + norm[:, None]  # (N, V); 0 only where f = 0 in an empty document with b = 1
            safe = np.where(denom > 0, denom, 1.0)
            self.weights_ = np.where(tf > 0, self.idf_ * tf * (k1 + 1) / safe, 0.0)  # (N, V)
        else:
            self.weights_ = tf  # (N, 0): no vocabulary
        return self

    def score(self, query: Sequence[str]) -> np.ndarray:
        """BM25 score of every document for ``query`` (a list of str tokens); shape (N,)."""
        check_is_fitted(self, "weights_")
        q = check_query(query)
        counts = np.zeros(len(self.vocabulary_))  # (V,)
        for tok in q:
            j = self.vocabulary_.get(tok)
            if j is not None:
                counts[j] += 1
        return self.weights_ @ counts  # (N,)

    def top_k(self, query: Sequence[str], k: int) -> np.ndarray:
        """Indices of the ``k`` best documents, best first (ties: lower index first)."""
        scores = self.score(query)
        k = check_scalar(k, "k", kind="int", low=1)
        return np.argsort(-scores, kind="stable")[:k]
