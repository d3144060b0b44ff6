"""A page inside a same-origin frame of a recorded page is part of that page's recording.

Sites often load their own template (snippet included) in a frame: a help widget, a cart
preview. The frame's recorder then starts nothing of its own, since the page above records
the frame with its content; the visitor's activity inside the frame counts as activity on the
page, and the frame's calls (identify, events) reach the page's recorder.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.browser.conftest import leave, log_in, open_recorded
from tests.browser.test_privacy import events_of, known_recordings, new_recording

pytestmark = pytest.mark.browser

SNIPPET = """<script>
  window.footage = window.footage || function () { (footage.q = footage.q || []).push(arguments); };
  footage('init', '%(key)s', { host: '%(host)s' });
</script>
<script async src="%(host)s/footage.js"></script>"""
PARENT = """<!doctype html><html><head><meta charset="utf-8"><title>Help centre</title>%(snippet)s
</head><body style="font: 14px sans-serif; margin: 0">
<h1 style="height: 60px; margin: 0">Help centre</h1>
<iframe src="/demo/framed-inner" style="width: 600px; height: 300px; border: 0"></iframe>
</body></html>"""
INNER = """<!doctype html><html><head><meta charset="utf-8"><title>Widget</title>%(snippet)s
</head><body style="font: 14px sans-serif">
<p id="state">Inside the frame</p>
<button onclick="document.getElementById('state').textContent = 'Frame answered';
  footage('event', 'widget_used', { step: 'answered' });">Ask</button>
</body></html>"""


def fulfil(body: str) -> Any:
    """A route handler answering with this page."""
    return lambda route: route.fulfill(body=body, content_type="text/html")


def test_a_same_origin_frame_is_recorded_by_its_page_and_starts_nothing(browser, demo):
    server, login = demo
    known = known_recordings(server, login)
    key = server.services.db.one("SELECT site_key FROM sites WHERE is_demo = 1")["site_key"]
    snippet = SNIPPET % {"key": key, "host": server.url}
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    for path, html in (("/demo/framed", PARENT), ("/demo/framed-inner", INNER)):
        context.route(f"**{path}", fulfil(html % {"snippet": snippet}))
    from_frame: list[str] = []
    context.on(
        "request",
        lambda r: (
            from_frame.append(r.url)
            if r.frame.parent_frame is not None and "/api/v1/" in r.url
            else None
        ),
    )
    page = open_recorded(context, f"{server.url}/demo/framed")
    frame = page.frame_locator("iframe")
    frame.locator("#state").wait_for()
    page.frames[1].wait_for_function("window.footage && window.footage.loaded")
    # The visitor acts only inside the frame: the mouse moves there and clicks its button.
    frame.locator("button").click()
    frame.locator("#state").filter(has_text="Frame answered").wait_for()
    page.wait_for_function("() => !!document.querySelector('iframe')")  # the page is still up
    leave(page, server)
    context.close()

    rec = new_recording(server, login, known, "/demo/framed")
    assert [p["url"].rsplit("/", 1)[1] for p in rec["pages"]] == ["framed"]
    events = events_of(server, login, rec["id"])
    text = json.dumps(events)
    # The frame's content and its change are in the page's recording, replayed in place.
    assert "Inside the frame" in text and "Frame answered" in text
    # Its call reached the page's recorder.
    assert any(
        e["type"] == 5 and (e["data"].get("payload") or {}).get("name") == "widget_used"
        for e in events
    ), [e["data"] for e in events if e["type"] == 5]
    # The frame sent nothing itself, and no recording has the frame as a page.
    assert from_frame == []
    auth = {"Authorization": f"Bearer {login['api_token']}"}
    with server.client(headers=auth) as http:
        items = http.get("/api/v1/recordings?limit=200").json()["items"]
    assert not any(p["url"].endswith("/demo/framed-inner") for r in items for p in r["pages"])


OUTSIDE = """<!doctype html><html><head><meta charset="utf-8"><title>Checkout</title>%(snippet)s
</head><body style="font: 14px sans-serif; margin: 0">
<h1 style="height: 60px; margin: 0">Checkout</h1>
<iframe id="pay" src="https://payments.example/embed/card?session=secret-token"
  style="width: 500px; height: 200px; border: 0"></iframe>
</body></html>"""
CARD_FORM = """<!doctype html><html><body><p>Card number</p><input id="card"></body></html>"""


def test_a_frame_of_another_site_replays_as_a_box_saying_it_was_not_recorded(
    browser, demo, artifacts
):
    server, login = demo
    known = known_recordings(server, login)
    key = server.services.db.one("SELECT site_key FROM sites WHERE is_demo = 1")["site_key"]
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    context.route(
        "**/demo/checkout",
        fulfil(OUTSIDE % {"snippet": SNIPPET % {"key": key, "host": server.url}}),
    )
    context.route("https://payments.example/**", fulfil(CARD_FORM))
    page = open_recorded(context, f"{server.url}/demo/checkout")
    page.frame_locator("#pay").locator("#card").wait_for()
    page.mouse.move(300, 30, steps=3)
    page.click("h1")
    leave(page, server)
    context.close()

    rec = new_recording(server, login, known, "/demo/checkout")
    # The other site's page was never read: not its text, not the card field.
    assert "Card number" not in json.dumps(events_of(server, login, rec["id"]))

    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    log_in(page, server.url, login)
    page.goto(f"{server.url}/recordings/{rec['id']}")
    page.wait_for_function("() => window.footagePlayer && window.footagePlayer.getTotalTime() > 0")
    page.evaluate("() => window.footagePlayer.seek(window.footagePlayer.getTotalTime())")
    frame = page.frame_locator("#player iframe").locator("#pay")
    frame.wait_for()
    page.wait_for_function(
        """() => {
          const doc = document.querySelector('#player iframe').contentDocument;
          const image = doc.querySelector('#pay').style.backgroundImage;
          return image.includes('not%20recorded');
        }"""
    )
    image = page.evaluate(
        """() => document.querySelector('#player iframe').contentDocument
             .querySelector('#pay').style.backgroundImage"""
    )
    # It says where the frame led (host and path), never the address's query.
    assert "payments.example%2Fembed%2Fcard" in image and "secret-token" not in image
    page.screenshot(path=str(artifacts / "replay-frame-not-recorded.png"))
    context.close()
