"""Two accounts on a real server with a frozen clock: Alice with one of each kind of object
(a recording of an identified visitor, a share link, a saved segment, a conversation, a
queued video, an API token), Bob next door; both logged in to the dashboard."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from footage.accounts.service import NewAccount
from footage.clock import FrozenClock, iso
from footage.store.db import Database
from tests.conftest import (
    LiveServer,
    free_port,
    login,
    make_account,
    settings_for,
    start_server,
)
from tests.share.conftest import VISITOR, identified_recording


@pytest.fixture
def server(tmp_path: Path, database_url: str, clock: FrozenClock) -> Iterator[LiveServer]:
    settings = settings_for(tmp_path, database_url=database_url, port=free_port())
    live = start_server(settings, clock)
    yield live
    live.stop()


@dataclass
class Browser:
    """A logged-in dashboard user: cookies in the client, the CSRF token for forms."""

    http: httpx.Client
    csrf: str


@dataclass
class Tenants:
    server: LiveServer
    clock: FrozenClock
    alice: NewAccount
    bob: NewAccount
    alice_web: Browser
    bob_web: Browser
    ids: dict[str, str]  # Alice's objects, by the path parameter that names them

    @property
    def db(self) -> Database:
        return self.server.services.db

    def api(self, who: NewAccount) -> httpx.Client:
        return self.server.client(headers={"Authorization": f"Bearer {who.api_token}"})


def browser(server: LiveServer, email: str) -> Browser:
    http = server.client()
    return Browser(http, login(http, email))


def table_names(db: Database) -> list[str]:
    if db.is_sqlite:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    else:
        sql = "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()"
    return sorted(r["name"] for r in db.all(sql))


def database_state(db: Database, ignore_audit_of: str | None = None) -> dict[str, list[str]]:
    """Every row of every table (as sorted text), to show that a request changed nothing.
    `ignore_audit_of`: an account whose own audit entries may grow (its harmless requests)."""
    state = {}
    for name in table_names(db):
        rows = db.all(f"SELECT * FROM {name}")
        if name == "audit_log" and ignore_audit_of:
            rows = [r for r in rows if r["account_id"] != ignore_audit_of]
        state[name] = sorted(repr(sorted(r.items())) for r in rows)
    return state


@pytest.fixture
def tenants(server: LiveServer, clock: FrozenClock) -> Iterator[Tenants]:
    svc = server.services
    alice = make_account(svc, "Alice", site_url="https://alice.example")
    bob = make_account(svc, "Bob", site_url="https://bob.example")
    recording_id, visitor_id = identified_recording(server, alice, clock)
    auth = {"Authorization": f"Bearer {alice.api_token}"}
    with server.client(headers=auth) as http:
        link = http.post(
            f"/api/v1/recordings/{recording_id}/share-links", json={"expires_in": "7d"}
        )
        segment = http.post(
            "/api/v1/segments", json={"name": "Rage", "query": "has_rage_clicks=true"}
        )
        conversation = http.post(
            "/api/v1/conversations",
            json={
                "visitor_id": visitor_id,
                "messages": [{"from": "visitor", "text": "Hello?", "at": iso(clock.now_ms())}],
            },
        )
    assert link.status_code == 201 and segment.status_code == 201, (link.text, segment.text)
    assert conversation.status_code == 201, conversation.text
    alice_web = browser(server, "alice@example.com")
    video = alice_web.http.post(
        f"/recordings/{recording_id}/video", headers={"X-CSRF-Token": alice_web.csrf}
    )
    assert video.status_code == 200 and video.json()["status"] == "queued", video.text
    bob_web = browser(server, "bob@example.com")
    token = svc.db.one("SELECT id FROM api_tokens WHERE account_id = :a", {"a": alice.account_id})
    assert token is not None
    ids = {
        "recording_id": recording_id,
        "visitor_id": visitor_id,
        "visitor_email": VISITOR["email"],
        "site_id": alice.site_id,
        "link_id": link.json()["id"],
        "segment_id": segment.json()["id"],
        "conversation_id": conversation.json()["id"],
        "token_id": token["id"],
        "n": "0",  # a piece of Alice's recording: the recording id is what Bob must not reach
    }
    yield Tenants(server, clock, alice, bob, alice_web, bob_web, ids)
    alice_web.http.close()
    bob_web.http.close()


def app_routes(server: LiveServer) -> list[tuple[str, str]]:
    """(method, path) of every route the app has, from the app itself, so a route added later
    is walked by the tests that use this without anyone listing it."""
    from fastapi.routing import iter_route_contexts

    app = server.server.config.app.app  # RecorderEndpoints in front of the FastAPI app
    found = set()
    for route in iter_route_contexts(app.routes):
        for method in route.methods or ():
            if route.path and method != "HEAD":
                found.add((method, route.path))
    return sorted(found)
