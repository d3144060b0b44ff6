"""Visitor identification and custom events in real Chromium, on the demo shop:
footage('identify') before recording starts and footage('event') while recording → the
batches carry `visitor` → the API shows who it was and the event, unmasked → recording_moments
has the event → the player shows the name and an event marker."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import log_in, start_demo
from tests.conftest import LiveServer, wait_for

pytestmark = pytest.mark.browser

IDENTIFY = (
    "() => footage('identify', 'customer-42', "
    "{name: 'Jane Quokka', email: 'jane.quokka@example.org', plan: 'Gold'})"
)
# Runs before the page's own scripts: the snippet's queueing stub, and a call queued before
# footage('init') and long before footage.js has loaded.
EARLY = """
window.footage = function () { (footage.q = footage.q || []).push(arguments); };
footage('variables', {source: {label: 'Came from', value: 'newsletter'}});
"""
# Calls a careless page might make: they must neither throw nor send anything odd.
NONSENSE = """() => {
  footage('identify', {}, 5);
  footage('name', 42);
  footage('variables', null);
  footage('variables', {bad: {value: {deep: 1}}, nan: NaN});
  footage('event', 42, {a: 1});
  footage('event', '', null);
  footage('email', undefined);
}"""


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    server, login = start_demo(tmp_path)
    yield server, login
    server.stop()


def pump_until(page: Any, predicate: Any, timeout_ms: int) -> None:
    """Waits inside Playwright, whose route handlers only run while it has control."""
    for _ in range(timeout_ms // 100):
        if predicate():
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"condition not met within {timeout_ms} ms")


def batch_body(request: Any) -> dict[str, Any]:
    raw = request.post_data_buffer
    data = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    return dict(json.loads(data))


def test_identified_visitor_and_custom_event(
    browser: Any, demo_server: tuple[LiveServer, dict[str, str]], artifacts: Path
) -> None:
    server, login = demo_server
    base = server.url
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(EARLY)
    page = context.new_page()
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    page.goto(f"{base}/demo/")
    page.wait_for_function("typeof window.footage === 'function' && !window.footage.q")
    # Before the visitor does anything nothing is recorded: the identity waits in memory, an
    # event is dropped.
    page.evaluate(IDENTIFY)
    page.evaluate("() => footage('event', 'too_early', {})")
    page.evaluate(NONSENSE)
    with page.expect_request("**/api/v1/ingest") as first:
        page.mouse.move(300, 300)
        page.mouse.move(400, 350, steps=5)
    assert batch_body(first.value)["visitor"] == {
        "id": "customer-42",
        "name": "Jane Quokka",
        "email": "jane.quokka@example.org",
        "variables": {
            "source": {"label": "Came from", "value": "newsletter"},
            "plan": {"label": "plan", "value": "Gold"},
        },
    }
    page.evaluate("() => footage('event', 'added_to_cart', {sku: 'X1', qty: 2, gift: false})")
    page.click(".product:not([hidden]) .add")
    page.mouse.move(600, 400, steps=5)
    page.click(".product:not([hidden]) .add")
    with page.expect_request("**/api/v1/ingest") as later:
        page.wait_for_timeout(100)
    # Acknowledged once: later batches no longer repeat who the visitor is.
    assert "visitor" not in batch_body(later.value)
    page.close(run_before_unload=True)
    context.close()
    assert page_errors == []

    auth = {"Authorization": f"Bearer {login['api_token']}"}
    with server.client(headers=auth) as http:
        items = wait_for(lambda: http.get("/api/v1/recordings").json()["items"], timeout=30)
        assert len(items) == 1
        rec = items[0]
        events = http.get(f"/api/v1/recordings/{rec['id']}/events").json()
    assert rec["visitor"]["name"] == "Jane Quokka"
    assert rec["visitor"]["email"] == "jane.quokka@example.org"
    assert rec["visitor"]["external_id"] == "customer-42"
    assert rec["visitor"]["variables"] == {
        "source": {"label": "Came from", "value": "newsletter"},
        "plan": {"label": "plan", "value": "Gold"},
    }
    custom = [e["data"] for e in events if e["type"] == 5]
    # Unmasked although the demo masks digits: the site chose to send these values.
    assert {
        "tag": "footage.event",
        "payload": {"name": "added_to_cart", "props": {"sku": "X1", "qty": 2, "gift": False}},
    } in custom
    assert "too_early" not in json.dumps(events)
    moments = server.services.db.all(
        "SELECT kind, name, detail FROM recording_moments WHERE recording_id = :r AND "
        "kind = 'event'",
        {"r": rec["id"]},
    )
    assert moments == [
        {"kind": "event", "name": "added_to_cart", "detail": '{"sku":"X1","qty":2,"gift":false}'}
    ]

    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    log_in(page, base, login)
    page.goto(f"{base}/recordings/{rec['id']}")
    page.wait_for_selector("#player[data-state=ready]", timeout=15_000)
    info = page.locator(".visitor-info").inner_text()
    shown_values = ("Jane Quokka", "jane.quokka@example.org", "customer-42", "plan", "Gold")
    for shown in shown_values + ("Came from", "newsletter"):
        assert shown in info
    assert "Jane Quokka" in page.locator("h1").inner_text()
    marker = page.locator(".fp-marker-event")
    assert marker.count() == 1
    assert "added_to_cart" in (marker.get_attribute("title") or "")
    assert "sku: X1" in (marker.get_attribute("title") or "")
    assert page.locator(".fp-legend").inner_text().count("Events") == 1
    event_markers = page.evaluate(
        "() => window.footagePlayer.markers.filter(m => m.kind === 'event')"
    )
    assert [m["name"] for m in event_markers] == ["added_to_cart"]
    marker.click()
    wait_for(
        lambda: (
            abs(
                page.evaluate("() => window.footagePlayer.getCurrentTime()")
                - event_markers[0]["time"]
            )
            < 5
        )
    )
    page.screenshot(path=str(artifacts / "player-identify.png"), full_page=True)
    context.close()


def test_identity_is_resent_until_stored_and_reaches_a_quiet_page(
    browser: Any, demo_server: tuple[LiveServer, dict[str, str]]
) -> None:
    server, _ = demo_server
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    bodies: list[dict[str, Any]] = []
    failed: list[bool] = []

    def ingest(route: Any) -> None:
        bodies.append(batch_body(route.request))
        if not failed:  # the first batch meets a failing server once: it is retried
            failed.append(True)
            route.fulfill(status=503, body="")
        else:
            route.continue_()

    page.route("**/api/v1/ingest", ingest)
    page.goto(f"{server.url}/demo/")
    page.wait_for_function("typeof window.footage === 'function' && !window.footage.q")
    page.evaluate("() => footage('email', 'ann@example.org')")
    page.mouse.move(300, 300)
    page.mouse.move(400, 350, steps=5)
    pump_until(page, lambda: len(bodies) >= 2, 10_000)
    first, retry = bodies[0], bodies[1]
    assert retry["seq"] == first["seq"] == 0
    assert first["visitor"] == retry["visitor"] == {"email": "ann@example.org"}
    # Nothing happens on the page any more; the identity changes and still goes out.
    count = len(bodies)
    page.evaluate("() => footage('name', 'Ann')")
    pump_until(page, lambda: any("visitor" in b for b in bodies[count:]), 15_000)
    [later] = [b for b in bodies[count:] if "visitor" in b][:1]
    assert later["visitor"] == {"name": "Ann", "email": "ann@example.org"}
    assert later["events"] == []  # the page was quiet: a batch only to say who it is

    def stored() -> dict[str, Any] | None:
        return server.services.db.one(
            "SELECT name, email FROM visitors WHERE id = :v", {"v": first["visitor_id"]}
        )

    # Stored while the page is still open (closing it could cancel the request on its way).
    pump_until(page, lambda: (stored() or {}).get("name") == "Ann", 15_000)
    context.close()
    assert stored() == {"name": "Ann", "email": "ann@example.org"}
