"""Capture realistic batches from the real recorder (footage.js in real Chromium).

Starts `footage serve` (temporary data dir, free port, demo shop), puts a small recording
proxy in front of it, and drives Chromium through the demo shop like a visitor: mouse moves,
scrolling, a search, a product page, back to the shop, another product page read for a while
(long enough for one heartbeat), the checkout form typed in, then the tab is closed.

Every POST /api/v1/ingest body the browser sends is saved with its headers, base64, to
bench/out/batches.jsonl, in the order they reached the proxy. bench/out/capture.json keeps
the heartbeat count and a check against what the server stored.

Why a proxy and not only Playwright's request events: Chromium does not report requests sent
with navigator.sendBeacon during pagehide to Playwright (neither `request` events nor
`route`), and those beacons carry the end of every page view (`left: true`). The proxy sees
exactly what reaches the server. Playwright's events are still counted as a cross-check.

    .venv/bin/python bench/capture.py [--read-seconds 42] [--headed]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import random
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from common import (
    BATCHES_FILE,
    CAPTURE_META_FILE,
    OUT,
    BenchError,
    Captured,
    footage_server,
    free_port,
    machine,
    write_json,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from footage.chromium import CHROMIUM_ARGS

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"}
WIDTH, HEIGHT = 1366, 768  # the most common desktop screen
# An element's first box on screen (its first line, for text that wraps), in page pixels.
FIRST_BOX = """
(element) => {
  const rect = [...element.getClientRects()].find((r) => r.width > 0 && r.height > 0);
  return rect ? { x: rect.x, y: rect.y, width: rect.width, height: rect.height } : null;
}
"""


# ---- the recording proxy -------------------------------------------------------------------


@dataclass
class Recorded:
    """What the proxy saw of the recorder's POSTs."""

    started: float = field(default_factory=time.monotonic)
    batches: list[dict[str, Any]] = field(default_factory=list)
    heartbeats: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        return round(time.monotonic() - self.started, 3)


def proxy_app(upstream: str, seen: Recorded) -> Starlette:
    """A pass-through reverse proxy to `upstream` that records ingest and heartbeat POSTs.

    Answers go back byte for byte, in the encoding the server chose for the browser."""
    client = httpx.AsyncClient(base_url=upstream, timeout=30.0)

    async def forward(request: Request) -> Response:
        body = await request.body()
        headers = {k: v for k, v in request.headers.items() if k not in HOP_BY_HOP}
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        t = seen.now()
        answer = await client.send(
            client.build_request(request.method, path, content=body, headers=headers),
            stream=True,
        )
        # The body as the server encoded it (brotli, gzip…): the browser decodes it itself, as
        # without the proxy. httpx would decode it, and it knows no brotli.
        raw = b"".join([part async for part in answer.aiter_raw()])
        await answer.aclose()
        if request.method == "POST" and request.url.path == "/api/v1/ingest":
            with seen.lock:
                seen.batches.append(
                    {
                        "t": t,
                        "headers": dict(request.headers),
                        "status": answer.status_code,
                        "bytes": len(body),
                        "body_b64": base64.b64encode(body).decode(),
                    }
                )
        elif request.method == "POST" and request.url.path == "/api/v1/heartbeat":
            with seen.lock:
                seen.heartbeats.append(t)
        out_headers = {k: v for k, v in answer.headers.items() if k not in HOP_BY_HOP}
        return Response(raw, status_code=answer.status_code, headers=out_headers)

    methods = ["GET", "POST", "OPTIONS", "HEAD"]
    return Starlette(routes=[Route("/{path:path}", forward, methods=methods)])


class ProxyThread:
    """uvicorn serving the proxy in a background thread of this process."""

    def __init__(self, app: Starlette) -> None:
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ProxyThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise BenchError("the recording proxy did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


# ---- the visitor ---------------------------------------------------------------------------


class Visitor:
    """Drives one Playwright page like a person: gliding mouse, wheel scrolls, typing."""

    def __init__(self, page: Any, rng: random.Random) -> None:
        self.page, self.rng = page, rng
        self.x, self.y = 200.0, 200.0

    def pause(self, seconds: float) -> None:
        self.page.wait_for_timeout(int(seconds * 1000))

    def glide(self, x: float, y: float, seconds: float = 0.8) -> None:
        """Moves the mouse along a slightly curved path at ~60 moves per second."""
        steps = max(2, int(seconds * 60))
        x0, y0 = self.x, self.y
        bend_x, bend_y = self.rng.uniform(-80, 80), self.rng.uniform(-60, 60)
        for i in range(1, steps + 1):
            f = i / steps
            ease = f * f * (3 - 2 * f)
            arc = 4 * f * (1 - f)
            nx = x0 + (x - x0) * ease + bend_x * arc + self.rng.uniform(-1.5, 1.5)
            ny = y0 + (y - y0) * ease + bend_y * arc + self.rng.uniform(-1.5, 1.5)
            self.page.mouse.move(nx, ny)
            self.page.wait_for_timeout(16)
        self.x, self.y = x, y

    def glide_to(self, selector: str, seconds: float = 0.8) -> None:
        """Moves the mouse to a point inside the element: inside its first line box, since a
        link that wraps onto two lines ("Rechargeable head / torch") does not cover its whole
        bounding box, and a point there would miss it."""
        box = self.page.locator(selector).first.evaluate(FIRST_BOX)
        if box is None:
            raise BenchError(f"the demo page has no visible {selector!r}")
        self.glide(
            box["x"] + box["width"] * self.rng.uniform(0.3, 0.7),
            box["y"] + box["height"] * self.rng.uniform(0.3, 0.7),
            seconds,
        )

    def click(self, selector: str, seconds: float = 0.8) -> None:
        self.glide_to(selector, seconds)
        self.pause(self.rng.uniform(0.15, 0.4))
        self.page.mouse.down()
        self.page.wait_for_timeout(self.rng.randint(60, 120))
        self.page.mouse.up()

    def wander(self, seconds: float) -> None:
        """Idle mouse movement over the page, as people do while looking."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            x = self.rng.uniform(80, WIDTH - 80)
            y = self.rng.uniform(120, HEIGHT - 60)
            self.glide(x, y, self.rng.uniform(0.5, 1.2))
            self.pause(self.rng.uniform(0.2, 0.8))

    def scroll(self, pixels: int, seconds: float = 1.0) -> None:
        """Wheel scrolling in notches of 100 px."""
        notches = max(1, abs(pixels) // 100)
        for _ in range(notches):
            self.page.mouse.wheel(0, 100 if pixels > 0 else -100)
            self.page.wait_for_timeout(int(seconds * 1000 / notches))

    def type(self, selector: str, text: str) -> None:
        self.click(selector, 0.6)
        for ch in text:
            self.page.keyboard.type(ch)
            self.page.wait_for_timeout(self.rng.randint(70, 180))

    def clear(self, selector: str) -> None:
        self.page.locator(selector).focus()
        self.page.keyboard.press("Control+A")
        self.page.wait_for_timeout(150)
        self.page.keyboard.press("Backspace")


def wait_for_recorder(page: Any) -> None:
    """footage.js has loaded and replaced the snippet's queue."""
    page.wait_for_function("typeof window.footage === 'function' && !window.footage.q")


def visit_shop(v: Visitor, base: str, read_seconds: float) -> list[str]:
    """The visit itself; returns the pages seen, in order. About 75 s plus `read_seconds`."""
    page = v.page
    page.goto(f"{base}/demo/")
    wait_for_recorder(page)
    # Shop: look around, scroll, search twice, add one product to the cart.
    v.wander(4)
    v.scroll(400, 1.2)
    v.wander(2)
    v.scroll(-400, 1.0)
    v.type("#search", "jacket")
    v.pause(1.5)
    v.glide_to(".product:not([hidden])", 0.8)
    v.pause(1.0)
    v.clear("#search")
    v.type("#search", "socks")
    v.pause(1.2)
    v.click(".product:not([hidden]) .add")
    v.pause(0.8)
    v.clear("#search")
    v.wander(2)
    v.click("text=Packable rain jacket")
    page.wait_for_url("**/demo/product/rain-jacket")
    wait_for_recorder(page)
    # Product page: read, choose a quantity, add to cart, back to the shop.
    v.wander(3)
    v.glide_to("#qty")
    page.select_option("#qty", "2")
    v.pause(0.8)
    v.click("#add")
    v.pause(1.0)
    v.scroll(300, 0.8)
    v.wander(2)
    v.scroll(-300, 0.8)
    v.click("text=← All products")
    page.wait_for_url("**/demo/")
    wait_for_recorder(page)
    # Shop again: a short look, then another product.
    v.scroll(300, 1.0)
    v.wander(3)
    v.scroll(-300, 0.8)
    v.click("text=Rechargeable head torch")
    page.wait_for_url("**/demo/product/head-torch")
    wait_for_recorder(page)
    # Second product: the visitor reads without touching anything (a heartbeat goes out).
    v.glide_to("#product-name", 0.8)
    v.pause(read_seconds)
    v.wander(2)
    v.click("#add")
    v.pause(1.0)
    v.click("a.btn[href='/demo/checkout']")
    page.wait_for_url("**/demo/checkout")
    wait_for_recorder(page)
    # Checkout: fill the form (masked by the recorder; the password is never recorded).
    v.wander(2)
    v.type("#name", "Maria Example")
    v.type("#email", "maria@example.com")
    v.type("#address", "12 Harbour Road")
    v.type("#card", "4242 4242 4242 4242")
    v.type("#password", "correct-horse-7")
    v.glide_to("#pay", 1.0)
    v.pause(2.0)
    v.wander(2)
    return [
        "/demo/",
        "/demo/product/rain-jacket",
        "/demo/",
        "/demo/product/head-torch",
        "/demo/checkout",
    ]


# ---- the run -------------------------------------------------------------------------------


def chromium_path(explicit: str | None) -> str:
    path = explicit or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        raise BenchError("Chromium is not installed (scripts/test installs Debian's package)")
    return path


def recorder_fingerprint(base: str) -> dict[str, Any]:
    """Which footage.js the server hands out (web/ changes; the capture depends on it)."""
    resp = httpx.get(f"{base}/footage.js", timeout=5)
    if resp.status_code != 200:
        raise BenchError("footage.js is not built: run scripts/install (or node build.mjs in web/)")
    return {
        "footage_js_bytes": len(resp.content),
        "footage_js_sha256": hashlib.sha256(resp.content).hexdigest()[:16],
    }


def drive_browser(base: str, chromium: str, headed: bool, read_seconds: float) -> dict[str, Any]:
    """Runs the visit in a fresh browser context and closes the tab at the end."""
    from playwright.sync_api import sync_playwright

    observed = {"playwright_ingest_requests": 0}

    def on_request(request: Any) -> None:
        if request.method == "POST" and request.url.endswith("/api/v1/ingest"):
            observed["playwright_ingest_requests"] += 1

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium, args=CHROMIUM_ARGS, headless=not headed
        )
        context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}, locale="en-GB")
        context.on("request", on_request)
        page = context.new_page()
        user_agent = page.evaluate("navigator.userAgent")
        started = time.monotonic()
        pages = visit_shop(Visitor(page, random.Random(20260)), base, read_seconds)
        page.close(run_before_unload=True)  # pagehide → the leave beacon
        visit_seconds = time.monotonic() - started
        time.sleep(2.0)  # let the beacon go out before the browser goes away
        context.close()
        browser.close()
    return {
        "pages": pages,
        "visit_seconds": round(visit_seconds, 1),
        "user_agent": user_agent,
        **observed,
    }


def wait_for_ready(base: str, api_token: str, timeout: float = 60.0) -> dict[str, Any]:
    """The one recording of the visit, once the finalizer made it ready."""
    auth = {"Authorization": f"Bearer {api_token}"}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = httpx.get(f"{base}/api/v1/recordings", headers=auth, timeout=10).json()["items"]
        if items:
            rec = items[0]
            events = httpx.get(
                f"{base}/api/v1/recordings/{rec['id']}/events", headers=auth, timeout=30
            ).json()
            return {"recordings": len(items), "recording": rec, "events": len(events)}
        time.sleep(1.0)
    raise BenchError(f"the visit's recording was not ready {timeout:.0f} s after the tab closed")


def save(seen: Recorded, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w") as f:
        for row in seen.batches:
            f.write(json.dumps(row) + "\n")


def summarize_capture(batches: list[Captured]) -> dict[str, Any]:
    parsed = [b.batch for b in batches]
    return {
        "batches": len(batches),
        "gzip_bodies": sum(b.gzipped for b in batches),
        "plain_bodies": sum(not b.gzipped for b in batches),
        "left_batches": sum(bool(p.get("left")) for p in parsed),
        "page_views": len({p["page_id"] for p in parsed}),
        "events": sum(len(p["events"]) for p in parsed),
        "bytes_sent": sum(len(b.body) for b in batches),
        "json_bytes": sum(len(b.json_bytes) for b in batches),
        "statuses": sorted({b.status for b in batches if b.status is not None}),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--read-seconds",
        type=float,
        default=42.0,
        help="idle reading on the second product page (≥ 41 s sends a heartbeat)",
    )
    parser.add_argument("--chromium", help="Chromium binary (default: `chromium` on PATH)")
    parser.add_argument("--headed", action="store_true", help="show the browser window")
    parser.add_argument("--out", type=Path, default=BATCHES_FILE)
    args = parser.parse_args()

    chromium = chromium_path(args.chromium)
    seen = Recorded()
    with tempfile.TemporaryDirectory(prefix="footage-capture-") as tmp:
        data_dir = Path(tmp) / "data"
        with footage_server(data_dir) as server:
            login = json.loads((data_dir / "demo-login.json").read_text())
            with ProxyThread(proxy_app(server.url, seen)) as proxy:
                recorder = recorder_fingerprint(proxy.url)
                print(f"driving Chromium through the demo shop (~{75 + args.read_seconds:.0f} s)…")
                seen.started = time.monotonic()
                visit = drive_browser(proxy.url, chromium, args.headed, args.read_seconds)
                print("tab closed; waiting for the recording to be ready…")
                ready = wait_for_ready(server.url, login["api_token"])
    save(seen, args.out)
    batches = [
        Captured(r["t"], base64.b64decode(r["body_b64"]), r["headers"], r["status"])
        for r in seen.batches
    ]
    summary = summarize_capture(batches)
    check = {
        "server_events": ready["events"],
        "captured_events": summary["events"],
        "server_recordings": ready["recordings"],
        "server_page_count": ready["recording"]["page_count"],
        "server_duration_ms": ready["recording"]["duration_ms"],
        "match": ready["events"] == summary["events"] and ready["recordings"] == 1,
    }
    meta = {
        **machine(),
        **visit,
        **recorder,
        "heartbeats": len(seen.heartbeats),
        "heartbeat_times": seen.heartbeats,
        **summary,
        "server_check": check,
    }
    write_json(CAPTURE_META_FILE, meta)
    print(json.dumps({k: v for k, v in meta.items() if k != "heartbeat_times"}, indent=2))
    print(f"saved {len(batches)} batches to {args.out.relative_to(OUT.parent.parent)}")
    if not check["match"]:
        print(
            "WARNING: the server stored a different number of events than were captured",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"capture.py: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
