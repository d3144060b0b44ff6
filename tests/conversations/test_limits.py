"""The chat's bounds: new conversations and messages per client address and per site (429 with
Retry-After and a message the chat box shows), bodies read only up to their limit, polls per
address, conversations that stop growing, and the external API's body size and times."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from footage.clock import FrozenClock
from footage.conversations.chat import MAX_CONVERSATION_MESSAGES
from footage.conversations.limits import ChatLimits, wait_words
from footage.ratelimit import TooManyRequests
from tests.conversations.conftest import ORIGIN, World, make_world

ATTACKER = "127.0.0.2"
NEIGHBOUR = "127.0.0.3"


def chat_from(
    world: World,
    address: str,
    body: dict[str, Any],
    path: str = "messages",
    *,
    bob: bool = False,
) -> httpx.Response:
    """What footage-chat.js sends, from a browser at `address` on Alice's (or Bob's) site."""
    site_key, origin = (
        (world.bob.site_key, "https://bob.example") if bob else (world.alice.site_key, ORIGIN)
    )
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(base_url=world.server.url, transport=transport, timeout=30) as http:
        return http.post(
            f"/api/v1/chat/{path}",
            content=json.dumps({"site_key": site_key, **body}),
            headers={"Content-Type": "text/plain", "Origin": origin},
        )


def new_conversation(world: World, address: str, *, bob: bool = False) -> httpx.Response:
    """A first message from a visitor id never seen before (a script rotating its ids)."""
    return chat_from(
        world,
        address,
        {"visitor_id": f"vis-{uuid.uuid4().hex}", "text": "Hello", "id": f"m-{uuid.uuid4().hex}"},
        bob=bob,
    )


def reply(
    world: World, address: str, started: dict[str, Any], text: str = "More"
) -> httpx.Response:
    return chat_from(
        world,
        address,
        {
            "visitor_id": "vis-0123456789abcdef",
            "text": text,
            "id": f"m-{uuid.uuid4().hex}",
            "conversation_id": started["conversation_id"],
            "token": started["token"],
        },
    )


def enable_chat(world: World) -> None:
    world.svc.db.run("UPDATE sites SET chat_enabled = 1")  # Alice's and Bob's


def conversations(world: World, site_id: str) -> int:
    row = world.svc.db.one(
        "SELECT COUNT(*) AS n FROM conversations WHERE site_id = :s", {"s": site_id}
    )
    return int(row["n"]) if row else 0


def assert_slowed(r: httpx.Response, code: str, says: str) -> int:
    """429 with a Retry-After the chat box may read, and a message it can show; the wait."""
    assert r.status_code == 429, r.text
    error = r.json()["error"]
    assert error["code"] == code and says in error["message"], error
    wait = int(r.headers["Retry-After"])
    assert f"wait {wait_words(wait)}" in error["message"]
    assert "Retry-After" in r.headers["Access-Control-Expose-Headers"]
    assert r.headers["Access-Control-Allow-Origin"] in (ORIGIN, "https://bob.example")
    return wait


@pytest.fixture
def limited(tmp_path: Path, database_url: str, clock: FrozenClock) -> Iterator[World]:
    """The default per-address limits, and a site limit small enough to reach in a test."""
    made = make_world(tmp_path, database_url, clock, chat_site_new_conversations=4)
    enable_chat(made)
    yield made
    made.server.stop()


def test_one_address_starts_ten_conversations_an_hour_per_site(world: World) -> None:
    enable_chat(world)
    assert world.svc.settings.chat_ip_new_conversations == 10
    started = [new_conversation(world, ATTACKER) for _ in range(10)]
    assert [r.status_code for r in started] == [200] * 10
    wait = assert_slowed(
        new_conversation(world, ATTACKER),
        "too_many_conversations",
        "Too many new conversations were started from your network",
    )
    assert 300 <= wait <= 360, wait  # one conversation comes back every 6 minutes
    assert conversations(world, world.alice.site_id) == 10
    # Other addresses, and the same address on another site, are not affected.
    assert new_conversation(world, NEIGHBOUR).status_code == 200
    assert new_conversation(world, ATTACKER, bob=True).status_code == 200
    # The conversations already open go on.
    assert reply(world, ATTACKER, started[0].json()).status_code == 200
    # After the wait, one more.
    world.clock.advance(wait)
    assert new_conversation(world, ATTACKER).status_code == 200
    assert new_conversation(world, ATTACKER).status_code == 429
    assert conversations(world, world.alice.site_id) == 12


def test_one_address_sends_thirty_messages_a_minute_per_site(world: World) -> None:
    enable_chat(world)
    assert world.svc.settings.chat_ip_messages == 30
    # Two conversations (each also under its own 20 a minute): 2 + 14 + 14 messages.
    first, second = (new_conversation(world, ATTACKER).json() for _ in range(2))
    sent = [reply(world, ATTACKER, c, f"{i}") for i in range(14) for c in (first, second)]
    assert [r.status_code for r in sent] == [200] * 28
    refused = reply(world, ATTACKER, first, "one too many")
    wait = assert_slowed(refused, "too_many_messages", "You are sending messages too fast")
    assert 1 <= wait <= 2, wait  # a message comes back every 2 s
    # Nothing refused was stored; the typed text is the browser's to keep.
    texts = world.svc.db.all("SELECT text FROM conversation_messages WHERE text = 'one too many'")
    assert texts == []
    # Another address writes on.
    neighbour = new_conversation(world, NEIGHBOUR).json()
    assert reply(world, NEIGHBOUR, neighbour).status_code == 200
    world.clock.advance(wait)
    assert reply(world, ATTACKER, first, "after the wait").status_code == 200


def test_one_site_gets_a_bounded_number_of_new_conversations_an_hour(limited: World) -> None:
    world = limited
    addresses = [f"127.0.1.{i}" for i in range(1, 6)]
    answers = [new_conversation(world, a) for a in addresses]
    assert [r.status_code for r in answers] == [200, 200, 200, 200, 429]
    wait = assert_slowed(answers[-1], "site_busy", "This site is receiving more new conversations")
    assert 800 <= wait <= 900, wait  # 4 an hour: one every 15 minutes
    assert conversations(world, world.alice.site_id) == 4
    # Another site is not affected, nor are the conversations already open.
    assert new_conversation(world, addresses[-1], bob=True).status_code == 200
    assert reply(world, addresses[0], answers[0].json()).status_code == 200
    # An hour later the site takes new conversations again.
    world.clock.advance(3600)
    assert [new_conversation(world, addresses[-1]).status_code for _ in range(4)] == [200] * 4


def test_limits_at_zero_are_off(tmp_path: Path, database_url: str, clock: FrozenClock) -> None:
    world = make_world(
        tmp_path,
        database_url,
        clock,
        chat_ip_new_conversations=0,
        chat_site_new_conversations=0,
        chat_ip_messages=0,
    )
    try:
        enable_chat(world)
        assert {new_conversation(world, ATTACKER).status_code for _ in range(15)} == {200}
    finally:
        world.server.stop()


def test_a_body_is_read_only_up_to_its_limit(world: World) -> None:
    enable_chat(world)
    headers = {"Content-Type": "text/plain", "Origin": ORIGIN}
    with world.server.client() as http:
        # Announced too large: refused before it is read.
        r = http.post("/api/v1/chat/messages", content=b"x" * 40_000, headers=headers)
        assert r.status_code == 413 and "32,768 bytes" in r.json()["error"]["message"]

        # Sent without a length (chunked), it is cut off at the limit all the same.
        def endless() -> Iterator[bytes]:
            for _ in range(10_000):
                yield b"x" * 1024

        r = http.post("/api/v1/chat/poll", content=endless(), headers=headers)
        assert r.status_code == 413
    assert conversations(world, world.alice.site_id) == 0


def test_a_full_conversation_asks_for_a_new_one(world: World) -> None:
    enable_chat(world)
    started = new_conversation(world, ATTACKER).json()
    world.svc.db.run(
        "UPDATE conversations SET message_count = :n WHERE id = :c",
        {"n": MAX_CONVERSATION_MESSAGES, "c": started["conversation_id"]},
    )
    r = reply(world, ATTACKER, started)
    assert r.status_code == 409 and r.json()["error"]["code"] == "conversation_full"
    assert "without 'conversation_id'" in r.json()["error"]["message"]


def test_polls_per_address_are_bounded() -> None:
    now = [0.0]
    limits = ChatLimits(10, 500, 30, lambda: now[0], max_polls_per_address=2)
    limits.poll_started("127.0.0.2")
    limits.poll_started("127.0.0.2")
    with pytest.raises(TooManyRequests) as refused:
        limits.poll_started("127.0.0.2")
    assert refused.value.retry_after >= 1 and "chat windows" in refused.value.message
    limits.poll_started("127.0.0.3")  # another address
    limits.poll_ended("127.0.0.2")
    limits.poll_started("127.0.0.2")  # one ended: one may start
    for _ in range(2):
        limits.poll_ended("127.0.0.2")
    limits.poll_ended("127.0.0.3")
    assert limits.polls == {}  # nothing kept for addresses that wait no more


def test_the_buckets_refill_over_their_window() -> None:
    now = [0.0]
    limits = ChatLimits(2, 500, 3, lambda: now[0])
    for _ in range(2):
        limits.new_conversation("a", "site")
    with pytest.raises(TooManyRequests) as refused:
        limits.new_conversation("a", "site")
    assert refused.value.retry_after == 1800  # 2 an hour
    now[0] += 1800
    limits.new_conversation("a", "site")
    for _ in range(3):
        limits.message("a", "site")
    with pytest.raises(TooManyRequests) as refused:
        limits.message("a", "site")
    assert refused.value.retry_after == 20  # 3 a minute
    assert wait_words(1) == "1 second" and wait_words(119) == "119 seconds"
    assert wait_words(360) == "6 minutes" and wait_words(3600) == "60 minutes"


def test_the_external_api_bounds_its_body_and_message_times(world: World) -> None:
    now = world.clock.now_ms()
    with world.api() as http:
        big = b'{"visitor_id": "v-123456789", "messages": [' + b" " * 8_000_001 + b"]}"
        r = http.post("/api/v1/conversations", content=big)
        assert r.status_code == 413 and "several requests" in r.json()["error"]["message"]
        body = {
            "visitor_id": "v-123456789",
            "messages": [
                {"from": "visitor", "text": "From the future", "at": now + 3 * 86_400_000}
            ],
        }
        r = http.post("/api/v1/conversations", json=body)
        assert r.status_code == 400, r.text
        assert "'messages[0].at' is 3.0 days in the future" in r.json()["error"]["message"]
        # A clock a few minutes ahead is fine.
        body["messages"][0]["at"] = now + 300_000
        assert http.post("/api/v1/conversations", json=body).status_code == 201
