"""Real Chromium (Debian's package) driven by Playwright; never a downloaded browser."""

from __future__ import annotations

import base64
import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from footage.chromium import CHROMIUM_ARGS, chromium_path
from footage.demo.account import ensure_demo
from tests.conftest import LiveServer, free_port, settings_for, start_server, wait_for

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def chromium() -> str:
    path = chromium_path()
    if path is None:
        pytest.fail("Chromium is not installed: run scripts/test, which installs it")
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def start_demo(tmp_path: Path, **overrides: Any) -> tuple[LiveServer, dict[str, str]]:
    """A server with the demo shop and quick timings (1 s leave grace); returns its login.
    `overrides` are further settings.

    The heartbeat timeout stays above the longest a quiet page goes without a word: the
    recorder's heartbeat (every 20 s, skipped when a batch left within the last 20 s) can come
    up to 40 s after its last batch. At 30 s, a visitor's page left open while a busy machine
    ran the test's other visitors could be finished under it, and its leave refused (409)."""
    settings = settings_for(
        tmp_path,
        port=free_port(),
        background=True,
        demo=True,
        leave_grace_seconds=1.0,
        heartbeat_timeout_seconds=60.0,
        finalizer_interval_seconds=0.2,
        **overrides,
    )
    server = start_server(settings)
    login = ensure_demo(settings, server.services.db, server.services.clock)
    assert login is not None
    return server, login


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    """A demo server of the test module's own (start_demo), and its login."""
    server, login = start_demo(tmp_path_factory.mktemp(request.module.__name__.rsplit(".")[-1]))
    yield server, login
    server.stop()


def open_recorded(context: Any, url: str, wait_until: str = "load") -> Any:
    """A new page of `context` at `url` (a page with the snippet), once its recorder has
    loaded and has the site's config."""
    page = context.new_page()
    with page.expect_response(lambda r: "/config" in r.url):
        page.goto(url, wait_until=wait_until)
    page.wait_for_function("typeof window.footage === 'function' && window.footage.loaded")
    return page


def carries(request: Any, text: bytes) -> bool:
    """A batch the recorder sends to the ingest endpoint carries `text` (gzipped or not)."""
    if not request.url.endswith("/api/v1/ingest"):
        return False
    body = request.post_data_buffer or b""
    return text in (gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body)


def delivered(response: Any, text: bytes) -> bool:
    """The server accepted a batch of the recorder's that carries `text` (for
    `page.expect_response`: a test that leaves at once must not lose a batch on its way)."""
    return bool(response.ok) and carries(response.request, text)


def requests_from_frames(context: Any, path: str = "/api/v1/") -> list[str]:
    """The addresses (containing `path`) that pages inside frames of `context` request from
    now on: a frame recorded by its page sends nothing itself."""
    seen: list[str] = []

    def note(request: Any) -> None:
        if request.frame.parent_frame is not None and path in request.url:
            seen.append(request.url)

    context.on("request", note)
    return seen


def open_player(browser: Any, server: LiveServer, login: dict[str, str], rec_id: str) -> Any:
    """The owner logs in (a new context, 1366 x 768) and opens a recording in the player, once
    it is ready to play; returns the page (close its context when done)."""
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    log_in(page, server.url, login)
    page.goto(f"{server.url}/recordings/{rec_id}")
    page.wait_for_function("() => window.footagePlayer && window.footagePlayer.getTotalTime() > 0")
    return page


def leave(page: Any, server: LiveServer) -> None:
    """The visitor closes the tab; returns once the server has stored the leave beacon.

    Playwright's close(run_before_unload=True) does not wait for the page to go, and closing
    the context at once can cancel the beacon on its way: events sent only on leaving would
    be lost by the test, not by the recorder."""
    db = server.services.db
    count = "SELECT count(*) AS n FROM recording_pages WHERE left_at IS NOT NULL"
    before = db.one(count)["n"]
    with page.expect_event("close"):
        page.close(run_before_unload=True)
    wait_for(lambda: db.one(count)["n"] > before)


def log_in(page: Any, base: str, login: dict[str, str]) -> None:
    """Log in to the dashboard through its form, as the owner would."""
    page.goto(f"{base}/login")
    page.fill("#email", login["email"])
    page.fill("#password", login["password"])
    page.click("button[type=submit]")
    page.wait_for_url("**/recordings")


def similarity(page: Any, first: bytes, second: bytes) -> float:
    """The share of pixels (both pictures drawn 240 × 150) whose colours differ by at most
    24 in every channel."""
    return float(
        page.evaluate(
            """async ([a, b]) => {
              const pixels = async (b64) => {
                const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
                const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
                const context = new OffscreenCanvas(240, 150).getContext('2d');
                context.drawImage(bitmap, 0, 0, 240, 150);
                return context.getImageData(0, 0, 240, 150).data;
              };
              const [x, y] = [await pixels(a), await pixels(b)];
              let same = 0;
              for (let i = 0; i < x.length; i += 4) {
                const d = Math.max(Math.abs(x[i] - y[i]), Math.abs(x[i + 1] - y[i + 1]),
                  Math.abs(x[i + 2] - y[i + 2]));
                if (d <= 24) same++;
              }
              return same / (x.length / 4);
            }""",
            [base64.b64encode(first).decode(), base64.b64encode(second).decode()],
        )
    )
