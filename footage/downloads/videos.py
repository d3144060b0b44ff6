"""Videos of recordings: the render jobs (`recording_videos`), claimed like other background work.

One row per recording and set of options. Asking for a video (a POST, never a GET) queues the
row (or re-queues a failed one), at most `video_renders_per_account` queued or rendering per
account; a renderer claims a queued row with a conditional UPDATE (plus SKIP LOCKED on
PostgreSQL) and a random claim token, taking turns between accounts (`claim`), and moves
`heartbeat_at` with every progress step. A row left in *rendering* by a process that died stops
moving and is claimed again after STALE_AFTER_MS, up to MAX_ATTEMPTS times; a render past its
time limit, or cancelled, fails with the reason and is never retried. The finished file is a
blob, deleted with the recording (`store/deletion.py`).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from footage.errors import BadRequest, FootageError, NotFound
from footage.store.db import Database, new_id, q

DEFAULT_WIDTH = 1280
MIN_WIDTH, MAX_WIDTH = 320, 3840
STALE_AFTER_MS = 120_000
MAX_ATTEMPTS = 3
STATUSES = ("queued", "rendering", "ready", "failed")
RECENT_MS = 3_600_000  # renders started this recently count against an account's turn


class TooManyRenders(FootageError):
    status, code = 429, "too_many_videos"


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
    limit: int | None = None,
) -> dict[str, Any]:
    """Queue a video (the existing job if it is queued, rendering or ready; a failed one is
    queued again). With `limit`, an account that already has that many renders queued or
    running gets 429 instead: one account's videos never fill the queue for the others."""
    with db.write() as conn:
        if limit is not None:
            # On PostgreSQL two requests of one account would both count the same rows: the
            # account's row lock makes them count one after the other. (SQLite has one writer.)
            q(conn, f"SELECT id FROM accounts WHERE id = :a{db.for_update}", a=account_id)
            rows = q(
                conn,
                "SELECT recording_id, options FROM recording_videos WHERE account_id = :a "
                "AND status IN ('queued', 'rendering')",
                a=account_id,
            )
            pending = {(r["recording_id"], r["options"]) for r in rows}
            if (recording_id, options.key()) not in pending and len(pending) >= limit:
                raise TooManyRenders(
                    f"this account already has {len(pending)} videos queued or rendering (at "
                    f"most {limit} at once); wait until one is ready, or cancel one with "
                    "DELETE /api/v1/recordings/{id}/video (the Download menu's Cancel), then "
                    "ask again"
                )
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


def cancel(
    db: Database, account_id: str, recording_id: str, options: VideoOptions, actor: str, now: int
) -> dict[str, Any] | None:
    """Cancel a queued or rendering video: it becomes failed with the reason, and a renderer
    drawing it notices within about a second (its claim is void). None when there is no job;
    a ready or failed one is left as it is."""
    db.run(
        "UPDATE recording_videos SET status = 'failed', claim = NULL, finished_at = :now, "
        "error = :e WHERE recording_id = :r AND account_id = :a AND options = :o "
        "AND status IN ('queued', 'rendering')",
        {
            "e": f"cancelled by {actor}",
            "now": now,
            "r": recording_id,
            "a": account_id,
            "o": options.key(),
        },
    )
    return find(db, account_id, recording_id, options)


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


def claim(
    db: Database,
    now: int,
    job_id: str | None = None,
    time_limit_ms: int | None = None,
) -> dict[str, Any] | None:
    """Claim the next job to render (or the one named), or None when there is none.

    Fair across accounts: the next job is the one of the account whose renders started least
    in the last RECENT_MS (then the one waiting longest), so one account's queue never holds
    back another's. A job whose renderer died (no heartbeat for STALE_AFTER_MS) is claimed
    again; after MAX_ATTEMPTS it fails instead, so a recording that crashes the browser does
    not loop, and so does one whose last attempt already ran past `time_limit_ms`.
    """
    stale = now - STALE_AFTER_MS
    params: dict[str, Any] = {"now": now, "stale": stale, "claim": _token()}
    with db.write() as conn:
        q(
            conn,
            "UPDATE recording_videos SET status = 'failed', finished_at = :now, claim = NULL, "
            "error = 'rendering stopped several times (the renderer was stopped or ran out of "
            f"memory)' WHERE status = 'rendering' AND heartbeat_at <= :stale "
            f"AND attempts >= {MAX_ATTEMPTS}",
            now=now,
            stale=stale,
        )
        if time_limit_ms is not None:
            q(
                conn,
                "UPDATE recording_videos SET status = 'failed', finished_at = :now, "
                "claim = NULL, error = :e WHERE status = 'rendering' AND heartbeat_at <= :stale "
                "AND heartbeat_at - claimed_at >= :limit",
                now=now,
                stale=stale,
                limit=time_limit_ms,
                e=time_limit_error(time_limit_ms),
            )
        which = ""
        if job_id is not None:
            which, params["id"] = "AND v.id = :id ", job_id
        params["recent"] = now - RECENT_MS
        rows = q(
            conn,
            "UPDATE recording_videos SET status = 'rendering', claim = :claim, claimed_at = :now, "
            "heartbeat_at = :now, attempts = attempts + 1, progress = 0 "
            "WHERE id IN (SELECT v.id FROM recording_videos v "
            "WHERE (v.status = 'queued' OR (v.status = 'rendering' AND v.heartbeat_at <= :stale)) "
            f"{which}ORDER BY (SELECT COUNT(*) FROM recording_videos d "
            "WHERE d.account_id = v.account_id AND d.id <> v.id AND d.claimed_at > :recent), "
            f"v.created_at, v.id LIMIT 1 {db.skip_locked()}) RETURNING *",
            **params,
        )
    return rows[0] if rows else None


def time_limit_error(limit_ms: int) -> str:
    return (
        f"the render took longer than {limit_ms / 1000:.0f} s and was stopped (the server's "
        "limit, video_render_timeout_seconds); try a smaller width or skip_inactivity=true, "
        "or download the HTML file, which plays the whole recording"
    )


def still_claimed(db: Database, job: dict[str, Any]) -> bool:
    """Is the job still this renderer's (not cancelled, deleted or taken over)?"""
    return (
        db.one(
            "SELECT 1 AS x FROM recording_videos WHERE id = :id AND claim = :claim "
            "AND status = 'rendering'",
            {"id": job["id"], "claim": job["claim"]},
        )
        is not None
    )


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
            "no video of this recording was asked for with these options; start one with "
            "POST /api/v1/recordings/{id}/video (same width and skip_inactivity)",
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
