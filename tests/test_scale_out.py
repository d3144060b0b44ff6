"""Scale-out on one machine: 2 `serve` + 2 `worker` processes, one PostgreSQL, one S3 endpoint.

200 simulated visitors spread their batches over both servers; half leave cleanly, half
vanish. A worker is killed with SIGKILL mid-run and a server is stopped with SIGTERM while
batches are in flight. Every recording must end up ready exactly once with all the batches
that were acknowledged, and the monthly counter must say exactly how many were created.
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from footage.accounts.service import create_account
from footage.accounts.usage import used_this_month
from footage.clock import Clock
from footage.store import Database
from tests.conftest import (
    BACKENDS,
    batch,
    click,
    free_port,
    full_snapshot,
    gz,
    make_bucket,
    meta,
    move,
    new_ids,
    wait_for,
)

VISITORS = 200
TIMINGS = [
    "--leave-grace-seconds",
    "1",
    "--heartbeat-timeout-seconds",
    "8",
    "--finalizer-interval-seconds",
    "0.3",
    "--finalize-lease-seconds",
    "3",
]


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "footage", *args],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def visitor_batches(site_key: str, n: int, origin: str) -> list[bytes]:
    """Two pages of three batches each; even visitors leave cleanly, odd ones vanish."""
    ids, t0 = new_ids(), 1_795_000_000_000 + n * 1000
    bodies = []
    for page in range(2):
        page_ids = {**ids, "page_id": f"pag-{uuid.uuid4()}"}
        start = t0 + page * 10_000
        events = [
            [meta(start, f"{origin}/p{page}"), full_snapshot(start + 1)],
            [move(start + 500), click(start + 600)],
            [click(start + 900)],
        ]
        for seq, evs in enumerate(events):
            last = page == 1 and seq == 2
            bodies.append(
                gz(
                    batch(
                        site_key,
                        page_ids,
                        seq,
                        evs,
                        url=f"{origin}/p{page}",
                        left=last and n % 2 == 0 or (page == 0 and seq == 2),
                    )
                )
            )
    return bodies


pytestmark = [
    pytest.mark.skipif(
        "postgresql" not in BACKENDS, reason="needs FOOTAGE_TEST_BACKENDS=postgresql"
    ),
    pytest.mark.parametrize("backend", ["postgresql"]),
]


@pytest.fixture
def cluster(tmp_path, database_url, s3_env):
    bucket = f"scale-{uuid.uuid4().hex[:8]}"
    make_bucket(bucket)
    env = {
        **os.environ,
        **s3_env,
        "FOOTAGE_DATABASE_URL": database_url,
        "FOOTAGE_BLOB_URL": f"s3://{bucket}/footage",
        "FOOTAGE_DATA_DIR": str(tmp_path),
        # 200 simulated visitors share one loopback address: no per-address rate limit.
        "FOOTAGE_INGEST_IP_RATE": "0",
        "FOOTAGE_INGEST_IP_NEW_RECORDINGS": "0",
    }
    ports = [free_port(), free_port()]
    servers = [
        spawn(
            ["serve", "--no-background", "--no-demo", "--port", str(p), *TIMINGS],
            env,
            tmp_path / f"serve{i}.log",
        )
        for i, p in enumerate(ports)
    ]
    workers = [spawn(["worker", *TIMINGS], env, tmp_path / f"worker{i}.log") for i in range(2)]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    for url in urls:
        wait_for(lambda u=url: _healthy(u), timeout=30)
    yield {
        "urls": urls,
        "servers": servers,
        "workers": workers,
        "bucket": bucket,
        "database_url": database_url,
        "logs": tmp_path,
    }
    for proc in servers + workers:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_two_servers_two_workers_one_killed(cluster, s3_env):
    import boto3

    db = Database(cluster["database_url"])
    acc = create_account(
        db,
        Clock(),
        name="Big shop",
        plan="pro",
        email="big@example.com",
        password="correct horse battery",
        site_url="https://big.example",
    )
    origin = "https://big.example"
    acked: dict[int, int] = {}

    def run_visitor(n: int) -> None:
        bodies = visitor_batches(acc.site_key, n, origin)
        with httpx.Client(timeout=30, headers={"Origin": origin}) as http:
            for i, body in enumerate(bodies):
                url = cluster["urls"][(n + i) % 2]  # stateless servers: any batch, any server
                r = http.post(f"{url}/api/v1/ingest", content=body)
                assert r.status_code == 200, r.text
        acked[n] = len(bodies)

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        first = list(pool.map(run_visitor, range(VISITORS // 2)))
        cluster["workers"][0].send_signal(signal.SIGKILL)  # mid-run, maybe mid-finalize
        second = list(pool.map(run_visitor, range(VISITORS // 2, VISITORS)))
    assert len(first) + len(second) == VISITORS and len(acked) == VISITORS

    # SIGTERM a server while batches are in flight: answered batches must all be kept.
    late_ids = new_ids()
    late = [
        gz(
            batch(
                acc.site_key,
                late_ids,
                seq,
                [meta(1_796_000_000_000 + seq)] if seq == 0 else [click(1_796_000_000_000 + seq)],
                url=f"{origin}/late",
            )
        )
        for seq in range(40)
    ]
    answered = []

    def send_late(seq: int) -> None:
        try:
            r = httpx.post(
                f"{cluster['urls'][1]}/api/v1/ingest",
                content=late[seq],
                headers={"Origin": origin},
                timeout=10,
            )
            if r.status_code == 200:
                answered.append(seq)
        except httpx.HTTPError:
            pass  # refused after shutdown began: the recorder would retry elsewhere

    for seq in range(3):
        send_late(seq)
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(send_late, seq) for seq in range(3, 40)]
        time.sleep(0.05)
        cluster["servers"][1].send_signal(signal.SIGTERM)
        concurrent.futures.wait(futures)
    # uvicorn drains in-flight requests, then re-raises SIGTERM: -15 after a clean shutdown.
    assert cluster["servers"][1].wait(timeout=40) in (0, -signal.SIGTERM)
    assert "Finished server process" in (cluster["logs"] / "serve1.log").read_text()

    assert answered[:3] == [0, 1, 2]
    expected = VISITORS + 1

    def all_ready() -> bool:
        row = db.one("SELECT COUNT(*) AS n FROM recordings WHERE status = 'ready'")
        return row["n"] == expected

    wait_for(all_ready, timeout=90, interval=0.5)
    recordings = db.all("SELECT * FROM recordings WHERE account_id = :a", {"a": acc.account_id})
    assert len(recordings) == expected and {r["status"] for r in recordings} == {"ready"}
    by_session = {}
    for r in recordings:
        assert r["session_id"] not in by_session, "a visit was split or finalized twice"
        by_session[r["session_id"]] = r
    visitors = [r for r in recordings if r["session_id"] != late_ids["session_id"]]
    assert all(r["event_count"] == 10 and r["page_count"] == 2 for r in visitors)
    late_rec = by_session[late_ids["session_id"]]
    assert late_rec["event_count"] >= len(answered)  # every answered batch was kept
    # Each recording was compacted exactly once: one chunk row, one object, no chunk objects.
    chunk_rows = db.one("SELECT COUNT(*) AS n FROM chunks")["n"]
    assert chunk_rows == expected
    s3 = boto3.client("s3")

    def keys() -> list[str]:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=cluster["bucket"])
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    # Segments of a worker killed between its commit and its deletes are swept later.
    wait_for(lambda: not [k for k in keys() if "/segments/" in k], timeout=15)
    assert len([k for k in keys() if "/recordings/" in k]) == expected
    assert used_this_month(db, acc.account_id, Clock().now_ms()) == expected
    db.dispose()
