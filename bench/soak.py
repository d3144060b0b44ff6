"""Soak: 1,000 simulated visitors at once, each sending a batch every 5 s, for 10 minutes.

`footage serve --no-demo` as deployed (finalizer on, the per-site limit at its default of
500 batches/s) except the per-address limit, which is off because every simulated visitor
shares one loopback address. `--visitors` slots each hold one simulated visitor on its own
keep-alive connection (as each browser has its own): the visitor sends the captured visit's
batches in order, one every `--interval` seconds (its first at a random moment of the first
interval), then leaves and a fresh visitor (new ids) takes the slot — so recordings keep
starting, ending and being finalized during the whole run. A batch that is not answered
200 is counted as an error and sent again at the slot's next turn, as the recorder keeps it.
Heartbeats are not sent.

Every second the server's memory (RSS) and CPU are sampled; printed: p50/p99 latency of
the batches, per minute and overall, the error rate, RSS at the start, the end and its
maximum, the CPU of the server, of the load generator and of the whole machine, and the
recordings by status at the end.

    .venv/bin/python bench/soak.py [--visitors 1000] [--interval 5] [--duration 600]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import (
    OUT,
    BenchError,
    RawConnection,
    Sampler,
    create_account,
    free_port,
    load_captured,
    machine,
    make_visitor,
    ms_summary,
    prepare_visit,
    serve_cmd,
    start_server,
    table,
    wait_for_quiet,
    write_json,
)


@dataclass
class Soak:
    requests: list[tuple[float, float, int]] = field(default_factory=list)  # start, end, status
    visitors_started: int = 0
    errors: list[str] = field(default_factory=list)


async def run_soak(port: int, site_key: str, args: argparse.Namespace) -> Soak:
    visit = prepare_visit(load_captured())
    host = f"127.0.0.1:{port}"
    soak = Soak()
    t0 = time.monotonic()
    deadline = t0 + args.duration

    async def slot() -> None:
        conn = RawConnection("127.0.0.1", port)
        turn = t0 + random.uniform(0, args.interval)
        while True:
            visitor = make_visitor(visit, site_key)
            soak.visitors_started += 1
            for body in visitor.bodies:
                raw = RawConnection.request("/api/v1/ingest", body.data, body.headers, host)
                while True:  # until this batch is answered 200, one try per turn
                    await asyncio.sleep(max(0.0, turn - time.monotonic()))
                    turn += args.interval
                    if time.monotonic() >= deadline:
                        conn.close()
                        return
                    start = time.monotonic()
                    try:
                        status, _, answer = await conn.send(raw)
                    except (OSError, ValueError, IndexError, asyncio.IncompleteReadError) as exc:
                        status, answer = 0, repr(exc).encode()
                        conn.close()
                    soak.requests.append((start - t0, time.monotonic() - t0, status))
                    if status == 200:
                        break
                    if len(soak.errors) < 10:
                        soak.errors.append(f"{status} {answer[:200]!r}")

    await asyncio.gather(*(slot() for _ in range(args.visitors)))
    return soak


def run_async(coro: Any) -> Any:
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:
        return asyncio.run(coro)


def recordings_by_status(data_dir: Path) -> dict[str, int]:
    with sqlite3.connect(data_dir / "footage.db") as db:
        rows = db.execute("SELECT status, COUNT(*) FROM recordings GROUP BY status").fetchall()
    return {status: n for status, n in rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=1000, help="simulated visitors at once")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between batches")
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load")
    parser.add_argument("--no-wait", action="store_true", help="do not wait for an idle machine")
    parser.add_argument("--json", type=Path, default=OUT / "soak.json", help="results file")
    args = parser.parse_args()

    started = machine()
    with tempfile.TemporaryDirectory(prefix="footage-bench-soak-") as tmp:
        data = Path(tmp) / "data"
        account = create_account(data)
        port = free_port()
        cmd = serve_cmd(data, port, "--ingest-ip-rate", "0", "--ingest-ip-new-recordings", "0")
        if not args.no_wait:
            wait_for_quiet()
        server = start_server("footage serve", cmd, port, Path(tmp) / "serve.log")
        try:
            with Sampler(server.proc.pid) as sampler:
                time.sleep(2)  # two samples of the idle server
                load_t0 = time.monotonic() - sampler.t0
                print(
                    f"{args.visitors} visitors, a batch every {args.interval:g} s each, "
                    f"{args.duration:.0f} s…"
                )
                cpu0 = time.process_time()
                soak = run_async(run_soak(port, account["site_key"], args))
                client_cpu = (time.process_time() - cpu0) / args.duration
                time.sleep(1)
            by_status = recordings_by_status(data)
        finally:
            server.stop()
        log_errors = [
            line
            for line in server.log_tail(2000).splitlines()
            if "Traceback" in line or "ERROR" in line
        ]

    samples = sampler.samples
    during = [s for s in samples if load_t0 <= s.t <= load_t0 + args.duration]
    ok = [r for r in soak.requests if r[2] == 200]
    per_minute = []
    for m in range(int(args.duration // 60 + (args.duration % 60 > 0))):
        part = [r for r in soak.requests if m * 60 <= r[0] < (m + 1) * 60]
        good = [r[1] - r[0] for r in part if r[2] == 200]
        minute = [s for s in during if load_t0 + m * 60 <= s.t < load_t0 + (m + 1) * 60]
        per_minute.append(
            {
                "minute": m + 1,
                "batches_per_s": round(len(part) / min(60, args.duration - m * 60), 1),
                "errors": len(part) - len(good),
                "rss_mb": minute[-1].rss_mb if minute else None,
                "server_cpu": round(sum(s.server_cpu for s in minute) / max(len(minute), 1), 2),
                "machine_cpu": round(sum(s.machine_cpu for s in minute) / max(len(minute), 1), 2),
            }
            | ms_summary(good)
        )
    overall = {
        "requests": len(soak.requests),
        "batches_per_s": round(len(soak.requests) / args.duration, 1),
        "errors": len(soak.requests) - len(ok),
        "error_rate": (len(soak.requests) - len(ok)) / max(len(soak.requests), 1),
        "statuses": dict(Counter(str(r[2]) for r in soak.requests)),
        "visitors_started": soak.visitors_started,
        "rss_idle_mb": samples[0].rss_mb if samples else None,
        "rss_first_10s_mb": during[min(9, len(during) - 1)].rss_mb if during else None,
        "rss_end_mb": during[-1].rss_mb if during else None,
        "rss_max_mb": max(s.rss_mb for s in during) if during else None,
        "server_cpu": round(sum(s.server_cpu for s in during) / max(len(during), 1), 3),
        "machine_cpu": round(sum(s.machine_cpu for s in during) / max(len(during), 1), 3),
        "client_cpu": round(client_cpu, 3),
        "recordings": by_status,
        "log_errors": log_errors[:10],
        "error_samples": soak.errors,
    } | ms_summary([r[1] - r[0] for r in ok])
    print(
        table(
            ["minute", "batches/s", "p50 ms", "p99 ms", "max ms", "errors", "RSS MB", "server CPU"],
            [
                [m["minute"], m["batches_per_s"], m["p50_ms"], m["p99_ms"], m["max_ms"],
                 m["errors"], m["rss_mb"], f"{m['server_cpu']:.0%}"]
                for m in per_minute
            ],
        )
    )  # fmt: skip
    print(
        f"overall: {overall['requests']:,} batches ({overall['batches_per_s']}/s), "
        f"p50 {overall['p50_ms']} ms, p99 {overall['p99_ms']} ms, max {overall['max_ms']} ms, "
        f"errors {overall['errors']} ({overall['error_rate']:.3%}), statuses "
        f"{overall['statuses']}\nRSS idle {overall['rss_idle_mb']} MB, after 10 s "
        f"{overall['rss_first_10s_mb']} MB, end {overall['rss_end_mb']} MB, max "
        f"{overall['rss_max_mb']} MB; CPU: server {overall['server_cpu']:.0%}, load generator "
        f"{overall['client_cpu']:.0%}, machine {overall['machine_cpu']:.0%} (of 2 cores = 200%)"
        f"\nrecordings: {by_status}; visitors started: {soak.visitors_started}; "
        f"server log errors: {len(log_errors)}"
    )
    write_json(
        args.json,
        {
            "machine": started,
            "args": vars(args) | {"json": str(args.json)},
            "overall": overall,
            "per_minute": per_minute,
            "rss_series": [[s.t - load_t0, s.rss_mb, s.server_cpu, s.machine_cpu] for s in samples],
        },
    )
    return 1 if overall["errors"] or log_errors else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"soak.py: {exc}", file=sys.stderr)
        sys.exit(2)
