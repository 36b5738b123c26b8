r"""A dense text embedding built locally: TF-IDF followed by a truncated SVD (latent semantic analysis).

No pretrained sentence encoder can be downloaded here, so the "dense" retriever of this chapter is
LSA: the TF-IDF matrix :math:`X \in \mathbb R^{N \times V}` (rows L2-normalised) is factorised as
:math:`X \approx U_k \Sigma_k V_k^\top`; a text is embedded as :math:`x V_k \in \mathbb R^k`. Terms
that co-occur share directions, so two texts can be close without sharing a word, which is the
property a neural encoder has in a much stronger form.

The TF-IDF part reproduces scikit-learn's ``TfidfVectorizer`` defaults (raw counts, smooth idf
:math:`\ln\frac{1+N}{1+n_t} + 1`, L2 row norm, vocabulary sorted); the SVD part is scikit-learn's
``TruncatedSVD`` computed exactly (``numpy.linalg.svd``) instead of by randomised iterations.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._validation import check_is_fitted, check_scalar
from .bm25 import tokenize

__all__ = ["TfidfSVD"]


def _check_texts(texts: Any, name: str) -> list[str]:
    if isinstance(texts, (str, bytes)) or not isinstance(texts, Sequence):
        raise TypeError(f"{name} must be a list of str; got {type(texts).__name__}.")
    if not all(isinstance(t, str) for t in texts):
        bad = next(type(t).__name__ for t in texts if not isinstance(t, str))
        raise TypeError(f"{name} must contain only str; got a {bad}.")
    return list(texts)


class TfidfSVD:
    r"""LSA text embedding: TF-IDF (scikit-learn's defaults) then an exact truncated SVD.

    Parameters
    ----------
    n_components : int
        Embedding width :math:`k`, at most ``min(N, V)`` of the fitted corpus.

    Attributes
    ----------
    vocabulary_ : dict of str to int
        Term -> column, terms sorted (as scikit-learn does).
    idf_ : numpy.ndarray, shape (V,)
        :math:`\ln\frac{1+N}{1+n_t} + 1`.
    components_ : numpy.ndarray, shape (k, V)
        Top right singular vectors of the TF-IDF matrix; the sign of each row is fixed so that
        its largest-magnitude entry is positive.
    singular_values_ : numpy.ndarray, shape (k,)
        Descending.

    Notes
    -----
    ``transform`` returns :math:`x V_k` (for the fitted texts that is :math:`U_k \Sigma_k`,
    what ``TruncatedSVD.fit_transform`` returns); for retrieval compare L2-normalised rows
    (cosine similarity). Unlike a neural encoder, the space depends on the corpus: refit when
    many new texts arrive, or fold them in with ``transform`` (new words are ignored).
    Tokens come from :func:`~interviewlib.agents.bm25.tokenize`. See question q11-05.

    References
    ----------
    .. [1] Deerwester, Dumais, Furnas, Landauer and Harshman, "Indexing by Latent Semantic
       Analysis", JASIS 41(6), 1990, doi:10.1002/(SICI)1097-4571(199009)41:6<391::AID-ASI1>3.0.CO;2-9.

    Examples
    --------
    >>> texts = ["the cat sat", "a cat and a kitten", "dogs bark", "a dog and a puppy"]
    >>> lsa = TfidfSVD(n_components=2).fit(texts)
    >>> lsa.transform(["kitten"]).shape
    (1, 2)
    """

    def __init__(self, *, n_components: int = 32) -> None:
        self.n_components = n_components

    def fit(self, texts: Sequence[str]) -> TfidfSVD:
        """Learn the vocabulary, idf and the top ``n_components`` singular directions."""
        texts = _check_texts(texts, "texts")
        if not texts:
            raise ValueError("texts must hold at least one text; got an empty list.")
        k = check_scalar(self.n_components, "n_components", kind="int", low=1)
        docs = [tokenize(t) for t in texts]
        terms = sorted({tok for doc in docs for tok in doc})
        if not terms:
            raise ValueError("texts must contain at least one token; every text tokenised to nothing.")
        if k > min(len(texts), len(terms)):
            raise ValueError(
                f"n_components must be <= min(n_texts, n_terms) = {min(len(texts), len(terms))}; got {k}."
            )
        self.vocabulary_ = {t: j for j, t in enumerate(terms)}
        counts = self._counts(docs)  # (N, V)
        df = (counts > 0).sum(axis=0)  # (V,)
        self.idf_ = np.log((1 + len(texts)) / (1 + df)) + 1  # (V,)
        X = self._weigh(counts)  # (N, V)
        _, s, vt = np.linalg.svd(X, full_matrices=False)  # s: (r,), vt: (r, V)
        vt = vt[:k]  # (k, V)
        pivot = np.abs(vt).argmax(axis=1)  # (k,)
        signs = np.sign(vt[np.arange(k), pivot])  # (k,)
        self.components_ = vt * signs[:, None]  # (k, V)
        self.singular_values_ = s[:k]
        return self

    def tfidf(self, texts: Sequence[str]) -> np.ndarray:
        """TF-IDF rows (L2-normalised; all-zero for a text with no known term); shape (n, V)."""
        check_is_fitted(self, "components_")
        texts = _check_texts(texts, "texts")
        return self._weigh(self._counts([tokenize(t) for t in texts]))

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``: TF-IDF rows times ``components_.T``; shape (n, k)."""
        return self.tfidf(texts) @ self.components_.T  # (n, k)

    def _counts(self, docs: list[list[str]]) -> np.ndarray:
        counts = np.zeros((len(docs), len(self.vocabulary_)))  # (n, V)
        for i, doc in enumerate(docs):
            cols = [self.vocabulary_[t] for t in doc if t in self.vocabulary_]
            if cols:
                c, n = np.unique(cols, return_counts=True)
                counts[i, c] = n
        return counts

    def _weigh(self, counts: np.ndarray) -> np.ndarray:
        X = counts * self.idf_  # (n, V)
        norms = np.linalg.norm(X, axis=1, keepdims=True)  # (n, 1)
        return np.divide(X, norms, out=np.zeros_like(X), where=norms > 0)  # (n, V)
