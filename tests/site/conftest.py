"""Serve the built site on localhost and drive Debian's Chromium through Playwright.

Every request that does not go to localhost is aborted, so a page that needs the network
(a CDN script, a web font) fails here exactly as it would for an offline reader.
"""

from __future__ import annotations

import functools
import http.server
import pathlib
import subprocess
import sys
import threading
from urllib.parse import urlparse

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SITE = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
sys.path.insert(0, str(ROOT))

from book_tools.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402


@pytest.fixture(scope="session")
def site() -> pathlib.Path:
    if not (SITE / "index.html").is_file():
        # `make test` builds the site first; running this file alone builds it here.
        subprocess.run(
            [sys.executable, "-m", "jupyter_book", "build", str(ROOT), "--keep-going"], check=True, cwd=ROOT
        )
    return SITE


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output readable
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # the browser drops connections it no longer needs (aborted prefetches, closed
        # pages); that is not a failure of the site
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


@pytest.fixture(scope="session")
def base_url(site):
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    if not pathlib.Path(CHROMIUM).is_file():
        pytest.skip(
            f"Chromium not found at {CHROMIUM}: install Debian's package (`apt-get install chromium`) "
            "or set CHROMIUM_PATH to enable the browser tests."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _is_local(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in ("data", "blob", "about") or parsed.hostname in ("127.0.0.1", "localhost")


def _offline_page(browser, **context_options):
    """A page with external requests blocked; collects console errors and blocked URLs."""
    context = browser.new_context(service_workers="block", **context_options)
    blocked: list[str] = []

    def route(r):
        if _is_local(r.request.url):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    pg = context.new_page()
    pg.console_errors = []  # type: ignore[attr-defined]
    pg.blocked = blocked  # type: ignore[attr-defined]
    pg.on("console", lambda m: m.type == "error" and pg.console_errors.append(m.text))
    pg.on("pageerror", lambda e: pg.console_errors.append(str(e)))
    return context, pg


@pytest.fixture
def page(browser):
    """A desktop-sized offline page (see _offline_page)."""
    context, pg = _offline_page(browser, viewport={"width": 1280, "height": 900})
    yield pg
    context.close()


PHONE = {"width": 390, "height": 844}  # an iPhone 12-15 sized screen


@pytest.fixture
def phone(browser):
    """An offline page on a 390x844 touch screen that honours the site's viewport meta tag."""
    context, pg = _offline_page(browser, viewport=PHONE, device_scale_factor=3, is_mobile=True, has_touch=True)
    yield pg
    context.close()


@pytest.fixture(scope="session")
def screenshots() -> pathlib.Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS
