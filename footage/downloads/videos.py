"""Videos of recordings: the render jobs (`recording_videos`), claimed like other background work.

One row per recording and set of options. Asking for a video queues the row (or re-queues a
failed one); a renderer claims a queued row with a conditional UPDATE (plus SKIP LOCKED on
PostgreSQL) and a random claim token, and moves `heartbeat_at` with every progress step. A row
left in *rendering* by a process that died stops moving and is claimed again after
STALE_AFTER_MS, up to MAX_ATTEMPTS times. The finished file is a blob, deleted with the
recording (`recordings/deletion.py`).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from footage.errors import BadRequest, NotFound
from footage.store.db import Database, new_id, q

DEFAULT_WIDTH = 1280
MIN_WIDTH, MAX_WIDTH = 320, 3840
STALE_AFTER_MS = 120_000
MAX_ATTEMPTS = 3
STATUSES = ("queued", "rendering", "ready", "failed")


@dataclass(frozen=True)
class VideoOptions:
    width: int = DEFAULT_WIDTH
    skip_inactivity: bool = False

    def key(self) -> str:
        """The options as stored: canonical JSON, so equal options find the same row."""
        return json.dumps(
            {"skip_inactivity": self.skip_inactivity, "width": self.width},
            sort_keys=True,
            separators=(",", ":"),
        )

    def query(self) -> str:
        return f"width={self.width}&skip_inactivity={str(self.skip_inactivity).lower()}"

    @classmethod
    def parse(cls, width: str | int | None, skip_inactivity: str | bool | None) -> VideoOptions:
        """From query parameters or flags; a 400 that says what is allowed otherwise."""
        if width in (None, ""):
            w = DEFAULT_WIDTH
        else:
            text = str(width).strip()
            if not text.isdigit() or not MIN_WIDTH <= int(text) <= MAX_WIDTH:
                raise BadRequest(
                    f"'width' must be a whole number of pixels from {MIN_WIDTH} to {MAX_WIDTH}",
                    code="bad_width",
                )
            w = int(text) // 2 * 2  # H.264 in yuv420p wants even sizes
        if isinstance(skip_inactivity, bool):
            skip = skip_inactivity
        elif skip_inactivity in (None, "", "false", "0", "no"):
            skip = False
        elif skip_inactivity in ("true", "1", "yes"):
            skip = True
        else:
            raise BadRequest("'skip_inactivity' must be true or false", code="bad_skip_inactivity")
        return cls(width=w, skip_inactivity=skip)

    @classmethod
    def from_key(cls, key: str) -> VideoOptions:
        data = json.loads(key)
        return cls(width=int(data["width"]), skip_inactivity=bool(data["skip_inactivity"]))


def find(
    db: Database, account_id: str, recording_id: str, options: VideoOptions
) -> dict[str, Any] | None:
    return db.one(
        "SELECT * FROM recording_videos WHERE recording_id = :r AND account_id = :a "
        "AND options = :o",
        {"r": recording_id, "a": account_id, "o": options.key()},
    )


def request(
    db: Database,
    account_id: str,
    recording_id: str,
    options: VideoOptions,
    actor: str,
    now: int,
) -> dict[str, Any]:
    """The video's job, queued now unless it exists; a failed one is queued again."""
    with db.write() as conn:
        q(
            conn,
            "INSERT INTO recording_videos (id, recording_id, account_id, options, status, "
            "requested_by, created_at) VALUES (:id, :r, :a, :o, 'queued', :by, :now) "
            "ON CONFLICT (recording_id, options) DO NOTHING",
            id=new_id("vid"),
            r=recording_id,
            a=account_id,
            o=options.key(),
            by=actor,
            now=now,
        )
        q(
            conn,
            "UPDATE recording_videos SET status = 'queued', progress = 0, attempts = 0, "
            "error = NULL, claim = NULL, requested_by = :by, created_at = :now "
            "WHERE recording_id = :r AND options = :o AND status = 'failed'",
            r=recording_id,
            o=options.key(),
            by=actor,
            now=now,
        )
    job = find(db, account_id, recording_id, options)
    assert job is not None
    return job


def waiting(db: Database, now: int) -> bool:
    """Is there a job to claim (queued, or rendering without a heartbeat for too long)?"""
    return (
        db.one(
            "SELECT 1 AS x FROM recording_videos WHERE status = 'queued' "
            "OR (status = 'rendering' AND heartbeat_at <= :stale) LIMIT 1",
            {"stale": now - STALE_AFTER_MS},
        )
        is not None
    )


def claim(db: Database, now: int, job_id: str | None = None) -> dict[str, Any] | None:
    """Claim the oldest job to render (or the one named), or None when there is none.

    A job whose renderer died (no heartbeat for STALE_AFTER_MS) is claimed again; after
    MAX_ATTEMPTS it fails instead, so a recording that crashes the browser does not loop.
    """
    params: dict[str, Any] = {"now": now, "stale": now - STALE_AFTER_MS, "claim": _token()}
    with db.write() as conn:
        q(
            conn,
            "UPDATE recording_videos SET status = 'failed', finished_at = :now, error = "
            "'rendering stopped several times (the renderer was stopped or ran out of memory)' "
            f"WHERE status = 'rendering' AND heartbeat_at <= :stale AND attempts >= {MAX_ATTEMPTS}",
            now=now,
            stale=params["stale"],
        )
        which = ""
        if job_id is not None:
            which, params["id"] = "AND id = :id ", job_id
        rows = q(
            conn,
            "UPDATE recording_videos SET status = 'rendering', claim = :claim, claimed_at = :now, "
            "heartbeat_at = :now, attempts = attempts + 1, progress = 0 "
            "WHERE id IN (SELECT id FROM recording_videos "
            f"WHERE (status = 'queued' OR (status = 'rendering' AND heartbeat_at <= :stale)) "
            f"{which}ORDER BY created_at LIMIT 1 {db.skip_locked()}) RETURNING *",
            **params,
        )
    return rows[0] if rows else None


def _token() -> str:
    return secrets.token_urlsafe(12)


def heartbeat(db: Database, job: dict[str, Any], progress: int, now: int) -> bool:
    """Record progress (0–100); False when the claim was lost (deleted, or taken over)."""
    return (
        db.run(
            "UPDATE recording_videos SET progress = :p, heartbeat_at = :now "
            "WHERE id = :id AND claim = :claim AND status = 'rendering'",
            {"p": max(0, min(100, progress)), "now": now, "id": job["id"], "claim": job["claim"]},
        )
        == 1
    )


def finish(db: Database, job: dict[str, Any], blob_key: str, size: int, now: int) -> bool:
    """The video is stored: mark it ready. False when the job is gone (the recording was
    deleted meanwhile), and the caller deletes the blob it just stored."""
    return (
        db.run(
            "UPDATE recording_videos SET status = 'ready', progress = 100, blob_key = :k, "
            "size = :size, finished_at = :now, heartbeat_at = :now, error = NULL "
            "WHERE id = :id AND claim = :claim AND status = 'rendering'",
            {"k": blob_key, "size": size, "now": now, "id": job["id"], "claim": job["claim"]},
        )
        == 1
    )


def fail(db: Database, job: dict[str, Any], error: str, now: int) -> None:
    db.run(
        "UPDATE recording_videos SET status = 'failed', error = :e, finished_at = :now "
        "WHERE id = :id AND claim = :claim AND status = 'rendering'",
        {"e": error[:500], "now": now, "id": job["id"], "claim": job["claim"]},
    )


def release(db: Database, job: dict[str, Any]) -> None:
    """Give a claimed job back (the process is shutting down): another renderer starts it."""
    db.run(
        "UPDATE recording_videos SET status = 'queued', claim = NULL, progress = 0, "
        "attempts = attempts - 1 WHERE id = :id AND claim = :claim AND status = 'rendering'",
        {"id": job["id"], "claim": job["claim"]},
    )


def status_of(job: dict[str, Any] | None, download_url: str) -> dict[str, Any]:
    """A job as the API and the dashboard show it."""
    if job is None:
        raise NotFound(
            "no video of this recording was asked for with these options; ask for "
            "/download?format=mp4 first",
            code="video_not_requested",
        )
    options = VideoOptions.from_key(job["options"])
    return {
        "id": job["id"],
        "status": job["status"],
        "progress": int(job["progress"]),
        "width": options.width,
        "skip_inactivity": options.skip_inactivity,
        "size": job["size"],
        "error": job["error"],
        "download_url": download_url if job["status"] == "ready" else None,
    }
