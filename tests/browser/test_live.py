"""Watching a visitor live, in real Chromium, through two `footage serve` processes: the
visitor's recorder sends to one (the demo shop's), the agent watches through another on the
same database. The agent sees the visitor's click and masked typing appear, follows them to a
second page, and the view ends when they leave — with a link to the recording, which holds
what it would have held unwatched."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from footage.accounts import audit
from footage.accounts.service import demo_site
from tests.browser.conftest import leave, log_in, open_recorded, start_demo
from tests.conftest import LiveServer, free_port, serve_process

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
IN_REPLAY = (
    "() => { const f = document.querySelector('#live iframe'); return f && f.contentDocument; }"
)


def second_process(tmp_path: Path, database_url: str) -> Iterator[str]:
    """`footage serve` in a process of its own on the demo's database and files; its URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOOTAGE_")}
    env.update(
        {
            "FOOTAGE_DATA_DIR": str(tmp_path / "data"),
            "FOOTAGE_DATABASE_URL": database_url,
            "FOOTAGE_PORT": str(port),
            "FOOTAGE_DEMO": "0",
            "FOOTAGE_BACKGROUND": "0",
            "FOOTAGE_LOG_LEVEL": "warning",
        }
    )
    process = serve_process(
        [sys.executable, "-m", "footage", "serve"], env, tmp_path / "second.log", port, ROOT
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def shop(tmp_path: Path, database_url: str) -> Iterator[tuple[LiveServer, dict[str, str], str]]:
    server, login = start_demo(tmp_path, database_url=database_url)
    processes = second_process(tmp_path, database_url)
    try:
        yield server, login, next(processes)
    finally:
        processes.close()
        server.stop()


def replay_text(agent: Any, text: str) -> None:
    found = f"d.body.textContent.includes({text!r})"
    agent.wait_for_function(
        f"() => {{ const d = ({IN_REPLAY})(); return !!d && !!d.body && {found}; }}",
        timeout=20_000,
    )


def test_an_agent_watches_a_visitor_live_through_another_process(browser, shop):
    server, login, other = shop
    site = demo_site(server.services.db)
    visitor_context = browser.new_context(viewport={"width": 1280, "height": 800})
    watched: list[bool] = []
    visitor_context.on(
        "response",
        lambda r: (
            watched.append(r.headers.get("x-footage-watched") == "1")
            if r.url.endswith("/api/v1/ingest")
            else None
        ),
    )
    visitor = open_recorded(visitor_context, f"{server.url}/demo/")
    with visitor.expect_response(lambda r: r.url.endswith("/api/v1/ingest")):
        visitor.mouse.click(400, 120)  # the first activity starts the recording
    visitor_id = visitor.evaluate("() => localStorage.getItem('footage_vid')")
    assert watched and not any(watched)  # nobody watches yet: the usual cadence

    agent_context = browser.new_context(viewport={"width": 1366, "height": 768})
    agent = agent_context.new_page()
    log_in(agent, other, login)
    # The recordings list says a visitor is on the site; its link lists them, with Watch live.
    agent.click("a[href='/live']")
    agent.click(f"a.watch-live[href='/live/{site['id']}/{visitor_id}']")
    agent.wait_for_function("() => window.footageLive && window.footageLive.state === 'on_page'")
    replay_text(agent, "Gear for your next trail")
    assert "Live" in agent.locator("[data-live-status]").inner_text()

    # The visitor types (masked before it leaves their browser) and adds to the cart.
    visitor.locator(".product .add").first.click()
    with visitor.expect_response(lambda r: r.url.endswith("/api/v1/ingest")) as answer:
        visitor.fill("#search", "quokka")
    agent.wait_for_function(
        f"() => {{ const d = ({IN_REPLAY})(); const i = d && d.querySelector('#search'); "
        "return !!i && i.value === '******'; }",
        timeout=20_000,
    )
    replay_text(agent, "Cart (1)")
    # Watched: the answers say so, and the recorder sends every second.
    with visitor.expect_response(
        lambda r: r.url.endswith("/api/v1/ingest") and r.headers.get("x-footage-watched") == "1",
        timeout=15_000,
    ):
        visitor.mouse.move(500, 300)
    assert answer.value.status == 200

    # A second page: the view follows.
    visitor.goto(f"{server.url}/demo/signup")
    visitor.mouse.click(300, 300)
    agent.wait_for_function(
        "() => document.querySelector('#live .fp-url-text').textContent.endsWith('/demo/signup')",
        timeout=20_000,
    )
    replay_text(agent, "Create your Trailhead account")

    # The visitor leaves: the view says so, then links to the recording.
    leave(visitor, server)
    visitor_context.close()
    link = agent.locator("[data-live-status] a", has_text="Play the recording")
    link.wait_for(timeout=30_000)
    recording_id = link.get_attribute("href").rsplit("/", 1)[1]
    agent_context.close()

    # Watching added nothing to the recording: one full snapshot per page, the typing masked.
    auth = {"Authorization": f"Bearer {login['api_token']}"}
    events = httpx.get(f"{server.url}/api/v1/recordings/{recording_id}/events", headers=auth).json()
    assert sum(1 for e in events if e["type"] == 2) == 2
    assert "quokka" not in str(events)
    # Every live view is in the audit log (no visitor id in it).
    entries = [
        e
        for e in audit.entries(server.services.db, site["account_id"])
        if e["action"] == "live_view.opened"
    ]
    assert len(entries) == 1 and entries[0]["detail"] == {"site": site["id"]}


def test_a_visitor_not_recorded_is_not_shown_and_the_view_says_why(browser, shop):
    server, login, other = shop
    site = demo_site(server.services.db)
    server.services.db.run(
        "UPDATE sites SET recording_enabled = 0 WHERE id = :s", {"s": site["id"]}
    )
    server.services.ingest.forget_site(site["site_key"])
    visitor_context = browser.new_context(viewport={"width": 1280, "height": 800})
    visitor = visitor_context.new_page()
    with visitor.expect_response(lambda r: "/config" in r.url):
        visitor.goto(f"{server.url}/demo/")
    visitor.mouse.click(400, 120)
    visitor_id = visitor.evaluate("() => localStorage.getItem('footage_vid')") or "vis-unknown"
    agent_context = browser.new_context(viewport={"width": 1366, "height": 768})
    agent = agent_context.new_page()
    log_in(agent, other, login)
    agent.goto(f"{other}/live/{site['id']}/{visitor_id}")
    agent.wait_for_function("() => window.footageLive && window.footageLive.state === 'waiting'")
    assert "Recording is switched off for this site" in agent.locator("#live").inner_text()
    assert agent.evaluate(f"() => !({IN_REPLAY})()")  # nothing of the page is shown
    agent_context.close()
    visitor_context.close()


def test_a_page_excluded_from_recording_is_never_shown_live(browser, shop):
    server, login, other = shop
    site = demo_site(server.services.db)
    server.services.db.run(
        "UPDATE sites SET excluded_pages = '/demo/signup' WHERE id = :s", {"s": site["id"]}
    )
    server.services.ingest.forget_site(site["site_key"])
    visitor_context = browser.new_context(viewport={"width": 1280, "height": 800})
    visitor = open_recorded(visitor_context, f"{server.url}/demo/")
    with visitor.expect_response(lambda r: r.url.endswith("/api/v1/ingest")):
        visitor.mouse.click(400, 120)
    visitor_id = visitor.evaluate("() => localStorage.getItem('footage_vid')")
    agent_context = browser.new_context(viewport={"width": 1366, "height": 768})
    agent = agent_context.new_page()
    log_in(agent, other, login)
    agent.goto(f"{other}/live/{site['id']}/{visitor_id}")
    agent.wait_for_function("() => window.footageLive && window.footageLive.state === 'on_page'")
    # The visitor opens the excluded page: their recorder sends nothing of it, so the view
    # says they left the page and never shows it. With this server's short leave grace (1 s)
    # the recording may be finished before the view's next look at it (every second): then
    # the view says the visitor left the site, or links to the recording. Any of these comes
    # only once no page of the visit is open, which a page sending batches would keep open.
    visitor.goto(f"{server.url}/demo/signup")
    visitor.mouse.click(300, 300)
    visitor.keyboard.type("private")
    agent.wait_for_function(
        "() => ['between_pages', 'left', 'done'].includes(window.footageLive.state)",
        timeout=30_000,
    )
    assert "/demo/signup" not in agent.locator("#live .fp-url-text").inner_text()
    assert agent.evaluate(
        f"() => !({IN_REPLAY})().body.textContent.includes('Create your Trailhead account')"
    )
    agent_context.close()
    visitor_context.close()
