"""Watching a visitor live: how long a change on the visitor's page takes to show in the
agent's view, and what watching costs the visitor's page in requests.

A site on a loopback port of its own serves one page with the snippet; `footage serve` runs
as an operator runs it. In real Chromium a visitor opens the page and moves; an agent logs in
to the dashboard and opens the visitor's live view. The visitor's page then changes its
heading CHANGES times, at random gaps of 150–650 ms (what a visitor typing or clicking does);
the agent's page notes when each text appears in its replay. Both pages run on this machine,
so both read the same clock (`Date.now()`).

Requests: the visitor's page keeps moving for WINDOW seconds unwatched, then WINDOW seconds
watched; the ingest and heartbeat requests it sends are counted, per minute.

    .venv/bin/python bench/live_view.py [--changes 100] [--window 30]
"""

from __future__ import annotations

import argparse
import http.server
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from common import (
    OUT,
    REPO,
    create_account,
    footage_server,
    free_port,
    machine,
    median,
    percentile,
    table,
    write_json,
)

sys.path.insert(0, str(REPO))
from footage.chromium import CHROMIUM_ARGS, chromium_path  # noqa: E402
from footage.ingest.install_page import snippet  # noqa: E402

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Live bench</title>{snippet}
</head><body><h1 id="t">start</h1><p>{filler}</p><input id="q"></body></html>"""
RECORDER_POSTS = ("/api/v1/ingest", "/api/v1/heartbeat")


def serve_page(html: bytes, port: int) -> http.server.ThreadingHTTPServer:
    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Page)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def keep_moving(page: Any, seconds: float) -> None:
    """The visitor moves the mouse about every 200 ms for `seconds` (what they do anyway)."""
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        page.mouse.move(200 + (i % 7) * 40, 200 + (i % 5) * 30)
        page.wait_for_timeout(200)
        i += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--window", type=float, default=30.0)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="footage-live-"))
    data = tmp / "data"
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    with footage_server(data, "--no-demo") as server:
        account = create_account(data, origin)
        html = PAGE.format(snippet=snippet(account["site_key"], server.url), filler="x " * 400)
        httpd = serve_page(html.encode(), port)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
                result = run(browser, server.url, origin, account, args)
                browser.close()
        finally:
            httpd.shutdown()
    result["machine"] = machine()
    write_json(OUT / "live_view.json", result)


def run(browser: Any, base: str, origin: str, account: dict[str, str], args: Any) -> dict[str, Any]:
    sent: list[tuple[float, str]] = []
    visitor_context = browser.new_context(viewport={"width": 1280, "height": 800})
    visitor_context.on(
        "request",
        lambda r: (
            sent.append((time.monotonic(), r.url)) if r.url.endswith(RECORDER_POSTS) else None
        ),
    )
    visitor = visitor_context.new_page()
    visitor.goto(f"{origin}/")
    visitor.wait_for_function("() => typeof window.footage === 'function' && window.footage.loaded")
    with visitor.expect_request(lambda r: r.url.endswith("/api/v1/ingest"), timeout=30_000):
        visitor.mouse.click(300, 300)
    visitor_id = visitor.evaluate("() => localStorage.getItem('footage_vid')")

    # Unwatched: the usual cadence.
    start = len(sent)
    keep_moving(visitor, args.window)
    unwatched = len(sent) - start

    agent_context = browser.new_context(viewport={"width": 1366, "height": 768})
    agent = agent_context.new_page()
    agent.goto(f"{base}/login")
    agent.fill("#email", "bench@example.com")
    agent.fill("#password", "bench-password-123")
    agent.click("button[type=submit]")
    agent.wait_for_url("**/recordings")
    agent.goto(f"{base}/live/{account['site_id']}/{visitor_id}")
    agent.wait_for_function("() => window.footageLive && window.footageLive.state === 'on_page'")
    # Watched: the recorder hears of it with its next answer, then sends every second.
    with visitor.expect_response(
        lambda r: r.url.endswith("/api/v1/ingest") and r.headers.get("x-footage-watched") == "1",
        timeout=30_000,
    ):
        keep_moving(visitor, 1)
    start = len(sent)
    keep_moving(visitor, args.window)
    watched = len(sent) - start

    # The agent notes when each heading appears in its replay.
    agent.evaluate(
        """() => {
        window.__seen = {};
        const look = () => {
          const f = document.querySelector('#live iframe');
          const h = f && f.contentDocument && f.contentDocument.getElementById('t');
          if (h && !(h.textContent in window.__seen)) window.__seen[h.textContent] = Date.now();
          requestAnimationFrame(look);
        };
        look();
      }"""
    )
    changed: dict[str, int] = {}
    rng = random.Random(7)
    for n in range(args.changes):
        text = f"change {n}"
        changed[text] = visitor.evaluate(
            "(t) => { document.getElementById('t').textContent = t; return Date.now(); }", text
        )
        visitor.wait_for_timeout(rng.randint(150, 650))
    last = f"change {args.changes - 1}"
    agent.wait_for_function(f"() => window.__seen && {last!r} in window.__seen", timeout=60_000)
    seen: dict[str, int] = agent.evaluate("() => window.__seen")
    delays = [seen[t] - at for t, at in changed.items() if t in seen]
    missed = [t for t in changed if t not in seen]
    agent_context.close()
    visitor_context.close()

    per_minute = 60 / args.window
    result = {
        "changes": args.changes,
        "shown": len(delays),
        "skipped_by_the_view": len(missed),
        "delay_ms": {
            "p50": median(delays),
            "p95": percentile(delays, 95),
            "max": max(delays),
            "min": min(delays),
        },
        "requests_per_minute": {
            "unwatched": round(unwatched * per_minute, 1),
            "watched": round(watched * per_minute, 1),
        },
        "window_seconds": args.window,
    }
    print(
        table(
            ["changes shown", "p50 ms", "p95 ms", "max ms"],
            [
                [
                    f"{len(delays)} of {args.changes}",
                    *(round(result["delay_ms"][k]) for k in ("p50", "p95", "max")),
                ]
            ],
        )
    )
    print()
    print(
        table(
            ["visitor's page", "recorder requests per minute"],
            [
                ["not watched", result["requests_per_minute"]["unwatched"]],
                ["watched", result["requests_per_minute"]["watched"]],
            ],
        )
    )
    return result


if __name__ == "__main__":
    main()
