"""Rate limits on ingest: per client address and per site, 429 with Retry-After."""

from __future__ import annotations

import socket
import time
from typing import Any

import httpx
import orjson
import pytest

from footage.ingest.limits import IngestLimits
from footage.ratelimit import TokenBuckets, TooManyRequests
from footage.settings import Settings
from tests.conftest import (
    batch,
    click,
    free_port,
    full_snapshot,
    gz,
    make_account,
    meta,
    new_ids,
    settings_for,
    start_server,
)

ORIGIN = {"Origin": "https://alice.example", "Content-Type": "text/plain"}


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_a_bucket_allows_its_burst_then_its_rate():
    clock = FakeClock()
    buckets = TokenBuckets(rate=2.0, burst=5, clock=clock)
    assert [buckets.take("a") for _ in range(5)] == [0.0] * 5
    assert buckets.take("a") == pytest.approx(0.5)  # one token comes back every 0.5 s
    assert buckets.take("b") == 0.0  # another key has its own bucket
    clock.t += 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("a") > 0
    clock.t += 60  # a quiet minute refills up to the burst, not beyond
    assert [buckets.take("a") for _ in range(6)].count(0.0) == 5


def test_a_refused_request_costs_nothing_extra():
    clock = FakeClock()
    buckets = TokenBuckets(rate=1.0, burst=1, clock=clock)
    assert buckets.take("a") == 0.0
    for _ in range(100):  # hammering while limited does not push the wait further out
        assert buckets.take("a") == pytest.approx(1.0)
    clock.t += 1.0
    assert buckets.take("a") == 0.0


def test_a_rate_of_zero_is_no_limit():
    buckets = TokenBuckets(rate=0.0, burst=1)
    assert all(buckets.take("a") == 0.0 for _ in range(10_000)) and len(buckets) == 0


def test_memory_stays_bounded_under_many_addresses():
    clock = FakeClock()
    buckets = TokenBuckets(rate=1.0, burst=3, clock=clock, max_buckets=1000)
    for i in range(100_000):
        buckets.take(f"198.51.{i // 256}.{i % 256}")
        assert len(buckets) <= 1000
    # A limited address that keeps sending is remembered while quiet ones are forgotten.
    for _ in range(3):
        buckets.take("203.0.113.1")
    assert buckets.take("203.0.113.1") > 0
    for i in range(5000):
        buckets.take(f"192.0.2.{i}")
        buckets.take("203.0.113.1")
    assert buckets.take("203.0.113.1") > 0


def test_the_defaults_never_limit_a_busy_site():
    """1,000 visitors behind 20 addresses (offices, carrier NAT), each sending a batch every
    5 s and 26 batches at once when they arrive: no batch is refused in ten minutes."""
    defaults = Settings.load(env={})
    clock = FakeClock()
    limits = IngestLimits(
        defaults.ingest_ip_rate,
        defaults.ingest_ip_burst,
        defaults.ingest_site_rate,
        defaults.ingest_site_burst,
        clock,
    )
    addresses = [f"198.51.100.{i}" for i in range(20)]
    for visitor in range(1000):  # everyone arrives within the first 10 s
        clock.t += 0.01
        for _ in range(3):  # the first batch, a retry, the first scheduled batch
            limits.check_ip(addresses[visitor % 20])
            limits.check_site("s_busy")
    for tick in range(600 * 10):  # then every 0.1 s, 1/50 of them send their batch
        clock.t += 0.1
        for visitor in range(tick % 50, 1000, 50):
            limits.check_ip(addresses[visitor % 20])
            limits.check_site("s_busy")


@pytest.fixture
def limited(tmp_path, database_url):
    settings = settings_for(
        tmp_path,
        database_url=database_url,
        port=free_port(),
        ingest_ip_rate=1.0,
        ingest_ip_burst=3,
        ingest_site_rate=0.0,
    )
    server = start_server(settings)
    yield server
    server.stop()


def first_batch(key: str, ids: dict[str, str] | None = None, seq: int = 0) -> dict[str, Any]:
    t = int(time.time() * 1000)
    return batch(key, ids or new_ids(), seq, [meta(t), full_snapshot(t + 1), click(t + 2)])


def chunk_count(server: Any) -> int:
    return int(server.services.db.one("SELECT COUNT(*) AS n FROM chunks")["n"])


def test_an_address_over_its_limit_gets_429_with_retry_after(limited):
    key = make_account(limited.services, "Alice", site_url="https://alice.example").site_key
    with limited.client() as http:
        ok = [
            http.post("/api/v1/ingest", content=gz(first_batch(key)), headers=ORIGIN)
            for _ in range(3)
        ]
        stored = chunk_count(limited)
        ids = new_ids()
        r = http.post("/api/v1/ingest", content=gz(first_batch(key, ids)), headers=ORIGIN)
        assert [o.status_code for o in ok] == [200, 200, 200]
        assert r.status_code == 429, r.text
        assert r.json()["error"]["code"] == "rate_limited"
        assert "Retry-After" in r.json()["error"]["message"]
        assert r.headers["retry-after"] == "1"
        # A recorder on another origin can read the header (CORS).
        assert r.headers["access-control-allow-origin"] == "https://alice.example"
        assert "retry-after" in r.headers["access-control-expose-headers"].lower()
        assert chunk_count(limited) == stored  # nothing of the refused batch
        # Heartbeats share the address's bucket (each is a database write).
        beat = http.post(
            "/api/v1/heartbeat",
            content=b'{"site_key": "%s", "visitor_id": "vis-12345678", '
            b'"session_id": "ses-12345678", "page_id": "pag-12345678"}' % key.encode(),
            headers=ORIGIN,
        )
        assert beat.status_code == 429 and beat.headers["retry-after"] == "1"
        time.sleep(int(r.headers["retry-after"]))
        again = http.post("/api/v1/ingest", content=gz(first_batch(key, ids)), headers=ORIGIN)
        assert again.status_code == 200 and chunk_count(limited) == stored + 1


def test_a_site_over_its_limit_gets_429_and_other_sites_do_not(tmp_path, database_url):
    settings = settings_for(
        tmp_path,
        database_url=database_url,
        port=free_port(),
        ingest_ip_rate=0.0,
        ingest_site_rate=0.5,
        ingest_site_burst=2,
    )
    server = start_server(settings)
    try:
        alice = make_account(server.services, "Alice", site_url="https://alice.example")
        bob = make_account(server.services, "Bob", site_url="https://bob.example")
        bob_origin = {**ORIGIN, "Origin": "https://bob.example"}
        with server.client() as http:
            statuses = [
                http.post(
                    "/api/v1/ingest", content=gz(first_batch(alice.site_key)), headers=ORIGIN
                ).status_code
                for _ in range(3)
            ]
            limited = http.post(
                "/api/v1/ingest", content=gz(first_batch(alice.site_key)), headers=ORIGIN
            )
            other = http.post(
                "/api/v1/ingest", content=gz(first_batch(bob.site_key)), headers=bob_origin
            )
        assert statuses == [200, 200, 429]
        assert limited.status_code == 429 and limited.headers["retry-after"] == "2"
        assert "for this site" in limited.json()["error"]["message"]
        assert other.status_code == 200
    finally:
        server.stop()


def test_past_its_in_flight_bound_the_server_answers_503_at_once(tmp_path, database_url):
    settings = settings_for(
        tmp_path,
        database_url=database_url,
        port=free_port(),
        ingest_ip_rate=0.0,
        ingest_max_in_flight=2,
    )
    server = start_server(settings)
    held: list[socket.socket] = []
    try:
        key = make_account(server.services, "Alice", site_url="https://alice.example").site_key
        bodies = [gz(first_batch(key)) for _ in range(3)]
        # Two requests whose bodies have not arrived yet take the two places.
        for body in bodies[:2]:
            conn = socket.create_connection(("127.0.0.1", settings.port), timeout=10)
            conn.sendall(
                b"POST /api/v1/ingest HTTP/1.1\r\nHost: t\r\nOrigin: https://alice.example\r\n"
                b"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(body)
            )
            held.append(conn)
        time.sleep(0.5)
        stored = chunk_count(server)
        with server.client() as http:
            r = http.post("/api/v1/ingest", content=bodies[2], headers=ORIGIN)
            assert r.status_code == 503, r.text
            assert r.json()["error"]["code"] == "overloaded"
            assert r.headers["retry-after"] == "1"
            assert "retry-after" in r.headers["access-control-expose-headers"].lower()
            assert chunk_count(server) == stored  # refused before its body was read
            for conn, body in zip(held, bodies[:2], strict=True):
                conn.sendall(body)
                assert conn.recv(100).startswith(b"HTTP/1.1 200")
            # The places are free again.
            again = http.post("/api/v1/ingest", content=bodies[2], headers=ORIGIN)
            assert again.status_code == 200, again.text
        assert chunk_count(server) == stored + 3
    finally:
        for conn in held:
            conn.close()
        server.stop()


def hold(port: int, body: bytes, address: str = "127.0.0.1") -> socket.socket:
    """An ingest request whose headers arrived and whose body has not (yet)."""
    conn = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(address, 0))
    conn.sendall(
        b"POST /api/v1/ingest HTTP/1.1\r\nHost: t\r\nOrigin: https://alice.example\r\n"
        b"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    return conn


def test_one_address_gets_503_past_its_own_in_flight_bound_and_others_do_not(
    tmp_path, database_url
):
    settings = settings_for(
        tmp_path,
        database_url=database_url,
        port=free_port(),
        ingest_ip_rate=0.0,
        ingest_ip_max_in_flight=2,
    )
    server = start_server(settings)
    held: list[socket.socket] = []
    try:
        key = make_account(server.services, "Alice", site_url="https://alice.example").site_key
        bodies = [gz(first_batch(key)) for _ in range(4)]
        held = [hold(settings.port, body) for body in bodies[:2]]
        with server.client() as http:  # from 127.0.0.1, like the held ones
            deadline = time.monotonic() + 10
            while (r := http.post("/api/v1/ingest", content=bodies[2], headers=ORIGIN)) and (
                r.status_code == 200 and time.monotonic() < deadline
            ):  # until the server has seen both held requests' headers
                time.sleep(0.05)
            assert r.status_code == 503, r.text
            assert r.json()["error"]["code"] == "overloaded"
            assert "from this address" in r.json()["error"]["message"]
            assert r.headers["retry-after"] == "1"
        with httpx.Client(
            base_url=server.url, transport=httpx.HTTPTransport(local_address="127.0.0.2")
        ) as http:
            other = http.post("/api/v1/ingest", content=bodies[3], headers=ORIGIN)
        assert other.status_code == 200, other.text  # another address is not limited
        for conn, body in zip(held, bodies[:2], strict=True):
            conn.sendall(body)
            assert conn.recv(100).startswith(b"HTTP/1.1 200")
        with server.client() as http:  # its places are back
            assert http.post("/api/v1/ingest", content=bodies[2], headers=ORIGIN).status_code == 200
    finally:
        for conn in held:
            conn.close()
        server.stop()


def test_a_body_late_past_its_timeout_is_408_and_frees_its_place(tmp_path, database_url):
    settings = settings_for(
        tmp_path,
        database_url=database_url,
        port=free_port(),
        ingest_ip_rate=0.0,
        ingest_ip_max_in_flight=1,
        ingest_body_timeout_seconds=0.5,
    )
    server = start_server(settings)
    try:
        key = make_account(server.services, "Alice", site_url="https://alice.example").site_key
        body = gz(first_batch(key))
        conn = hold(settings.port, body)
        started = time.monotonic()
        conn.sendall(body[:10])  # a trickle resets nothing: the deadline counts from the headers
        answer = b""
        while chunk := conn.recv(4096):  # the server closes the connection after its answer
            answer += chunk
        took = time.monotonic() - started
        conn.close()
        head, payload = answer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 408"), answer
        assert b"connection: close" in head.lower()
        error = orjson.loads(payload)["error"]
        assert error["code"] == "body_timeout"
        assert "within 0.5 seconds" in error["message"]
        assert 0.4 <= took < 10
        assert chunk_count(server) == 0
        with server.client() as http:  # the address's only place is free again
            r = http.post("/api/v1/ingest", content=body, headers=ORIGIN)
            assert r.status_code == 200, r.text
    finally:
        server.stop()


def test_the_in_flight_bound_reaches_the_server_from_the_environment():
    assert Settings.load(env={}).ingest_max_in_flight == 1000
    settings = Settings.load(env={"FOOTAGE_INGEST_MAX_IN_FLIGHT": "0"})
    assert settings.ingest_max_in_flight == 0  # no limit
    with pytest.raises(ValueError, match="FOOTAGE_INGEST_MAX_IN_FLIGHT"):
        Settings.load(env={"FOOTAGE_INGEST_MAX_IN_FLIGHT": "-1"})


def test_limits_reach_the_server_from_the_environment():
    settings = Settings.load(env={"FOOTAGE_INGEST_IP_RATE": "0", "FOOTAGE_INGEST_SITE_BURST": "9"})
    assert settings.ingest_ip_rate == 0.0 and settings.ingest_site_burst == 9
    with pytest.raises(ValueError, match="FOOTAGE_INGEST_IP_BURST"):
        Settings.load(env={"FOOTAGE_INGEST_IP_BURST": "0"})


def test_too_many_requests_is_a_429_error():
    exc = TooManyRequests("slow down", 3)
    assert exc.status == 429 and exc.retry_after == 3 and exc.as_dict()["error"]["code"]
