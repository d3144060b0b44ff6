"""Erasing a visitor deletes their conversations and every message, in the same transaction
as their recordings; other visitors' conversations stay."""

from __future__ import annotations

from footage.clock import iso
from tests.conversations.conftest import World


def chat_with(world: World, visitor_id: str, texts: list[str]) -> str:
    at = world.clock.now_ms()
    said = [{"from": "visitor", "text": t, "at": iso(at + i)} for i, t in enumerate(texts)]
    with world.api() as http:
        r = http.post("/api/v1/conversations", json={"visitor_id": visitor_id, "messages": said})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def counts(world: World) -> tuple[int, int]:
    c = world.svc.db.one("SELECT COUNT(*) AS n FROM conversations")
    m = world.svc.db.one("SELECT COUNT(*) AS n FROM conversation_messages")
    assert c and m
    return c["n"], m["n"]


def test_erasing_a_visitor_deletes_their_conversations(world: World) -> None:
    _, ann = world.visit(visitor={"email": "ann@example.com"})
    _, ben = world.visit()
    chat_with(world, ann, ["Hi", "My address is 1 Main St"])
    world.clock.advance(7200)
    kept = chat_with(world, ben, ["Ben here"])
    with world.api() as http:
        later = http.post(
            "/api/v1/conversations",
            json={
                "visitor_id": ann,
                "external_id": "other-product-9",
                "messages": [{"from": "agent", "text": "Answer", "at": world.clock.now_ms()}],
            },
        )
        assert later.status_code == 201  # a separate conversation: another external id
    assert counts(world) == (3, 4)
    with world.api() as http:
        r = http.delete(f"/api/v1/visitors/{ann}")
        assert r.status_code == 200, r.text
        deleted = r.json()["deleted"]
        assert (deleted["conversations"], deleted["messages"]) == (2, 3)
        assert deleted["recordings"] == 1 and deleted["visitors"] == 1
        assert http.get("/api/v1/conversations").json()["items"][0]["id"] == kept
    assert counts(world) == (1, 1)
    entry = world.svc.db.one("SELECT detail FROM audit_log WHERE action = 'visitor.erased'")
    assert entry and '"conversations":2' in entry["detail"] and "Main St" not in entry["detail"]


def test_erasing_by_email_and_from_the_dashboard(world: World) -> None:
    from tests.conftest import login

    _, ann = world.visit(visitor={"email": "ann@example.com"})
    _, ben = world.visit()
    chat_with(world, ann, ["Hi"])
    chat_with(world, ben, ["Ben here", "Still here"])
    with world.api() as http:
        r = http.delete("/api/v1/visitors", params={"email": "ANN@example.com"})
        assert r.json()["deleted"]["conversations"] == 1
    assert counts(world) == (1, 2)
    with world.server.client() as http:
        csrf = login(http, "alice@example.com")
        page = http.post("/visitors/erase", data={"csrf": csrf, "visitor_id": ben})
        assert page.status_code == 200 and "Conversations" in page.text
    assert counts(world) == (0, 0)
