"""The printed book, _build/pdf/handbook.pdf (make pdf), read back with pypdf.

`make test` prints it before the site tests run; on its own this file needs `make pdf` first.
"""

from __future__ import annotations

import pathlib
import re
import sys
import unicodedata

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from book_tools.extract import load  # noqa: E402

PDF = ROOT / "_build" / "pdf" / "handbook.pdf"
SITE = ROOT / "_build" / "html"
CHAPTERS, QUESTIONS = load()
ANSWERED = [q for q in QUESTIONS if q.answered]
# Sphinx writes math as \( \) and \[ \] for MathJax; these delimiters left in the text mean a
# formula was printed untypeset (TeX commands alone could be code listings, which show TeX).
RAW_TEX = ("\\(", "\\)", "\\[", "\\]", "$$")


def _squash(text: str) -> str:
    """Without whitespace, and with the ligatures Chromium's fonts print (ﬀ, ﬁ) spelled out."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


@pytest.fixture(scope="module")
def reader():
    if not PDF.is_file():
        pytest.fail(f"{PDF.relative_to(ROOT)} is missing: run `make pdf` (make test does it before these tests)")
    from pypdf import PdfReader

    return PdfReader(PDF)


@pytest.fixture(scope="module")
def outline(reader):
    """[(chapter title, page, [(question title, page), ...]), ...] from the PDF's bookmarks."""
    out = []
    for item in reader.outline:
        if isinstance(item, list):
            out[-1][2].extend((str(q.title), reader.get_destination_page_number(q)) for q in item)
        else:
            out.append((str(item.title), reader.get_destination_page_number(item), []))
    return out


def test_bookmarks_are_chapters_with_their_questions(outline):
    chapters = [c for c in CHAPTERS if c.exists]
    titled = [_squash(t) for t, _, _ in outline if t.startswith("第")]
    assert titled == [_squash(f"第{c.number}章 {c.title}") for c in chapters]
    questions = [q for _, _, qs in outline for q, _ in qs]
    assert [_squash(q) for q in questions] == [_squash(q.heading) for q in ANSWERED]
    pages = [p for _, p, qs in outline for _, p in qs]
    assert pages == sorted(pages), "question bookmarks out of order"


def test_every_answered_heading_is_on_its_bookmarked_page(reader, outline):
    for _, _, qs in outline:
        for title, page in qs:
            text = _squash(reader.pages[page].extract_text())
            assert _squash(title) in text, f"{title!r} not found on page {page + 1}"


def test_math_is_typeset_and_pages_are_numbered(reader):
    total = len(reader.pages)
    assert total > 200, f"only {total} pages: chapters are missing"
    step = max(1, total // 80)  # about 80 pages spread over the whole book (pypdf reads ~15 pages/s)
    for i in range(0, total, step):
        text = reader.pages[i].extract_text()
        for raw in RAW_TEX:
            assert raw not in text, f"raw TeX {raw!r} on page {i + 1}"
        assert re.search(rf"(?m)^\s*{i + 1}\s*/\s*{total}\s*$", text), f"page {i + 1} has no page number footer"


def _embedded_fonts(reader) -> set[str]:
    names = set()
    for page in reader.pages[:40]:
        fonts = page.get("/Resources", {}).get("/Font", {})
        for ref in fonts.values():
            font = ref.get_object()
            for desc in [font] + [d.get_object() for d in font.get("/DescendantFonts", [])]:
                fd = desc.get("/FontDescriptor")
                if fd is not None:
                    fd = fd.get_object()
                    if any(k in fd for k in ("/FontFile", "/FontFile2", "/FontFile3")):
                        names.add(str(desc.get("/BaseFont", "")))
    return names


def test_chinese_text_uses_an_embedded_cjk_font(reader):
    from book_tools.pdf import cjk_font

    embedded = _embedded_fonts(reader)
    family = _squash(cjk_font())
    assert any(family.lower() in _squash(n).lower() for n in embedded), (family, sorted(embedded)[:10])
    assert "矩阵" in reader.pages[1].extract_text() + reader.pages[2].extract_text() + reader.pages[3].extract_text()


def _site_figures() -> int:
    """Images on the website's chapter pages (the executed notebooks' figures)."""
    pages = [SITE / f"{c.docname}.html" for c in CHAPTERS]
    return sum(p.read_text(encoding="utf-8").count("<img ") for p in pages if p.is_file())


def _image_objects(reader) -> int:
    """Distinct image XObjects drawn on the pages (read from the resources, not decoded)."""
    seen: set[int] = set()

    def scan(resources, depth=0):
        xobjects = resources.get("/XObject") if resources is not None else None
        if xobjects is None or depth > 4:
            return
        for ref in xobjects.get_object().values():
            obj = ref.get_object()
            if obj.get("/Subtype") == "/Image":
                seen.add(ref.idnum if hasattr(ref, "idnum") else id(obj))
            elif obj.get("/Subtype") == "/Form":
                scan(obj.get("/Resources"), depth + 1)

    for page in reader.pages:
        res = page.get("/Resources")
        scan(res.get_object() if res is not None else None)
    return len(seen)


def test_figures_are_embedded(reader):
    figures = _site_figures()
    assert figures >= 20, f"the website's chapters show only {figures} figures"
    images = _image_objects(reader)
    assert images >= figures, f"{images} images in the PDF, {figures} figures on the website"


def test_site_links_the_pdf(page, base_url):
    assert (SITE / "handbook.pdf").read_bytes() == PDF.read_bytes()
    page.goto(base_url + "intro.html", wait_until="load")
    link = page.locator("#handbook-pdf a")
    link.wait_for()
    assert link.get_attribute("href") == "handbook.pdf"
    response = page.request.get(base_url + "handbook.pdf")
    assert response.ok and response.body()[:5] == b"%PDF-"
    assert not page.console_errors, page.console_errors[:5]


def test_citations_land_on_their_bibliography_entries(reader, outline):
    """Citation links go to their entry's page and height, not just the bibliography's first page."""
    from pypdf.generic import NullObject

    start = next(p for t, p, _ in outline if t == "参考文献")
    pages = {p.indirect_reference.idnum: i for i, p in enumerate(reader.pages)}
    targets = set()
    for page in reader.pages[:start]:
        for ref in page.get("/Annots", []):
            dest = ref.get_object().get("/Dest")
            if isinstance(dest, list) and pages.get(dest[0].idnum, -1) >= start:
                assert not isinstance(dest[3], NullObject), f"a citation without a height: {dest}"
                targets.add((pages[dest[0].idnum], round(float(dest[3]))))
    assert len({p for p, _ in targets}) > 5, f"citations land on only {sorted(targets)[:5]}"
    assert len(targets) > 100
