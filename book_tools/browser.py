"""The headless Chromium that the browser tests drive and that prints the PDF (one setting)."""

from __future__ import annotations

import os
import shutil

# Debian's package (no Playwright browser download); CHROMIUM_PATH overrides it.
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
