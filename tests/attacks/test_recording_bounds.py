"""Attacks on a real `footage serve` (issue 16, findings 1 and 7): a recording spanning
decades, and one address burning a site's monthly recordings with a forged Origin.

Each attack runs while Bob's site is in use (the Probe); every one of Bob's requests must be
answered within 500 ms throughout."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.attacks.server import Probe, ServedFootage, body, gz, ids, serve, small_events
from tests.conftest import login, wait_for

ALICE = {"Origin": "https://alice.example", "Content-Type": "text/plain"}
ALICE_URL = "https://alice.example/"
HOUR_MS = 3_600_000
YEAR_2001_MS = 978_307_200_000


@pytest.fixture
def served(tmp_path: Path, database_url: str) -> Iterator[ServedFootage]:
    served = serve(tmp_path, database_url)
    try:
        yield served
    finally:
        served.stop()


def alice_batch(served: ServedFootage, who: dict[str, str], seq: int, events: list) -> bytes:
    return gz(body(served.alice.site_key, who, seq, events, url=ALICE_URL))


def recordings(served: ServedFootage) -> list[dict]:
    with served.client() as http:
        r = http.get(
            "/api/v1/recordings?limit=100",
            headers={"Authorization": f"Bearer {served.alice.api_token}"},
        )
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_a_recording_spanning_decades_is_refused(served: ServedFootage) -> None:
    now = int(time.time() * 1000)
    who = ids()
    with Probe(served) as probe, served.client("127.0.0.5") as http:
        first = http.post(
            "/api/v1/ingest", content=alice_batch(served, who, 0, small_events(now)), headers=ALICE
        )
        assert first.status_code == 200, first.text
        refused = []
        # A batch from 2001, one 20 hours ahead (within the day the wire allows), one that
        # spans 2001 to now: each would stretch the recording over years or hours.
        attempts = [
            [
                {
                    "type": 3,
                    "data": {"source": 2, "type": 2, "id": 1, "x": 1, "y": 1},
                    "timestamp": YEAR_2001_MS,
                }
            ],
            small_events(now + 20 * HOUR_MS),
            small_events(YEAR_2001_MS) + small_events(now + 1000),
        ]
        for seq, events in enumerate(attempts, start=1):
            r = http.post(
                "/api/v1/ingest", content=alice_batch(served, who, seq, events), headers=ALICE
            )
            refused.append((r.status_code, r.json()["error"]["code"], r.json()["error"]["message"]))
        # A new recording whose first batch spreads over 2001 to now is not started at all.
        fresh = http.post(
            "/api/v1/ingest",
            content=alice_batch(served, ids(), 0, small_events(YEAR_2001_MS) + small_events(now)),
            headers=ALICE,
        )
        wait_for(lambda: probe.count() >= 10)  # the other tenant was served around it all
    # The genuine recording goes on and ends (after the attack: a server's first finalize
    # warms up for a moment, which is not what this test measures).
    last_batch = body(served.alice.site_key, who, 9, small_events(now + 2000), url=ALICE_URL)
    with served.client("127.0.0.5") as http:
        last = http.post("/api/v1/ingest", content=gz({**last_batch, "left": True}), headers=ALICE)
    assert last.status_code == 200, last.text
    found = wait_for(lambda: recordings(served), timeout=20)
    assert served.alive()
    assert all(status == 400 and code == "bad_timestamp" for status, code, _ in refused), refused
    assert all("start a new recording" in message for *_, message in refused), refused
    assert fresh.status_code == 400 and fresh.json()["error"]["code"] == "bad_timestamp"
    assert "longer than a recording may last" in fresh.json()["error"]["message"]
    assert len(found) == 1
    assert found[0]["duration_ms"] <= 4 * HOUR_MS
    assert found[0]["duration_ms"] < 10_000  # only the genuine batches were stored
    probe.assert_answered_within(0.5)


def test_one_address_cannot_burn_the_months_recordings(served: ServedFootage) -> None:
    """439 recordings started from one address with a forged Origin within seconds: 60 are
    started and counted, the rest get 429 with Retry-After, and Alice is told."""
    now = int(time.time() * 1000)
    rss_before = served.rss_mb()

    def start(i: int) -> tuple[int, str, str | None]:
        data = alice_batch(served, ids(), 0, small_events(now + i))
        r = attacker.post("/api/v1/ingest", content=data, headers=ALICE)
        code = r.json()["error"]["code"] if r.status_code != 200 else ""
        return r.status_code, code, r.headers.get("retry-after")

    started = time.monotonic()
    with Probe(served) as probe, served.client("127.0.0.9") as attacker:
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            answers = list(pool.map(start, range(439)))
        took = time.monotonic() - started
        # A recording in progress from the same address goes on.
        who = ids()
        other = served.client("127.0.0.10")
        assert (
            other.post(
                "/api/v1/ingest",
                content=alice_batch(served, who, 0, small_events(now)),
                headers=ALICE,
            ).status_code
            == 200
        )
        # Alice learns of it: on the recordings list and through the API.
        with served.client() as dashboard:
            login(dashboard, "alice@example.com")
            page = wait_for(
                lambda: (
                    (p := dashboard.get("/recordings")).status_code == 200
                    and "were refused: too many new recordings from one address" in p.text
                    and p.text
                ),
                timeout=20,
            )
            usage = dashboard.get(
                "/api/v1/usage", headers={"Authorization": f"Bearer {served.alice.api_token}"}
            ).json()
        other.close()
    assert served.alive()
    statuses = [s for s, _, _ in answers]
    limited = [a for a in answers if a[1] == "too_many_new_recordings"]
    assert statuses.count(200) == 60, sorted(set(answers))
    assert statuses.count(429) == 439 - 60, sorted(set(answers))
    assert len(limited) >= 100 and all(a[2] and int(a[2]) > 3000 for a in limited)
    assert usage["used_this_month"] == 61  # the attacker's 60 and the other visitor's one
    (site,) = usage["refused_last_hour"]
    assert site["alarm"] and site["by_reason"]["too_many_new_recordings"] >= 100
    assert "Someone may be sending fake recordings with your site key" in site["message"]
    assert "block the sender at its proxy or firewall" in page
    assert served.rss_mb() - rss_before < 100, (rss_before, served.rss_mb())
    print(f"439 attempts in {took:.1f} s, {served.rss_mb() - rss_before:.1f} MB; {probe.report()}")
    probe.assert_answered_within(0.5)
