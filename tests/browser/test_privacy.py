"""Privacy in real Chromium: what a visitor types and sees never reaches storage unless the
site records it, and excluded browsers send nothing at all (counted at the network level)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import zstandard

from tests.browser.conftest import leave, log_in, start_demo
from tests.conftest import LiveServer, wait_for

pytestmark = pytest.mark.browser

DEFAULTS = {
    "recording_enabled": True,
    "record_mobile": True,
    "record_canvas": True,
    "record_forms": False,
    "record_numbers": False,
    "record_emails": False,
    "record_ips": False,
    "excluded_pages": [],
    "excluded_visitors": [],
    "respect_do_not_track": False,
    "require_consent": False,
}
RECORDER_POSTS = ("/api/v1/ingest", "/api/v1/heartbeat")
# A phone as Playwright emulates it (user agent, small touch screen, mobile viewport).
PHONE = {
    "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    "viewport": {"width": 390, "height": 664},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
}
TYPED = {
    "#name": "Jane Quokka",
    "#email": "jane.quokka@example.org",
    "#phone": "+1 555 013 9876",
    "#password": "hunter2-Zebra",
    "#card": "4111111111111111",
    "#about": "Please call me at 0711 998877",
}
# What must not be stored with the default settings: typed values, and e-mail addresses and
# numbers shown on the page (digit groups split by spaces or dashes cannot occur by chance
# inside the timestamps and coordinates of the events).
SECRETS = [
    "Jane Quokka",
    "jane.quokka",
    "555 013 9876",
    "hunter2",
    "4111111111111111",
    "call me at",
    "0711 998877",
    "help@trailhead-demo",
    "555 0142",
    "4711-0815",
    "ref-7391",
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    server, login = start_demo(tmp_path_factory.mktemp("privacy"))
    yield server, login
    server.stop()


def configure(server: LiveServer, login: dict[str, str], **changes: Any) -> None:
    """Set the demo site's settings: the defaults, plus `changes`."""
    auth = {"Authorization": f"Bearer {login['api_token']}"}
    with server.client(headers=auth) as http:
        site = http.get("/api/v1/sites").json()["items"][0]
        r = http.patch(f"/api/v1/sites/{site['id']}/settings", json={**DEFAULTS, **changes})
        assert r.status_code == 200, r.text


def recorder_requests(
    browser: Any,
    url: str,
    act: Callable[[Any], None] | None = None,
    init_script: str | None = None,
    **context_options: Any,
) -> int:
    """Open `url`, behave like a visitor, leave; how many ingest/heartbeat requests were sent."""
    context_options.setdefault("viewport", {"width": 1280, "height": 800})
    context = browser.new_context(**context_options)
    if init_script:
        context.add_init_script(init_script)
    sent: list[str] = []
    context.on("request", lambda r: sent.append(r.url) if r.url.endswith(RECORDER_POSTS) else None)
    page = context.new_page()
    with page.expect_response(lambda r: "/config" in r.url):
        page.goto(url)
    page.wait_for_function("typeof window.footage === 'function' && window.footage.loaded")
    (act or visit)(page)
    page.wait_for_timeout(2000)  # the first batch goes out ~1 s after the first activity
    page.close(run_before_unload=True)  # the leave beacon, if anything was recorded
    context.close()
    return len(sent)


def visit(page: Any) -> None:
    """Move, click and scroll without leaving the page (the heading is no link)."""
    page.mouse.move(300, 300)
    page.mouse.move(420, 360, steps=5)
    page.click("h1")
    page.mouse.wheel(0, 200)


def fill_signup(page: Any) -> None:
    visit(page)
    for selector, text in TYPED.items():
        page.click(selector)
        page.keyboard.type(text, delay=5)
    page.select_option("#plan", "gold")
    page.click("h1")


def new_recording(server: LiveServer, login: dict[str, str], known: set[str], path: str) -> dict:
    """The recording that became ready after `known` was taken and has a page at `path`
    (recordings of earlier tests may still be finishing)."""
    auth = {"Authorization": f"Bearer {login['api_token']}"}

    def find() -> dict | None:
        with server.client(headers=auth) as http:
            items = http.get("/api/v1/recordings?limit=200").json()["items"]
        return next(
            (
                r
                for r in items
                if r["id"] not in known and any(p["url"].endswith(path) for p in r["pages"])
            ),
            None,
        )

    return wait_for(find, timeout=30)


def events_of(server: LiveServer, login: dict[str, str], recording_id: str) -> list[dict]:
    auth = {"Authorization": f"Bearer {login['api_token']}"}
    with server.client(headers=auth) as http:
        return http.get(f"/api/v1/recordings/{recording_id}/events").json()


def every_stored_byte(data_dir: Path) -> bytes:
    """The data dir as plain bytes: every blob decompressed, the database files as they are."""
    out = bytearray()
    for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        raw = path.read_bytes()
        if path.suffix == ".zst":
            reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
            raw = reader.read()
        out += raw
    return bytes(out)


def test_nothing_typed_or_shown_that_the_site_excludes_is_stored(browser, demo):
    server, login = demo
    configure(server, login)
    known = known_recordings(server, login)
    assert recorder_requests(browser, f"{server.url}/demo/signup", fill_signup) > 0
    rec = new_recording(server, login, known, "/demo/signup")
    events = events_of(server, login, rec["id"])
    text = json.dumps(events, ensure_ascii=False)

    assert "Create your Trailhead account" in text  # the page itself is recorded
    typed = [e["data"]["text"] for e in events if e["type"] == 3 and e["data"]["source"] == 5]
    assert len(typed) >= len(TYPED) + 1  # every field's typing (and the select) is there
    assert all(set(t) <= {"*"} for t in typed), typed
    for secret in SECRETS:
        assert secret not in text, secret
    # Not in any byte Footage stored: blobs (decompressed) and the database files.
    stored = every_stored_byte(server.services.settings.data_path)
    assert b"Create your Trailhead account" in stored
    for secret in SECRETS:
        assert secret.encode() not in stored, secret


def known_recordings(server: LiveServer, login: dict[str, str]) -> set[str]:
    auth = {"Authorization": f"Bearer {login['api_token']}"}
    with server.client(headers=auth) as http:
        return {r["id"] for r in http.get("/api/v1/recordings?limit=200").json()["items"]}


def test_with_typed_text_recorded_the_password_still_is_not(browser, demo):
    server, login = demo
    configure(server, login, record_forms=True)
    known = known_recordings(server, login)
    recorder_requests(browser, f"{server.url}/demo/signup", fill_signup)
    rec = new_recording(server, login, known, "/demo/signup")
    text = json.dumps(events_of(server, login, rec["id"]), ensure_ascii=False)
    assert "Jane Quokka" in text  # typed, and the site records typing
    assert "hunter2" not in text  # a password, never
    assert "4111111111111111" not in text  # numbers are still masked
    assert "jane.quokka@example.org" not in text  # and e-mail addresses too
    assert "Please call me at" in text


def consent_then_visit(page: Any) -> None:
    visit(page)
    page.wait_for_timeout(1500)
    page.evaluate("footage('consent', true)")
    visit(page)


HIDDEN_PAGE = (
    "window.footage = function () { (footage.q = footage.q || []).push(arguments); };"
    "footage('recording:disable', true);"
)
GPC = "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true});"


@pytest.mark.parametrize(
    ("settings", "path", "options"),
    [
        ({"recording_enabled": False}, "/demo/", {}),
        ({"record_mobile": False}, "/demo/", PHONE),
        ({"excluded_pages": ["/demo/product/*"]}, "/demo/product/wool-socks", {}),
        ({"excluded_pages": ["re:wool-socks$"]}, "/demo/product/wool-socks", {}),
        ({"excluded_visitors": ["127.0.0.0/8"]}, "/demo/", {}),
        ({"respect_do_not_track": True}, "/demo/", {"extra_http_headers": {"DNT": "1"}}),
        ({"respect_do_not_track": True}, "/demo/", {"init_script": GPC}),
        ({"require_consent": True}, "/demo/", {}),
        ({}, "/demo/", {"init_script": HIDDEN_PAGE}),
    ],
    ids=[
        "recording-off",
        "mobile-off",
        "excluded-page",
        "excluded-page-regex",
        "excluded-ip",
        "do-not-track",
        "global-privacy-control",
        "no-consent",
        "recording-disable-call",
    ],
)
def test_excluded_browsers_send_nothing(browser, demo, settings, path, options):
    server, login = demo
    options = dict(options)
    configure(server, login, **settings)
    assert recorder_requests(browser, f"{server.url}{path}", **options) == 0
    # The same visit with the defaults is recorded: the count above could have been > 0.
    configure(server, login)
    options.pop("extra_http_headers", None)
    options.pop("init_script", None)
    assert recorder_requests(browser, f"{server.url}{path}", **options) > 0


def test_visitor_exclude_is_remembered_and_consent_starts_recording(browser, demo):
    server, login = demo
    configure(server, login)
    context = browser.new_context()
    sent: list[str] = []
    context.on("request", lambda r: sent.append(r.url) if "/api/v1/ingest" in r.url else None)
    page = context.new_page()
    page.goto(f"{server.url}/demo/")
    page.wait_for_function("typeof window.footage === 'function' && window.footage.loaded")
    page.evaluate("footage('visitor:exclude', true)")
    visit(page)
    page.goto(f"{server.url}/demo/product/wool-socks")  # a new page load: still excluded
    page.wait_for_function("typeof window.footage === 'function' && window.footage.loaded")
    visit(page)
    page.wait_for_timeout(2000)
    assert sent == []
    page.evaluate("footage('visitor:exclude', false)")
    with page.expect_request(lambda r: r.url.endswith("/api/v1/ingest"), timeout=10_000):
        visit(page)
    context.close()

    # Consent: nothing before footage('consent', true), recording right after it.
    configure(server, login, require_consent=True)
    assert recorder_requests(browser, f"{server.url}/demo/", consent_then_visit) > 0


LAB_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Lab</title>
<script>
  window.footage = window.footage || function () { (footage.q = footage.q || []).push(arguments); };
  footage('init', '%(key)s', { host: '%(host)s' });
</script>
<script async src="%(host)s/footage.js"></script></head>
<body style="font: 16px sans-serif; margin: 20px">
<h1>Privacy lab</h1>
<p><input id="plain" placeholder="Plain field"></p>
<form data-recording-ignore="mask"><input id="promo" placeholder="Promo code"></form>
<div data-recording-ignore="events" style="padding: 10px; background: #eee">
  <button id="staff" type="button">Staff only</button> <input id="staff-note">
</div>
<section data-recording-block style="width: 300px; height: 120px; background: #fde">
  Invoice for Quentin Quokka
</section>
<div id="notes" contenteditable="true" style="border: 1px solid #999; min-height: 40px"></div>
<img id="photo" alt="Photo of lab.alt@example.com, 555 0177" title="Call 555 0188" width="10"
  height="10" src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
<span aria-label="aria.lab@example.com">x</span>
</body></html>"""


def visit_lab(page: Any) -> None:
    visit(page)
    page.click("#plain")
    page.keyboard.type("Plain Penguin")
    page.click("#promo")
    page.keyboard.type("SECRETPROMO")
    page.click("#staff")
    page.click("#staff-note")
    page.keyboard.type("StaffNote")
    page.click("#notes")
    page.keyboard.type("Editable Emu")
    page.click("h1")


def test_page_attributes_mask_ignore_and_block(browser, demo, artifacts):
    server, login = demo
    configure(server, login, record_forms=True)
    site_key = server.services.db.one("SELECT site_key FROM sites WHERE is_demo = 1")["site_key"]
    html = LAB_PAGE % {"key": site_key, "host": server.url}
    known = known_recordings(server, login)

    context = browser.new_context(viewport={"width": 1000, "height": 700})
    context.route("**/demo/lab", lambda route: route.fulfill(body=html, content_type="text/html"))
    page = context.new_page()
    page.goto(f"{server.url}/demo/lab")
    page.wait_for_function("typeof window.footage === 'function' && window.footage.loaded")
    visit_lab(page)
    leave(page, server)  # the last keys typed go in the leave beacon
    context.close()

    rec = new_recording(server, login, known, "/demo/lab")
    events = events_of(server, login, rec["id"])
    text = json.dumps(events, ensure_ascii=False)
    snapshot = next(e for e in events if e["type"] == 2)
    nodes = {n["id"]: n for n in walk(snapshot["data"]["node"])}
    by_dom_id = {
        n["attributes"]["id"]: n["id"]
        for n in nodes.values()
        if n.get("type") == 2 and "id" in n.get("attributes", {})
    }

    assert "Plain Penguin" in text  # the site records typing…
    assert "SECRETPROMO" not in text  # …but not inside data-recording-ignore="mask"
    # Nothing inside data-recording-ignore="events": no clicks, no typing.
    ignored = {by_dom_id["staff"], by_dom_id["staff-note"]}
    touched = {
        e["data"].get("id") for e in events if e["type"] == 3 and e["data"]["source"] in (2, 5)
    }
    assert not ignored & touched and by_dom_id["plain"] in touched
    assert "StaffNote" not in text
    # data-recording-block: not recorded, replayed as a placeholder of the same size.
    block = next(
        n for n in nodes.values() if n.get("type") == 2 and "rr_width" in n.get("attributes", {})
    )
    assert (
        block["attributes"]["rr_width"] == "300px" and block["attributes"]["rr_height"] == "120px"
    )
    assert block["childNodes"] == [] and "Quentin" not in text
    # Typed into a contenteditable area: typing is recorded on this site, so it is kept…
    assert "Editable Emu" in text
    # …and attributes lose their e-mails and numbers.
    for secret in ("lab.alt@", "555 0177", "555 0188", "aria.lab@"):
        assert secret not in text, secret

    # The owner sees the masked replay in the player.
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    log_in(page, server.url, login)
    page.goto(f"{server.url}/recordings/{rec['id']}")
    page.wait_for_selector("#player[data-state=ready]", timeout=15_000)
    page.evaluate("() => window.footagePlayer.seek(window.footagePlayer.getTotalTime())")
    page.wait_for_timeout(500)
    page.screenshot(path=str(artifacts / "privacy-player.png"))
    context.close()


def walk(node: dict) -> Iterator[dict]:
    yield node
    for child in node.get("childNodes", []):
        yield from walk(child)
