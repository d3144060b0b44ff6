"""A real `footage serve` in its own process on loopback, for attack tests.

The attack and the measuring run in the test process; the server runs in another one, as
an operator runs it, so the server's event loop and memory are its own: a stalled loop shows
as a slow answer, a leak as the process's resident size (`rss_mb`).

`Probe` is the other tenant: while an attack runs it keeps asking the server for cheap things
(`/healthz`, a batch for Bob's site) and records how long each answer took.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
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
    # The port was free when chosen; another process may still bind it first: a new one then.
    for attempt in range(3):
        served, answered = _launch(tmp_path, database_url, settings, alice, bob, data_dir)
        if answered:
            return served
        if served.alive():
            served.stop()
            raise RuntimeError(f"footage serve did not answer within 60 s:\n{served.log()}")
        if "address already in use" not in served.log() or attempt == 2:
            break
    raise RuntimeError(f"footage serve exited at start:\n{served.log()}")


def _launch(
    tmp_path: Path,
    database_url: str,
    settings: dict[str, Any],
    alice: Any,
    bob: Any,
    data_dir: Path,
) -> tuple[ServedFootage, bool]:
    """`footage serve` on a new free port, and whether /healthz answered within 60 s (else
    it exited, or hangs)."""
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
    while served.alive() and time.monotonic() < deadline:
        try:
            if httpx.get(served.url + "/healthz", timeout=2).status_code == 200:
                return served, True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return served, False


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
    """Cheap requests, one after another, while an attack runs; `worst()` is the slowest.

    The requests come from a process of their own (tests/attacks/probe.py) and from their own
    address, so neither the attack's threads in the test process nor its per-address limits
    delay them: what the probe measures is how the server treats another tenant.
    """

    served: ServedFootage
    every: float = 0.1
    _process: subprocess.Popen[bytes] | None = None
    _out: Path | None = None

    def start(self) -> Probe:
        self._out = self.served.log_path.with_name(f"probe-{uuid.uuid4().hex[:8]}.jsonl")
        self._out.touch()
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.attacks.probe",
                self.served.url,
                self.served.bob.site_key,
                PROBE_ADDRESS,
                str(self.every),
                str(self._out),
            ],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
        )
        # Started when its first answer is in: an attack begun before would go unmeasured.
        deadline = time.monotonic() + 30
        while not self._lines() and time.monotonic() < deadline and self._process.poll() is None:
            time.sleep(0.02)
        return self

    def stop(self) -> Probe:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        return self

    def __enter__(self) -> Probe:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _lines(self) -> list[dict[str, Any]]:
        if self._out is None or not self._out.exists():
            return []
        lines = []
        for line in self._out.read_text().splitlines():
            with contextlib.suppress(json.JSONDecodeError):  # the line being written
                lines.append(json.loads(line))
        return lines

    @property
    def timings(self) -> dict[str, list[float]]:
        """Seconds per answer, by request name, in order."""
        found: dict[str, list[float]] = {}
        for line in self._lines():
            found.setdefault(line["name"], []).append(line["s"])
        return found

    @property
    def failures(self) -> list[str]:
        return [f"{line['name']}: {line['status']}" for line in self._lines() if not line["ok"]]

    def worst(self) -> float:
        return max((max(t) for t in self.timings.values() if t), default=0.0)

    def count(self) -> int:
        return sum(len(t) for t in self.timings.values())

    def report(self) -> str:
        failures = self.failures
        return ", ".join(
            f"{name}: {len(t)} requests, worst {max(t) * 1000:.0f} ms"
            for name, t in self.timings.items()
            if t
        ) + (f"; failures: {failures[:5]}" if failures else "")

    def assert_answered_within(self, seconds: float = 0.5, at_least: int = 4) -> None:
        """Every answer within `seconds`, but for a few on a machine shared with other work
        (the probe's process too may wait for a core): at most 5 % of them (one in a short
        run) may take up to three times as long, none longer. A stalled server fails both.

        5 %: with a CPU-bound job on one of two cores and the other test process's browser
        tests beside it, 3 of 148 answers of an idle-looking server took 0.5–1 s."""
        assert self.count() >= at_least, f"the probe made only {self.count()} requests"
        assert not self.failures, self.report()
        times = [t for ts in self.timings.values() for t in ts]
        late = [t for t in times if t > seconds]
        why = f"{self.report()}; {len(late)} of {len(times)} over {seconds * 1000:.0f} ms"
        assert len(late) <= max(1, len(times) // 20), why
        assert self.worst() <= 3 * seconds, why
