"""The 模拟面试 page (appendix/mock.html) in a real browser, network blocked.

The schedule is checked two ways: end to end through the page (again comes back within the
session, good waits a day), and step by step against SM-2 as published (Wozniak 1990),
re-implemented here independently of book_tools/static/mock.js.
"""

from __future__ import annotations

import html.parser
import json
import math
import pathlib
import random
import re
import sys
import urllib.request
from urllib.parse import urldefrag, urljoin

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from book_tools.extract import load  # noqa: E402

CHAPTERS, QUESTIONS = load()
ANSWERED = [q for q in QUESTIONS if q.answered]
KEY = "interview-handbook:mock:v1"
DAY_MS = 24 * 3600 * 1000


def open_mock(page, base_url):
    page.goto(base_url + "appendix/mock.html", wait_until="load")
    page.wait_for_selector("#mock-draw")


def shown_id(page) -> str:
    return page.get_attribute(".mock-card-view", "data-card")


def answer_current(page, key: str) -> str:
    """Reveal the card on screen with Space and grade it with ``key`` (1-4); returns its id."""
    card = shown_id(page)
    page.keyboard.press(" ")
    page.wait_for_selector(".mock-grades:not([hidden])")
    page.keyboard.press(key)
    return card


def only_chapters(page, numbers):
    page.click(".mock-settings button:has-text('全不选')")
    for n in numbers:
        page.check(f"input[data-chapter='{n}']")


def stored(page) -> dict:
    return json.loads(page.evaluate(f"() => localStorage.getItem('{KEY}')") or "null")


def progress(page, chapter, col) -> int:
    return int(page.text_content(f"table.mock-progress tr[data-chapter='{chapter}'] td[data-col='{col}']"))


def test_every_answered_question_is_a_card(page, base_url):
    open_mock(page, base_url)
    data = json.loads(page.text_content("#mock-data"))
    assert [c["id"] for c in data["cards"]] == [q.id for q in ANSWERED] and len(ANSWERED) == 98
    cards = page.evaluate(
        """() => [...document.querySelectorAll('template.mock-card')].map(t => ({
            id: t.id.replace('mock-card-', ''),
            quick: t.content.querySelectorAll('.mock-quick').length,
            followups: t.content.querySelectorAll('.mock-followup').length,
            link: (t.content.querySelector('a.reference.internal') || {}).getAttribute?.call(
                t.content.querySelector('a.reference.internal'), 'href'),
            text: t.content.textContent,
        }))"""
    )
    by_id = {c["id"]: c for c in cards}
    assert list(by_id) == [q.id for q in ANSWERED]
    for q in ANSWERED:
        c = by_id[q.id]
        assert c["quick"] == 1, q.id
        assert c["followups"] == len(q.followups) > 0, q.id
        assert c["link"] == f"../{q.chapter.docname}.html#{q.id}", (q.id, c["link"])
        first_words = re.split(r"[$`*\s]", q.quick)[0][:8]  # plain text before any markup
        assert first_words in c["text"], f"{q.id}: quick answer text missing from its card"
        meta = next(x for x in data["cards"] if x["id"] == q.id)
        assert (meta["zh"], meta["en"], meta["difficulty"]) == (q.zh, q.en, q.difficulty)
    assert not page.console_errors, page.console_errors[:5]


class _Ids(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])


def test_every_card_link_lands_on_an_existing_anchor(page, base_url):
    open_mock(page, base_url)
    hrefs = page.evaluate(
        """() => [...document.querySelectorAll('template.mock-card')].flatMap(t =>
            [...t.content.querySelectorAll('a[href]')].map(a => a.getAttribute('href')))"""
    )
    mock_url = base_url + "appendix/mock.html"
    internal = sorted({urljoin(mock_url, h) for h in hrefs if not h.startswith(("http:", "https:", "mailto:"))})
    assert len(internal) >= len(ANSWERED)
    ids: dict[str, set[str]] = {}
    missing = []
    for url in internal:
        target, frag = urldefrag(url)
        if target not in ids:
            parser = _Ids()
            with urllib.request.urlopen(target, timeout=10) as r:  # only ever localhost
                parser.feed(r.read().decode("utf-8"))
            ids[target] = parser.ids
        if frag and frag not in ids[target]:
            missing.append(url)
    assert not missing, missing[:10]


def test_draw_reveal_grade_and_reload_keeps_the_state(page, base_url):
    open_mock(page, base_url)
    only_chapters(page, [1])
    page.click("#mock-draw")
    card = shown_id(page)
    assert card.startswith("q01-")
    assert page.text_content(".mock-timer").strip() == "剩余 60 秒"
    assert page.is_hidden(".mock-answer")
    page.keyboard.press(" ")  # reveal
    page.wait_for_selector(".mock-answer .mock-quick")
    assert page.text_content(".mock-timer").startswith("用时 ")  # the clock stops at the reveal
    # every formula of the card (quick answer and follow-ups) is typeset by the site's MathJax
    page.wait_for_function(
        "() => document.querySelectorAll('.mock-answer .math').length > 0 && "
        "[...document.querySelectorAll('.mock-answer .math')].every(m => m.querySelector('mjx-container'))",
        timeout=20_000,
    )
    n = len(next(q for q in ANSWERED if q.id == card).followups)
    for i in range(n):
        assert page.locator(".mock-answer .mock-followup:visible").count() == i
        page.keyboard.press("f")
    assert page.locator(".mock-answer .mock-followup:visible").count() == n
    assert page.is_hidden("#mock-next-followup")
    link = page.get_attribute(".mock-answer a.reference.internal", "href")
    assert link.endswith(f"#{card}")
    page.keyboard.press("3")  # good
    state = stored(page)
    assert state["cards"][card]["n"] == 1 and state["cards"][card]["interval"] == 1
    assert progress(page, 1, "seen") == 1 and progress(page, 1, "due") == 0
    page.reload(wait_until="load")
    page.wait_for_selector("#mock-draw")
    assert progress(page, 1, "seen") == 1
    assert stored(page)["cards"][card] == state["cards"][card]
    assert page.is_checked("input[data-chapter='1']") and not page.is_checked("input[data-chapter='2']")
    assert not page.console_errors, page.console_errors[:5]


def test_again_comes_back_before_good(page, base_url):
    page.clock.install()
    open_mock(page, base_url)
    only_chapters(page, [1])
    page.click("#mock-draw")
    forgot = answer_current(page, "1")  # again
    knew = answer_current(page, "3")  # good
    assert forgot != knew
    page.clock.fast_forward(61_000)
    page.click("#mock-draw")
    assert shown_id(page) == forgot, "the card graded 'again' should be asked again after a minute"
    answer_current(page, "3")  # the drill is passed
    # the remaining new cards of the chapter, then nothing is due until tomorrow
    seen = {forgot, knew}
    while page.is_visible(".mock-card-view"):
        assert shown_id(page) not in seen, "a card came back before it was due"
        seen.add(answer_current(page, "4"))
    assert len(seen) == sum(q.chapter.number == 1 for q in ANSWERED)
    assert "都做过了" in page.text_content(".mock-message")
    page.clock.fast_forward(DAY_MS)
    page.click("#mock-draw")
    assert shown_id(page) in {forgot, knew}, "both cards were due one day later"
    assert not page.console_errors, page.console_errors[:5]


def test_countdown_runs_out(page, base_url):
    page.clock.install()
    open_mock(page, base_url)
    page.fill("#mock-seconds", "30")
    page.dispatch_event("#mock-seconds", "change")
    page.click("#mock-draw")
    assert page.text_content(".mock-timer").strip() == "剩余 30 秒"
    page.clock.run_for(20_500)
    assert page.text_content(".mock-timer").strip() == "剩余 10 秒"
    page.clock.run_for(10_500)
    assert "时间到" in page.text_content(".mock-timer")


def test_filters_restrict_the_draw(page, base_url):
    open_mock(page, base_url)
    only_chapters(page, [3, 9])
    page.uncheck("input[data-difficulty='1']")
    allowed = {q.id for q in ANSWERED if q.chapter.number in (3, 9) and q.difficulty != 1}
    assert allowed, "the filter test needs at least one card"
    page.click("#mock-draw")
    drawn = set()
    while page.is_visible(".mock-card-view"):
        drawn.add(answer_current(page, "4"))
    assert drawn == allowed
    page.click(".mock-settings button:has-text('全不选')")
    page.click("#mock-draw")
    assert "没有题目" in page.text_content(".mock-message")
    assert page.is_hidden(".mock-card-view")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("{not json", "JSON"),
        (json.dumps({"version": 0, "cards": {}}), "版本"),
        (json.dumps({"version": 1, "cards": {"q01-01": {"n": -1, "ef": "x"}}}), "损坏"),
    ],
)
def test_corrupted_storage_is_recovered(page, base_url, raw, reason):
    open_mock(page, base_url)
    page.evaluate("([k, v]) => localStorage.setItem(k, v)", [KEY, raw])
    page.reload(wait_until="load")
    page.wait_for_selector(".mock-message:not([hidden])")
    text = page.text_content(".mock-message")
    assert reason in text and "已重置" in text
    assert page.evaluate("() => localStorage.getItem('interview-handbook:mock:unreadable')") == raw
    assert stored(page)["cards"] == {}
    page.click("#mock-draw")  # the page still works
    assert page.is_visible(".mock-card-view")
    assert not page.console_errors, page.console_errors[:5]


def test_export_then_import_restores_progress(page, base_url, tmp_path):
    open_mock(page, base_url)
    page.click("#mock-draw")
    card = answer_current(page, "2")
    before = stored(page)["cards"]
    with page.expect_download() as dl:
        page.click("#mock-export")
    path = tmp_path / "progress.json"
    dl.value.save_as(path)
    exported = json.loads(path.read_text(encoding="utf-8"))
    assert exported["format"] == "interview-handbook-mock" and exported["cards"] == before
    page.click("#mock-reset")
    page.click("#mock-reset-confirm")
    assert stored(page)["cards"] == {} and progress(page, "all", "seen") == 0
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2, 3]", encoding="utf-8")
    page.set_input_files("#mock-import", str(bad))
    page.wait_for_function("() => document.querySelector('.mock-message').textContent.includes('导入失败')")
    assert stored(page)["cards"] == {}
    page.set_input_files("#mock-import", str(path))
    page.wait_for_function("() => document.querySelector('.mock-message').textContent.includes('已导入')")
    assert stored(page)["cards"] == before and card in before
    assert progress(page, "all", "seen") == 1
    assert not page.console_errors, page.console_errors[:5]


# ---- SM-2 as published, for the step-by-step comparison ------------------------------------


def sm2_reference(grades):
    """(n, EF, interval) after each review, following Wozniak's description of SM-2.

    I(1) = 1, I(2) = 6, I(n) = I(n-1) * EF (rounded up to whole days); EF' = EF + 0.1 -
    (5-q)(0.08 + (5-q) 0.02), never below 1.3; q < 3 restarts the repetitions and keeps EF.
    Same-day repeats of items below 4 do not change the schedule, so this sequence is the
    first review of each day.
    """
    n, ef, interval, out = 0, 2.5, 0, []
    for q in grades:
        if q < 3:
            n, interval = 0, 1
        else:
            n += 1
            interval = 1 if n == 1 else 6 if n == 2 else math.ceil(interval * ef)
            ef = max(1.3, ef + 0.1 - (5 - q) * (0.08 + (5 - q) * 0.02))
        out.append((n, ef, interval))
    return out


def test_schedule_matches_published_sm2(page, base_url):
    open_mock(page, base_url)
    rng = random.Random(0)
    sequences = [[rng.choice([1, 3, 4, 5]) for _ in range(rng.randint(1, 12))] for _ in range(200)]
    sequences += [[4] * 10, [5] * 10, [3] * 10, [1, 4, 4, 4], [4, 4, 1, 4, 4]]
    got = page.evaluate(
        """(seqs) => seqs.map(seq => {
            const M = window.HandbookMock;
            let c = M.newCard(), t = 0, out = [];
            for (const q of seq) {
                c = M.review(c, q, t);
                out.push([c.n, c.ef, c.interval, c.drill !== null]);
                // a card that scored below 4 is drilled in the same session until it scores 4
                while (c.drill !== null) { t = c.drill; c = M.review(c, 4, t); }
                t = c.due;  // then comes back on its due day
            }
            return out;
        })""",
        sequences,
    )
    for seq, ours in zip(sequences, got):
        ref = sm2_reference(seq)
        assert [(n, i) for n, _, i, _ in ours] == [(n, i) for n, _, i in ref], seq
        assert all(abs(a[1] - b[1]) < 1e-12 for a, b in zip(ours, ref)), seq
        assert [d for *_, d in ours] == [q < 4 for q in seq], seq
    with pytest.raises(Exception, match="q must be an integer"):
        page.evaluate("() => window.HandbookMock.review(window.HandbookMock.newCard(), 7, 0)")
