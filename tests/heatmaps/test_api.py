"""The heatmaps and Pages API on a real server: a recording sent through ingest shows up in
its page's heatmap; bad parameters get a message that says what to fix; accounts are apart."""

from __future__ import annotations

from typing import Any

from footage.accounts.service import create_account
from tests.conftest import LiveServer, batch, gz, new_ids, wait_for
from tests.heatmaps.shop import BUY, PRODUCT, change, move, page_view, tap

T0 = 1_795_000_000_000


def account(live: LiveServer, name: str, url: str) -> Any:
    return create_account(
        live.services.db,
        live.services.clock,
        name=name,
        plan="pro",
        email=f"{name.lower()}@example.com",
        password="correct horse battery",
        site_url=url,
    )


def test_a_recorded_click_reaches_the_heatmap_and_its_recording(live: LiveServer) -> None:
    alice = account(live, "Alice", "https://alice.example")
    bob = account(live, "Bob", "https://bob.example")
    events = page_view(T0) + [tap(T0 + 900, BUY, 100, 200), change(T0 + 950), move(T0 + 3000)]
    with live.client() as http:
        r = http.post(
            "/api/v1/ingest",
            content=gz(batch(alice.site_key, new_ids(), 0, events, url=PRODUCT, left=True)),
            headers={"Origin": "https://alice.example", "Content-Type": "text/plain"},
        )
        assert r.status_code == 200, r.text
        recording = r.json()["recording_id"]
    day = "2026-11-18"  # T0's day
    query = {"url": PRODUCT, "from": day, "to": day}
    with live.client(headers={"Authorization": f"Bearer {alice.api_token}"}) as http:
        heat = wait_for(
            lambda: (h := http.get("/api/v1/heatmaps", params=query).json())["clicks"] and h
        )
        assert heat["device"] == "desktop" and heat["page_views"] == 1
        assert heat["elements"][0]["selector"] == "#buy"
        assert heat["cells"] == [[105, 205, 1]]
        snap = http.get("/api/v1/heatmaps/snapshot", params=query).json()
        assert snap["recording_id"] == recording
        assert [e["type"] for e in snap["events"]] == [4, 2]
        found = http.get("/api/v1/heatmaps/recordings", params={**query, "selector": "#buy"}).json()
        assert [(r["id"], r["at_ms"]) for r in found["recordings"]] == [(recording, 900)]
        pages = http.get("/api/v1/pages", params={"from": day, "to": day}).json()["pages"]
        assert [(p["page"], p["views"], p["clicks"]) for p in pages] == [
            ("alice.example/products/espresso", 1, 1)
        ]
        # what to fix, in words
        for params, status, words in (
            ({**query, "from": "18.11.2026"}, 400, "'from' must be a date like 2026-11-20"),
            ({**query, "from": "2026-11-19"}, 400, "'from' must not be after 'to'"),
            ({**query, "device": "watch"}, 400, "'device' must be one of desktop, tablet"),
            ({**query, "url": " "}, 400, "'url' is an address or a pattern"),
            ({**query, "site_id": bob.site_id}, 404, "no such site in this account"),
        ):
            r = http.get("/api/v1/heatmaps", params=params)
            assert r.status_code == status and words in r.text, (params, r.text)
        r = http.get("/api/v1/pages", params={"sort": "loudest"})
        assert r.status_code == 400 and "'sort' must be one of views, exit_rate" in r.text
        r = http.get("/api/v1/heatmaps/recordings", params=query)
        assert r.status_code == 400 and "give 'selector', or both 'x' and 'y'" in r.text
        r = http.get("/api/v1/heatmaps/snapshot", params={**query, "url": "alice.example/nope"})
        assert r.status_code == 404 and "no recorded page view" in r.text
    # Bob's token sees nothing of Alice's site, not even through a pattern
    with live.client(headers={"Authorization": f"Bearer {bob.api_token}"}) as http:
        theirs = http.get("/api/v1/heatmaps", params={**query, "url": "alice.example/*"}).json()
        assert (theirs["page_views"], theirs["clicks"], theirs["cells"]) == (0, 0, [])
        assert http.get("/api/v1/pages", params={"from": day, "to": day}).json()["pages"] == []
    with live.client() as http:  # no token, no login
        assert http.get("/api/v1/heatmaps", params=query).status_code == 401
