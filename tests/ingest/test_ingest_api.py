"""POST /api/v1/ingest on a real server: CORS, origins, limits, and clear errors."""

import gzip
import json

import pytest

from footage.accounts.service import create_account
from tests.conftest import batch, click, full_snapshot, gz, make_account, meta, new_ids, wait_for

ORIGIN = {"Origin": "https://alice.example", "Content-Type": "text/plain"}


@pytest.fixture
def alice_live(live):
    return make_account(live.services, "Alice", site_url="https://alice.example")


def first_batch(key, ids=None, **kw):
    return batch(
        key,
        ids or new_ids(),
        0,
        [meta(1_795_000_000_000), full_snapshot(1_795_000_000_001), click(1_795_000_000_500)],
        **kw,
    )


def test_gzip_batch_is_accepted_with_cors_for_the_site_origin(live, alice_live):
    with live.client() as http:
        r = http.post(
            "/api/v1/ingest", content=gz(first_batch(alice_live.site_key)), headers=ORIGIN
        )
    assert r.status_code == 200, r.text
    assert r.json()["ok"] is True and r.json()["recording_id"].startswith("rec_")
    assert r.headers["access-control-allow-origin"] == "https://alice.example"


def test_preflight_allows_the_recorder(live):
    with live.client() as http:
        r = http.options(
            "/api/v1/ingest",
            headers={
                "Origin": "https://alice.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
    assert r.status_code == 204
    assert "POST" in r.headers["access-control-allow-methods"]


def test_other_origins_are_refused(live, alice_live):
    with live.client() as http:
        r = http.post(
            "/api/v1/ingest",
            content=gz(first_batch(alice_live.site_key)),
            headers={**ORIGIN, "Origin": "https://evil.example"},
        )
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "origin_not_allowed"
    assert "allowed origins" in r.json()["error"]["message"]


def test_unknown_site_key_is_404(live):
    with live.client() as http:
        r = http.post("/api/v1/ingest", content=gz(first_batch("s_nope")), headers=ORIGIN)
        config = http.get("/api/v1/sites/s_nope/config")
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_site"
    assert config.status_code == 404


def test_free_plan_records_nothing(live):
    free = create_account(
        live.services.db,
        live.services.clock,
        name="Free",
        plan="free",
        email="free@example.com",
        password="correct horse battery",
    )
    with live.client() as http:
        config = http.get(f"/api/v1/sites/{free.site_key}/config").json()
        r = http.post("/api/v1/ingest", content=gz(first_batch(free.site_key)), headers=ORIGIN)
    assert config["enabled"] is False and config["reason"] == "plan_without_recordings"
    assert r.status_code == 403 and r.json()["error"]["code"] == "plan_without_recordings"


def test_body_limits_are_413(live, alice_live):
    big = first_batch(alice_live.site_key)
    big["events"].append(
        {
            "type": 5,
            "timestamp": 1_795_000_000_600,
            "data": {"tag": "x", "payload": "a" * 30_000_000},
        }
    )
    with live.client() as http:
        inflated = http.post("/api/v1/ingest", content=gz(big), headers=ORIGIN)
        raw = http.post("/api/v1/ingest", content=json.dumps(big).encode(), headers=ORIGIN)
    assert inflated.status_code == 413 and "after decompression" in inflated.text
    assert raw.status_code == 413


@pytest.mark.parametrize(
    ("body", "ctype", "status", "code"),
    [
        (b"{oops", "text/plain", 400, "bad_json"),
        (gzip.compress(b"{}", mtime=0)[:-4], "text/plain", 400, "bad_gzip"),
        (b"{}", "text/plain", 400, "bad_request"),
        (b"{}", "multipart/form-data", 415, "unsupported_media_type"),
    ],
)
def test_malformed_requests_get_clear_errors(live, body, ctype, status, code):
    with live.client() as http:
        r = http.post(
            "/api/v1/ingest",
            content=body,
            headers={"Origin": "https://alice.example", "Content-Type": ctype},
        )
    assert r.status_code == status
    assert r.json()["error"]["code"] == code and r.json()["error"]["message"]


def test_rejected_batch_loses_nothing_already_accepted(live, alice_live):
    ids = new_ids()
    with live.client() as http:
        ok = http.post(
            "/api/v1/ingest", content=gz(first_batch(alice_live.site_key, ids)), headers=ORIGIN
        )
        bad = batch(alice_live.site_key, ids, 1, [{"type": 99, "timestamp": 1}])
        assert http.post("/api/v1/ingest", content=gz(bad), headers=ORIGIN).status_code == 400
        left = batch(alice_live.site_key, ids, 1, [click(1_795_000_001_000)], left=True)
        assert http.post("/api/v1/ingest", content=gz(left), headers=ORIGIN).status_code == 200
        auth = {"Authorization": f"Bearer {alice_live.api_token}"}
        rec_id = ok.json()["recording_id"]
        wait_for(lambda: http.get(f"/api/v1/recordings/{rec_id}", headers=auth).status_code == 200)
        events = http.get(f"/api/v1/recordings/{rec_id}/events", headers=auth).json()
    assert len(events) == 4


def test_heartbeat(live, alice_live):
    ids = new_ids()
    beat = {"site_key": alice_live.site_key, **ids}
    with live.client() as http:
        before = http.post("/api/v1/heartbeat", content=json.dumps(beat), headers=ORIGIN)
        http.post(
            "/api/v1/ingest", content=gz(first_batch(alice_live.site_key, ids)), headers=ORIGIN
        )
        after = http.post("/api/v1/heartbeat", content=json.dumps(beat), headers=ORIGIN)
        bad = http.post("/api/v1/heartbeat", content=b"{}", headers=ORIGIN)
    assert before.status_code == 204 and after.status_code == 204
    assert bad.status_code == 400
