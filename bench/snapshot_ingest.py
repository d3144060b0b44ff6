"""What `footage serve` spends on one large snapshot: the first batch the real recorder sends
from recorder_cost.py's catalogue page (~5,000 elements), its stages timed one by one in this
process, then the batch posted again and again to a real server whose CPU is read from /proc.

    .venv/bin/python bench/snapshot_ingest.py               # 40 posts, stages 15 times each
    .venv/bin/python bench/snapshot_ingest.py --posts 100

1. The batch: Chromium (bench/cdp.py, the page's Network domain on to read the request body)
   loads the catalogue with the snippet against `footage serve`, the mouse moves and clicks,
   and the body of the first `POST /api/v1/ingest` is kept.
2. Stages, in this process, the best of `--stage-runs` (the machine's other work only adds): the
   body decoded (`decode_batch`: gunzip, JSON, the fields checked), the events masked by the
   site's default rules (`scrub_events`), the events written as the stored chunk
   (`encode_chunk` of `dump_event`), the assets' addresses read (`asset_urls`). And the
   masking of personal numbers in every text the scrub masks, two ways side by side: the
   expression over every Unicode decimal digit on each text, as before, and what
   `mask_personal_numbers` does now (ASCII text with fewer than six digits: nothing to run;
   other ASCII text: the expression over 0-9 only); both must give the same texts.
3. The server: the batch posted `--posts` times, each as a new visitor's page view (new ids,
   gzip again), one after the other; CPU seconds of the server's process (all its threads)
   per batch. With `--against CHECKOUT` (another clone of this repository, at another
   commit), a second `footage serve` runs that code side by side, the posts alternating
   between the two: the ratio is what holds on a shared machine.

Results: bench/out/snapshot_ingest.json; bench/RESULTS.md, "Recorder cost" (the server's side).
"""

from __future__ import annotations

import argparse
import base64
import copy
import gzip
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import cdp
import httpx
import orjson
import recorder_cost as rc
from common import (
    OUT,
    BenchError,
    create_account,
    footage_server,
    machine,
    table,
    tree_cpu_seconds,
    write_json,
)

from footage.assets.extract import asset_urls
from footage.ingest.asgi import decode_batch
from footage.ingest.writer import dump_event
from footage.privacy import masking
from footage.store.chunks import encode_chunk

MAX_INFLATED = 20_000_000


def first_batch(server_url: str, site: rc.Site) -> bytes:
    """The body of the first batch footage.js sends from the catalogue, as it went."""
    targets = rc.add_targets(site, ["catalogue"], b"", own_script=False)
    with (
        cdp.Browser(rc.CHROMIUM, rc.CHROMIUM_ARGS) as browser,
        browser.page(rc.WIDTH, rc.HEIGHT, rc.PROBE, network=True) as page,
    ):
        page.navigate(targets["catalogue", "footage"].url)
        page.evaluate(f"() => new Promise((resolve) => setTimeout(resolve, {rc.SETTLE_MS}))")
        x, y = page.evaluate(rc.TARGET_CENTRE)
        page.mouse_move(x, y, steps=5)
        page.mouse_click()
        stored = page.evaluate(rc.STORED)
        if 200 not in stored:
            raise BenchError(f"footage serve did not store the first batch (answers: {stored})")
        with browser.lock:
            sent = [
                e["params"]["request"]
                for e in browser.events
                if e["method"] == "Network.requestWillBeSent"
                and rc.INGEST in e["params"]["request"]["url"]
            ]
    if not sent:
        raise BenchError("no batch was seen leaving the page")
    entries = sent[0].get("postDataEntries") or []
    return b"".join(base64.b64decode(e.get("bytes", "")) for e in entries)


def best_ms(work: Callable[[], Any], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return round(best * 1000, 2)


def stages(body: bytes, runs: int) -> dict[str, Any]:
    now = int(time.time() * 1000)
    batch, _ = decode_batch(body, MAX_INFLATED, now)
    rules = masking.MaskRules()  # a site's defaults: forms, numbers and e-mails masked
    copies = [copy.deepcopy(batch.events) for _ in range(runs + 1)]
    texts: list[str] = []
    original = masking.mask_personal_numbers

    def keep(text: str) -> str:
        texts.append(text)
        return original(text)

    masking.mask_personal_numbers = keep  # mask_text looks it up when called
    try:
        scrubbed = masking.scrub_events(copies.pop(), rules, masking.PageMaskState())
    finally:
        masking.mask_personal_numbers = original

    def whole_expression() -> list[str]:
        return [masking._NUMBER.sub(masking._mask_number, t) for t in texts]

    def now_() -> list[str]:
        return [masking.mask_personal_numbers(t) for t in texts]

    if whole_expression() != now_():
        raise BenchError("the two ways of masking numbers gave different texts")
    out = {
        "body_bytes": len(body),
        "json_bytes": len(gzip.decompress(body)),
        "events": len(batch.events),
        "texts_masked": len(texts),
        "texts_with_a_digit": sum(1 for t in texts if masking._DIGITS.search(t)),
        "decode_ms": best_ms(lambda: decode_batch(body, MAX_INFLATED, now), runs),
        "scrub_ms": best_ms(
            lambda: masking.scrub_events(copies.pop(), rules, masking.PageMaskState()), runs
        ),
        "chunk_ms": best_ms(lambda: encode_chunk(map(dump_event, scrubbed)), runs),
        "asset_urls_ms": best_ms(lambda: asset_urls(scrubbed), runs),
    }
    # Side by side, alternating, so the machine's moments fall on both.
    before, after = [], []
    for _ in range(runs):
        before.append(best_ms(whole_expression, 1))
        after.append(best_ms(now_, 1))
    out["numbers_whole_expression_ms"] = min(before)
    out["numbers_now_ms"] = min(after)
    return out


def server_cpu(
    servers: dict[str, tuple[Any, str]], body: bytes, origin: str, posts: int
) -> dict[str, float]:
    """CPU ms of each server's process per batch, over `posts` new page views of this batch
    each (servers: name → (server, its site key)), the posts alternating between them."""
    batch = orjson.loads(gzip.decompress(body))
    headers = {"Origin": origin, "Content-Type": "text/plain"}
    spent = dict.fromkeys(servers, 0.0)
    with httpx.Client(timeout=30) as client:
        # One each first, not counted: the site's caches and the database's pages are warm.
        for n in range(posts + 1):
            for name, (server, site_key) in servers.items():
                fresh = {
                    **batch,
                    "site_key": site_key,
                    "visitor_id": str(uuid.uuid4()),
                    "session_id": str(uuid.uuid4()),
                    "page_id": str(uuid.uuid4()),
                    "sent_at": int(time.time() * 1000),
                }
                one = gzip.compress(json.dumps(fresh).encode(), 6)
                start = tree_cpu_seconds(server.proc.pid)
                answer = client.post(f"{server.url}/api/v1/ingest", content=one, headers=headers)
                if answer.status_code != 200:
                    raise BenchError(f"ingest answered {answer.status_code}: {answer.text[:200]}")
                if n:
                    spent[name] += tree_cpu_seconds(server.proc.pid) - start
    return {name: round(s * 1000 / posts, 1) for name, s in spent.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=40)
    parser.add_argument("--stage-runs", type=int, default=15)
    parser.add_argument("--json", default=str(OUT / "snapshot_ingest.json"))
    parser.add_argument("--against", help="another checkout whose footage serve runs beside")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="footage-snapshot-") as tmp_name,
        rc.PageServer() as pages,
    ):
        tmp = Path(tmp_name)
        origin = f"http://{rc.SHOP}:{pages.port}"
        account = create_account(tmp / "data", origin)
        flags = ("--no-demo", "--ingest-ip-new-recordings", "100000")
        with ExitStack() as running:
            server = running.enter_context(footage_server(tmp / "data", *flags))
            servers = {"this checkout": (server, account["site_key"])}
            if args.against:
                other = Path(args.against).resolve()
                key = create_account(tmp / "against", origin, checkout=other)["site_key"]
                beside = footage_server(tmp / "against", *flags, checkout=other)
                servers[f"against {other.name}"] = (running.enter_context(beside), key)
            host = f"http://{rc.FOOTAGE}:{server.url.rsplit(':', 1)[1]}"
            site = rc.Site(pages, origin, host, account["site_key"])
            body = first_batch(server.url, site)
            out: dict[str, Any] = {"machine": machine(), "stages": stages(body, args.stage_runs)}
            out["server_cpu_ms_per_batch"] = server_cpu(servers, body, origin, args.posts)
    s = out["stages"]
    print(
        f"the batch: {s['body_bytes']:,} bytes gzip, {s['json_bytes']:,} of JSON, "
        f"{s['events']} events; {s['texts_masked']:,} texts masked, "
        f"{s['texts_with_a_digit']:,} with a digit"
    )
    rows = [
        ["decode (gunzip, JSON, fields)", s["decode_ms"]],
        ["scrub (the site's masks)", s["scrub_ms"]],
        ["  numbers, the whole expression on each text", s["numbers_whole_expression_ms"]],
        ["  numbers, as mask_personal_numbers does now", s["numbers_now_ms"]],
        ["the stored chunk (JSON lines, zstd)", s["chunk_ms"]],
        ["the assets' addresses", s["asset_urls_ms"]],
    ]
    rows += [
        [f"the server's process, per batch posted (mean): {name}", ms]
        for name, ms in out["server_cpu_ms_per_batch"].items()
    ]
    print(table(["stage", "CPU ms"], rows))
    write_json(Path(args.json), out)
    print(f"\nwritten to {args.json}")


if __name__ == "__main__":
    try:
        main()
    except BenchError as error:
        sys.exit(f"snapshot_ingest: {error}")
