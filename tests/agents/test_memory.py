"""Memory store (write/read/forget/evict) vs rank_bm25 and the fusion it claims, Generative Agents scoring by hand."""

from __future__ import annotations

import numpy as np
import pytest
import rank_bm25

from interviewlib.agents import (
    MemoryStore,
    generative_agents_score,
    minmax_scale,
    reciprocal_rank_fusion,
    tokenize,
)

TEXTS = [
    "My sister is called Alice.",
    "The weather is sunny today.",
    "I am allergic to peanuts.",
    "We had pasta for lunch.",
    "我的车停在地下二层。",
    "The wifi password is orca7.",
]


def _store():
    mem = MemoryStore(n_components=4)
    for t, text in enumerate(TEXTS):
        mem.write(text, time=float(t), importance=float(t % 3 + 1))
    return mem


def test_minmax_and_generative_score_by_hand():
    assert minmax_scale([1.0, 3.0]).tolist() == [0.0, 1.0]
    assert minmax_scale([]).shape == (0,)
    h, imp, rel = [0.0, 5.0, 50.0, 500.0], [1.0, 10.0, 4.0, 7.0], [0.9, -0.2, 0.4, 0.1]
    rec = 0.995 ** np.array(h)
    norm = lambda x: (np.asarray(x) - np.min(x)) / (np.max(x) - np.min(x))  # noqa: E731
    expect = 2 * norm(rec) + 0.5 * norm(imp) + 3 * norm(rel)
    got = generative_agents_score(h, imp, rel, weights=(2.0, 0.5, 3.0))
    np.testing.assert_allclose(got, expect, rtol=1e-13)
    same = generative_agents_score([1.0, 1.0], [3.0, 3.0], [0.2, 0.2])
    assert same.tolist() == [1.5, 1.5]  # constant components contribute 0.5 each


def test_bm25_ranking_matches_rank_bm25():
    mem = _store()
    q = "what is the wifi password"
    ref = rank_bm25.BM25Okapi([tokenize(t) for t in TEXTS]).get_scores(tokenize(q))
    order = mem.ranking(q, method="bm25")
    assert order[0] == int(np.argmax(ref))
    assert np.all(np.diff(ref[order]) <= 1e-12)


def test_hybrid_is_rrf_of_bm25_and_dense():
    mem = _store()
    q = "peanuts allergy"
    lex, sem = mem.ranking(q, method="bm25"), mem.ranking(q, method="dense")
    fused, _ = reciprocal_rank_fusion([lex.tolist(), sem.tolist()], k=mem.rrf_k)
    assert mem.ranking(q, method="hybrid").tolist() == fused.tolist()


def test_recency_and_read_budget():
    mem = _store()
    assert mem.ranking("anything", method="recency").tolist() == [5, 4, 3, 2, 1, 0]
    n_tok = [len(tokenize(t)) for t in TEXTS]
    got = mem.read("anything", k=6, method="recency", budget=n_tok[5] + n_tok[3])
    # turn 4 is skipped (it does not fit after turn 5), turn 3 still fits
    assert [m.id for m in got] == [5, 3]
    assert sum(m.n_tokens for m in got) <= n_tok[5] + n_tok[3]
    assert [m.text for m in mem.read("车停在哪", k=1, method="bm25")] == [TEXTS[4]]


def test_read_with_now_marks_access_and_generative_uses_it():
    mem = _store()
    first = mem.read("sister", k=1, method="bm25", now=100.0)[0]
    assert first.id == 0
    assert mem.memories[0].last_access == 100.0 and mem.memories[1].last_access == 1.0
    hours = np.array([100.0 - m.last_access for m in mem.memories])
    imp = [m.importance for m in mem.memories]
    order = mem.ranking("sister", method="generative", now=100.0)
    q = mem._index[2].transform(["sister"])[0]  # the store's own LSA, as the relevance term
    emb = mem._index[3]
    score = generative_agents_score(hours, imp, emb @ (q / np.linalg.norm(q)))
    assert order.tolist() == np.argsort(-score, kind="stable").tolist()


def test_forget_and_evict():
    mem = _store()
    assert mem.forget([1, 99]) == 1 and len(mem) == 5
    assert 1 not in mem.ranking("weather", method="bm25").tolist()
    dropped = mem.evict(2, now=10.0)  # keep the 2 with largest importance * 0.995^(10 - t)
    keep = {m.id for m in mem.memories}
    scores = {i: (i % 3 + 1) * 0.995 ** (10 - i) for i in [0, 2, 3, 4, 5]}
    assert keep == set(sorted(scores, key=scores.get)[-2:]) and len(dropped) == 3
    assert mem.evict(5, now=10.0) == []
    empty = MemoryStore()
    assert empty.ranking("x").shape == (0,) and empty.read("x") == []


@pytest.mark.parametrize("bad", [None, float("nan"), [[1.0, 2.0], [3.0]]])
def test_bad_input(bad):
    mem = _store()
    with pytest.raises(TypeError, match="text"):
        mem.write(bad, time=0.0)
    with pytest.raises(TypeError, match="query"):
        mem.ranking(bad)
    with pytest.raises((TypeError, ValueError), match="x"):
        minmax_scale(bad if bad is not None else "not valid")


def test_bad_arguments():
    mem = _store()
    with pytest.raises(ValueError, match="method"):
        mem.read("x", method="magic")
    with pytest.raises(ValueError, match="importance"):
        mem.write("x", time=0.0, importance=-1.0)
    with pytest.raises(ValueError, match="time"):
        mem.write("x", time=float("nan"))
    with pytest.raises(ValueError, match="budget"):
        mem.read("x", budget=-1)
    with pytest.raises(TypeError, match="ids"):
        mem.forget("0")
    with pytest.raises(ValueError, match="shape"):
        generative_agents_score([1.0], [1.0, 2.0], [0.0])
    with pytest.raises(ValueError, match="hours_since_access"):
        generative_agents_score([-1.0], [1.0], [0.0])
    with pytest.raises(ValueError, match="decay"):
        generative_agents_score([1.0], [1.0], [0.0], decay=1.5)
