"""Share links: a recording that anyone with the link can play, without logging in.

The token in the link is 256 random bits and is stored only as its SHA-256 (a fast hash is
enough for a secret that cannot be guessed); a lookup goes by the hash and the stored hash is
compared in constant time. A link ends when it expires, when it is revoked, and with its
recording: the row goes with the recording (ON DELETE CASCADE), and a recording that is not
ready, or is past its plan's retention but not swept yet, is not served either.
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

from footage.accounts import audit
from footage.accounts.passwords import secret_hash
from footage.accounts.plans import Plans
from footage.clock import Clock, iso
from footage.errors import BadRequest, NotFound
from footage.store.db import Database, new_id, q

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
# expires_in → how long the link lives; None: until the recording is deleted.
EXPIRIES: dict[str, int | None] = {
    "1h": HOUR_MS,
    "24h": DAY_MS,
    "7d": 7 * DAY_MS,
    "30d": 30 * DAY_MS,
    "never": None,
}
TOKEN_BYTES = 32
# What secrets.token_urlsafe(TOKEN_BYTES) gives; anything else is not looked up at all.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")
CREATED, REVOKED = "share_link.created", "share_link.revoked"


@dataclass(frozen=True)
class Actor:
    """Who acts: a dashboard user or an API token (ids, as the audit log names them)."""

    kind: str  # "user" or "token"
    id: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"


def share_path(token: str) -> str:
    return f"/share/{token}"


def parse_expires_in(value: Any) -> str:
    if not isinstance(value, str) or value not in EXPIRIES:
        raise BadRequest(
            f"'expires_in' must be one of {', '.join(EXPIRIES)} "
            "(never: until the recording is deleted)",
            code="bad_share_link",
        )
    return value


def parse_start_ms(value: Any, duration_ms: int | None) -> int:
    """A start offset in ms: a whole number from 0 to the recording's duration."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadRequest(
            "'start_ms' must be a whole number of milliseconds from the recording's start, "
            "0 or more",
            code="bad_share_link",
        )
    if duration_ms is not None and value > duration_ms:
        raise BadRequest(
            f"'start_ms' is after the end of the recording: it lasts {duration_ms} ms "
            f"({clock_time(duration_ms)})",
            code="bad_share_link",
        )
    return value


def parse_start(text: str, duration_ms: int | None) -> int:
    """A start time as people write it ("0:42", "1:02:05", "42", empty) → ms."""
    text = text.strip()
    if not text:
        return 0
    if not re.fullmatch(r"\d{1,5}(:\d{1,2}){0,2}", text) or any(
        int(part) > 59 for part in text.split(":")[1:]
    ):
        raise BadRequest(
            f"start time {text!r} is not a time; write minutes:seconds like 0:42 or 1:05:00",
            code="bad_share_link",
        )
    seconds = 0
    for part in text.split(":"):
        seconds = seconds * 60 + int(part)
    if duration_ms is not None and seconds * 1000 > duration_ms:
        raise BadRequest(
            f"start time {text} is after the end of the recording ({clock_time(duration_ms)})",
            code="bad_share_link",
        )
    return seconds * 1000


def clock_time(ms: int) -> str:
    """75_000 → "1:15", as the player shows times."""
    seconds = ms // 1000
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return f"{seconds // 60}:{seconds % 60:02d}"


def _ready_recording(db: Database, account_id: str, recording_id: str) -> dict[str, Any]:
    rec = db.one(
        "SELECT id, duration_ms FROM recordings "
        "WHERE id = :r AND account_id = :a AND status = 'ready'",
        {"r": recording_id, "a": account_id},
    )
    if rec is None:
        raise NotFound("no such recording", code="recording_not_found")
    return rec


def recording_duration(db: Database, account_id: str, recording_id: str) -> int | None:
    """The duration of one of the account's ready recordings; NotFound otherwise."""
    duration = _ready_recording(db, account_id, recording_id)["duration_ms"]
    return None if duration is None else int(duration)


def create_link(
    db: Database,
    clock: Clock,
    account_id: str,
    recording_id: str,
    expires_in: str,
    start_ms: int,
    actor: Actor,
) -> tuple[str, dict[str, Any]]:
    """A new link to one of the account's ready recordings: (the token, the link as listed).

    The token is returned this once; only its hash is stored.
    """
    now = clock.now_ms()
    lifetime = EXPIRIES[parse_expires_in(expires_in)]
    token = secrets.token_urlsafe(TOKEN_BYTES)
    link_id = new_id("shr")
    with db.write() as conn:
        ready = q(
            conn,
            "SELECT id FROM recordings WHERE id = :r AND account_id = :a AND status = 'ready'",
            r=recording_id,
            a=account_id,
        )
        if not ready:
            raise NotFound("no such recording", code="recording_not_found")
        q(
            conn,
            "INSERT INTO share_links (id, account_id, recording_id, token_hash, start_ms, "
            "created_by_user, created_by_token, created_at, expires_at) "
            "VALUES (:id, :a, :r, :h, :start, :user, :token, :now, :expires)",
            id=link_id,
            a=account_id,
            r=recording_id,
            h=secret_hash(token),
            start=start_ms,
            user=actor.id if actor.kind == "user" else None,
            token=actor.id if actor.kind == "token" else None,
            now=now,
            expires=None if lifetime is None else now + lifetime,
        )
        detail = {"share_link": link_id, "recording": recording_id, "expires_in": expires_in}
        audit.record(conn, account_id, str(actor), CREATED, detail, at=now)
    return token, _one(db, account_id, link_id)


_LIST = (
    "SELECT l.*, u.email AS creator_email, t.name AS creator_token FROM share_links l "
    "LEFT JOIN users u ON u.id = l.created_by_user "
    "LEFT JOIN api_tokens t ON t.id = l.created_by_token "
)


def _one(db: Database, account_id: str, link_id: str) -> dict[str, Any]:
    row = db.one(
        f"{_LIST} WHERE l.id = :id AND l.account_id = :a", {"id": link_id, "a": account_id}
    )
    if row is None:
        raise NotFound("no such share link", code="share_link_not_found")
    return as_item(row)


def as_item(row: dict[str, Any]) -> dict[str, Any]:
    """A link as the API and the dashboard list it: never its token."""
    if row["creator_email"]:
        creator = row["creator_email"]
    elif row["creator_token"]:
        creator = f"API token “{row['creator_token']}”"
    else:
        creator = "a user or API token that no longer exists"
    return {
        "id": row["id"],
        "recording_id": row["recording_id"],
        "start_ms": row["start_ms"],
        "created_at": iso(row["created_at"]),
        "created_by": creator,
        # null: until the recording is deleted
        "expires_at": iso(row["expires_at"]),
        "views": row["views"],
        "last_viewed_at": iso(row["last_viewed_at"]),
    }


def active_links(db: Database, clock: Clock, account_id: str, recording_id: str) -> list[dict]:
    """The recording's links that still work, newest first; NotFound for others' recordings."""
    _ready_recording(db, account_id, recording_id)
    rows = db.all(
        f"{_LIST} WHERE l.account_id = :a AND l.recording_id = :r AND l.revoked_at IS NULL "
        "AND (l.expires_at IS NULL OR l.expires_at > :now) "
        "ORDER BY l.created_at DESC, l.id DESC",
        {"a": account_id, "r": recording_id, "now": clock.now_ms()},
    )
    return [as_item(row) for row in rows]


def revoke_link(db: Database, clock: Clock, account_id: str, link_id: str, actor: Actor) -> None:
    """The link stops working at once. Revoking a revoked link again changes nothing."""
    now = clock.now_ms()
    with db.write() as conn:
        rows = q(
            conn,
            "SELECT recording_id, revoked_at FROM share_links WHERE id = :id AND account_id = :a",
            id=link_id,
            a=account_id,
        )
        if not rows:
            raise NotFound("no such share link", code="share_link_not_found")
        if rows[0]["revoked_at"] is not None:
            return
        q(conn, "UPDATE share_links SET revoked_at = :now WHERE id = :id", now=now, id=link_id)
        detail = {"share_link": link_id, "recording": rows[0]["recording_id"]}
        audit.record(conn, account_id, str(actor), REVOKED, detail, at=now)


@dataclass(frozen=True)
class OpenLink:
    """What the public page may know of a working link: no account, no visitor."""

    id: str
    recording_id: str
    start_ms: int
    expires_at: int | None
    started_at: int | None
    duration_ms: int | None


def open_link(db: Database, plans: Plans, token: str, now: int) -> OpenLink | None:
    """The working link for a token, or None: unknown, expired, revoked, or its recording is
    gone, not ready or past its retention all look the same to the caller."""
    if not TOKEN_SHAPE.fullmatch(token):
        return None
    digest = secret_hash(token)
    row = db.one(
        "SELECT l.id, l.token_hash, l.recording_id, l.start_ms, l.expires_at, l.revoked_at, "
        "r.status, r.created_at AS recording_created_at, r.started_at, r.duration_ms, a.plan "
        "FROM share_links l JOIN recordings r ON r.id = l.recording_id "
        "JOIN accounts a ON a.id = l.account_id WHERE l.token_hash = :h",
        {"h": digest},
    )
    if row is None or not hmac.compare_digest(row["token_hash"], digest):
        return None
    retention_ends = row["recording_created_at"] + plans.of(row["plan"]).retention_days * DAY_MS
    expired = row["expires_at"] is not None and row["expires_at"] <= now
    if row["revoked_at"] is not None or expired or row["status"] != "ready":
        return None
    if retention_ends <= now:
        return None
    return OpenLink(
        id=row["id"],
        recording_id=row["recording_id"],
        start_ms=int(row["start_ms"]),
        expires_at=row["expires_at"],
        started_at=row["started_at"],
        duration_ms=row["duration_ms"],
    )


def count_view(db: Database, link_id: str, now: int) -> None:
    db.run(
        "UPDATE share_links SET views = views + 1, last_viewed_at = :now WHERE id = :id",
        {"now": now, "id": link_id},
    )
