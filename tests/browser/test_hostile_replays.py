"""A hostile recording cannot attack whoever watches it, in real Chromium: the dashboard's
player page, the public share page and the downloaded HTML file each replay a recording full
of scripts, inline handlers, javascript: URLs, srcdoc frames, meta refreshes, <base>, forms and
SVG scripts (tests/browser/hostile.py), stored through the real ingest API. Played to the end
and seeked, with its links and forms clicked and tabbed to: no script runs in any frame, no
dialog opens, nothing navigates, no popup opens and nothing reaches the attacker. The heatmap
page draws the same recording's page, and the live view shows the same visitor while they are
on the site, with the same result."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from footage.accounts.service import NewAccount
from tests.browser import hostile
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, LiveServer, batch, gz, new_ids
from tests.downloads.recording import T0, account, record, wait_ready

pytestmark = pytest.mark.browser

TOTAL_MS = 6000


def record_hostile(live: LiveServer) -> tuple[NewAccount, str]:
    """Alice's site receives the hostile recording through POST /api/v1/ingest."""
    alice = account(live, "Alice", "https://alice.example")
    body = batch(alice.site_key, new_ids(), 0, hostile.events(T0), left=True)
    with live.client() as http:
        r = http.post(
            "/api/v1/ingest",
            content=gz(body),
            headers={"Origin": "https://alice.example", "Content-Type": "text/plain"},
        )
        assert r.status_code == 200, r.text
        rid = str(r.json()["recording_id"])
        wait_ready(http, alice, rid)
        # The payloads were stored as sent: what the players get is really hostile.
        stored = http.get(
            f"/api/v1/recordings/{rid}/events",
            headers={"Authorization": f"Bearer {alice.api_token}"},
        ).text
    for needle in ("top.pwned=1", "javascript:top.pwned", "onerror", "srcdoc", "refresh"):
        assert needle in stored, needle
    return alice, rid


@dataclass
class Watch:
    """Everything the page did that an attack would show: dialogs, popups, requests, frame
    navigations, console messages."""

    dialogs: list[str] = field(default_factory=list)
    popups: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    navigations: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)


def watched_page(browser: Any, allowed: str) -> tuple[Any, Any, Watch]:
    """A fresh context whose network reaches only `allowed` (the server, or the file)."""
    watch = Watch()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})

    def network(route: Any) -> None:
        url = route.request.url
        watch.requests.append(url)
        if url.startswith(allowed):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", network)
    context.on("page", lambda p: watch.popups.append(p.url))
    page = context.new_page()
    watch.popups.clear()  # the page itself is not a popup

    def on_dialog(dialog: Any) -> None:
        watch.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("console", lambda m: watch.console.append(m.text))
    page.on("pageerror", lambda e: watch.console.append(f"page error: {e}"))
    page.on(
        "framenavigated",
        lambda f: watch.navigations.append(("top " if f == page.main_frame else "") + f.url),
    )
    return context, page, watch


SENTINELS = """() => {
  const found = [];
  const walk = (w, path) => {
    try {
      if (w.pwned !== undefined) found.push(path);
    } catch (e) {
      found.push(path + ' (unreadable: ' + e.name + ')');
    }
    for (let i = 0; i < w.frames.length; i++) walk(w.frames[i], path + '/' + i);
  };
  walk(window, 'top');
  return found;
}"""

# Where every frame of the page is now: one that navigated, or turned into another origin's
# document, shows here.
FRAME_URLS = """() => {
  const urls = [];
  const walk = (w) => {
    try { urls.push(w.location.href); } catch (e) { urls.push('(cross-origin)'); }
    for (let i = 0; i < w.frames.length; i++) walk(w.frames[i]);
  };
  walk(window);
  return urls;
}"""


def replay_frame(page: Any) -> Any:
    return page.frame_locator("#player iframe")


def assert_sandboxed(page: Any) -> None:
    """The replay iframe may never run script: exactly `allow-same-origin`."""
    sandbox = page.eval_on_selector("#player iframe", "f => f.getAttribute('sandbox')")
    assert sandbox == "allow-same-origin"
    assert page.eval_on_selector("#player iframe", "f => f.inert") is True


def seek(page: Any, ms: int) -> None:
    page.evaluate("ms => window.footagePlayer.seek(ms)", ms)
    page.wait_for_timeout(150)


def exercise(page: Any) -> None:
    """Plays to the end, seeks back and forth, and tries to reach the replayed links and
    forms with the mouse and the keyboard."""
    page.wait_for_selector("#player[data-state=ready]", timeout=20_000)
    assert page.evaluate("() => window.footagePlayer.getTotalTime()") == TOTAL_MS
    frame = replay_frame(page)
    assert frame.locator("#title-snapshot").inner_text(timeout=5000) == "Hostile page (snapshot)"
    assert_sandboxed(page)
    page.click(".fp-big")  # play from the start
    page.wait_for_selector(".fp-overlay-replay", timeout=TOTAL_MS + 15_000)
    assert frame.locator("#title-added").inner_text() == "Hostile page (added)"
    for ms in (3500, 500, 2500, 5000, 0, TOTAL_MS):  # paused: rrweb's virtual DOM path
        seek(page, ms)
    assert frame.locator("#title-added").count() == 1
    # Real clicks where the replayed links and buttons are drawn (each lands on the player's
    # stage, which plays and pauses).
    for selector in (
        "#js-link-added",
        "#attacker-link-snapshot",
        "#top-link-added",
        "#form-submit-added",
        "#formaction-snapshot",
        "#svg-link-snapshot",
    ):
        box = frame.locator(selector).bounding_box()
        assert box is not None, selector
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_timeout(50)
    page.evaluate("() => window.footagePlayer.pause()")
    seek(page, TOTAL_MS)
    # The keyboard: Tab through the whole page, pressing Enter wherever focus lands in the
    # replay.
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    reached = []
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate(
            "() => document.activeElement === document.querySelector('#player iframe')"
        ):
            reached.append(
                page.evaluate(
                    "() => document.querySelector('#player iframe').contentDocument"
                    ".activeElement.outerHTML.slice(0, 80)"
                )
            )
            page.keyboard.press("Enter")
    assert reached == [], f"keyboard focus reached the replay: {reached}"
    # Even clicks from script (the player's own realm, which a recording cannot reach) on the
    # hostile links and buttons run nothing and go nowhere.
    clicked = page.evaluate(
        """() => {
          const doc = document.querySelector('#player iframe').contentDocument;
          const hostile = ['#js-link-snapshot', '#js-link-added', '#harmless-link',
                           '#svg-link-snapshot', '#svg-link-added', '#form-submit-snapshot',
                           '#form-submit-added', '#js-form-submit-added', '#formaction-added',
                           '#harmless-form button', '#harmless-input', '#autofocus-added'];
          let clicked = 0;
          for (const selector of hostile) {
            const el = doc.querySelector(selector);
            if (!el) continue;
            if (el.focus) el.focus();
            el.dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true}));
            clicked++;
          }
          return clicked;
        }"""
    )
    assert clicked == 12
    page.wait_for_timeout(800)  # time for anything that was set off to show


def assert_inert(page: Any, watch: Watch, url: str, allowed: str) -> None:
    assert page.url == url  # the top page never navigated
    # Nor did any frame: the replay frames are (re)made as about:blank, srcdoc frames' content
    # was dropped, and nothing else was ever loaded into any of them.
    assert [n for n in watch.navigations if n.startswith("top ")] == [f"top {url}"]
    assert set(watch.navigations) <= {f"top {url}", "about:blank"}, set(watch.navigations)
    assert page.evaluate(SENTINELS) == []
    for frame in page.frames:
        try:
            value = frame.evaluate("() => window.pwned")
        except Exception:  # a frame without script (the sandbox): nothing can have run there
            continue
        assert value is None, frame.url
    assert watch.dialogs == []
    assert watch.popups == []
    assert [r for r in watch.requests if not r.startswith(allowed)] == []
    assert "PWNED" not in watch.console  # what the payloads log
    assert set(page.evaluate(FRAME_URLS)) <= {url, "about:blank"}


def test_the_dashboard_player_replays_a_hostile_recording_inertly(
    live: LiveServer, browser: Any, artifacts: Path
) -> None:
    _alice, rid = record_hostile(live)
    context, page, watch = watched_page(browser, live.url)
    log_in(page, live.url, {"email": "alice@example.com", "password": PASSWORD})
    url = f"{live.url}/recordings/{rid}"
    watch.navigations.clear()
    page.goto(url)
    csp = page.evaluate(
        "() => fetch(location.href).then(r => r.headers.get('content-security-policy'))"
    )
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    exercise(page)
    page.evaluate("ms => window.footagePlayer.seek(ms)", 3000)
    page.wait_for_timeout(300)
    page.screenshot(path=str(artifacts / "hostile-replay-dashboard.png"), full_page=True)
    assert_inert(page, watch, url, live.url)
    context.close()


def test_the_share_page_replays_a_hostile_recording_inertly(live: LiveServer, browser: Any) -> None:
    alice, rid = record_hostile(live)
    with live.client() as http:
        r = http.post(
            f"/api/v1/recordings/{rid}/share-links",
            json={"expires_in": "24h"},
            headers={"Authorization": f"Bearer {alice.api_token}"},
        )
    assert r.status_code == 201, r.text
    url = live.url + r.json()["path"]
    context, page, watch = watched_page(browser, live.url)
    page.goto(url)
    exercise(page)
    assert_inert(page, watch, url, live.url)
    context.close()


def test_the_html_download_replays_a_hostile_recording_inertly(
    live: LiveServer, browser: Any, tmp_path: Path
) -> None:
    alice, rid = record_hostile(live)
    with live.client() as http:
        r = http.get(
            f"/api/v1/recordings/{rid}/download?format=html",
            headers={"Authorization": f"Bearer {alice.api_token}"},
        )
    assert r.status_code == 200
    path = tmp_path / "recording.html"
    path.write_bytes(r.content)
    url = path.as_uri()
    context, page, watch = watched_page(browser, url)
    page.goto(url)
    exercise(page)
    assert_inert(page, watch, url, url)
    context.close()


def test_the_heatmap_draws_a_hostile_page_inertly(live: LiveServer, browser: Any) -> None:
    """The heatmap page rebuilds the page's recorded snapshot with the same protections."""
    record_hostile(live)
    context, page, watch = watched_page(browser, live.url)
    log_in(page, live.url, {"email": "alice@example.com", "password": PASSWORD})
    url = f"{live.url}/heatmaps?url=alice.example/&from=2026-11-18&to=2026-11-18"
    watch.navigations.clear()
    page.goto(url)
    page.wait_for_selector("#heatmap[data-state=ready]", timeout=20_000)
    frame = page.frame_locator("#heatmap iframe")
    assert frame.locator("#title-snapshot").inner_text(timeout=5000) == "Hostile page (snapshot)"
    assert page.eval_on_selector("#heatmap iframe", "f => f.getAttribute('sandbox')") == (
        "allow-same-origin"
    )
    assert page.eval_on_selector("#heatmap iframe", "f => f.inert") is True
    # Real clicks where its links are drawn land on the map (they ask who clicked there).
    for selector in ("#attacker-link-snapshot", "#formaction-snapshot", "#svg-link-snapshot"):
        box = frame.locator(selector).bounding_box()
        assert box is not None, selector
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_timeout(100)
    clicked = page.evaluate(
        """() => {
          const doc = document.querySelector('#heatmap iframe').contentDocument;
          let clicked = 0;
          for (const selector of ['#js-link-snapshot', '#harmless-link', '#svg-link-snapshot',
                                  '#form-submit-snapshot', '#harmless-form button']) {
            const el = doc.querySelector(selector);
            if (!el) continue;
            el.dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true}));
            clicked++;
          }
          return clicked;
        }"""
    )
    assert clicked >= 3
    page.wait_for_timeout(800)
    assert_inert(page, watch, url, live.url)
    context.close()


def test_the_dashboard_works_under_its_policy(live: LiveServer, browser: Any) -> None:
    """The policy blocks nothing of our own: every page, the player, the Share dialog and the
    Download menu run without a single violation."""
    alice = account(live, "Alice", "https://alice.example")
    with live.client() as http:
        rid = record(http, alice, seconds=3)
        wait_ready(http, alice, rid)
    context, page, watch = watched_page(browser, live.url)
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    log_in(page, live.url, {"email": "alice@example.com", "password": PASSWORD})
    for path in (
        "/recordings",
        "/install",
        "/settings",
        "/usage",
        "/conversations",
        "/pages",
        "/heatmaps",
    ):
        page.goto(live.url + path)
        page.wait_for_load_state("load")
    page.goto(f"{live.url}/recordings/{rid}")
    page.wait_for_selector("#player[data-state=ready]", timeout=15_000)
    assert replay_frame(page).locator("h1").inner_text().startswith("Welcome to the shop")
    page.click(".fp-big")
    page.wait_for_selector(".fp-overlay-replay", timeout=15_000)
    page.click("[data-share-open]")
    page.click(".share-form > button.btn")
    page.wait_for_function(
        "() => document.querySelector('[data-share-url]').value.includes('/share/')"
    )
    page.keyboard.press("Escape")
    page.click(".download > summary")
    assert page.locator(".download-menu").is_visible()
    assert violations == []
    assert watch.dialogs == [] and watch.popups == []
    context.close()


def test_the_live_view_shows_a_hostile_visitor_inertly(live: LiveServer, browser: Any) -> None:
    """The same payloads from a visitor still on the site, watched live: the page first (the
    view's opening), then the rest as batches arrive (the live Replayer's addEvent)."""
    alice = account(live, "Alice", "https://alice.example")
    ids, events = new_ids(), hostile.events(T0)
    headers = {"Origin": "https://alice.example", "Content-Type": "text/plain"}

    def send(seq: int, part: list[dict[str, Any]]) -> None:
        with live.client() as http:
            r = http.post(
                "/api/v1/ingest", content=gz(batch(alice.site_key, ids, seq, part)), headers=headers
            )
        assert r.status_code == 200, r.text

    send(0, events[:2])  # Meta and the full snapshot: the visitor is on the page
    context, page, watch = watched_page(browser, live.url)
    log_in(page, live.url, {"email": "alice@example.com", "password": PASSWORD})
    url = f"{live.url}/live/{alice.site_id}/{ids['visitor_id']}"
    watch.navigations.clear()
    page.goto(url)
    page.wait_for_function("() => window.footageLive && window.footageLive.state === 'on_page'")
    send(1, events[2:])
    page.wait_for_function(f"() => window.footageLive.received >= {len(events)}")
    sandbox = page.eval_on_selector("#live iframe", "f => [f.getAttribute('sandbox'), f.inert]")
    assert sandbox == ["allow-same-origin", True]
    box = page.locator("#live .fp-stage").bounding_box()
    for x, y in ((0.2, 0.2), (0.5, 0.4), (0.8, 0.6)):  # into the replay: nothing reaches it
        page.mouse.click(box["x"] + box["width"] * x, box["y"] + box["height"] * y)
    page.wait_for_timeout(800)  # time for anything that was set off to show
    assert_inert(page, watch, url, live.url)
    context.close()
