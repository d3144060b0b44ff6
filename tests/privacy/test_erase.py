"""Erasing a visitor (GDPR): every row and blob of that visitor goes, nothing of anyone else's.

The API and dashboard tests run on a real server with a frozen clock and no background
finalizer, so the test decides which recordings are finished and which are still live.
"""

from __future__ import annotations

import concurrent.futures
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from footage.accounts import audit
from footage.accounts.passwords import hash_password
from footage.accounts.service import NewAccount
from footage.app import Services
from footage.clock import FrozenClock
from footage.errors import BadRequest
from footage.ingest.group import Pending
from footage.ingest.wire import parse_batch
from footage.privacy.erase import erase_visitor, erase_visitors_by_email
from footage.recordings.queries import iter_events_json
from footage.store import garbage
from footage.store.db import new_id
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
from tests.sessions.test_finalizer import VISIT, send

PASSWORD = "correct horse battery"
ZEROS = {
    "visitors": 0,
    "recordings": 0,
    "pages": 0,
    "chunks": 0,
    "blobs": 0,
    "conversations": 0,
    "messages": 0,
}


# --- a server with the erasure routes, and a world of visitors ---------------------------


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    settings = settings_for(tmp_path, database_url=database_url, port=free_port())
    live = start_server(settings, FrozenClock(START_MS))
    yield live
    live.stop()


@dataclass(frozen=True)
class Visitor:
    account: NewAccount
    origin: str
    id: str
    ready: str  # a finished recording
    live: str  # a recording still in progress (two batches, so two chunks)


@dataclass
class World:
    alice: NewAccount
    bob: NewAccount
    a1: Visitor
    a2: Visitor
    b1: Visitor

    @property
    def visitors(self) -> list[Visitor]:
        return [self.a1, self.a2, self.b1]


def post_batch(http: httpx.Client, acc: NewAccount, origin: str, body: dict[str, Any]) -> str:
    r = http.post(
        "/api/v1/ingest",
        content=gz(body),
        headers={"Origin": origin, "Content-Type": "text/plain"},
    )
    assert r.status_code == 200, r.text
    return str(r.json()["recording_id"])


@pytest.fixture
def world(server: LiveServer) -> World:
    svc = server.services
    clock = svc.clock
    assert isinstance(clock, FrozenClock)
    alice = make_account(svc, "Alice", site_url="https://alice.example")
    bob = make_account(svc, "Bob", site_url="https://bob.example")
    plan = [(alice, "https://alice.example"), (alice, "https://alice.example")]
    plan.append((bob, "https://bob.example"))
    t = clock.now_ms()
    finished: list[tuple[NewAccount, str, dict[str, str], str]] = []
    with server.client() as http:
        for acc, origin in plan:
            ids = new_ids()
            events = [meta(t, origin + "/"), full_snapshot(t + 1), click(t + 100)]
            body = batch(acc.site_key, ids, 0, events, url=origin + "/", left=True)
            finished.append((acc, origin, ids, post_batch(http, acc, origin, body)))
        clock.advance(11)
        assert svc.finalizer.run_once() == 3
        visitors = []
        for acc, origin, ids, ready in finished:
            # The same visitor comes back later: a new session, still live.
            later = {**new_ids(), "visitor_id": ids["visitor_id"]}
            t2 = clock.now_ms()
            first = [meta(t2, origin + "/cart"), full_snapshot(t2 + 1)]
            body = batch(acc.site_key, later, 0, first, url=origin + "/cart")
            live_id = post_batch(http, acc, origin, body)
            body = batch(acc.site_key, later, 1, [click(t2 + 500)], url=origin + "/cart")
            assert post_batch(http, acc, origin, body) == live_id
            visitors.append(Visitor(acc, origin, ids["visitor_id"], ready, live_id))
    return World(alice, bob, *visitors)


# --- helpers that look into the database and the blob store ------------------------------


def rows_of(svc: Services, v: Visitor) -> dict[str, int]:
    """How many rows of each table belong to this visitor."""
    recs = {"a": v.account.account_id, "v": v.id}
    of_recs = (
        "recording_id IN (SELECT id FROM recordings WHERE account_id = :a AND visitor_id = :v)"
    )
    counts = {
        "visitors": svc.db.one(
            "SELECT COUNT(*) AS n FROM visitors WHERE id = :v AND site_id IN "
            "(SELECT id FROM sites WHERE account_id = :a)",
            recs,
        ),
        "recordings": svc.db.one(
            "SELECT COUNT(*) AS n FROM recordings WHERE account_id = :a AND visitor_id = :v", recs
        ),
        "pages": svc.db.one(f"SELECT COUNT(*) AS n FROM recording_pages WHERE {of_recs}", recs),
        "chunks": svc.db.one(f"SELECT COUNT(*) AS n FROM chunks WHERE {of_recs}", recs),
    }
    return {name: int(row["n"]) for name, row in counts.items() if row is not None}


def keys_of(svc: Services, v: Visitor) -> set[str]:
    rows = svc.db.all(
        "SELECT DISTINCT blob_key FROM chunks WHERE recording_id IN (:r, :l)",
        {"r": v.ready, "l": v.live},
    )
    return {r["blob_key"] for r in rows}


def blob_file(svc: Services, key: str) -> Path:
    return svc.settings.data_path / "blobs" / key


def snapshot(svc: Services) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table that holds recording data, for before/after comparisons."""
    tables = ("visitors", "recordings", "recording_pages", "chunks", "segments", "blob_garbage")
    return {
        t: sorted((dict(r) for r in svc.db.all(f"SELECT * FROM {t}")), key=lambda r: repr(r))
        for t in tables
    }


def events_of(http: httpx.Client, token: str, recording_id: str) -> list[dict[str, Any]]:
    r = http.get(
        f"/api/v1/recordings/{recording_id}/events",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200, r.text
    events: list[dict[str, Any]] = r.json()
    return events


def erase_api(http: httpx.Client, token: str, visitor_id: str) -> httpx.Response:
    return http.delete(
        f"/api/v1/visitors/{visitor_id}", headers={"Authorization": f"Bearer {token}"}
    )


# --- the API ------------------------------------------------------------------------------


def test_erasing_a_visitor_deletes_their_rows_and_blobs_and_nothing_else(
    server: LiveServer, world: World
) -> None:
    svc = server.services
    a1, others = world.a1, [world.a2, world.b1]
    mine = keys_of(svc, a1)
    theirs = set().union(*(keys_of(svc, v) for v in others))
    # The setup this test relies on: batches sent one after another get a segment each, so
    # a1's live chunks share no segment with anyone (the shared case is tested below).
    segments = {s["blob_key"]: s["live_chunks"] for s in svc.db.all("SELECT * FROM segments")}
    assert [segments[k] for k in mine if k in segments] == [1, 1]
    assert len(mine) == 3 and all(blob_file(svc, k).exists() for k in mine)
    assert rows_of(svc, a1) == {"visitors": 1, "recordings": 2, "pages": 2, "chunks": 3}
    others_before = {v.id: rows_of(svc, v) for v in others}

    with server.client() as http:
        r = erase_api(http, world.alice.api_token, a1.id)
        assert r.status_code == 200, r.text
        assert r.json() == {
            "deleted": {
                "visitors": 1,
                "recordings": 2,
                "pages": 2,
                "chunks": 3,
                "blobs": 3,
                "conversations": 0,
                "messages": 0,
            },
            "pending_segment_bytes": 0,
            "note": None,
        }
        assert rows_of(svc, a1) == {"visitors": 0, "recordings": 0, "pages": 0, "chunks": 0}
        assert not any(blob_file(svc, k).exists() for k in mine)
        assert svc.db.all("SELECT * FROM blob_garbage") == []
        assert not any(s["blob_key"] in mine for s in svc.db.all("SELECT * FROM segments"))
        gone = http.get(
            f"/api/v1/recordings/{a1.ready}",
            headers={"Authorization": f"Bearer {world.alice.api_token}"},
        )
        assert gone.status_code == 404

        # Everyone else: rows, blobs and events exactly as before.
        assert {v.id: rows_of(svc, v) for v in others} == others_before
        assert all(blob_file(svc, k).exists() for k in theirs)
        for v in others:
            assert [e["type"] for e in events_of(http, v.account.api_token, v.ready)] == [4, 2, 3]
            live = json.loads(b"".join(iter_events_json(svc.db, svc.blobs, v.live)))
            assert [e["type"] for e in live] == [4, 2, 3]


def test_bobs_token_cannot_erase_alices_visitor(server: LiveServer, world: World) -> None:
    svc = server.services
    before = snapshot(svc)
    with server.client() as http:
        r = erase_api(http, world.bob.api_token, world.a1.id)
        assert r.status_code == 200
        assert r.json()["deleted"] == ZEROS
        assert snapshot(svc) == before
        assert [e["type"] for e in events_of(http, world.alice.api_token, world.a1.ready)] == [
            4,
            2,
            3,
        ]


def test_unknown_visitor_gives_zeros_and_a_second_erasure_too(
    server: LiveServer, world: World
) -> None:
    token = world.alice.api_token
    with server.client() as http:
        assert erase_api(http, token, "vis-nobody").json()["deleted"] == ZEROS
        assert erase_api(http, token, world.a1.id).json()["deleted"]["recordings"] == 2
        again = erase_api(http, token, world.a1.id)
    assert again.status_code == 200 and again.json()["deleted"] == ZEROS


def test_erasing_by_email_matches_case_insensitively_and_exactly(
    server: LiveServer, world: World
) -> None:
    svc = server.services
    # Setting a visitor's e-mail from the browser is a later feature; set it directly.
    emails = {
        world.a1: "Ann.Visitor@Example.com",
        world.a2: "ann.visitor@example.co",  # a different address
        world.b1: "ann.visitor@example.com",  # the same address, at another account
    }
    for v, email in emails.items():
        svc.db.run("UPDATE visitors SET email = :e WHERE id = :v", {"e": email, "v": v.id})
    others = {v.id: rows_of(svc, v) for v in (world.a2, world.b1)}
    with server.client() as http:
        r = http.delete(
            "/api/v1/visitors",
            params={"email": "  ann.VISITOR@example.COM "},
            headers={"Authorization": f"Bearer {world.alice.api_token}"},
        )
    assert r.status_code == 200, r.text
    assert r.json()["deleted"] == {
        "visitors": 1,
        "recordings": 2,
        "pages": 2,
        "chunks": 3,
        "blobs": 3,
        "conversations": 0,
        "messages": 0,
    }
    assert rows_of(svc, world.a1) == {"visitors": 0, "recordings": 0, "pages": 0, "chunks": 0}
    assert {v.id: rows_of(svc, v) for v in (world.a2, world.b1)} == others


def test_erasing_by_email_needs_a_valid_address(server: LiveServer, world: World) -> None:
    auth = {"Authorization": f"Bearer {world.alice.api_token}"}
    before = snapshot(server.services)
    with server.client(headers=auth) as http:
        missing = http.delete("/api/v1/visitors")
        empty = http.delete("/api/v1/visitors", params={"email": " "})
        invalid = http.delete("/api/v1/visitors", params={"email": "ann at example"})
    for r in (missing, empty):
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "email_required"
        assert "?email=" in r.json()["error"]["message"]
    assert invalid.status_code == 400
    assert invalid.json()["error"]["code"] == "bad_email"
    assert "not an e-mail address" in invalid.json()["error"]["message"]
    assert snapshot(server.services) == before


def test_the_audit_log_has_counts_and_no_personal_data(server: LiveServer, world: World) -> None:
    svc = server.services
    email = "Ann.Visitor@Example.com"
    svc.db.run("UPDATE visitors SET email = :e WHERE id = :v", {"e": email, "v": world.a2.id})
    with server.client(headers={"Authorization": f"Bearer {world.alice.api_token}"}) as http:
        assert http.delete(f"/api/v1/visitors/{world.a1.id}").status_code == 200
        assert http.delete("/api/v1/visitors", params={"email": email}).status_code == 200
    # Both at the same frozen millisecond, so the log's order between them is arbitrary.
    logged = {e["detail"]["by"]: e for e in audit.entries(svc.db, world.alice.account_id)}
    by_id, by_email = logged["id"], logged["email"]
    token = svc.db.one(
        "SELECT id FROM api_tokens WHERE account_id = :a", {"a": world.alice.account_id}
    )
    assert token is not None
    for entry in (by_id, by_email):
        assert entry["action"] == "visitor.erased"
        assert entry["actor"] == f"token:{token['id']}"
        assert entry["at"] == START_MS + 11_000
    assert by_id["detail"] == {
        "by": "id",
        "visitors": 1,
        "recordings": 2,
        "pages": 2,
        "chunks": 3,
        "blobs": 3,
        "conversations": 0,
        "messages": 0,
        "pending_segment_bytes": 0,
    }
    assert by_email["detail"]["by"] == "email" and by_email["detail"]["visitors"] == 1
    stored = repr(svc.db.all("SELECT * FROM audit_log")).lower()
    for personal in (world.a1.id, world.a2.id, email, world.a1.ready, world.a2.ready):
        assert personal.lower() not in stored
    assert audit.entries(svc.db, world.bob.account_id) == []


def test_the_api_needs_a_bearer_token_even_when_logged_in(server: LiveServer, world: World) -> None:
    before = snapshot(server.services)
    with server.client() as http:
        anonymous = http.delete(f"/api/v1/visitors/{world.a1.id}")
        assert log_in(http).status_code == 303
        with_cookie = http.delete(f"/api/v1/visitors/{world.a1.id}")
        by_email = http.delete("/api/v1/visitors", params={"email": "a@example.com"})
    for r in (anonymous, with_cookie, by_email):
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert snapshot(server.services) == before


def test_openapi_lists_the_erasure_endpoints(server: LiveServer) -> None:
    with server.client() as http:
        paths = http.get("/api/openapi.json").json()["paths"]
    assert paths["/api/v1/visitors/{visitor_id}"]["delete"]["tags"] == ["visitors"]
    assert "delete" in paths["/api/v1/visitors"]


# --- the dashboard form -------------------------------------------------------------------


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def log_in(http: httpx.Client, email: str = "alice@example.com") -> httpx.Response:
    page = http.get("/login")
    return http.post(
        "/login",
        data={"email": email, "password": PASSWORD, "csrf": csrf_of(page.text), "next": "/"},
    )


def test_the_dashboard_form_erases_for_the_owner(server: LiveServer, world: World) -> None:
    svc = server.services
    with server.client() as http:
        assert log_in(http).status_code == 303
        csrf = csrf_of(http.get("/install").text)
        r = http.post(
            "/visitors/erase",
            data={"csrf": csrf, "site_id": world.alice.site_id, "visitor_id": world.a1.id},
        )
    assert r.status_code == 200, r.text
    assert "Visitor erased" in r.text and 'href="/recordings"' in r.text
    assert re.search(r"<dt>Recordings</dt><dd>2</dd>", r.text)
    assert re.search(r"<dt>Files</dt><dd>3</dd>", r.text)
    assert rows_of(svc, world.a1) == {"visitors": 0, "recordings": 0, "pages": 0, "chunks": 0}
    [entry] = audit.entries(svc.db, world.alice.account_id)
    assert entry["actor"] == f"user:{world.alice.user_id}"


def test_the_dashboard_form_needs_a_login_and_the_csrf_token(
    server: LiveServer, world: World
) -> None:
    svc = server.services
    before = snapshot(svc)
    form = {"site_id": world.alice.site_id, "visitor_id": world.a1.id}
    with server.client() as http:
        csrf = csrf_of(http.get("/login").text)
        anonymous = http.post("/visitors/erase", data={**form, "csrf": csrf})
        assert log_in(http).status_code == 303
        forged = http.post("/visitors/erase", data={**form, "csrf": "forged"})
        without = http.post("/visitors/erase", data=form)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    for r in (forged, without):
        assert r.status_code == 403 and "reload the page" in r.text
    assert snapshot(svc) == before


def test_only_the_owner_may_erase_from_the_dashboard(server: LiveServer, world: World) -> None:
    svc = server.services
    svc.db.run(
        "INSERT INTO users (id, account_id, email, password_hash, role, created_at) "
        "VALUES (:id, :a, 'member@example.com', :h, 'member', :t)",
        {
            "id": new_id("usr"),
            "a": world.alice.account_id,
            "h": hash_password(PASSWORD),
            "t": START_MS,
        },
    )
    before = snapshot(svc)
    with server.client() as http:
        assert log_in(http, "member@example.com").status_code == 303
        csrf = csrf_of(http.get("/install").text)
        r = http.post("/visitors/erase", data={"csrf": csrf, "visitor_id": world.a1.id})
    assert r.status_code == 403 and "Only the account owner" in r.text
    assert snapshot(svc) == before


def test_the_dashboard_form_refuses_unclear_input(server: LiveServer, world: World) -> None:
    before = snapshot(server.services)
    with server.client() as http:
        assert log_in(http).status_code == 303
        csrf = csrf_of(http.get("/install").text)
        cases = {
            "neither": {"csrf": csrf},
            "both": {"csrf": csrf, "visitor_id": world.a1.id, "email": "a@example.com"},
            "bad e-mail": {"csrf": csrf, "email": "not an address"},
            "bob's site": {"csrf": csrf, "site_id": world.bob.site_id, "visitor_id": world.a1.id},
        }
        answers = {name: http.post("/visitors/erase", data=data) for name, data in cases.items()}
    assert {name: r.status_code for name, r in answers.items()} == {
        "neither": 400,
        "both": 400,
        "bad e-mail": 400,
        "bob's site": 404,
    }
    assert "Nothing was erased" in answers["bad e-mail"].text
    assert snapshot(server.services) == before


# --- the erasure functions, without a server ---------------------------------------------


def test_bytes_in_a_segment_shared_with_another_visitor_are_pending_until_it_is_released(
    svc: Services, alice: NewAccount, clock: FrozenClock
) -> None:
    t = clock.now_ms()
    mine, theirs = new_ids(), new_ids()
    writer = svc.ingest.writer
    # Hold the writer inside a group, queue both visitors' batches, then let it go: the two
    # are the next group, so they share one segment.
    busy, gate = threading.Event(), threading.Event()

    def hold(conn: Any, key: str | None, offset: int) -> None:
        busy.set()
        gate.wait(10)

    blocked = Pending(None, hold)
    writer.enqueue(blocked)
    assert busy.wait(10)
    pending = [
        svc.ingest.prepare(parse_batch(batch(alice.site_key, ids, 0, events)), VISIT)
        for ids, events in ((mine, [meta(t), full_snapshot(t + 1)]), (theirs, [meta(t)]))
    ]
    for item in pending:
        writer.enqueue(item)
    gate.set()
    blocked.future.result(10)
    for item in pending:
        item.future.result(10)
    [segment] = svc.db.all("SELECT * FROM segments")
    assert segment["live_chunks"] == 2
    chunk = svc.db.one(
        "SELECT c.* FROM chunks c JOIN recordings r ON r.id = c.recording_id "
        "WHERE r.visitor_id = :v",
        {"v": mine["visitor_id"]},
    )
    assert chunk is not None

    result = erase_visitor(
        svc.db,
        svc.blobs,
        clock,
        alice.account_id,
        mine["visitor_id"],
        "test",
        on_delete=svc.on_delete,
    )

    assert result == {
        "visitors": 1,
        "recordings": 1,
        "pages": 1,
        "chunks": 1,
        "blobs": 0,
        "conversations": 0,
        "messages": 0,
        "pending_segment_bytes": chunk["blob_length"],
    }
    [segment] = svc.db.all("SELECT * FROM segments")
    assert segment["live_chunks"] == 1 and svc.blobs.exists(segment["blob_key"])
    # The other visitor's recording finishes; its segment goes with it, and with it our bytes.
    clock.advance(61)
    assert svc.finalizer.run_once() == 1
    assert svc.db.all("SELECT * FROM segments") == []
    assert not svc.blobs.exists(segment["blob_key"])


@pytest.fixture
def bob_any_origin(svc: Services, bob: NewAccount) -> NewAccount:
    """Bob's site accepts the batches the helpers send (with alice's origin)."""
    svc.db.run("UPDATE sites SET allowed_origins = '' WHERE id = :s", {"s": bob.site_id})
    return bob


def test_a_visitor_id_is_erased_on_every_site_of_the_account_only(
    svc: Services, alice: NewAccount, bob_any_origin: NewAccount, clock: FrozenClock
) -> None:
    bob = bob_any_origin
    # A second site of alice's, accepting any origin.
    second_key = "s_second-site-key"
    svc.db.run(
        "INSERT INTO sites (id, account_id, name, url, site_key, allowed_origins, "
        "recording_enabled, is_demo, created_at) "
        "VALUES ('site_second', :a, 'Second', '', :k, '', 1, 0, :t)",
        {"a": alice.account_id, "k": second_key, "t": clock.now_ms()},
    )
    t, visitor = clock.now_ms(), "vis-on-many-sites"
    for key in (alice.site_key, second_key, bob.site_key):
        ids = {**new_ids(), "visitor_id": visitor}
        send(svc, key, ids, 0, [meta(t), full_snapshot(t + 1)], url="https://alice.example/")

    result = erase_visitor(
        svc.db, svc.blobs, clock, alice.account_id, visitor, "test", on_delete=svc.on_delete
    )

    assert (result["visitors"], result["recordings"], result["blobs"]) == (2, 2, 2)
    left = svc.db.all("SELECT site_id FROM visitors WHERE id = :v", {"v": visitor})
    assert left == [{"site_id": bob.site_id}]
    assert len(svc.db.all("SELECT * FROM recordings WHERE visitor_id = :v", {"v": visitor})) == 1


def test_a_recording_being_finalized_leaves_no_blob_behind(
    svc: Services, alice: NewAccount, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The erasure lands while a finalizer merges the recording: the merged blob it writes
    afterwards is deleted by the sweeper once the finalizer's lease has passed."""
    ids, t = new_ids(), clock.now_ms()
    rec = send(svc, alice.site_key, ids, 0, [meta(t), full_snapshot(t + 1)], left=True)
    clock.advance(11)
    [(rec_id, claimed_at)] = svc.finalizer.claim_due()
    merged = f"recordings/{alice.site_id}/{rec_id}.ndjson.zst"
    real_put = svc.blobs.put
    results: list[dict[str, int]] = []

    def put_after_erasure(key: str, data: bytes) -> None:
        if key == merged:  # the finalizer has read the chunks; now the erasure commits
            results.append(
                erase_visitor(
                    svc.db,
                    svc.blobs,
                    clock,
                    alice.account_id,
                    ids["visitor_id"],
                    "t",
                    on_delete=svc.on_delete,
                )
            )
        real_put(key, data)

    monkeypatch.setattr(svc.blobs, "put", put_after_erasure)
    assert svc.finalizer.finalize(rec_id, claimed_at) is False  # it lost the recording
    assert rec.recording_id == rec_id and results[0]["recordings"] == 1
    assert results[0]["blobs"] == 1  # the segment, released at zero
    assert svc.blobs.exists(merged)  # written after the erasure…
    lease = svc.finalizer.timings.lease_ms
    assert garbage.sweep(svc.db, svc.blobs, clock.now_ms(), lease) == 0
    clock.advance(lease / 1000 + 1)
    assert garbage.sweep(svc.db, svc.blobs, clock.now_ms(), lease) == 1
    assert not svc.blobs.exists(merged)  # …and swept after the lease
    assert svc.db.all("SELECT * FROM blob_garbage") == []
    assert svc.db.all("SELECT * FROM segments") == []


def test_erasing_by_email_compares_non_ascii_addresses_too(
    svc: Services, alice: NewAccount, clock: FrozenClock
) -> None:
    ids, t = new_ids(), clock.now_ms()
    send(svc, alice.site_key, ids, 0, [meta(t), full_snapshot(t + 1)])
    svc.db.run(
        "UPDATE visitors SET email = :e WHERE id = :v",
        {"e": "Zoë.Ünal@Example.com", "v": ids["visitor_id"]},
    )
    result = erase_visitors_by_email(
        svc.db,
        svc.blobs,
        clock,
        alice.account_id,
        "zoË.üNAL@example.com",
        "test",
        on_delete=svc.on_delete,
    )
    assert (result["visitors"], result["recordings"]) == (1, 1)


@pytest.mark.parametrize(
    ("kind", "value", "code"),
    [
        ("id", "", "bad_request"),
        ("id", "  ", "bad_request"),
        ("email", "", "email_required"),
        ("email", "ann", "bad_email"),
        ("email", "ann@@example.com", "bad_email"),
        ("email", "ann@example", "bad_email"),
        ("email", "a" * 320 + "@example.com", "bad_email"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(
    svc: Services, alice: NewAccount, clock: FrozenClock, kind: str, value: str, code: str
) -> None:
    erase = erase_visitor if kind == "id" else erase_visitors_by_email
    with pytest.raises(BadRequest) as err:
        erase(svc.db, svc.blobs, clock, alice.account_id, value, "test", on_delete=svc.on_delete)
    assert err.value.code == code and err.value.message
    assert audit.entries(svc.db, alice.account_id) == []


def test_erasures_racing_ingest_keep_every_segment_count_exact(
    svc: Services, alice: NewAccount, clock: FrozenClock
) -> None:
    """Batches keep arriving (grouped into shared segments) while two of the visitors are
    erased again and again: each segment's count stays the number of chunks in it, and once
    everything is finalized no blob is left that no row needs."""
    t = clock.now_ms()
    visitors = [new_ids() for _ in range(8)]
    erased = [visitors[0]["visitor_id"], visitors[1]["visitor_id"]]

    def browse(ids: dict[str, str]) -> None:
        for seq in range(12):
            events = [meta(t + seq), full_snapshot(t + seq + 1)] if seq == 0 else [click(t + seq)]
            send(svc, alice.site_key, ids, seq, events)

    def erase_repeatedly() -> int:
        total = 0
        for _ in range(6):
            for visitor_id in erased:
                total += erase_visitor(
                    svc.db,
                    svc.blobs,
                    clock,
                    alice.account_id,
                    visitor_id,
                    "test",
                    on_delete=svc.on_delete,
                )["recordings"]
            time.sleep(0.01)
        return total

    with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
        browsing = [pool.submit(browse, ids) for ids in visitors]
        erasing = pool.submit(erase_repeatedly)
        for f in browsing:
            f.result()
        assert erasing.result() >= 1

    counts = {
        r["blob_key"]: r["n"]
        for r in svc.db.all("SELECT blob_key, COUNT(*) AS n FROM chunks GROUP BY blob_key")
    }
    for segment in svc.db.all("SELECT * FROM segments"):
        assert segment["live_chunks"] == counts.get(segment["blob_key"], 0)
    for key in counts:
        assert svc.blobs.exists(key)

    clock.advance(61)
    svc.finalizer.run_once()
    assert svc.db.all("SELECT * FROM segments") == []
    assert svc.db.all("SELECT * FROM blob_garbage") == []
    root = svc.settings.data_path / "blobs"
    on_disk = {str(p.relative_to(root)) for p in root.rglob("*.zst")}
    referenced = {r["blob_key"] for r in svc.db.all("SELECT blob_key FROM chunks")}
    assert on_disk == referenced
