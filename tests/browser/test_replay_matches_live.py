"""The replay shows what the visitor saw, moment by moment, not only at its end.

One page with what replays most often get wrong: a same-origin frame carrying the snippet too,
a canvas drawn after a click, and a field typed into. The visitor's screen is screenshotted at
two moments (before acting, then after typing and clicking); the player, paused at the same
two moments of the recording, must look the same (≥ 0.99 of the pixels), while the two live
moments differ a lot (the check can fail).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.assets.site import serve_site
from tests.browser.conftest import delivered, leave, open_player, open_recorded, similarity
from tests.browser.test_frames import SNIPPET
from tests.browser.test_privacy import configure, known_recordings, new_recording

pytestmark = pytest.mark.browser

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Shop</title>%(snippet)s
</head><body style="margin: 0; font: 24px sans-serif; background: #fff">
<h1 style="margin: 0; height: 60px; font-size: 40px">Shop</h1>
<iframe src="/inner" style="display: block; width: 500px; height: 150px; border: 0"></iframe>
<canvas id="chart" width="300" height="120" style="display: block"></canvas>
<input id="q" style="font: 24px sans-serif; width: 300px">
<button id="go" style="font: 24px sans-serif">Go</button>
<script>
  document.getElementById('go').addEventListener('click', () => {
    const c = document.getElementById('chart').getContext('2d');
    c.fillStyle = '#d02030'; c.fillRect(0, 0, 300, 120);
    c.fillStyle = '#ffffff'; c.fillRect(40, 30, 120, 60);
    const inner = frames[0].document;
    inner.body.style.background = '#2a6040';
    inner.getElementById('state').textContent = 'Frame answered';
  });
</script></body></html>"""
INNER = """<!doctype html><html><head><meta charset="utf-8"><title>Widget</title>%(snippet)s
</head><body style="margin: 0; background: #c8d8f0; font: 28px sans-serif">
<p id="state" style="margin: 20px">Inside the frame</p></body></html>"""


def moment(page: Any) -> tuple[bytes, int]:
    """The visitor's screen now, and when (the browser's clock, as the events')."""
    shot = page.screenshot()
    return shot, int(page.evaluate("Date.now()"))


def replay_at(player: Any, offset_ms: int) -> bytes:
    """The replay paused `offset_ms` into the recording, as the viewer sees it."""
    player.evaluate(
        "(ms) => { window.footagePlayer.pause(); window.footagePlayer.seek(ms); }", offset_ms
    )
    player.wait_for_function(
        "(ms) => Math.abs(window.footagePlayer.getCurrentTime() - ms) < 50", arg=offset_ms
    )
    # The frame's document and the canvas picture are in place once the replay settled.
    player.evaluate(
        "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))"
    )
    return player.locator("#player iframe").screenshot()


def test_the_replay_matches_the_live_page_at_each_moment(browser, demo, artifacts):
    server, login = demo
    key = server.services.db.one("SELECT site_key FROM sites WHERE is_demo = 1")["site_key"]
    snippet = SNIPPET % {"key": key, "host": server.url}
    files = {
        "/page": ("text/html; charset=utf-8", (PAGE % {"snippet": snippet}).encode()),
        "/inner": ("text/html; charset=utf-8", (INNER % {"snippet": snippet}).encode()),
    }
    with serve_site(files) as origin:
        # Typed text is recorded as it is here, so the replay can show what the live page does.
        configure(server, login, allowed_origins=[origin], record_forms=True)
        try:
            known = known_recordings(server, login)
            context = browser.new_context(viewport={"width": 800, "height": 500})
            page = open_recorded(context, f"{origin}/page")
            page.frame_locator("iframe").locator("#state").wait_for()
            page.mouse.move(700, 450)  # activity: the page view is sent from here on
            first, first_at = moment(page)
            page.click("#q")
            page.keyboard.type("wool socks")
            with page.expect_response(lambda r: delivered(r, b'"source":9'), timeout=60_000):
                page.click("#go")  # the canvas picture reaches the server with its batch
            page.mouse.move(700, 450)
            second, second_at = moment(page)
            leave(page, server)
            context.close()
            rec = new_recording(server, login, known, "/page")
        finally:
            configure(server, login, allowed_origins=[])
    start = server.services.db.one(
        "SELECT MIN(first_ts) AS t FROM chunks WHERE recording_id = :r", {"r": rec["id"]}
    )["t"]
    player = open_player(browser, server, login, rec["id"])
    try:
        player.add_style_tag(content=".fp-overlay, .replayer-mouse { display: none !important; }")
        shown = [replay_at(player, first_at - start), replay_at(player, second_at - start)]
        scores = [similarity(player, first, shown[0]), similarity(player, second, shown[1])]
        apart = similarity(player, first, second)
        for n, (live, replay) in enumerate(zip((first, second), shown, strict=True)):
            (artifacts / f"moment-{n}-live.png").write_bytes(live)
            (artifacts / f"moment-{n}-replay.png").write_bytes(replay)
    finally:
        player.context.close()
    assert apart < 0.9, f"the two moments look alike ({apart:.3f}): the test could not fail"
    assert min(scores) >= 0.99, f"the replay differs from the live page: {scores}"
    print(f"replay against live: {scores[0]:.4f}, {scores[1]:.4f}; the two moments {apart:.4f}")
