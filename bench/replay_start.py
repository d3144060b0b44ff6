"""Replay start: how soon the player shows the first frame of a 1, 10, 30 and 240-minute
recording, and what it downloaded before it; how soon a seek to the middle of the
240-minute one shows its frame; and the player's JS heap once all its pieces are in.

The recordings are built from the real recorder's batches (bench/capture.py: footage.js in
Chromium through the demo shop): its page views one after the other, ids and times moved,
until the recording lasts long enough (5 s short of it: the default cap on a recording's
length is 4 hours). They go through the real write path (ingest, masks, chunks) and the real
finalizer, in this process with a clock that follows their times (the 240-minute one: ~11 MB
of JSON, ~1 min to build; the cap on a recording's size is raised anyway, for a capture with
bigger pages). Then `footage serve` serves them and real Chromium opens each player page in
a fresh browser context (logged in, an empty cache, cache disabled), on loopback and
throttled to 50 Mbit/s (CDP `Network.emulateNetworkConditions`, no added latency). One
untimed opening of each recording first; then every run opens each recording on both
networks in turn, so the lengths are measured side by side (the machine is shared).

- time to first frame: navigation start → `#player[data-state=ready]` (the Replayer has
  drawn the first page), on the page's own clock;
- bytes before the first frame: what the recording's requests (the index `…/pieces` and
  `…/pieces/{n}`) took on the wire (Resource Timing `transferSize`: body and headers) if they
  ended before that moment, beside piece 0's stored (compressed) size;
- seek to the middle (longest recording, loopback), right after the first frame:
  `footagePlayer.seek(total / 2)` → the frame of that moment drawn (its piece loaded and
  replayed, two animation frames later);
- then the JS heap once every piece is loaded (CDP `Runtime.getHeapUsage` after a forced
  garbage collection), beside the shortest recording's.

    .venv/bin/python bench/replay_start.py [--minutes 1,10,30,240] [--runs 3]

Needs bench/out/batches.jsonl (bench/capture.py). Takes ~4 min with the defaults on the
busy 2-core machine of bench/RESULTS.md.
Results: bench/out/replay_start.json; bench/RESULTS.md, "Replay start".
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from common import (
    BENCH_ORIGIN,
    OUT,
    BenchError,
    footage_server,
    load_captured,
    machine,
    median,
    table,
    view_batches,
    write_json,
)

from footage.accounts.service import create_account
from footage.app import build_services
from footage.chromium import CHROMIUM_ARGS
from footage.clock import FrozenClock
from footage.ingest.wire import parse_batch
from footage.ingest.writer import Visit
from footage.settings import Settings

EMAIL, PASSWORD = "replay@example.com", "replay-password-123"
MBIT_50 = 50_000_000 / 8  # bytes per second
# The moment the player says it is ready (the first frame drawn), on the page's own clock.
READY_PROBE = """
performance.setResourceTimingBufferSize(100000);
new MutationObserver((_, observer) => {
  const player = document.getElementById('player');
  if (player && player.dataset.state === 'ready' && window.__ready === undefined) {
    window.__ready = performance.now();
    observer.disconnect();
  }
}).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-state'] });
"""
# The recording's requests (index and pieces) as the page saw them, on its own clock:
# transferSize is what came over the wire (headers included), encodedBodySize the body.
RECORDING_REQUESTS = """
() => performance.getEntriesByType('resource')
  .filter((e) => new URL(e.name).pathname.includes('/pieces'))
  .map((e) => ({
    path: new URL(e.name).pathname,
    start_ms: Math.round(e.startTime * 10) / 10,
    end_ms: Math.round(e.responseEnd * 10) / 10,
    wire: e.transferSize,
    body: e.encodedBodySize,
  }))
"""
# The player page itself: its HTML on the wire, and when it was parsed (the player starts then).
PAGE_TIMING = """
() => {
  const n = performance.getEntriesByType('navigation')[0];
  return { html_bytes: n.transferSize, html_in_ms: Math.round(n.responseEnd * 10) / 10,
           dom_interactive_ms: Math.round(n.domInteractive * 10) / 10 };
}
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
            for body in view_batches(view, account.site_key, visitor, session, BENCH_ORIGIN):
                last = body["events"][-1]["timestamp"]
                clock.advance(max(0, last - clock.now_ms()) / 1000)
                accepted = svc.ingest.accept(parse_batch(body), visit)
                if accepted.recording_id is None:
                    raise BenchError(f"a batch of the {minutes:g}-minute recording was refused")
                recording_id = accepted.recording_id
        ids[minutes] = recording_id
        clock.advance(60)  # every page was left: past the grace period
        done = svc.finalizer.run_once()
        if done != 1:
            raise BenchError(f"the {minutes}-minute recording was not finalized")
        print(f"stored the {minutes:g}-minute recording", flush=True)
    svc.db.dispose()
    return ids


@dataclass
class Opened:
    """A player page opened in a fresh browser context, once it showed its first frame."""

    context: Any
    page: Any
    cdp: Any
    sent: dict[str, float]  # URL path → when the page asked for it (CDP's clock)
    result: dict[str, Any]

    def close(self) -> None:
        self.context.close()


def login_state(browser: Any, url: str) -> dict[str, Any]:
    """The dashboard's login cookie, once: every measured context starts from it, with an
    empty cache (logging in each time would only slow the runs)."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{url}/login")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/recordings")
    state: dict[str, Any] = context.storage_state()
    context.close()
    return state


def piece_index(browser: Any, url: str, state: dict[str, Any], recording_id: str) -> Any:
    """The recording's index of pieces, as the player reads it."""
    context = browser.new_context(storage_state=state)
    answer = context.request.get(f"{url}/recordings/{recording_id}/pieces")
    if not answer.ok:
        raise BenchError(f"GET …/pieces answered {answer.status}")
    index = answer.json()
    context.close()
    return index


def throttle_to(cdp: Any, bytes_per_second: float) -> None:
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 0,
            "downloadThroughput": bytes_per_second,
            "uploadThroughput": bytes_per_second,
        },
    )


def open_player(
    browser: Any, url: str, state: dict[str, Any], recording_id: str, throttle: bool
) -> Opened:
    """One cold start of the player (fresh context, cache off): time to first frame and what
    the recording's requests took on the wire by then."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, storage_state=state)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    if throttle:
        throttle_to(cdp, MBIT_50)
    sent: dict[str, float] = {}
    encodings: dict[str, str] = {}

    def on_sent(e: dict[str, Any]) -> None:
        sent.setdefault(urlsplit(e["request"]["url"]).path, e["timestamp"])

    def on_response(e: dict[str, Any]) -> None:
        headers = {k.lower(): v for k, v in e["response"]["headers"].items()}
        path = urlsplit(e["response"]["url"]).path
        encodings[path] = headers.get("content-encoding", "identity")

    cdp.on("Network.requestWillBeSent", on_sent)
    cdp.on("Network.responseReceived", on_response)
    page.add_init_script(READY_PROBE)
    # Not until "load": the first frame may come before it (the replay's own iframe).
    page.goto(f"{url}/recordings/{recording_id}", wait_until="commit")
    page.wait_for_function("() => window.__ready !== undefined", timeout=300_000)
    ready_ms = page.evaluate("() => window.__ready")
    requests = page.evaluate(RECORDING_REQUESTS)
    before = [r for r in requests if r["end_ms"] <= ready_ms]
    piece0 = f"/recordings/{recording_id}/pieces/0"
    ends = {r["path"].rsplit("/", 1)[-1]: r for r in requests}
    result = {
        "ttff_ms": round(ready_ms, 1),
        # Where the time went: the page and its scripts until the player asked for the index,
        # then the index and piece 0, then the Replayer's first frame.
        "index_asked_ms": ends["pieces"]["start_ms"] if "pieces" in ends else None,
        **page.evaluate(PAGE_TIMING),
        "piece0_in_ms": ends["0"]["end_ms"] if "0" in ends else None,
        "bytes_before_first_frame": sum(r["wire"] for r in before),
        "requests_before_first_frame": [r["path"].rsplit("/", 1)[-1] for r in before],
        "requests": requests,
        "piece0_encoding": encodings.get(piece0, "?"),
        "loaded_at_ready": page.evaluate("() => window.footagePlayer.pieces()"),
    }
    return Opened(context, page, cdp, sent, result)


def heap_bytes(cdp: Any) -> int:
    """The page's JS heap in use after a full garbage collection."""
    cdp.send("HeapProfiler.collectGarbage")
    return int(cdp.send("Runtime.getHeapUsage")["usedSize"])


def all_loaded(opened: Opened) -> dict[str, Any]:
    """Waits until every piece is in; the heap then, and when that was (page clock)."""
    opened.page.wait_for_selector("#player[data-loaded=all]", state="attached", timeout=600_000)
    return {
        "all_loaded_ms": round(opened.page.evaluate("() => performance.now()"), 1),
        "heap_bytes": heap_bytes(opened.cdp),
        "loaded": opened.page.evaluate("() => window.footagePlayer.pieces()"),
    }


def seek_middle(opened: Opened, recording_id: str, index: dict[str, Any]) -> dict[str, Any]:
    """Right after the first frame: a seek to the middle, until its frame is drawn."""
    middle = index["duration_ms"] / 2
    piece = max(p["n"] for p in index["pieces"] if p["start_ms"] <= middle)
    asked = f"/recordings/{recording_id}/pieces/{piece}" in opened.sent
    seek = opened.page.evaluate(SEEK, middle)
    return {
        "ms": round(seek["ms"], 1),
        "to_ms": middle,
        "shown_at_ms": seek["at"],
        "piece": piece,
        "piece_asked_before_seek": asked,
    }


def measure_starts(
    browser: Any, url: str, state: dict[str, Any], ids: dict[float, str], runs: int
) -> dict[str, list[dict[str, Any]]]:
    """Cold starts, interleaved: each run opens every recording on loopback, then at
    50 Mbit/s (the machine is shared: only figures taken side by side compare)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for run in range(runs):
        for throttle in (False, True):
            for minutes, recording_id in ids.items():
                opened = open_player(browser, url, state, recording_id, throttle)
                opened.close()
                key = f"{'50mbit' if throttle else 'loopback'} {minutes:g}"
                out.setdefault(key, []).append(opened.result)
                r = opened.result
                print(
                    f"  run {run + 1}: {key} min: first frame {r['ttff_ms']:.0f} ms, "
                    f"{r['bytes_before_first_frame']:,} B before it "
                    f"({', '.join(r['requests_before_first_frame'])})",
                    flush=True,
                )
    return out


def measure_longest(
    browser: Any,
    url: str,
    state: dict[str, Any],
    ids: dict[float, str],
    indexes: dict[float, Any],
    runs: int,
) -> dict[str, Any]:
    """The longest recording on loopback: the seek to its middle right after the first
    frame, then the heap once every piece is in; the shortest's heap beside it."""
    longest, shortest = max(ids), min(ids)
    seeks, heaps, shortest_heaps = [], [], []
    for _ in range(runs):
        opened = open_player(browser, url, state, ids[longest], False)
        seeks.append(seek_middle(opened, ids[longest], indexes[longest]))
        heaps.append(all_loaded(opened))
        opened.close()
        opened = open_player(browser, url, state, ids[shortest], False)
        shortest_heaps.append(all_loaded(opened))
        opened.close()
        print(
            f"  seek to the middle of {longest:g} min: {seeks[-1]['ms']:.0f} ms; all "
            f"{heaps[-1]['loaded']['count']} pieces in after {heaps[-1]['all_loaded_ms']:.0f} ms, "
            f"heap {heaps[-1]['heap_bytes'] / 1e6:.1f} MB "
            f"({shortest:g} min: {shortest_heaps[-1]['heap_bytes'] / 1e6:.1f} MB)",
            flush=True,
        )
    return {
        "minutes": longest,
        "seek_middle": seeks,
        "seek_middle_ms": median([s["ms"] for s in seeks]),
        "all_loaded": heaps,
        "heap_all_loaded_bytes": median([h["heap_bytes"] for h in heaps]),
        "all_loaded_ms": median([h["all_loaded_ms"] for h in heaps]),
        "shortest_minutes": shortest,
        "shortest_heap_bytes": median([h["heap_bytes"] for h in shortest_heaps]),
    }


def piece_sizes(index: dict[str, Any]) -> dict[str, Any]:
    """A recording's pieces: how many, and their stored (compressed) sizes."""
    sizes = [p["bytes"] for p in index["pieces"]]
    spans = [p["end_ms"] - p["start_ms"] for p in index["pieces"]]
    return {
        "pieces": len(sizes),
        "duration_ms": index["duration_ms"],
        "events": index["event_count"],
        "stored_bytes": sum(sizes),
        "first_piece_bytes": sizes[0],
        "piece_bytes_min": min(sizes),
        "piece_bytes_median": median(sizes),
        "piece_bytes_max": max(sizes),
        "piece_ms_median": median(spans),
    }


def replay_part(run: dict[str, Any]) -> float:
    """From the player's first request (the index) to the first frame: the pieces' part."""
    return float(run["ttff_ms"] - run["index_asked_ms"])


def summary_rows(
    starts: dict[str, list[dict[str, Any]]], recordings: dict[float, dict[str, Any]]
) -> tuple[list[list[Any]], dict[str, Any]]:
    """The table's rows (medians of the runs; ratios of medians to the shortest recording's
    on the same network) and the same figures for the JSON."""
    rows, figures = [], {}
    shortest = min(recordings)
    for net, label in (("loopback", "loopback"), ("50mbit", "50 Mbit/s")):
        base = starts[f"{net} {shortest:g}"]
        base_ttff = median([r["ttff_ms"] for r in base])
        base_replay = median([replay_part(r) for r in base])
        for minutes, rec in recordings.items():
            runs = starts[f"{net} {minutes:g}"]
            ttff = median([r["ttff_ms"] for r in runs])
            page = median([r["index_asked_ms"] for r in runs])
            replay = median([replay_part(r) for r in runs])
            before = median([r["bytes_before_first_frame"] for r in runs])
            figures[f"{net} {minutes:g}"] = {
                "ttff_ms": ttff,
                "ttff_ratio": ttff / base_ttff,
                # Each run's ratio to the shortest's of the same run (taken seconds apart).
                "ttff_ratio_paired": median(
                    [r["ttff_ms"] / b["ttff_ms"] for r, b in zip(runs, base, strict=True)]
                ),
                "index_asked_ms": page,
                "index_to_first_frame_ms": replay,
                "index_to_first_frame_ratio": replay / base_replay,
                "html_bytes": median([r["html_bytes"] for r in runs]),
                "bytes_before_first_frame": before,
                "bytes_ratio": before / rec["first_piece_bytes"],
                "runs": runs,
            }
            rows.append(
                [
                    label,
                    f"{minutes:g} min",
                    f"{ttff:,.0f} ({min(r['ttff_ms'] for r in runs):,.0f}–"
                    f"{max(r['ttff_ms'] for r in runs):,.0f})",
                    f"**{ttff / base_ttff:.2f}**",
                    f"{page:,.0f}",
                    f"{replay:,.0f}",
                    f"{replay / base_replay:.2f}",
                    f"{before:,.0f}",
                    f"{rec['first_piece_bytes']:,}",
                    f"**{before / rec['first_piece_bytes']:.2f}**",
                ]
            )
    return rows, figures


def recording_rows(recordings: dict[float, dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            f"{m:g} min",
            f"{r['duration_ms'] / 60_000:.1f} min",
            r["page_views"],
            f"{r['events']:,}",
            f"{r['html_bytes']:,}",
            r["pieces"],
            f"{r['stored_bytes']:,}",
            f"{r['piece_bytes_min']:,} / {r['piece_bytes_median']:,.0f} / {r['piece_bytes_max']:,}",
            f"{r['piece_ms_median'] / 1000:.0f} s",
        ]
        for m, r in recordings.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", default="1,10,30,240")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    minutes = sorted(float(m) for m in args.minutes.split(","))
    views = page_views(load_captured())
    start = int(time.time() * 1000) - int(sum(minutes) * 60_000) - 3_600_000
    out: dict[str, Any] = {"machine": machine(), "runs": args.runs}
    built = {m: build(views, m, start) for m in minutes}
    with tempfile.TemporaryDirectory(prefix="footage-replay-") as tmp:
        data_dir = Path(tmp) / "data"
        began = time.monotonic()
        ids = store(data_dir, built, start)
        out["build_seconds"] = round(time.monotonic() - began, 1)
        print(f"recordings built and stored in {out['build_seconds']:.0f} s", flush=True)
        with footage_server(data_dir, "--no-background") as server, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            state = login_state(browser, server.url)
            indexes = {m: piece_index(browser, server.url, state, ids[m]) for m in minutes}
            recordings = {
                m: {"id": ids[m], "page_views": len(built[m]), **piece_sizes(indexes[m])}
                for m in minutes
            }
            for m in minutes:  # warm-up, not counted: the server's and Chromium's first use
                open_player(browser, server.url, state, ids[m], False).close()
            starts = measure_starts(browser, server.url, state, ids, args.runs)
            longest = measure_longest(browser, server.url, state, ids, indexes, args.runs)
            browser.close()
    for m, rec in recordings.items():
        rec["html_bytes"] = starts[f"loopback {m:g}"][0]["html_bytes"]
    rows, figures = summary_rows(starts, recordings)
    out.update(
        recordings=recordings,
        results=figures,
        longest=longest,
        longest_pieces=indexes[max(minutes)]["pieces"],
    )
    write_json(OUT / "replay_start.json", out)
    print(
        table(
            [
                "recording",
                "lasts",
                "page views",
                "events",
                "player page (HTML bytes)",
                "pieces",
                "stored bytes",
                "piece bytes min / median / max",
                "median piece",
            ],
            recording_rows(recordings),
        )
    )
    print()
    short = f"{min(minutes):g} min"
    print(
        table(
            [
                "network",
                "recording",
                "first frame ms (range)",
                f"÷ {short}",
                "player asks for the index at (ms)",
                "index → first frame (ms)",
                f"÷ {short}",
                "bytes before the first frame",
                "piece 0 stored",
                "÷ piece 0",
            ],
            rows,
        )
    )
    print(
        f"seek to the middle of {max(minutes):g} min (loopback): "
        f"{longest['seek_middle_ms']:.0f} ms; every piece in after "
        f"{longest['all_loaded_ms'] / 1000:.1f} s, JS heap then "
        f"{longest['heap_all_loaded_bytes'] / 1e6:.1f} MB ({min(minutes):g} min: "
        f"{longest['shortest_heap_bytes'] / 1e6:.1f} MB)"
    )


if __name__ == "__main__":
    try:
        main()
    except BenchError as error:
        sys.exit(f"replay_start: {error}")
