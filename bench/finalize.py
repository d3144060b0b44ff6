"""Finalize latency with the default timings: from a visitor's last batch to a ready recording.

Starts `footage serve --no-demo` with the default leave grace (15 s), heartbeat timeout
(120 s) and finalizer interval (5 s) — no timing flag is passed. K simulated visitors,
staggered over a few seconds, replay the captured visit: half end with a clean leave (the
captured last batch, `left: true`), half just stop (a crash: the last page's leave batch is
never sent and no heartbeat follows). Each recording is then polled with
GET /api/v1/recordings/{id} (404 until it is ready) every 250 ms.

    .venv/bin/python bench/finalize.py [--visitors 30] [--stagger 5]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from common import (
    OUT,
    BenchError,
    Body,
    create_account,
    footage_server,
    load_captured,
    machine,
    make_visitor,
    percentile,
    prepare_visit,
    replay_visitor,
    table,
    write_json,
)

POLL_S = 0.25
TIMEOUT_S = 240.0  # well past the 120 s heartbeat timeout + 5 s finalizer interval


@dataclass
class Outcome:
    kind: str  # "clean leave" or "crash"
    recording_id: str
    last_batch_at: float  # time.monotonic() when the last batch was answered
    ready_at: float | None = None

    @property
    def seconds(self) -> float:
        return (self.ready_at or float("nan")) - self.last_batch_at


def crash(bodies: list[Body]) -> list[Body]:
    """The visit without the last page's leave batch: the tab died before pagehide."""
    last_page = bodies[-1].page_id
    return [b for b in bodies if not (b.page_id == last_page and b.left)]


async def visitor(
    client: httpx.AsyncClient,
    base: str,
    auth: dict[str, str],
    bodies: list[Body],
    kind: str,
    delay: float,
) -> Outcome:
    """Waits `delay`, sends the batches in order, then polls until the recording is ready."""
    await asyncio.sleep(delay)
    replayed = await replay_visitor(client, f"{base}/api/v1/ingest", bodies)
    if replayed.problems or len(replayed.recording_ids) != 1:
        raise BenchError(
            f"a {kind} visitor was not stored as one recording: "
            f"{replayed.problems[:1] or replayed.recording_ids}"
        )
    outcome = Outcome(kind, replayed.recording_ids.pop(), replayed.last_answer_at)
    deadline = outcome.last_batch_at + TIMEOUT_S
    while time.monotonic() < deadline:
        resp = await client.get(f"{base}/api/v1/recordings/{outcome.recording_id}", headers=auth)
        if resp.status_code == 200:
            outcome.ready_at = time.monotonic()
            return outcome
        if resp.status_code != 404:
            raise BenchError(f"GET /api/v1/recordings/{{id}} answered {resp.status_code}")
        await asyncio.sleep(POLL_S)
    return outcome  # never ready: reported as such


async def run(
    base: str, api_token: str, plans: list[tuple[list[Body], str, float]]
) -> list[Outcome]:
    auth = {"Authorization": f"Bearer {api_token}"}
    async with httpx.AsyncClient(timeout=60) as client:
        return list(
            await asyncio.gather(
                *(visitor(client, base, auth, bodies, kind, delay) for bodies, kind, delay in plans)
            )
        )


def report(outcomes: list[Outcome]) -> tuple[str, dict[str, Any]]:
    rows, figures = [], {}
    for kind in ("clean leave", "crash"):
        done = [o.seconds for o in outcomes if o.kind == kind and o.ready_at is not None]
        never = sum(1 for o in outcomes if o.kind == kind and o.ready_at is None)
        fig = {
            "n": len(done),
            "never_ready": never,
            "min": min(done, default=float("nan")),
            "p50": percentile(done, 50),
            "p99": percentile(done, 99),
            "max": max(done, default=float("nan")),
        }
        figures[kind] = fig
        rows.append(
            [
                kind,
                fig["n"],
                f"{fig['min']:.1f}",
                f"{fig['p50']:.1f}",
                f"{fig['p99']:.1f}",
                f"{fig['max']:.1f}",
                never,
            ]
        )
    headers = ["visitor ended by", "recordings", "min s", "p50 s", "p99 s", "max s", "never ready"]
    return table(headers, rows), figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=30, help="simulated visitors (half crash)")
    parser.add_argument("--stagger", type=float, default=5.0, help="seconds over which they start")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=OUT / "finalize.json", help="results file")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    visit = prepare_visit(load_captured())
    with tempfile.TemporaryDirectory(prefix="footage-bench-finalize-") as tmp:
        data_dir = Path(tmp) / "data"
        account = create_account(data_dir)
        plans = []
        for i in range(args.visitors):
            bodies = make_visitor(visit, account["site_key"]).bodies
            kind = "clean leave" if i % 2 == 0 else "crash"
            plans.append(
                (
                    bodies if kind == "clean leave" else crash(bodies),
                    kind,
                    rng.uniform(0, args.stagger),
                )
            )
        with footage_server(data_dir, "--no-demo") as server:
            print(
                f"{args.visitors} visitors, half of them crash; default timings, "
                "this takes about 2.5 minutes…"
            )
            outcomes = asyncio.run(run(server.url, account["api_token"], plans))
    text, figures = report(outcomes)
    print(text)
    write_json(
        args.json,
        {
            "machine": machine(),
            "args": {k: v for k, v in vars(args).items() if k != "json"},
            "figures": figures,
            "seconds": [(o.kind, o.seconds) for o in outcomes],
        },
    )
    return 0 if all(o.ready_at is not None for o in outcomes) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"finalize.py: {exc}", file=sys.stderr)
        sys.exit(2)
