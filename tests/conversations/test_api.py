"""The external-chat API: POST /api/v1/conversations creates or updates a conversation held
in another chat product; GET lists and shows them with the visitor's recordings. Bob never
sees Alice's."""

from __future__ import annotations

from typing import Any

import pytest

from footage.clock import iso
from tests.conversations.conftest import World


def messages_during(world: World, start_ms: int) -> list[dict[str, Any]]:
    return [
        {"from": "visitor", "text": "Where is my order?", "at": iso(start_ms)},
        {"from": "agent", "text": "Let me check.", "at": start_ms + 5_000, "author": "Sam"},
    ]


def test_external_chat_links_the_visit_and_is_idempotent(world: World) -> None:
    start = world.clock.now_ms()
    recording_id, visitor_id = world.visit(seconds=40)
    said = messages_during(world, start + 20_000)  # 20 s into the visit
    body = {"visitor_id": visitor_id, "external_id": "crisp-77", "messages": said}
    with world.api() as http:
        created = http.post("/api/v1/conversations", json=body)
        assert created.status_code == 201, created.text
        conv = created.json()
        assert conv["added_messages"] == 2
        assert conv["visitor"]["id"] == visitor_id
        assert conv["source"] == "api" and conv["external_id"] == "crisp-77"
        assert conv["unread"] is False  # answered in the other product, not in Footage's inbox
        assert [(m["from"], m["text"]) for m in conv["messages"]] == [
            ("visitor", "Where is my order?"),
            ("agent", "Let me check."),
        ]
        assert conv["messages"][1]["author"] == "Sam"
        [rec] = conv["recordings"]
        assert rec["id"] == recording_id and rec["status"] == "ready"
        assert rec["in_conversation"] is True
        # The player opens where the conversation started: 20 s after the visit's start.
        assert rec["start_ms"] == 20_000
        assert rec["url"] == f"{world.svc.settings.base_url}/recordings/{recording_id}?t=20000"
        assert rec["started_at"] == iso(start)

        # The whole conversation again, plus one new message: only the new one is added.
        again = http.post("/api/v1/conversations", json=body)
        assert again.status_code == 200 and again.json()["added_messages"] == 0
        more = {
            **body,
            "messages": [*said, {"from": "visitor", "text": "Thanks!", "at": start + 30_000}],
        }
        third = http.post("/api/v1/conversations", json=more)
        assert third.status_code == 200, third.text
        assert third.json()["added_messages"] == 1 and third.json()["id"] == conv["id"]
        assert len(third.json()["messages"]) == 3

        shown = http.get(f"/api/v1/conversations/{conv['id']}").json()
        assert [m["text"] for m in shown["messages"]] == [
            "Where is my order?",
            "Let me check.",
            "Thanks!",
        ]
        listed = http.get("/api/v1/conversations").json()
        assert [c["id"] for c in listed["items"]] == [conv["id"]]
        assert listed["items"][0]["recordings"][0]["id"] == recording_id
        # The recording knows its conversation, and the list can filter on it.
        assert (
            http.get(f"/api/v1/recordings/{recording_id}").json()["conversation_id"] == conv["id"]
        )
        with_chat = http.get("/api/v1/recordings", params={"has_conversation": "true"}).json()
        assert [r["id"] for r in with_chat["items"]] == [recording_id]


def test_identified_visitor_is_found_by_the_sites_own_id(world: World) -> None:
    start = world.clock.now_ms()
    identity = {"id": "customer-42", "name": "Jane Quokka", "email": "jane@example.org"}
    recording_id, visitor_id = world.visit(visitor=identity)
    with world.api() as http:
        r = http.post(
            "/api/v1/conversations",
            json={"visitor_id": "customer-42", "messages": messages_during(world, start + 1000)},
        )
    assert r.status_code == 201, r.text
    assert r.json()["visitor"] == {
        "id": visitor_id,
        "name": "Jane Quokka",
        "email": "jane@example.org",
        "external_id": "customer-42",
        "variables": {},
    }
    assert r.json()["recordings"][0]["id"] == recording_id


def test_earlier_visits_are_listed_but_not_linked(world: World) -> None:
    first, visitor_id = world.visit(seconds=30)
    world.clock.advance(3600)  # an hour later the visitor chats, without being recorded
    start = world.clock.now_ms()
    with world.api() as http:
        r = http.post(
            "/api/v1/conversations",
            json={"visitor_id": visitor_id, "messages": messages_during(world, start)},
        )
    [rec] = r.json()["recordings"]
    assert rec["id"] == first and rec["in_conversation"] is False and rec["start_ms"] == 0
    row = world.svc.db.one("SELECT conversation_id FROM recordings WHERE id = :r", {"r": first})
    assert row == {"conversation_id": None}


def test_a_conversation_before_the_recording_links_at_finalize(world: World) -> None:
    """The visitor chatted first (nothing recorded yet); the visit recorded right after is
    linked when the finalizer finishes it."""
    visitor_id = "vis-0123456789abcdef"
    start = world.clock.now_ms()
    with world.api() as http:
        conv = http.post(
            "/api/v1/conversations",
            json={"visitor_id": visitor_id, "messages": messages_during(world, start)},
        ).json()
    assert conv["recordings"] == []
    world.clock.advance(30)
    from tests.conftest import full_snapshot, meta, move
    from tests.sessions.test_finalizer import send

    t = world.clock.now_ms()
    ids = {
        "visitor_id": visitor_id,
        "session_id": "ses-0123456789ab",
        "page_id": "pag-0123456789ab",
    }
    rec = send(
        world.svc,
        world.alice.site_key,
        ids,
        0,
        [meta(t), full_snapshot(t + 1), move(t + 900)],
        left=True,
    )
    row = world.svc.db.one(
        "SELECT status, conversation_id FROM recordings WHERE id = :r", {"r": rec.recording_id}
    )
    assert row == {"status": "live", "conversation_id": None}
    world.clock.advance(11)
    assert world.svc.finalizer.run_once() == 1
    row = world.svc.db.one(
        "SELECT status, conversation_id FROM recordings WHERE id = :r", {"r": rec.recording_id}
    )
    assert row == {"status": "ready", "conversation_id": conv["id"]}
    with world.api() as http:
        [item] = http.get(f"/api/v1/conversations/{conv['id']}").json()["recordings"]
    assert item["id"] == rec.recording_id and item["in_conversation"] and item["url"]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (None, "send a JSON object"),
        ([], "send a JSON object"),
        ({"messages": []}, "'visitor_id' is missing"),
        ({"visitor_id": "v-123456789", "messages": []}, "'messages' must be a non-empty list"),
        ({"visitor_id": "v-123456789", "messages": "hi"}, "'messages' must be a non-empty list"),
        ({"visitor_id": "v-123456789", "messages": ["hi"]}, "'messages[0]' must be an object"),
        (
            {"visitor_id": "v-123456789", "messages": [{"from": "bot", "text": "x", "at": 1}]},
            "'messages[0].from' must be 'visitor' or 'agent'",
        ),
        (
            {"visitor_id": "v-123456789", "messages": [{"from": "agent", "text": " ", "at": 1}]},
            "'messages[0].text' must be a non-empty string",
        ),
        (
            {"visitor_id": "v-123456789", "messages": [{"from": "agent", "text": "x"}]},
            "'messages[0].at' must be when the message was sent",
        ),
        (
            {
                "visitor_id": "v-123456789",
                "messages": [{"from": "agent", "text": "x", "at": "yesterday"}],
            },
            "ISO 8601",
        ),
        (
            {
                "visitor_id": "v-123456789",
                "messages": [{"from": "agent", "text": "x", "at": "2026-11-29T10:00:00"}],
            },
            "with a time zone",
        ),
        (
            {
                "visitor_id": "v-123456789",
                "messages": [{"from": "agent", "text": "x" * 10_001, "at": 1}],
            },
            "at most 10,000 fit",
        ),
        (
            {
                "visitor_id": "v-123456789",
                "topic": "x",
                "messages": [{"from": "agent", "text": "x", "at": 1}],
            },
            "unknown field(s): topic",
        ),
    ],
)
def test_bad_input_says_what_to_fix(world: World, body: Any, says: str) -> None:
    with world.api() as http:
        r = http.post("/api/v1/conversations", json=body)
    assert r.status_code == 400, r.text
    assert says in r.json()["error"]["message"]


def test_a_visitor_on_several_sites_needs_the_site(world: World) -> None:
    from footage.accounts.service import sites_of

    second = world.svc.db.run(
        "INSERT INTO sites (id, account_id, name, url, site_key, allowed_origins, "
        "recording_enabled, is_demo, created_at) VALUES ('site_second', :a, 'Blog', "
        "'https://blog.alice.example', 's_second_site_key', '', 1, 0, 0)",
        {"a": world.alice.account_id},
    )
    assert second == 1
    said = [{"from": "visitor", "text": "Hi", "at": 1_795_000_000_000}]
    with world.api() as http:
        r = http.post("/api/v1/conversations", json={"visitor_id": "v-unknown-1", "messages": said})
        assert r.status_code == 400
        assert "pass 'site_id'" in r.json()["error"]["message"]
        ok = http.post(
            "/api/v1/conversations",
            json={"visitor_id": "v-unknown-1", "site_id": "site_second", "messages": said},
        )
        assert ok.status_code == 201 and ok.json()["site_id"] == "site_second"
    assert len(sites_of(world.svc.db, world.alice.account_id)) == 2


def test_bob_never_sees_alices_conversations(world: World) -> None:
    start = world.clock.now_ms()
    _, visitor_id = world.visit()
    with world.api() as http:
        conv = http.post(
            "/api/v1/conversations",
            json={"visitor_id": visitor_id, "messages": messages_during(world, start)},
        ).json()
    with world.api(world.bob) as http:
        r = http.get(f"/api/v1/conversations/{conv['id']}")
        assert r.status_code == 404 and r.json()["error"]["code"] == "conversation_not_found"
        assert http.get("/api/v1/conversations").json()["items"] == []
        said = [{"from": "agent", "text": "Hijack", "at": start}]
        r = http.post(
            "/api/v1/conversations",
            json={"visitor_id": visitor_id, "conversation_id": conv["id"], "messages": said},
        )
        assert r.status_code == 404
        r = http.post(
            "/api/v1/conversations",
            json={"visitor_id": visitor_id, "site_id": world.alice.site_id, "messages": said},
        )
        assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_site"
    with world.server.client() as http:
        assert http.get("/api/v1/conversations").status_code == 401
    count = world.svc.db.one("SELECT COUNT(*) AS n FROM conversation_messages")
    assert count == {"n": 2}  # Bob added nothing anywhere
