"""The recordings REST API on a real server: auth, tenant isolation, paging, the item shape."""

import pytest

from footage.accounts.service import create_account
from tests.conftest import batch, click, full_snapshot, gz, meta, new_ids, wait_for

T0 = 1_795_000_000_000


def account(live, name, url):
    return create_account(
        live.services.db,
        live.services.clock,
        name=name,
        plan="pro",
        email=f"{name.lower()}@example.com",
        password="correct horse battery",
        site_url=url,
    )


def record(http, acc, origin, start, clicks=1):
    ids = new_ids()
    events = [meta(start, origin + "/"), full_snapshot(start + 1)]
    events += [click(start + 100 * (i + 1), 200 * i, 50) for i in range(clicks)]
    r = http.post(
        "/api/v1/ingest",
        content=gz(batch(acc.site_key, ids, 0, events, url=origin + "/", left=True)),
        headers={"Origin": origin, "Content-Type": "text/plain"},
    )
    assert r.status_code == 200, r.text
    return r.json()["recording_id"]


@pytest.fixture
def two_accounts(live):
    alice = account(live, "Alice", "https://alice.example")
    bob = account(live, "Bob", "https://bob.example")
    with live.client() as http:
        a_ids = [
            record(http, alice, "https://alice.example", T0 + i * 60_000, clicks=i + 1)
            for i in range(3)
        ]
        b_ids = [record(http, bob, "https://bob.example", T0)]
        for who, count in ((alice, 3), (bob, 1)):  # every recording of both is ready
            auth = {"Authorization": f"Bearer {who.api_token}"}
            wait_for(
                lambda auth=auth, count=count: (
                    len(http.get("/api/v1/recordings", headers=auth).json()["items"]) == count
                )
            )
    return alice, bob, a_ids, b_ids


def test_list_is_newest_first_with_the_documented_fields(live, two_accounts):
    alice, _, a_ids, _ = two_accounts
    with live.client(headers={"Authorization": f"Bearer {alice.api_token}"}) as http:
        body = http.get("/api/v1/recordings").json()
    assert [i["id"] for i in body["items"]] == list(reversed(a_ids))
    item = body["items"][0]
    for field in (
        "id",
        "status",
        "started_at",
        "ended_at",
        "duration_ms",
        "active_ms",
        "pages",
        "click_count",
        "rage_click_count",
        "error_count",
        "device",
        "browser",
        "os",
        "country",
        "referrer",
        "visitor",
        "conversation_id",
    ):
        assert field in item
    assert item["status"] == "ready" and item["click_count"] == 3
    assert item["started_at"].endswith("Z") and item["pages"][0]["url"] == "https://alice.example/"
    assert set(item["visitor"]) >= {"id", "name", "email"}


def test_cursor_pagination(live, two_accounts):
    alice, _, a_ids, _ = two_accounts
    with live.client(headers={"Authorization": f"Bearer {alice.api_token}"}) as http:
        first = http.get("/api/v1/recordings", params={"limit": 2}).json()
        second = http.get(
            "/api/v1/recordings", params={"limit": 2, "cursor": first["next_cursor"]}
        ).json()
        bad = http.get("/api/v1/recordings", params={"cursor": "!!"})
        too_many = http.get("/api/v1/recordings", params={"limit": 1000})
    assert [i["id"] for i in first["items"] + second["items"]] == list(reversed(a_ids))
    assert second["next_cursor"] is None
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_cursor"
    assert too_many.status_code == 400 and "limit" in too_many.json()["error"]["message"]


def test_bob_cannot_see_alices_recordings(live, two_accounts):
    alice, bob, a_ids, b_ids = two_accounts
    with live.client(headers={"Authorization": f"Bearer {bob.api_token}"}) as http:
        assert [i["id"] for i in http.get("/api/v1/recordings").json()["items"]] == b_ids
        for path in (f"/api/v1/recordings/{a_ids[0]}", f"/api/v1/recordings/{a_ids[0]}/events"):
            r = http.get(path)
            assert r.status_code == 404
            assert r.json()["error"]["code"] == "recording_not_found"


def test_requests_without_a_valid_token_are_401(live, two_accounts):
    with live.client() as http:
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic x"}):
            r = http.get("/api/v1/recordings", headers=headers)
            assert r.status_code == 401
            assert r.json()["error"]["code"] == "unauthorized"


def test_events_are_in_time_order(live, two_accounts):
    alice, _, a_ids, _ = two_accounts
    with live.client(headers={"Authorization": f"Bearer {alice.api_token}"}) as http:
        events = http.get(f"/api/v1/recordings/{a_ids[2]}/events").json()
    assert [e["type"] for e in events] == [4, 2, 3, 3, 3]
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)


def test_openapi_is_served(live):
    with live.client() as http:
        spec = http.get("/api/openapi.json").json()
        docs = http.get("/api/docs")
    assert "/api/v1/recordings" in spec["paths"] and "/api/v1/ingest" in spec["paths"]
    assert docs.status_code == 200


def test_the_list_carries_each_recordings_first_fifty_pages_and_the_item_all(live):
    """A long visit has up to 1,000 page views: a list of 200 such recordings was 27 MB."""
    alice = account(live, "Alice", "https://alice.example")
    ids = new_ids()
    with live.client() as http:
        for i in range(55):
            page = {**ids, "page_id": f"pag-{i}-{ids['page_id'][-12:]}"}
            url = f"https://alice.example/p{i:02d}"
            at = T0 + i * 1000
            r = http.post(
                "/api/v1/ingest",
                content=gz(
                    batch(alice.site_key, page, 0, [meta(at, url), full_snapshot(at + 1)], url=url)
                ),
                headers={"Origin": "https://alice.example", "Content-Type": "text/plain"},
            )
            assert r.status_code == 200, r.text
        for i in range(55):  # every page view left
            page = {**ids, "page_id": f"pag-{i}-{ids['page_id'][-12:]}"}
            body = batch(alice.site_key, page, 1, [], url=f"https://alice.example/p{i:02d}")
            r = http.post(
                "/api/v1/ingest",
                content=gz({**body, "left": True}),
                headers={"Origin": "https://alice.example", "Content-Type": "text/plain"},
            )
            assert r.status_code == 200, r.text
        auth = {"Authorization": f"Bearer {alice.api_token}"}
        [item] = wait_for(lambda: http.get("/api/v1/recordings", headers=auth).json()["items"])
        one = http.get(f"/api/v1/recordings/{item['id']}", headers=auth).json()
    assert item["page_count"] == 55 == len(one["pages"])
    assert [p["url"][-3:] for p in item["pages"]] == [f"p{i:02d}" for i in range(50)]
    assert item["pages"] == one["pages"][:50]
