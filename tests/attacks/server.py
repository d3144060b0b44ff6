"""A real `footage serve` in its own process on loopback, for attack tests.

The attack and the measuring run in the test process; the server runs in another one, as
an operator runs it, so the server's event loop and memory are its own: a stalled loop shows
as a slow answer, a leak as the process's resident size (`rss_mb`).

`Probe` is the other tenant: while an attack runs it keeps asking the server for cheap things
(`/healthz`, a batch for Bob's site) and records how long each answer took.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from footage.accounts.service import NewAccount
from footage.app import build_services
from tests.conftest import free_port, make_account, settings_for

ROOT = Path(__file__).resolve().parents[2]
PROBE_ADDRESS = "127.0.0.77"  # the other tenant's visitor


@dataclass
class ServedFootage:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    alice: NewAccount
    bob: NewAccount
    data_dir: Path
    database_url: str

    def client(self, address: str = "127.0.0.1", **kwargs: Any) -> httpx.Client:
        """A client whose requests come from `address` (any of 127.0.0.0/8), so tests can be
        several visitors: the server tells clients apart by their address."""
        kwargs.setdefault("timeout", 30)
        transport = httpx.HTTPTransport(local_address=address)
        return httpx.Client(base_url=self.url, transport=transport, **kwargs)

    def rss_mb(self) -> float:
        """The server process's resident memory now, in MB."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS in /proc status")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def serve(tmp_path: Path, database_url: str = "", **settings: Any) -> ServedFootage:
    """Create Alice's (https://alice.example) and Bob's (https://bob.example) accounts, then
    start `python -m footage serve` on a free port with `settings` (FOOTAGE_* variables).
    Returns once /healthz answers."""
    data_dir = tmp_path / "data"
    prepared = build_services(settings_for(tmp_path, database_url=database_url))
    alice = make_account(prepared, "Alice", site_url="https://alice.example")
    bob = make_account(prepared, "Bob", site_url="https://bob.example")
    prepared.db.dispose()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOOTAGE_")}
    env.update(
        {
            "FOOTAGE_DATA_DIR": str(data_dir),
            "FOOTAGE_DATABASE_URL": database_url,
            "FOOTAGE_PORT": str(port),
            "FOOTAGE_DEMO": "0",
            "FOOTAGE_LOG_LEVEL": "warning",
            "FOOTAGE_FINALIZER_INTERVAL_SECONDS": "0.5",
            "FOOTAGE_LEAVE_GRACE_SECONDS": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    for name, value in settings.items():
        env["FOOTAGE_" + name.upper()] = (
            ("1" if value else "0") if isinstance(value, bool) else (str(value))
        )
    log_path = tmp_path / f"serve-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "footage", "serve"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    served = ServedFootage(
        f"http://127.0.0.1:{port}", process, log_path, alice, bob, data_dir, database_url
    )
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"footage serve exited at start:\n{served.log()}")
        try:
            if httpx.get(served.url + "/healthz", timeout=2).status_code == 200:
                return served
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            served.stop()
            raise RuntimeError(f"footage serve did not answer within 60 s:\n{served.log()}")
        time.sleep(0.1)


def served_fixture(tmp_path: Path, database_url: str, **settings: Any) -> Iterator[ServedFootage]:
    served = serve(tmp_path, database_url, **settings)
    try:
        yield served
    finally:
        served.stop()


# --- batches --------------------------------------------------------------------------------


def ids() -> dict[str, str]:
    return {
        "visitor_id": f"vis-{uuid.uuid4().hex}",
        "session_id": f"ses-{uuid.uuid4().hex}",
        "page_id": f"pag-{uuid.uuid4().hex}",
    }


def body(site_key: str, who: dict[str, str], seq: int, events: list[dict[str, Any]], **extra: Any):
    return {
        "v": 1,
        "site_key": site_key,
        **who,
        "seq": seq,
        "events": events,
        "page": {"url": extra.pop("url", "https://bob.example/"), "title": "Home", "referrer": ""},
        "screen": {"width": 1920, "height": 1080},
        "viewport": {"width": 1280, "height": 720},
        **extra,
    }


def small_events(ts: int | None = None) -> list[dict[str, Any]]:
    ts = ts or int(time.time() * 1000)
    return [
        {
            "type": 4,
            "data": {"href": "https://bob.example/", "width": 1280, "height": 720},
            "timestamp": ts,
        },
        {"type": 3, "data": {"source": 2, "type": 2, "id": 1, "x": 5, "y": 5}, "timestamp": ts + 5},
    ]


def gz(data: dict[str, Any]) -> bytes:
    return gzip.compress(json.dumps(data).encode())


# --- the other tenant -----------------------------------------------------------------------


@dataclass
class Probe:
    """Cheap requests, one after another, while an attack runs; `worst()` is the slowest."""

    served: ServedFootage
    every: float = 0.1
    timings: dict[str, list[float]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Probe:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> Probe:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=60)
        return self

    def __enter__(self) -> Probe:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _timed(self, name: str, call: Callable[[], httpx.Response], ok: set[int]) -> None:
        started = time.monotonic()
        try:
            status = call().status_code
            if status not in ok:
                self.failures.append(f"{name}: {status}")
        except httpx.HTTPError as exc:
            self.failures.append(f"{name}: {type(exc).__name__}")
        self.timings.setdefault(name, []).append(time.monotonic() - started)

    def _run(self) -> None:
        bob = self.served.bob
        who = ids()
        seq = 0
        # Its own connection pool and its own address (an attacker's per-address limits are
        # not the probe's): the attack's connections never delay the probe's.
        with self.served.client(PROBE_ADDRESS, timeout=20) as http:
            while not self._stop.is_set():
                self._timed("healthz", lambda: http.get("/healthz"), {200})
                data = gz(body(bob.site_key, who, seq, small_events()))
                self._timed(
                    "ingest (another site)",
                    lambda data=data: http.post(
                        "/api/v1/ingest",
                        content=data,
                        headers={"Origin": "https://bob.example", "Content-Type": "text/plain"},
                    ),
                    {200},
                )
                seq += 1
                self._stop.wait(self.every)

    def worst(self) -> float:
        return max((max(t) for t in self.timings.values() if t), default=0.0)

    def count(self) -> int:
        return sum(len(t) for t in self.timings.values())

    def report(self) -> str:
        return ", ".join(
            f"{name}: {len(t)} requests, worst {max(t) * 1000:.0f} ms"
            for name, t in self.timings.items()
            if t
        ) + (f"; failures: {self.failures[:5]}" if self.failures else "")

    def assert_answered_within(self, seconds: float = 0.5, at_least: int = 4) -> None:
        assert self.count() >= at_least, f"the probe made only {self.count()} requests"
        assert not self.failures, self.report()
        assert self.worst() <= seconds, self.report()
