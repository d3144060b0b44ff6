"""Scale-out ingest: PostgreSQL + S3 with 1, 2 and 4 server processes vs the embedded default.

Same captured visits, same load, same run. Starts a throwaway PostgreSQL (scripts/start-postgres)
and an S3-protocol server (moto) on loopback; each configuration gets a fresh database, bucket
and data dir. Server processes are `footage serve --workers N --no-background` plus one
`footage worker`, which is how an operator runs them.

    .venv/bin/python bench/scaleout.py [--duration 30] [--rounds 1] [--clients 1]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    BENCH_ORIGIN,
    OUT,
    REPO,
    BenchError,
    code_version,
    create_account,
    footage_cmd,
    free_port,
    load_captured,
    machine,
    machine_cpu_seconds,
    make_visitor,
    prepare_visit,
    start_server,
    table,
    tree_cpu_seconds,
    wait_for_quiet,
    write_json,
)
from ingest import figures, run_load  # noqa: E402

CONFIGS = [
    ("embedded (SQLite + files)", 1, False),
    ("PostgreSQL + S3", 1, True),
    ("PostgreSQL + S3", 2, True),
    ("PostgreSQL + S3", 4, True),
]


def start_postgres() -> tuple[str, str]:
    out = subprocess.run(
        [str(REPO / "scripts" / "start-postgres")], capture_output=True, text=True, check=True
    ).stdout
    env = dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines())
    return env["FOOTAGE_TEST_POSTGRES_URL"], env["PG_TEST_DIR"]


def start_s3(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = (workdir / "moto.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(url, timeout=0.5)
            return proc, url
        except httpx.HTTPError:
            import time

            time.sleep(0.1)
    raise BenchError("the S3-protocol server did not start")


def psql(admin_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql)


def run_config(
    label: str,
    workers: int,
    scale: bool,
    env: dict[str, str],
    admin: str,
    args: argparse.Namespace,
    visit: Any,
    workdir: Path,
) -> dict[str, Any]:
    run = workdir / f"run-{uuid.uuid4().hex[:6]}"
    data = run / "data"
    data.mkdir(parents=True)
    flags = ["--data-dir", str(data)]
    blob_flags: list[str] = []
    if scale:
        db = f"bench_{uuid.uuid4().hex[:8]}"
        psql(admin, f"CREATE DATABASE {db}")
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        import boto3

        boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"]).create_bucket(Bucket=bucket)
        flags += ["--database-url", admin.rsplit("/", 1)[0] + "/" + db]
        blob_flags = ["--blob-url", f"s3://{bucket}/footage"]
    site_key = create_account(data, BENCH_ORIGIN, *flags[2:], env=env)["site_key"]
    visitors = [make_visitor(visit, site_key) for _ in range(args.visitors)]
    port = free_port()
    serve = footage_cmd(
        "serve",
        "--port",
        str(port),
        "--no-demo",
        "--workers",
        str(workers),
        *flags,
        *blob_flags,
        *([] if not scale else ["--no-background"]),
    )
    os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
    if not args.no_wait:
        wait_for_quiet()
    server = start_server(label, serve, port, run / "serve.log")
    worker = None
    if scale:
        worker = subprocess.Popen(
            footage_cmd("worker", *flags, *blob_flags),
            env=env,
            stdout=(run / "worker.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
    try:
        cpu0, all0 = tree_cpu_seconds(server.proc.pid), machine_cpu_seconds()
        results = run_load(
            f"{server.url}/api/v1/ingest", visitors, args.concurrency, args.duration, args.clients
        )
        server_cpu = tree_cpu_seconds(server.proc.pid) - cpu0
        machine_cpu = machine_cpu_seconds() - all0
    finally:
        server.stop()
        if worker:
            worker.terminate()
            worker.wait(timeout=60)
    fig = figures(label, results, args.warmup, args.duration, server_cpu)
    wall = max(res.wall_seconds for res in results)
    # PostgreSQL, the S3 server and the worker share the same two cores.
    fig["other_cpu"] = max(0.0, machine_cpu / wall - fig["server_cpu"] - fig["client_cpu"])
    return fig | {"config": label, "server_processes": workers, "code": code_version()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--no-wait", action="store_true")
    parser.add_argument("--json", type=Path, default=OUT / "scaleout.json")
    args = parser.parse_args()
    visit = prepare_visit(load_captured())
    admin, pg_dir = start_postgres()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="footage-bench-scaleout-") as tmp:
        workdir = Path(tmp)
        moto, s3_url = start_s3(workdir)
        env = {k: v for k, v in os.environ.items() if not k.startswith("FOOTAGE_")}
        env.update(
            AWS_ENDPOINT_URL=s3_url,
            AWS_ACCESS_KEY_ID="bench",
            AWS_SECRET_ACCESS_KEY="bench",
            AWS_REGION="us-east-1",
        )
        try:
            for round_no in range(1, args.rounds + 1):
                for label, workers, scale in CONFIGS:
                    print(f"[round {round_no}] {label}, {workers} server process(es)…")
                    r = run_config(label, workers, scale, env, admin, args, visit, workdir)
                    rows.append(r | {"round": round_no})
                    print(
                        f"  {r['batches_per_s']:.0f} batches/s, p50 {r['p50_ms']:.1f} ms, "
                        f"p99 {r['p99_ms']:.1f} ms, errors {r['errors']}, "
                        f"server CPU {r['server_cpu']:.0%}, client CPU {r['client_cpu']:.0%}"
                    )
        finally:
            moto.terminate()
            subprocess.run([str(REPO / "scripts" / "start-postgres"), "--stop", pg_dir])
    print(
        table(
            [
                "configuration",
                "server processes",
                "batches/s",
                "p50 ms",
                "p99 ms",
                "errors",
                "server CPU",
                "client CPU",
                "other CPU (PostgreSQL, S3 server, worker)",
            ],
            [
                [
                    r["config"],
                    r["server_processes"],
                    f"{r['batches_per_s']:.0f}",
                    f"{r['p50_ms']:.1f}",
                    f"{r['p99_ms']:.1f}",
                    r["errors"],
                    f"{r['server_cpu']:.0%}",
                    f"{r['client_cpu']:.0%}",
                    f"{r['other_cpu']:.0%}",
                ]
                for r in rows
            ],
        )
    )
    write_json(
        args.json,
        {"machine": machine(), "args": vars(args) | {"json": str(args.json)}, "runs": rows},
    )
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"scaleout.py: {exc}", file=sys.stderr)
        sys.exit(2)
