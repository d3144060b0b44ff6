"""What the recorder costs the visitor's page: Footage's footage.js beside rrweb's own `record()`
and beside no recorder at all, in real Chromium, on two generated pages.

    .venv/bin/python bench/recorder_cost.py                    # 10 runs per variant and page
    .venv/bin/python bench/recorder_cost.py --footage-js path/to/footage.js   # another build
    .venv/bin/python bench/recorder_cost.py --runs 0 --profile-runs 5         # the profile only
    .venv/bin/python bench/recorder_cost.py --browser-cpus 0 --server-cpus 1  # cores apart

Pages (generated here, served by a small HTTP server of this script as
`http://shop.bench.example:PORT`, a name Chromium resolves to loopback):

- `catalogue`: a product catalogue of ~5,000 elements: a header, a search form with inputs,
  300 product cards (a tiny data: image, name, description, prices, rating, a button);
- `dynamic`: ~1,500 elements of the same kind, plus a price ticker that changes every 100 ms
  (prices rewritten, a row added and one removed) and a carousel that turns every second.

Variants, interleaved run by run (none, rrweb, rrweb-sent, footage, none, …):

- `none`: the page alone;
- `rrweb`: rrweb's `record()` (the rrweb of web/, bundled here with esbuild into one minified
  script, with the same dead-code slimming web/build.mjs applies to footage.js) with its
  defaults, started in the page's head as rrweb's docs show, `emit` pushing each event into
  an array; rrweb takes its full snapshot at `load`;
- `rrweb-sent`: the same rrweb, and its events sent as rrweb's guide shows: `emit` pushes into
  an array, `save()` posts `JSON.stringify({events})` with `fetch` to the site's own bare
  endpoint (204, nothing stored) and empties the array, every second (the guide says 10 s;
  once a second, it has sent what it recorded by the end of the window, as Footage has).
  What any real use of rrweb adds: serialising and sending;
- `footage`: the snippet sites paste (`footage('init', key, {host})` and an async
  `<script src="{host}/footage.js">`) against a real `footage serve` on loopback, reached as
  `http://footage.bench.example:PORT`: a site on the Pro plan, recording on, default
  settings (numbers and e-mails masked). `--footage-js FILE` loads that file instead (served
  by this script's page server as a third-party script; the host given to `init` stays the
  real server), to measure a recorder that is not the built one.

Every run: a fresh browser context (empty storage: a new visitor), the page loaded, 1 s of
settling after `load` (what a visitor does before moving the mouse), then the first input:
the mouse moved onto the second product's "Add to cart" button in 5 steps and clicked; then
1 s more. Figures, from the page's own clock, a Chromium trace and the DevTools protocol.

The measured runs drive Chromium through bench/cdp.py, not Playwright: Playwright enables the
Network domain on every page, and then Chromium copies each request's body into a DevTools
event (on the page's main thread) and carries it to the driver. No visitor pays that, and it
weighs most on the variant with the largest bodies: rrweb + bare endpoint posts plain JSON,
Footage gzip. `--network` enables that domain on the measured pages, as Playwright does, to
see what it adds. The profile and the heap snapshots still use Playwright.

- first interaction, Event Timing (ms): the longest Event Timing duration (input → next
  paint) of the first input's events: `event` entries (threshold 16 ms) from the first move
  on, and the `first-input` entry; the move's pointerover/mouseover entries catch work done
  in a mousemove listener;
- first input's longest task, CPU (ms): of the main-thread tasks that dispatched an event of
  the first input (trace events RunTask and EventDispatch), the one that used the most CPU
  (its thread time, `tdur`);
- input delay of the click (ms): the `first-input` entry's processingStart − startTime;
- total blocking time, wall clock (ms): the sum of (duration − 50 ms) of the page's
  main-thread tasks (trace events RunTask) that started between navigation start and 1 s after
  the first input; total blocking time, CPU and longest task, CPU: the same tasks in thread
  time;
- total blocking time, Long Tasks (ms): the same from the page's Long Tasks API. It misses the
  long task that was running when the probe registered its observer: with rrweb's script in
  the page's head, that is the parsing task (~130 ms); with Footage's async script, most often
  not. So it is kept only beside the wall-clock figure, not compared on its own;
- script, CPU and main thread, CPU (ms): CDP `Performance.getMetrics` ScriptDuration and
  TaskDuration from navigation to the end, in thread time (`timeDomain: threadTicks`); and
  the script time spent before the first input (rrweb's snapshot at `load` is there);
- heap (MB): CDP `Runtime.getHeapUsage` used size after `HeapProfiler.collectGarbage`, at
  the end;
- the page's workers, CPU (ms) and heap (MB): its dedicated workers (Footage compresses its
  batches in one), their tasks' thread time in the trace from navigation to the end, and
  their heap after a GC through CDP sessions attached to them; not in the figures above,
  which are the page's main thread.

Wall-clock figures (Event Timing, blocking time) are what a visitor feels, but on a busy machine
they include the time the page's thread waited for a core; the CPU figures do not.

Medians and p90 per page and variant, and the ratios Footage ÷ rrweb and Footage ÷ rrweb +
bare endpoint of each median (the goal: ≤ 1.0), plus the latter of what each adds over `none`.

Then (`--profile-runs`, default 3; 0 to skip) where the time goes: rrweb and Footage, both
built from source without minifying (functions keep their names; footage.js from web/src
whatever `--footage-js` says), interleaved, each run under CDP's sampling profiler from
navigation to 1 s after the first input. The time per stage (rrweb's full snapshot, Footage's
masking callbacks inside it, Footage's scrub, `emit`'s JSON.stringify, sending), per source
file and per function. Samples are counted (their wall-clock deltas would include the waits
for a core) and each run's busy samples share its main-thread CPU time. And Footage's first
batch on that page, serialised and gzipped again alone in a blank page.

Then (`--heap-runs`, default 0) what Footage's extra heap is: per page, that many visits of
`rrweb-sent` and of `footage`, interleaved, each ending with a V8 heap snapshot (after a GC, 1 s
after the first input's window); the median difference of the self sizes per kind of heap
object (V8's own code, bytecode, strings, the page's elements…).

On the internet the visitor's browser and the servers it talks to never share a core; here
they share two. `--browser-cpus 0 --server-cpus 1` keeps them apart: Chromium's processes on
the first core, `footage serve`, the shop and rrweb's bare endpoint (this script) on the
second. The browser then has one core where a visitor's has several, so this is a second view
beside the default (everything anywhere), not a replacement.

Only figures measured side by side in one run compare. Takes ~10 minutes.
Results: bench/out/recorder_cost.json; bench/RESULTS.md, "Recorder cost".
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import http.server
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cdp
import httpx
from common import (
    OUT,
    REPO,
    BenchError,
    create_account,
    footage_server,
    machine,
    median,
    percentile,
    table,
    write_json,
)

from footage.chromium import CHROMIUM_ARGS as BASE_ARGS

WEB = REPO / "web"
ESBUILD = WEB / "node_modules" / ".bin" / "esbuild"
RRWEB_JS = WEB / "node_modules" / "rrweb" / "dist" / "rrweb.js"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    *BASE_ARGS,
    # The page, the third-party script host and the Footage server are all this machine.
    "--host-resolver-rules=MAP *.bench.example 127.0.0.1",
]
SHOP, SCRIPTS, FOOTAGE = "shop.bench.example", "cdn.bench.example", "footage.bench.example"
WIDTH, HEIGHT = 1366, 768
VARIANTS = ("none", "rrweb", "rrweb-sent", "footage")
LABELS = {
    "none": "none",
    "rrweb": "rrweb record()",
    "rrweb-sent": "rrweb + bare endpoint",
    "footage": "Footage",
}
# Footage is compared with both rrweb variants: what rrweb alone costs, and rrweb whose events
# go somewhere, as any real use of it does.
REFERENCES = ("rrweb", "rrweb-sent")
BARE_ENDPOINT = "/bench-ingest"
# rrweb-sent: save() as in rrweb's guide, but every second (the guide: 10 s), so that like
# Footage it has sent what it recorded by the end of the window.
SAVE_EVERY_MS = 1000
PAGES = ("catalogue", "dynamic")
SETTLE_MS = 1000  # after load, before the first input: the same for every variant
AFTER_MS = 1000  # after the first input, to the end of the window
INGEST = "/api/v1/ingest"
TRACE_CATEGORIES = [
    "devtools.timeline",
    "disabled-by-default-devtools.timeline",
    "blink.user_timing",  # navigationStart
]
FIGURES = {
    "interaction_ms": "first interaction, Event Timing (ms)",
    "input_task_cpu_ms": "first input's longest task, CPU (ms)",
    "input_delay_ms": "input delay of the click (ms)",
    "tbt_wall_ms": "total blocking time, wall clock (ms)",
    "tbt_ms": "total blocking time, Long Tasks (ms)",
    "tbt_cpu_ms": "total blocking time, CPU (ms)",
    "longest_task_cpu_ms": "longest task, CPU (ms)",
    "script_ms": "script, CPU (ms)",
    "script_before_input_ms": "  of which before the first input (ms)",
    "main_thread_ms": "main thread, CPU (ms)",
    "worker_cpu_ms": "the page's workers, CPU (ms)",
    "heap_mb": "heap (MB)",
    "worker_heap_mb": "the page's workers' heap (MB)",
}


# ---- the pages -----------------------------------------------------------------------------

COLOURS = ["#e4572e", "#17bebb", "#ffc914", "#2e282a", "#76b041", "#6a4c93", "#1982c4"]
WORDS = [
    "linen", "cotton", "walnut", "brass", "ceramic", "wool", "leather", "oak", "copper", "glass",
    "bamboo", "canvas", "slate", "velvet", "maple", "steel", "marble", "cork", "jute", "felt",
]  # fmt: skip
ITEMS = [
    "lamp", "chair", "mug", "throw", "basket", "vase", "clock", "shelf", "rug", "stool",
    "cushion", "kettle", "tray", "bowl",
]  # fmt: skip


def tiny_image(i: int) -> str:
    """A small SVG as a data: URI, a different colour per product."""
    colour = COLOURS[i % len(COLOURS)].replace("#", "%23")
    return (
        "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='8' height='6'%3E"
        f"%3Crect width='8' height='6' fill='{colour}'/%3E%3C/svg%3E"
    )


def product_card(i: int, target: bool = False) -> str:
    """One product: 16 elements, text with prices (numbers, which Footage masks by default)."""
    name = f"{WORDS[i % len(WORDS)].title()} {ITEMS[i % len(ITEMS)]} no. {i + 1}"
    price = 12 + (i * 37) % 480 + 0.99
    stars = "".join(f'<i class="star{" on" if s < 1 + i % 5 else ""}">★</i>' for s in range(5))
    button = ' data-bench-target="1"' if target else ""
    return (
        f'<article class="card" id="p{i}"><a class="thumb" href="/product/{i}">'
        f'<img src="{tiny_image(i)}" alt="{name}" width="240" height="180"></a>'
        f'<div class="body"><h3>{name}</h3>'
        f"<p>Hand-made {WORDS[(i * 3) % len(WORDS)]} and {WORDS[(i * 7) % len(WORDS)]}, "
        f"{20 + i % 60} cm wide, ships in {1 + i % 9} days. Ask support-{i}@shop.example.</p>"
        f'<div class="meta"><span class="price">€{price:.2f}</span>'
        f"<s>€{price * 1.2:.2f}</s>"
        f'<span class="rating" title="{1 + i % 5} of 5">{stars}</span></div>'
        f'<button type="button" class="add"{button}>Add to cart</button></div></article>'
    )


def header() -> str:
    """Navigation and a search form with inputs: ~90 elements."""
    nav = "".join(f'<li><a href="/c/{w}">{w.title()}</a></li>' for w in WORDS)
    options = "".join(f"<option>{w.title()}</option>" for w in WORDS)
    checks = "".join(
        f'<label><input type="checkbox" name="m" value="{w}"> {w.title()}</label>'
        for w in WORDS[:10]
    )
    return (
        '<header><a class="logo" href="/">Maison Bench</a>'
        f'<nav><ul>{nav}</ul></nav><span id="cart">Cart: 0</span></header>'
        '<form class="filters" action="/search">'
        '<input type="search" name="q" placeholder="Search 300 products">'
        '<input type="email" name="newsletter" placeholder="you@example.com">'
        f'<select name="material">{options}</select>'
        '<input type="number" name="max" value="250"><input type="hidden" name="t" value="x1">'
        f"<fieldset><legend>Materials</legend>{checks}</fieldset>"
        '<button type="submit">Filter</button></form>'
    )


def footer() -> str:
    links = "".join(f'<li><a href="/help/{w}">{w.title()}</a></li>' for w in WORDS)
    return (
        f"<footer><ul>{links}</ul><p>Maison Bench, 12 Rue de l'Exemple, 75011 Paris · "
        "+33 1 23 45 67 89 · hello@shop.example</p></footer>"
    )


def stylesheet() -> str:
    """~150 rules, as a theme has: rrweb records the <style> element's text."""
    rules = [
        "body{margin:0;font:15px/1.4 system-ui,sans-serif;color:#222}",
        "header{display:flex;gap:16px;align-items:center;padding:8px 16px;background:#fafafa}",
        "nav ul{display:flex;gap:10px;list-style:none;margin:0;padding:0;font-size:12px}",
        ".filters{display:flex;flex-wrap:wrap;gap:8px;padding:8px 16px}",
        ".filters fieldset{display:flex;gap:6px;font-size:12px}",
        ".grid{display:grid;grid-template-columns:repeat(5,1fr);gap:12px;padding:12px}",
        ".card{border:1px solid #ddd;border-radius:6px;overflow:hidden}",
        ".card img{display:block;width:100%;height:90px;object-fit:cover}",
        ".card .body{padding:6px 8px}.card h3{font-size:14px;margin:0 0 4px}",
        ".card p{font-size:12px;margin:0 0 4px;color:#555}",
        ".meta{display:flex;gap:6px;align-items:baseline}.price{font-weight:700}",
        ".star{font-style:normal;color:#ccc}.star.on{color:#f5a623}",
        ".add{margin-top:4px;padding:4px 10px;border:0;background:#222;color:#fff}",
        ".add.added{background:#2a7}",
        ".carousel{overflow:hidden;height:120px;position:relative}",
        ".track{display:flex;transition:transform .3s}.slide{flex:0 0 100%;height:120px}",
        ".ticker{position:fixed;right:0;top:0;width:220px;font-size:11px;background:#fff}",
        ".ticker li.up{color:#183}.ticker li.down{color:#c22}",
    ]
    rules += [
        f".theme-{i} .card:nth-child({i}n) h3{{color:{COLOURS[i % len(COLOURS)]}}}"
        for i in range(130)
    ]
    return "\n".join(rules)


def catalogue_body() -> str:
    cards = "".join(product_card(i, target=i == 1) for i in range(300))
    return f'{header()}<main class="grid">{cards}</main>{footer()}'


def dynamic_body() -> str:
    slides = "".join(
        f'<div class="slide" style="background:{c}"><h2>Offer {n + 1}</h2>'
        f"<p>Up to {10 * (n + 2)}% off</p></div>"
        for n, c in enumerate(COLOURS[:6])
    )
    dots = "".join(
        f'<button type="button" class="dot" aria-label="Slide {n + 1}"></button>' for n in range(6)
    )
    rows = "".join(
        f'<li><b>{w.upper()[:4]}</b> <span class="px">{100 + n}.00</span> '
        f'<span class="ch">+0.00</span></li>'
        for n, w in enumerate(WORDS)
    )
    cards = "".join(product_card(i, target=i == 1) for i in range(80))
    return (
        f'<aside class="ticker"><ol id="ticker">{rows}</ol></aside>{header()}'
        f'<section class="carousel"><div class="track" id="track">{slides}</div>'
        f"<div>{dots}</div></section>"
        f'<main class="grid">{cards}</main>{footer()}'
    )


# The pages' own scripts: a click on "Add to cart" updates the cart; the dynamic page's
# ticker (every 100 ms) and carousel (every second).
CART_SCRIPT = """
document.addEventListener('click', function (e) {
  var b = e.target.closest && e.target.closest('.add');
  if (!b) return;
  b.classList.add('added'); b.textContent = 'Added';
  var cart = document.getElementById('cart');
  cart.textContent = 'Cart: ' + (parseInt(cart.textContent.slice(6), 10) + 1);
});
"""
DYNAMIC_SCRIPT = """
(function () {
  var list = document.getElementById('ticker'), tick = 0;
  setInterval(function () {
    tick++;
    var rows = list.children;
    for (var k = 0; k < 4; k++) {
      var row = rows[(tick * 7 + k * 5) % rows.length], delta = ((tick * 13 + k) % 21 - 10) / 4;
      var px = row.querySelector('.px');
      px.textContent = (parseFloat(px.textContent) + delta).toFixed(2);
      row.querySelector('.ch').textContent = (delta >= 0 ? '+' : '') + delta.toFixed(2);
      row.className = delta >= 0 ? 'up' : 'down';
    }
    if (tick % 5 === 0) {
      var fresh = rows[rows.length - 1].cloneNode(true);
      fresh.querySelector('b').textContent = 'N' + tick;
      list.insertBefore(fresh, list.firstChild);
      list.removeChild(list.lastElementChild);
    }
  }, 100);
  var track = document.getElementById('track'), dots = document.querySelectorAll('.dot'), n = 0;
  setInterval(function () {
    n = (n + 1) % dots.length;
    track.style.transform = 'translateX(' + (-100 * n) + '%)';
    for (var d = 0; d < dots.length; d++) dots[d].className = d === n ? 'dot on' : 'dot';
  }, 1000);
})();
"""


def page_html(kind: str, recorder: str) -> str:
    """A whole page: the recorder's tags (`recorder`) in the head, as sites put them."""
    body = catalogue_body() if kind == "catalogue" else dynamic_body()
    script = CART_SCRIPT + (DYNAMIC_SCRIPT if kind == "dynamic" else "")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Maison Bench: {kind}</title><style>{stylesheet()}</style>{recorder}</head>"
        f'<body class="theme-3">{body}<script>{script}</script></body></html>'
    )


def recorder_tags(
    variant: str,
    footage_host: str,
    site_key: str,
    footage_src: str,
    rrweb_src: str = "/rrweb-record.js",
) -> str:
    if variant == "rrweb":
        return (
            f'<script src="{rrweb_src}"></script>'
            "<script>window.benchEvents = [];"
            "rrweb.record({ emit: function (event) { window.benchEvents.push(event); } });"
            "</script>"
        )
    if variant == "rrweb-sent":
        # rrweb's guide: events into an array, save() posts them as JSON to the site's own
        # endpoint (here a bare one that stores nothing), then the array starts again.
        return (
            f'<script src="{rrweb_src}"></script>'
            "<script>window.benchEvents = []; window.benchSent = []; let events = [];"
            "rrweb.record({ emit: function (event) { events.push(event); "
            "window.benchEvents.push(1); } });"
            "function save() { if (!events.length) return;"
            " const body = JSON.stringify({ events: events }); events = [];"
            f" fetch('{BARE_ENDPOINT}', {{ method: 'POST', body: body,"
            " keepalive: body.length < 60000, headers: { 'Content-Type': 'application/json' } })"
            "  .then(function (r) { window.benchSent.push(r.status); }); }"
            f"setInterval(save, {SAVE_EVERY_MS});"
            "</script>"
        )
    if variant == "footage":
        return (
            "<script>window.footage = window.footage || function () "
            "{ (footage.q = footage.q || []).push(arguments); };"
            f"footage('init', '{site_key}', {{ host: '{footage_host}' }});</script>"
            f'<script async src="{footage_src}"></script>'
        )
    return ""


# ---- bundles -------------------------------------------------------------------------------


def esbuild(args: list[str]) -> None:
    if not ESBUILD.exists():
        raise BenchError("web/node_modules is missing: run `npm ci` in web/ (or scripts/install)")
    done = subprocess.run([str(ESBUILD), *args], cwd=WEB, capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchError(f"esbuild failed:\n{done.stderr}")


DEFINES = ['--define:process.env.NODE_ENV="production"', "--define:process.env.LANG=undefined"]


def slim_rrweb(code: str) -> str:
    """rrweb's module with the edits web/build.mjs makes for footage.js (its `slim-rrweb`
    plugin): PostCSS, used only when replaying, becomes dead code esbuild drops. Both bundles
    then carry the same recording code."""
    code = re.sub(
        r"(__toESM(?:\$\d+)?\()(\(/\* @__PURE__ \*/ __commonJSMin)",
        lambda m: f"{m.group(1)}/* @__PURE__ */ {m.group(2)}",
        code,
    )
    code = re.sub(
        r"^var postcss_default = import_postcss\$1\.default;$",
        "var postcss_default = /* @__PURE__ */ (() => import_postcss$1.default)();",
        code,
        flags=re.M,
    )
    return re.sub(r"^import_postcss(?:\$\d+)?\.default(?:\.\w+)?;$", "", code, flags=re.M)


def rrweb_bundle(tmp: Path, minify: bool = True) -> bytes:
    """rrweb's record() as one script defining `rrweb.record` (minified, or not: for the
    profile, where functions keep their names)."""
    dist = tmp / "node_modules" / "rrweb" / "dist"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "rrweb.js").write_text(slim_rrweb(RRWEB_JS.read_text()))
    (tmp / "rrweb-entry.js").write_text(
        "export { record } from './node_modules/rrweb/dist/rrweb.js';\n"
    )
    out = tmp / ("rrweb-record.js" if minify else "rrweb-profile.js")
    esbuild(
        [
            str(tmp / "rrweb-entry.js"),
            "--bundle",
            *(["--minify"] if minify else []),
            "--format=iife",
            "--global-name=rrweb",
            "--target=es2018",
            "--log-level=warning",
            *DEFINES,
            f"--outfile={out}",
        ]
    )
    return out.read_bytes()


def profile_bundle(tmp: Path) -> bytes:
    """footage.js from web/src as web/build.mjs builds it (its rrweb edits too), but not
    minified: functions keep their names in the profile, and `// src/…` comments mark where
    each file begins."""
    out = tmp / "footage-profile.js"
    done = subprocess.run(
        ["node", "build.mjs", "--profile", str(out)], cwd=WEB, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise BenchError(f"web/build.mjs --profile failed:\n{done.stderr}")
    return out.read_bytes()


def rrweb_version() -> str:
    return str(json.loads((WEB / "node_modules/rrweb/package.json").read_text())["version"])


# ---- the page server -----------------------------------------------------------------------


class PageServer:
    """Serves the generated pages and scripts from memory on a free loopback port, in a
    thread. `files` maps a path to (body, content type); the same for every host name."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str]] = {}
        files = self.files

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                found = files.get(self.path.split("?")[0])
                body, kind = found if found else (b"not found", "text/plain")
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.send_header("Access-Control-Allow-Origin", "*")
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                # The bare endpoint: reads the batch, keeps nothing, answers 204.
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(204 if self.path == BARE_ENDPOINT else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> PageServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def add(self, path: str, body: str | bytes, kind: str) -> None:
        self.files[path] = (body.encode() if isinstance(body, str) else body, kind)


# ---- one run -------------------------------------------------------------------------------

# Installed before any script of the page: the observers and the moment of the first input.
PROBE = """
(() => {
  if (window !== window.top) return;
  const probe = (window.__probe = {
    longtasks: [], events: [], firstInput: null, inputAt: null, errors: [],
  });
  const observe = (type, options, each) => {
    try {
      new PerformanceObserver((list) => list.getEntries().forEach(each))
        .observe({ type, buffered: true, ...options });
    } catch (error) {
      probe.errors.push(type + ': ' + error);
    }
  };
  observe('longtask', {}, (e) => probe.longtasks.push([e.startTime, e.duration]));
  const timing = (e) => ({
    name: e.name, start: e.startTime, processingStart: e.processingStart,
    processingEnd: e.processingEnd, duration: e.duration,
  });
  observe('event', { durationThreshold: 16 }, (e) => probe.events.push(timing(e)));
  observe('first-input', {}, (e) => { probe.firstInput = timing(e); });
  const first = (event) => {
    if (event.isTrusted && probe.inputAt === null) probe.inputAt = event.timeStamp;
  };
  for (const type of ['pointermove', 'mousemove', 'pointerdown', 'mousedown']) {
    addEventListener(type, first, { capture: true, passive: true });
  }
})();
"""

# Where the first input goes: the middle of the second product's "Add to cart" button.
TARGET_CENTRE = """
() => {
  const box = document.querySelector('[data-bench-target]').getBoundingClientRect();
  return [box.x + box.width / 2, box.y + box.height / 2];
}
"""

# Waits up to 5 s for what a page's requests to this path were answered, from the page's
# Resource Timing (the driver does not watch the network).
ANSWERS = """
(path) => new Promise((resolve) => {
  const since = performance.now();
  const look = () => {
    const answered = performance.getEntriesByType('resource')
      .filter((r) => r.name.includes(path) && r.responseEnd > 0);
    if (answered.some((r) => r.responseStatus >= 200 && r.responseStatus < 300)
        || performance.now() - since > 5000) {
      resolve(answered.map((r) => r.responseStatus));
    } else {
      setTimeout(look, 50);
    }
  };
  look();
})
"""
SAVED = f"() => ({ANSWERS})('{BARE_ENDPOINT}')"
STORED = f"() => ({ANSWERS})('{INGEST}')"

# Resolves AFTER_MS after the first input, on the page's clock, plus 100 ms: long task entries are
# delivered a little later.
WAIT_AFTER_INPUT = f"""
() => new Promise((resolve) =>
  setTimeout(resolve, Math.max(0, window.__probe.inputAt + {AFTER_MS} - performance.now()) + 100))
"""

COLLECT = """
() => {
  const p = window.__probe;
  const config = performance.getEntriesByType('resource').find((r) => r.name.includes('/config'));
  return {
    ...p,
    now: performance.now(),
    loadEnd: performance.getEntriesByType('navigation')[0].loadEventEnd,
    elements: document.getElementsByTagName('*').length,
    rrwebEvents: window.benchEvents ? window.benchEvents.length : null,
    rrwebSent: window.benchSent || null,
    configAnsweredAt: config ? config.responseEnd : null,
  };
}
"""


@dataclass
class Target:
    """One variant of one page, and its address."""

    page: str
    variant: str
    url: str


@dataclass
class Run:
    """One run's figures (FIGURES) and what explains them."""

    page: str
    variant: str
    figures: dict[str, float]
    detail: dict[str, Any] = field(default_factory=dict)


def metrics(cdp: Any) -> dict[str, float]:
    return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}


def first_input(page: Any) -> None:
    """The visitor's first input: the mouse onto the second product's button, then a click."""
    box = page.locator("[data-bench-target]").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y, steps=5)
    page.mouse.down()
    page.mouse.up()


def visit(browser: cdp.Browser, target: Target, network: bool = False) -> Run:
    """One fresh visitor on one page, driven through bench/cdp.py: the figures of the module
    docstring. The page's Network domain stays off (a visitor's browser copies no request
    body for a debugger), unless `network`."""
    with browser.page(WIDTH, HEIGHT, PROBE, network=network) as page:
        page.send("Performance.enable", {"timeDomain": "threadTicks"})
        browser.start_tracing(TRACE_CATEGORIES)
        try:
            page.navigate(target.url)
            page.evaluate(f"() => new Promise((resolve) => setTimeout(resolve, {SETTLE_MS}))")
            before = metrics(page)
            x, y = page.evaluate(TARGET_CENTRE)
            page.mouse_move(x, y, steps=5)
            page.mouse_click()
            page.evaluate(WAIT_AFTER_INPUT)
        finally:
            trace = browser.stop_tracing()
        probe = page.evaluate(COLLECT)
        after = metrics(page)
        page.send("HeapProfiler.collectGarbage")
        heap = page.send("Runtime.getHeapUsage")["usedSize"]
        workers_heap = worker_heap(page)
        ingest: list[int] = []
        if target.variant == "rrweb-sent":
            probe["rrwebSent"] = page.evaluate(SAVED)
        if target.variant == "footage":
            # The first batch leaves at the first input: its answer says it was taken.
            ingest = page.evaluate(STORED)
    figures = figures_of(probe, before, after, heap)
    figures["worker_heap_mb"] = round(workers_heap / 1e6, 2)
    detail = run_detail(probe, before, target, ingest)
    tasks = trace_tasks(trace, target.url)
    figures.update(tasks.pop("figures"))
    detail.update(tasks)
    return Run(target.page, target.variant, figures, detail)


def worker_heap(page: cdp.Page) -> float:
    """The used heap of the page's dedicated workers after their garbage collection (bytes),
    through sessions attached to them (Chromium announces the workers that exist before it
    answers `Target.setAutoAttach`)."""
    page.send(
        "Target.setAutoAttach",
        {"autoAttach": True, "waitForDebuggerOnStart": False, "flatten": True},
    )
    with page.browser.lock:
        attached = [
            e["params"]
            for e in page.browser.events
            if e["method"] == "Target.attachedToTarget" and e.get("sessionId") == page.session
        ]
    total = 0.0
    for worker in attached:
        session = worker["sessionId"]
        page.browser.send("HeapProfiler.collectGarbage", None, session)
        total += page.browser.send("Runtime.getHeapUsage", None, session)["usedSize"]
    return total


def profiled_run(browser: Any, target: Target) -> Run:
    """One fresh visitor on one page, driven by Playwright (its request events give the first
    batch's body), under CDP's sampling profiler from navigation to the end."""
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
    context.add_init_script(PROBE)
    ingest: list[int] = []
    bodies: list[bytes] = []
    try:
        page = context.new_page()
        page.on("response", lambda r: ingest.append(r.status) if INGEST in r.url else None)
        page.on(
            "request",
            lambda r: bodies.append(r.post_data_buffer or b"") if INGEST in r.url else None,
        )
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable", {"timeDomain": "threadTicks"})
        cdp.send("Profiler.enable")
        cdp.send("Profiler.setSamplingInterval", {"interval": 100})
        cdp.send("Profiler.start")
        page.goto(target.url, wait_until="load")
        page.wait_for_timeout(SETTLE_MS)
        before = metrics(cdp)
        first_input(page)
        page.evaluate(WAIT_AFTER_INPUT)
        cpu_profile = cdp.send("Profiler.stop")["profile"]
        probe = page.evaluate(COLLECT)
        after = metrics(cdp)
        cdp.send("HeapProfiler.collectGarbage")
        heap = cdp.send("Runtime.getHeapUsage")["usedSize"]
        if target.variant == "footage":
            # The first batch leaves at the first input: its answer says it was taken.
            deadline = time.monotonic() + 5
            while 200 not in ingest and time.monotonic() < deadline:
                page.wait_for_timeout(100)
    finally:
        context.close()
    figures = figures_of(probe, before, after, heap)
    detail = run_detail(probe, before, target, ingest)
    detail["profile"] = cpu_profile
    detail["first_batch"] = inflate(bodies[0]) if bodies else None
    return Run(target.page, target.variant, figures, detail)


def run_detail(
    probe: dict[str, Any], before: dict[str, float], target: Target, ingest: list[int]
) -> dict[str, Any]:
    """What a run's JSON keeps beside its figures, to check and to explain them."""
    detail = {
        "elements": probe["elements"],
        "load_ms": round(probe["loadEnd"], 1),
        "input_at_ms": round(probe["inputAt"], 1),
        "main_thread_before_input_ms": round(before["TaskDuration"] * 1000, 1),
        "tbt_before_input_ms": blocking(probe["longtasks"], 0, probe["inputAt"]),
        "long_tasks": [[round(s, 1), round(d, 1)] for s, d in probe["longtasks"]],
        "events": probe["events"],
        "first_input": probe["firstInput"],
        "probe_errors": probe["errors"],
    }
    if target.variant in REFERENCES:
        detail["rrweb_events"] = probe["rrwebEvents"]
    if target.variant == "rrweb-sent":
        detail["rrweb_sent_statuses"] = probe["rrwebSent"]
    if target.variant == "footage":
        detail["ingest_statuses"] = ingest
        answered = probe["configAnsweredAt"]
        detail["config_answered_ms"] = round(answered, 1) if answered is not None else None
    return detail


# Pointer and mouse events of the first input, as the trace names their dispatch.
INPUT_EVENTS = {
    "pointerover",
    "pointerenter",
    "mouseover",
    "mouseenter",
    "pointermove",
    "mousemove",
    "pointerdown",
    "mousedown",
    "pointerup",
    "mouseup",
    "click",
}


def trace_tasks(raw: bytes, url: str) -> dict[str, Any]:
    """The page's main-thread tasks from a Chromium trace, in thread CPU time (`tdur`):
    blocking time (the sum of CPU − 50 ms) from navigation to 1 s after the first input, the
    longest task, the longest task that dispatched an event of the first input, and the CPU
    of the page's dedicated workers (Footage compresses its batches in one) in that window."""
    data = json.loads(raw)
    events = data["traceEvents"] if isinstance(data, dict) else data
    starts = [
        e
        for e in events
        if e.get("name") == "navigationStart"
        and e.get("args", {}).get("data", {}).get("documentLoaderURL") == url
    ]
    if not starts:
        raise BenchError(f"the trace has no navigation to {url}")
    nav = starts[-1]
    pid, nav_ts = nav["pid"], nav["ts"]
    tid = next(
        e["tid"]
        for e in events
        if e.get("name") == "thread_name"
        and e["pid"] == pid
        and e["args"].get("name") == "CrRendererMain"
    )
    main = [
        e
        for e in events
        if e.get("pid") == pid and e.get("tid") == tid and e.get("ts", 0) >= nav_ts
    ]
    tasks = [
        (e["ts"], e.get("dur", 0), e.get("tdur", 0))
        for e in main
        if e.get("name") == "RunTask" and e.get("ph") == "X"
    ]
    inputs = sorted(
        e["ts"]
        for e in main
        if e.get("name") == "EventDispatch"
        and e.get("args", {}).get("data", {}).get("type") in INPUT_EVENTS
    )
    if not inputs:
        raise BenchError("the trace shows no input event")
    end = inputs[0] + AFTER_MS * 1000
    window = [t for t in tasks if t[0] < end]
    input_tasks = [t for t in window if any(t[0] <= i <= t[0] + t[1] for i in inputs)]
    workers = {
        e["tid"]
        for e in events
        if e.get("name") == "thread_name"
        and e["pid"] == pid
        and e["args"].get("name", "").startswith("DedicatedWorker")
    }
    worker_cpu = sum(
        e.get("tdur", 0)
        for e in events
        if e.get("pid") == pid
        and e.get("tid") in workers
        and e.get("name") == "RunTask"
        and e.get("ph") == "X"
        and nav_ts <= e.get("ts", 0) < end
    )
    ms = 1000.0
    return {
        "figures": {
            "worker_cpu_ms": round(worker_cpu / ms, 1),
            "input_task_cpu_ms": round(max((t[2] for t in input_tasks), default=0) / ms, 1),
            "tbt_cpu_ms": round(sum(max(0.0, t[2] / ms - 50) for t in window), 1),
            "tbt_wall_ms": round(sum(max(0.0, t[1] / ms - 50) for t in window), 1),
            "longest_task_cpu_ms": round(max((t[2] for t in window), default=0) / ms, 1),
        },
        "trace_long_tasks": [
            [round((t[0] - nav_ts) / ms, 1), round(t[1] / ms, 1), round(t[2] / ms, 1)]
            for t in window
            if t[1] >= 50 * ms or t[2] >= 50 * ms
        ],
    }


def inflate(body: bytes) -> str:
    """A batch's JSON as the recorder built it (its body is gzip, or plain JSON)."""
    return (gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body).decode()


def blocking(longtasks: list[list[float]], start: float, end: float) -> float:
    """Total blocking time of the tasks that started in [start, end)."""
    return round(sum(max(0.0, d - 50) for s, d in longtasks if start <= s < end), 1)


def figures_of(
    probe: dict[str, Any], before: dict[str, float], after: dict[str, float], heap: float
) -> dict[str, float]:
    """The figures the page and CDP give (the trace's are added by trace_tasks)."""
    at = probe["inputAt"]
    end = at + AFTER_MS
    durations = [e["duration"] for e in probe["events"] if at - 1 <= e["start"] <= end]
    fi = probe["firstInput"]
    if fi:
        durations.append(fi["duration"])
    tasks = [d for s, d in probe["longtasks"] if s < end]
    return {
        "interaction_ms": max(durations) if durations else float("nan"),
        "input_delay_ms": round(fi["processingStart"] - fi["start"], 1) if fi else float("nan"),
        "tbt_ms": blocking(probe["longtasks"], 0, end),
        "longest_task_ms": round(max(tasks), 1) if tasks else 0.0,
        "script_ms": round(after["ScriptDuration"] * 1000, 1),
        "script_before_input_ms": round(before["ScriptDuration"] * 1000, 1),
        "main_thread_ms": round(after["TaskDuration"] * 1000, 1),
        "heap_mb": round(heap / 1e6, 2),
    }


def check(run: Run) -> str | None:
    """Why this run does not measure what it should, or None."""
    d = run.detail
    if d["probe_errors"]:
        return f"the page's observers failed: {d['probe_errors']}"
    if run.variant in REFERENCES and not d.get("rrweb_events"):
        return "rrweb recorded nothing"
    if run.variant == "rrweb-sent" and 204 not in (d.get("rrweb_sent_statuses") or []):
        return f"rrweb's save() reached no endpoint (answers: {d.get('rrweb_sent_statuses')})"
    if run.variant == "footage":
        if d.get("config_answered_ms") is None or d["config_answered_ms"] > d["input_at_ms"]:
            return "Footage's config had not arrived before the first input"
        if 200 not in d.get("ingest_statuses", []):
            return f"Footage stored no batch (answers: {d.get('ingest_statuses')})"
    return None


# ---- the profile ---------------------------------------------------------------------------


def file_ranges(bundle: str) -> list[tuple[int, str]]:
    """(first line, source file) of each module of an unminified esbuild bundle: esbuild
    writes `// src/masking.ts` (or `// …/node_modules/rrweb/dist/rrweb.js`) above each."""
    marks = []
    for n, line in enumerate(bundle.splitlines()):
        m = re.match(r"^\s*// (\S+\.(?:ts|js|mjs|cjs))$", line)
        if m:
            marks.append((n, m.group(1).rsplit("node_modules/", 1)[-1]))
    return marks


def source_of(line: int, marks: list[tuple[int, str]]) -> str:
    found = "(esbuild runtime)"
    for first, name in marks:
        if first > line:
            break
        found = name
    return found


BROWSER_NODES = {"(program)", "(idle)", "(garbage collector)", "(root)"}


def node_labels(
    profile: dict[str, Any], bundle_url: str, marks: list[tuple[int, str]]
) -> tuple[dict[int, tuple[str, str]], dict[int, int]]:
    """(source, function) of every node of a CDP CPU profile, and each node's parent. Native
    functions (DOM calls, built-ins) get the source of the script function that called them;
    `$2`-style suffixes esbuild adds to names are dropped."""
    nodes = {n["id"]: n for n in profile["nodes"]}
    parent = {c: n["id"] for n in profile["nodes"] for c in n.get("children", [])}

    def script_source(node_id: int) -> str:
        frame = nodes[node_id]["callFrame"]
        url = frame["url"]
        if url == bundle_url:
            return source_of(frame["lineNumber"], marks)
        if url:
            return "the page's own scripts" if SHOP in url else url
        return script_source(parent[node_id]) if node_id in parent else "(browser)"

    labels = {}
    for node_id, node in nodes.items():
        frame = node["callFrame"]
        name = re.sub(r"\$\d+$", "", frame["functionName"]) or (
            f"(anonymous, line {frame['lineNumber'] + 1})"
        )
        if frame["url"]:
            source = script_source(node_id)
        elif name in BROWSER_NODES:
            source = "(browser)"
        else:
            source = f"native, called from {script_source(node_id)}"
        labels[node_id] = (source, name)
    return labels, parent


def sample_counts(profile: dict[str, Any]) -> dict[int, float]:
    """Samples per node. Counts, not the samples' time deltas: a thread that waited for a
    core gets one sample when it runs again, whose delta holds all the waiting; the count
    follows the time the thread actually ran."""
    counts: dict[int, float] = defaultdict(float)
    for node_id in profile["samples"]:
        counts[node_id] += 1
    return counts


Frame = tuple[str, str]  # (source, function)
NOT_RECORDER = ("(browser)", "the page's own scripts")


def calls(stack: frozenset[Frame], source: str, name: str) -> bool:
    """Whether a sample's stack holds that function (its source containing `source`)."""
    return any(f == name and source in s for s, f in stack)


def in_snapshot(stack: frozenset[Frame]) -> bool:
    return calls(stack, "rrweb", "takeFullSnapshot")


# The recorder's rrweb `emit` callback (onEvent; addToView masks, serialises and adds each event).
EMIT_NAMES = ("emit", "onEvent", "addToView")


def in_emit(stack: frozenset[Frame]) -> bool:
    return any(calls(stack, "src/recorder.ts", name) for name in EMIT_NAMES)


# Where the time from navigation to 1 s after the first input goes, from the profile: each
# stage is a test on one sample (the function it hit, and every function on its stack), so a
# stage includes what it calls; the indented ones are parts of the one above.
STAGES: list[tuple[str, Callable[[Frame, frozenset[Frame]], bool]]] = [
    (
        "the recorder's script, all (its functions and the native calls they make)",
        lambda leaf, stack: not leaf[0].endswith(NOT_RECORDER),
    ),
    ("rrweb's full snapshot (takeFullSnapshot), all it calls", lambda _, st: in_snapshot(st)),
    (
        "  of which Footage's emit callback (below: scrub, JSON.stringify, sending)",
        lambda _, st: in_snapshot(st) and in_emit(st),
    ),
    (
        "  of which Footage's text masking (maskTextFn)",
        lambda _, st: in_snapshot(st) and calls(st, "src/recorder.ts", "maskTextFn"),
    ),
    (
        "  of which Footage's input masking (maskInputFn)",
        lambda _, st: in_snapshot(st) and calls(st, "src/recorder.ts", "maskInputFn"),
    ),
    (
        "  the rest: rrweb's own serialisation",
        lambda _, st: (
            in_snapshot(st)
            and not in_emit(st)
            and not calls(st, "src/recorder.ts", "maskTextFn")
            and not calls(st, "src/recorder.ts", "maskInputFn")
        ),
    ),
    ("rrweb's observers set up (initObservers)", lambda _, st: calls(st, "rrweb", "initObservers")),
    (
        "rrweb's other work: record() itself, its observers at work (mutations, mouse…)",
        lambda leaf, st: (
            "rrweb" in leaf[0] and not in_snapshot(st) and not calls(st, "rrweb", "initObservers")
        ),
    ),
    (
        "Footage: events scrubbed (scrubEvent)",
        lambda _, st: calls(st, "src/masking.ts", "scrubEvent"),
    ),
    (
        "Footage: JSON.stringify of each event (emit's own time)",
        lambda leaf, _: leaf[0] == "src/recorder.ts" and leaf[1] in EMIT_NAMES,
    ),
    (
        "Footage: batches sent (PageView.flush: body, gzip, fetch)",
        lambda _, st: calls(st, "src/pageview.ts", "flush"),
    ),
    ("garbage collector", lambda leaf, _: leaf == ("(browser)", "(garbage collector)")),
    (
        "the browser outside JavaScript: parsing, style, layout, paint… ((program))",
        lambda leaf, _: leaf == ("(browser)", "(program)"),
    ),
]


def profile_times(
    profile: dict[str, Any], bundle_url: str, marks: list[tuple[int, str]]
) -> tuple[dict[Frame, float], dict[str, float]]:
    """Samples per (source, function) that it hit, and per stage; idle time left out."""
    labels, parent = node_labels(profile, bundle_url, marks)
    stacks: dict[int, frozenset[Frame]] = {}

    def stack_of(node_id: int) -> frozenset[Frame]:
        if node_id not in stacks:
            above = stack_of(parent[node_id]) if node_id in parent else frozenset()
            stacks[node_id] = above | {labels[node_id]}
        return stacks[node_id]

    own: dict[Frame, float] = defaultdict(float)
    stages: dict[str, float] = dict.fromkeys((label for label, _ in STAGES), 0.0)
    for node_id, ms in sample_counts(profile).items():
        leaf = labels[node_id]
        if leaf == ("(browser)", "(idle)"):
            continue
        own[leaf] += ms
        stack = stack_of(node_id)
        for label, test in STAGES:
            if test(leaf, stack):
                stages[label] += ms
    return own, stages


def profile_summary(runs: list[Run], bundle: str, bundle_url: str) -> dict[str, Any]:
    """Medians over the profiled runs: the stages above, self time per function and per
    source file, in milliseconds of main-thread CPU and as a share of the time the main
    thread was busy (not idle)."""
    marks = file_ranges(bundle)
    times = []
    for run in runs:
        own, stages = profile_times(run.detail.pop("profile"), bundle_url, marks)
        # Samples to milliseconds: the busy samples share the main thread's CPU time over the
        # same span (a wall-clock sampler on a busy machine would count the waits for a core).
        scale = run.figures["main_thread_ms"] / max(sum(own.values()), 1e-9)
        times.append(
            ({k: v * scale for k, v in own.items()}, {k: v * scale for k, v in stages.items()})
        )
    busy = [sum(own.values()) for own, _ in times]

    def entry(values: list[float]) -> dict[str, float]:
        shares = [v / b * 100 if b else 0.0 for v, b in zip(values, busy, strict=True)]
        return {"ms": round(median(values), 1), "share_pct": round(median(shares), 1)}

    own_keys = set().union(*(own for own, _ in times))
    functions = {k: entry([own.get(k, 0.0) for own, _ in times]) for k in own_keys}
    sources: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(times))
    for i, (own, _) in enumerate(times):
        for (source, _), ms in own.items():
            sources[source][i] += ms
    top = sorted(functions.items(), key=lambda kv: -kv[1]["ms"])
    return {
        "runs": len(runs),
        "busy_ms": [round(b, 1) for b in busy],
        "stages": {label: entry([st[label] for _, st in times]) for label, _ in STAGES},
        "functions": [{"source": s, "function": f, **e} for (s, f), e in top[:40]],
        "sources": {s: entry(v) for s, v in sorted(sources.items(), key=lambda kv: -median(kv[1]))},
        "figures": [r.figures for r in runs],
    }


def serialise_and_gzip(browser: Any, url: str, snapshot_json: str) -> dict[str, float]:
    """In a fresh page: JSON.stringify of the first batch's events and CompressionStream gzip of
    the batch's text, as footage.js does them (median of 5; the page does nothing else)."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(url, wait_until="load")
        return dict(
            page.evaluate(
                """async (text) => {
                  const events = JSON.parse(text).events;
                  const stringify = [], compress = [];
                  let gzipped = 0;
                  for (let i = 0; i < 5; i++) {
                    let t = performance.now();
                    window.benchParts = events.map((e) => JSON.stringify(e));
                    stringify.push(performance.now() - t);
                    t = performance.now();
                    const stream = new Blob([text]).stream()
                      .pipeThrough(new CompressionStream('gzip'));
                    gzipped = (await new Response(stream).arrayBuffer()).byteLength;
                    compress.push(performance.now() - t);
                  }
                  const mid = (a) => a.sort((x, y) => x - y)[2];
                  return {
                    events: events.length, json_bytes: text.length, gzip_bytes: gzipped,
                    stringify_ms: mid(stringify), gzip_ms: mid(compress),
                  };
                }""",
                snapshot_json,
            )
        )
    finally:
        context.close()


# ---- summary -------------------------------------------------------------------------------


def summarise(runs: list[Run]) -> dict[str, Any]:
    """Median and p90 of each figure over good runs; runs that failed a check are left out."""
    good = [r for r in runs if not r.detail.get("problem")]
    out: dict[str, Any] = {"runs": len(runs), "good_runs": len(good)}
    for key in FIGURES:
        values = [r.figures[key] for r in good if r.figures[key] == r.figures[key]]
        out[key] = {"median": round(median(values), 2), "p90": round(percentile(values, 90), 2)}
    return out


def ratios(summary: dict[str, dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Footage ÷ each reference per figure (`footage_over_rrweb`, `footage_over_rrweb-sent`):
    of the medians, and of what each adds over `none` (`added_…`)."""
    out: dict[str, dict[str, float | None]] = {}
    for key in FIGURES:
        f, n = summary["footage"][key]["median"], summary["none"][key]["median"]
        out[key] = {}
        for ref in REFERENCES:
            r = summary[ref][key]["median"]
            added_r, added_f = r - n, f - n
            out[key][f"footage_over_{ref}"] = round(f / r, 2) if r else None
            out[key][f"added_footage_over_added_{ref}"] = (
                round(added_f / added_r, 2) if added_r > 0 and added_f >= 0 else None
            )
    return out


def figures_table(page: str, summary: dict[str, Any], ratio: dict[str, Any]) -> str:
    rows = []
    for key, label in FIGURES.items():
        cells = [f"{summary[v][key]['median']:g} ({summary[v][key]['p90']:g})" for v in VARIANTS]
        r = ratio[key]
        rows.append(
            [
                label,
                *cells,
                *(fmt_ratio(r[f"footage_over_{ref}"]) for ref in REFERENCES),
                fmt_ratio(r["added_footage_over_added_rrweb-sent"]),
            ]
        )
    head = [
        "figure: median (p90)",
        *(LABELS[v] for v in VARIANTS),
        *(f"Footage ÷ {LABELS[ref]}" for ref in REFERENCES),
        f"added over none: Footage ÷ {LABELS['rrweb-sent']}",
    ]
    return f"{page}\n" + table(head, rows)


def share_table(what: str, rows: dict[str, dict[str, float]]) -> str:
    return table(
        [what, "ms", "share of busy time"],
        [[k, f"{v['ms']:g}", f"{v['share_pct']:g} %"] for k, v in rows.items()],
    )


def fmt_ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


# ---- main ----------------------------------------------------------------------------------


def footage_script(server_url: str, path: str | None) -> tuple[bytes, str]:
    """The recorder under test and where it came from."""
    if path:
        return Path(path).read_bytes(), Path(path).name
    resp = httpx.get(f"{server_url}/footage.js", headers={"Accept-Encoding": "identity"})
    if resp.status_code != 200:
        raise BenchError(
            f"footage serve answered {resp.status_code} for /footage.js: {resp.text[:200]}"
        )
    return resp.content, "footage serve /footage.js (web/ as built)"


@dataclass
class Site:
    """Where everything is served: the shop's pages, third-party scripts, the Footage server."""

    pages: PageServer
    origin: str  # the shop, http://shop.bench.example:PORT
    footage_host: str  # the host given to footage('init'), http://footage.bench.example:PORT
    site_key: str

    def script_url(self, path: str) -> str:
        """A script served by the page server from a third-party origin, as CDNs do."""
        return f"http://{SCRIPTS}:{self.pages.port}{path}"

    def add_page(self, path: str, kind: str, tags: str) -> str:
        self.pages.add(path, page_html(kind, tags), "text/html; charset=utf-8")
        return self.origin + path


def add_targets(
    site: Site, pages: list[str], script: bytes, own_script: bool
) -> dict[tuple[str, str], Target]:
    """Every page with every variant; footage.js from the server unless `own_script`."""
    src = f"{site.footage_host}/footage.js"
    if own_script:
        site.pages.add("/footage.js", script, "application/javascript")
        src = site.script_url("/footage.js")
    targets = {}
    for kind in pages:
        for variant in VARIANTS:
            tags = recorder_tags(variant, site.footage_host, site.site_key, src)
            url = site.add_page(f"/{kind}/{variant}", kind, tags)
            targets[kind, variant] = Target(kind, variant, url)
    return targets


def page_results(runs: list[Run], kind: str) -> dict[str, Any]:
    """One page's summary, ratios and runs; the table is printed."""
    mine = [r for r in runs if r.page == kind]
    summary = {v: summarise([r for r in mine if r.variant == v]) for v in VARIANTS}
    ratio = ratios(summary)
    elements = mine[0].detail["elements"]
    print("\n" + figures_table(f"{kind}: {elements:,} elements", summary, ratio))
    return {
        "elements": elements,
        "summary": summary,
        "ratios": ratio,
        "runs": [{"variant": r.variant, **r.figures, **r.detail} for r in mine],
    }


def cpu_set(text: str | None) -> set[int] | None:
    """'0' or '0,1' → {0} or {0, 1}; None when not given."""
    if not text:
        return None
    cpus = {int(c) for c in text.split(",") if c.strip()}
    if not cpus <= os.sched_getaffinity(0):
        raise SystemExit(f"no such cores here: {text} (this machine: {os.sched_getaffinity(0)})")
    return cpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--runs", type=int, default=10, help="runs per page and variant (0: the profile only)"
    )
    parser.add_argument("--pages", default=",".join(PAGES))
    parser.add_argument("--footage-js", help="this footage.js instead of the server's own")
    parser.add_argument("--profile-runs", type=int, default=3, help="0: no profile")
    parser.add_argument("--heap-runs", type=int, default=0, help="heap snapshots per variant")
    parser.add_argument("--json", default=str(OUT / "recorder_cost.json"))
    parser.add_argument("--chromium", default=CHROMIUM, help="the Chromium binary")
    parser.add_argument(
        "--network",
        action="store_true",
        help="enable the Network domain on the measured pages, as Playwright does: what a "
        "driver that copies each request body costs",
    )
    parser.add_argument(
        "--browser-cpus",
        help="cores for Chromium (e.g. 0); with --server-cpus: the visitor's machine and the "
        "servers' kept apart, as they are on the internet",
    )
    parser.add_argument(
        "--server-cpus",
        help="cores for `footage serve`, the shop and rrweb's bare endpoint (this process)",
    )
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    pages = [p for p in args.pages.split(",") if p]
    browser_cpus = cpu_set(args.browser_cpus)
    server_cpus = cpu_set(args.server_cpus)
    if server_cpus:
        # This process serves the shop and the bare endpoint; `footage serve` inherits it.
        os.sched_setaffinity(0, server_cpus)
    with (
        tempfile.TemporaryDirectory(prefix="footage-cost-") as tmp_name,
        PageServer() as page_server,
    ):
        tmp = Path(tmp_name)
        rrweb_js = rrweb_bundle(tmp)
        page_server.add("/rrweb-record.js", rrweb_js, "application/javascript")
        origin = f"http://{SHOP}:{page_server.port}"
        account = create_account(tmp / "data", origin)
        flags = ("--no-demo", "--ingest-ip-new-recordings", "100000")
        with footage_server(tmp / "data", *flags) as server:
            host = f"http://{FOOTAGE}:{server.url.rsplit(':', 1)[1]}"
            site = Site(page_server, origin, host, account["site_key"])
            script, script_from = footage_script(server.url, args.footage_js)
            targets = add_targets(site, pages, script, own_script=bool(args.footage_js))
            out: dict[str, Any] = {
                "machine": machine(),
                "footage_js": {
                    "from": script_from,
                    "bytes": len(script),
                    "gzip_bytes": len(gzip.compress(script, 6)),
                    "sha256": hashlib.sha256(script).hexdigest(),
                },
                "rrweb": {"version": rrweb_version(), "bundle_bytes": len(rrweb_js)},
                "runs_per_variant": args.runs,
                "settle_ms": SETTLE_MS,
                "after_input_ms": AFTER_MS,
                "viewport": [WIDTH, HEIGHT],
                "cpus": {
                    "browser": sorted(browser_cpus or []),
                    "server": sorted(server_cpus or []),
                },
            }
            if args.runs > 0:
                with cdp.Browser(args.chromium, CHROMIUM_ARGS, browser_cpus) as driven:
                    out["chromium"] = driven.version
                    out["network_domain"] = args.network
                    runs = measure(driven, targets, pages, args.runs, args.network)
                out["pages"] = {kind: page_results(runs, kind) for kind in pages}
            if args.profile_runs > 0 or args.heap_runs > 0:
                with sync_playwright() as pw:
                    browser = pw.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
                    out["chromium"] = browser.version
                    if args.profile_runs > 0:
                        out["profile"] = profile(browser, site, pages, args.profile_runs)
                    if args.heap_runs > 0:
                        out["heap"] = {
                            k: heap_diff(browser, targets, k, args.heap_runs) for k in pages
                        }
                    browser.close()
    write_json(Path(args.json), out)
    print(f"\nwritten to {args.json}")


def measure(
    browser: cdp.Browser,
    targets: dict[tuple[str, str], Target],
    pages: list[str],
    n: int,
    network: bool = False,
) -> list[Run]:
    """n rounds; in each, every page with every variant, the variants one after the other."""
    runs: list[Run] = []
    for round_no in range(n):
        for kind in pages:
            for variant in VARIANTS:
                run = visit(browser, targets[kind, variant], network)
                problem = check(run)
                if problem:
                    run.detail["problem"] = problem
                runs.append(run)
                f = run.figures
                print(
                    f"round {round_no + 1}/{n} {kind:9} {variant:10} interaction "
                    f"{f['interaction_ms']:5.0f} ms, delay {f['input_delay_ms']:5.1f} ms, TBT "
                    f"{f['tbt_ms']:6.0f} ms, script {f['script_ms']:6.0f} ms, heap "
                    f"{f['heap_mb']:5.1f} MB" + (f"  ! {problem}" if problem else ""),
                    flush=True,
                )
    return runs


def profile(browser: Any, site: Site, pages: list[str], n: int) -> dict[str, Any]:
    """rrweb and Footage on each page, built from source without minifying (footage.js from
    web/src), CPU-profiled from navigation to 1 s after the first input, interleaved; then
    Footage's first batch serialised and compressed on its own."""
    with tempfile.TemporaryDirectory(prefix="footage-profile-") as tmp:
        bundles = {
            "rrweb": rrweb_bundle(Path(tmp), minify=False).decode(),
            "footage": profile_bundle(Path(tmp)).decode(),
        }
    urls = {}
    for variant, bundle in bundles.items():
        site.pages.add(f"/{variant}-profile.js", bundle, "application/javascript")
        urls[variant] = site.script_url(f"/{variant}-profile.js")
    site.pages.add("/blank", "<!doctype html><title>blank</title>", "text/html")
    out: dict[str, Any] = {}
    for kind in pages:
        targets = {}
        for variant, url in urls.items():
            tags = recorder_tags(variant, site.footage_host, site.site_key, url, url)
            targets[variant] = Target(
                kind, variant, site.add_page(f"/{kind}/{variant}-p", kind, tags)
            )
        runs: dict[str, list[Run]] = {v: [] for v in bundles}
        for i in range(n):
            for variant, target in targets.items():
                runs[variant].append(profiled_run(browser, target))
                print(f"profile {kind} {variant:7} {i + 1}/{n}", flush=True)
        summary = {v: profile_summary(runs[v], bundles[v], urls[v]) for v in bundles}
        batch = next(
            (r.detail["first_batch"] for r in runs["footage"] if r.detail.get("first_batch")), None
        )
        if batch:
            summary["footage_first_batch"] = serialise_and_gzip(
                browser, f"{site.origin}/blank", batch
            )
        out[kind] = summary
        print_profile(kind, n, summary)
    return out


def heap_kinds(cdp: Any) -> dict[str, int]:
    """A V8 heap snapshot of the page after a GC: self sizes summed per kind of object (the
    node's type, and its name for V8's system objects, DOM objects and code)."""
    chunks: list[str] = []
    cdp.on("HeapProfiler.addHeapSnapshotChunk", lambda e: chunks.append(e["chunk"]))
    cdp.send("HeapProfiler.collectGarbage")
    cdp.send("HeapProfiler.takeHeapSnapshot", {"reportProgress": False})
    snap = json.loads("".join(chunks))
    meta = snap["snapshot"]["meta"]
    fields, types, strings, nodes = (
        meta["node_fields"],
        meta["node_types"][0],
        snap["strings"],
        snap["nodes"],
    )
    width = len(fields)
    at_type, at_name, at_size = (fields.index(f) for f in ("type", "name", "self_size"))
    kinds: dict[str, int] = defaultdict(int)
    for i in range(0, len(nodes), width):
        kind = types[nodes[i + at_type]]
        name = strings[nodes[i + at_name]]
        named = kind == "code" or name.startswith(("system /", "HTML", "(")) and kind != "string"
        kinds[f"{kind}: {name[:40]}" if named else kind] += nodes[i + at_size]
    return dict(kinds)


def heap_diff(browser: Any, targets: dict[tuple[str, str], Target], kind: str, n: int) -> dict:
    """Footage's heap beside rrweb-sent's, by kind of object (medians of n visits each)."""
    sizes: dict[str, list[dict[str, int]]] = {"rrweb-sent": [], "footage": []}
    for _ in range(n):
        for variant in sizes:
            context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
            context.add_init_script(PROBE)
            try:
                page = context.new_page()
                cdp = context.new_cdp_session(page)
                page.goto(targets[kind, variant].url, wait_until="load")
                page.wait_for_timeout(SETTLE_MS)
                first_input(page)
                page.evaluate(WAIT_AFTER_INPUT)
                sizes[variant].append(heap_kinds(cdp))
            finally:
                context.close()
    names = {k for runs in sizes.values() for run in runs for k in run}
    med = {
        v: {k: median([run.get(k, 0) for run in runs]) for k in names} for v, runs in sizes.items()
    }
    diff = {k: med["footage"][k] - med["rrweb-sent"][k] for k in names}
    top = sorted(diff.items(), key=lambda kv: -abs(kv[1]))[:15]
    totals = {v: sum(m.values()) for v, m in med.items()}
    print(f"\n{kind}: heap snapshot, Footage − rrweb + bare endpoint (median of {n}), bytes")
    print(f"  total: {totals['rrweb-sent']:,.0f} → {totals['footage']:,.0f}")
    for name, bytes_ in top:
        print(f"  {bytes_:+10,.0f}  {name}")
    return {"totals": totals, "difference": dict(top)}


def print_profile(kind: str, n: int, summary: dict[str, Any]) -> None:
    print(f"\n{kind}: navigation to 1 s after the first input, median of {n} profiled runs")
    rows = [
        [
            label,
            f"{summary['rrweb']['stages'][label]['ms']:g}",
            f"{summary['footage']['stages'][label]['ms']:g}",
        ]
        for label, _ in STAGES
    ]
    print(table(["stage (CPU ms, with what it calls)", "rrweb record()", "Footage"], rows))
    top = {f"{f['function']} ({f['source']})": f for f in summary["footage"]["functions"][:25]}
    print(share_table("Footage: function (self time)", top))
    print(f"Footage's first batch on its own: {summary.get('footage_first_batch')}")


if __name__ == "__main__":
    try:
        main()
    except BenchError as error:
        sys.exit(f"recorder_cost: {error}")
