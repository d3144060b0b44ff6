"""A page inside a same-origin frame of a recorded page is part of that page's recording.

Sites often load their own template (snippet included) in a frame: a help widget, a cart
preview. The frame's recorder then starts nothing of its own, since the page above records
the frame with its content; the visitor's activity inside the frame counts as activity on the
page, and the frame's calls (identify, events) reach the page's recorder.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.browser.conftest import (
    delivered,
    leave,
    open_player,
    open_recorded,
    requests_from_frames,
)
from tests.browser.test_privacy import configure, events_of, known_recordings, new_recording
from tests.browser.test_recorded_ahead import AFTER_IDLE
from tests.conftest import free_port, wait_for

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
  footage('event', 'widget_used', { step: 'answered' });
  setTimeout(() => { throw new Error('Widget broke'); });">Ask</button>
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
    from_frame = requests_from_frames(context)
    page = open_recorded(context, f"{server.url}/demo/framed")
    frame = page.frame_locator("iframe")
    frame.locator("#state").wait_for()
    page.frames[1].wait_for_function("window.footage && window.footage.loaded")
    # The visitor acts only inside the frame: the mouse moves there and clicks its button.
    with page.expect_response(lambda r: delivered(r, b"Widget broke")):
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
    # …and so did its JavaScript error, on the page's timeline.
    assert "Widget broke" in errors_of(events)
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


@pytest.mark.parametrize("frame_loads", ["before", "after"])
def test_a_frame_of_another_site_replays_as_a_box_saying_it_was_not_recorded(
    browser, demo, artifacts, frame_loads
):
    """The frame's page loads before the recording starts, or after it (then the recording
    saw an empty frame of the page's own origin, and rrweb kept no address for it)."""
    server, login = demo
    known = known_recordings(server, login)
    key = server.services.db.one("SELECT site_key FROM sites WHERE is_demo = 1")["site_key"]
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    context.route(
        "**/demo/checkout",
        fulfil(OUTSIDE % {"snippet": SNIPPET % {"key": key, "host": server.url}}),
    )
    held: list[Any] = []  # the frame's request, answered once the page is recorded
    context.route(
        "https://payments.example/**",
        (lambda route: held.append(route)) if frame_loads == "after" else fulfil(CARD_FORM),
    )
    # (with the frame held, the page's load event waits for it)
    page = open_recorded(context, f"{server.url}/demo/checkout", "domcontentloaded")
    if frame_loads == "after":
        page.evaluate(AFTER_IDLE)  # the page is recorded (ahead, in idle time)
        wait_for(lambda: page.evaluate("true") and held)
        held[0].fulfill(body=CARD_FORM, content_type="text/html")
    page.frame_locator("#pay").locator("#card").wait_for()
    page.mouse.move(300, 30, steps=3)
    page.click("h1")
    leave(page, server)
    context.close()

    rec = new_recording(server, login, known, "/demo/checkout")
    # The other site's page was never read: not its text, not the card field.
    assert "Card number" not in json.dumps(events_of(server, login, rec["id"]))

    page = open_player(browser, server, login, rec["id"])
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
    page.screenshot(path=str(artifacts / f"replay-frame-not-recorded-{frame_loads}.png"))
    page.context.close()


PAY_PARENT = """<!doctype html><html><head><meta charset="utf-8"><title>Shop</title>%(snippet)s
</head><body style="font: 14px sans-serif; margin: 0">
<h1 style="height: 60px; margin: 0">Your basket</h1>
<iframe id="pay" src="%(frame_url)s" style="width: 500px; height: 200px; border: 0"></iframe>
</body></html>"""
PAY_FRAME = """<!doctype html><html><head><meta charset="utf-8"><title>Pay</title>%(snippet)s
</head><body style="font: 14px sans-serif">
<p id="state">Inside the pay frame</p>
<button onclick="document.getElementById('state').textContent = 'Paid, thank you';
  setTimeout(() => { throw new Error('Payment widget broke'); });">Pay</button>
</body></html>"""


def test_a_frame_of_another_origin_of_the_same_site_joins_the_pages_recording(
    browser, demo, artifacts
):
    """The site's checkout runs on another origin (here: `localhost` inside `127.0.0.1`), with
    the same snippet: it is recorded as part of the page, not as a second recording."""
    server, login = demo
    key = server.services.db.one("SELECT site_key FROM sites WHERE is_demo = 1")["site_key"]
    snippet = SNIPPET % {"key": key, "host": server.url}
    # Each page comes from a server of its own: two origins on loopback (pages answered by the
    # test through Playwright would not be on loopback for the browser's network rules).
    with serve_page(PAY_FRAME % {"snippet": snippet}) as frame_url:
        page_html = PAY_PARENT % {"snippet": snippet, "frame_url": frame_url}
        with serve_page(page_html) as page_url:
            with_origins = recorded_on(server, login, page_url, frame_url)
            with with_origins:
                context = browser.new_context(viewport={"width": 1000, "height": 700})
                rec = visit_basket(server, login, context, page_url)
    assert [p["url"] for p in rec["pages"]] == [page_url]
    events = events_of(server, login, rec["id"])
    text = json.dumps(events)
    assert "Inside the pay frame" in text and "Paid, thank you" in text
    assert "Payment widget broke" in errors_of(events)  # the frame's error, on the page's timeline
    auth = {"Authorization": f"Bearer {login['api_token']}"}
    with server.client(headers=auth) as http:
        items = http.get("/api/v1/recordings?limit=200").json()["items"]
    assert not any(p["url"] == frame_url for r in items for p in r["pages"])

    # Replayed in place: the frame shows its page, not the "not recorded" box.
    page = open_player(browser, server, login, rec["id"])
    page.evaluate("() => window.footagePlayer.play()")
    shown = page.frame_locator("#player iframe").frame_locator("#pay").locator("#state")
    shown.filter(has_text="Paid, thank you").wait_for()
    assert "not%20recorded" not in page.evaluate(
        """() => document.querySelector('#player iframe').contentDocument
             .querySelector('#pay').style.backgroundImage"""
    )
    page.screenshot(path=str(artifacts / "replay-frame-of-another-origin.png"))
    page.context.close()


# In the page: set once a frame's events come up to it (rrweb's message of a joined frame).
JOINED = """
if (window === window.top) {
  addEventListener('message', (e) => {
    if (e.data && e.data.type === 'rrweb') window.frameJoined = true;
  });
}
"""
# In the page: set once a frame asked it to record it.
ASKED = """
if (window === window.top) {
  addEventListener('message', (e) => {
    if (e.data && e.data.type === 'footage:ask') window.frameAsked = true;
  });
}
"""


def visit_basket(server: Any, login: dict[str, str], context: Any, url: str) -> dict:
    """The visitor pays inside the frame (acting only there) and closes the tab once the page
    has sent the frame's change; returns the new recording. The frame sends nothing itself."""
    known = known_recordings(server, login)
    from_frame = requests_from_frames(context, "/api/v1/ingest")
    context.add_init_script(JOINED)
    page = open_recorded(context, url)
    inner = page.frame_locator("#pay")
    inner.locator("#state").wait_for()
    # The visitor acts once the frame records into the page (before, the frame records on its
    # own: what it saw first stays its own page view).
    page.wait_for_function("() => window.frameJoined === true")
    # (its error comes after its change: the batch with it carries both)
    with page.expect_response(lambda r: delivered(r, b"Payment widget broke")):
        inner.locator("button").click()
    leave(page, server)
    context.close()
    assert from_frame == []
    return new_recording(server, login, known, url)


@contextmanager
def recorded_on(server: Any, login: dict[str, str], *urls: str) -> Iterator[None]:
    """The demo site records on the origins of `urls` (and on the demo pages' own) for a while."""
    configure(server, login, allowed_origins=[u.rsplit("/", 1)[0] for u in urls])
    try:
        yield
    finally:
        configure(server, login, allowed_origins=[])


@contextmanager
def serve_page(html: str) -> Iterator[str]:
    """`html` served on a loopback port of its own; yields its address."""
    body = html.encode()

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Page)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/page"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_frame_that_asks_before_its_page_listens_joins_all_the_same(browser, demo):
    """The frame's recorder can start first (its config came back sooner): it asks to be
    recorded before the page's recorder listens. The page's invitation reaches it later, and
    what the visitor does in the frame, its error too, is in the page's recording."""
    server, login = demo
    key = server.services.db.one("SELECT site_key FROM sites WHERE is_demo = 1")["site_key"]
    snippet = SNIPPET % {"key": key, "host": server.url}
    with serve_page(PAY_FRAME % {"snippet": snippet}) as frame_url:
        page_html = PAY_PARENT % {"snippet": snippet, "frame_url": frame_url}
        with serve_page(page_html) as page_url, recorded_on(server, login, page_url, frame_url):
            known = known_recordings(server, login)
            context = browser.new_context(viewport={"width": 1000, "height": 700})
            context.add_init_script(JOINED + ASKED)
            from_frame = requests_from_frames(context, "/api/v1/ingest")
            held: list[Any] = []

            def page_config_waits(route: Any) -> None:
                if route.request.frame.parent_frame is None:
                    held.append(route)
                else:
                    route.continue_()

            context.route("**/api/v1/sites/*/config", page_config_waits)
            page = context.new_page()
            with page.expect_request(lambda r: "/config" in r.url and r.frame == page.main_frame):
                page.goto(page_url)
            page.wait_for_function("() => window.frameAsked === true")
            assert len(held) == 1
            held[0].continue_()  # the page's recorder starts only now
            page.wait_for_function("() => window.frameJoined === true")
            inner = page.frame_locator("#pay")
            with page.expect_response(lambda r: delivered(r, b"Payment widget broke")):
                inner.locator("button").click()
            leave(page, server)
            context.close()
            assert from_frame == []
            rec = new_recording(server, login, known, page_url)
    assert [p["url"] for p in rec["pages"]] == [page_url]
    events = events_of(server, login, rec["id"])
    assert "Paid, thank you" in json.dumps(events)
    assert "Payment widget broke" in errors_of(events)


def test_a_page_of_the_site_framed_by_a_page_without_the_snippet_records_itself(browser, demo):
    """Embedded by a page that records nothing (a partner's site), the page records on its
    own, as any page: it neither waits for nor sends to the page above."""
    server, login = demo
    key = server.services.db.one("SELECT site_key FROM sites WHERE is_demo = 1")["site_key"]
    snippet = SNIPPET % {"key": key, "host": server.url}
    with serve_page(PAY_FRAME % {"snippet": snippet}) as frame_url:
        outside = PAY_PARENT % {"snippet": "", "frame_url": frame_url}
        with serve_page(outside) as page_url, recorded_on(server, login, frame_url):
            known = known_recordings(server, login)
            context = browser.new_context(viewport={"width": 1000, "height": 700})
            page = context.new_page()
            page.goto(page_url)
            inner = page.frame_locator("#pay")
            inner.locator("#state").wait_for()
            page.frames[1].wait_for_function("window.footage && window.footage.loaded")
            with page.expect_response(lambda r: delivered(r, b"Payment widget broke")):
                inner.locator("button").click()
            context.close()
            rec = new_recording(server, login, known, frame_url)
    assert [p["url"] for p in rec["pages"]] == [frame_url]
    events = events_of(server, login, rec["id"])
    text = json.dumps(events)
    assert "Inside the pay frame" in text and "Paid, thank you" in text
    assert "Payment widget broke" in errors_of(events)  # on its own timeline


def errors_of(events: list[dict]) -> str:
    """The messages of the JavaScript errors a recording's timeline shows, joined."""
    return " | ".join(
        str((e["data"].get("payload") or {}).get("message"))
        for e in events
        if e["type"] == 5 and e["data"].get("tag") == "footage.error"
    )
