"""The player fits a laptop's screen: on 1366 × 768 and 1440 × 900 the replay, its timeline and
its play and speed controls are all in the window without scrolling (the replay scales to the
height left), and a phone (390 px) lays the dashboard out without sideways scrolling."""

from __future__ import annotations

import pytest

from tests.browser.conftest import leave, log_in, open_recorded
from tests.browser.test_privacy import known_recordings, new_recording

pytestmark = pytest.mark.browser


def demo_recording(browser, server, login, batches: int = 0) -> dict:
    """A visitor's click on the demo shop, left: its recording, once ready. With `batches`,
    the visitor clicks again after each of that many batches the recorder sends (a
    recording lasting a few seconds, made of events rather than waiting)."""
    known = known_recordings(server, login)
    visitor = browser.new_context(viewport={"width": 1280, "height": 800})
    page = open_recorded(visitor, f"{server.url}/demo/")
    page.mouse.click(300, 300)
    for i in range(batches):
        with page.expect_request(lambda r: r.url.endswith("/api/v1/ingest")):
            page.mouse.move(320 + i * 10, 320)
        page.mouse.click(300 + i * 10, 300)
    leave(page, server)
    visitor.close()
    return new_recording(server, login, known, "/demo/")


def demo_recordings(browser, server, login, n: int) -> list[dict]:
    """`n` visitors of the demo shop at once, each clicking and leaving: their recordings."""
    known = known_recordings(server, login)
    visitors = [browser.new_context(viewport={"width": 1280, "height": 800}) for _ in range(n)]
    pages = [open_recorded(v, f"{server.url}/demo/") for v in visitors]
    for page in pages:
        page.mouse.click(300, 300)
    for page, visitor in zip(pages, visitors, strict=True):
        leave(page, server)
        visitor.close()
    found: list[dict] = []
    while len(found) < n:
        found.append(new_recording(server, login, known | {r["id"] for r in found}, "/demo/"))
    return found


def test_the_player_and_its_controls_fit_laptop_screens(browser, demo):
    server, login = demo
    rec = demo_recording(browser, server, login)
    for width, height in ((1366, 768), (1440, 900)):
        context = browser.new_context(viewport={"width": width, "height": height})
        agent = context.new_page()
        log_in(agent, server.url, login)
        agent.goto(f"{server.url}/recordings/{rec['id']}")
        agent.wait_for_function(
            "() => window.footagePlayer && window.footagePlayer.getTotalTime() > 0"
        )
        for part in (".fp-stage", ".fp-timeline", ".fp-controls"):
            box = agent.locator(f"#player {part}").bounding_box()
            assert box is not None and box["height"] > 0, part
            assert box["y"] + box["height"] <= height, f"{part} below the fold at {width}×{height}"
        assert agent.locator("#player .fp-stage").bounding_box()["height"] >= 240
        context.close()


def test_the_dashboard_fits_a_phone(browser, demo):
    server, login = demo
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    log_in(page, server.url, login)
    rec = page.locator("a.play-link").first.get_attribute("href")
    wide = {}
    for path in ("/recordings", rec, "/conversations", "/settings", "/usage", "/team", "/pages"):
        page.goto(f"{server.url}{path}")
        wide[path] = page.evaluate("() => document.documentElement.scrollWidth")
    context.close()
    assert {p: w for p, w in wide.items() if w > 390} == {}


def test_the_players_keys_are_listed_by_question_mark_and_work(browser, demo):
    server, login = demo
    rec = demo_recording(browser, server, login)
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    agent = context.new_page()
    log_in(agent, server.url, login)
    agent.goto(f"{server.url}/recordings/{rec['id']}")
    agent.wait_for_function("() => window.footagePlayer && window.footagePlayer.getTotalTime() > 0")
    help_card = agent.locator("#player .fp-help")
    assert help_card.is_hidden()
    agent.keyboard.press("Shift+Slash")  # "?"
    help_card.wait_for(state="visible")
    assert "Back or ahead 5 seconds" in help_card.inner_text()
    agent.keyboard.press("Escape")
    help_card.wait_for(state="hidden")
    agent.keyboard.press("BracketRight")
    agent.keyboard.press("BracketRight")
    pressed = agent.locator("#player .fp-speed[aria-pressed=true]")
    assert pressed.inner_text() == "4×"
    agent.keyboard.press("BracketLeft")
    assert pressed.inner_text() == "2×"
    agent.keyboard.press("f")
    agent.wait_for_function("() => document.fullscreenElement !== null")
    agent.keyboard.press("f")
    agent.wait_for_function("() => document.fullscreenElement === null")
    context.close()


def test_n_and_p_walk_the_list_the_player_was_opened_from(browser, demo):
    server, login = demo
    demo_recordings(browser, server, login, 3)
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    agent = context.new_page()
    log_in(agent, server.url, login)
    # The oldest first, on desktop: a list of its own, not the default one.
    agent.goto(f"{server.url}/recordings?device=desktop&sort=oldest")
    links = agent.locator("a.play-link")
    rows = [links.nth(i).get_attribute("href") for i in range(3)]
    assert all("device=desktop" in r and "sort=oldest" in r for r in rows)
    agent.goto(f"{server.url}{rows[0]}")
    agent.wait_for_function("() => window.footagePlayer && window.footagePlayer.getTotalTime() > 0")
    assert agent.locator("[data-neighbour=previous]").count() == 0  # the first of the list
    agent.keyboard.press("Shift+Slash")
    assert "Next or previous recording" in agent.locator("#player .fp-help").inner_text()
    agent.keyboard.press("Escape")
    agent.keyboard.press("n")
    agent.wait_for_url(f"{server.url}{rows[1]}")
    agent.wait_for_function("() => window.footagePlayer && window.footagePlayer.getTotalTime() > 0")
    agent.keyboard.press("n")
    agent.wait_for_url(f"{server.url}{rows[2]}")
    agent.wait_for_function("() => window.footagePlayer && window.footagePlayer.getTotalTime() > 0")
    agent.keyboard.press("p")
    agent.wait_for_url(f"{server.url}{rows[1]}")
    # Back to the list keeps its filters.
    back = agent.locator(".player-nav a", has_text="Recordings").get_attribute("href")
    assert back == "/recordings?device=desktop&sort=oldest"
    context.close()


def test_space_pauses_after_clicking_into_the_replay(browser, demo):
    server, login = demo
    rec = demo_recording(browser, server, login, batches=2)
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    agent = context.new_page()
    log_in(agent, server.url, login)
    agent.goto(f"{server.url}/recordings/{rec['id']}")
    agent.wait_for_function("() => window.footagePlayer && window.footagePlayer.getTotalTime() > 0")
    playing = "() => window.footagePlayer.isPlaying()"
    # At its own pace (skipping the quiet seconds, a 5 s visit plays in a moment).
    agent.click("#player .fp-switch[aria-label='Skip inactivity']")
    # A click into the replay plays it (the stage's own toggle) and leaves the focus there.
    box = agent.locator("#player .fp-stage").bounding_box()
    agent.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    agent.wait_for_function(playing)
    agent.keyboard.press("Space")
    agent.wait_for_function(f"() => !({playing[6:]})")
    # Paused by the key, not by reaching the end.
    at = agent.evaluate("() => window.footagePlayer.getCurrentTime()")
    assert at < agent.evaluate("() => window.footagePlayer.getTotalTime()") - 100, at
    context.close()
