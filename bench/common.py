"""Shared helpers of the benchmarks: start servers, create accounts, load and replay captures.

Nothing here imports Footage: the benchmarks talk to `footage serve` over HTTP, as browsers
do, and use the `footage` command line for setup.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
OUT = BENCH / "out"
BATCHES_FILE = OUT / "batches.jsonl"
CAPTURE_META_FILE = OUT / "capture.json"

BENCH_ORIGIN = "http://bench.example"
STARTUP_TIMEOUT_S = 30.0


class BenchError(RuntimeError):
    """Something the benchmark needs is missing or broke; the message says what to do."""


# ---- processes -----------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on loopback that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A server process started by a benchmark, with the log it writes."""

    name: str
    proc: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Ctrl-C (graceful shutdown), then SIGKILL if it does not exit in time."""
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_server(
    name: str, cmd: Sequence[str], port: int, log_path: Path, checkout: Path = REPO
) -> Server:
    """Starts `cmd` in `checkout` (its `footage` package is the one `-m footage` runs) and
    waits until GET /healthz answers 200; raises BenchError otherwise."""
    log = log_path.open("wb")
    proc = subprocess.Popen(
        list(cmd), stdout=log, stderr=subprocess.STDOUT, cwd=checkout, env=_child_env()
    )
    log.close()
    server = Server(name, proc, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(
                f"{name} exited with code {proc.returncode} before it answered.\n"
                f"command: {' '.join(cmd)}\n--- its output ---\n{server.log_tail()}"
            )
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1.0).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise BenchError(
        f"{name} did not answer GET /healthz within {STARTUP_TIMEOUT_S:.0f} s.\n"
        f"command: {' '.join(cmd)}\n--- its output ---\n{server.log_tail()}"
    )


def _child_env() -> dict[str, str]:
    """The environment for servers: no FOOTAGE_* settings leak in from the caller's shell."""
    return {k: v for k, v in os.environ.items() if not k.startswith("FOOTAGE_")}


def footage_cmd(*args: str) -> list[str]:
    """`footage ARGS…` run by this very Python (the project's venv)."""
    return [sys.executable, "-m", "footage", *args]


@contextmanager
def footage_server(data_dir: Path, *flags: str, checkout: Path = REPO) -> Iterator[Server]:
    """`footage serve` on a free loopback port with its own data dir, stopped afterwards;
    the code of `checkout` (another clone of this repository: another version side by side)."""
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    cmd = footage_cmd("serve", "--data-dir", str(data_dir), "--port", str(port), *flags)
    log = data_dir.parent / f"footage-serve-{data_dir.name}.log"
    server = start_server("footage serve", cmd, port, log, checkout)
    try:
        yield server
    finally:
        server.stop()


def create_account(
    data_dir: Path,
    site_url: str = BENCH_ORIGIN,
    *flags: str,
    env: dict[str, str] | None = None,
    checkout: Path = REPO,
) -> dict[str, str]:
    """`footage accounts create … --json` → {account_id, site_id, site_key, api_token, …}.

    `flags` go to the command too (e.g. `--database-url …`)."""
    cmd = footage_cmd(
        "accounts",
        "create",
        "--name",
        "Bench",
        "--plan",
        "pro",
        "--json",
        "--email",
        "bench@example.com",
        "--password",
        "bench-password-123",
        "--site-url",
        site_url,
        "--data-dir",
        str(data_dir),
        *flags,
    )
    done = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        cwd=checkout,
        env=env if env is not None else _child_env(),
    )
    if done.returncode != 0:
        raise BenchError(f"`footage accounts create` failed:\n{done.stdout}{done.stderr}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and all its descendants (uvicorn --workers forks children)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            total += cpu_seconds(current)
        except OSError:
            continue  # it just exited
        todo.extend(children.get(current, []))
    return total


def machine_cpu_seconds() -> float:
    """CPU time all processes on the machine have used so far, in core-seconds (/proc/stat)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, idle, iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def wait_for_quiet(max_busy: float = 0.25, max_wait: float = 180.0, sample: float = 2.0) -> float:
    """Waits until the machine is nearly idle (other work would skew throughput figures).

    Returns the busy cores seen last; gives up after `max_wait` seconds, saying so.
    """
    deadline = time.monotonic() + max_wait
    said = False
    while True:
        before = machine_cpu_seconds()
        time.sleep(sample)
        busy = (machine_cpu_seconds() - before) / sample
        if busy <= max_busy:
            return busy
        if time.monotonic() > deadline:
            print(
                f"  note: the machine is still busy ({busy:.0%} of a core used by other "
                "processes); measuring anyway"
            )
            return busy
        if not said:
            print(f"  waiting for the machine to be quiet ({busy:.0%} of a core busy)…")
            said = True


def code_version() -> str:
    """The code being measured: the last commit that changed it, plus a hash of uncommitted
    changes if any.

    Footage changes while benchmarks run (others edit it); this tells figures apart.
    """

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], capture_output=True, cwd=REPO)
        return done.stdout.decode(errors="replace").strip() if done.returncode == 0 else ""

    paths = ("footage", "web/src", "pyproject.toml")
    # The last commit that changed the server or the recorder, not HEAD: commits that only
    # touch tests or docs do not change what is measured.
    head = git("log", "-1", "--format=%h", "--", *paths) or "unknown"
    diff = git("diff", "HEAD", "--", *paths)
    if not diff:
        return head
    return f"{head}+dirty-{hashlib.sha256(diff.encode()).hexdigest()[:8]}"


def machine() -> dict[str, Any]:
    """What RESULTS.md says about where a figure was measured."""
    return {
        "code": code_version(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


# ---- captured batches ----------------------------------------------------------------------


@dataclass
class Captured:
    """One POST /api/v1/ingest body as footage.js sent it in a real browser."""

    t: float  # seconds since the capture began
    body: bytes  # as sent: gzip (fetch) or plain JSON (sendBeacon on page leave)
    headers: dict[str, str]
    status: int | None

    @property
    def gzipped(self) -> bool:
        return self.body[:2] == b"\x1f\x8b"

    @property
    def json_bytes(self) -> bytes:
        return gzip.decompress(self.body) if self.gzipped else self.body

    @property
    def batch(self) -> dict[str, Any]:
        return dict(json.loads(self.json_bytes))


def load_captured(path: Path = BATCHES_FILE) -> list[Captured]:
    """The batches saved by capture.py, in the order the browser sent them."""
    if not path.exists():
        raise BenchError(
            f"{path.relative_to(REPO)} is missing: run `python bench/capture.py` first "
            "(it drives Chromium through the demo shop and saves what footage.js sends)"
        )
    out = []
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            out.append(
                Captured(
                    t=row["t"],
                    body=base64.b64decode(row["body_b64"]),
                    headers=row["headers"],
                    status=row.get("status"),
                )
            )
    if not out:
        raise BenchError(f"{path.relative_to(REPO)} holds no batches: run bench/capture.py again")
    return out


@dataclass
class Body:
    """One request ready to send: the bytes, their size once inflated, and its headers."""

    data: bytes
    raw_len: int
    headers: dict[str, str]
    left: bool
    page_id: str


@dataclass
class Visitor:
    """A simulated visitor: fresh ids, the captured batches rewritten for them, in order."""

    visitor_id: str
    session_id: str
    bodies: list[Body] = field(default_factory=list)


def request_headers(captured: Captured, origin: str) -> dict[str, str]:
    """The headers of a replayed batch: the browser's type and user agent, our origin."""
    h = {k.lower(): v for k, v in captured.headers.items()}
    return {
        "content-type": h.get("content-type", "text/plain;charset=UTF-8"),
        "user-agent": h.get("user-agent", "Mozilla/5.0"),
        "origin": origin,
    }


@dataclass(frozen=True)
class Template:
    """A captured batch, decoded once, ready to be rewritten for many visitors."""

    json_bytes: bytes
    gzipped: bool
    page_id: str
    left: bool
    headers: dict[str, str]


@dataclass(frozen=True)
class Visit:
    """The captured visit: its ids (to replace) and its batches in order."""

    site_key: str
    visitor_id: str
    session_id: str
    batches: list[Template]


def prepare_visit(captured: list[Captured], origin: str = BENCH_ORIGIN) -> Visit:
    """Decodes the captured batches once."""
    first = captured[0].batch
    batches = []
    for c in captured:
        batch = c.batch
        batches.append(
            Template(
                c.json_bytes,
                c.gzipped,
                batch["page_id"],
                bool(batch.get("left")),
                request_headers(c, origin),
            )
        )
    return Visit(first["site_key"], first["visitor_id"], first["session_id"], batches)


def make_visitor(visit: Visit, site_key: str, gzip_level: int = 6) -> Visitor:
    """Rewrites every captured batch for a new visitor (new visitor, session and page ids).

    The ids are replaced as quoted JSON strings of the same length, so the rest of each body
    stays byte for byte what the recorder produced. Bodies the recorder gzipped are gzipped
    again (level `gzip_level`); plain-JSON beacon bodies stay plain.
    """
    visitor = Visitor(str(uuid.uuid4()), str(uuid.uuid4()))
    mapping = {
        visit.visitor_id: visitor.visitor_id,
        visit.session_id: visitor.session_id,
        visit.site_key: site_key,
    }
    for t in visit.batches:
        mapping.setdefault(t.page_id, str(uuid.uuid4()))
    for t in visit.batches:
        raw = t.json_bytes
        for old, new in mapping.items():
            raw = raw.replace(f'"{old}"'.encode(), f'"{new}"'.encode())
        data = gzip.compress(raw, compresslevel=gzip_level, mtime=0) if t.gzipped else raw
        visitor.bodies.append(Body(data, len(raw), t.headers, t.left, mapping[t.page_id]))
    return visitor


# ---- figures -------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0–100), nearest-rank on sorted values; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (also readable in a terminal)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


# ---- replaying visitors (storage.py, finalize.py) ------------------------------------------


@dataclass
class Replayed:
    """What the server answered to one simulated visitor's batches."""

    recording_ids: set[str] = field(default_factory=set)
    statuses: list[int] = field(default_factory=list)
    last_answer_at: float = 0.0  # time.monotonic() when the last batch was answered
    problems: list[str] = field(default_factory=list)


async def replay_visitor(client: httpx.AsyncClient, url: str, bodies: list[Body]) -> Replayed:
    """Sends a visitor's batches in order, one at a time, as the recorder does."""
    out = Replayed()
    for body in bodies:
        resp = await client.post(url, content=body.data, headers=body.headers)
        out.statuses.append(resp.status_code)
        out.last_answer_at = time.monotonic()
        if resp.status_code == 200:
            rid = resp.json().get("recording_id")
            if rid:
                out.recording_ids.add(rid)
        else:
            out.problems.append(f"{resp.status_code} {resp.text[:200]}")
    return out


def wait_for_ready_count(
    base: str, api_token: str, expected: int, timeout: float
) -> list[dict[str, Any]]:
    """Polls GET /api/v1/recordings until `expected` recordings are ready."""
    auth = {"Authorization": f"Bearer {api_token}"}
    deadline = time.monotonic() + timeout
    items: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        resp = httpx.get(f"{base}/api/v1/recordings?limit=200", headers=auth, timeout=10)
        resp.raise_for_status()
        items = resp.json()["items"]
        if len(items) >= expected:
            return items
        time.sleep(0.5)
    raise BenchError(f"only {len(items)} of {expected} recordings were ready after {timeout:.0f} s")


# ---- crash, overload and soak (crash.py, overload.py, soak.py) -----------------------------


def rss_bytes(pid: int) -> int:
    """Resident memory of a process right now (VmRSS in /proc), 0 once it has exited."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@dataclass
class Sample:
    """One second of a server's life: its memory and the CPU it and the machine used."""

    t: float  # seconds since the sampler started
    rss_mb: float
    server_cpu: float  # cores used by the server during the last interval
    machine_cpu: float  # cores used by every process during the last interval


class Sampler:
    """Samples a server's RSS and CPU every `interval` seconds on a thread until stopped."""

    def __init__(self, pid: int, interval: float = 1.0) -> None:
        import threading

        self.pid = pid
        self.interval = interval
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.t0 = time.monotonic()

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        last_t, last_cpu, last_all = time.monotonic(), self._cpu(), machine_cpu_seconds()
        while not self._stop.wait(self.interval):
            now, cpu, all_cpu = time.monotonic(), self._cpu(), machine_cpu_seconds()
            span = max(now - last_t, 1e-9)
            self.samples.append(
                Sample(
                    round(now - self.t0, 2),
                    round(rss_bytes(self.pid) / 1e6, 1),
                    round((cpu - last_cpu) / span, 3),
                    round((all_cpu - last_all) / span, 3),
                )
            )
            last_t, last_cpu, last_all = now, cpu, all_cpu

    def _cpu(self) -> float:
        try:
            return tree_cpu_seconds(self.pid)
        except OSError:
            return 0.0

    def between(self, start: float, end: float) -> list[Sample]:
        """Samples taken in [start, end] seconds since the sampler started."""
        return [s for s in self.samples if start <= s.t <= end]


class RawConnection:
    """One keep-alive HTTP/1.1 connection with pre-built requests and the least parsing.

    httpx costs ~0.5 ms of CPU per request, which on two shared cores caps the offered load
    well below what overload.py must offer; this costs a few tens of microseconds. It speaks
    only what uvicorn answers to ingest: a status line, headers, a Content-Length body.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: Any = None
        self.writer: Any = None

    async def connect(self) -> None:
        import asyncio

        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None

    @staticmethod
    def request(path: str, body: bytes, headers: dict[str, str], host: str) -> bytes:
        """The bytes of one POST, built once before the clock starts."""
        head = [f"POST {path} HTTP/1.1", f"host: {host}", f"content-length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        return ("\r\n".join(head) + "\r\n\r\n").encode() + body

    async def send(self, raw_request: bytes) -> tuple[int, dict[bytes, bytes], bytes]:
        """Sends one request, returns (status, headers, body); raises OSError on a broken
        connection (the caller closes it and counts an error)."""
        if self.writer is None:
            await self.connect()
        self.writer.write(raw_request)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionResetError("the server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        headers: dict[bytes, bytes] = {}
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get(b"content-length", b"0"))
        body = await self.reader.readexactly(length) if length else b""
        if headers.get(b"connection", b"").lower() == b"close":
            self.close()
        return status, headers, body


def serve_cmd(data_dir: Path, port: int, *flags: str) -> list[str]:
    """`footage serve` on loopback without the demo, with extra flags."""
    return footage_cmd(
        "serve", "--data-dir", str(data_dir), "--port", str(port), "--no-demo", *flags
    )


def ms_summary(latencies_s: Sequence[float]) -> dict[str, float]:
    """p50 / p99 / max of latencies given in seconds, in milliseconds."""
    ms = [x * 1000 for x in latencies_s]
    return {
        "p50_ms": round(percentile(ms, 50), 1),
        "p99_ms": round(percentile(ms, 99), 1),
        "max_ms": round(max(ms), 1) if ms else float("nan"),
    }


RECORDER_BATCH_MS = 5_000  # the recorder's batches: every ~5 s


def view_batches(
    view: list[dict[str, Any]], site_key: str, visitor: str, session: str, default_url: str
) -> Iterator[dict[str, Any]]:
    """One page view's events (in time order) as the recorder sends them: a batch per ~5 s,
    the last one `left`. The page's address comes from its meta event."""
    page = f"pag-{uuid.uuid4()}"
    url = next((e["data"].get("href") for e in view if e["type"] == 4), default_url)
    seq, k = 0, 0
    while k < len(view):
        j = k
        while j < len(view) and view[j]["timestamp"] < view[k]["timestamp"] + RECORDER_BATCH_MS:
            j += 1
        yield {
            "v": 1,
            "site_key": site_key,
            "visitor_id": visitor,
            "session_id": session,
            "page_id": page,
            "seq": seq,
            "events": view[k:j],
            "page": {"url": url, "title": "Shop", "referrer": ""},
            "screen": {"width": 1920, "height": 1080},
            "viewport": {"width": 1280, "height": 720},
            "left": j == len(view),
        }
        seq, k = seq + 1, j
