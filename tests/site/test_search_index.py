"""The built search index knows the book's Chinese words (no browser needed)."""

from __future__ import annotations

import json
import pathlib

import pytest

SITE = pathlib.Path(__file__).resolve().parents[2] / "_build" / "html"


@pytest.fixture(scope="module")
def index(site) -> dict:
    text = (site / "searchindex.js").read_text(encoding="utf-8")
    return json.loads(text[text.index("(") + 1 : text.rindex(")")])


def _docs(index: dict, term: str) -> set[str]:
    hits = set()
    for table in ("terms", "titleterms"):
        found = index[table].get(term)
        if found is None:
            continue
        hits |= {index["docnames"][i] for i in ([found] if isinstance(found, int) else found)}
    return hits


@pytest.mark.parametrize(
    ("term", "doc"),
    [
        ("秩", "chapters/ch01_matrix"),  # one character: Sphinx's zh indexer drops these unless told not to
        ("奇异值", "chapters/ch01_matrix"),  # from the book's jieba dictionary
        ("最小二乘", "chapters/ch01_matrix"),
        ("特征值", "chapters/ch01_matrix"),
    ],
)
def test_chinese_terms_are_indexed(index, term, doc):
    assert doc in _docs(index, term), f"{term!r} does not lead to {doc}"


def test_stopwords_are_not_indexed(index):
    assert "的" not in index["terms"]


def test_generated_pages_stay_out_of_search(index):
    # the cheat sheet and the question index repeat every heading; they must not outrank
    # the chapters in search results
    for term in ("秩", "奇异值"):
        assert not any(d.startswith("appendix/") for d in _docs(index, term))
