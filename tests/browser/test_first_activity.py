"""A visitor who is active while the site's config is still on its way is recorded.

The recorder waits for the visitor's first real activity before it records a page. On a slow
network that activity can come before the config answer; the recording then starts as soon as
the config allows it, not at some later move the visitor may never make. A page that is only
loaded still sends nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import start_demo
from tests.browser.test_ingest_limits import until
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live, _ = start_demo(tmp_path)
    yield live
    live.stop()


def shop_with_config_held(browser: Any, base: str) -> tuple[Any, Any, list[Any], list[int]]:
    """The demo shop with the config request held back; returns (context, page, held, ingest)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    held: list[Any] = []
    page.route("**/api/v1/sites/*/config", lambda route: held.append(route))
    ingest: list[int] = []
    page.on(
        "response", lambda r: ingest.append(r.status) if r.url.endswith("/api/v1/ingest") else None
    )
    page.goto(f"{base}/demo/")
    page.wait_for_function("typeof window.footage === 'function' && !window.footage.q")
    until(page, lambda: held, timeout=10)
    return context, page, held, ingest


def test_activity_before_the_config_arrives_starts_the_recording(browser, server):
    context, page, held, ingest = shop_with_config_held(browser, server.url)
    page.mouse.move(300, 300, steps=5)  # the only activity, while the config is held
    held[0].continue_()
    until(page, lambda: 200 in ingest, timeout=20)
    context.close()
