"""The built website, checked in a real browser with the network cut off."""

from __future__ import annotations

import html.parser
import pathlib
import sys
import urllib.error
import urllib.request
from urllib.parse import urldefrag, urljoin, urlparse

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from book_tools.extract import load  # noqa: E402

CHAPTERS, QUESTIONS = load()
EXISTING = [c for c in CHAPTERS if c.exists]
SITE = ROOT / "_build" / "html"

# Search term -> the chapters that should come first, best first: the first of them that
# exists must be the top hit (KV cache has its own question in chapter 8; until that
# chapter is written, chapter 7's KV-cache decoding analysis is the right answer).
SEARCHES = {
    "秩": ("matrix",),
    "最小二乘": ("matrix",),
    "奇异值": ("matrix",),
    "梯度": ("neural_nets",),
    "KV cache": ("llm_training", "llm_inference", "transformer"),
}


def html_pages() -> list[str]:
    if not SITE.is_dir():
        return ["index.html"]
    skip = ("_static", "_sources", "_images", "_downloads", "flashcards")
    return sorted(
        str(p.relative_to(SITE)) for p in SITE.rglob("*.html") if not p.relative_to(SITE).parts[0].startswith(skip)
    )


def _visible_prose_text(page) -> str:
    """Body text without code blocks (code legitimately contains `$` and backslashes)."""
    return page.evaluate(
        """() => {
            const clone = document.querySelector('main, article, body').cloneNode(true);
            clone.querySelectorAll('pre, code, script, style, mjx-container, .MathJax').forEach(e => e.remove());
            return clone.innerText;
        }"""
    )


def _wait_for_math(page) -> int:
    return page.evaluate(
        """async () => {
            if (!window.MathJax || !window.MathJax.startup) return -1;
            await window.MathJax.startup.promise;
            return document.querySelectorAll('mjx-container').length;
        }"""
    )


CHAPTER_PAGES = {f"{c.docname}.html": c for c in EXISTING}
PHONE = {"width": 390, "height": 844}

# How far the page scrolls sideways, and the outermost elements that stick out of the screen
# without a scrolling box of their own around them (for the failure message).
PHONE_OVERFLOW = """() => {
    const w = window.innerWidth, out = [];
    const scrolls = e => ['auto', 'scroll', 'hidden'].includes(getComputedStyle(e).overflowX);
    for (const e of document.querySelectorAll('body *')) {
        const r = e.getBoundingClientRect();
        if (r.width === 0 || r.right <= w + 1) continue;
        let p = e.parentElement, inside = false;
        while (p && p !== document.body) { if (scrolls(p)) { inside = true; break; } p = p.parentElement; }
        if (inside) continue;
        const parent = e.parentElement && e.parentElement.getBoundingClientRect();
        if (parent && parent.right > w + 1 && e.parentElement !== document.body) continue;
        out.push(`${e.tagName.toLowerCase()}.${[...e.classList].join('.')} (${Math.round(r.right)}px)`);
    }
    return {by: document.documentElement.scrollWidth - w, culprits: out.slice(0, 8)};
}"""


def test_home_page_redirects_to_intro(page, base_url):
    page.goto(base_url + "index.html")
    page.wait_for_url("**/intro.html", timeout=20_000)
    assert page.title().startswith("机器学习与大模型面试手册")


# index.html is only a meta-refresh redirect (tested above); every other page is loaded
# once, and chapter pages get their math and API-link checks in the same visit.
@pytest.mark.parametrize("path", [p for p in html_pages() if p != "index.html"])
def test_page_loads_offline_without_errors(page, base_url, path):
    response = page.goto(base_url + path, wait_until="load")
    assert response is not None and response.ok, f"{path}: HTTP {response and response.status}"
    chapter = CHAPTER_PAGES.get(path)
    if chapter is not None:
        n = _wait_for_math(page)
        assert n > 0, "MathJax did not typeset anything (is the local MathJax copy served?)"
        text = _visible_prose_text(page)
        for raw in ("$$", "\\frac", "\\begin{", "\\sum", "\\mathbf"):
            assert raw not in text, f"raw TeX {raw!r} visible on {path}"
        src = page.evaluate("() => [...document.scripts].map(s => s.src).filter(s => s.includes('mathjax'))")
        assert src and all(s.startswith(base_url) for s in src), f"MathJax not served locally: {src}"
        links = page.locator("p.api-links a[href*='appendix/api.html#interviewlib.']").count()
        assert links > 0, f"no answer on {path} links to the API reference"
        # wide tables scroll inside their box instead of clipping or squeezing into tall rows
        tables = page.evaluate(
            """() => [...document.querySelectorAll('article table')].map(t => {
                const box = t.parentElement;
                const rows = [...t.rows].map(r => r.getBoundingClientRect().height);
                return {overflowing: box.scrollWidth > box.clientWidth + 1,
                        scrolls: ['auto', 'scroll'].includes(getComputedStyle(box).overflowX),
                        tallest: Math.max(0, ...rows)};
            })"""
        )
        for i, t in enumerate(tables):
            assert t["scrolls"] or not t["overflowing"], f"{path}: table {i} overflows its column without scrolling"
            assert t["tallest"] < 300, f"{path}: table {i} has a {t['tallest']:.0f}px tall row (squeezed columns)"
    else:
        page.wait_for_timeout(200)
    assert not page.blocked, f"{path} requests external resources: {page.blocked[:5]}"
    assert not page.console_errors, f"{path} console errors: {page.console_errors[:5]}"
    broken = page.evaluate(
        "() => [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
    )
    assert not broken, f"{path}: images that did not load: {broken[:5]}"
    # the same page on a phone-wide screen: wide code, tables and formulas scroll inside their
    # own box; the page itself never scrolls sideways (test_phone.py covers touch use)
    page.set_viewport_size(PHONE)
    wide = page.evaluate(PHONE_OVERFLOW)
    assert wide["by"] <= 0, f"{path} scrolls sideways by {wide['by']}px at 390px: {wide['culprits']}"


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and a.get("href"):
            self.hrefs.append(a["href"])


def _parse(url: str) -> _Links:
    with urllib.request.urlopen(url, timeout=10) as r:  # only ever localhost
        p = _Links()
        if "html" in r.headers.get("Content-Type", ""):
            p.feed(r.read().decode("utf-8", "replace"))
        return p


def test_every_internal_link_resolves(base_url):
    """Crawl from the home page; every local link must load and every #fragment exist."""
    seen: dict[str, _Links] = {}
    # index.html is a redirect page (meta refresh) to intro.html, the real home page
    queue, broken = [base_url + "index.html", base_url + "intro.html"], []
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        try:
            seen[url] = _parse(url)
        except urllib.error.HTTPError as exc:
            broken.append(f"{url}: HTTP {exc.code}")
            seen[url] = _Links()
            continue
        if not url.endswith(".html"):
            continue
        for href in seen[url].hrefs:
            target = urljoin(url, href)
            if urlparse(target).hostname != "127.0.0.1":
                continue
            page_url, _ = urldefrag(target)
            if page_url not in seen:
                queue.append(page_url)
    for url, links in seen.items():
        for href in links.hrefs:
            target = urljoin(url, href)
            page_url, frag = urldefrag(target)
            if urlparse(target).hostname != "127.0.0.1" or not frag or not page_url.endswith(".html"):
                continue
            if page_url in seen and frag not in seen[page_url].ids:
                broken.append(f"{url} -> {href}: no element with id {frag!r}")
    assert len(seen) > 5, f"crawl found only {len(seen)} pages"
    assert not broken, "\n".join(broken[:20])


@pytest.mark.parametrize("term", list(SEARCHES))
def test_chinese_search_finds_the_right_chapter_first(page, base_url, term, screenshots):
    written = {c.slug for c in EXISTING}
    slug = next((s for s in SEARCHES[term] if s in written), None)
    if slug is None:
        pytest.skip(f"none of {SEARCHES[term]} is written yet")
    page.goto(f"{base_url}search.html?q={term}", wait_until="load")
    page.wait_for_selector("#search-results ul.search li a", timeout=20_000)
    first = page.eval_on_selector("#search-results ul.search li a", "a => a.getAttribute('href')")
    assert slug in first, f"search for {term!r}: first result is {first}"
    if term == "秩":
        page.screenshot(path=str(screenshots / "search.png"), full_page=False)


def test_cheatsheet_has_one_entry_per_answered_question(page, base_url):
    page.goto(f"{base_url}appendix/cheatsheet.html", wait_until="load")
    answered = [q for q in QUESTIONS if q.answered]
    assert page.locator(".cheatsheet-entry").count() == len(answered) > 0
    links = page.eval_on_selector_all(".cheatsheet-entry", "els => els.length")
    assert links == len(answered)


def test_question_index_lists_all_questions(page, base_url):
    page.goto(f"{base_url}appendix/questions.html", wait_until="load")
    rows = page.locator("table tbody tr").count()
    assert rows == len(QUESTIONS) == 98
    links = page.locator("table tbody tr a.reference.internal").count()
    assert links == sum(q.answered for q in QUESTIONS)


def test_flashcards_are_published(base_url):
    import csv
    import io

    with urllib.request.urlopen(base_url + "flashcards/handbook.csv", timeout=10) as r:
        rows = list(csv.DictReader(io.StringIO(r.read().decode("utf-8"))))
    assert [r["id"] for r in rows] == [q.id for q in QUESTIONS if q.answered]
    assert all(r["quick_answer"].strip() for r in rows)
    with urllib.request.urlopen(base_url + "flashcards/handbook.apkg", timeout=10) as r:
        assert r.read(2) == b"PK"  # an .apkg is a zip archive


def test_api_reference_links_back_to_questions(page, base_url):
    page.goto(f"{base_url}appendix/api.html", wait_until="load")
    back = page.eval_on_selector_all("a.reference.internal[href*='#q']", "els => els.length")
    assert back > 0, "no docstring links back to its question"


def test_screenshots(page, base_url, screenshots):
    page.goto(base_url + "intro.html", wait_until="load")
    page.screenshot(path=str(screenshots / "home.png"))
    if EXISTING:
        page.goto(f"{base_url}{EXISTING[0].docname}.html", wait_until="load")
        _wait_for_math(page)
        page.screenshot(path=str(screenshots / "chapter.png"))
    assert (screenshots / "home.png").stat().st_size > 10_000
