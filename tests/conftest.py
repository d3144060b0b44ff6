"""Fixtures: real databases (SQLite, and PostgreSQL when asked for), a real server on loopback.

The backend switch: FOOTAGE_TEST_BACKENDS=sqlite,postgresql (default: sqlite) runs every test
that touches the database once per backend; PostgreSQL needs FOOTAGE_TEST_POSTGRES_URL (a
server where the user may create databases; scripts/test starts one).
"""

from __future__ import annotations

import gc
import gzip
import json
import os
import random
import re
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from footage.accounts.service import NewAccount, create_account
from footage.app import Services, build_services, create_app
from footage.clock import Clock, FrozenClock
from footage.ingest.asgi import RecorderEndpoints
from footage.settings import Settings

START_MS = 1_795_000_000_000  # 2026-11-18, a fixed "now" for frozen-clock tests
BACKENDS = [b.strip() for b in os.environ.get("FOOTAGE_TEST_BACKENDS", "sqlite").split(",")]


def postgres_admin_url() -> str:
    url = os.environ.get("FOOTAGE_TEST_POSTGRES_URL")
    if not url:
        pytest.fail(
            "FOOTAGE_TEST_BACKENDS asks for postgresql but FOOTAGE_TEST_POSTGRES_URL "
            "is not set; run scripts/test, which starts a server"
        )
    return url


def _pg_execute(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


def _with_db(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A database with the schema, copied for every test (much faster than migrating)."""
    from footage.store import Database

    admin = postgres_admin_url()
    name = f"footage_tpl_{os.getpid()}"
    _pg_execute(admin, f"DROP DATABASE IF EXISTS {name}")
    _pg_execute(admin, f"CREATE DATABASE {name}")
    db = Database(_with_db(admin, name))
    db.migrate()
    db.dispose()
    yield name
    _pg_execute(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """Empty for SQLite (a file in the test's data dir), or a fresh PostgreSQL database."""
    if backend == "sqlite":
        yield ""
        return
    template = request.getfixturevalue("pg_template")
    admin = postgres_admin_url()
    name = f"footage_test_{uuid.uuid4().hex[:12]}"
    _pg_execute(admin, f"CREATE DATABASE {name} TEMPLATE {template}")
    yield _with_db(admin, name)
    _pg_execute(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    base = {
        "data_dir": str(tmp_path / "data"),
        "demo": False,
        "background": False,
        "leave_grace_seconds": 10.0,
        "heartbeat_timeout_seconds": 60.0,
        "finalizer_interval_seconds": 0.2,
    }
    base.update(overrides)
    return Settings.load(env={}, overrides=base)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START_MS)


@pytest.fixture
def svc(tmp_path: Path, clock: FrozenClock, database_url: str) -> Iterator[Services]:
    services = build_services(settings_for(tmp_path, database_url=database_url), clock)
    yield services
    services.db.dispose()


def make_account(svc: Services, name: str, plan: str = "pro", site_url: str = "") -> NewAccount:
    return create_account(
        svc.db,
        svc.clock,
        name=name,
        plan=plan,
        email=f"{name.lower()}@example.com",
        password=PASSWORD,
        site_url=site_url,
    )


@pytest.fixture
def alice(svc: Services) -> NewAccount:
    return make_account(svc, "Alice", site_url="https://alice.example")


@pytest.fixture
def bob(svc: Services) -> NewAccount:
    return make_account(svc, "Bob", site_url="https://bob.example")


# --- rrweb events and batches -------------------------------------------------------------


def meta(ts: int, href: str = "https://alice.example/", width: int = 1280, height: int = 720):
    return {"type": 4, "data": {"href": href, "width": width, "height": height}, "timestamp": ts}


def full_snapshot(ts: int, text: str = "Hello") -> dict[str, Any]:
    html = {
        "type": 2,
        "tagName": "html",
        "attributes": {},
        "id": 2,
        "childNodes": [
            {
                "type": 2,
                "tagName": "body",
                "attributes": {},
                "id": 3,
                "childNodes": [{"type": 3, "textContent": text, "id": 4}],
            },
        ],
    }
    return {
        "type": 2,
        "data": {
            "node": {"type": 0, "childNodes": [html], "id": 1},
            "initialOffset": {"left": 0, "top": 0},
        },
        "timestamp": ts,
    }


def click(ts: int, x: float = 100, y: float = 100) -> dict[str, Any]:
    return {"type": 3, "data": {"source": 2, "type": 2, "id": 4, "x": x, "y": y}, "timestamp": ts}


def move(ts: int) -> dict[str, Any]:
    return {
        "type": 3,
        "data": {"source": 1, "positions": [{"x": 1, "y": 1, "id": 4, "timeOffset": 0}]},
        "timestamp": ts,
    }


def js_error(ts: int, message: str = "boom") -> dict[str, Any]:
    return {
        "type": 5,
        "data": {"tag": "footage.error", "payload": {"message": message}},
        "timestamp": ts,
    }


def new_ids() -> dict[str, str]:
    return {
        "visitor_id": f"vis-{uuid.uuid4()}",
        "session_id": f"ses-{uuid.uuid4()}",
        "page_id": f"pag-{uuid.uuid4()}",
    }


def batch(
    site_key: str,
    ids: dict[str, str],
    seq: int,
    events: list[dict[str, Any]],
    url: str = "https://alice.example/",
    left: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "v": 1,
        "site_key": site_key,
        **ids,
        "seq": seq,
        "events": events,
        "page": {
            "url": url,
            "title": extra.pop("title", "Home"),
            "referrer": extra.pop("referrer", ""),
        },
        "screen": {"width": 1920, "height": 1080},
        "viewport": {"width": 1280, "height": 720},
        "left": left,
        **extra,
    }


def gz(body: dict[str, Any]) -> bytes:
    return gzip.compress(json.dumps(body).encode())


# --- the dashboard, as a browser without JavaScript uses it --------------------------------

PASSWORD = "correct horse battery"  # every make_account owner's password


def csrf_of(html: str) -> str:
    """The CSRF token a dashboard page puts into its forms."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def login(http: httpx.Client, email: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns the CSRF token for the next forms."""
    csrf = csrf_of(http.get("/login").text)
    r = http.post(
        "/login",
        data={"email": email, "password": password, "csrf": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return csrf


# --- a real server on loopback ------------------------------------------------------------


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


# A block of ports per test process (pytest-xdist worker), below the kernel's range for
# outgoing connections: a port the kernel handed out (bind to port 0) could be taken by a
# browser's or a database client's connection between this check and the server's bind.
_BLOCK = 1000
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:]
_FIRST_PORT = max(1024, _ephemeral_low() - 8 * _BLOCK) + (
    (int(_WORKER) % 8) * _BLOCK if _WORKER.isdigit() else 0
)


def free_port() -> int:
    """A loopback port free right now, from this test process's own block."""
    for _ in range(100):
        port = random.randrange(_FIRST_PORT, _FIRST_PORT + _BLOCK)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:  # the block is full: any port the kernel gives
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    services: Services
    server: uvicorn.Server
    thread: threading.Thread

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.services.db.dispose()


def start_server(settings: Settings, clock: Clock | None = None) -> LiveServer:
    app = create_app(settings, clock)
    served = RecorderEndpoints(app, app.state.services)  # as `footage serve` serves it
    config = uvicorn.Config(
        served, host=settings.host, port=settings.port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15 * WAIT_SCALE
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    return LiveServer(f"http://127.0.0.1:{settings.port}", app.state.services, server, thread)


@pytest.fixture
def live(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    """A real server with quick timings: 1 s leave grace, 5 s heartbeat timeout."""
    settings = settings_for(
        tmp_path,
        database_url=database_url,
        port=free_port(),
        background=True,
        leave_grace_seconds=1.0,
        heartbeat_timeout_seconds=5.0,
        finalizer_interval_seconds=0.2,
    )
    server = start_server(settings)
    yield server
    server.stop()


# Waits follow events: they return as soon as the condition holds, so a generous deadline
# costs a passing test nothing. On a machine shared with other jobs (CI) things take longer;
# FOOTAGE_TEST_WAIT_SCALE stretches every deadline (default 3).
WAIT_SCALE = float(os.environ.get("FOOTAGE_TEST_WAIT_SCALE", "3"))


def wait_for(predicate: Any, timeout: float = 20.0, interval: float = 0.1) -> Any:
    """Poll `predicate` until it returns something true; fail after `timeout` × WAIT_SCALE."""
    timeout *= WAIT_SCALE
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


# --- an S3-protocol server on loopback (moto's server mode) ------------------------------


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per S3 request
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
    }
    # boto3 reads these from the process environment, as it does for operators.
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def make_bucket(name: str) -> None:
    import boto3

    boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"]).create_bucket(Bucket=name)


def serve_process(
    command: list[Any], env: dict[str, str], log: Path, port: int, cwd: Path
) -> subprocess.Popen[bytes]:
    """`footage serve` (`command`) in a process of its own, its output in `log`; returns once
    it answers /healthz on `port` (fails with its log if it exits or is silent for 60 s)."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(c) for c in command],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.1)


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """The generations the cycle collector collects while the test runs (it is on)."""
    seen: list[int] = []

    def callback(phase: str, info: dict) -> None:
        if phase == "start":
            seen.append(info["generation"])

    was = gc.isenabled()
    gc.enable()
    gc.callbacks.append(callback)
    try:
        yield seen
    finally:
        gc.callbacks.remove(callback)
        if not was:
            gc.disable()
