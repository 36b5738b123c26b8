"""BM25 vs rank_bm25.BM25Okapi (same corpora, same k1/b/epsilon), the idf floor by hand, the tokenizer, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rank_bm25
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewlib.agents import BM25, tokenize

RTOL = 1e-12  # same float64 formula; only the summation order over query terms differs
ATOL = 1e-12

WORDS = list("abcdefg")  # a tiny vocabulary: many terms occur in more than half the documents (negative idf)


@st.composite
def corpus_and_query(draw):
    docs = draw(st.lists(st.lists(st.sampled_from(WORDS), min_size=0, max_size=8), min_size=1, max_size=12))
    if not any(docs):
        docs[0] = ["a"]
    query = draw(st.lists(st.sampled_from(WORDS + ["zz"]), min_size=0, max_size=6))  # "zz" is never indexed
    return docs, query


@settings(max_examples=25, deadline=None)
@given(corpus_and_query(), st.floats(0.1, 3.0), st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_equals_rank_bm25(cq, k1, b, eps):
    docs, query = cq
    ours = BM25(k1=k1, b=b, epsilon=eps).fit(docs).score(query)
    ref = rank_bm25.BM25Okapi(docs, k1=k1, b=b, epsilon=eps).get_scores(query)
    # rank_bm25 gives an empty document 0/0 = nan when b == 1 (zero length normalisation); ours 0
    undefined = np.isnan(ref)
    assert all(len(docs[i]) == 0 for i in np.flatnonzero(undefined)) and b == 1.0 or not undefined.any()
    np.testing.assert_array_equal(ours[undefined], 0.0)
    np.testing.assert_allclose(ours[~undefined], ref[~undefined], rtol=RTOL, atol=ATOL)


def test_empty_document_scores_zero_with_full_length_normalisation():
    bm = BM25(b=1.0).fit([["a"], [], ["a", "b"]])
    scores = bm.score(["a", "b"])
    assert scores[1] == 0.0 and np.isfinite(scores).all() and scores[2] > 0


def test_idf_floor_by_hand():
    # N = 4; "x" in 3 docs: idf = ln(1.5) - ln(3.5) < 0 -> floored to eps * mean idf (mean before flooring)
    docs = [["x", "y"], ["x"], ["x", "z"], ["w"]]
    bm = BM25(epsilon=0.5).fit(docs)
    raw = {"x": math.log(1.5) - math.log(3.5), "y": math.log(3.5) - math.log(1.5)}
    raw["z"] = raw["w"] = raw["y"]
    mean = sum(raw.values()) / 4
    assert bm.average_idf_ == pytest.approx(mean)
    assert bm.idf_[bm.vocabulary_["x"]] == pytest.approx(0.5 * mean)
    assert bm.idf_[bm.vocabulary_["y"]] == pytest.approx(raw["y"])


def test_idf_zero_stays_zero_and_single_term_closed_form():
    docs = [["a", "b"], ["c", "d"]]  # each term in exactly 1 of 2 docs: idf = ln 1.5 - ln 1.5 = 0
    assert np.all(BM25().fit(docs).idf_ == 0)
    docs = [["a", "a", "b"], ["c"], ["d"], ["e"], ["f"]]
    k1, b = 1.2, 0.5
    idf = math.log(4.5) - math.log(1.5)
    norm = k1 * (1 - b + b * 3 / (7 / 5))
    expect = idf * 2 * (k1 + 1) / (2 + norm)
    assert BM25(k1=k1, b=b).fit(docs).score(["a"])[0] == pytest.approx(expect, rel=1e-14)


def test_repeated_and_unknown_query_tokens():
    docs = [["a", "b"], ["b", "c"], ["c", "d"], ["d", "e"], ["e", "f"]]
    bm = BM25().fit(docs)
    np.testing.assert_allclose(bm.score(["a", "a"]), 2 * bm.score(["a"]))
    assert np.all(bm.score(["unknown"]) == 0) and np.all(bm.score([]) == 0)


def test_top_k_order_and_ties():
    docs = [["a"], ["b"], ["a"], ["c"], ["d"]]
    bm = BM25().fit(docs)
    assert bm.top_k(["a"], 2).tolist() == [0, 2]  # tie: lower index first
    assert bm.top_k(["a"], 99).shape == (5,)


def test_all_documents_empty_scores_zero():
    bm = BM25().fit([[], []])
    assert bm.score(["a"]).tolist() == [0.0, 0.0]


def test_input_not_mutated():
    docs = [["a", "b"], ["b"]]
    BM25().fit(docs)
    assert docs == [["a", "b"], ["b"]]


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("Hello, World_2!", ["hello", "world", "2"]),
        ("ＡＢＣ１２３", ["abc123"]),  # NFKC: full-width to ASCII
        ("我爱北京", ["我", "爱", "北", "京"]),
        ("GPT-4o在线", ["gpt", "4o", "在", "线"]),
        ("カタカナ", ["カ", "タ", "カ", "ナ"]),
        ("Straße", ["strasse"]),  # casefold
        ("", []),
    ],
)
def test_tokenize(text, expect):
    assert tokenize(text) == expect


@pytest.mark.parametrize("bad", [None, "not valid", float("nan"), [[1.0, 2.0], [3.0]], ["ab", "cd"]])
def test_bad_corpus(bad):
    with pytest.raises((TypeError, ValueError), match="corpus"):
        BM25().fit(bad)


def test_bad_arguments():
    with pytest.raises(ValueError, match="corpus"):
        BM25().fit([])
    with pytest.raises(ValueError, match="k1"):
        BM25(k1=0).fit([["a"]])
    with pytest.raises(ValueError, match="b"):
        BM25(b=1.5).fit([["a"]])
    with pytest.raises(ValueError, match="not fitted"):
        BM25().score(["a"])
    bm = BM25().fit([["a"]])
    with pytest.raises(TypeError, match="query.*tokenize"):
        bm.score("a b")
    with pytest.raises(TypeError, match="query"):
        bm.score([1, 2])
    with pytest.raises(ValueError, match="k"):
        bm.top_k(["a"], 0)
    with pytest.raises(TypeError, match="text"):
        tokenize(None)
