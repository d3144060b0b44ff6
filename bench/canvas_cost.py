"""What recording canvas pictures costs the visitor's page, on a page whose canvases change on
every frame (the worst case: every copy is a new picture).

    .venv/bin/python bench/canvas_cost.py              # 6 runs per variant
    .venv/bin/python bench/canvas_cost.py --runs 10

The page (served by recorder_cost.py's page server as `http://shop.bench.example:PORT`):
four 2D charts of 400 × 200 pixels redrawn on every animation frame (a moving line over a
grid) and one WebGL canvas of 400 × 200 cleared to a colour that changes on every frame.

Variants, interleaved run by run, each a fresh visitor in a fresh context against a real
`footage serve`: `none` (the page alone), `canvas off` (Footage, the site's `record_canvas`
off), `canvas on` (Footage with `record_canvas` on: each canvas copied twice a second), and
the reference, `rrweb canvas`: rrweb's own canvas recording at the same rate
(`recordCanvas: true, sampling: { canvas: 2 }`, WebP at quality 0.7 as Footage sends), its
events sent every second to a bare endpoint as rrweb's guide shows (recorder_cost.py's
`rrweb-sent`).
The mouse moves and clicks 1 s after `load` (the recording starts there), then 10 s more.

Figures per run, over the 10 s after the first input, in thread time (CDP
`Performance.getMetrics`, `timeDomain: threadTicks`): the main thread's CPU (TaskDuration)
and script CPU (ScriptDuration), as ms per second; canvas pictures sent and their bytes (the
base64 in the batches, after gzip of the whole batch: what goes over the wire is the batch),
per second. Medians (p90) and the ratios `canvas on` ÷ `canvas off` and `canvas on` ÷
`rrweb canvas`.

Results: bench/out/canvas_cost.json; bench/RESULTS.md, §15.
"""

from __future__ import annotations

import argparse
import gzip
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from common import (
    OUT,
    create_account,
    footage_server,
    machine,
    median,
    percentile,
    table,
    write_json,
)
from recorder_cost import (
    BARE_ENDPOINT,
    CHROMIUM,
    CHROMIUM_ARGS,
    FOOTAGE,
    SAVE_EVERY_MS,
    SHOP,
    PageServer,
    metrics,
    rrweb_bundle,
)

WINDOW_MS = 10_000
VARIANTS = ("none", "rrweb canvas", "canvas off", "canvas on")
INGEST = "/api/v1/ingest"
# rrweb's own canvas recording at Footage's rate and image type; sent as recorder_cost.py's
# rrweb-sent sends.
RRWEB_CANVAS = (
    '<script src="/rrweb-record.js"></script>'
    "<script>let events = [];"
    "rrweb.record({ emit: function (event) { events.push(event); }, recordCanvas: true,"
    " sampling: { canvas: 2 }, dataURLOptions: { type: 'image/webp', quality: 0.7 } });"
    "function save() { if (!events.length) return;"
    " const body = JSON.stringify({ events: events }); events = [];"
    f" fetch('{BARE_ENDPOINT}', {{ method: 'POST', body: body,"
    " keepalive: body.length < 60000, headers: { 'Content-Type': 'application/json' } }); }"
    f"setInterval(save, {SAVE_EVERY_MS});"
    "</script>"
)
PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Live charts</title>%(tags)s
</head><body style="font: 14px sans-serif; margin: 0">
<button id="go" style="height: 40px">Refresh</button>
<div>%(canvases)s<canvas id="gl" width="400" height="200"></canvas></div>
<script>
  const charts = [...document.querySelectorAll('canvas.chart')].map((c) => c.getContext('2d'));
  const gl = document.getElementById('gl').getContext('webgl');
  let frame = 0;
  function draw() {
    frame++;
    charts.forEach((ctx, n) => {
      ctx.fillStyle = '#fff';
      ctx.fillRect(0, 0, 400, 200);
      ctx.strokeStyle = '#ddd';
      for (let x = 0; x < 400; x += 40) {
        ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, 200); ctx.stroke();
      }
      ctx.strokeStyle = ['#e4572e', '#17bebb', '#6a4c93', '#1982c4'][n];
      ctx.beginPath();
      for (let x = 0; x <= 400; x += 4) {
        const y = 100 + 80 * Math.sin((x + frame * 3 + n * 50) / 30);
        x ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
      }
      ctx.stroke();
    });
    if (gl) {
      gl.clearColor((frame %% 100) / 100, 0.5, 1 - (frame %% 100) / 100, 1);
      gl.clear(gl.COLOR_BUFFER_BIT);
    }
    requestAnimationFrame(draw);
  }
  requestAnimationFrame(draw);
</script></body></html>"""
SNIPPET = (
    "<script>window.footage = window.footage || function () "
    "{ (footage.q = footage.q || []).push(arguments); };"
    "footage('init', '%(key)s', { host: '%(host)s' });</script>"
    '<script async src="%(host)s/footage.js"></script>'
)


def page_html(tags: str) -> str:
    canvases = "".join('<canvas class="chart" width="400" height="200"></canvas>' for _ in range(4))
    return PAGE % {"tags": tags, "canvases": canvases}


def run_once(browser: Any, url: str) -> dict[str, float]:
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    pictures: list[int] = []
    wire: list[int] = []

    def seen(request: Any) -> None:
        if INGEST not in request.url and BARE_ENDPOINT not in request.url:
            return
        body = request.post_data_buffer or b""
        wire.append(len(body))
        raw = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
        for event in json.loads(raw).get("events", []):
            data = event.get("data") or {}
            if event.get("type") == 3 and data.get("source") == 9:
                pictures.append(len(json.dumps(data)))

    context.on("request", seen)
    try:
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable", {"timeDomain": "threadTicks"})
        page.goto(url, wait_until="load")
        page.wait_for_timeout(1000)
        page.mouse.move(200, 20, steps=5)
        page.click("#go")
        before = metrics(cdp)
        page.evaluate(f"() => new Promise((r) => setTimeout(r, {WINDOW_MS}))")
        after = metrics(cdp)
        # Leaving sends what is still pending (the leave beacon), so every picture counts.
        with page.expect_event("close"):
            page.close(run_before_unload=True)
    finally:
        context.close()
    seconds = WINDOW_MS / 1000
    return {
        "main_thread_ms_per_s": round(
            (after["TaskDuration"] - before["TaskDuration"]) * 1000 / seconds, 1
        ),
        "script_ms_per_s": round(
            (after["ScriptDuration"] - before["ScriptDuration"]) * 1000 / seconds, 1
        ),
        "pictures_per_s": round(len(pictures) / seconds, 2),
        "picture_kb_per_s": round(sum(pictures) / 1000 / seconds, 1),
        "batch_kb_on_wire_per_s": round(sum(wire) / 1000 / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--json", default=str(OUT / "canvas_cost.json"))
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="footage-canvas-") as tmp_name, PageServer() as pages:
        tmp = Path(tmp_name)
        origin = f"http://{SHOP}:{pages.port}"
        account = create_account(tmp / "data", origin)
        flags = ("--no-demo", "--ingest-ip-new-recordings", "100000")
        with footage_server(tmp / "data", *flags) as server, sync_playwright() as pw:
            host = f"http://{FOOTAGE}:{server.url.rsplit(':', 1)[1]}"
            tags = SNIPPET % {"key": account["site_key"], "host": host}
            pages.add("/none", page_html(""), "text/html; charset=utf-8")
            pages.add("/rrweb-record.js", rrweb_bundle(tmp), "text/javascript")
            pages.add("/rrweb", page_html(RRWEB_CANVAS), "text/html; charset=utf-8")
            pages.add("/footage", page_html(tags), "text/html; charset=utf-8")
            auth = {"Authorization": f"Bearer {account['api_token']}"}
            settings = f"{server.url}/api/v1/sites/{account['site_id']}/settings"

            def record_canvas(on: bool) -> None:
                r = httpx.patch(settings, json={"record_canvas": on}, headers=auth)
                r.raise_for_status()

            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            results: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
            for n in range(args.runs):
                for variant in VARIANTS:
                    if variant in ("canvas off", "canvas on"):
                        record_canvas(variant == "canvas on")
                    path = {"none": "none", "rrweb canvas": "rrweb"}.get(variant, "footage")
                    url = f"{origin}/{path}"
                    figures = run_once(browser, url)
                    results[variant].append(figures)
                    print(f"run {n + 1}/{args.runs} {variant:10} {figures}", flush=True)
            chromium = browser.version
            browser.close()
    keys = list(results["none"][0])
    summary = {
        v: {
            k: {
                "median": round(median([r[k] for r in results[v]]), 2),
                "p90": round(percentile([r[k] for r in results[v]], 90), 2),
            }
            for k in keys
        }
        for v in VARIANTS
    }
    rows = []
    for k in keys:
        on, off = summary["canvas on"][k]["median"], summary["canvas off"][k]["median"]
        ref = summary["rrweb canvas"][k]["median"]
        rows.append(
            [
                k,
                *(f"{summary[v][k]['median']:g} ({summary[v][k]['p90']:g})" for v in VARIANTS),
                f"{on / off:.2f}" if off else "–",
                f"{on / ref:.2f}" if ref else "–",
            ]
        )
    print("\n" + table(["figure: median (p90)", *VARIANTS, "on ÷ off", "on ÷ rrweb"], rows))
    out = {
        "machine": machine(),
        "chromium": chromium,
        "runs_per_variant": args.runs,
        "window_ms": WINDOW_MS,
        "summary": summary,
        "runs": results,
        "at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    write_json(Path(args.json), out)
    print(f"\nwritten to {args.json}")


if __name__ == "__main__":
    main()
