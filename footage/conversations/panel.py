"""What a conversation shows beside its messages: the visitor, their visit, their recordings.

The recordings are the visitor's on the conversation's site: those of this conversation first
(the visit during which they chatted: *live* while the visitor is still on the site, then the
finalized one, played from the moment the conversation started), then earlier visits.
"""

from __future__ import annotations

from typing import Any

from footage.clock import iso
from footage.sessions.useragent import parse_agent
from footage.store.db import Database

# A live recording whose last batch or heartbeat is older than this: the visitor has gone and
# the finalizer is about to finish it (heartbeats come every 20 s).
ON_SITE_MS = 45_000
MAX_RECORDINGS = 50


def recordings_of_visitor(db: Database, conversation: dict[str, Any]) -> list[dict[str, Any]]:
    """The visitor's recordings on the site: this conversation's first, then newest first."""
    rows = db.all(
        "SELECT id, status, created_at, started_at, ended_at, last_seen_at, duration_ms, "
        "country, device, browser, os, user_agent, conversation_id FROM recordings "
        "WHERE site_id = :s AND visitor_id = :v "
        "ORDER BY COALESCE(started_at, created_at) DESC LIMIT :n",
        {"s": conversation["site_id"], "v": conversation["visitor_id"], "n": MAX_RECORDINGS},
    )
    rows.sort(key=lambda r: r["conversation_id"] != conversation["id"])  # stable: keeps order
    return rows


def recording_item(
    rec: dict[str, Any], conversation: dict[str, Any], base_url: str, now_ms: int
) -> dict[str, Any]:
    """A recording as the conversation shows it (the API's `recordings` entries)."""
    ready = rec["status"] == "ready"
    started = rec["started_at"] if rec["started_at"] is not None else rec["created_at"]
    linked = rec["conversation_id"] == conversation["id"]
    # Where the player opens: the moment the conversation started, inside this visit.
    start_ms = max(0, conversation["started_at"] - started) if linked and ready else 0
    if ready and rec["duration_ms"] is not None:
        start_ms = min(start_ms, int(rec["duration_ms"]))
    url = None
    if ready:
        url = f"{base_url}/recordings/{rec['id']}" + (f"?t={start_ms}" if start_ms else "")
    return {
        "id": rec["id"],
        "status": "ready" if ready else "live",
        "started_at": iso(started),
        "ended_at": iso(rec["ended_at"]) if ready else None,
        # While live: how long the visit has lasted so far.
        "duration_ms": rec["duration_ms"] if ready else max(0, now_ms - rec["created_at"]),
        "in_conversation": linked,
        "start_ms": start_ms,
        "url": url,
    }


def visit_details(db: Database, rec: dict[str, Any] | None, now_ms: int) -> dict[str, Any]:
    """Country, device, browser, OS, pages and current page of one visit (a recording)."""
    if rec is None:
        return {"pages": [], "current_page": None}
    device, browser, os = rec["device"], rec["browser"], rec["os"]
    if not device:  # live: the summary is computed at finalize; the agent needs it now
        agent = parse_agent(rec["user_agent"])
        device, browser, os = agent.device, agent.browser, agent.os
    pages = db.all(
        "SELECT url, title, left_at, COALESCE(started_at, first_seen_at) AS at "
        "FROM recording_pages WHERE recording_id = :r ORDER BY at",
        {"r": rec["id"]},
    )
    on_site = rec["status"] != "ready" and now_ms - rec["last_seen_at"] < ON_SITE_MS
    current = next((p for p in reversed(pages) if p["left_at"] is None), None)
    return {
        "country": rec["country"],
        "device": device,
        "browser": browser,
        "os": os,
        "on_site": on_site,
        "current_page": current if on_site else None,
        "pages": [{"url": p["url"], "title": p["title"] or "", "at": iso(p["at"])} for p in pages],
    }


def past_conversations(db: Database, conversation: dict[str, Any]) -> list[dict[str, Any]]:
    return db.all(
        "SELECT id, started_at, message_count FROM conversations "
        "WHERE site_id = :s AND visitor_id = :v AND id != :c AND message_count > 0 "
        "ORDER BY started_at DESC LIMIT 20",
        {"s": conversation["site_id"], "v": conversation["visitor_id"], "c": conversation["id"]},
    )


def visitor_panel(
    db: Database,
    conversation: dict[str, Any],
    base_url: str,
    now_ms: int,
    retention_days: int | None = None,
) -> dict[str, Any]:
    """Everything the Visitor info panel shows; `retention_days` (the plan's) tells a visit
    whose recording was deleted with time from one that was never recorded."""
    rows = recordings_of_visitor(db, conversation)
    items = [recording_item(r, conversation, base_url, now_ms) for r in rows]
    # The visit to describe: the one in progress, else this conversation's, else the latest.
    visit = next((r for r in rows if r["status"] != "ready"), rows[0] if rows else None)
    return {
        "visit": visit_details(db, visit, now_ms),
        "this_visit": [i for i in items if i["in_conversation"] or i["status"] == "live"],
        "earlier": [i for i in items if not (i["in_conversation"] or i["status"] == "live")],
        "retention_days": retention_days,
        "expired": retention_days is not None
        and now_ms - int(conversation["started_at"]) > retention_days * 86_400_000,
        "past_conversations": [
            {**c, "started_at": iso(c["started_at"])} for c in past_conversations(db, conversation)
        ],
    }
