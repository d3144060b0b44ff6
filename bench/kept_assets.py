"""Assets kept with recordings: storage with deduplication, and what keeping them costs.

A shop on a loopback port of its own serves a catalogue the way real shops do: one
stylesheet (with two web fonts and two background images in it) and 200 product pictures,
40 on each of 5 category pages. VISITORS simulated visitors each view one category page: one
batch with the page's snapshot (a link to the stylesheet, the page's 40 pictures), then the
leave beacon, sent over HTTP to two `footage serve` processes side by side — one keeping
assets (`--asset-private-addresses`, since the shop is on loopback), one with
`--no-keep-assets` — alternating visitor by visitor, so both see the same machine.

It reports:
- what the shop was asked for (requests per asset) and what Footage stored (`kept_assets` of
  `GET /api/v1/usage`) against what copies per recording would take;
- the stored bytes per recording, events and assets;
- the servers' CPU time for the same batches, and the wait until the last copy is stored;
- the visitor's page: the recorder is the same with or without kept assets (the copies are
  taken by the server), so real Chromium loads the shop's page against each server and counts
  the requests and bytes the page sends to Footage.

    .venv/bin/python bench/kept_assets.py [--visitors 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import http.server
import json
import random
import sqlite3
import struct
import sys
import tempfile
import threading
import time
import uuid
import zlib
from pathlib import Path
from typing import Any

import httpx
from common import (
    OUT,
    REPO,
    BenchError,
    Server,
    create_account,
    footage_server,
    machine,
    table,
    tree_cpu_seconds,
    write_json,
)

FONTS = Path("/usr/share/fonts/truetype/dejavu")
PAGES, PICTURES_PER_PAGE = 5, 40
NO_LIMITS = ("--ingest-ip-rate", "0", "--ingest-site-rate", "0", "--ingest-ip-new-recordings", "0")
COMMON = (
    "--no-demo",
    "--leave-grace-seconds",
    "1",
    "--finalizer-interval-seconds",
    "0.5",
    *NO_LIMITS,
)


def picture(seed: int, width: int = 160, height: int = 120) -> bytes:
    """A PNG of noise (compresses about as badly as a product photo)."""
    rng = random.Random(seed)
    rows = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def shop_files() -> dict[str, tuple[str, bytes]]:
    css = (
        "@font-face { font-family: Shop; src: url(/fonts/shop.ttf) }\n"
        "@font-face { font-family: ShopBold; src: url(/fonts/shop-bold.ttf) }\n"
        "header { background: url(/img/banner.png) }\nfooter { background: url(/img/tile.png) }\n"
    ) + "".join(
        f".c{i} {{ margin: {i % 7}px; padding: {i % 5}px; color: #{i:06x} }}\n" for i in range(600)
    )
    files = {
        "/shop.css": ("text/css", css.encode()),
        "/fonts/shop.ttf": ("font/ttf", (FONTS / "DejaVuSans.ttf").read_bytes()),
        "/fonts/shop-bold.ttf": ("font/ttf", (FONTS / "DejaVuSans-Bold.ttf").read_bytes()),
        "/img/banner.png": ("image/png", picture(-1, 600, 80)),
        "/img/tile.png": ("image/png", picture(-2, 40, 40)),
    }
    for n in range(PAGES * PICTURES_PER_PAGE):
        files[f"/img/p{n}.png"] = ("image/png", picture(n))
    return files


class Shop(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, files: dict[str, tuple[str, bytes]]) -> None:
        self.files, self.hits = files, {}
        super().__init__(("127.0.0.1", 0), ShopHandler)


class ShopHandler(http.server.BaseHTTPRequestHandler):
    server: Shop

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0]
        self.server.hits[path] = self.server.hits.get(path, 0) + 1
        found = self.server.files.get(path)
        if found is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", found[0])
        self.send_header("Content-Length", str(len(found[1])))
        self.end_headers()
        self.wfile.write(found[1])

    def log_message(self, *args: Any) -> None:
        pass


def page_events(origin: str, page: int, now_ms: int) -> list[dict[str, Any]]:
    """A category page's first events: meta, its snapshot, a click."""
    pictures = [
        {
            "type": 2,
            "tagName": "img",
            "attributes": {
                "src": f"{origin}/img/p{page * PICTURES_PER_PAGE + i}.png",
                "alt": f"Product {i}",
            },
            "childNodes": [],
            "id": 100 + i,
        }
        for i in range(PICTURES_PER_PAGE)
    ]
    head = {
        "type": 2,
        "tagName": "head",
        "attributes": {},
        "id": 3,
        "childNodes": [
            {
                "type": 2,
                "tagName": "link",
                "attributes": {"rel": "stylesheet", "href": f"{origin}/shop.css"},
                "childNodes": [],
                "id": 4,
            }
        ],
    }
    body = {"type": 2, "tagName": "body", "attributes": {}, "id": 5, "childNodes": pictures}
    html = {"type": 2, "tagName": "html", "attributes": {}, "id": 2, "childNodes": [head, body]}
    return [
        {
            "type": 4,
            "data": {"href": f"{origin}/c/{page}", "width": 1280, "height": 720},
            "timestamp": now_ms,
        },
        {
            "type": 2,
            "data": {
                "node": {"type": 0, "childNodes": [html], "id": 1},
                "initialOffset": {"left": 0, "top": 0},
            },
            "timestamp": now_ms,
        },
        {
            "type": 3,
            "data": {"source": 2, "type": 2, "id": 100, "x": 10, "y": 10},
            "timestamp": now_ms + 500,
        },
    ]


def batches(site_key: str, origin: str, page: int) -> list[bytes]:
    ids = {
        "visitor_id": str(uuid.uuid4()),
        "session_id": str(uuid.uuid4()),
        "page_id": str(uuid.uuid4()),
    }
    now = int(time.time() * 1000)
    out = []
    for seq, (events, left) in enumerate([(page_events(origin, page, now), False), ([], True)]):
        body = {
            "v": 1,
            "site_key": site_key,
            **ids,
            "seq": seq,
            "events": events,
            "page": {"url": f"{origin}/c/{page}", "title": "Category", "referrer": ""},
            "screen": {"width": 1920, "height": 1080},
            "viewport": {"width": 1280, "height": 720},
            "left": left,
        }
        out.append(gzip.compress(json.dumps(body).encode(), 6))
    return out


async def send_visitors(
    targets: list[tuple[Server, dict[str, str]]], origin: str, visitors: int
) -> None:
    """Each visitor to each target in turn (alternating which goes first), 8 at a time."""
    gate = asyncio.Semaphore(8)
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip", "Origin": origin}
    async with httpx.AsyncClient(timeout=60) as client:

        async def visit(n: int) -> None:
            async with gate:
                order = targets if n % 2 == 0 else targets[::-1]
                for server, account in order:
                    for body in batches(account["site_key"], origin, n % PAGES):
                        r = await client.post(
                            f"{server.url}/api/v1/ingest", content=body, headers=headers
                        )
                        if r.status_code != 200:
                            raise BenchError(f"{server.name}: {r.status_code} {r.text[:200]}")

        await asyncio.gather(*(visit(n) for n in range(visitors)))


def allow(server: Server, account: dict[str, str], origin: str) -> None:
    auth = {"Authorization": f"Bearer {account['api_token']}"}
    with httpx.Client(base_url=server.url, headers=auth) as http:
        r = http.patch(
            f"/api/v1/sites/{account['site_id']}/settings", json={"allowed_origins": [origin]}
        )
        if r.status_code != 200:
            raise BenchError(f"settings: {r.status_code} {r.text}")


def usage(server: Server, account: dict[str, str]) -> dict[str, Any]:
    auth = {"Authorization": f"Bearer {account['api_token']}"}
    return httpx.get(f"{server.url}/api/v1/usage", headers=auth).json()


def stored(data_dir: Path) -> dict[str, int]:
    with sqlite3.connect(data_dir / "footage.db") as db:
        n, events = db.execute(
            "SELECT COUNT(*), SUM(stored_bytes) FROM recordings WHERE status = 'ready'"
        ).fetchone()
        waiting = db.execute(
            "SELECT COUNT(*) FROM site_assets WHERE state IN ('pending', 'fetching')"
        ).fetchone()[0]
    return {"ready": int(n), "event_bytes": int(events or 0), "copies_waiting": int(waiting)}


def wait(predicate: Any, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise BenchError(f"timed out waiting for {what}")
        time.sleep(0.1)
    return time.monotonic() - started


def visitor_page_cost(
    targets: list[tuple[Server, dict[str, str]]], origin_of: dict[str, str], runs: int
) -> dict[str, Any]:
    """Real Chromium: the shop's page with the snippet against each server; what the page
    sends to Footage, and its main thread's time, from the click until 15 s later."""
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(REPO))
    from footage.chromium import CHROMIUM_ARGS, chromium_path

    def metrics(cdp: Any) -> dict[str, float]:
        found = cdp.send("Performance.getMetrics")["metrics"]
        return {m["name"]: m["value"] for m in found}

    out: dict[str, Any] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        for run in range(runs):
            for server, account in targets if run % 2 == 0 else targets[::-1]:
                sent = {"requests": 0, "bytes": 0, "copy_requests": 0, "copy_bytes": 0}

                def note(request: Any, host: str = server.url, sent: dict[str, Any] = sent) -> None:
                    if request.url.startswith(host) and request.method == "POST":
                        size = len(request.post_data_buffer or b"")
                        sent["requests"] += 1
                        sent["bytes"] += size
                        if "/api/v1/assets/" in request.url:
                            sent["copy_requests"] += 1
                            sent["copy_bytes"] += size

                context = browser.new_context(viewport={"width": 1280, "height": 720})
                context.on("request", note)
                page = context.new_page()
                cdp = context.new_cdp_session(page)
                cdp.send("Performance.enable", {"timeDomain": "threadTicks"})
                with page.expect_response(lambda r: "/config" in r.url):
                    page.goto(
                        f"{origin_of[server.name]}/c/0?key={account['site_key']}&host={server.url}"
                    )
                page.wait_for_function("window.footage && window.footage.loaded")
                before = metrics(cdp)
                with page.expect_response(lambda r: r.url.endswith("/api/v1/ingest")):
                    page.mouse.click(200, 200)
                # The same window for each: the recorder's own pace (it offers copies 10 s
                # after the first batch).
                page.wait_for_timeout(15_000)
                after = metrics(cdp)
                sent["script_ms"] = round(
                    (after["ScriptDuration"] - before["ScriptDuration"]) * 1000, 1
                )
                sent["main_thread_ms"] = round(
                    (after["TaskDuration"] - before["TaskDuration"]) * 1000, 1
                )
                context.close()
                out.setdefault(server.name, []).append(sent)
        browser.close()
    return out


PAGE_HTML = """<!doctype html><html><head><meta charset="utf-8"><title>Category</title>
<link rel="stylesheet" href="/shop.css"><script>
  const q = new URLSearchParams(location.search);
  window.footage = window.footage || function () { (footage.q = footage.q || []).push(arguments); };
  footage('init', q.get('key'), { host: q.get('host') });
  const s = document.createElement('script'); s.async = true; s.src = q.get('host') + '/footage.js';
  document.head.appendChild(s);
</script></head><body><header>Shop</header>%s<footer>Footer</footer></body></html>"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=1000)
    parser.add_argument("--browser-runs", type=int, default=4)
    parser.add_argument("--json", type=Path, default=OUT / "kept_assets.json")
    args = parser.parse_args()

    files = shop_files()
    files["/c/0"] = (
        "text/html; charset=utf-8",
        (
            PAGE_HTML
            % "".join(
                f'<img src="/img/p{i}.png" width="160" height="120">'
                for i in range(PICTURES_PER_PAGE)
            )
        ).encode(),
    )
    asset_bytes = {p: len(b) for p, (t, b) in files.items() if not t.startswith("text/html")}
    shop = Shop(files)
    threading.Thread(target=shop.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{shop.server_address[1]}"
    with tempfile.TemporaryDirectory(prefix="footage-bench-assets-") as tmp:
        kept_dir, plain_dir = Path(tmp) / "kept" / "data", Path(tmp) / "plain" / "data"
        given_dir = Path(tmp) / "given" / "data"
        kept_account = create_account(kept_dir, origin)
        plain_account = create_account(plain_dir, origin)
        given_account = create_account(given_dir, origin)
        with (
            footage_server(kept_dir, *COMMON, "--asset-private-addresses") as kept,
            footage_server(plain_dir, *COMMON, "--no-keep-assets") as plain,
            # Kept assets, but the server may not fetch from loopback: the browser gives all.
            footage_server(given_dir, *COMMON) as given,
        ):
            kept.name, plain.name = "kept assets", "no kept assets"
            given.name = "kept assets, all given by the browser"
            for server, account in (
                (kept, kept_account),
                (plain, plain_account),
                (given, given_account),
            ):
                allow(server, account, origin)
            targets = [(kept, kept_account), (plain, plain_account)]
            cpu_before = {s.name: tree_cpu_seconds(s.proc.pid) for s, _ in targets}
            started = time.monotonic()
            print(f"{args.visitors} visitors to both servers…")
            asyncio.run(send_visitors(targets, origin, args.visitors))
            sent_s = time.monotonic() - started
            copies_s = wait(lambda: stored(kept_dir)["copies_waiting"] == 0, 300, "the copies")
            for server, account in targets:
                wait(
                    lambda s=server, a=account: usage(s, a)["stored_recordings"] >= args.visitors,
                    300,
                    "ready",
                )
            cpu = {s.name: tree_cpu_seconds(s.proc.pid) - cpu_before[s.name] for s, _ in targets}
            kept_usage = usage(kept, kept_account)["kept_assets"]
            # Footage's requests only: the browser runs below load the shop's page too.
            hits = {p: n for p, n in shop.hits.items() if not p.startswith("/c/")}
            print("visitor's page in Chromium…")
            cost = visitor_page_cost(
                [*targets, (given, given_account)],
                {kept.name: origin, plain.name: origin, given.name: origin},
                args.browser_runs,
            )
        kept_stored, plain_stored = stored(kept_dir), stored(plain_dir)
    shop.shutdown()

    used_per_visit = sum(
        asset_bytes[p]
        for p in (
            "/shop.css",
            "/fonts/shop.ttf",
            "/fonts/shop-bold.ttf",
            "/img/banner.png",
            "/img/tile.png",
        )
    )
    used_per_visit += sum(asset_bytes[f"/img/p{i}.png"] for i in range(PICTURES_PER_PAGE))
    rows = [
        [
            "assets the visits used (distinct)",
            len(asset_bytes) - 0,
            f"{sum(asset_bytes.values()):,}",
        ],
        ["copies stored (kept_assets)", kept_usage["copies"], f"{kept_usage['bytes']:,}"],
        [
            "a copy per recording instead",
            args.visitors * (PICTURES_PER_PAGE + 5),
            f"{used_per_visit * args.visitors:,}",
        ],
    ]
    print(table(["", "count", "bytes"], rows))
    per_recording = kept_usage["bytes"] / args.visitors
    print(
        f"requests the shop got from Footage: {sum(hits.values())} for {len(hits)} assets "
        f"(most for one asset: {max(hits.values())}); the visits referred to assets "
        f"{args.visitors * (PICTURES_PER_PAGE + 1)} times"
    )
    print(
        f"stored per recording: events {kept_stored['event_bytes'] / args.visitors:,.0f} bytes, "
        f"assets {per_recording:,.0f} bytes (their share of the copies)"
    )
    cpu_rows = [
        [name, f"{seconds:.2f}", f"{seconds / cpu['no kept assets']:.2f}"]
        for name, seconds in cpu.items()
    ]
    print(
        table(
            ["server", "CPU s for the same batches (and their finalize)", "÷ no kept assets"],
            cpu_rows,
        )
    )
    print(f"all batches sent in {sent_s:.1f} s; the last copy stored {copies_s:.1f} s after that")
    page_rows = []
    for name, runs in cost.items():
        page_rows.append(
            [
                name,
                "/".join(str(r["requests"]) for r in runs),
                "/".join(f"{r['bytes']:,}" for r in runs),
                "/".join(f"{r['copy_requests']} ({r['copy_bytes']:,})" for r in runs),
                "/".join(str(r["script_ms"]) for r in runs),
                "/".join(str(r["main_thread_ms"]) for r in runs),
            ]
        )
    print(
        table(
            [
                "server",
                "requests the page sent to Footage (per run)",
                "bytes sent",
                "of which copies: requests (bytes)",
                "script, CPU ms",
                "main thread, CPU ms",
            ],
            page_rows,
        )
    )
    write_json(
        args.json,
        {
            "machine": machine(),
            "visitors": args.visitors,
            "asset_bytes_distinct": sum(asset_bytes.values()),
            "kept_assets": kept_usage,
            "copy_per_recording_bytes": used_per_visit * args.visitors,
            "shop_hits": hits,
            "event_bytes": {
                "kept": kept_stored["event_bytes"],
                "plain": plain_stored["event_bytes"],
            },
            "cpu_seconds": cpu,
            "sent_seconds": sent_s,
            "copies_after_seconds": copies_s,
            "visitor_page": cost,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
