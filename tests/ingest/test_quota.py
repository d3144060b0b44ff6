"""The monthly limit is exact under concurrency: 100 visitors at once, 5 recordings left."""

from __future__ import annotations

import concurrent.futures

import httpx

from footage.accounts.usage import period_of, used_this_month
from tests.conftest import batch, click, full_snapshot, gz, make_account, meta, new_ids

T0 = 1_795_000_000_000


def test_exactly_the_remaining_recordings_start(live):
    svc = live.services
    acc = make_account(svc, "Shop", plan="standard", site_url="https://shop.example")
    svc.db.run(
        "INSERT INTO usage_counters (account_id, period, used) VALUES (:a, :p, 9995)",
        {"a": acc.account_id, "p": period_of(svc.clock.now_ms())},
    )

    def visit(_: int) -> int:
        body = batch(
            acc.site_key,
            new_ids(),
            0,
            [meta(T0), full_snapshot(T0 + 1), click(T0 + 5)],
            url="https://shop.example/",
        )
        with httpx.Client(base_url=live.url, timeout=60) as http:
            r = http.post(
                "/api/v1/ingest", content=gz(body), headers={"Origin": "https://shop.example"}
            )
            if r.status_code == 200:
                # A second batch: a recording of a single batch gives its count back when it
                # is finalized (accounts/usage.py), which would reopen the month below.
                body = {**body, "seq": 1, "events": [click(T0 + 5000)]}
                second = http.post(
                    "/api/v1/ingest", content=gz(body), headers={"Origin": "https://shop.example"}
                )
                assert second.status_code == 200, second.text
        return r.status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(visit, range(100)))

    assert statuses.count(200) == 5 and statuses.count(403) == 95
    assert used_this_month(svc.db, acc.account_id, svc.clock.now_ms()) == 10_000
    row = svc.db.one(
        "SELECT COUNT(*) AS n FROM recordings WHERE account_id = :a", {"a": acc.account_id}
    )
    assert row["n"] == 5
    with httpx.Client(base_url=live.url) as http:
        config = http.get(f"/api/v1/sites/{acc.site_key}/config").json()
        refused = http.post(
            "/api/v1/ingest",
            headers={"Origin": "https://shop.example"},
            content=gz(batch(acc.site_key, new_ids(), 0, [meta(T0)])),
        )
    assert config == {**config, "enabled": False, "reason": "monthly_limit_reached"}
    assert refused.json()["error"]["code"] == "quota_exceeded"


def test_a_recording_in_progress_finishes_at_the_limit(live):
    svc = live.services
    acc = make_account(svc, "Shop", plan="standard", site_url="https://shop.example")
    svc.db.run(
        "INSERT INTO usage_counters (account_id, period, used) VALUES (:a, :p, 9999)",
        {"a": acc.account_id, "p": period_of(svc.clock.now_ms())},
    )
    ids = new_ids()
    with httpx.Client(base_url=live.url, headers={"Origin": "https://shop.example"}) as http:
        first = http.post(
            "/api/v1/ingest",
            content=gz(batch(acc.site_key, ids, 0, [meta(T0), full_snapshot(T0 + 1)])),
        )
        second_page = http.post(
            "/api/v1/ingest",
            content=gz(
                batch(
                    acc.site_key,
                    {**ids, "page_id": "pag-second-page"},
                    0,
                    [meta(T0 + 5000), full_snapshot(T0 + 5001)],
                )
            ),
        )
    assert first.status_code == 200 and second_page.status_code == 200
    assert second_page.json()["recording_id"] == first.json()["recording_id"]
