"""A real server on loopback with a frozen clock (the tests move time), and a ready recording
of an identified visitor whose IP the site keeps: everything a share link must not show."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from footage.accounts.service import NewAccount
from footage.clock import FrozenClock
from tests.conftest import (
    LiveServer,
    free_port,
    full_snapshot,
    make_account,
    meta,
    move,
    new_ids,
    settings_for,
    start_server,
)
from tests.sessions.test_finalizer import VISIT, send

VISITOR = {
    "id": "customer-42",
    "name": "Jane Quokka",
    "email": "jane.quokka@example.org",
    "variables": {"source": {"label": "Came from", "value": "newsletter"}},
}
# Who the visitor is, in every form it is stored: none of it may reach a shared page.
IDENTITY = ("customer-42", "Jane Quokka", "jane.quokka@example.org", "Came from", "newsletter")
PAGE_TEXT = "Trail shoes for every season"


@dataclass
class Shared:
    """Alice's account, her identified visitor's recording, and Bob next door."""

    server: LiveServer
    clock: FrozenClock
    alice: NewAccount
    bob: NewAccount
    recording_id: str
    visitor_id: str

    def api(self, who: NewAccount | None = None, **kwargs: Any) -> httpx.Client:
        token = (who or self.alice).api_token
        return self.server.client(headers={"Authorization": f"Bearer {token}"}, **kwargs)

    def create(self, who: NewAccount | None = None, **body: Any) -> httpx.Response:
        with self.api(who) as http:
            return http.post(
                f"/api/v1/recordings/{self.recording_id}/share-links",
                json={"expires_in": "24h", **body},
            )


@pytest.fixture
def server(tmp_path: Path, database_url: str, clock: FrozenClock) -> Iterator[LiveServer]:
    settings = settings_for(tmp_path, database_url=database_url, port=free_port())
    live = start_server(settings, clock)
    yield live
    live.stop()


def identified_recording(server: LiveServer, account: NewAccount, clock: FrozenClock) -> Any:
    """A ready recording (about 40 s long) of an identified visitor on a site that keeps IPs."""
    svc = server.services
    svc.db.run("UPDATE sites SET record_ips = 1 WHERE id = :s", {"s": account.site_id})
    ids, t = new_ids(), clock.now_ms()
    events = [meta(t), full_snapshot(t + 1, PAGE_TEXT), move(t + 500), move(t + 40_000)]
    accepted = send(svc, account.site_key, ids, 0, events, left=True, visitor=VISITOR)
    clock.advance(11)
    svc.finalizer.run_once()
    return accepted.recording_id, ids["visitor_id"]


@pytest.fixture
def shared(server: LiveServer, clock: FrozenClock) -> Shared:
    alice = make_account(server.services, "Alice", site_url="https://alice.example")
    bob = make_account(server.services, "Bob", site_url="https://bob.example")
    recording_id, visitor_id = identified_recording(server, alice, clock)
    row = server.services.db.one(
        "SELECT status, ip FROM recordings WHERE id = :r", {"r": recording_id}
    )
    assert row == {"status": "ready", "ip": VISIT.ip}
    return Shared(server, clock, alice, bob, recording_id, visitor_id)
