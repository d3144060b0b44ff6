"""Debian's Chromium, launched the same way by everything that drives a browser: MP4 downloads,
the end-to-end tests and the benchmarks. Playwright never downloads a browser of its own."""

from __future__ import annotations

import shutil

# Headless on a server: no sandbox (it runs as root in containers), no GPU, and none of
# Chromium's own traffic (updates, sync, field trials) beside the page's.
#
# Nor its address bar's drop-down: Chromium builds it as two web pages of its own (in a
# renderer process of their own) for every browser context, and each context here is one
# download's render or one test's visitor, never a window anyone types into. Loading them
# took ~0.75 s of CPU per context (10 contexts: 10.9 s of the machine's CPU, 3.5 s without),
# while the page being rendered or measured ran beside them.
WITHOUT_FEATURES = ("WebUIOmniboxPopup", "WebUIOmniboxAimPopup")
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-features=" + ",".join(WITHOUT_FEATURES),
)


def chromium_path() -> str | None:
    """Where the system's Chromium is, or None when it is not installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")
