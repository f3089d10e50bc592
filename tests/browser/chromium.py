"""A real headless Chromium for the report tests and bench/report_scale.py: Debian's chromium
package driven by Playwright, which downloads nothing when given the browser's path."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

# Playwright must never fetch a browser of its own; this one comes from the system's package manager.
os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")

CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
# Flags for a closed network and a root user in a container: no sandbox (root), no GPU, nothing that
# phones home. Playwright adds --headless and a fresh temporary --user-data-dir itself.
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def missing_browser() -> str | None:
    """Why no browser test can run here, or None when Chromium and Playwright are both present."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[test]')"
    if chromium_path() is None:
        named = os.environ.get("HARNESS_CHROMIUM")
        if named:
            return f"HARNESS_CHROMIUM={named} is not a file"
        return "no Chromium at /usr/bin/chromium (apt-get install chromium); HARNESS_CHROMIUM may name another"
    return None


def chromium_path() -> str | None:
    """``HARNESS_CHROMIUM`` if set, else the first of the usual Debian paths that exists."""
    named = os.environ.get("HARNESS_CHROMIUM")
    if named:
        return named if shutil.which(named) or os.path.isfile(named) else None
    return next((path for path in CANDIDATES if os.path.isfile(path)), None)


@contextmanager
def chromium() -> Iterator:
    """A launched headless Chromium (a Playwright ``Browser``), closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()
