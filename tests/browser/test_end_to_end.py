"""The whole path as a visitor and a site owner meet it, in real Chromium:
demo shop with the snippet → clicks, typing, a second page, tab closed → recording ready →
the API shows it → the player replays the recorded page."""

from __future__ import annotations

import json

import pytest

from tests.browser.conftest import log_in, start_demo
from tests.conftest import wait_for

pytestmark = pytest.mark.browser


@pytest.fixture
def demo_server(tmp_path):
    server, login = start_demo(tmp_path)
    yield server, login
    server.stop()


def visit_demo_shop(browser, base: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{base}/demo/")
    page.wait_for_function("typeof window.footage === 'function' && !window.footage.q")
    page.mouse.move(300, 300)
    page.mouse.move(400, 350, steps=5)
    page.click("#search")
    page.keyboard.type("zebrastripes", delay=20)
    page.fill("#search", "")
    page.keyboard.type("socks", delay=20)
    page.click(".product:not([hidden]) .add")
    page.wait_for_timeout(600)
    page.click("text=Merino wool socks")
    page.wait_for_url("**/demo/product/wool-socks")
    page.mouse.move(500, 400, steps=5)
    page.click("#add")
    page.click("#add")
    page.wait_for_timeout(1500)  # let the first batch of the second page go out
    page.close(run_before_unload=True)
    context.close()


def test_visit_is_recorded_and_replayed(browser, demo_server, artifacts):
    server, login = demo_server
    svc = server.services
    visit_demo_shop(browser, server.url)

    auth = {"Authorization": f"Bearer {login['api_token']}"}
    with server.client(headers=auth) as http:
        items = wait_for(lambda: http.get("/api/v1/recordings").json()["items"], timeout=30)
        assert len(items) == 1
        rec = items[0]
        events = http.get(f"/api/v1/recordings/{rec['id']}/events").json()

    assert [p["url"].removeprefix(server.url) for p in rec["pages"]] == [
        "/demo/",
        "/demo/product/wool-socks",
    ]
    assert rec["pages"][1]["title"].startswith("Merino wool socks")
    assert rec["click_count"] >= 4
    assert rec["device"] == "desktop" and rec["browser"] == "Chrome"
    assert rec["duration_ms"] > 1000 and rec["active_ms"] > 0
    # Each page view starts with Meta + FullSnapshot; typed text is masked in the browser.
    assert [e["type"] for e in events].count(2) == 2 and events[0]["type"] == 4
    assert "zebrastripes" not in json.dumps(events)
    # The leave beacon of the last page arrived (the tab was closed, not timed out).
    left = svc.db.all(
        "SELECT left_at FROM recording_pages WHERE recording_id = :r", {"r": rec["id"]}
    )
    assert all(p["left_at"] is not None for p in left)

    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    log_in(page, server.url, login)
    assert page.locator(f"a[href='/recordings/{rec['id']}']").count() >= 1
    page.goto(f"{server.url}/recordings/{rec['id']}")
    page.wait_for_selector("#player[data-state=ready]", timeout=15_000)
    frame = page.frame_locator("#player iframe")
    assert "Trailhead" in frame.locator("header").inner_text(timeout=10_000)
    # Jump to the second page via the visitor-info panel and see it replayed.
    page.click(".pages li:nth-child(2) a")
    page.wait_for_function(
        "() => window.footagePlayer && window.footagePlayer.getCurrentTime() > 0"
    )
    wait_for(lambda: "Merino wool socks" in frame.locator("body").inner_text(), timeout=10)
    page.screenshot(path=str(artifacts / "player.png"), full_page=True)
    kinds = page.evaluate("() => window.footagePlayer.markers.map(m => m.kind)")
    assert kinds.count("click") >= 4 and kinds.count("page") == 2
    assert page.locator(".fp-marker-click").count() == kinds.count("click")
    # Speed 1×/2×/4×/8× and skip inactivity drive the real replayer.
    assert [b.inner_text() for b in page.locator(".fp-speed").all()] == ["1×", "2×", "4×", "8×"]
    page.click("button[aria-label='Speed 8×']")
    assert page.get_attribute("button[aria-label='Speed 8×']", "aria-pressed") == "true"
    assert page.evaluate("() => window.footagePlayer.replayer.config.speed") == 8
    assert page.evaluate("() => window.footagePlayer.replayer.config.skipInactive") is True
    page.click("button[aria-label='Skip inactivity']")
    assert page.get_attribute("button[role=switch]", "aria-checked") == "false"
    assert page.evaluate("() => window.footagePlayer.replayer.config.skipInactive") is False
    context.close()
