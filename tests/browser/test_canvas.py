"""Canvases replay as the visitor saw them: a 2D canvas drawn after a click and a WebGL
canvas are copied as pictures while they change, and the player draws them into the replay
(which runs no script). A canvas in a blocked area is never copied; with the site's
`record_canvas` off, none is."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import pytest

from tests.browser.conftest import leave, open_player, open_recorded
from tests.browser.test_privacy import configure, events_of, known_recordings, new_recording
from tests.conftest import LiveServer, wait_for

pytestmark = pytest.mark.browser

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Dashboard</title>
<script>
  window.footage = window.footage || function () { (footage.q = footage.q || []).push(arguments); };
  footage('init', '%(key)s', { host: '%(host)s' });
</script>
<script async src="%(host)s/footage.js"></script></head>
<body style="font: 14px sans-serif; margin: 0">
<button id="draw" style="display: block; height: 40px">Draw the chart</button>
<canvas id="chart" width="200" height="100" style="display: block"></canvas>
<canvas id="globe" width="200" height="100" style="display: block"></canvas>
<div data-recording-block><canvas id="secret" width="50" height="50"></canvas></div>
<script>
  // A WebGL scene drawn on every frame, as maps and 3D views are: green, and without
  // preserveDrawingBuffer (its picture is gone once each frame is shown).
  const gl = document.getElementById('globe').getContext('webgl');
  (function spin() {
    gl.clearColor(0, 0.8, 0, 1);
    gl.clear(gl.COLOR_BUFFER_BIT);
    requestAnimationFrame(spin);
  })();
  const secret = document.getElementById('secret').getContext('2d');
  secret.fillStyle = 'rgb(0, 0, 255)';
  secret.fillRect(0, 0, 50, 50);
  document.getElementById('draw').addEventListener('click', () => {
    const chart = document.getElementById('chart').getContext('2d');
    chart.fillStyle = 'rgb(230, 20, 20)';
    chart.fillRect(0, 0, 200, 100);
    // A change of the page's own, well after two rounds of canvas copies (twice a second):
    // the test waits for the batch that carries it.
    setTimeout(() => { document.getElementById('draw').textContent = 'Drawn'; }, 1500);
  });
</script>
</body></html>"""
INCREMENTAL, CANVAS_MUTATION = 3, 9


def visit(browser: Any, server: LiveServer, wait_for_pictures: int) -> None:
    """A visitor clicks "Draw the chart"; the tab closes once a batch has carried the page's
    own change made 1.5 s after the click (by then the canvases were copied three times) and
    pictures of `wait_for_pictures` canvases were sent."""
    key = server.services.db.one("SELECT site_key FROM sites WHERE is_demo = 1")["site_key"]
    html = PAGE % {"key": key, "host": server.url}
    context = browser.new_context(viewport={"width": 800, "height": 600})
    context.route(
        "**/demo/canvas", lambda route: route.fulfill(body=html, content_type="text/html")
    )
    pictures: list[int] = []
    marked: list[bool] = []  # a batch carried the page's "Drawn"

    def seen(request: Any) -> None:
        if not request.url.endswith("/api/v1/ingest"):
            return
        body = request.post_data_buffer or b""
        if body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        for event in json.loads(body).get("events", []):
            if event.get("type") == INCREMENTAL and event["data"].get("source") == CANVAS_MUTATION:
                pictures.append(event["data"]["id"])
        if b'"Drawn"' in body:
            marked.append(True)

    context.on("request", seen)
    page = open_recorded(context, f"{server.url}/demo/canvas")
    page.mouse.move(300, 300)
    page.click("#draw")
    # Playwright hands over the requests seen only while the test talks to it: ask the page.
    wait_for(
        lambda: page.evaluate("true") and marked and len(set(pictures)) >= wait_for_pictures,
        timeout=30,
    )
    leave(page, server)
    context.close()


def shown_colour(page: Any, canvas: str) -> list[int]:
    """The colour the viewer sees in the middle of a canvas of the replay: a screenshot of it,
    decoded by the browser (a canvas's own pixels may differ from what is shown)."""
    png = page.frame_locator("#player iframe").locator(canvas).screenshot()
    return page.evaluate(
        """async (b64) => {
          const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
          const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
          const context = new OffscreenCanvas(bitmap.width, bitmap.height).getContext('2d');
          context.drawImage(bitmap, 0, 0);
          const middle = [Math.floor(bitmap.width / 2), Math.floor(bitmap.height / 2)];
          return Array.from(context.getImageData(...middle, 1, 1).data);
        }""",
        base64.b64encode(png).decode(),
    )


def box(page: Any, canvas: str) -> list[float]:
    """A canvas's size in the replayed page."""
    return page.evaluate(
        """(selector) => {
          const doc = document.querySelector('#player iframe').contentDocument;
          const rect = doc.querySelector(selector).getBoundingClientRect();
          return [rect.width, rect.height];
        }""",
        canvas,
    )


def test_2d_and_webgl_canvases_replay_as_drawn(browser, demo):
    server, login = demo
    configure(server, login)
    known = known_recordings(server, login)
    visit(browser, server, wait_for_pictures=2)
    rec = new_recording(server, login, known, "/demo/canvas")
    events = events_of(server, login, rec["id"])
    pictures = [
        e for e in events if e["type"] == INCREMENTAL and e["data"]["source"] == CANVAS_MUTATION
    ]
    assert pictures, "no canvas picture was recorded"
    # The blocked canvas was never copied: its id is not among the pictures'.
    snapshot = next(e for e in events if e["type"] == 2)
    secret_id = find_id(snapshot["data"]["node"], "secret")
    assert secret_id is None or secret_id not in {p["data"]["id"] for p in pictures}

    page = open_player(browser, server, login, rec["id"])
    page.evaluate("() => window.footagePlayer.seek(window.footagePlayer.getTotalTime())")
    # Shown from the recorded pictures: red for the 2D chart, green for the WebGL canvas,
    # each in a box of its own size (200 × 100), as on the visitor's page.
    page.frame_locator("#player iframe").locator("#chart[style*=background-image]").wait_for()
    page.frame_locator("#player iframe").locator("#globe[style*=background-image]").wait_for()
    red = shown_colour(page, "#chart")
    green = shown_colour(page, "#globe")
    # (the player dims the replay a little under its Replay button once at the end)
    assert red[0] > 150 and red[1] < 60 and red[2] < 60, red
    assert green[1] > 150 and green[0] < 60 and green[2] < 60, green
    assert box(page, "#chart") == [200, 100] and box(page, "#globe") == [200, 100]
    # The end shows the page's last change too (the button's text, the recording's last event).
    button = page.frame_locator("#player iframe").locator("#draw")
    assert button.text_content() == "Drawn"
    page.context.close()


def test_with_record_canvas_off_no_picture_is_sent(browser, demo):
    server, login = demo
    configure(server, login, record_canvas=False)
    known = known_recordings(server, login)
    visit(browser, server, wait_for_pictures=0)
    rec = new_recording(server, login, known, "/demo/canvas")
    events = events_of(server, login, rec["id"])
    assert not [
        e for e in events if e["type"] == INCREMENTAL and e["data"]["source"] == CANVAS_MUTATION
    ]
    configure(server, login, record_canvas=True)


def find_id(node: dict, element_id: str) -> int | None:
    stack = [node]
    while stack:
        n = stack.pop()
        if n.get("attributes", {}).get("id") == element_id:
            return n.get("id")
        stack.extend(n.get("childNodes", []))
    return None
