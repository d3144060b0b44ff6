"""Debian's Chromium, launched the same way by everything that drives a browser: MP4 downloads,
the end-to-end tests and the benchmarks. Playwright never downloads a browser of its own."""

from __future__ import annotations

import shutil

# Headless on a server: no sandbox (it runs as root in containers), no GPU, and none of
# Chromium's own traffic (updates, sync, field trials) beside the page's.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def chromium_path() -> str | None:
    """Where the system's Chromium is, or None when it is not installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")
