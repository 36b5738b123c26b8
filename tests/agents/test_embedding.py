"""TfidfSVD vs scikit-learn's TfidfVectorizer and TruncatedSVD (up to sign), the SVD identity, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer

from interviewlib.agents import TfidfSVD, tokenize

ATOL_TFIDF = 1e-12  # the same float64 formula on the same counts
RTOL_SV = 1e-8  # LAPACK SVD vs ARPACK (iterative, converged to ~1e-10 relative)
ATOL_VEC = 1e-6  # singular vectors from two solvers; only compared where the spectral gap is > 1e-2
WORDS = ["cat", "dog", "kitten", "puppy", "pet", "vet", "food", "walk", "park", "猫", "狗"]


def _texts(rng, n):
    return [" ".join(rng.choice(WORDS, size=rng.integers(1, 7))) for _ in range(n)]


def _sklearn(texts, k):
    vec = TfidfVectorizer(tokenizer=tokenize, lowercase=False, token_pattern=None)
    X = vec.fit_transform(texts)
    svd = TruncatedSVD(n_components=k, algorithm="arpack").fit(X)
    return vec, X, svd


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000))
def test_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    texts = _texts(rng, int(rng.integers(8, 20)))
    k = 4
    ours = TfidfSVD(n_components=k).fit(texts)
    vec, X, svd = _sklearn(texts, k)
    assert list(ours.vocabulary_) == sorted(vec.vocabulary_)
    np.testing.assert_allclose(ours.tfidf(texts), X.toarray(), atol=ATOL_TFIDF)
    np.testing.assert_allclose(ours.idf_, vec.idf_, atol=ATOL_TFIDF)
    np.testing.assert_allclose(ours.singular_values_, svd.singular_values_, rtol=RTOL_SV)
    s = np.r_[ours.singular_values_, np.linalg.svd(X.toarray(), compute_uv=False)[k:k + 1], 0.0]
    for j in range(k):
        if min(s[j] - s[j + 1], s[j - 1] - s[j] if j else np.inf) > 1e-2:  # well separated: unique up to sign
            dot = ours.components_[j] @ svd.components_[j]
            assert abs(abs(dot) - 1) < ATOL_VEC


def test_transform_is_u_sigma_and_new_words_ignored():
    texts = _texts(np.random.default_rng(0), 15)
    lsa = TfidfSVD(n_components=3).fit(texts)
    u, s, _ = np.linalg.svd(lsa.tfidf(texts), full_matrices=False)
    emb = lsa.transform(texts)
    np.testing.assert_allclose(np.abs(emb), np.abs(u[:, :3] * s[:3]), atol=1e-10)
    assert np.all(lsa.transform(["zebra giraffe"]) == 0)
    big = np.abs(lsa.components_).argmax(axis=1)
    assert np.all(lsa.components_[np.arange(3), big] > 0)  # documented sign convention


def test_bad_input():
    for bad in [None, "not valid", float("nan"), [[1.0, 2.0], [3.0]]]:
        with pytest.raises(TypeError, match="texts"):
            TfidfSVD(n_components=1).fit(bad)
    with pytest.raises(ValueError, match="texts"):
        TfidfSVD().fit([])
    with pytest.raises(ValueError, match="token"):
        TfidfSVD(n_components=1).fit(["!!", "??"])
    with pytest.raises(ValueError, match="n_components"):
        TfidfSVD(n_components=5).fit(["a b", "c"])
    with pytest.raises(ValueError, match="not fitted"):
        TfidfSVD().transform(["a"])
