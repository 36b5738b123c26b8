"""The mock-interview page generator and the PDF tooling, without a browser.

The browser halves are tests/site/test_mock.py, test_phone.py and test_pdf.py.
"""

from __future__ import annotations

import json
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from book_tools import extract, links, pages, pdf  # noqa: E402

CHAPTERS, QUESTIONS = extract.load()
ANSWERED = [q for q in QUESTIONS if q.answered]


def _dropdowns(md: str) -> int:
    return len(re.findall(r"^:{3,}\{dropdown\} 追问", md, re.M))


def test_every_followup_dropdown_is_extracted():
    for ch in CHAPTERS:
        if not ch.exists:
            continue
        for qid, md in extract._sections(ch.path).items():
            q = next(x for x in QUESTIONS if x.id == qid)
            assert len(q.followups) == _dropdowns(md) > 0, qid
            assert all(title.strip() for title, _ in q.followups), qid
            assert all(body and not body.startswith(":::") for _, body in q.followups), qid


def test_followup_extraction_handles_nested_fences():
    md = "(q01-01)=\n## 1.1 x\n\n::::{dropdown} 追问：外层？\n正文\n:::{note}\n内层\n:::\n::::\n\n:::{dropdown} 追问：第二个？\n二\n:::\n"
    found = [(t, b) for _, t, b in extract._FOLLOWUP.findall(md)]
    assert found == [("外层？", "正文\n:::{note}\n内层\n:::\n"), ("第二个？", "二\n")]
    assert pages._fence(found[0][1]) == "::::"
    assert pages._fence("plain") == ":::"


def test_from_appendix_repoints_chapter_anchors():
    html = '<a href="#q01-02">1.2</a> and <a href="ch08_llm_training.ipynb#q08-01">8.1</a> and <a href="https://x.org/#y">x</a>'
    out = links.from_appendix(html, "ch01_matrix")
    assert '<a href="../chapters/ch01_matrix.html#q01-02">' in out
    assert '<a href="../chapters/ch08_llm_training.html#q08-01">' in out
    assert '<a href="https://x.org/#y">' in out


@pytest.fixture(scope="module")
def mock_md() -> str:
    return pages.mock_interview(CHAPTERS, QUESTIONS)


def test_mock_page_has_one_template_per_answered_question(mock_md):
    ids = re.findall(r'<template id="mock-card-(q\d\d-\d\d)" class="mock-card">', mock_md)
    assert ids == [q.id for q in ANSWERED]
    assert mock_md.count("</template>") == len(ANSWERED)
    assert mock_md.count("{dropdown} 追问：") == sum(len(q.followups) for q in ANSWERED)
    for q in ANSWERED:
        assert f"<{q.id}>`" in mock_md, f"{q.id}: no link to the full answer"


def test_mock_page_card_index_is_valid_json(mock_md):
    raw = re.search(r'<script type="application/json" id="mock-data">\n(.*?)\n</script>', mock_md, re.S).group(1)
    assert "<" not in raw, "a '<' inside the JSON could end the script element"
    data = json.loads(raw)
    assert [c["id"] for c in data["cards"]] == [q.id for q in ANSWERED]
    assert {c["chapter"] for c in data["cards"]} == {c["number"] for c in data["chapters"]}
    for c, q in zip(data["cards"], ANSWERED):
        assert (c["zh"], c["en"], c["difficulty"], c["followups"]) == (q.zh, q.en, q.difficulty, len(q.followups))


def test_mock_page_links_no_chapter_anchor_relative_to_itself(mock_md):
    body = mock_md.split('id="mock-data"', 1)[1]
    assert not re.search(r'<a\s+href="#', body), "a same-page anchor of a chapter would point into the mock page"
    assert ".ipynb#" not in body


def test_pdf_documents_follow_the_toc_without_web_only_pages():
    docs = pdf.book_docs()
    assert docs[0] == "intro" and "appendix/bibliography" == docs[-1]
    assert [d for d in docs if d.startswith("chapters/")] == [c.docname for c in CHAPTERS if c.exists]
    assert not set(pdf.SKIPPED_DOCS) & set(docs)


def test_publish_links_the_pdf_only_when_it_exists(tmp_path):
    site = tmp_path / "html"
    missing = tmp_path / "none.pdf"
    assert pdf.publish(site, missing) is False
    script = (site / "_static" / pdf.LINK_SCRIPT).read_text(encoding="utf-8")
    assert "createElement" not in script and not (site / pdf.PDF_NAME).exists()
    built = tmp_path / "book.pdf"
    built.write_bytes(b"%PDF-1.7\n" + b"0" * 3 * 2**20)
    assert pdf.publish(site, built) is True
    script = (site / "_static" / pdf.LINK_SCRIPT).read_text(encoding="utf-8")
    assert "handbook-pdf" in script and "（3 MB）" in script
    assert (site / pdf.PDF_NAME).read_bytes() == built.read_bytes()
    built.unlink()
    pdf.publish(site, built)  # a later build without the PDF removes the stale copy and link
    assert not (site / pdf.PDF_NAME).exists()


def test_cjk_font_error_says_what_to_install(monkeypatch):
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0, stdout="", stderr=""))
    with pytest.raises(RuntimeError, match="fonts-wqy-microhei"):
        pdf.cjk_font()
    listed = "DejaVu Sans\nWenQuanYi Micro Hei,文泉驿微米黑\n"
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0, stdout=listed, stderr=""))
    assert pdf.cjk_font() == "WenQuanYi Micro Hei"


def test_pdf_refuses_to_print_a_site_that_is_not_built(tmp_path):
    with pytest.raises(FileNotFoundError, match="make book"):
        pdf.print_parts(["intro"], html=tmp_path)


def test_heading_places_match_garbled_bookmarks_in_order():
    class Item(dict):
        def __init__(self, title, page, top):
            super().__init__({"/Top": top})
            self.title, self.page = title, page

    class Reader:
        outline = [Item("第1章 矩阵论", 0, 700.0), [Item("1.1 怎么理解矩阵的秩？理解矩阵的秩？", 1, 500.0), Item("推导", 1, 300.0)],
                   Item("1.2 第二题", 3, 650.0)]

        def get_destination_page_number(self, item):
            return item.page

    headings = [{"id": None, "level": 1, "text": "第1章 矩阵论"}, {"id": "q01-01", "level": 2, "text": "1.1 怎么理解矩阵的秩？"},
                {"id": "q01-02", "level": 2, "text": "1.2 第二题"}]
    placed = pdf._heading_places(Reader(), headings)
    assert [(h["id"], p, t) for h, p, t in placed] == [(None, 0, 700.0), ("q01-01", 1, 500.0), ("q01-02", 3, 650.0)]
    with pytest.raises(RuntimeError, match="no bookmark"):
        pdf._heading_places(Reader(), [*headings, {"id": "x", "level": 2, "text": "1.3 不存在"}])


def test_chinese_search_indexes_like_sphinx_in_linear_time():
    from sphinx.search.zh import SearchChinese

    sys.path.insert(0, str(ROOT / "book_tools"))
    from handbook_ext import HandbookChinese

    text = "奇异值分解 SVD 把矩阵 A 写成 U Sigma V，ies 与 Adam、LoRA 和 KV cache；秩 rank 与 data"
    ours, theirs = HandbookChinese({}), SearchChinese({})
    theirs.latin_terms = []  # Sphinx keeps this list on the class; start it empty like ours
    words_ours, words_theirs = ours.split(text), theirs.split(text)
    assert words_ours == words_theirs
    assert [ours.stem(w) for w in words_ours] == [theirs.stem(w) for w in words_theirs]
    assert ours.stem("ies") == "ies"  # a seen Latin word that stemming would cut below three letters
    assert ours.word_filter("秩") and not ours.word_filter("的") and not theirs.word_filter("秩")
