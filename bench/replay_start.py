"""Replay start: how soon the player shows the first frame of a 1, 10, 30 and 240-minute
recording, and what it downloaded before it; and how soon a seek to the middle of the
240-minute one shows its frame.

The recordings are built from the real recorder's batches (bench/capture.py: footage.js in
Chromium through the demo shop): its page views one after the other, ids and times moved,
until the recording lasts long enough. They go through the real write path (ingest, masks,
chunks) and the real finalizer, in this process with a clock that follows their times; the
cap on a recording's size is raised for the 240-minute one (its events are ~150 MB of JSON;
the default cap, 50 MB, would end it earlier). Then `footage serve` serves them and real
Chromium opens each player page in a fresh browser context (an empty cache), on loopback
and throttled to 50 Mbit/s (CDP `Network.emulateNetworkConditions`).

- time to first frame: navigation start → `#player[data-state=ready]` (the Replayer has
  drawn the first page), from the page's own clock;
- bytes before the first frame: what the recording's requests (`…/pieces…`) took on the
  wire (CDP `encodedDataLength`) until then, beside piece 0's stored (compressed) size;
- seek to the middle (240 min, loopback): `footagePlayer.seek(total / 2)` → the frame of
  that moment drawn (its piece loaded and replayed, two animation frames later);
- heap once every piece of the 240-minute recording is loaded.

    .venv/bin/python bench/replay_start.py [--minutes 1,10,30,240] [--runs 3]

Results: bench/out/replay_start.json; bench/RESULTS.md, "Replay start".
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from common import (
    BENCH_ORIGIN,
    OUT,
    BenchError,
    footage_server,
    load_captured,
    machine,
    median,
    table,
    write_json,
)

from footage.accounts.service import create_account
from footage.app import build_services
from footage.clock import FrozenClock
from footage.ingest.wire import parse_batch
from footage.ingest.writer import Visit
from footage.settings import Settings

EMAIL, PASSWORD = "replay@example.com", "replay-password-123"
BATCH_MS = 5_000  # the recorder's batches: every ~5 s
MBIT_50 = 50_000_000 / 8  # bytes per second
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# The moment the player says it is ready (the first frame drawn), on the page's own clock.
READY_PROBE = """
new MutationObserver((_, observer) => {
  const player = document.getElementById('player');
  if (player && player.dataset.state === 'ready' && window.__ready === undefined) {
    window.__ready = performance.now();
    observer.disconnect();
  }
}).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-state'] });
"""
SEEK = """
async (ms) => {
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  const t0 = performance.now();
  window.footagePlayer.seek(ms);
  const overlay = document.querySelector('.fp-overlay');
  while (overlay.classList.contains('fp-overlay-loading') && !overlay.hidden) {
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  await frame();
  await frame();
  return { ms: performance.now() - t0, at: window.footagePlayer.getCurrentTime() };
}
"""


def page_views(captured: list[Any]) -> list[list[dict[str, Any]]]:
    """The captured visit's page views: each one's events in time order."""
    views: dict[str, list[dict[str, Any]]] = {}
    for c in captured:
        batch = c.batch
        views.setdefault(batch["page_id"], []).extend(batch.get("events") or [])
    out = [sorted(events, key=lambda e: e["timestamp"]) for events in views.values() if events]
    out = [v for v in out if any(e["type"] == 2 for e in v)]
    if not out:
        raise BenchError("the captured batches hold no full snapshot: run bench/capture.py again")
    return sorted(out, key=lambda v: v[0]["timestamp"])


def build(views: list[list[dict[str, Any]]], minutes: float, start: int) -> list[list[Any]]:
    """Page views one after the other (2 s apart) from `start` until `minutes` are filled:
    [(page view events)] with their times moved."""
    out: list[list[Any]] = []
    cursor, end, i = start, start + int(minutes * 60_000) - 5_000, 0
    while cursor < end:
        view = views[i % len(views)]
        shift = cursor - view[0]["timestamp"]
        moved = [
            {**e, "timestamp": e["timestamp"] + shift}
            for e in view
            if e["timestamp"] + shift <= end
        ]
        out.append(moved)
        cursor = moved[-1]["timestamp"] + 2_000
        i += 1
    return out


def store(data_dir: Path, recordings: dict[float, list[list[Any]]], start: int) -> dict[float, str]:
    """Each recording through ingest and the finalizer; returns their ids."""
    clock = FrozenClock(start)
    settings = Settings.load(
        env={},
        overrides={
            "data_dir": str(data_dir),
            "demo": False,
            "background": False,
            "max_recording_bytes": 1_000_000_000,
        },
    )
    svc = build_services(settings, clock)
    account = create_account(
        svc.db,
        clock,
        name="Replay",
        plan="pro",
        email=EMAIL,
        password=PASSWORD,
        site_url=BENCH_ORIGIN,
    )
    visit = Visit(
        BENCH_ORIGIN,
        "http://127.0.0.1",
        "127.0.0.1",
        "Mozilla/5.0 (X11; Linux "
        "x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    )
    ids: dict[float, str] = {}
    for minutes, views in recordings.items():
        session = f"ses-{uuid.uuid4()}"
        visitor = f"vis-{uuid.uuid4()}"
        recording_id = ""
        # Each recording after the one before, on the clock that follows them.
        shift = clock.now_ms() + 1_000 - views[0][0]["timestamp"]
        for unshifted in views:
            view = [{**e, "timestamp": e["timestamp"] + shift} for e in unshifted]
            page = f"pag-{uuid.uuid4()}"
            url = next((e["data"].get("href") for e in view if e["type"] == 4), BENCH_ORIGIN)
            seq, k = 0, 0
            while k < len(view):
                until = view[k]["timestamp"] + BATCH_MS
                j = k
                while j < len(view) and view[j]["timestamp"] < until:
                    j += 1
                clock.advance(max(0, view[j - 1]["timestamp"] - clock.now_ms()) / 1000)
                body = {
                    "v": 1,
                    "site_key": account.site_key,
                    "visitor_id": visitor,
                    "session_id": session,
                    "page_id": page,
                    "seq": seq,
                    "events": view[k:j],
                    "page": {"url": url, "title": "Shop", "referrer": ""},
                    "screen": {"width": 1920, "height": 1080},
                    "viewport": {"width": 1280, "height": 720},
                    "left": j == len(view),
                }
                recording_id = svc.ingest.accept(parse_batch(body), visit).recording_id
                seq, k = seq + 1, j
        ids[minutes] = recording_id
        clock.advance(60)  # every page was left: past the grace period
        done = svc.finalizer.run_once()
        if done != 1:
            raise BenchError(f"the {minutes}-minute recording was not finalized")
        print(f"stored the {minutes:g}-minute recording", flush=True)
    svc.db.dispose()
    return ids


def open_player(browser: Any, url: str, recording_id: str, throttle: bool) -> dict[str, Any]:
    """One cold start of the player: time to first frame and the recording's bytes by then."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{url}/login")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/recordings")
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    if throttle:
        cdp.send(
            "Network.emulateNetworkConditions",
            {
                "offline": False,
                "latency": 0,
                "downloadThroughput": MBIT_50,
                "uploadThroughput": MBIT_50,
            },
        )
    sent: dict[str, tuple[float, str]] = {}
    finished: list[tuple[float, str, int]] = []

    def on_sent(e: dict[str, Any]) -> None:
        sent[e["requestId"]] = (e["timestamp"], e["request"]["url"])

    def on_finished(e: dict[str, Any]) -> None:
        url_of = sent.get(e["requestId"], (0.0, ""))[1]
        finished.append((e["timestamp"], url_of, int(e["encodedDataLength"])))

    cdp.on("Network.requestWillBeSent", on_sent)
    cdp.on("Network.loadingFinished", on_finished)
    page.add_init_script(READY_PROBE)
    player_url = f"{url}/recordings/{recording_id}"
    page.goto(player_url)
    page.wait_for_function("() => window.__ready !== undefined", timeout=300_000)
    ready_ms = page.evaluate("() => window.__ready")
    pieces = page.evaluate("() => window.footagePlayer.pieces()")
    # CDP's clock (monotonic seconds): the page's request is its navigation start, so the
    # first frame was at that + ready_ms. What the recording's requests took until then:
    navigated = min(t for t, u in sent.values() if u == player_url)
    first_frame_at = navigated + ready_ms / 1000
    before = sum(n for t, u, n in finished if "/pieces" in u and t <= first_frame_at)
    index = page.evaluate(
        "async (u) => (await (await fetch(u, {credentials: 'same-origin'})).json())",
        f"/recordings/{recording_id}/pieces",
    )
    result = {
        "ttff_ms": round(ready_ms, 1),
        "bytes_before_first_frame": before,
        "first_piece_bytes": index["pieces"][0]["bytes"],
        "pieces": len(index["pieces"]),
        "loaded_at_ready": pieces["loaded"],
    }
    return {"result": result, "context": context, "page": page, "index": index}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", default="1,10,30,240")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    minutes = [float(m) for m in args.minutes.split(",")]
    views = page_views(load_captured())
    start = int(time.time() * 1000) - int(sum(minutes) * 60_000) - 3_600_000
    recordings = {m: build(views, m, start) for m in minutes}
    with tempfile.TemporaryDirectory(prefix="footage-replay-") as tmp:
        data_dir = Path(tmp) / "data"
        ids = store(data_dir, recordings, start)
        rows: list[list[Any]] = []
        out: dict[str, Any] = {"machine": machine(), "runs": args.runs, "results": {}}
        with footage_server(data_dir, "--no-background") as server, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            for throttle in (False, True):
                net = "50 Mbit/s" if throttle else "loopback"
                for m in minutes:
                    runs = []
                    for _ in range(args.runs):
                        opened = open_player(browser, server.url, ids[m], throttle)
                        runs.append(opened["result"])
                        opened["context"].close()
                    best = {
                        k: median([r[k] for r in runs])
                        for k in ("ttff_ms", "bytes_before_first_frame")
                    }
                    first = runs[0]
                    out["results"][f"{net} {m:g} min"] = {"runs": runs, **best}
                    rows.append(
                        [
                            net,
                            f"{m:g} min",
                            first["pieces"],
                            f"{best['ttff_ms']:.0f}",
                            f"{best['bytes_before_first_frame']:,}",
                            f"{first['first_piece_bytes']:,}",
                        ]
                    )
                    print(rows[-1], flush=True)
            # Seek to the middle of the longest, on loopback, right after the first frame.
            longest = max(minutes)
            seeks, heap = [], None
            for _ in range(args.runs):
                opened = open_player(browser, server.url, ids[longest], False)
                page, index = opened["page"], opened["index"]
                middle = index["duration_ms"] / 2
                seeks.append(page.evaluate(SEEK, middle))
                page.wait_for_selector("#player[data-loaded=all]", timeout=600_000)
                heap = page.evaluate(
                    "() => performance.memory && performance.memory.usedJSHeapSize"
                )
                opened["context"].close()
            out["seek_middle"] = {
                "minutes": longest,
                "runs": seeks,
                "ms": median([s["ms"] for s in seeks]),
            }
            out["heap_all_loaded_bytes"] = heap
            browser.close()
    write_json(OUT / "replay_start.json", out)
    print(
        table(
            [
                "network",
                "recording",
                "pieces",
                "first frame (ms)",
                "bytes before it",
                "piece 0 stored",
            ],
            rows,
        )
    )
    print(
        f"seek to the middle of {longest:g} min: {out['seek_middle']['ms']:.0f} ms; "
        f"heap with every piece loaded: {heap}"
    )


if __name__ == "__main__":
    try:
        main()
    except BenchError as error:
        sys.exit(f"replay_start: {error}")
