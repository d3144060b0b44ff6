"""Ingest throughput: many simulated visitors replay the captured batches against a server.

Targets, each a fresh server process on loopback, run one after the other with the same load:

- `footage`        — `footage serve --no-demo` with its own temporary data dir and an account
                     created with `accounts create --site-url http://bench.example`;
- `baseline-fsync` — bench/baseline.py: FastAPI on uvicorn, append the body to a file, fsync;
- `baseline`       — the same without fsync.

Every simulated visitor gets fresh visitor, session and page ids (rewritten and re-gzipped
before the clock starts; plain-JSON beacon bodies stay plain) and sends the captured batches
in order with their real seq numbers, one request at a time, as the recorder does. A worker
(`--concurrency` of them, spread over `--clients` processes) takes a visitor, sends all of its
batches back to back, then takes the next visitor, until `--duration` is over or the
visitors run out. Requests that start in the first `--warmup` seconds are not counted.

    .venv/bin/python bench/ingest.py [--visitors 3000] [--concurrency 32] [--duration 30]
                                     [--clients 1] [--rounds 1] [--py-spy]
                                     [--targets footage,baseline-fsync,baseline]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from common import (
    BENCH,
    OUT,
    BenchError,
    Body,
    Server,
    Visitor,
    code_version,
    create_account,
    footage_cmd,
    free_port,
    load_captured,
    machine,
    machine_cpu_seconds,
    make_visitor,
    median,
    percentile,
    prepare_visit,
    start_server,
    table,
    tree_cpu_seconds,
    wait_for_quiet,
    write_json,
)

TARGETS = ("footage", "baseline-fsync", "baseline")


# ---- servers -------------------------------------------------------------------------------


def start_target(name: str, rundir: Path, workers: int) -> Server:
    """Starts one target; Footage uses rundir/data (a copy of the data dir with the account)."""
    port = free_port()
    log = rundir / f"{name}.log"
    if name == "footage":
        data = rundir / "data"
        cmd = footage_cmd("serve", "--data-dir", str(data), "--port", str(port), "--no-demo")
        # Thousands of simulated visitors share one loopback address and one site: the rate
        # limits meant for real traffic would measure themselves, not the write path.
        cmd += [
            "--ingest-ip-rate",
            "0",
            "--ingest-site-rate",
            "0",
            "--ingest-ip-new-recordings",
            "0",
        ]
        if workers > 1:
            cmd += ["--workers", str(workers)]
    else:
        body_file = rundir / "bodies.bin"
        baseline = str(BENCH / "baseline.py")
        cmd = [sys.executable, baseline, "--port", str(port), "--file", str(body_file)]
        if name == "baseline-fsync":
            cmd.append("--fsync")
        if workers > 1:
            cmd += ["--workers", str(workers)]
    return start_server(name, cmd, port, log)


def recordings_by_status(data_dir: Path) -> dict[str, int]:
    """Footage's recordings after a run, by status (live / finalizing / ready)."""
    with sqlite3.connect(data_dir / "footage.db") as db:
        rows = db.execute("SELECT status, COUNT(*) FROM recordings GROUP BY status").fetchall()
    return {status: n for status, n in rows}


def start_profiler(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    """py-spy (if installed) samples the server's Python stacks while they hold the GIL."""
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(exe).exists():
        print("  --py-spy: py-spy is not installed (pip install py-spy into the venv)")
        return None
    seconds_arg = str(max(1, int(seconds)))
    options = ["--rate", "200", "--gil", "--format", "raw", "--duration", seconds_arg]
    cmd = [exe, "record", "--pid", str(pid), *options, "--output", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


PROFILE_BUCKETS = [  # (name, any of these in the stack), first match wins
    ("finalizer (background)", ("footage/sessions/",)),
    ("body read, gunzip, JSON parse, validation",
     ("footage/ingest/wire.py", "read_body", "read_limited")),
    ("write path (site check, SQL, chunk/segment file, commit)",
     ("footage/ingest/writer.py", "footage/ingest/group.py", "footage/store/", "sqlalchemy")),
    ("HTTP server, routing, middleware, responses, log",
     ("uvicorn", "starlette", "fastapi", "httptools", "footage/ingest/asgi.py")),
]  # fmt: skip


def summarize_profile(path: Path, seconds: float, rate: int = 200) -> list[tuple[str, float]]:
    """Where the GIL was held, in buckets, as a share of the profiled time.

    py-spy --gil records one sample per tick for the thread holding the GIL, so the total
    says how busy the GIL was; the rest of the time it was free (I/O, sleeping, C code).
    """
    counts: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        stack, count = line.rsplit(" ", 1)
        bucket = next((n for n, keys in PROFILE_BUCKETS if any(k in stack for k in keys)), "other")
        counts[bucket] += int(count)
    ticks = seconds * rate
    rows = [(n, counts[n] / ticks) for n, _ in PROFILE_BUCKETS] + [
        ("other", counts["other"] / ticks)
    ]
    return rows + [("GIL held, total", sum(counts.values()) / ticks)]


# ---- the load (runs in client processes) ---------------------------------------------------


@dataclass
class ClientResult:
    """What one client process measured; times are seconds since its start signal."""

    requests: list[tuple[float, float, int, int]] = field(default_factory=list)
    # (start, end, status (0 = network error), raw bytes)
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    visitors_started: int = 0
    ran_out: bool = False
    errors: list[str] = field(default_factory=list)


async def replay(
    url: str, visitors: list[Visitor], concurrency: int, duration: float
) -> ClientResult:
    """`concurrency` workers replay visitors' batches in order until time or visitors run out.

    Each worker has its own httpx client with one keep-alive connection: one shared client
    with a large pool costs far more CPU per request in httpx (its pool is the bottleneck at
    32+ connections), which would measure the load generator instead of the server.
    """
    result = ClientResult()
    queue = deque(visitors)
    t0 = time.monotonic()
    deadline = t0 + duration

    async def send(client: httpx.AsyncClient, body: Body) -> None:
        start = time.monotonic()
        try:
            resp = await client.post(url, content=body.data, headers=body.headers)
            status = resp.status_code
            if status != 200 and len(result.errors) < 5:
                result.errors.append(f"{status} {resp.text[:200]}")
        except httpx.HTTPError as exc:
            status = 0
            if len(result.errors) < 5:
                result.errors.append(repr(exc))
        result.requests.append((start - t0, time.monotonic() - t0, status, body.raw_len))

    async def worker() -> None:
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=1), timeout=60) as client:
            while queue and time.monotonic() < deadline:
                visitor = queue.popleft()
                result.visitors_started += 1
                for body in visitor.bodies:
                    if time.monotonic() >= deadline:
                        return
                    await send(client, body)

    cpu0 = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.cpu_seconds = time.process_time() - cpu0
    result.wall_seconds = time.monotonic() - t0
    result.ran_out = not queue and time.monotonic() < deadline
    return result


def run_async(coro: Any) -> Any:
    """asyncio.run on uvloop when it is installed (it is, with uvicorn[standard]): a cheaper
    event loop leaves more of the shared CPU to the server."""
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:
        return asyncio.run(coro)


def client_main(
    url: str,
    visitors: list[Visitor],
    concurrency: int,
    duration: float,
    ready: Any,
    go: Any,
    results: Any,
) -> None:
    """Entry of a client process: signal ready, wait for the start, replay, send results."""
    ready.put(True)
    go.wait()
    result = run_async(replay(url, visitors, concurrency, duration))
    results.put(asdict(result))


def split(items: list[Any], parts: int) -> list[list[Any]]:
    return [items[i::parts] for i in range(parts)]


def run_load(
    url: str, visitors: list[Visitor], concurrency: int, duration: float, clients: int
) -> list[ClientResult]:
    """Forks `clients` processes (they inherit the prepared visitors), starts them together."""
    ctx = mp.get_context("fork")
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    shares = split(visitors, clients)
    per_client = [concurrency // clients + (i < concurrency % clients) for i in range(clients)]
    procs = [
        ctx.Process(
            target=client_main,
            args=(url, shares[i], per_client[i], duration, ready, go, results),
            daemon=True,
        )
        for i in range(clients)
    ]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=60)
    go.set()
    out = [ClientResult(**results.get(timeout=duration + 120)) for _ in procs]
    for p in procs:
        p.join(timeout=10)
    return out


# ---- figures -------------------------------------------------------------------------------


def figures(
    name: str, results: list[ClientResult], warmup: float, duration: float, server_cpu: float
) -> dict[str, Any]:
    """Throughput and latency over the measured window [warmup, end]."""
    requests = [r for res in results for r in res.requests]
    end = min(duration, max((r[1] for r in requests), default=duration))
    window = [r for r in requests if r[0] >= warmup and r[1] <= end]
    span = max(end - warmup, 1e-9)
    ok = [r for r in window if r[2] == 200]
    latencies = [(r[1] - r[0]) * 1000 for r in ok]
    wall = max(res.wall_seconds for res in results)
    return {
        "target": name,
        "requests": len(window),
        "batches_per_s": len(ok) / span,
        "raw_mb_per_s": sum(r[3] for r in ok) / span / 1e6,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "errors": len(window) - len(ok),
        "statuses": dict(Counter(str(r[2]) for r in requests)),
        "window_s": span,
        "client_cpu": sum(res.cpu_seconds for res in results) / wall,
        "server_cpu": server_cpu / wall,
        "visitors_started": sum(res.visitors_started for res in results),
        "ran_out": any(res.ran_out for res in results),
        "error_samples": [e for res in results for e in res.errors][:5],
    }


def run_target(
    name: str, rundir: Path, visitors: list[Visitor], args: argparse.Namespace
) -> dict[str, Any]:
    """One server, one load, its figures."""
    if not args.no_wait:
        wait_for_quiet()
    code = code_version()
    server = start_target(name, rundir, args.workers)
    profiler = None
    try:
        url = f"{server.url}/api/v1/ingest"
        if args.py_spy and name == "footage":
            profiler = start_profiler(
                server.proc.pid, args.duration - args.warmup, OUT / "ingest-footage-py-spy.txt"
            )
        cpu0, all0 = tree_cpu_seconds(server.proc.pid), machine_cpu_seconds()
        results = run_load(url, visitors, args.concurrency, args.duration, args.clients)
        server_cpu = tree_cpu_seconds(server.proc.pid) - cpu0
        machine_cpu = machine_cpu_seconds() - all0
    finally:
        if profiler:
            profiler.wait(timeout=60)
        server.stop()
    fig = figures(name, results, args.warmup, args.duration, server_cpu) | {"code": code}
    wall = max(res.wall_seconds for res in results)
    fig["other_cpu"] = max(0.0, machine_cpu / wall - fig["server_cpu"] - fig["client_cpu"])
    if fig["other_cpu"] > 0.15:
        print(
            f"  note: other processes used {fig['other_cpu']:.0%} of a core during this run; "
            "its figures are disturbed"
        )
    if name == "footage":
        fig["recordings"] = recordings_by_status(rundir / "data")
    if fig["ran_out"]:
        print(
            f"  note: {name} used up all {len(visitors)} visitors before --duration ended; "
            "pass more --visitors for a longer window"
        )
    return fig


def summary_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per target: the median of each figure over the rounds, and the batches/s range."""
    out = []
    for target in dict.fromkeys(r["target"] for r in rows):
        runs = [r for r in rows if r["target"] == target]
        rates = [r["batches_per_s"] for r in runs]
        out.append(
            {
                "target": target,
                "rounds": len(runs),
                "batches_per_s": median(rates),
                "batches_per_s_range": (min(rates), max(rates)),
                **{
                    k: median([r[k] for r in runs])
                    for k in (
                        "raw_mb_per_s",
                        "p50_ms",
                        "p99_ms",
                        "server_cpu",
                        "client_cpu",
                        "other_cpu",
                    )
                },
                "errors": sum(r["errors"] for r in runs),
                "requests": sum(r["requests"] for r in runs),
            }
        )
    return out


COLUMNS = "target|batches/s|raw MB/s|p50 ms|p99 ms|errors|requests|server CPU|client CPU|other CPU"


def rate(s: dict[str, Any]) -> str:
    """Median batches/s, with the range over rounds when there were several."""
    low, high = s["batches_per_s_range"]
    return f"{s['batches_per_s']:.0f}" + (f" ({low:.0f}–{high:.0f})" if s["rounds"] > 1 else "")


def report(summary: list[dict[str, Any]]) -> str:
    """The table of RESULTS.md (medians over rounds) and the Footage/baseline ratios."""
    rows = [
        [s["target"], rate(s), f"{s['raw_mb_per_s']:.2f}", f"{s['p50_ms']:.1f}",
         f"{s['p99_ms']:.1f}", s["errors"], s["requests"], f"{s['server_cpu']:.0%}",
         f"{s['client_cpu']:.0%}", f"{s['other_cpu']:.0%}"]
        for s in summary
    ]  # fmt: skip
    lines = [table(COLUMNS.split("|"), rows)]
    by = {s["target"]: s for s in summary}
    for base in ("baseline-fsync", "baseline"):
        if "footage" in by and base in by:
            ratio = by["footage"]["batches_per_s"] / by[base]["batches_per_s"]
            lines.append(f"Footage / {base}: {ratio:.2f}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=3000, help="simulated visitors prepared")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight at once")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load per run")
    parser.add_argument("--warmup", type=float, default=2.0, help="first seconds not counted")
    parser.add_argument("--clients", type=int, default=1, help="client processes")
    parser.add_argument(
        "--workers", type=int, default=1, help="server processes (footage serve --workers N)"
    )
    parser.add_argument("--rounds", type=int, default=1, help="run every target this many times")
    parser.add_argument("--targets", default=",".join(TARGETS), help="comma-separated targets")
    parser.add_argument(
        "--py-spy",
        action="store_true",
        help="profile the Footage server with py-spy (GIL samples) during its runs",
    )
    parser.add_argument(
        "--no-wait", action="store_true", help="do not wait for an idle machine before each run"
    )
    parser.add_argument("--json", type=Path, default=OUT / "ingest.json", help="results file")
    args = parser.parse_args()
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    if unknown := set(targets) - set(TARGETS):
        raise BenchError(f"unknown targets {sorted(unknown)}; choose from {', '.join(TARGETS)}")

    visit = prepare_visit(load_captured())
    rows = []
    with tempfile.TemporaryDirectory(prefix="footage-bench-ingest-") as tmp:
        workdir = Path(tmp)
        account = create_account(workdir / "pristine")
        print(f"preparing {args.visitors} visitors × {len(visit.batches)} batches…")
        visitors = [make_visitor(visit, account["site_key"]) for _ in range(args.visitors)]
        for round_no in range(1, args.rounds + 1):
            for name in targets:
                rundir = workdir / f"{name}-{round_no}"
                rundir.mkdir()
                if name == "footage":  # a fresh copy of the data dir: the same account, no data
                    shutil.copytree(workdir / "pristine", rundir / "data")
                print(
                    f"[round {round_no}] {name}: {args.concurrency} in flight, "
                    f"{args.clients} client process(es), {args.workers} server process(es), "
                    f"{args.duration:.0f} s…"
                )
                r = run_target(name, rundir, visitors, args) | {"round": round_no}
                rows.append(r)
                print(
                    f"  {r['batches_per_s']:.0f} batches/s, p50 {r['p50_ms']:.1f} ms, "
                    f"p99 {r['p99_ms']:.1f} ms, errors {r['errors']}, "
                    f"server CPU {r['server_cpu']:.0%}, client CPU {r['client_cpu']:.0%}"
                    + (f", recordings {r['recordings']}" if "recordings" in r else "")
                )
    summary = summary_rows(rows)
    if len({r["code"] for r in rows if r["target"] == "footage"}) > 1:
        codes = [r["code"] for r in rows if r["target"] == "footage"]
        print(f"note: Footage's code changed between runs: {codes}")
    print(report(summary))
    profile = OUT / "ingest-footage-py-spy.txt"
    if args.py_spy and profile.exists():
        print("py-spy on the Footage server (last round): share of wall time the GIL was held by")
        for bucket, share in summarize_profile(profile, int(args.duration - args.warmup)):
            print(f"  {share:6.1%}  {bucket}")
    write_json(
        args.json,
        {
            "machine": machine(),
            "args": vars(args) | {"json": str(args.json)},
            "summary": summary,
            "runs": rows,
        },
    )
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"ingest.py: {exc}", file=sys.stderr)
        sys.exit(2)
