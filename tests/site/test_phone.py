"""Reading on a phone: a 390x844 touch screen (an iPhone 12-15 sized viewport), network blocked.

Every page is also re-measured at this width in test_site.py (no horizontal page scroll);
this file checks what a phone reader does: open the navigation, read a quick answer, and
run a mock-interview card with taps.
"""

from __future__ import annotations

import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from book_tools.extract import load  # noqa: E402

PHONE = {"width": 390, "height": 844}  # the phone fixture's screen (conftest.py)
CHAPTERS, _ = load()
FIRST = next(c for c in CHAPTERS if c.exists)


def overflow(pg) -> int:
    """How far the page body scrolls sideways (0 when it fits the screen)."""
    return pg.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


def test_navigation_is_reachable(phone, base_url, screenshots):
    phone.goto(f"{base_url}{FIRST.docname}.html", wait_until="load")
    links = phone.locator(".bd-sidebar-primary nav a.reference")
    assert not links.first.is_visible(), "the chapter list should fold away on a phone"
    toggle = phone.locator(".primary-toggle:visible").first
    assert toggle.is_visible()
    toggle.tap()
    phone.wait_for_timeout(400)  # the drawer slides in
    visible = [a for a in links.all() if a.is_visible()]
    assert len(visible) >= sum(c.exists for c in CHAPTERS), "the drawer does not list every chapter"
    box = visible[0].bounding_box()
    assert box and 0 <= box["x"] and box["x"] + box["width"] <= PHONE["width"]
    phone.screenshot(path=str(screenshots / "phone-nav.png"))
    with phone.expect_navigation(wait_until="load"):
        visible[-1].tap()
    assert overflow(phone) <= 0
    assert not phone.console_errors, phone.console_errors[:5]


def test_quick_answer_box_fits_the_screen(phone, base_url, screenshots):
    phone.goto(f"{base_url}{FIRST.docname}.html#q{FIRST.number:02d}-01", wait_until="load")
    box = phone.locator("div.admonition.tip").first
    box.scroll_into_view_if_needed()
    rect = box.bounding_box()
    assert rect and rect["x"] >= 0 and rect["x"] + rect["width"] <= PHONE["width"]
    assert rect["width"] >= 0.8 * PHONE["width"], f"quick-answer box squeezed to {rect['width']:.0f}px"
    size = phone.evaluate(
        "() => parseFloat(getComputedStyle(document.querySelector('div.admonition.tip p:not(.admonition-title)')).fontSize)"
    )
    assert size >= 14, f"quick-answer text is {size}px on a phone"
    phone.screenshot(path=str(screenshots / "phone-quick-answer.png"))
    assert overflow(phone) <= 0


def test_mock_interview_works_with_taps(phone, base_url, screenshots):
    phone.goto(base_url + "appendix/mock.html", wait_until="load")
    phone.wait_for_selector("#mock-draw")
    assert overflow(phone) <= 0
    phone.locator("#mock-draw").tap()
    phone.locator("#mock-reveal").tap()
    phone.wait_for_selector(".mock-grades:not([hidden])")
    for b in phone.locator(".mock-grades button").all() + [phone.locator("#mock-next-followup")]:
        r = b.bounding_box()
        assert r["height"] >= 44 and r["x"] >= 0 and r["x"] + r["width"] <= PHONE["width"], r
    phone.locator("#mock-next-followup").tap()
    assert phone.locator(".mock-answer .mock-followup:visible").count() == 1
    phone.screenshot(path=str(screenshots / "phone-mock.png"), full_page=False)
    assert overflow(phone) <= 0, "the revealed card makes the page scroll sideways"
    card = phone.get_attribute(".mock-card-view", "data-card")
    phone.locator(".mock-grade-good").tap()
    seen = phone.evaluate("() => Object.keys(JSON.parse(localStorage.getItem(window.HandbookMock.KEY)).cards)")
    assert seen == [card]
    assert not phone.console_errors, phone.console_errors[:5]
