"""Crash: SIGKILL `footage serve` in the middle of a load, restart it, check what was acknowledged.

A 30-second load of the captured visit (as ingest.py: `--concurrency` simulated visitors at
once, each sending its batches in order, one at a time). Every visitor keeps a log of each
batch that was answered 200. At `--kill-at` seconds the server gets SIGKILL; after
`--down` seconds it is started again on the same data dir and port. Meanwhile the visitors
do what the recorder does: a batch without an answer (connection refused or reset, 5xx) is
sent again, the same bytes (same visitor, session and page ids, same seq), until it is
answered. When the load is over the server is stopped cleanly and the database is compared
with the logs:

- every acknowledged batch has its chunk row, with the batch's event count, and its bytes
  (blob key, offset, length) read back and decompress to that many events;
- no (page_id, seq) is stored twice, although the batches cut off by the kill were sent
  again (the server's answer says `duplicate: true` for those it had already stored);
- no chunk row points at bytes that cannot be read;
- batches already acknowledged, sent again after the restart (all those answered in the last
  second before the kill and `--resend-sample` others, as a recorder does when an answer is
  lost on the way), are answered `duplicate: true` and stored once.

The server runs with `--no-background` (the finalizer would merge finished recordings and
replace their per-batch rows, which this check reads) and with the rate limits off, as
ingest.py (all visitors share one loopback address; the load is as fast as the server goes).

    .venv/bin/python bench/crash.py [--duration 30] [--kill-at 15] [--down 2]
                                    [--concurrency 32] [--database-url postgresql://…]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import zstandard
from common import (
    OUT,
    BenchError,
    Body,
    Server,
    Visitor,
    create_account,
    free_port,
    load_captured,
    machine,
    make_visitor,
    prepare_visit,
    serve_cmd,
    start_server,
    table,
    wait_for_quiet,
    write_json,
)

RESEND_MIN_S = 0.1  # the recorder waits 1 s … 30 s; shorter here, so the run stays 30 s
RESEND_MAX_S = 1.0


@dataclass
class Ack:
    """One batch answered 200, as its visitor logged it."""

    page_id: str
    seq: int
    events: int
    attempts: int  # 1 = answered the first time; more = sent again after no answer
    duplicate: bool  # the server said it had this batch already
    t: float
    body: Body = field(repr=False)


@dataclass
class Load:
    """What the simulated visitors saw."""

    acks: list[Ack] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    unanswered_at_end: list[tuple[str, int]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # 4xx: would be a bug here
    killed_at: float = 0.0
    back_at: float = 0.0  # when the restarted server answered /healthz
    acked_again: Counter[str] = field(default_factory=Counter)  # answers to acked batches resent


async def resend_acknowledged(url: str, load: Load, sample: int) -> None:
    """Sends again, after the restart, batches that were already answered 200: every one
    answered in the last second before the kill, and `sample` others — as a recorder does
    when an answer is lost on the way. Each must be answered `duplicate: true`."""
    import random

    last = [a for a in load.acks if load.killed_at - 1.0 <= a.t <= load.killed_at]
    others = [a for a in load.acks if a not in last]
    chosen = last + random.Random(1).sample(others, min(sample, len(others)))
    async with httpx.AsyncClient(timeout=30) as client:
        for a in chosen:
            resp = await client.post(url, content=a.body.data, headers=a.body.headers)
            duplicate = resp.status_code == 200 and bool(resp.json().get("duplicate"))
            if not a.events and resp.status_code == 200:
                # A leave mark without events stores nothing, so there is nothing to find.
                load.acked_again["empty leave mark, 200"] += 1
            else:
                load.acked_again[
                    "duplicate" if duplicate else f"{resp.status_code} not duplicate"
                ] += 1


def batch_shape(visit: Any) -> list[tuple[int, int]]:
    """(seq, number of events) of each captured batch; rewriting ids changes neither."""
    out = []
    for t in visit.batches:
        batch = json.loads(t.json_bytes)
        out.append((int(batch["seq"]), len(batch["events"])))
    return out


async def run_load(
    url: str,
    visitors: list[Visitor],
    shape: list[tuple[int, int]],
    args: argparse.Namespace,
    restart: Any,
) -> Load:
    load = Load()
    queue = list(reversed(visitors))
    t0 = time.monotonic()
    deadline = t0 + args.duration

    async def deliver(client: httpx.AsyncClient, body: Body, index: int) -> None:
        seq, events = shape[index]
        attempts, wait = 0, RESEND_MIN_S
        while True:
            attempts += 1
            try:
                resp = await client.post(url, content=body.data, headers=body.headers)
                status = str(resp.status_code)
            except httpx.HTTPError as exc:
                resp, status = None, type(exc).__name__
            load.statuses[status] += 1
            if resp is not None and resp.status_code == 200:
                duplicate = bool(resp.json().get("duplicate"))
                now = time.monotonic() - t0
                load.acks.append(Ack(body.page_id, seq, events, attempts, duplicate, now, body))
                return
            if resp is not None and 400 <= resp.status_code < 500:
                load.refused.append(f"{resp.status_code} {resp.text[:200]}")
                return
            if time.monotonic() > deadline + 60:
                load.unanswered_at_end.append((body.page_id, seq))
                return
            await asyncio.sleep(wait)
            wait = min(wait * 2, RESEND_MAX_S)

    async def worker() -> None:
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=1), timeout=30) as client:
            while queue and time.monotonic() < deadline:
                visitor = queue.pop()
                for index, body in enumerate(visitor.bodies):
                    if time.monotonic() >= deadline:
                        return
                    await deliver(client, body, index)

    async def killer() -> None:
        await asyncio.sleep(args.kill_at)
        load.killed_at = time.monotonic() - t0
        await asyncio.to_thread(restart)
        load.back_at = time.monotonic() - t0

    await asyncio.gather(killer(), *(worker() for _ in range(args.concurrency)))
    return load


# ---- the check -----------------------------------------------------------------------------


def chunk_rows(data_dir: Path, database_url: str) -> list[dict[str, Any]]:
    sql = "SELECT page_id, seq, blob_key, blob_offset, blob_length, event_count FROM chunks"
    if database_url:
        import psycopg
        from psycopg.rows import dict_row

        with psycopg.connect(database_url, row_factory=dict_row) as conn:
            return list(conn.execute(sql).fetchall())
    with sqlite3.connect(data_dir / "footage.db") as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute(sql).fetchall()]


def events_in_blob(data_dir: Path, row: dict[str, Any]) -> int | None:
    """How many events the chunk's bytes hold; None when they cannot be read."""
    try:
        with open(data_dir / "blobs" / row["blob_key"], "rb") as f:
            f.seek(row["blob_offset"])
            data = f.read(row["blob_length"])
        raw = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    except (OSError, zstandard.ZstdError):
        return None
    return sum(1 for line in raw.split(b"\n") if line)


def check(data_dir: Path, database_url: str, load: Load) -> dict[str, Any]:
    rows = chunk_rows(data_dir, database_url)
    stored: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for row in rows:
        stored.setdefault((row["page_id"], int(row["seq"])), []).append(row)
    blob_events = {(r["page_id"], int(r["seq"])): events_in_blob(data_dir, r) for r in rows}
    everything_acked = {(a.page_id, a.seq): a for a in load.acks}
    # A leave mark without events (the last beacon of a page) is acknowledged but stores no
    # chunk: it only marks the page as left.
    acked = {k: a for k, a in everything_acked.items() if a.events}
    missing = [k for k in acked if k not in stored]
    wrong_count = [
        k for k, a in acked.items() if k in stored and stored[k][0]["event_count"] != a.events
    ]
    unreadable = [k for k, n in blob_events.items() if n is None]
    blob_mismatch = [
        k
        for k, rs in stored.items()
        if blob_events[k] is not None and blob_events[k] != rs[0]["event_count"]
    ]
    resent = [a for a in load.acks if a.attempts > 1]
    return {
        "acknowledged": len(everything_acked),
        "acknowledged_with_events": len(acked),
        "acknowledged_events": sum(a.events for a in acked.values()),
        "chunk_rows": len(rows),
        "stored_not_acknowledged": len([k for k in stored if k not in acked]),
        "missing": len(missing),
        "wrong_event_count": len(wrong_count),
        "unreadable_blobs": len(unreadable),
        "blob_event_count_mismatch": len(blob_mismatch),
        "duplicate_page_seq": sum(1 for rs in stored.values() if len(rs) > 1),
        "acknowledged_sent_again": dict(load.acked_again),
        "resent_batches": len(resent),
        "resent_already_stored": sum(1 for a in resent if a.duplicate),
        "resent_stored_now": sum(1 for a in resent if not a.duplicate),
        "duplicate_answers_total": sum(1 for a in load.acks if a.duplicate),
        "examples_missing": missing[:5],
    }


# ---- main ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    parser.add_argument("--kill-at", type=float, default=15.0, help="SIGKILL after this many s")
    parser.add_argument("--down", type=float, default=2.0, help="seconds before the restart")
    parser.add_argument("--concurrency", type=int, default=32, help="visitors sending at once")
    parser.add_argument("--visitors", type=int, default=2500, help="simulated visitors prepared")
    parser.add_argument(
        "--resend-sample",
        type=int,
        default=500,
        help="acknowledged batches sent again after the load (besides those of the last second)",
    )
    parser.add_argument(
        "--database-url", default="", help="PostgreSQL URL of an empty database (default SQLite)"
    )
    parser.add_argument("--no-wait", action="store_true", help="do not wait for an idle machine")
    parser.add_argument("--json", type=Path, default=None, help="results file")
    args = parser.parse_args()
    backend = "postgresql" if args.database_url else "sqlite"
    out_json = args.json or OUT / f"crash-{backend}.json"

    visit = prepare_visit(load_captured())
    shape = batch_shape(visit)
    db_flags = ["--database-url", args.database_url] if args.database_url else []
    with tempfile.TemporaryDirectory(prefix="footage-bench-crash-") as tmp:
        data = Path(tmp) / "data"
        account = create_account(data, "http://bench.example", *db_flags)
        print(f"preparing {args.visitors} visitors × {len(visit.batches)} batches…")
        visitors = [make_visitor(visit, account["site_key"]) for _ in range(args.visitors)]
        port = free_port()
        cmd = serve_cmd(data, port, *db_flags, "--no-background")
        cmd += [
            "--ingest-ip-rate",
            "0",
            "--ingest-site-rate",
            "0",
            "--ingest-ip-new-recordings",
            "0",
        ]
        if not args.no_wait:
            wait_for_quiet()
        servers: list[Server] = [start_server("footage serve", cmd, port, Path(tmp) / "1.log")]

        def restart() -> None:
            os.kill(servers[0].proc.pid, signal.SIGKILL)
            servers[0].proc.wait()
            time.sleep(args.down)
            servers.append(start_server("footage serve", cmd, port, Path(tmp) / "2.log"))

        print(
            f"{backend}: {args.concurrency} visitors at once for {args.duration:.0f} s, "
            f"SIGKILL at {args.kill_at:.0f} s, restart {args.down:g} s later…"
        )
        started = machine()
        url = f"http://127.0.0.1:{port}/api/v1/ingest"
        load = asyncio.run(run_load(url, visitors, shape, args, restart))
        asyncio.run(resend_acknowledged(url, load, args.resend_sample))
        servers[-1].stop()
        after_log = servers[-1].log_tail(200)
        result = check(data, args.database_url, load)
    result |= {
        "killed_at_s": round(load.killed_at, 2),
        "answering_again_at_s": round(load.back_at, 2),
        "statuses": dict(load.statuses),
        "refused": load.refused[:5],
        "unanswered_at_end": len(load.unanswered_at_end),
        "restart_log_errors": [
            line for line in after_log.splitlines() if "Traceback" in line or "ERROR" in line
        ][:10],
    }
    print(
        table(
            ["", "count"],
            [
                ["batches acknowledged (200)", result["acknowledged"]],
                [
                    "… with events (the others: empty leave marks)",
                    result["acknowledged_with_events"],
                ],
                ["… their events", result["acknowledged_events"]],
                ["chunk rows after restart", result["chunk_rows"]],
                ["acknowledged but missing", result["missing"]],
                ["acknowledged with a wrong event count", result["wrong_event_count"]],
                ["chunk bytes unreadable", result["unreadable_blobs"]],
                ["chunk bytes ≠ row's event count", result["blob_event_count_mismatch"]],
                ["stored but never acknowledged", result["stored_not_acknowledged"]],
                ["batches sent again after no answer", result["resent_batches"]],
                ["… already stored before the kill (duplicate)", result["resent_already_stored"]],
                ["… stored by the resend", result["resent_stored_now"]],
                [
                    "acknowledged batches sent again after the restart",
                    sum(load.acked_again.values()),
                ],
                ["… answered `duplicate: true`", load.acked_again["duplicate"]],
                ["(page_id, seq) stored twice", result["duplicate_page_seq"]],
            ],
        )
    )
    print(
        f"killed at {result['killed_at_s']} s, answering again at "
        f"{result['answering_again_at_s']} s; answers: {result['statuses']}"
    )
    write_json(
        out_json,
        {"machine": started, "backend": backend, "args": vars(args) | {"json": str(out_json)}}
        | {"result": result},
    )
    bad = (
        result["missing"]
        + result["wrong_event_count"]
        + result["unreadable_blobs"]
        + result["blob_event_count_mismatch"]
        + result["duplicate_page_seq"]
        + len(load.refused)
        + sum(n for k, n in load.acked_again.items() if "not duplicate" in k)
    )
    return 1 if bad else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"crash.py: {exc}", file=sys.stderr)
        sys.exit(2)
