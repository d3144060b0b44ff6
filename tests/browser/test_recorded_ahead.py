"""The page is recorded ahead, in idle time, and sent only once the visitor is active.

The full snapshot of a large page is the recorder's costliest step. Taken inside the
visitor's first input, it delays that input; so the recorder takes it when the browser is
idle after load, holds the page view in memory and sends nothing until the first activity.
A page only loaded still sends nothing, and a page that changes a lot before anyone acts
does not grow the hold without bound.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import carries, delivered, leave, start_demo
from tests.browser.test_privacy import events_of, known_recordings, new_recording
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Catalogue</title>
<script>
  window.footage = window.footage || function () { (footage.q = footage.q || []).push(arguments); };
  footage('init', '%(key)s', { host: '%(host)s' });
</script>
<script async src="%(host)s/footage.js"></script></head>
<body style="font: 14px sans-serif">
<h1>Catalogue</h1>
<div id="items"></div>
<script>
  const items = document.getElementById('items');
  for (let i = 0; i < %(items)d; i++) {
    const card = document.createElement('div');
    card.innerHTML = '<h3>Item ' + i + '</h3><p>A fine thing</p><button>Add</button>';
    items.appendChild(card);
  }
  %(script)s
</script>
</body></html>"""

# Waits until every idle callback queued before this one has run (they run in order): the
# recorder queued its hold when the config arrived, before the test queues this.
AFTER_IDLE = "() => new Promise(r => requestIdleCallback(() => requestIdleCallback(() => r())))"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    server, login = start_demo(tmp_path_factory.mktemp("ahead"))
    yield server, login
    server.stop()


def catalogue(server: LiveServer, items: int, script: str = "") -> str:
    """A page of `items` cards with the demo site's snippet."""
    site_key = server.services.db.one("SELECT site_key FROM sites WHERE is_demo = 1")["site_key"]
    return PAGE % {"key": site_key, "host": server.url, "items": items, "script": script}


def open_page(browser: Any, server: LiveServer, path: str, items: int, script: str = "") -> Any:
    """A fresh context showing a page of `items` cards with the snippet; returns (context,
    page, the recorder's requests to the ingest endpoint)."""
    html = catalogue(server, items, script)
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    context.route(f"**{path}", lambda route: route.fulfill(body=html, content_type="text/html"))
    sent: list[Any] = []
    context.on("request", lambda r: sent.append(r) if r.url.endswith("/api/v1/ingest") else None)
    page = context.new_page()
    with page.expect_response(lambda r: "/config" in r.url):
        page.goto(f"{server.url}{path}")
    page.wait_for_function("typeof window.footage === 'function' && window.footage.loaded")
    page.evaluate(AFTER_IDLE)
    return context, page, sent


def test_the_snapshot_is_taken_before_the_first_input_and_sent_after_it(browser, demo):
    server, login = demo
    known = known_recordings(server, login)
    context, page, sent = open_page(browser, server, "/demo/ahead", items=1500)
    assert sent == []  # recorded ahead, nothing sent before the visitor does anything
    page.evaluate("() => document.querySelector('h1').textContent = 'Catalogue, changed'")
    page.evaluate(AFTER_IDLE)
    assert sent == []
    before_input = page.evaluate("Date.now()")
    page.mouse.move(200, 200, steps=3)
    page.click("#items button")
    leave(page, server)
    context.close()

    rec = new_recording(server, login, known, "/demo/ahead")
    events = events_of(server, login, rec["id"])
    snapshots = [e for e in events if e["type"] == 2]
    assert len(snapshots) == 1
    # Taken in idle time after load, before the first input…
    assert snapshots[0]["timestamp"] < before_input
    # …and the change made while the page was held is in the recording.
    assert "Catalogue, changed" in json.dumps(events)
    assert any(e["type"] == 3 and e["data"]["source"] == 2 for e in events)  # the click


def test_a_page_only_loaded_sends_nothing(browser, demo):
    server, _ = demo
    context, page, sent = open_page(browser, server, "/demo/idle", items=200)
    page.evaluate("() => document.querySelector('h1').textContent = 'Still nobody'")
    page.evaluate(AFTER_IDLE)
    with page.expect_event("close"):
        page.close(run_before_unload=True)
    context.close()
    # A visitor who acts on another page afterwards: once that page's leave is stored, a
    # beacon of the first page, had there been one, would have arrived before it.
    context, page, _ = open_page(browser, server, "/demo/acted", items=10)
    page.mouse.move(200, 200, steps=3)
    leave(page, server)
    context.close()
    assert sent == []
    urls = [r["url"] for r in server.services.db.all("SELECT url FROM recording_pages")]
    assert any(u.endswith("/demo/acted") for u in urls)
    assert not any(u.endswith("/demo/idle") for u in urls)


def test_a_page_changing_a_lot_before_anyone_acts_is_taken_again(browser, demo):
    """6 MB of changes before the first input (a 300 KB text replaced 20 times): the hold
    (4 MB at most) is dropped and the page taken again, so what is sent is the page as it is,
    not every change since load."""
    server, login = demo
    known = known_recordings(server, login)
    churn = """
      window.churn = () => {
        let n = 0;
        const block = 'x'.repeat(300000);
        const p = document.createElement('p');
        document.body.appendChild(p);
        const timer = setInterval(() => {
          p.textContent = 'Block ' + String.fromCharCode(65 + n) + ' ' + block;
          if (++n === 20) { clearInterval(timer); window.churned = true; }
        }, 30);
      };
    """
    context, page, sent = open_page(browser, server, "/demo/churning", items=10, script=churn)
    page.evaluate("() => window.churn()")  # after the page is held
    page.wait_for_function("window.churned === true")
    page.evaluate(AFTER_IDLE)
    page.evaluate(AFTER_IDLE)
    assert sent == []
    # The visitor stays until the batch with the last text is stored: what a tab closed at
    # once cannot send by beacon (64 KB at most) may be lost, and that is not what is tested.
    with page.expect_response(lambda r: delivered(r, b"Block T")):
        page.mouse.move(200, 200, steps=3)
        page.click("#items button")
    leave(page, server)
    context.close()

    rec = new_recording(server, login, known, "/demo/churning")
    text = json.dumps(events_of(server, login, rec["id"]))
    assert "Block T" in text  # the page as the visitor saw it (the 20th text)…
    assert len(text) < 4_500_000  # …without the 6 MB of changes that came before


def test_what_the_first_activity_itself_records_is_kept(browser, demo):
    """A site event and an error raised by the page's own handler of the visitor's very first
    input, the one that releases the page view held ahead, are in the recording, and so is a
    visit that ends with that input."""
    server, login = demo
    known = known_recordings(server, login)
    handler = """
      document.addEventListener('keydown', () => {
        footage('event', 'first_key', {key: 'a'});
        throw new Error('first key broke');
      }, {once: true});
    """
    context, page, sent = open_page(browser, server, "/demo/first-key", items=20, script=handler)
    assert sent == []
    page.keyboard.press("a")
    leave(page, server)  # at once
    context.close()

    rec = new_recording(server, login, known, "/demo/first-key")
    events = events_of(server, login, rec["id"])
    custom = [e["data"] for e in events if e["type"] == 5]
    assert any(d["tag"] == "footage.event" and d["payload"]["name"] == "first_key" for d in custom)
    assert any(
        d["tag"] == "footage.error" and "first key broke" in d["payload"]["message"] for d in custom
    )
    assert len([e for e in events if e["type"] == 2]) == 1


def test_a_page_in_design_mode_is_recorded_as_typed_text(browser, demo):
    """`document.designMode = 'on'` makes the whole page an editable area: its text is what
    the visitor types, masked like a field's (typed text is not recorded by default)."""
    server, login = demo
    known = known_recordings(server, login)
    script = "document.designMode = 'on';"
    context, page, _ = open_page(browser, server, "/demo/design", items=3, script=script)
    page.mouse.move(200, 200, steps=3)
    page.keyboard.type("secret")
    leave(page, server)
    context.close()

    rec = new_recording(server, login, known, "/demo/design")
    text = json.dumps(events_of(server, login, rec["id"]))
    assert "A fine thing" not in text and "Catalogue" not in text and "secret" not in text
    assert "*" * len("A fine thing") in text


def test_the_next_page_of_a_visit_sends_its_first_batch_at_once(browser, demo):
    """The server finishes a recording whose pages were all left (after its leave grace, a
    second here, counted from the last batch): the page the visitor goes on to sends its
    first batch as soon as its snapshot is masked, not after the 800 ms a first page waits to
    gather its first moves. The page's clock is stopped, so only what the recorder does
    without waiting can send anything."""
    server, login = demo
    known = known_recordings(server, login)
    context, page, sent = open_page(browser, server, "/demo/first", items=10)
    with page.expect_response(lambda r: r.url.endswith("/api/v1/ingest")):
        page.mouse.move(200, 200, steps=3)
    html = catalogue(server, 10)
    context.route(
        "**/demo/second", lambda route: route.fulfill(body=html, content_type="text/html")
    )
    page.clock.install()
    page.clock.pause_at(page.evaluate("Date.now()") / 1000 + 1)  # seconds
    sent.clear()
    with page.expect_response(lambda r: "/config" in r.url):
        page.goto(f"{server.url}/demo/second")
    # (No waiting in the page: its timers and frames are stopped.)
    assert page.evaluate("() => window.footage.loaded")
    assert not [r for r in sent if carries(r, b"/demo/second")]
    with page.expect_request(lambda r: carries(r, b"/demo/second"), timeout=15_000):
        page.clock.run_for(200)  # a few frames: the snapshot is masked after the next paint
    leave(page, server)
    context.close()

    rec = new_recording(server, login, known, "/demo/first")
    urls = [
        p["url"]
        for p in server.services.db.all(
            "SELECT url FROM recording_pages WHERE recording_id = :r", {"r": rec["id"]}
        )
    ]
    assert any(u.endswith("/demo/second") for u in urls)


# Every element added to the document, from before any of the page's scripts runs.
WATCH_ADDED = """
window.addedElements = [];
new MutationObserver((records) => {
  for (const record of records) {
    for (const node of record.addedNodes) {
      if (node.nodeType === 1) window.addedElements.push(node.localName);
    }
  }
}).observe(document, { childList: true, subtree: true });
"""


def test_recording_a_page_adds_no_frame_to_it(browser, demo):
    """rrweb, as published, takes clean copies of the DOM's prototypes from an iframe it adds
    to the page and removes at once, because it checks two methods of Element as getters
    (web/build.mjs). A page that patched nothing gets no iframe from Footage: the visitor's
    page does not build a second document while its snapshot is taken."""
    server, _ = demo
    html = catalogue(server, 50)
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    context.add_init_script(WATCH_ADDED)
    context.route("**/demo/frameless", lambda r: r.fulfill(body=html, content_type="text/html"))
    page = context.new_page()
    with page.expect_response(lambda r: "/config" in r.url):
        page.goto(f"{server.url}/demo/frameless")
    page.wait_for_function("typeof window.footage === 'function' && window.footage.loaded")
    page.evaluate(AFTER_IDLE)
    with page.expect_request(lambda r: carries(r, b'"type":2')):  # the full snapshot
        page.mouse.move(200, 200, steps=3)
    page.click("#items button")
    added = page.evaluate("() => window.addedElements")
    context.close()
    assert added.count("div") >= 50  # the watch saw the page's own cards added
    assert "iframe" not in added


def test_the_config_is_not_asked_for_from_the_scripts_first_run(browser, demo):
    """Where DevTools is attached, the browser keeps the script stack of every request. Asked
    for from footage.js's first run, that stack held the whole file (its top level and the
    function around all of it), which V8 then parsed again to place it: ~11 ms of the page's
    main thread in the benchmark. The config is asked for from a microtask instead."""
    server, _ = demo
    html = catalogue(server, 10)
    context = browser.new_context()
    context.route("**/demo/stack", lambda r: r.fulfill(body=html, content_type="text/html"))
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    stacks: list[list[dict[str, Any]]] = []
    cdp.on(
        "Network.requestWillBeSent",
        lambda e: (
            stacks.append(e["initiator"].get("stack", {}).get("callFrames", []))
            if "/config" in e["request"]["url"]
            else None
        ),
    )
    cdp.send("Network.enable")
    with page.expect_response(lambda r: "/config" in r.url):
        page.goto(f"{server.url}/demo/stack")
    context.close()
    assert len(stacks) == 1 and stacks[0], stacks
    frames = [f for f in stacks[0] if f["url"].endswith("/footage.js")]
    assert frames == stacks[0]  # asked for by the recorder itself
    # Anonymous frames are the file's top level and the function that wraps all of it.
    assert all(f["functionName"] for f in frames), frames
