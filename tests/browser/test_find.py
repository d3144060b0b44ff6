"""Finding a recording the way a support agent does, in real Chromium: a visitor identifies
themselves on the demo shop and adds to the cart; the owner filters the list by the
visitor's e-mail and the event, opens the recording, and the player starts at that moment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import log_in, start_demo
from tests.conftest import LiveServer, wait_for

pytestmark = pytest.mark.browser


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    server, login = start_demo(tmp_path)
    yield server, login
    server.stop()


def visit(browser: Any, base: str, email: str | None, add_to_cart: bool) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{base}/demo/")
    page.wait_for_function("typeof window.footage === 'function' && !window.footage.q")
    if email:
        page.evaluate(f"() => footage('identify', 'c-{email[:4]}', {{email: '{email}'}})")
    page.mouse.move(300, 300)
    page.mouse.move(420, 360, steps=5)
    page.wait_for_timeout(1500)  # some time passes before the event
    if add_to_cart:
        page.evaluate("() => footage('event', 'added_to_cart', {sku: 'X1'})")
        page.click(".product:not([hidden]) .add")
    page.mouse.move(500, 300, steps=5)
    page.wait_for_timeout(1200)
    page.close(run_before_unload=True)
    context.close()


def test_find_a_visitor_by_email_and_open_at_the_moment_that_matched(
    browser: Any, demo_server: tuple[LiveServer, dict[str, str]], artifacts: Path
) -> None:
    server, login = demo_server
    visit(browser, server.url, "jane.quokka@example.org", add_to_cart=True)
    visit(browser, server.url, "other.person@example.org", add_to_cart=True)
    visit(browser, server.url, None, add_to_cart=False)
    auth = {"Authorization": f"Bearer {login['api_token']}"}
    with server.client(headers=auth) as http:
        wait_for(lambda: len(http.get("/api/v1/recordings").json()["items"]) == 3, timeout=40)

    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    log_in(page, server.url, login)
    assert page.locator(".play-link").count() == 3
    page.fill("input[name=visitor_email]", "quokka")
    page.click("summary:has-text('More filters')")
    page.fill("input[name=event]", "added_to_cart")
    page.click("button:has-text('Show recordings')")
    page.wait_for_url("**visitor_email=quokka**")
    assert page.locator(".play-link").count() == 1
    assert "jane.quokka@example.org" in page.locator("table.recordings").inner_text()
    page.screenshot(path=str(artifacts / "recordings-filtered.png"), full_page=True)

    page.click(".play-link")
    page.wait_for_selector("#player[data-state=ready]", timeout=15_000)
    start = int(page.get_attribute("#player", "data-start-ms") or 0)
    assert start > 1000  # the event came after a pause, not at the start
    moments = page.locator(".moments li").all_inner_texts()
    assert len(moments) == 1 and "added_to_cart" in moments[0]
    wait_for(
        lambda: page.evaluate("() => window.footagePlayer.getCurrentTime()") >= start - 50,
        timeout=10,
    )
    page.screenshot(path=str(artifacts / "player-matching-moment.png"), full_page=True)
    context.close()
