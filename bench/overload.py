"""Overload: offer `footage serve` five times what it sustains, watch it shed, then recover.

Configurations (`--configs`), each a fresh server (`footage serve --no-demo`, finalizer on)
with a copy of the same account. The per-address limit is off in all of them because every
simulated visitor shares one loopback address (in a real overload they come from many):

- `defaults`   — what a deployment runs: the per-site limit (`FOOTAGE_INGEST_SITE_RATE`
                  500/s, burst 5,000) and the bound on requests in flight
                  (`FOOTAGE_INGEST_MAX_IN_FLIGHT` 1,000, then 503);
- `site-limit` — the per-site limit alone (no bound on requests in flight);
- `no-limits`  — neither: what the write path does with no brake before it.

Phases, one after the other on the same server while its memory (RSS) and CPU are sampled
every second:

1. `normal`    — `--normal-rate` batches/s (open loop) for `--normal` s: the latency to
                  come back to;
2. `sustained` — (first configuration only, unless `--sustainable` is given)
                  `--concurrency` visitors sending back to back for `--sustain-seconds`
                  (15) s: what the server sustains, S batches/s;
3. `overload`  — `--factor` × S batches/s, open loop (a new request every 1/rate s whatever
                  the answers) for `--overload` s; requests time out after `--timeout` s;
                  at most `--max-connections` open at once (beyond that the generator counts
                  the request as not sent);
4. `recovery`  — `--normal-rate` again for `--recovery` s, reported in 5-second windows.

The load: the captured visit's batches for fresh visitors, interleaved (batch 0 of 500
visitors, then batch 1 of the same 500, …), each visitor's batches in order. Nothing is sent
again: a refused batch is counted and dropped (a flood, not the recorder, which backs off;
see tests/browser/test_outage.py). The requests are pre-built and sent by a minimal HTTP/1.1
client (common.RawConnection) in `--clients` processes, because httpx's per-request CPU would
cap the offered load below the target on two shared cores.

    .venv/bin/python bench/overload.py [--configs no-limits,site-limit,defaults] [--factor 5]
                                       [--overload 60] [--sustainable N] [--clients 2]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
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

CONFIGS = {
    "no-limits": [
        "--ingest-ip-rate",
        "0",
        "--ingest-site-rate",
        "0",
        "--ingest-max-in-flight",
        "0",
        "--ingest-ip-new-recordings",
        "0",
    ],
    "site-limit": [
        "--ingest-ip-rate",
        "0",
        "--ingest-max-in-flight",
        "0",
        "--ingest-ip-new-recordings",
        "0",
    ],
    "defaults": ["--ingest-ip-rate", "0", "--ingest-ip-new-recordings", "0"],
}
NOT_SENT, TIMEOUT, NET_ERROR = -1, -2, 0  # statuses the generator gives itself
GROUP = 500  # visitors interleaved


def build_requests(n: int, site_key: str, port: int) -> list[bytes]:
    """n ready-to-send requests: fresh visitors' batches, interleaved in groups."""
    visit = prepare_visit(load_captured())
    per_visitor = len(visit.batches)
    out: list[bytes] = []
    host = f"127.0.0.1:{port}"
    while len(out) < n:
        group = [make_visitor(visit, site_key) for _ in range(GROUP)]
        for i in range(per_visitor):
            for v in group:
                body = v.bodies[i]
                out.append(RawConnection.request("/api/v1/ingest", body.data, body.headers, host))
    return out[:n]


# ---- the load (client processes) ----------------------------------------------------------


Request = tuple[float, float, int]  # (start, end, status) in seconds since the phase began


async def open_loop(
    port: int, requests: list[bytes], rate: float, duration: float, max_conns: int, timeout: float
) -> list[Request]:
    """Starts a request every 1/rate s for `duration` s, whatever the answers."""
    idle: list[RawConnection] = []
    open_count = 0
    out: list[Request] = []
    tasks: set[asyncio.Task[None]] = set()
    t0 = time.monotonic()

    async def one(raw: bytes) -> None:
        nonlocal open_count
        start = time.monotonic() - t0
        if idle:
            conn = idle.pop()
        elif open_count < max_conns:
            conn = RawConnection("127.0.0.1", port)
            open_count += 1
        else:
            out.append((start, start, NOT_SENT))
            return
        try:
            status, _, _ = await asyncio.wait_for(conn.send(raw), timeout)
        except TimeoutError:
            status = TIMEOUT
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
            status = NET_ERROR
        out.append((start, time.monotonic() - t0, status))
        if status > 0 and conn.writer is not None:
            idle.append(conn)
        else:
            conn.close()
            open_count -= 1

    sent = 0
    while (now := time.monotonic() - t0) < duration and sent < len(requests):
        due = min(int(now * rate) + 1, len(requests))
        while sent < due:
            task = asyncio.create_task(one(requests[sent]))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            sent += 1
        await asyncio.sleep(0.002)
    if tasks:
        await asyncio.wait(tasks, timeout=timeout + 5)
    for conn in idle:
        conn.close()
    return out


async def closed_loop(
    port: int, requests: list[bytes], concurrency: int, duration: float
) -> list[Request]:
    """`concurrency` connections, each sending its next request as soon as it has an answer."""
    out: list[Request] = []
    t0 = time.monotonic()

    async def worker(share: list[bytes]) -> None:
        conn = RawConnection("127.0.0.1", port)
        for raw in share:
            start = time.monotonic() - t0
            if start >= duration:
                break
            try:
                status, _, _ = await conn.send(raw)
            except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
                status = NET_ERROR
                conn.close()
            out.append((start, time.monotonic() - t0, status))
        conn.close()

    await asyncio.gather(*(worker(requests[i::concurrency]) for i in range(concurrency)))
    return out


def run_async(coro: Any) -> Any:
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:
        return asyncio.run(coro)


def client_main(job: dict[str, Any], requests: list[bytes], go: Any, results: Any) -> None:
    go.wait()
    cpu0 = time.process_time()
    if job["kind"] == "open":
        out = run_async(
            open_loop(
                job["port"],
                requests,
                job["rate"],
                job["duration"],
                job["max_conns"],
                job["timeout"],
            )
        )
    else:
        out = run_async(closed_loop(job["port"], requests, job["concurrency"], job["duration"]))
    results.put((out, time.process_time() - cpu0))


def run_phase(
    job: dict[str, Any], requests: list[bytes], clients: int
) -> tuple[list[Request], float]:
    """Forks `clients` processes that share the job (rate, connections) and its requests."""
    ctx = mp.get_context("fork")
    go, results = ctx.Event(), ctx.Queue()
    share = dict(job)
    for key in ("rate", "max_conns", "concurrency"):
        if key in share:
            share[key] = share[key] / clients if key == "rate" else max(1, share[key] // clients)
    procs = [
        ctx.Process(target=client_main, args=(share, requests[i::clients], go, results))
        for i in range(clients)
    ]
    for p in procs:
        p.start()
    go.set()
    out: list[Request] = []
    cpu = 0.0
    for _ in procs:
        rows, used = results.get(timeout=job["duration"] + job.get("timeout", 0) + 120)
        out += rows
        cpu += used
    for p in procs:
        p.join(timeout=10)
    return out, cpu


# ---- figures -------------------------------------------------------------------------------


@dataclass
class Phase:
    config: str
    name: str
    target_rate: float
    seconds: float
    sent_per_s: float
    ok_per_s: float
    statuses: dict[str, int]
    ok: dict[str, float]  # latency of the 200s
    answered: dict[str, float]  # latency of every answer (429s and 503s too)
    server_cpu: float
    client_cpu: float
    machine_cpu: float
    rss_start_mb: float
    rss_max_mb: float
    rss_end_mb: float
    max_in_flight: int  # requests sent and not yet answered, at most, seen by the generator


def label(status: int) -> str:
    return {NOT_SENT: "not sent", TIMEOUT: "timeout", NET_ERROR: "network error"}.get(
        status, str(status)
    )


def phase_figures(
    config: str,
    name: str,
    rate: float,
    seconds: float,
    rows: list[Request],
    client_cpu: float,
    samples: list[Any],
) -> Phase:
    sent = [r for r in rows if r[2] != NOT_SENT]
    ok = [r for r in rows if r[2] == 200]
    answered = [r for r in rows if r[2] > 0]
    rss = [s.rss_mb for s in samples] or [0.0]
    n = max(len(samples), 1)
    return Phase(
        config,
        name,
        round(rate, 1),
        seconds,
        round(len(sent) / seconds, 1),
        round(len(ok) / seconds, 1),
        dict(Counter(label(r[2]) for r in rows)),
        ms_summary([r[1] - r[0] for r in ok]),
        ms_summary([r[1] - r[0] for r in answered]),
        round(sum(s.server_cpu for s in samples) / n, 2),
        round(client_cpu / seconds, 2),
        round(sum(s.machine_cpu for s in samples) / n, 2),
        rss[0],
        max(rss),
        rss[-1],
        max_in_flight(sent),
    )


def max_in_flight(rows: list[Request]) -> int:
    """The most requests that were sent and not yet answered at one moment."""
    edges = sorted([(r[0], 1) for r in rows] + [(r[1], -1) for r in rows])
    most = current = 0
    for _, step in edges:
        current += step
        most = max(most, current)
    return most


def windows(rows: list[Request], seconds: float, step: float = 5.0) -> list[dict[str, Any]]:
    """Latency of the 200s and the answers by status in windows of `step` seconds."""
    out = []
    t = 0.0
    while t < seconds - 1e-9:
        part = [r for r in rows if t <= r[0] < t + step]
        ok = [r[1] - r[0] for r in part if r[2] == 200]
        out.append(
            {"from_s": t, "statuses": dict(Counter(label(r[2]) for r in part))} | ms_summary(ok)
        )
        t += step
    return out


def run_config(
    config: str,
    workdir: Path,
    requests: list[bytes],
    port: int,
    args: argparse.Namespace,
    sustainable: float | None,
) -> tuple[list[Phase], dict[str, Any], float]:
    data = workdir / f"{config}-data"
    shutil.copytree(workdir / "pristine", data)
    cmd = serve_cmd(data, port, *CONFIGS[config])
    if not args.no_wait:
        wait_for_quiet()
    server = start_server("footage serve", cmd, port, workdir / f"{config}.log")
    phases: list[Phase] = []
    extra: dict[str, Any] = {"command": " ".join(cmd[2:]).replace(str(workdir), "TMP")}
    cursor = 0

    def take(n: int) -> list[bytes]:
        nonlocal cursor
        part = requests[cursor : cursor + n]
        cursor += n
        if len(part) < n:
            raise BenchError("ran out of prepared requests: raise --prepare")
        return part

    try:
        with Sampler(server.proc.pid) as sampler:

            def phase(name: str, job: dict[str, Any], n: int) -> list[Request]:
                print(f"  {config} / {name}: {job.get('rate') or job.get('concurrency')}…")
                start = time.monotonic() - sampler.t0
                rows, cpu = run_phase(job | {"port": port}, take(n), args.clients)
                end = time.monotonic() - sampler.t0
                seconds = job["duration"]
                fig = phase_figures(
                    config,
                    name,
                    job.get("rate", 0.0),
                    seconds,
                    rows,
                    cpu,
                    sampler.between(start, end),
                )
                phases.append(fig)
                print(
                    f"    sent {fig.sent_per_s}/s, 200 {fig.ok_per_s}/s, {fig.statuses}, "
                    f"200 p50 {fig.ok['p50_ms']} ms p99 {fig.ok['p99_ms']} ms, "
                    f"RSS {fig.rss_start_mb}→{fig.rss_max_mb} MB, server CPU {fig.server_cpu}, "
                    f"in flight ≤ {fig.max_in_flight}"
                )
                return rows

            def open_job(rate: float, seconds: float) -> dict[str, Any]:
                return {
                    "kind": "open",
                    "rate": rate,
                    "duration": seconds,
                    "max_conns": args.max_connections,
                    "timeout": args.timeout,
                }

            phase(
                "normal",
                open_job(args.normal_rate, args.normal),
                int(args.normal_rate * args.normal) + 10,
            )
            if sustainable is None:
                seconds = args.sustain_seconds
                job = {"kind": "closed", "concurrency": args.concurrency, "duration": seconds}
                phase("sustained", job, int(seconds * 3000))
                sustainable = phases[-1].ok_per_s
                extra["sustained_rate"] = sustainable
            target = args.factor * sustainable
            phase("overload", open_job(target, args.overload), int(target * args.overload) + 10)
            rows = phase(
                "recovery",
                open_job(args.normal_rate, args.recovery),
                int(args.normal_rate * args.recovery) + 10,
            )
            extra["recovery_windows"] = windows(rows, args.recovery)
        extra["rss_series_mb"] = [[s.t, s.rss_mb, s.server_cpu] for s in sampler.samples]
    finally:
        server.stop()
    extra["log_errors"] = [
        line for line in server.log_tail(400).splitlines() if "Traceback" in line or "ERROR" in line
    ][:10]
    return phases, extra, sustainable


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--configs", default="no-limits,site-limit,defaults", help="comma-separated"
    )
    parser.add_argument("--factor", type=float, default=5.0, help="overload = factor × sustained")
    parser.add_argument(
        "--sustainable", type=float, default=None, help="batches/s to take as sustained (skip it)"
    )
    parser.add_argument("--normal-rate", type=float, default=200.0, help="batches/s, normal")
    parser.add_argument("--normal", type=float, default=10.0, help="seconds of normal load")
    parser.add_argument("--overload", type=float, default=60.0, help="seconds of overload")
    parser.add_argument("--recovery", type=float, default=30.0, help="seconds after it")
    parser.add_argument("--concurrency", type=int, default=32, help="for the sustained phase")
    parser.add_argument("--sustain-seconds", type=float, default=15.0, help="sustained phase")
    parser.add_argument("--max-connections", type=int, default=8000, help="open at once, max")
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds a request may take")
    parser.add_argument("--clients", type=int, default=2, help="load-generator processes")
    parser.add_argument("--no-wait", action="store_true", help="do not wait for an idle machine")
    parser.add_argument("--json", type=Path, default=OUT / "overload.json", help="results file")
    args = parser.parse_args()
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    if unknown := set(configs) - set(CONFIGS):
        raise BenchError(f"unknown configs {sorted(unknown)}; choose from {', '.join(CONFIGS)}")

    port = free_port()
    all_phases: list[Phase] = []
    extras: dict[str, Any] = {}
    started = machine()
    with tempfile.TemporaryDirectory(prefix="footage-bench-overload-") as tmp:
        workdir = Path(tmp)
        account = create_account(workdir / "pristine")
        guess = args.sustainable or 1800.0  # a margin over the ~1,100–1,300 of §1
        per_config = int(
            args.normal_rate * (args.normal + args.recovery)
            + guess * args.factor * args.overload * 1.1
            + args.sustain_seconds * 3000
        )
        print(f"preparing {per_config:,} requests…")
        requests = build_requests(per_config, account["site_key"], port)
        sustainable = args.sustainable
        for config in configs:
            phases, extra, sustainable = run_config(
                config, workdir, requests, port, args, sustainable
            )
            all_phases += phases
            extras[config] = extra
    rows = [
        [p.config, p.name, p.target_rate or "closed", p.sent_per_s, p.ok_per_s,
         ", ".join(f"{k} {v:,}" for k, v in sorted(p.statuses.items())),
         p.ok["p50_ms"], p.ok["p99_ms"], p.answered["p99_ms"],
         f"{p.rss_start_mb:.0f} / {p.rss_max_mb:.0f} / {p.rss_end_mb:.0f}",
         p.max_in_flight, f"{p.server_cpu:.0%}", f"{p.client_cpu:.0%}"]
        for p in all_phases
    ]  # fmt: skip
    print(
        table(
            [
                "config",
                "phase",
                "target/s",
                "sent/s",
                "200/s",
                "answers",
                "200 p50 ms",
                "200 p99 ms",
                "all p99 ms",
                "RSS start/max/end MB",
                "in flight ≤",
                "server CPU",
                "client CPU",
            ],
            rows,
        )
    )
    for config, extra in extras.items():
        print(f"{config}: recovery in 5-s windows (200 p50/p99 ms):")
        for w in extra["recovery_windows"]:
            print(f"  {w['from_s']:>4.0f} s  {w['p50_ms']} / {w['p99_ms']}  {w['statuses']}")
    write_json(
        args.json,
        {
            "machine": started,
            "args": vars(args) | {"json": str(args.json)},
            "phases": [asdict(p) for p in all_phases],
            "configs": extras,
        },
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"overload.py: {exc}", file=sys.stderr)
        sys.exit(2)
