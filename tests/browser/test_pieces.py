"""The player in real Chromium on a recording of three page views, one piece each: the first
frame from the first piece, the rest loaded behind it, a seek into a piece not loaded yet
shows that page once it is in, playing crosses from one piece into the next, and a player
opened at a later moment loads that moment's piece before the ones between."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Route, expect

from footage.clock import FrozenClock
from tests.browser.conftest import log_in
from tests.browser.test_ingest_limits import until
from tests.conftest import (
    PASSWORD,
    LiveServer,
    free_port,
    make_account,
    settings_for,
    start_server,
)
from tests.recordings.test_pieces import PAGE_MS, PAGES, TEXTS, multi_page_recording

pytestmark = pytest.mark.browser


@pytest.fixture
def recorded(tmp_path: Path, database_url: str) -> Iterator[tuple[LiveServer, str]]:
    clock = FrozenClock(1_795_000_000_000)
    server = start_server(
        settings_for(tmp_path, database_url=database_url, port=free_port()), clock
    )
    carol = make_account(server.services, "Carol", site_url="https://alice.example")
    yield server, multi_page_recording(server, carol, clock)
    server.stop()


def open_player(
    browser: Any, recorded: tuple[LiveServer, str], query: str = ""
) -> tuple[Any, Any, list[str]]:
    """The recording's player, as Carol; the addresses of the pieces it asks for, in order."""
    server, rid = recorded
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    log_in(page, server.url, {"email": "carol@example.com", "password": PASSWORD})
    asked: list[str] = []
    page.on("request", lambda r: "/pieces" in r.url and asked.append(r.url.split(rid, 1)[1]))
    page.goto(f"{server.url}/recordings/{rid}{query}")
    return context, page, asked


def replay_body(page: Any) -> Any:
    return page.frame_locator("#player iframe").locator("body")


def shown_text(page: Any) -> str:
    return str(replay_body(page).inner_text())


def expect_shown(page: Any, text: str) -> None:
    """Waits until the replay shows the text."""
    expect(replay_body(page)).to_contain_text(text)


def test_the_player_streams_every_piece_and_seeks_into_one_not_loaded(
    browser: Any, recorded: tuple[LiveServer, str]
) -> None:
    server, rid = recorded
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    log_in(page, server.url, {"email": "carol@example.com", "password": PASSWORD})
    held: list[Route] = []

    def hold(route: Route) -> None:
        held.append(route)

    # Pieces 1 and 2 wait until the test lets them through: the seek below is into a piece
    # that is not loaded.
    page.route("**/pieces/1", hold)
    page.route("**/pieces/2", hold)
    page.goto(f"{server.url}/recordings/{rid}")
    expect(page.locator("#player")).to_have_attribute("data-state", "ready")
    assert TEXTS[0] in shown_text(page)
    assert page.evaluate("() => window.footagePlayer.pieces()")["loaded"] == 1
    total = page.evaluate("() => window.footagePlayer.getTotalTime()")
    assert total == 2 * PAGE_MS + PAGE_MS - 1000
    page.evaluate(f"() => window.footagePlayer.seek({2 * PAGE_MS + 2000})")
    expect(page.locator(".fp-overlay-loading")).to_be_visible()
    # Both held requests reach their handlers (the second may still be on its way).
    until(page, lambda: len(held) >= 2, timeout=15)
    assert sorted(r.request.url.rsplit("/", 1)[1] for r in held) == ["1", "2"]
    for route in list(held):
        if route.request.url.endswith("/pieces/2"):
            route.continue_()
    expect_shown(page, TEXTS[2])
    assert page.evaluate("() => window.footagePlayer.getCurrentTime()") == 2 * PAGE_MS + 2000
    for route in held:
        if route.request.url.endswith("/pieces/1"):
            route.continue_()
    expect(page.locator("#player")).to_have_attribute("data-loaded", "all")
    assert page.evaluate("() => window.footagePlayer.pieces()")["loaded"] == 3
    # Every page view's marker is on the timeline; the page still shown is the one sought.
    pages = page.evaluate(
        "() => window.footagePlayer.markers.filter(m => m.kind === 'page').map(m => m.label)"
    )
    assert pages == list(PAGES)
    assert TEXTS[2] in shown_text(page)
    # Back into piece 1 (loaded after the seek): its page, not what was shown last.
    page.evaluate(f"() => window.footagePlayer.seek({PAGE_MS + 1000})")
    expect_shown(page, TEXTS[1])
    context.close()


def test_playing_crosses_into_the_next_piece(
    browser: Any, recorded: tuple[LiveServer, str]
) -> None:
    context, page, _ = open_player(browser, recorded)
    expect(page.locator("#player")).to_have_attribute("data-loaded", "all")
    page.evaluate(f"() => window.footagePlayer.seek({PAGE_MS - 1500})")
    assert TEXTS[0] in shown_text(page)
    page.evaluate("() => window.footagePlayer.play()")
    expect_shown(page, TEXTS[1])
    context.close()


def test_a_later_start_loads_its_piece_before_the_ones_between(
    browser: Any, recorded: tuple[LiveServer, str]
) -> None:
    context, page, paths = open_player(browser, recorded, f"?t={2 * PAGE_MS + 500}")
    expect(page.locator("#player")).to_have_attribute("data-state", "ready")
    expect_shown(page, TEXTS[2])
    expect(page.locator("#player")).to_have_attribute("data-loaded", "all")
    assert paths[0] == "/pieces"
    assert set(paths[1:3]) == {"/pieces/0", "/pieces/2"} and paths[3] == "/pieces/1"
    context.close()
