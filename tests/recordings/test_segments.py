"""Saved segments round-trip through the API and the dashboard; the list's filters, empty
state and the player's matching moments as the dashboard shows them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    LiveServer,
    free_port,
    login,
    make_account,
    settings_for,
    start_server,
)
from tests.recordings.test_filters import RECORDINGS, insert


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    live = start_server(settings_for(tmp_path, database_url=database_url, port=free_port()))
    yield live
    live.stop()


@pytest.fixture
def shop(server: LiveServer) -> Any:
    acc = make_account(server.services, "Shop", site_url="https://s.example")
    second = "site_second"
    server.services.db.run(
        "INSERT INTO sites (id, account_id, name, url, site_key, allowed_origins, "
        "recording_enabled, is_demo, created_at) VALUES (:id, :a, 'Other', "
        "'https://other.example', 's_second', '', 1, 0, 0)",
        {"id": second, "a": acc.account_id},
    )
    insert(server.services, acc.account_id, {"main": acc.site_id, "second": second})
    return acc


def bearer(account: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {account.api_token}"}


def test_segments_round_trip_through_the_api(server, shop):
    bob = make_account(server.services, "Bob")
    with server.client(headers=bearer(shop)) as http:
        created = http.post(
            "/api/v1/segments",
            json={
                "name": "Tablet checkouts",
                "query": "url=checkout&device=tablet",
                "site_id": shop.site_id,
            },
        )
        assert created.status_code == 201, created.text
        seg = created.json()
        assert seg["query"] == "device=tablet&url=checkout"
        # The segment's filters give the same list as typing them.
        listed = http.get(f"/api/v1/recordings?{seg['query']}").json()["items"]
        assert [r["id"] for r in listed] == ["r08"]
        renamed = http.patch(f"/api/v1/segments/{seg['id']}", json={"name": "Tablets"})
        assert renamed.json()["name"] == "Tablets"
        assert [s["name"] for s in http.get("/api/v1/segments").json()["items"]] == ["Tablets"]
        bad = http.post("/api/v1/segments", json={"name": "x", "query": "device=fridge"})
        nameless = http.post("/api/v1/segments", json={"query": "device=mobile"})
        foreign_site = http.post(
            "/api/v1/segments", json={"name": "x", "query": "", "site_id": "site_nope"}
        )
    with server.client(headers=bearer(bob)) as other:
        assert other.get(f"/api/v1/segments/{seg['id']}").status_code == 404
        assert other.delete(f"/api/v1/segments/{seg['id']}").status_code == 404
        assert other.get("/api/v1/segments").json()["items"] == []
    assert bad.status_code == 400 and "'device' must be one of" in bad.text
    assert nameless.status_code == 400 and "needs a name" in nameless.text
    assert foreign_site.status_code == 404
    with server.client(headers=bearer(shop)) as http:
        assert http.delete(f"/api/v1/segments/{seg['id']}").status_code == 204
        assert http.get(f"/api/v1/segments/{seg['id']}").status_code == 404


def test_the_api_lists_with_filters_and_documents_them(server, shop):
    with server.client(headers=bearer(shop)) as http:
        r = http.get("/api/v1/recordings?visitor_email=quokka&sort=oldest&limit=1")
        page2 = http.get(
            f"/api/v1/recordings?visitor_email=quokka&sort=oldest&limit=1"
            f"&cursor={r.json()['next_cursor']}"
        )
        bad = http.get("/api/v1/recordings?min_clicks=lots")
        schema = http.get("/api/openapi.json").json()
    assert [i["id"] for i in r.json()["items"]] == ["r06"]
    assert [i["id"] for i in page2.json()["items"]] == ["r07"]
    assert page2.json()["next_cursor"] is None
    assert bad.status_code == 400 and "'min_clicks'" in bad.json()["error"]["message"]
    documented = {p["name"] for p in schema["paths"]["/api/v1/recordings"]["get"]["parameters"]}
    required = {
        "from",
        "to",
        "min_duration_ms",
        "max_duration_ms",
        "url",
        "entry_url",
        "exit_url",
        "device",
        "browser",
        "os",
        "country",
        "referrer",
        "utm_source",
        "min_clicks",
        "has_rage_clicks",
        "has_errors",
        "has_conversation",
        "visitor_id",
        "visitor_name",
        "visitor_email",
        "visitor_ip",
        "event",
        "sort",
        "cursor",
        "limit",
    }
    assert required <= documented


def test_dashboard_filters_segments_and_empty_state(server, shop):
    with server.client(follow_redirects=True) as http:
        csrf = login(http, "shop@example.com")
        page = http.get("/recordings?device=mobile&has_rage_clicks=true").text
        assert "No recording matches all these filters" in page
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
        assert "Rage clicks: yes removed the most" in text or "Device: mobile removed" in text
        listed = http.get("/recordings?event=added_to_cart")
        assert listed.text.count('class="play-link"') == 2
        assert "/recordings/r07?event=added_to_cart" in listed.text
        saved = http.post(
            "/segments",
            data={"csrf": csrf, "name": "Cart adders", "query": "event=added_to_cart"},
        )
        assert saved.status_code == 200 and "Cart adders" in saved.text
        assert saved.text.count('class="play-link"') == 2
        seg_id = re.search(r"segment=(seg_[\w-]+)", str(saved.url)).group(1)
        renamed = http.post(f"/segments/{seg_id}/rename", data={"csrf": csrf, "name": "Carts"})
        assert "Carts" in renamed.text
        forged = http.post(f"/segments/{seg_id}/delete", data={"csrf": "forged"})
        assert forged.status_code == 403
        deleted = http.post(f"/segments/{seg_id}/delete", data={"csrf": csrf})
        assert deleted.status_code == 200 and "Carts" not in deleted.text
        bad = http.get("/recordings?min_clicks=lots")
        assert "Must be a whole number" in bad.text and bad.text.count('class="play-link"') == len(
            RECORDINGS
        )


def test_the_player_opens_at_the_matching_moment_and_lists_them(server, shop):
    started = server.services.db.one("SELECT started_at FROM recordings WHERE id = 'r03'")
    assert started is not None
    with server.client() as http:
        login(http, "shop@example.com")
        rage = http.get("/recordings/r03?has_rage_clicks=true").text
        event = http.get("/recordings/r07?event=added_to_cart&event_property=sku&event_value=X1")
        page = http.get("/recordings/r08?url=checkout").text
        plain = http.get("/recordings/r08").text
    assert 'data-start-ms="2000"' in rage and "Rage click" in rage
    assert 'data-start-ms="500"' in event.text and "Event: added_to_cart" in event.text
    # r08 entered /checkout as its third page, 2 s in.
    assert 'data-start-ms="2000"' in page and "Entered: https://s.example/checkout" in page
    assert 'data-start-ms="0"' in plain and "Matching moments" not in plain
