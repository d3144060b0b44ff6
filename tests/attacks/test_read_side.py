"""Attacks on the read side of a real `footage serve` (issue 16, findings 3, 4 and 9a): a
pattern that backtracks against long recorded addresses, another account's site id as a
timing oracle, whole numbers too large for the database.

Alice's account holds 300 recordings whose page address is 2,000 'a's and a 'b' — the worst
case for `(a+)+$`, which Python's `re` would try for longer than anyone waits, holding the
interpreter lock (SQLite's REGEXP ran it). Each attack runs while Bob's site is in use (the
Probe); every one of Bob's requests must be answered within 500 ms throughout."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from footage.app import build_services
from tests.attacks.server import Probe, ServedFootage, serve
from tests.conftest import login, settings_for

LONG_URL = "https://alice.example/" + "a" * 2000 + "b"
SEEDED = 300
# Patterns that backtrack exponentially (or by a high power) in Python's `re` on LONG_URL.
EVIL = ["(a+)+$", "(a|aa)+$", "(a*)*[0-9]$", "(.*a){25}$", "^(a|a?)+$"]
RSS_GROWTH_MB = 100  # the most the attack may add to the server's memory


@pytest.fixture
def served(tmp_path: Path, database_url: str) -> Iterator[ServedFootage]:
    served = serve(tmp_path, database_url)
    try:
        seed(tmp_path, served)
        yield served
    finally:
        served.stop()


def seed(tmp_path: Path, served: ServedFootage) -> None:
    """Alice's recordings with the long address, written as ingest and the finalizer would."""
    services = build_services(settings_for(tmp_path, database_url=served.database_url))
    now = int(time.time() * 1000)
    alice = served.alice
    recordings = [
        {
            "id": f"r_long{n:04d}",
            "a": alice.account_id,
            "s": alice.site_id,
            "v": f"v_long{n}",
            "t": now - n * 1000,
        }
        for n in range(SEEDED)
    ]
    try:
        with services.db.write() as conn:
            conn.execute(
                text(
                    "INSERT INTO recordings (id, account_id, site_id, visitor_id, session_id, "
                    "status, created_at, last_seen_at, started_at, ended_at, duration_ms, "
                    "active_ms, page_count, entry_url, exit_url) VALUES (:id, :a, :s, :v, :id, "
                    "'ready', :t, :t, :t, :t, 60000, 1000, 1, :u, :u)"
                ),
                [{**r, "u": LONG_URL} for r in recordings],
            )
            conn.execute(
                text(
                    "INSERT INTO recording_pages (site_id, page_id, recording_id, url, "
                    "first_seen_at, last_seen_at, started_at) VALUES (:s, :p, :id, :u, :t, :t, :t)"
                ),
                [{**r, "p": f"p_{r['id']}", "u": LONG_URL} for r in recordings],
            )
    finally:
        services.db.dispose()


def rounds(probe: Probe, at_least: int = 16, seconds: float = 15.0) -> Iterator[int]:
    """Attack rounds until the probe has been answered `at_least` times meanwhile (so it saw
    the attack, however fast the attack is), within `seconds`."""
    deadline = time.monotonic() + seconds
    n = 0
    while n == 0 or (probe.count() < at_least and time.monotonic() < deadline):
        yield n
        n += 1


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_backtracking_pattern_answers_at_once_and_stalls_nobody(served: ServedFootage) -> None:
    """Alice (any user of hers, agents included) lists with patterns that backtrack: each
    answers within 2 s while Bob's site is served as usual; the dashboard's list (whose empty
    state counts again per filter) answers them as quickly."""
    rss_before = served.rss_mb()
    token = bearer(served.alice.api_token)
    with served.client("127.0.0.5") as http:
        listed = http.get("/api/v1/recordings?limit=200", headers=token)
        assert len(listed.json()["items"]) == 200  # the seeded recordings are there

        def attack(pattern: str) -> tuple[int, float, str]:
            started = time.monotonic()
            params = {"url_match": "regex", "url": pattern}
            api = http.get("/api/v1/recordings", params=params, headers=token)
            return api.status_code, time.monotonic() - started, api.text[:300]

        with Probe(served) as probe:
            # One after another: one such request froze the whole server before (SQLite's
            # REGEXP ran Python's `re`), so one attacker shows it; more would only measure
            # how a loaded machine shares its CPU.
            results = [attack(pattern) for _ in rounds(probe) for pattern in EVIL]
        assert served.alive()
        login(http, "alice@example.com")
        for pattern in EVIL:
            started = time.monotonic()
            page = http.get("/recordings", params={"url_match": "regex", "url": pattern})
            assert page.status_code == 200 and "removed the most" in page.text, page.text[:500]
            assert time.monotonic() - started < 2.0
        # The pattern that finds them all: the long addresses were searched, not skipped.
        found = http.get(
            "/api/v1/recordings",
            params={"url_match": "regex", "url": "(a+)+b$", "limit": 200},
            headers=token,
        )
    for status, seconds, body in results:
        assert status == 200, body  # RE2 runs them all: nothing to refuse
        assert seconds < 2.0, (seconds, body)
    assert found.status_code == 200 and len(found.json()["items"]) == 200
    probe.assert_answered_within(0.5)
    assert served.rss_mb() - rss_before < RSS_GROWTH_MB
    slowest = max(s for _, s, _ in results)
    print(f"slowest attack {slowest * 1000:.0f} ms; probe: {probe.report()}")


def test_another_accounts_site_is_unknown_and_takes_no_longer(served: ServedFootage) -> None:
    """Bob names Alice's site with a pattern: a 404 exactly as for a site that does not
    exist, in the same time (no query runs against her addresses)."""
    alice_site = served.alice.site_id
    timings: dict[str, list[float]] = {alice_site: [], "site_nobody": []}
    answers = {}
    with Probe(served) as probe, served.client("127.0.0.8") as http:
        deadline = time.monotonic() + 20
        # 21 pairs at least, and on until the probe has seen them.
        while len(timings[alice_site]) < 21 or (probe.count() < 16 and time.monotonic() < deadline):
            pair = [alice_site, "site_nobody"]
            if len(timings[alice_site]) % 2:
                pair.reverse()  # interleaved, each first in turn: the same load on both
            for site in pair:
                started = time.monotonic()
                response = http.get(
                    "/api/v1/recordings",
                    params={"site_id": site, "url_match": "regex", "url": "(a+)+b$"},
                    headers=bearer(served.bob.api_token),
                )
                timings[site].append(time.monotonic() - started)
                assert response.status_code == 404, response.text
                answers[site] = response.json()
    assert answers[alice_site] == answers["site_nobody"]
    assert answers[alice_site]["error"]["code"] == "unknown_site"
    theirs, nobody = (statistics.median(timings[s]) for s in (alice_site, "site_nobody"))
    print(f"median: Alice's site {theirs * 1000:.1f} ms, unknown {nobody * 1000:.1f} ms")
    assert theirs <= nobody + 0.02, (theirs, nobody)  # 20 ms: the loopback's jitter
    probe.assert_answered_within(0.5)


# Whole numbers the database cannot hold, where the list takes numbers; each must be a 400
# that says what is allowed (it was a 500: the database driver's overflow).
OVERSIZED = [
    # ["newest", 9999999999999999999999, "r"]: a sort key past 64 bits
    ("recordings", "cursor=WyJuZXdlc3QiLCA5OTk5OTk5OTk5OTk5OTk5OTk5OTk5LCAiciJd", "'cursor'"),
    ("recordings", "min_duration_ms=99999999999999999999999999", "from 0 to 2147483647"),
    ("recordings", "max_active_ms=9223372036854775808", "from 0 to 2147483647"),
    ("recordings", "limit=" + "9" * 5000, "'limit' must be a whole number from 1 to 200"),
    # [18446744073709551616, "c"]: the conversations' cursor, 2**64
    ("conversations", "cursor=WzE4NDQ2NzQ0MDczNzA5NTUxNjE2LCAiYyJd", "'cursor' is not valid"),
]


def test_oversized_numbers_are_refused_with_the_range(served: ServedFootage) -> None:
    with Probe(served) as probe, served.client("127.0.0.9") as http:
        for _ in rounds(probe):
            for listing, query, words in OVERSIZED:
                response = http.get(
                    f"/api/v1/{listing}?{query}", headers=bearer(served.alice.api_token)
                )
                assert response.status_code == 400, response.text
                assert words in response.json()["error"]["message"], response.text
    assert served.alive()
    probe.assert_answered_within(0.5)
