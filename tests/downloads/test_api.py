"""Downloads through the REST API and the dashboard, on a real server: formats, status codes,
headers, tenant isolation, the audit log, and the MP4 render job end to end."""

from __future__ import annotations

import html
import json
import re
import subprocess

import pytest

from footage.accounts.audit import entries
from tests.conftest import login, wait_for
from tests.downloads.recording import T0, account, record, wait_ready

FILENAME = re.compile(
    r'^attachment; filename="recording-2026-11-18-\d{4}-[A-Za-z0-9_-]+\.(html|json|mp4)"$'
)


@pytest.fixture
def alice_and_bob(live):
    alice = account(live, "Alice", "https://alice.example")
    bob = account(live, "Bob", "https://bob.example")
    with live.client() as http:
        rid = record(http, alice)
        wait_ready(http, alice, rid)
    return alice, bob, rid


def bearer(acc):
    return {"Authorization": f"Bearer {acc.api_token}"}


def downloads_in_audit(live, acc):
    return [
        e
        for e in entries(live.services.db, acc.account_id)
        if e["action"] == "recording.downloaded"
    ]


def test_json_download_is_the_stored_events_with_an_attachment_name(live, alice_and_bob):
    alice, _, rid = alice_and_bob
    with live.client(headers=bearer(alice)) as http:
        r = http.get(f"/api/v1/recordings/{rid}/download", params={"format": "json"})
        stored = http.get(f"/api/v1/recordings/{rid}/events")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert FILENAME.match(r.headers["content-disposition"])
    assert r.headers["content-disposition"].endswith(f'-{rid}.json"')
    assert r.json() == stored.json()
    assert [e["type"] for e in r.json()[:2]] == [4, 2]  # what rrweb's Replayer starts from
    [entry] = downloads_in_audit(live, alice)
    assert entry["detail"] == {
        "recording_id": rid,
        "format": "json",
        "bytes": len(r.content),
        "via": "api",
    }
    assert entry["actor"].startswith("token:")


def test_html_download_holds_player_and_events_but_no_visitor_identity(live, alice_and_bob):
    alice, _, rid = alice_and_bob
    db = live.services.db
    db.run(
        "UPDATE visitors SET name = 'Ada Lovelace', email = 'ada@example.org' WHERE id = "
        "(SELECT visitor_id FROM recordings WHERE id = :r)",
        {"r": rid},
    )
    visitor_id = db.one("SELECT visitor_id FROM recordings WHERE id = :r", {"r": rid})["visitor_id"]
    with live.client(headers=bearer(alice)) as http:
        r = http.get(f"/api/v1/recordings/{rid}/download", params={"format": "HTML"})
        events = http.get(f"/api/v1/recordings/{rid}/events").json()
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["content-disposition"].endswith('.html"')
    page = r.text
    found = re.search(
        r'<script type="application/json" id="footage-events">(.*?)</script>', page, re.S
    )
    assert found and json.loads(found.group(1)) == events
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert csp and "default-src 'none'" in html.unescape(csp.group(1))
    assert "<script src" not in page and "<link" not in page  # everything inlined
    for identity in ("Ada Lovelace", "ada@example.org", visitor_id):
        assert identity not in page
    assert "https://alice.example/" in page  # the pages visited are listed
    assert downloads_in_audit(live, alice)[0]["detail"]["format"] == "html"


def test_recorded_text_cannot_close_the_events_script(live):
    alice = account(live, "Alice", "https://alice.example")
    evil = "</script><script>alert(document.title)</script><!--"
    with live.client() as http:
        rid = record(http, alice, text=evil)
        wait_ready(http, alice, rid)
        page = http.get(
            f"/api/v1/recordings/{rid}/download?format=html", headers=bearer(alice)
        ).text
    body = page.split('id="footage-events">', 1)[1]
    data, rest = body.split("</script>", 1)
    assert "<" not in data and "alert(document.title)" in data
    assert evil in json.dumps(json.loads(data), ensure_ascii=False).replace("\\/", "/")


def test_errors_bad_format_other_account_live_and_no_token(live, alice_and_bob):
    alice, bob, rid = alice_and_bob
    with live.client() as http:
        live_id = record(http, alice, start=T0 + 60_000, left=False)
        wait_for(
            lambda: live.services.db.one(
                "SELECT 1 AS x FROM recordings WHERE id = :r", {"r": live_id}
            )
        )
        bad = http.get(f"/api/v1/recordings/{rid}/download?format=gif", headers=bearer(alice))
        missing = http.get(f"/api/v1/recordings/{rid}/download", headers=bearer(alice))
        other = http.get(f"/api/v1/recordings/{rid}/download?format=json", headers=bearer(bob))
        other_video = http.get(f"/api/v1/recordings/{rid}/video", headers=bearer(bob))
        still_live = http.get(
            f"/api/v1/recordings/{live_id}/download?format=html", headers=bearer(alice)
        )
        anonymous = http.get(f"/api/v1/recordings/{rid}/download?format=json")
        bad_width = http.get(
            f"/api/v1/recordings/{rid}/download?format=mp4&width=9", headers=bearer(alice)
        )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_format"
    assert "html, json, mp4" in bad.json()["error"]["message"]
    assert missing.status_code == 400
    assert other.status_code == 404 and other.json()["error"]["code"] == "recording_not_found"
    assert other_video.status_code == 404
    assert (
        still_live.status_code == 409
        and still_live.json()["error"]["code"] == "recording_not_ready"
    )
    assert "ready" in still_live.json()["error"]["message"]
    assert anonymous.status_code == 401
    assert bad_width.status_code == 400 and "320" in bad_width.json()["error"]["message"]
    assert downloads_in_audit(live, alice) == [] and downloads_in_audit(live, bob) == []


def test_dashboard_downloads_use_the_login_session(live, alice_and_bob):
    alice, bob, rid = alice_and_bob
    with live.client() as http:
        assert http.get(f"/recordings/{rid}/download?format=json").status_code == 401
        login(http, "alice@example.com")
        page = http.get(f"/recordings/{rid}")
        assert (
            "data-download" in page.text and f"/recordings/{rid}/download?format=html" in page.text
        )
        r = http.get(f"/recordings/{rid}/download?format=json")
        assert r.status_code == 200 and r.headers["content-disposition"].endswith('.json"')
        none = http.get(f"/recordings/{rid}/video.json")
        assert none.json()["status"] == "none"
        no_csrf = http.post(f"/recordings/{rid}/video")
        assert no_csrf.status_code == 403 and no_csrf.json()["error"]["code"] == "csrf_failed"
    with live.client() as http:
        login(http, "bob@example.com")
        assert http.get(f"/recordings/{rid}/download?format=html").status_code == 404
    [entry] = downloads_in_audit(live, alice)
    assert entry["detail"]["via"] == "dashboard" and entry["actor"].startswith("user:")


def ffprobe_duration(path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(out.strip())


def frame_at(path, seconds: float) -> bytes:
    """One frame as raw grey pixels (160×90), for a blank check."""
    return subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-ss",
            f"{seconds:.2f}",
            "-i",
            str(path),
            "-frames:v",
            "1",
            "-vf",
            "scale=160:90",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "gray",
            "-",
        ],
        check=True,
        capture_output=True,
    ).stdout


def test_mp4_is_rendered_by_the_background_job(live, alice_and_bob, tmp_path):
    alice, bob, rid = alice_and_bob
    with live.client(headers=bearer(alice)) as http:
        before = http.get(f"/api/v1/recordings/{rid}/download?format=mp4&width=640")
        assert before.status_code == 409 and "POST" in before.json()["error"]["message"]
        first = http.post(f"/api/v1/recordings/{rid}/video?width=640")
        assert first.status_code == 202, first.text
        assert first.json()["status"] in ("queued", "rendering")
        poll = first.headers["location"]
        assert poll == f"/api/v1/recordings/{rid}/video?width=640&skip_inactivity=false"
        seen = set()

        def ready():
            status = http.get(poll).json()
            seen.add(status["status"])
            assert status["status"] != "failed", status["error"]
            return status if status["status"] == "ready" else None

        status = wait_for(ready, timeout=120, interval=0.3)
        assert status["progress"] == 100 and status["width"] == 640
        assert bob_cannot_see(live, bob, rid)
        video = http.get(status["download_url"])
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert video.headers["content-disposition"].endswith('.mp4"')
    assert int(video.headers["content-length"]) == len(video.content) == status["size"]
    path = tmp_path / "video.mp4"
    path.write_bytes(video.content)
    duration_ms = live.services.db.one(
        "SELECT duration_ms FROM recordings WHERE id = :r", {"r": rid}
    )["duration_ms"]
    assert abs(ffprobe_duration(path) - duration_ms / 1000) < 1.0
    middle = frame_at(path, duration_ms / 2000)
    assert len(middle) == 160 * 90
    mean = sum(middle) / len(middle)
    variance = sum((p - mean) ** 2 for p in middle) / len(middle)
    assert len(set(middle)) > 8 and variance > 100, (len(set(middle)), variance)
    [entry] = downloads_in_audit(live, alice)
    assert entry["detail"]["format"] == "mp4" and entry["detail"]["bytes"] == len(video.content)
    # Stored once: asking again answers with the same file at once.
    key = live.services.db.one(
        "SELECT blob_key FROM recording_videos WHERE recording_id = :r", {"r": rid}
    )
    assert live.services.blobs.exists(key["blob_key"])


def bob_cannot_see(live, bob, rid) -> bool:
    with live.client(headers=bearer(bob)) as http:
        return (
            http.get(f"/api/v1/recordings/{rid}/video?width=640").status_code == 404
            and http.get(f"/api/v1/recordings/{rid}/download?format=mp4&width=640").status_code
            == 404
            and http.post(f"/api/v1/recordings/{rid}/video?width=640").status_code == 404
            and http.delete(f"/api/v1/recordings/{rid}/video?width=640").status_code == 404
        )


# ---- no state change on GET, and the renders' limits (issue 16) --------------------------


def test_a_get_never_starts_a_render_and_an_embedded_load_gets_nothing(live, alice_and_bob):
    """A replayed page can make the viewer's browser GET any same-origin URL with the login
    cookie (`<img src=…/download?format=mp4>`): a GET only reads, and a load that embeds a
    download is refused before anything is read or logged."""
    alice, bob, rid = alice_and_bob
    mp4 = f"/recordings/{rid}/download?format=mp4"
    with live.client() as http:
        csrf = login(http, "alice@example.com")
        dashboard = http.get(mp4)
        api = http.get(f"/api/v1{mp4}")  # the API reads with the login cookie too
        embedded = [
            http.get(
                f"{prefix}/recordings/{rid}/download?format={fmt}", headers={"Sec-Fetch-Dest": dest}
            )
            for prefix in ("", "/api/v1")
            for fmt in ("mp4", "json", "html")
            for dest in ("image", "iframe", "video")
        ]
        cookie_post = http.post(f"/api/v1/recordings/{rid}/video")  # the API starts: token only
        no_csrf = http.post(f"/recordings/{rid}/video/cancel")
        assert live.services.db.one("SELECT COUNT(*) AS n FROM recording_videos")["n"] == 0
        assert downloads_in_audit(live, alice) == []
        # What the Download menu does: POST with the CSRF token to start, and to cancel.
        started = http.post(f"/recordings/{rid}/video", headers={"X-CSRF-Token": csrf})
        cancelled = http.post(f"/recordings/{rid}/video/cancel", headers={"X-CSRF-Token": csrf})
        after = http.get(mp4)
        followed = http.get(
            f"/recordings/{rid}/download?format=json", headers={"Sec-Fetch-Dest": "document"}
        )
    assert dashboard.status_code == 409 and "not rendered yet" in html.unescape(dashboard.text)
    assert api.status_code == 409
    assert f"POST /api/v1/recordings/{rid}/video" in api.json()["error"]["message"]
    # Refused here (403 download_embedded), or before, by the server-wide guard that takes the
    # login cookie off such loads (401 on the dashboard, 403 on the API).
    for r in embedded:
        assert r.status_code in (401, 403), (r.status_code, r.text)
    assert cookie_post.status_code == 401
    assert no_csrf.status_code == 403 and no_csrf.json()["error"]["code"] == "csrf_failed"
    assert started.status_code == 200 and started.json()["status"] in ("queued", "rendering")
    assert cancelled.json()["status"] == "failed" and cancelled.json()["error"].startswith(
        "cancelled by user:"
    )
    assert after.status_code == 409 and "start it again" in html.unescape(after.text)
    assert followed.status_code == 200  # a link followed is a download: served and logged
    [entry] = downloads_in_audit(live, alice)
    assert entry["detail"]["format"] == "json"


def test_the_api_starts_limits_and_cancels_renders(live, alice_and_bob):
    alice, bob, rid = alice_and_bob
    with live.client(headers=bearer(alice)) as http:
        more = [record(http, alice, start=T0 + n * 60_000) for n in (1, 2)]
        for other in more:
            wait_ready(http, alice, other)
        asked = [http.post(f"/api/v1/recordings/{r}/video?width=320") for r in (rid, *more)]
        again = http.post(f"/api/v1/recordings/{rid}/video?width=320")
        cancel = http.delete(f"/api/v1/recordings/{rid}/video?width=320")
        after_cancel = http.post(f"/api/v1/recordings/{more[1]}/video?width=320")
        statuses = [http.get(f"/api/v1/recordings/{r}/video?width=320").json() for r in more]
        for r in more:  # leave no render running behind the test
            http.delete(f"/api/v1/recordings/{r}/video?width=320")
        unknown = http.delete(f"/api/v1/recordings/{rid}/video?width=640")
    first, second, third = asked
    assert first.status_code == 202 and second.status_code == 202
    assert first.headers["location"] == (
        f"/api/v1/recordings/{rid}/video?width=320&skip_inactivity=false"
    )
    assert third.status_code == 429 and third.json()["error"]["code"] == "too_many_videos"
    assert "at most 2 at once" in third.json()["error"]["message"]
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]  # one render
    assert cancel.status_code == 200 and cancel.json()["status"] == "failed"
    assert cancel.json()["error"].startswith("cancelled by token:")
    assert after_cancel.status_code == 202, after_cancel.text  # the cancel freed a place
    assert all(s["status"] in ("queued", "rendering", "ready") for s in statuses)
    assert unknown.status_code == 404 and "POST" in unknown.json()["error"]["message"]
