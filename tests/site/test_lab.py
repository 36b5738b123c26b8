"""JupyterLab as readers use it: every chapter opened in a real Lab server in Chromium.

The server runs on a free loopback port with a random token, in throwaway config/data/runtime
directories (so no user-level setting or extension leaks in), on a copy of the chapters (so
running cells through the UI can never write outputs into the repository). The network is cut
off as in the site tests. It is stopped whatever happens. Lab's windowing is set to render every
cell on open, which checks the same rendering as a reader scrolling through, in a quarter of the time.
"""

from __future__ import annotations

import json
import os
import pathlib
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from urllib.parse import urlparse

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from book_tools.extract import load  # noqa: E402

CHAPTERS, _ = load()
EXISTING = [c for c in CHAPTERS if c.exists]
LIGHT_CHAPTER = "ch03_discrete_math"  # run through the UI: the lightest chapter (two questions)
START_TIMEOUT_S = 60
OPEN_TIMEOUT_MS = 60_000
RUN_ALL_TIMEOUT_S = 120
RENDER_TIMEOUT_MS = 30_000  # one markdown cell, from scrolling it into view to rendered


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """``(base_url, token)`` of a JupyterLab server on a copy of ``chapters/``."""
    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "book"
    shutil.copytree(ROOT / "chapters", root / "chapters")
    shutil.copytree(ROOT / "lab", root / "lab")
    port, token = _free_port(), secrets.token_hex(24)
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(tmp / "config"),
        JUPYTER_DATA_DIR=str(tmp / "data"),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        JUPYTER_PLATFORM_DIRS="1",
    )
    # Render every cell up front instead of as it scrolls into view (Lab's default windowing):
    # the same jupyterlab-myst rendering of the same cells, without a scroll-and-wait per cell.
    tracker = tmp / "settings" / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text(json.dumps({"windowingMode": "none"}))
    log = open(tmp / "lab.log", "w")  # noqa: SIM115 - closed in the finally below
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={tmp / 'settings'}",
        "--LabApp.news_url=", "--LabApp.expose_app_in_browser=True", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with {proc.returncode}:\n{(tmp / 'lab.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                    json.load(r)
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer within {START_TIMEOUT_S} s")
                time.sleep(0.3)
        yield base, token
    finally:
        with __import__("contextlib").suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # the server and the kernels it started
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def _wait_for_kernel(page, path: str) -> None:
    """The notebook at ``path`` is open, has cells, and its kernel has started and gone idle."""
    page.wait_for_function(
        """(path) => { const app = window.jupyterapp;
                   const w = app && [...app.shell.widgets('main')].find(w => w.context && w.context.path === path);
                   const k = w && w.sessionContext.session && w.sessionContext.session.kernel;
                   return k && k.status === 'idle' && w.content.widgets.length > 0; }""",
        arg=path,
        timeout=OPEN_TIMEOUT_MS,
    )


def _modified(page) -> list[str]:
    """Paths of the open documents whose model is dirty (what the tab's modified dot shows)."""
    return page.evaluate(
        "() => [...window.jupyterapp.shell.widgets('main')].filter(w => w.context && w.context.model.dirty)"
        ".map(w => w.context.path)"
    )


def _open(page, lab, stem: str):
    base, token = lab
    # a workspace of its own, reset: Lab would otherwise reopen every earlier test's notebook
    page.goto(f"{base}/lab/workspaces/{stem}/tree/chapters/{stem}.ipynb?reset&token={token}")
    _wait_for_kernel(page, f"chapters/{stem}.ipynb")
    # record what each rendered markdown cell contains (scrolling to any cell not rendered yet)
    return page.evaluate(
        """async ([path, timeoutMs]) => {
            const nb = [...window.jupyterapp.shell.widgets('main')].find(w => w.context && w.context.path === path).content;
            const cells = [];
            for (let i = 0; i < nb.widgets.length; i++) {
                const cell = nb.widgets[i];
                if (cell.model.type !== 'markdown') continue;
                const done = () => { const m = cell.node.querySelector('.myst'); return m && m.textContent.trim(); };
                if (!done()) await nb.scrollToItem(i, 'auto');  // a cell not rendered yet: bring it into view
                const t0 = performance.now();
                let m = null;
                while (!((m = cell.node.querySelector('.myst')) && m.textContent.trim())) {
                    if (performance.now() - t0 > timeoutMs) { m = null; break; }
                    await new Promise(r => setTimeout(r, 50));
                }
                cells.push(m === null ? {index: i, rendered: false} : {
                    index: i, rendered: true, raw: m.textContent.includes(':::'),
                    quick: [...m.querySelectorAll('aside.myst-admonition')].some(a => a.textContent.includes('面试速答')),
                    dropdown: m.querySelectorAll('details').length > 0,
                    math: m.querySelectorAll('.katex, mjx-container').length > 0});
            }
            await nb.scrollToItem(0, 'auto');
            return cells;
        }""",
        [f"chapters/{stem}.ipynb", RENDER_TIMEOUT_MS],
    )


@pytest.fixture
def lab_page(page):
    """The browser page; afterwards every kernel the test started is shut down."""
    yield page
    page.evaluate("async () => { if (window.jupyterapp) await window.jupyterapp.serviceManager.sessions.shutdownAll(); }")


def test_landing_notebook_links_every_chapter(lab_page, lab):
    page = lab_page
    base, token = lab
    page.goto(f"{base}/lab/workspaces/start/tree/lab/start_here.ipynb?reset&token={token}")
    page.wait_for_selector(".jp-NotebookPanel .myst a", timeout=OPEN_TIMEOUT_MS)
    hrefs = page.eval_on_selector_all(".jp-NotebookPanel .myst a", "els => els.map(e => e.getAttribute('href'))")
    # Lab resolves the notebook's relative links to the server's /files/ URLs (and opens them in Lab)
    linked = sorted(urlparse(h).path.split("/files/", 1)[-1] for h in hrefs if "/files/chapters/" in h)
    assert linked == sorted(f"{c.docname}.ipynb" for c in EXISTING)
    page.locator(".jp-NotebookPanel .myst a").first.click()  # opens chapter 1 in a new tab
    _wait_for_kernel(page, "chapters/ch01_matrix.ipynb")
    assert _modified(page) == []
    assert page.console_errors == [], page.console_errors


@pytest.mark.parametrize("chapter", EXISTING, ids=lambda c: c.path.stem)
def test_chapter_opens_cleanly_in_lab(lab_page, lab, chapter, screenshots):
    page = lab_page
    cells = _open(page, lab, chapter.path.stem)
    panel = page.locator(".jp-NotebookPanel").first
    assert [c["index"] for c in cells if not c["rendered"]] == [], "markdown cells jupyterlab-myst never rendered"
    assert [c["index"] for c in cells if c["raw"]] == [], "cells showing a raw ::: directive"
    assert any(c["quick"] for c in cells), "no 面试速答 box rendered"
    assert any(c["dropdown"] for c in cells), "no 追问 dropdown rendered"
    assert any(c["math"] for c in cells), "no typeset math"
    # the first question link of the chapter's list scrolls to that question's section
    first = f"q{chapter.number:02d}-01"
    link = panel.locator(f"a[href='#{first}']").first
    target = panel.locator(f"[id='{first}']").first
    link.click()
    # the section heading comes to the top of the notebook's scroll area
    page.wait_for_function(
        f"""() => {{ const t = document.querySelector("[id='{first}']");
                    const top = document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer, .jp-NotebookPanel .jp-Notebook').getBoundingClientRect().top;
                    return t && Math.abs(t.getBoundingClientRect().top - top) < 120; }}""",
        timeout=10_000,
    )
    assert target.is_visible()
    assert _modified(page) == [], "opened chapter shows as modified"
    page.screenshot(path=str(screenshots / f"lab-{chapter.path.stem}.png"))
    assert page.console_errors == [], page.console_errors
    assert page.blocked == [], f"Lab tried to reach the network: {page.blocked}"


def test_run_all_cells_of_a_light_chapter_through_the_ui(lab_page, lab, screenshots):
    page = lab_page
    _open(page, lab, LIGHT_CHAPTER)
    path = f"chapters/{LIGHT_CHAPTER}.ipynb"
    find = "[...window.jupyterapp.shell.widgets('main')].find(w => w.context && w.context.path === path)"
    page.locator(".jp-NotebookPanel .jp-Notebook").first.click()
    # the menu's Run > Run All Cells, on this notebook
    page.evaluate(
        f"""async (path) => {{ const w = {find}; window.jupyterapp.shell.activateById(w.id);
                              await window.jupyterapp.commands.execute('notebook:run-all-cells'); }}""",
        path,
    )
    page.wait_for_function(
        f"""(path) => {{ const w = {find};
                   const code = w.content.widgets.filter(c => c.model.type === 'code');
                   return w.sessionContext.session.kernel.status === 'idle'
                          && code.every(c => c.model.executionCount !== null); }}""",
        arg=path,
        timeout=RUN_ALL_TIMEOUT_S * 1000,
    )
    problems = page.evaluate(
        f"""(path) => {{ const w = {find}; const out = [];
               w.content.widgets.forEach((c, i) => {{
                 if (c.model.type !== 'code') return;
                 for (const o of c.model.outputs.toJSON())
                   if (o.output_type === 'error' || (o.output_type === 'stream' && o.name === 'stderr'))
                     out.push(`cell ${{i}}: ${{o.ename || o.name}} ${{(o.evalue || o.text || '').toString().slice(0, 300)}}`);
               }});
               return out; }}""",
        path,
    )
    page.screenshot(path=str(screenshots / "lab-run-all.png"))
    assert problems == [], problems
    assert page.console_errors == [], page.console_errors
