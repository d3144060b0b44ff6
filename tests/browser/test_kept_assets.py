"""A replay shows the site as the visitor saw it, after the site changed.

While the visitor is on the page, Footage copies the stylesheet, images and web font it used
(from the site's allowed origins only); the player shows those copies. The site then deploys
a new design, swaps its photo and deletes its font and background image: the replay,
screenshotted at the moment of the live screenshot, still matches the live page.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.assets.site import png, serve_site
from tests.browser.conftest import (
    delivered,
    leave,
    open_player,
    open_recorded,
    similarity,
    start_demo,
)
from tests.browser.test_frames import SNIPPET, recorded_on
from tests.browser.test_privacy import known_recordings, new_recording
from tests.conftest import wait_for

pytestmark = pytest.mark.browser

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf")
PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Wool socks</title>
<link rel="stylesheet" href="/style.css">%(snippet)s</head>
<body><h1>Wool socks</h1><img id="photo" src="/photo.png" width="300" height="150">
<div id="band"></div><button id="buy">Buy</button></body></html>"""
STYLE = """@font-face { font-family: Kept; src: url(/kept.ttf) format("truetype"); }
body { margin: 0; background: %(background)s; }
h1 { margin: 0; height: 90px; font: 64px Kept, serif; color: #222; }
#band { width: 500px; height: 120px; background: url(/band.png); }
button { font-size: 20px; }"""


@pytest.fixture(scope="module")
def kept(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, dict[str, str]]]:
    """A demo server that may copy assets from loopback (the test site lives there)."""
    server, login = start_demo(tmp_path_factory.mktemp("kept"), asset_private_addresses=True)
    yield server, login
    server.stop()


def test_the_replay_shows_the_site_as_it_was_after_it_changed(browser, kept, artifacts):
    server, login = kept
    db = server.services.db
    key = db.one("SELECT site_key FROM sites WHERE is_demo = 1")["site_key"]
    snippet = SNIPPET % {"key": key, "host": server.url}
    files = {
        "/page": ("text/html; charset=utf-8", (PAGE % {"snippet": snippet}).encode()),
        "/style.css": ("text/css", (STYLE % {"background": "#f4e3c1"}).encode()),
        "/photo.png": ("image/png", png(300, 150, (200, 30, 40))),
        "/band.png": ("image/png", png(10, 10, (30, 160, 60))),
        "/kept.ttf": ("font/ttf", FONT.read_bytes()),
    }
    with serve_site(files) as origin, recorded_on(server, login, f"{origin}/page"):
        known = known_recordings(server, login)
        context = browser.new_context(viewport={"width": 800, "height": 500})
        page = open_recorded(context, f"{origin}/page")
        page.evaluate("document.fonts.ready.then(() => document.fonts.check('64px Kept'))")
        live = page.screenshot()
        with page.expect_response(lambda r: delivered(r, b"Wool socks")):
            page.click("#buy")
        # The copies are taken while the visitor is still on the page.
        stored = "SELECT count(*) AS n FROM site_assets WHERE url LIKE :o AND state = 'stored'"
        wait_for(lambda: db.one(stored, {"o": f"{origin}/%"})["n"] >= 3, timeout=30)
        leave(page, server)
        context.close()
        rec = new_recording(server, login, known, "/page")

        # The site deploys a new design: another background, another photo, no font, no band.
        files["/style.css"] = ("text/css", (STYLE % {"background": "#203040"}).encode())
        files["/photo.png"] = ("image/png", png(300, 150, (20, 60, 220)))
        del files["/kept.ttf"], files["/band.png"]
        visitor = browser.new_context(
            viewport={"width": 800, "height": 500}, java_script_enabled=False
        )
        now = visitor.new_page()
        now.goto(f"{origin}/page")
        live_now = now.screenshot()
        visitor.close()

    player = open_player(browser, server, login, rec["id"])
    try:
        player.add_style_tag(content=".fp-overlay, .replayer-mouse { display: none !important; }")
        replay = player.frame_locator("#player iframe")
        replay.locator("#photo").wait_for()
        player.wait_for_function(
            """() => {
              const doc = document.querySelector('#player iframe').contentDocument;
              const photo = doc.querySelector('#photo');
              return photo && photo.complete && photo.naturalWidth > 0
                && doc.fonts.check('64px Kept');
            }"""
        )
        shown = player.locator("#player iframe").screenshot()
        photo = replay.locator("#photo").get_attribute("src") or ""
        player.screenshot(path=str(artifacts / "kept-assets-player.png"))
        (artifacts / "kept-assets-live-now.png").write_bytes(live_now)
        changed = similarity(player, live, live_now)
        kept_copy = similarity(player, live, shown)
    finally:
        player.context.close()
    assert photo.startswith(f"{server.url}/site-assets/{key}/"), photo
    assert changed < 0.9, f"the site did not change enough to tell ({changed:.3f})"
    assert kept_copy >= 0.99, f"the replay differs from the live page ({kept_copy:.3f})"
    print(f"similar to the live page: replay {kept_copy:.4f}, the site now {changed:.4f}")
    # Every address was copied from the site's own origin, and nothing else was asked for.
    urls = {
        r["url"]
        for r in db.all(
            "SELECT url FROM recording_assets WHERE recording_id = :r", {"r": rec["id"]}
        )
    }
    assert f"{origin}/photo.png" in urls and f"{origin}/kept.ttf" in urls
    assert all(u.startswith(origin) for u in urls), urls


MEMBERS = """<!doctype html><html><head><meta charset="utf-8"><title>Members</title>%(snippet)s
</head><body style="margin: 0"><h1>Your plan</h1>
<img id="badge" src="/badge.png" width="200" height="100">
<img id="avatar" src="/avatar.png" width="100" height="100">
<button id="go">Go</button></body></html>"""


def test_what_only_the_visitor_could_load_comes_from_their_browser(browser, kept):
    """An image behind the site's login: Footage's own request gets 403, the visitor's
    browser has it, offers it and uploads it; one marked private never leaves the browser."""
    server, login = kept
    db = server.services.db
    key = db.one("SELECT site_key FROM sites WHERE is_demo = 1")["site_key"]
    snippet = SNIPPET % {"key": key, "host": server.url}
    files = {
        "/members": ("text/html; charset=utf-8", (MEMBERS % {"snippet": snippet}).encode()),
        "/badge.png": ("image/png", png(200, 100, (240, 180, 20))),
        "/avatar.png": ("image/png", png(100, 100, (90, 20, 160))),
    }
    headers = {
        "/members": {"Set-Cookie": "member=1; Path=/"},
        "/badge.png": {"Cache-Control": "max-age=600"},
        "/avatar.png": {"Cache-Control": "private, max-age=600"},
    }
    members_only = frozenset({"/badge.png", "/avatar.png"})
    site = serve_site(files, headers=headers, members_only=members_only)
    with site as origin, recorded_on(server, login, f"{origin}/members"):
        known = known_recordings(server, login)
        context = browser.new_context(viewport={"width": 800, "height": 500})
        uploads: list[str] = []
        context.on(
            "request", lambda r: uploads.append(r.url) if "/api/v1/assets/" in r.url else None
        )
        context.request.get(f"{origin}/members")  # the visitor is logged in: the cookie
        page = open_recorded(context, f"{origin}/members")
        # The page offers its images 10 s after its first batch (the server's copies first).
        copied = lambda r: "/api/v1/assets/copies" in r.url and r.ok  # noqa: E731
        with page.expect_response(copied, timeout=60_000):
            page.click("#go")
        state = "SELECT state, hash FROM recording_assets WHERE url = :u"
        badge = wait_for(
            lambda: db.one(state + " AND state = 'stored'", {"u": f"{origin}/badge.png"})
        )
        leave(page, server)
        context.close()
        rec = new_recording(server, login, known, "/members")
        del files["/badge.png"]  # the site takes it down
    # Footage's own request was refused (no cookie); the copy is the visitor's.
    refused = db.one(
        "SELECT state, reason FROM site_assets WHERE url = :u", {"u": f"{origin}/badge.png"}
    )
    assert refused["state"] == "refused" and "403" in refused["reason"]
    assert (
        db.one("SELECT bytes FROM asset_copies WHERE hash = :h", {"h": badge["hash"]})["bytes"] > 0
    )
    # The private one was neither offered nor uploaded; the replay loads it from the site.
    assert all("avatar" not in u for u in uploads), uploads
    assert db.one(state, {"u": f"{origin}/avatar.png"})["state"] == "refused"
    player = open_player(browser, server, login, rec["id"])
    try:
        replay = player.frame_locator("#player iframe")
        replay.locator("#badge").wait_for()
        player.wait_for_function(
            """() => {
              const doc = document.querySelector('#player iframe').contentDocument;
              const img = doc.querySelector('#badge');
              return img && img.complete && img.naturalWidth === 200;
            }"""
        )
        src = replay.locator("#badge").get_attribute("src") or ""
    finally:
        player.context.close()
    assert src.startswith(f"{server.url}/site-assets/{key}/{badge['hash']}"), src
