"""Who the visitor is (the batch's `visitor` field): it lands on the visitor's row, shows in the
API, is merged batch by batch, is refused when malformed, and goes with an erasure."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from footage.accounts.service import NewAccount
from footage.clock import FrozenClock
from footage.ingest.wire import Scalar
from footage.ingest.writer import merge_variables
from tests.conftest import (
    START_MS,
    LiveServer,
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

ORIGIN = "https://alice.example"
JANE = {
    "id": "customer-42",
    "name": "Jane Quokka",
    "email": "Jane.Quokka@Example.org",
    "variables": {
        "plan": {"label": "Plan", "value": "Gold"},
        "orders": {"label": "Orders", "value": 12},
    },
}


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    """A real server whose clock the test moves; no background finalizer."""
    settings = settings_for(tmp_path, database_url=database_url, port=free_port())
    live = start_server(settings, FrozenClock(START_MS))
    yield live
    live.stop()


@pytest.fixture
def alice(server: LiveServer) -> NewAccount:
    return make_account(server.services, "Alice", site_url=ORIGIN)


def post(http: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    return http.post(
        "/api/v1/ingest", content=gz(body), headers={"Origin": ORIGIN, "Content-Type": "text/plain"}
    )


def visitor_row(server: LiveServer, visitor_id: str) -> dict[str, Any] | None:
    return server.services.db.one(
        "SELECT name, email, external_id, variables FROM visitors WHERE id = :v",
        {"v": visitor_id},
    )


def finish(server: LiveServer) -> None:
    clock = server.services.clock
    assert isinstance(clock, FrozenClock)
    clock.advance(11)
    assert server.services.finalizer.run_once() >= 1


def test_identity_lands_on_the_visitor_row_and_in_the_api(
    server: LiveServer, alice: NewAccount
) -> None:
    ids, t = new_ids(), START_MS
    first = [meta(t), full_snapshot(t + 1), click(t + 100)]
    with server.client() as http:
        r = post(http, batch(alice.site_key, ids, 0, first, visitor=JANE))
        assert r.status_code == 200, r.text
        rec = r.json()["recording_id"]
        row = visitor_row(server, ids["visitor_id"])
        assert row is not None
        assert (row["name"], row["email"], row["external_id"]) == (
            "Jane Quokka",
            "Jane.Quokka@Example.org",  # as given; erasure compares without regard to case
            "customer-42",
        )
        # A later batch of the same page view: the page exists already, the identity still
        # changes. Fields not sent stay; variables merge by key.
        later = {"name": "Jane Q.", "variables": {"orders": {"label": "Orders", "value": 13}}}
        r = post(http, batch(alice.site_key, ids, 1, [click(t + 200)], visitor=later))
        assert r.status_code == 200, r.text
        # A quiet page: a batch without events still carries who the visitor is.
        vip = {"variables": {"vip": {"label": "VIP", "value": True}}}
        r = post(http, batch(alice.site_key, ids, 2, [], visitor=vip, left=True))
        assert r.status_code == 200, r.text
    finish(server)
    with server.client(headers={"Authorization": f"Bearer {alice.api_token}"}) as http:
        item = http.get(f"/api/v1/recordings/{rec}").json()
    assert item["visitor"] == {
        "id": ids["visitor_id"],
        "name": "Jane Q.",
        "email": "Jane.Quokka@Example.org",
        "external_id": "customer-42",
        "variables": {
            "plan": {"label": "Plan", "value": "Gold"},
            "orders": {"label": "Orders", "value": 13},
            "vip": {"label": "VIP", "value": True},
        },
        "ip": None,
    }


def test_a_visitor_who_never_said_who_they_are(server: LiveServer, alice: NewAccount) -> None:
    ids, t = new_ids(), START_MS
    with server.client() as http:
        body = batch(alice.site_key, ids, 0, [meta(t), full_snapshot(t + 1)], left=True)
        rec = post(http, body).json()["recording_id"]
    finish(server)
    with server.client(headers={"Authorization": f"Bearer {alice.api_token}"}) as http:
        visitor = http.get(f"/api/v1/recordings/{rec}").json()["visitor"]
    assert visitor == {
        "id": ids["visitor_id"],
        "name": None,
        "email": None,
        "external_id": None,
        "variables": {},
        "ip": None,
    }


def test_identity_in_an_empty_beacon_reaches_a_known_visitor(
    server: LiveServer, alice: NewAccount
) -> None:
    ids, t = new_ids(), START_MS
    with server.client() as http:
        post(http, batch(alice.site_key, ids, 0, [meta(t), full_snapshot(t + 1)], left=True))
        finish(server)
        # Next visit: nothing recorded yet, only an empty leave beacon that says who it is.
        again = {**new_ids(), "visitor_id": ids["visitor_id"]}
        r = post(http, batch(alice.site_key, again, 0, [], left=True, visitor={"name": "Ann"}))
        assert r.status_code == 200 and r.json()["recording_id"] is None
        stranger = new_ids()
        r = post(http, batch(alice.site_key, stranger, 0, [], left=True, visitor={"name": "X"}))
        assert r.status_code == 200
    row = visitor_row(server, ids["visitor_id"])
    assert row is not None and row["name"] == "Ann"
    assert visitor_row(server, stranger["visitor_id"]) is None  # no row made for nothing


def test_a_malformed_visitor_is_a_400_that_names_the_field(
    server: LiveServer, alice: NewAccount
) -> None:
    t = START_MS
    body = batch(
        alice.site_key, new_ids(), 0, [meta(t), full_snapshot(t + 1)], visitor={"email": 42}
    )
    with server.client() as http:
        r = post(http, body)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "bad_field"
    assert "'visitor.email'" in r.json()["error"]["message"]


def test_erasure_removes_the_identity_and_the_moments(
    server: LiveServer, alice: NewAccount
) -> None:
    ids, t = new_ids(), START_MS
    event = {
        "type": 5,
        "data": {"tag": "footage.event", "payload": {"name": "added_to_cart", "props": {}}},
        "timestamp": t + 50,
    }
    with server.client() as http:
        body = batch(
            alice.site_key, ids, 0, [meta(t), full_snapshot(t + 1), event], left=True, visitor=JANE
        )
        rec = post(http, body).json()["recording_id"]
        finish(server)
        db = server.services.db
        count = "SELECT COUNT(*) AS n FROM recording_moments WHERE recording_id = :r"
        assert db.one(count, {"r": rec}) == {"n": 2}  # the page and the event
        auth = {"Authorization": f"Bearer {alice.api_token}"}
        # The address as the site sent it, in another letter case.
        r = http.delete(
            "/api/v1/visitors", params={"email": "jane.quokka@example.ORG"}, headers=auth
        )
        assert r.status_code == 200, r.text
        deleted = r.json()["deleted"]
        assert deleted["visitors"] == 1 and deleted["recordings"] == 1
    assert visitor_row(server, ids["visitor_id"]) is None
    assert db.one(count, {"r": rec}) == {"n": 0}


def test_merged_variables_keep_at_most_fifty() -> None:
    stored = {f"old{i}": {"label": f"Old {i}", "value": i} for i in range(45)}
    new: dict[str, dict[str, Scalar]] = {
        f"new{i}": {"label": f"New {i}", "value": i} for i in range(10)
    }
    merged = merge_variables(json.dumps(stored), new)
    assert len(merged) == 50
    assert all(key in merged for key in new)  # what the site just said always stays
    assert merge_variables("not json", new) == new
    one: dict[str, dict[str, Scalar]] = {"a": {"label": "A", "value": 1}}
    assert merge_variables(None, one) == one
    # The stored ones the batch did not mention keep their place before the new ones.
    assert list(merge_variables(json.dumps({"b": one["a"], "a": one["a"]}), one)) == ["b", "a"]
