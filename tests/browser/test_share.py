"""Share links in real Chromium: a visitor of the demo shop tells who they are; the owner
shares the recording from the player's Share dialog; a browser with no cookies plays it
under the page's strict CSP and sees nobody's identity; revoked and expired links are 404;
another account's links reach only that account's recordings."""

from __future__ import annotations

import http.server
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from footage.accounts.service import create_account
from footage.clock import Clock
from footage.demo.account import ensure_demo
from tests.browser.conftest import log_in
from tests.conftest import (
    WAIT_SCALE,
    LiveServer,
    batch,
    free_port,
    full_snapshot,
    gz,
    meta,
    move,
    new_ids,
    settings_for,
    start_server,
    wait_for,
)

pytestmark = pytest.mark.browser

IDENTITY = ("Jane Quokka", "jane.quokka@example.org", "customer-42", "Came from", "newsletter")


class MovableClock(Clock):
    """The wall clock, plus however far the test has moved it (a live server keeps running)."""

    def __init__(self) -> None:
        self.offset_ms = 0

    def now_ms(self) -> int:
        return super().now_ms() + self.offset_ms

    def advance(self, seconds: float) -> None:
        self.offset_ms += int(seconds * 1000)


@pytest.fixture
def demo(
    tmp_path: Path, database_url: str
) -> Iterator[tuple[LiveServer, dict[str, str], MovableClock]]:
    """The demo shop (as start_demo makes it) on both databases, with a clock to move."""
    settings = settings_for(
        tmp_path,
        database_url=database_url,
        port=free_port(),
        background=True,
        demo=True,
        leave_grace_seconds=1.0,
        heartbeat_timeout_seconds=60.0,  # above the recorder's longest silence (start_demo)
        finalizer_interval_seconds=0.2,
    )
    clock = MovableClock()
    server = start_server(settings, clock)
    login = ensure_demo(settings, server.services.db, clock)
    assert login is not None
    yield server, login, clock
    server.stop()


def visit_as_jane(browser: Any, base: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{base}/demo/")
    page.wait_for_function("typeof window.footage === 'function' && !window.footage.q")
    page.evaluate(
        "() => { footage('identify', 'customer-42', "
        "{name: 'Jane Quokka', email: 'jane.quokka@example.org'}); "
        "footage('variables', {source: {label: 'Came from', value: 'newsletter'}}); }"
    )
    page.mouse.move(300, 300)
    page.mouse.move(420, 360, steps=5)
    page.wait_for_timeout(1200)
    page.click(".product:not([hidden]) .add")
    page.mouse.move(500, 300, steps=5)
    page.wait_for_timeout(1200)
    page.close(run_before_unload=True)
    context.close()


def png(width: int, height: int) -> bytes:
    """A small green PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x16\xa3\x4a" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def image_origin(tmp_path: Path) -> Iterator[str]:
    """Another origin serving an image, as a recorded site's CDN would."""
    (tmp_path / "logo.png").write_bytes(png(40, 20))

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(tmp_path), **kwargs)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def page_with_image(ts: int, text: str, image_url: str) -> dict[str, Any]:
    """A full snapshot of a page with a heading and an image from another origin."""
    snapshot = full_snapshot(ts, text)
    body = snapshot["data"]["node"]["childNodes"][0]["childNodes"][0]
    body["childNodes"].append(
        {"type": 2, "tagName": "img", "attributes": {"src": image_url}, "childNodes": [], "id": 5}
    )
    return snapshot


def open_shared(browser: Any, url: str) -> tuple[Any, Any, Any, list[str]]:
    """The link in a fresh browser: no cookies, no login. Returns (context, page, response,
    the console's messages)."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    assert context.cookies() == []
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.on("pageerror", lambda error: console.append(f"page error: {error}"))
    response = page.goto(url)
    return context, page, response, console


def create_in_dialog(page: Any, expires: str, start: str | None = None) -> str:
    page.click("[data-share-open]")
    dialog = page.locator("dialog.share-dialog")
    dialog.wait_for(state="visible")
    page.select_option("select[name=expires_in]", expires)
    if start is None:
        page.click("[data-share-now]")
    else:
        page.fill("input[name=start]", start)
    page.click("dialog.share-dialog button:has-text('Create link')")
    page.wait_for_function("() => document.querySelector('[data-share-url]').value !== ''")
    return str(page.input_value("[data-share-url]"))


def test_share_a_recording_with_someone_who_has_no_login(
    browser: Any, demo: tuple[LiveServer, dict[str, str], MovableClock], artifacts: Path
) -> None:
    server, login, clock = demo
    visit_as_jane(browser, server.url)
    auth = {"Authorization": f"Bearer {login['api_token']}"}
    with server.client(headers=auth) as http:
        [rec] = wait_for(lambda: http.get("/api/v1/recordings").json()["items"], timeout=40)
    assert rec["visitor"]["name"] == "Jane Quokka"  # the identity is there to leak

    # The owner shares the recording from the player, starting where the player stands.
    owner = browser.new_context(viewport={"width": 1440, "height": 900})
    page = owner.new_page()
    log_in(page, server.url, login)
    page.goto(f"{server.url}/recordings/{rec['id']}")
    page.wait_for_selector("#player[data-state=ready]", timeout=15_000)
    page.evaluate("() => window.footagePlayer.seek(1000)")
    url = create_in_dialog(page, "7d")
    assert url.startswith(f"{server.url}/share/")
    dialog = page.locator("dialog.share-dialog")
    assert "may contain personal data of the visitor" in dialog.inner_text()
    # The list of active links is fetched again after the link appears.
    expect(page.locator("table.share-links tbody tr")).to_have_count(1, timeout=10_000 * WAIT_SCALE)
    assert login["email"] in page.locator("table.share-links tbody tr").inner_text()
    page.screenshot(path=str(artifacts / "share-dialog.png"))
    page.click("[data-share-close]")

    # Someone without an account opens it: the replay renders under the page's CSP.
    context, shared, response, console = open_shared(browser, url)
    assert response.status == 200
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert response.headers["referrer-policy"] == "no-referrer"
    shared.wait_for_selector("#player[data-state=ready]", timeout=15_000)
    assert shared.get_attribute("#player", "data-start-ms") == "1000"
    frame = shared.frame_locator("#player iframe")
    assert "Trailhead" in frame.locator("header").inner_text(timeout=10_000)
    assert frame.locator(".product").count() > 0
    shared.click("button[aria-label='Play recording']")
    wait_for(lambda: shared.evaluate("() => window.footagePlayer.getCurrentTime()") > 1500)
    html = shared.content()
    frame_html = shared.frames[1].content()
    for secret in IDENTITY + (rec["visitor"]["id"], rec["id"], login["email"]):
        assert secret not in html, secret
        assert secret not in frame_html, secret
    assert shared.title() == "Shared recording"
    assert not [m for m in console if "Content Security Policy" in m or "page error" in m], console
    shared.screenshot(path=str(artifacts / "share-page.png"), full_page=True)
    context.close()

    # The dialog counts the view; Revoke ends the link at once.
    page.reload()
    page.click("[data-share-open]")
    row = page.locator("table.share-links tbody tr")
    row.wait_for()
    cells = row.locator("td").all_inner_texts()
    assert cells[2] == "0:01" and cells[3] == "1" and cells[4].endswith("UTC")
    page.click("table.share-links button:has-text('Revoke')")
    page.locator("[data-share-empty]").wait_for(state="visible")
    assert page.locator("table.share-links").is_hidden()
    context, shared, response, _ = open_shared(browser, url)
    assert response.status == 404
    assert "This link does not work" in shared.inner_text("body")
    context.close()

    # A link that expires in an hour works until the clock passes that hour.
    page.click("[data-share-close]")
    hourly = create_in_dialog(page, "1h", start="0:00")
    context, shared, response, _ = open_shared(browser, hourly)
    assert response.status == 200
    shared.wait_for_selector("#player[data-state=ready]", timeout=15_000)
    context.close()
    clock.advance(3600)
    context, shared, response, _ = open_shared(browser, hourly)
    assert response.status == 404
    assert "This link does not work" in shared.inner_text("body")
    context.close()
    owner.close()


def test_another_accounts_links_reach_only_its_own_recordings(
    browser: Any, demo: tuple[LiveServer, dict[str, str], MovableClock], image_origin: str
) -> None:
    server, login, clock = demo
    visit_as_jane(browser, server.url)
    bob = create_account(
        server.services.db,
        clock,
        name="Bob",
        plan="pro",
        email="bob@example.com",
        password="correct horse battery",
        site_url="https://bob.example",
    )
    t = clock.now_ms()
    snapshot = page_with_image(t + 1, "Bob's page", f"{image_origin}/logo.png")
    events = [meta(t, "https://bob.example/"), snapshot, move(t + 900)]
    with server.client() as http:
        r = http.post(
            "/api/v1/ingest",
            content=gz(batch(bob.site_key, new_ids(), 0, events, "https://bob.example/", True)),
            headers={"Origin": "https://bob.example", "Content-Type": "text/plain"},
        )
        assert r.status_code == 200, r.text
    alice_api = server.client(headers={"Authorization": f"Bearer {login['api_token']}"})
    bob_api = server.client(headers={"Authorization": f"Bearer {bob.api_token}"})
    with alice_api, bob_api:
        [a_rec] = wait_for(lambda: alice_api.get("/api/v1/recordings").json()["items"], 40)
        [b_rec] = wait_for(lambda: bob_api.get("/api/v1/recordings").json()["items"], 40)
        # Bob cannot make a link to Alice's recording ...
        r = bob_api.post(f"/api/v1/recordings/{a_rec['id']}/share-links", json={"expires_in": "1h"})
        assert r.status_code == 404
        # ... and his own link opens his recording only.
        r = bob_api.post(f"/api/v1/recordings/{b_rec['id']}/share-links", json={"expires_in": "1h"})
        assert r.status_code == 201
        bobs_link = r.json()["url"]
    context, shared, response, console = open_shared(browser, bobs_link)
    assert response.status == 200
    shared.wait_for_selector("#player[data-state=ready]", timeout=15_000)
    replay = shared.frame_locator("#player iframe")
    assert "Bob's page" in replay.locator("body").inner_text()
    # The recorded page's image comes from its own origin, and the page's CSP lets it in.
    replay.locator("img").wait_for()
    wait_for(lambda: replay.locator("img").evaluate("img => img.naturalWidth") == 40)
    assert not [m for m in console if "Content Security Policy" in m], console
    assert "Trailhead" not in shared.frames[1].content()
    # Nothing in the token space of Bob's link leads to Alice's recording.
    for path in (
        f"/share/{a_rec['id']}",
        f"/share/{bob.api_token}",
        f"/share/{bobs_link.rsplit('/', 1)[1]}/../{a_rec['id']}",
        f"/recordings/{a_rec['id']}/events.json",
    ):
        r = shared.request.get(server.url + path)
        assert r.status in (401, 404), path
        assert "Trailhead" not in r.text()
    context.close()
