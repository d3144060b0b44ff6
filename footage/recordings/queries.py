"""Read side: what the list, the player and the API show."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

from footage.clock import iso
from footage.errors import BadRequest, NotFound
from footage.parsing import parse_lines
from footage.store.blobs import BlobStore
from footage.store.chunks import chunks_of, read_chunk
from footage.store.db import Database

MAX_LIMIT = 200
# A cursor is a few dozen characters; a longer one was not made by us (and a deeply nested
# JSON array in it would take the parser down a recursion).
MAX_CURSOR = 300
# What a cursor's sort key may be: a 64-bit integer, as the database stores it. A larger one
# would make the database driver fail instead of answering an empty page.
KEY_RANGE = (-(2**63), 2**63 - 1)


def cursor_key(value: Any) -> int:
    """A cursor's sort key, checked; raises ValueError when it is not one we could have made."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("not a whole number")
    if not KEY_RANGE[0] <= value <= KEY_RANGE[1]:
        raise ValueError("out of range")
    return value


def cursor_json(cursor: str) -> Any:
    """The JSON inside a cursor; raises ValueError for anything we did not make."""
    if len(cursor) > MAX_CURSOR:
        raise ValueError("too long")
    padded = cursor + "=" * (-len(cursor) % 4)
    return json.loads(base64.urlsafe_b64decode(padded))


def encode_cursor(started_at: int, recording_id: str) -> str:
    raw = json.dumps([started_at, recording_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        started_at, recording_id = cursor_json(cursor)
        return cursor_key(started_at), str(recording_id)
    except (ValueError, TypeError):
        raise BadRequest(
            "'cursor' is not valid; pass the next_cursor of the previous page unchanged",
            code="bad_cursor",
        ) from None


def pages_of(
    db: Database, recording_ids: list[str], first: int | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Each recording's pages in the order they were visited. With `first`, only the first
    that many of each: a long visit has hundreds, and a page that shows a few of them should
    not read them all."""
    if not recording_ids:
        return {}
    names: dict[str, Any] = {f"r{i}": rid for i, rid in enumerate(recording_ids)}
    columns = "recording_id, page_id, url, title, started_at, first_seen_at"
    where = f"recording_id IN ({', '.join(':' + n for n in names)})"
    if first is None:
        sql = f"SELECT {columns} FROM recording_pages WHERE {where}"
    else:
        names["first"] = first
        sql = (
            f"SELECT {columns} FROM (SELECT {columns}, ROW_NUMBER() OVER (PARTITION BY "
            "recording_id ORDER BY COALESCE(started_at, first_seen_at), first_seen_at, "
            f"page_id) AS n FROM recording_pages WHERE {where}) p WHERE n <= :first"
        )
    rows = db.all(sql, names)
    out: dict[str, list[dict[str, Any]]] = {rid: [] for rid in recording_ids}
    for row in sorted(rows, key=_visited):
        out[row["recording_id"]].append(row)
    return out


def _visited(page: dict[str, Any]) -> tuple[int, int, str]:
    """A page's place in its recording: when it started, as pages_of's SQL orders them."""
    started = page["started_at"] if page["started_at"] is not None else page["first_seen_at"]
    return started, page["first_seen_at"], page["page_id"]


DAY_MS = 86_400_000


def as_item(
    rec: dict[str, Any], pages: list[dict[str, Any]], retention_days: int | None = None
) -> dict[str, Any]:
    """A recording as the API shows it."""
    return {
        "id": rec["id"],
        "status": rec["status"],
        "site_id": rec["site_id"],
        "created_at": iso(rec["created_at"]),
        # When the retention sweeper deletes it (creation + the plan's retention days).
        "expires_at": iso(rec["created_at"] + retention_days * DAY_MS)
        if retention_days is not None
        else None,
        "started_at": iso(rec["started_at"]),
        "ended_at": iso(rec["ended_at"]),
        "duration_ms": rec["duration_ms"],
        "active_ms": rec["active_ms"],
        "pages": [
            {
                "url": p["url"],
                "title": p["title"] or "",
                "started_at": iso(p["started_at"] or p["first_seen_at"]),
                "offset_ms": max(0, (p["started_at"] or 0) - (rec["started_at"] or 0))
                if p["started_at"]
                else None,
            }
            for p in pages
        ],
        "page_count": rec["page_count"],
        "click_count": rec["click_count"],
        "rage_click_count": rec["rage_click_count"],
        "error_count": rec["error_count"],
        # Frustration signals (heatmaps/analysis.py), besides rage clicks.
        "dead_click_count": rec["dead_click_count"],
        "error_click_count": rec["error_click_count"],
        "quick_back_count": rec["quick_back_count"],
        "excessive_scroll_count": rec["excessive_scroll_count"],
        "device": rec["device"],
        "browser": rec["browser"],
        "os": rec["os"],
        "country": rec["country"],
        "referrer": rec["referrer"] or None,
        "utm": {
            k: rec[f"utm_{k}"]
            for k in ("source", "medium", "campaign", "term", "content")
            if rec[f"utm_{k}"]
        },
        "screen": {"width": rec["screen_width"], "height": rec["screen_height"]}
        if rec["screen_width"]
        else None,
        "visitor": {
            "id": rec["visitor_id"],
            "name": rec.get("visitor_name"),
            "email": rec.get("visitor_email"),
            # What the site told footage('identify' | 'variables') about this visitor.
            "external_id": rec.get("visitor_external_id"),
            "variables": _variables(rec.get("visitor_variables")),
            # Only where the site keeps IPs (setting record_ips); otherwise never stored.
            "ip": rec["ip"],
        },
        "conversation_id": rec["conversation_id"],
    }


def _variables(stored: str | None) -> dict[str, Any]:
    """visitors.variables (JSON text: key → {label, value}) → a dict; {} when none or unreadable."""
    try:
        parsed = json.loads(stored) if stored else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


_SELECT = (
    "SELECT r.*, v.name AS visitor_name, v.email AS visitor_email, "
    "v.external_id AS visitor_external_id, v.variables AS visitor_variables FROM recordings r "
    "LEFT JOIN visitors v ON v.site_id = r.site_id AND v.id = r.visitor_id "
)


def list_recordings(
    db: Database,
    account_id: str,
    *,
    limit: int = 50,
    cursor: str | None = None,
    retention_days: int | None = None,
) -> dict[str, Any]:
    """Ready recordings of an account, newest first, with a cursor for the next page."""
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"'limit' must be between 1 and {MAX_LIMIT}", code="bad_limit")
    params: dict[str, Any] = {"a": account_id, "n": limit + 1}
    where = "r.account_id = :a AND r.status = 'ready'"
    if cursor:
        started_at, rid = decode_cursor(cursor)
        where += " AND (r.started_at < :cs OR (r.started_at = :cs AND r.id < :cid))"
        params.update(cs=started_at, cid=rid)
    rows = db.all(f"{_SELECT} WHERE {where} ORDER BY r.started_at DESC, r.id DESC LIMIT :n", params)
    more = len(rows) > limit
    rows = rows[:limit]
    pages = pages_of(db, [r["id"] for r in rows])
    return {
        "items": [as_item(r, pages[r["id"]], retention_days) for r in rows],
        "next_cursor": encode_cursor(rows[-1]["started_at"], rows[-1]["id"]) if more else None,
    }


def get_recording(
    db: Database,
    account_id: str,
    recording_id: str,
    retention_days: int | None = None,
    *,
    first_pages: int | None = None,
) -> dict[str, Any]:
    """One ready recording of the account; NotFound for others' and unfinished ones alike.

    With `first_pages`, its first that many pages only, and `pages_total` says how many it
    has (the player page lists a few; a 4-hour visit can have a thousand)."""
    rec = db.one(
        f"{_SELECT} WHERE r.id = :id AND r.account_id = :a AND r.status = 'ready'",
        {"id": recording_id, "a": account_id},
    )
    if rec is None:
        raise NotFound("no such recording", code="recording_not_found")
    item = as_item(rec, pages_of(db, [recording_id], first_pages)[recording_id], retention_days)
    if first_pages is not None:
        row = db.one(
            "SELECT COUNT(*) AS n FROM recording_pages WHERE recording_id = :r",
            {"r": recording_id},
        )
        item["pages_total"] = int(row["n"]) if row else 0
    return item


def live_count(db: Database, account_id: str) -> int:
    row = db.one(
        "SELECT COUNT(*) AS n FROM recordings WHERE account_id = :a AND status != 'ready'",
        {"a": account_id},
    )
    return int(row["n"]) if row else 0


def started_at_ms(db: Database, recording_id: str) -> int | None:
    """When a recording started (ms), as stored: the matching moments count from it."""
    row = db.one("SELECT started_at FROM recordings WHERE id = :r", {"r": recording_id})
    return row["started_at"] if row else None


def iter_events_json(db: Database, blobs: BlobStore, recording_id: str) -> Iterator[bytes]:
    """The recording's events as one JSON array, produced piece by piece."""
    yield b"["
    first = True
    for chunk in chunks_of(db, recording_id):
        lines = read_chunk(blobs, chunk)
        if lines:
            yield (b"" if first else b",") + b",".join(lines)
            first = False
    yield b"]"


# Events parsed under one hold of the cycle collector when they are read one by one.
PARSE_AT_ONCE = 256


def iter_events(db: Database, blobs: BlobStore, recording_id: str) -> Iterator[dict[str, Any]]:
    """The recording's events as stored (a ready recording's are in time order), parsed a
    few hundred at a time, so a reader that finds what it needs early stops early (a ready
    recording is one chunk of all its events)."""
    for chunk in chunks_of(db, recording_id):
        lines = read_chunk(blobs, chunk)
        for start in range(0, len(lines), PARSE_AT_ONCE):
            yield from parse_lines(lines[start : start + PARSE_AT_ONCE])


def events_of(db: Database, blobs: BlobStore, recording_id: str) -> list[dict[str, Any]]:
    """The recording's events, parsed, in time order."""
    return sorted(iter_events(db, blobs, recording_id), key=lambda e: e["timestamp"])
