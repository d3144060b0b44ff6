"""The other tenant, in a process of its own: `python -m tests.attacks.probe URL SITE_KEY
ADDRESS EVERY OUT`.

It asks the server for cheap things one after another — `/healthz`, then a batch for Bob's
site from its own address — and writes one JSON line per request to OUT: name, seconds,
status. Its own process, so an attack's threads in the test process never delay the probe's
requests: what it measures is the server.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from typing import Any

import httpx

from tests.attacks.server import body, gz, ids, small_events


def main(url: str, site_key: str, address: str, every: float, out_path: str) -> None:
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    who, seq = ids(), 0
    transport = httpx.HTTPTransport(local_address=address)
    with (
        open(out_path, "a", buffering=1) as out,
        httpx.Client(base_url=url, transport=transport, timeout=20) as http,
    ):

        def timed(name: str, send: Any, ok: set[int]) -> None:
            started = time.monotonic()
            try:
                status: int | str = send().status_code
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            took = time.monotonic() - started
            out.write(json.dumps({"name": name, "s": took, "ok": status in ok, "status": status}))
            out.write("\n")

        while not stopping:
            timed("healthz", lambda: http.get("/healthz"), {200})
            data = gz(body(site_key, who, seq, small_events()))
            timed(
                "ingest (another site)",
                lambda data=data: http.post(
                    "/api/v1/ingest",
                    content=data,
                    headers={"Origin": "https://bob.example", "Content-Type": "text/plain"},
                ),
                {200},
            )
            seq += 1
            deadline = time.monotonic() + every
            while not stopping and time.monotonic() < deadline:
                time.sleep(0.01)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5])
