"""Downloads in real Chromium: the HTML file plays from disk with the network cut off, and the
player page's Download menu renders a video with its progress shown."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import log_in
from tests.conftest import PASSWORD
from tests.downloads.recording import account, record, wait_ready

pytestmark = pytest.mark.browser


def test_the_html_download_plays_from_disk_with_no_network_at_all(
    live, browser, tmp_path, artifacts
):
    alice = account(live, "Alice", "https://alice.example")
    with live.client() as http:
        rid = record(http, alice, seconds=4)
        wait_ready(http, alice, rid)
        r = http.get(
            f"/api/v1/recordings/{rid}/download?format=html",
            headers={"Authorization": f"Bearer {alice.api_token}"},
        )
    assert r.status_code == 200
    path = tmp_path / "recording.html"
    path.write_bytes(r.content)
    url = path.as_uri()

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    requests: list[str] = []  # what the page asked for
    context.on("request", lambda request: requests.append(request.url))
    routed: list[str] = []  # what reached the network layer; everything but the file is refused

    def network(route):
        routed.append(route.request.url)
        return route.continue_() if route.request.url == url else route.abort()

    context.route("**/*", network)
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("#player[data-state=ready]", timeout=15_000)
    frame = page.frame_locator("#player iframe")
    assert frame.locator("h1").inner_text(timeout=5000).startswith("Welcome to the shop")
    total = page.evaluate("() => window.footagePlayer.getTotalTime()")
    assert 3900 <= total <= 4100  # the 4 s recorded
    page.click(".fp-big")  # play from the start
    page.wait_for_selector(".fp-overlay-replay", timeout=total + 10_000)  # it finished
    assert page.evaluate("() => window.footagePlayer.getCurrentTime()") == total
    assert frame.locator("h1").inner_text() == "Welcome to the shop · step four"
    assert page.locator(".fp-current").inner_text() == page.locator(".fp-total").inner_text()
    page.screenshot(path=str(artifacts / "download-html-offline.png"))
    # Nothing went out: the file's own policy stopped the recorded site's <img> before any
    # request was made (the browser reports it, blocked), and nothing else was even asked for.
    assert routed == [url]
    assert set(requests) <= {url, "https://images.alice.example/logo.png"}
    assert requests[0] == url
    context.close()


def test_the_download_menu_renders_a_video_with_progress(live, browser, artifacts):
    alice = account(live, "Alice", "https://alice.example")
    with live.client() as http:
        rid = record(http, alice, seconds=12)
        wait_ready(http, alice, rid)
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    page = context.new_page()
    log_in(page, live.url, {"email": "alice@example.com", "password": PASSWORD})
    page.goto(f"{live.url}/recordings/{rid}")
    page.wait_for_selector("#player[data-state=ready]", timeout=15_000)
    page.click(".download > summary")
    menu = page.locator(".download-menu")
    assert menu.is_visible()
    with page.expect_download() as json_file:
        page.click("[data-download-format=json]")
    assert re.fullmatch(r"recording-2026-11-18-\d{4}-.+\.json", json_file.value.suggested_filename)

    page.click("[data-download-video]")
    text = page.locator("[data-download-text]")
    page.wait_for_function(
        "() => /Rendering video… ([1-9]\\d*) %/.test("
        "document.querySelector('[data-download-text]').textContent)",
        timeout=60_000,
    )
    page.screenshot(path=str(artifacts / "download-menu-rendering.png"))
    link = page.locator("[data-download-text] a")
    link.wait_for(timeout=120_000)
    assert text.inner_text() == "Download video (MP4)"
    page.screenshot(path=str(artifacts / "download-menu-ready.png"))
    with page.expect_download() as video:
        link.click()
    assert video.value.suggested_filename.endswith(".mp4")
    assert video.value.path().stat().st_size > 10_000
    context.close()


def test_the_download_menu_cancels_a_render(live, browser, artifacts):
    alice = account(live, "Alice", "https://alice.example")
    with live.client() as http:
        rid = record(http, alice, seconds=60)  # minutes to draw: cancelled long before
        wait_ready(http, alice, rid)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    log_in(page, live.url, {"email": "alice@example.com", "password": PASSWORD})
    page.goto(f"{live.url}/recordings/{rid}")
    page.wait_for_selector("#player[data-state=ready]", timeout=15_000)
    page.click(".download > summary")
    cancel = page.locator("[data-download-cancel]")
    assert cancel.is_hidden()
    page.click("[data-download-video]")  # a POST with the CSRF token, never a GET
    cancel.wait_for(state="visible", timeout=10_000)
    page.screenshot(path=str(artifacts / "download-menu-cancel.png"))
    cancel.click()
    text = page.locator("[data-download-text]")
    page.wait_for_function(
        "() => document.querySelector('[data-download-text]').textContent"
        ".startsWith('The video was cancelled')",
        timeout=15_000,
    )
    assert cancel.is_hidden() and "Click MP4 to render it again" in text.inner_text()
    row = live.services.db.one(
        "SELECT status, error FROM recording_videos WHERE recording_id = :r", {"r": rid}
    )
    assert row["status"] == "failed" and row["error"].startswith("cancelled by user:")
    context.close()
