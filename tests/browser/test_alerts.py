"""An agent on any dashboard page hears of a visitor's new chat message: the count in the
tab's title and beside Conversations, and a desktop notification once allowed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from footage.accounts.service import demo_site
from tests.browser.conftest import log_in, start_demo

pytestmark = pytest.mark.browser

# Notifications are recorded instead of shown (no desktop here); the page's permission is real.
NOTES = """window.__notes = [];
const Real = window.Notification;
window.Notification = function (title, options) { window.__notes.push([title, options.body]); };
Object.defineProperty(window.Notification, 'permission', { get: () => Real.permission });
window.Notification.requestPermission = () => Real.requestPermission();"""


@pytest.fixture
def chatting(tmp_path: Path) -> Iterator[tuple[Any, dict[str, str]]]:
    server, login = start_demo(tmp_path)
    site = demo_site(server.services.db)
    assert site is not None
    server.services.db.run("UPDATE sites SET chat_enabled = 1 WHERE id = :s", {"s": site["id"]})
    server.services.ingest.forget_site(site["site_key"])
    yield server, login
    server.stop()


def visitor_writes(server: Any, text: str, n: int) -> None:
    """What footage-chat.js sends for a visitor's message on the demo shop."""
    key = demo_site(server.services.db)["site_key"]
    body = {
        "site_key": key,
        "visitor_id": f"vis-alerts-{n:08d}",
        "text": text,
        "id": f"msg-{n:08d}",
    }
    r = httpx.post(
        f"{server.url}/api/v1/chat/messages",
        content=json.dumps(body),
        headers={"Content-Type": "text/plain", "Origin": server.url},
    )
    assert r.status_code == 200, r.text


def test_a_new_message_reaches_an_agent_on_another_dashboard_page(browser, chatting):
    server, login = chatting
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    context.grant_permissions(["notifications"], origin=server.url)
    context.add_init_script(NOTES)
    page = context.new_page()
    log_in(page, server.url, login)  # lands on the recordings list
    page.wait_for_function("() => document.title === 'Recordings · Footage'")
    with page.expect_response(lambda r: "/conversations/alerts.json?mark=-1" in r.url):
        page.reload()
    visitor_writes(server, "Is the blue one in stock?", 1)
    page.wait_for_function("() => document.title === '(1) Recordings · Footage'", timeout=15_000)
    badge = page.locator('header nav a[href="/conversations"] .tag')
    assert badge.inner_text() == "1"
    page.wait_for_function("() => window.__notes.length === 1")
    [[title, body]] = page.evaluate("() => window.__notes")
    assert title == "New message from A visitor" and "Demo shop" in body
    # A second visitor: the count goes on.
    visitor_writes(server, "Do you ship to Austria?", 2)
    page.wait_for_function("() => document.title === '(2) Recordings · Footage'", timeout=15_000)
    assert badge.inner_text() == "2"
    context.close()
