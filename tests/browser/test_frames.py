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

from tests.browser.conftest import leave, open_recorded
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
