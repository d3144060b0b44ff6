"""Share links through the REST API and the player page's dialog endpoints: create, list,
revoke; what is stored; expiry; bad input; other accounts; the audit log."""

from __future__ import annotations

import hashlib
import json

import pytest

from footage.accounts import audit
from footage.clock import iso
from footage.share.links import DAY_MS, HOUR_MS
from tests.conftest import START_MS, csrf_of, login
from tests.share.conftest import Shared

TOKEN_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def token_of(url: str) -> str:
    return url.rsplit("/share/", 1)[1]


def test_create_list_revoke(shared: Shared) -> None:
    created = shared.create(start_ms=12_000)
    assert created.status_code == 201, created.text
    link = created.json()
    token = token_of(link["url"])
    assert link["url"] == f"{shared.server.url}/share/{token}"
    assert len(token) >= 32 and set(token) <= TOKEN_CHARS  # 256 random bits, URL-safe
    assert link["start_ms"] == 12_000
    assert link["created_at"] == iso(shared.clock.now_ms())
    assert link["expires_at"] == iso(shared.clock.now_ms() + DAY_MS)
    assert link["views"] == 0 and link["last_viewed_at"] is None
    assert link["created_by"] == "API token “default”"

    with shared.api() as http:
        listed = http.get(f"/api/v1/recordings/{shared.recording_id}/share-links")
        assert listed.status_code == 200
        [item] = listed.json()["items"]
        assert item["id"] == link["id"] and "url" not in item
        assert token not in listed.text  # the token is in the create answer only

        shared.clock.advance(1)
        assert http.delete(f"/api/v1/share-links/{link['id']}").status_code == 204
        again = http.get(f"/api/v1/recordings/{shared.recording_id}/share-links")
        assert again.json()["items"] == []
        # Revoking twice is harmless; an unknown link is 404.
        assert http.delete(f"/api/v1/share-links/{link['id']}").status_code == 204
        missing = http.delete("/api/v1/share-links/shr_nothing")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "share_link_not_found"

    with shared.server.client() as http:
        assert http.get(f"/share/{token}").status_code == 404

    entries = audit.entries(shared.server.services.db, shared.alice.account_id)
    assert [e["action"] for e in entries] == ["share_link.revoked", "share_link.created"]
    assert entries[1]["detail"] == {
        "share_link": link["id"],
        "recording": shared.recording_id,
        "expires_in": "24h",
    }
    assert all(e["actor"].startswith("token:tok_") for e in entries)
    assert token not in json.dumps(entries)


def test_only_a_hash_of_the_token_is_stored(shared: Shared) -> None:
    token = token_of(shared.create().json()["url"])
    db = shared.server.services.db
    [row] = db.all("SELECT * FROM share_links")
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in json.dumps(row)
    everything = json.dumps(db.all("SELECT * FROM audit_log"))
    assert token not in everything


@pytest.mark.parametrize(
    ("expires_in", "lifetime"),
    [("1h", HOUR_MS), ("24h", DAY_MS), ("7d", 7 * DAY_MS), ("30d", 30 * DAY_MS), ("never", None)],
)
def test_expiry_is_what_was_chosen(shared: Shared, expires_in: str, lifetime: int | None) -> None:
    now = shared.clock.now_ms()
    link = shared.create(expires_in=expires_in).json()
    assert link["expires_at"] == (None if lifetime is None else iso(now + lifetime))


def test_links_stop_at_their_expiry_and_all_with_the_recordings_retention(
    shared: Shared,
) -> None:
    made_at = shared.clock.now_ms()
    tokens = {
        choice: token_of(shared.create(expires_in=choice).json()["url"])
        for choice in ("1h", "24h", "7d", "30d", "never")
    }
    created = shared.server.services.db.one(
        "SELECT created_at FROM recordings WHERE id = :r", {"r": shared.recording_id}
    )
    assert created is not None
    retention_end = created["created_at"] + 10 * DAY_MS  # the pro plan keeps 10 days

    def working() -> set[str]:
        with shared.server.client() as http:
            return {c for c, t in tokens.items() if http.get(f"/share/{t}").status_code == 200}

    def listed() -> int:
        with shared.api() as http:
            url = f"/api/v1/recordings/{shared.recording_id}/share-links"
            return len(http.get(url).json()["items"])

    def at(moment: int) -> None:
        shared.clock.advance((moment - shared.clock.now_ms()) / 1000)

    assert working() == set(tokens) and listed() == 5
    at(made_at + HOUR_MS - 1)
    assert working() == set(tokens)
    at(made_at + HOUR_MS)
    assert working() == {"24h", "7d", "30d", "never"} and listed() == 4
    at(made_at + DAY_MS)
    assert working() == {"7d", "30d", "never"}
    at(made_at + 7 * DAY_MS)
    assert working() == {"30d", "never"} and listed() == 2
    at(retention_end - 1)
    assert working() == {"30d", "never"}
    at(retention_end)  # due for the retention sweeper: a link never outlives its recording
    assert working() == set()


BAD = [
    ([1, 2], "JSON object"),
    ({}, "'expires_in' must be one of 1h, 24h, 7d, 30d, never"),
    ({"expires_in": "2d"}, "'expires_in' must be one of"),
    ({"expires_in": 24}, "'expires_in' must be one of"),
    ({"expires_in": "7d", "start_ms": "42"}, "'start_ms' must be a whole number"),
    ({"expires_in": "7d", "start_ms": -1}, "'start_ms' must be a whole number"),
    ({"expires_in": "7d", "start_ms": 1.5}, "'start_ms' must be a whole number"),
    ({"expires_in": "7d", "start_ms": True}, "'start_ms' must be a whole number"),
    ({"expires_in": "7d", "start_ms": 3_600_000}, "after the end of the recording"),
    ({"expires_in": "7d", "expires": "1h"}, "unknown field 'expires'"),
]


@pytest.mark.parametrize(("body", "says"), BAD)
def test_bad_input_is_400_saying_what_to_fix(shared: Shared, body: object, says: str) -> None:
    with shared.api() as http:
        r = http.post(f"/api/v1/recordings/{shared.recording_id}/share-links", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "bad_share_link"
    assert says in r.json()["error"]["message"]
    assert shared.server.services.db.all("SELECT id FROM share_links") == []


def test_writes_need_the_api_token(shared: Shared) -> None:
    with shared.server.client() as http:
        url = f"/api/v1/recordings/{shared.recording_id}/share-links"
        assert http.post(url, json={"expires_in": "1h"}).status_code == 401
        assert http.get(url).status_code == 401
        assert http.delete("/api/v1/share-links/shr_x").status_code == 401


def test_bob_cannot_share_list_or_revoke_alices(shared: Shared) -> None:
    link = shared.create().json()
    token = token_of(link["url"])
    with shared.api(shared.bob) as http:
        for r in (
            http.post(
                f"/api/v1/recordings/{shared.recording_id}/share-links",
                json={"expires_in": "1h"},
            ),
            http.get(f"/api/v1/recordings/{shared.recording_id}/share-links"),
        ):
            assert r.status_code == 404
            assert r.json()["error"]["code"] == "recording_not_found"
        r = http.delete(f"/api/v1/share-links/{link['id']}")
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "share_link_not_found"
    with shared.server.client() as http:
        assert http.get(f"/share/{token}").status_code == 200  # still Alice's, still working
    assert len(shared.server.services.db.all("SELECT id FROM share_links")) == 1
    assert audit.entries(shared.server.services.db, shared.bob.account_id) == []


def test_a_recording_still_live_cannot_be_shared(shared: Shared) -> None:
    shared.server.services.db.run(
        "UPDATE recordings SET status = 'live' WHERE id = :r", {"r": shared.recording_id}
    )
    r = shared.create()
    assert r.status_code == 404 and r.json()["error"]["code"] == "recording_not_found"


def test_the_dialog_creates_lists_and_revokes_with_the_login_cookie(shared: Shared) -> None:
    with shared.server.client() as http:
        csrf = login(http, "alice@example.com")
        page = http.get(f"/recordings/{shared.recording_id}")
        assert 'data-share data-recording-id="' in page.text
        assert csrf_of(page.text) == csrf
        url = f"/recordings/{shared.recording_id}/share-links"
        r = http.post(url, data={"csrf": csrf, "expires_in": "7d", "start": "0:12"})
        assert r.status_code == 201, r.text
        link = r.json()
        assert link["start_ms"] == 12_000 and link["path"] == "/share/" + token_of(link["url"])
        assert link["created_by"] == "alice@example.com"
        assert link["expires_at"] == iso(START_MS + 11_000 + 7 * DAY_MS)

        bad = http.post(url, data={"csrf": csrf, "expires_in": "7d", "start": "soon"})
        assert bad.status_code == 400
        assert "write minutes:seconds like 0:42" in bad.json()["error"]["message"]
        late = http.post(url, data={"csrf": csrf, "expires_in": "7d", "start": "5:00"})
        assert late.status_code == 400
        assert "after the end of the recording (0:40)" in late.json()["error"]["message"]
        forged = http.post(url, data={"csrf": "nope", "expires_in": "7d"})
        assert forged.status_code == 403 and forged.json()["error"]["code"] == "csrf_failed"

        listed = http.get(f"/api/v1/recordings/{shared.recording_id}/share-links").json()
        assert [i["id"] for i in listed["items"]] == [link["id"]]
        forged = http.post(f"/share-links/{link['id']}/revoke", data={"csrf": "nope"})
        assert forged.status_code == 403
        gone = http.post(f"/share-links/{link['id']}/revoke", data={"csrf": csrf})
        assert gone.status_code == 204
        listed = http.get(f"/api/v1/recordings/{shared.recording_id}/share-links").json()
        assert listed["items"] == []
    actors = {e["actor"] for e in audit.entries(shared.server.services.db, shared.alice.account_id)}
    assert actors == {f"user:{shared.alice.user_id}"}

    with shared.server.client() as http:
        csrf = login(http, "bob@example.com")
        url = f"/recordings/{shared.recording_id}/share-links"
        r = http.post(url, data={"csrf": csrf, "expires_in": "7d"})
        assert r.status_code == 404
        other = shared.create().json()
        assert (
            http.post(f"/share-links/{other['id']}/revoke", data={"csrf": csrf}).status_code == 404
        )


def test_the_dialog_without_a_login_is_refused(shared: Shared) -> None:
    with shared.server.client() as http:
        csrf = csrf_of(http.get("/login").text)
        url = f"/recordings/{shared.recording_id}/share-links"
        r = http.post(url, data={"csrf": csrf, "expires_in": "7d"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "logged_out"


def test_openapi_lists_the_share_link_endpoints_only(shared: Shared) -> None:
    with shared.server.client() as http:
        paths = http.get("/api/openapi.json").json()["paths"]
    assert set(paths["/api/v1/recordings/{recording_id}/share-links"]) == {"get", "post"}
    assert set(paths["/api/v1/share-links/{link_id}"]) == {"delete"}
    assert not [p for p in paths if p.startswith(("/share", "/recordings"))]
