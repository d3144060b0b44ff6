"""`footage export` as an operator runs it: a separate process on the configured database and
blob store, no TTY (the progress bar prints lines on stderr)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

from footage.accounts.audit import entries
from tests.conftest import batch, click, gz, meta, new_ids, wait_for
from tests.downloads.recording import account, record, wait_ready
from tests.downloads.test_api import ffprobe_duration


def footage(live, *args: str) -> subprocess.CompletedProcess[str]:
    settings = live.services.settings
    flags = ["--data-dir", str(settings.data_dir)]
    if settings.database_url:
        flags += ["--database-url", settings.database_url]
    return subprocess.run(
        [sys.executable, "-m", "footage", *args, *flags],
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if not k.startswith("FOOTAGE_")},
    )


def test_export_json_and_html_write_the_file_with_progress(live, tmp_path):
    alice = account(live, "Alice", "https://alice.example")
    with live.client() as http:
        rid = record(http, alice)
        wait_ready(http, alice, rid)
        stored = http.get(
            f"/api/v1/recordings/{rid}/events",
            headers={"Authorization": f"Bearer {alice.api_token}"},
        ).json()
    out = tmp_path / "events.json"
    done = footage(live, "export", rid, "--format", "json", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_bytes()) == stored
    assert "100 % reading events" in done.stderr and "[" in done.stderr
    assert f"wrote {out}" in done.stdout
    page = tmp_path / "page.html"
    done = footage(live, "export", rid, "--format", "html", "-o", str(page))
    assert done.returncode == 0, done.stderr
    assert (
        page.read_text().startswith("<!doctype html>") and 'id="footage-events"' in page.read_text()
    )
    logged = [
        e
        for e in entries(live.services.db, alice.account_id)
        if e["action"] == "recording.downloaded"
    ]
    assert [(e["detail"]["format"], e["detail"]["via"], e["actor"]) for e in logged] == [
        ("html", "cli", "cli"),
        ("json", "cli", "cli"),
    ]


def test_export_refuses_unknown_live_and_bad_format(live, tmp_path):
    alice = account(live, "Alice", "https://alice.example")
    unknown = footage(live, "export", "rec_nope", "-o", str(tmp_path / "x.html"))
    assert unknown.returncode == 1 and "no recording 'rec_nope'" in unknown.stderr
    # A visitor still on the site: a batch every second, so the recording stays live however
    # long the command takes to start on a busy machine (the live server's heartbeat timeout
    # is 5 s).
    ids, stop = new_ids(), threading.Event()
    first = wait_for(lambda: send_live(live, alice, ids, 0))

    def keep_visiting() -> None:
        seq = 1
        while not stop.wait(1.0):
            send_live(live, alice, ids, seq)
            seq += 1

    visitor = threading.Thread(target=keep_visiting, daemon=True)
    visitor.start()
    try:
        live_id = first["recording_id"]
        not_ready = footage(live, "export", live_id, "-o", str(tmp_path / "x.html"))
    finally:
        stop.set()
        visitor.join(timeout=30)
    assert not_ready.returncode == 1 and "not ready" in not_ready.stderr
    bad = footage(live, "export", live_id, "--format", "gif")
    assert bad.returncode == 2 and "html" in bad.stderr and "mp4" in bad.stderr
    assert not (tmp_path / "x.html").exists()


def send_live(live, acc, ids: dict[str, str], seq: int) -> dict | None:
    now = int(time.time() * 1000)
    with live.client() as http:
        r = http.post(
            "/api/v1/ingest",
            content=gz(batch(acc.site_key, ids, seq, [meta(now), click(now + 1)])),
            headers={"Origin": "https://alice.example", "Content-Type": "text/plain"},
        )
    return r.json() if r.status_code == 200 else None


def test_export_mp4_renders_it_here_and_stores_it(live, tmp_path):
    alice = account(live, "Alice", "https://alice.example")
    with live.client() as http:
        rid = record(http, alice, seconds=3)
        wait_ready(http, alice, rid)
    out = tmp_path / "video.mp4"
    done = footage(live, "export", rid, "--format", "mp4", "--width", "320", "-o", str(out))
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "rendering video" in line]
    assert lines[-1].endswith("100 % rendering video") and len(lines) >= 3
    duration = live.services.db.one("SELECT duration_ms FROM recordings WHERE id = :r", {"r": rid})[
        "duration_ms"
    ]
    assert abs(ffprobe_duration(out) - duration / 1000) < 1.0
    row = live.services.db.one(
        "SELECT status, size, blob_key FROM recording_videos WHERE recording_id = :r", {"r": rid}
    )
    assert row["status"] == "ready" and row["size"] == out.stat().st_size
    assert live.services.blobs.get(row["blob_key"]) == out.read_bytes()


def test_without_chromium_and_ffmpeg_mp4_says_what_the_server_needs(live, tmp_path, monkeypatch):
    alice = account(live, "Alice", "https://alice.example")
    with live.client() as http:
        rid = record(http, alice, seconds=2)
        wait_ready(http, alice, rid)
    monkeypatch.setenv("PATH", str(tmp_path))  # a server where neither is installed
    done = footage(live, "export", rid, "--format", "mp4", "-o", str(tmp_path / "v.mp4"))
    assert done.returncode == 1
    assert "MP4 needs chromium and ffmpeg on the server" in done.stderr
    assert "chromium and ffmpeg not found" in done.stderr
    with live.client(headers={"Authorization": f"Bearer {alice.api_token}"}) as http:
        r = http.post(f"/api/v1/recordings/{rid}/video")
        html = http.get(f"/api/v1/recordings/{rid}/download?format=html")
    assert r.status_code == 503 and r.json()["error"]["code"] == "video_unavailable"
    assert r.json()["error"]["message"].startswith("MP4 needs chromium and ffmpeg on the server")
    assert html.status_code == 200  # the other formats need neither
    assert live.services.db.one("SELECT COUNT(*) AS n FROM recording_videos")["n"] == 0
