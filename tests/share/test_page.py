"""The public page of a share link: what it shows (and never shows), its headers, the one 404
for every link that does not work, the brake on guessing, views, and the end of a link with
its recording."""

from __future__ import annotations

import json
import re

import httpx

from footage.share.guard import LIMIT, WINDOW_MS
from tests.share.conftest import IDENTITY, PAGE_TEXT, Shared, identified_recording

PRIVATE_HEADERS = {
    "referrer-policy": "no-referrer",
    "x-robots-tag": "noindex",
    "cache-control": "private, no-store",
}
UNKNOWN = "A" * 43  # the shape of a token, but nobody's


def token(shared: Shared, **body: object) -> str:
    r = shared.create(**body)
    assert r.status_code == 201, r.text
    return str(r.json()["url"]).rsplit("/share/", 1)[1]


def assert_private(response: httpx.Response) -> None:
    for name, value in PRIVATE_HEADERS.items():
        assert response.headers[name] == value, name
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self';" in csp
    assert "frame-ancestors 'none'" in csp
    assert "set-cookie" not in response.headers  # nothing of ours stays with the viewer


def test_the_page_plays_the_recording_without_login(shared: Shared) -> None:
    t = token(shared, start_ms=1500)
    with shared.server.client() as http:
        page = http.get(f"/share/{t}")
        assert page.status_code == 200
        assert "<title>Shared recording</title>" in page.text
        assert f'data-events-url="/share/{t}/events.json"' in page.text
        assert 'data-start-ms="1500"' in page.text
        assert re.search(
            r'<script src="/static/build/player\.[0-9a-f]{16}\.js"></script>', page.text
        )
        events = http.get(f"/share/{t}/events.json")
        assert events.status_code == 200
        assert events.headers["content-type"] == "application/json"
        assert [e["type"] for e in events.json()] == [4, 2, 3, 3]
        assert PAGE_TEXT in events.text
    assert_private(page)
    assert_private(events)


def test_nothing_identifies_the_visitor_or_the_account(shared: Shared) -> None:
    t = token(shared)
    with shared.server.client() as http:
        answers = [http.get(f"/share/{t}").text, http.get(f"/share/{t}/events.json").text]
    rec = shared.server.services.db.one(
        "SELECT * FROM recordings WHERE id = :r", {"r": shared.recording_id}
    )
    assert rec is not None
    secrets_of_the_owner = (
        rec["ip"],  # 81.2.69.142: the site keeps IPs
        rec["visitor_id"],
        rec["session_id"],
        rec["id"],
        rec["site_id"],
        rec["account_id"],
        shared.alice.site_key,
        "alice@example.com",
        "Alice",
        "Visitor",  # the dashboard's panel
        "variables",
    )
    for text in answers:
        for secret in IDENTITY + secrets_of_the_owner:
            assert secret not in text, secret
    # The visitor's identity is stored, so the test would see it leak.
    visitor = shared.server.services.db.one(
        "SELECT name, email FROM visitors WHERE id = :v", {"v": shared.visitor_id}
    )
    assert visitor == {"name": "Jane Quokka", "email": "jane.quokka@example.org"}


def test_unknown_expired_revoked_and_deleted_links_give_the_same_404(shared: Shared) -> None:
    expired, kept = token(shared, expires_in="1h"), token(shared)
    revoked_link = shared.create().json()
    revoked = revoked_link["url"].rsplit("/", 1)[1]
    with shared.api() as http:
        assert http.delete(f"/api/v1/share-links/{revoked_link['id']}").status_code == 204
    shared.clock.advance(3600)
    # A recording that is gone: Alice's second recording, shared, then erased with its visitor.
    second, visitor = identified_recording(shared.server, shared.alice, shared.clock)
    with shared.api() as http:
        r = http.post(f"/api/v1/recordings/{second}/share-links", json={"expires_in": "never"})
        deleted = r.json()["url"].rsplit("/", 1)[1]
        assert http.delete(f"/api/v1/visitors/{visitor}").status_code == 200
    gone = shared.server.services.db.all(
        "SELECT id FROM share_links WHERE recording_id = :r", {"r": second}
    )
    assert gone == []  # erased with the recording

    with shared.server.client() as http:
        assert http.get(f"/share/{kept}").status_code == 200
        answers = []
        for t in (UNKNOWN, "short", expired, revoked, deleted, kept[:-1] + "!"):
            for path in (f"/share/{t}", f"/share/{t}/events.json"):
                r = http.get(path)
                assert_private(r)
                answers.append((r.status_code, r.headers["content-type"], r.content))
    assert len(set(answers)) == 1
    status, content_type, body = answers[0]
    assert status == 404 and content_type.startswith("text/html")
    assert b"This link does not work" in body


def test_the_link_dies_with_its_recording(shared: Shared) -> None:
    t = token(shared, expires_in="never")
    db = shared.server.services.db
    assert len(db.all("SELECT id FROM share_links")) == 1
    # The retention sweeper deletes the recording after its plan's 10 days.
    shared.clock.advance(10 * 86_400 + 1)
    deleted = shared.server.services.retention.run_once(shared.clock.now_ms())
    assert deleted["recordings"] == 1
    assert db.all("SELECT id FROM share_links") == []
    with shared.server.client() as http:
        assert http.get(f"/share/{t}").status_code == 404


def test_guessing_is_braked_per_client_address(shared: Shared) -> None:
    t = token(shared)
    with shared.server.client() as http:
        for i in range(LIMIT):
            assert http.get(f"/share/{'B' * 42}{i % 10}").status_code == 404
        braked = http.get(f"/share/{UNKNOWN}")
        assert braked.status_code == 429
        assert_private(braked)
        wait = int(braked.headers["retry-after"])
        assert 0 < wait <= WINDOW_MS // 1000
        assert "Too many requests" in braked.text
        # While braked, even a working link answers 429: nothing is looked up.
        assert http.get(f"/share/{t}").status_code == 429
        assert http.get(f"/share/{t}/events.json").status_code == 429
        # Another address (through the trusted local proxy header) is not braked.
        other = {"X-Forwarded-For": "198.51.100.7"}
        assert http.get(f"/share/{t}", headers=other).status_code == 200
        # Once the window has passed, the address may try again.
        shared.clock.advance(wait)
        assert http.get(f"/share/{t}").status_code == 200
        # Working links never count against the address.
        for _ in range(LIMIT + 5):
            assert http.get(f"/share/{t}/events.json").status_code == 200


def test_views_are_counted(shared: Shared) -> None:
    t = token(shared)
    with shared.server.client() as http:
        http.get(f"/share/{t}")
        shared.clock.advance(60)
        http.get(f"/share/{t}")
        http.get(f"/share/{t}/events.json")  # the player's fetch is part of the same view
    with shared.api() as http:
        [item] = http.get(f"/api/v1/recordings/{shared.recording_id}/share-links").json()["items"]
    assert item["views"] == 2
    assert item["last_viewed_at"] is not None
    row = shared.server.services.db.one("SELECT last_viewed_at FROM share_links")
    assert row == {"last_viewed_at": shared.clock.now_ms()}
    assert json.dumps(item).count(t) == 0
