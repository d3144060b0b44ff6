"""Finding 8, chat flood: anyone with a site's public key may write to its chat, and making up
a new visitor id for every message used to open a new conversation every time. Against a real
`footage serve`: one address rotating visitor ids, then many addresses, then a flood of
messages and of waiting polls; the conversations stay bounded, every refusal is a 429 with
Retry-After, and Bob's site answers within 500 ms throughout."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from footage.store.db import Database
from tests.attacks.server import Probe, ServedFootage, serve

ORIGIN = "https://alice.example"
ATTACKER = "127.0.0.66"
SITE_LIMIT = 50  # new conversations an hour for the site (the default, 500, takes longer)
RSS_GROWTH_MB = 60


@pytest.fixture
def served(tmp_path: Path, database_url: str) -> Iterator[ServedFootage]:
    served = serve(tmp_path, database_url, chat_site_new_conversations=SITE_LIMIT)
    db = Database(database_url or f"sqlite:///{served.data_dir / 'footage.db'}")
    try:
        # What the owner's "Chat" switch in the site's settings does.
        db.run("UPDATE sites SET chat_enabled = 1 WHERE id = :s", {"s": served.alice.site_id})
        yield served
    finally:
        db.dispose()
        served.stop()


def post(
    http: httpx.Client, served: ServedFootage, path: str, body: dict[str, Any]
) -> httpx.Response:
    return http.post(
        f"/api/v1/chat/{path}",
        content=json.dumps({"site_key": served.alice.site_key, **body}),
        headers={"Content-Type": "text/plain", "Origin": ORIGIN},
    )


def first_message(http: httpx.Client, served: ServedFootage) -> httpx.Response:
    """A conversation opened by a visitor id never seen before."""
    visitor = f"vis-{uuid.uuid4().hex}"
    return post(http, served, "messages", {"visitor_id": visitor, "text": "Hi", "id": visitor})


def conversation_rows(served: ServedFootage) -> int:
    db = Database(served.database_url or f"sqlite:///{served.data_dir / 'footage.db'}")
    try:
        row = db.one("SELECT COUNT(*) AS n FROM conversations")
        return int(row["n"]) if row else 0
    finally:
        db.dispose()


def flood(
    http: httpx.Client, served: ServedFootage, tries: int, threads: int = 2
) -> list[httpx.Response]:
    """`tries` new conversations through `http` (one address), on a few connections at once."""
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda _: first_message(http, served), range(tries)))


def worst_since(probe: Probe, mark: dict[str, int]) -> str:
    """The probe's slowest answer since `mark` (its counts then), for the printout."""
    worst = max(
        (max(t[mark.get(name, 0) :], default=0.0) for name, t in probe.timings.items()),
        default=0.0,
    )
    return f"{worst * 1000:.0f} ms"


def marks(probe: Probe) -> dict[str, int]:
    return {name: len(t) for name, t in probe.timings.items()}


def assert_refusals_say_when(answers: list[httpx.Response]) -> Counter[str]:
    codes: Counter[str] = Counter()
    for r in answers:
        if r.status_code == 200:
            codes["created"] += 1
            continue
        assert r.status_code == 429, r.text
        assert int(r.headers["Retry-After"]) >= 1
        codes[r.json()["error"]["code"]] += 1
    return codes


def test_chat_flood_is_bounded_per_address_and_per_site(served: ServedFootage) -> None:
    # The attacker's clients are made first (each holds its own TLS setup, a lot of CPU to
    # make): making them would slow the probe in this same process, not the server.
    pooled = httpx.Limits(max_connections=50, max_keepalive_connections=50)
    attacker = served.client(ATTACKER, limits=pooled)
    addresses = [f"127.0.2.{i}" for i in range(1, 11)]
    others = [served.client(a) for a in addresses]
    rss_before = served.rss_mb()
    try:
        with Probe(served) as probe:
            # One address, a new visitor id each time: 500 tries.
            mark, started = marks(probe), time.monotonic()
            answers = flood(attacker, served, 500)
            flooded = time.monotonic()  # the address's message bucket is empty from here
            one_address = assert_refusals_say_when(answers)
            assert one_address["created"] == 10, one_address
            assert conversation_rows(served) == 10
            print(
                f"\none address, 500 tries in {flooded - started:.1f} s: {dict(one_address)}; "
                f"probe worst {worst_since(probe, mark)}"
            )

            # Many addresses, 12 tries each: each gets its 10, until the site's limit is reached.
            mark = marks(probe)
            with ThreadPoolExecutor(5) as pool:
                parts = list(pool.map(lambda http: flood(http, served, 12, threads=1), others))
            many = assert_refusals_say_when([r for part in parts for r in part])
            # The site's bucket gains one conversation every 72 s: at most one more here.
            assert SITE_LIMIT - 10 <= many["created"] <= SITE_LIMIT - 9, many
            assert many["site_busy"] > 0, many
            assert conversation_rows(served) <= SITE_LIMIT + 1
            print(
                f"10 more addresses, 120 tries: {dict(many)}; "
                f"probe worst {worst_since(probe, mark)}"
            )

            # Messages into the conversations already open, as fast as they go.
            mark = marks(probe)
            opened = [r.json() for r in answers if r.status_code == 200]
            sent = []
            for i in range(300):
                c = opened[i % len(opened)]
                body = {
                    "visitor_id": "vis-0123456789abcdef",
                    "text": f"spam {i}",
                    "id": f"spam-{i:08d}",
                    "conversation_id": c["conversation_id"],
                    "token": c["token"],
                }
                sent.append(post(attacker, served, "messages", body))
            elapsed = time.monotonic() - flooded
            messages = assert_refusals_say_when(sent)
            # The 500 tries above used the address's 30 a minute; 0.5 a second come back.
            assert messages["created"] <= 1 + elapsed * 0.5, (messages, elapsed)
            print(
                f"300 messages, {elapsed:.1f} s after the flood: {dict(messages)}; "
                f"probe worst {worst_since(probe, mark)}"
            )

            # Waiting polls: at most 20 per address wait; the rest are refused at once.
            mark = marks(probe)
            c = opened[0]
            poll = {
                "conversation_id": c["conversation_id"],
                "token": c["token"],
                "after": 99,
                "wait": 10,
            }
            with ThreadPoolExecutor(40) as pool:
                polls = Counter(
                    pool.map(lambda _: post(attacker, served, "poll", poll).status_code, range(40))
                )
            assert polls[200] <= 20 and polls[429] >= 20, polls
            print(f"40 polls at once: {dict(polls)}; probe worst {worst_since(probe, mark)}")
    finally:
        attacker.close()
        for http in others:
            http.close()
    assert served.alive()
    assert conversation_rows(served) <= SITE_LIMIT + 1
    growth = served.rss_mb() - rss_before
    assert growth < RSS_GROWTH_MB, growth
    print(f"server memory grew {growth:.1f} MB; the other tenant: {probe.report()}")
    probe.assert_answered_within(0.5)
