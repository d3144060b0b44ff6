"""A real server on loopback with a frozen clock (the tests move time), Alice and Bob, and
helpers to record a visit of one of Alice's visitors."""

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
from tests.sessions.test_finalizer import send

ORIGIN = "https://alice.example"


@dataclass
class World:
    server: LiveServer
    clock: FrozenClock
    alice: NewAccount
    bob: NewAccount

    @property
    def svc(self) -> Any:
        return self.server.services

    def api(self, who: NewAccount | None = None) -> httpx.Client:
        token = (who or self.alice).api_token
        return self.server.client(headers={"Authorization": f"Bearer {token}"})

    def visit(self, seconds: float = 40, leave: bool = True, **batch: Any) -> tuple[str, str]:
        """A visit of a new visitor to Alice's site: (recording id, visitor id). Left and
        finalized unless `leave` is false (then it stays live)."""
        ids, t = new_ids(), self.clock.now_ms()
        events = [meta(t), full_snapshot(t + 1, "Trail shoes"), move(t + 500)]
        events.append(move(t + int(seconds * 1000)))
        accepted = send(self.svc, self.alice.site_key, ids, 0, events, left=leave, **batch)
        if leave:
            self.clock.advance(seconds + 11)
            self.svc.finalizer.run_once()
        return accepted.recording_id, ids["visitor_id"]

    def chat(
        self, body: dict[str, Any], path: str = "messages", origin: str = ORIGIN
    ) -> httpx.Response:
        """What footage-chat.js sends: JSON as text/plain, from a page of Alice's site."""
        import json

        with self.server.client() as http:
            return http.post(
                f"/api/v1/chat/{path}",
                content=json.dumps({"site_key": self.alice.site_key, **body}),
                headers={"Content-Type": "text/plain", "Origin": origin},
            )


def make_world(tmp_path: Path, database_url: str, clock: FrozenClock, **settings: Any) -> World:
    """A server with `settings` (the test's own limits, say), Alice and Bob; stop it after."""
    server = start_server(
        settings_for(tmp_path, database_url=database_url, port=free_port(), **settings), clock
    )
    svc = server.services
    alice = make_account(svc, "Alice", site_url=ORIGIN)
    bob = make_account(svc, "Bob", site_url="https://bob.example")
    return World(server, clock, alice, bob)


@pytest.fixture
def world(tmp_path: Path, database_url: str, clock: FrozenClock) -> Iterator[World]:
    made = make_world(tmp_path, database_url, clock)
    yield made
    made.server.stop()
