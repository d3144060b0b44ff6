"""The live view: `/live/{site}/{visitor}` (the page) and its stream of Server-Sent Events.

The stream opens with the visitor's current page (`start`), then pushes each batch their
recorder stores (`events`), checking the database every POLL_SECONDS — the database is the
bus, so the recorder may send to one `footage serve` process and the agent watch through
another. While the view is open it holds a watch on the visitor (sessions/watching.py), so
their recorder sends a small batch about every second; when nobody watches, it keeps its
usual cadence. The view ends when the visitor has left (`state` 'left'), with a link to the
recording once it is ready (`ready`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from footage.accounts import audit
from footage.accounts.usage import used_this_month
from footage.errors import FootageError
from footage.live.feed import Feed, live_recording, state_of
from footage.sessions.watching import forget_lapsed, stop_watching, watch
from footage.web.render import render
from footage.web.users import PageUser, ScriptUser, User

router = APIRouter(include_in_schema=False)

POLL_SECONDS = 0.25  # how often a view looks for new batches
STATE_SECONDS = 1.0  # how often it looks whether the visitor is still there
RENEW_SECONDS = 5.0  # how often it renews its watch (sessions/watching.py LEASE_MS: 20 s)
QUIET_SECONDS = 15.0  # a comment when nothing was sent for this long keeps proxies open
LONGEST_SECONDS = 3600.0  # a view reconnects after this (EventSource does so by itself)
READY_WAIT_SECONDS = 600.0  # after the visitor left, how long to wait for the recording
MAX_VIEWS_PER_USER = 5  # live views one user may have open at once, per process
MAX_LISTED = 100  # visitors on the site now, listed at most

ACTION = "live_view.opened"

# What the server knows stops recording; the browser-side reasons are listed for the rest.
UNKNOWN = "Nothing is being recorded of this visitor now. The view starts by itself once it is."
CAUSES = [
    "they have not moved, scrolled or typed yet (recording starts then);",
    "the page is excluded in Settings, or by the site's code (recording:disable);",
    "the visitor is excluded (visitor:exclude, or by address in Settings);",
    "a phone or tablet, where those are not recorded;",
    "no consent given, where the site asks for it;",
    "their browser asks not to be tracked, where the site respects that.",
]

_open_views: dict[str, int] = {}


class TooManyViews(FootageError):
    status = 429
    code = "too_many_live_views"


def _site(request: Request, user: User, site_id: str) -> dict[str, Any] | None:
    return request.app.state.services.db.one(  # type: ignore[no-any-return]
        "SELECT s.*, a.plan, a.time_zone FROM sites s JOIN accounts a ON a.id = s.account_id "
        "WHERE s.id = :s AND s.account_id = :a",
        {"s": site_id, "a": user["account_id"]},
    )


def why_not_recorded(request: Request, site: dict[str, Any]) -> str:
    """Why a visitor of this site is not being recorded, as far as the server can tell."""
    svc = request.app.state.services
    plan = svc.plans.of(site["plan"])
    if not plan.records:
        return "Recordings are not included in the Free plan, so there is nothing to watch live."
    if not site["recording_enabled"]:
        return "Recording is switched off for this site in Settings: nothing to watch live."
    used = used_this_month(svc.db, site["account_id"], svc.clock.now_ms(), site["time_zone"])
    if used >= plan.monthly_limit:
        return (
            f"This month's {plan.monthly_limit:,} recordings are used up: no visitor is "
            "recorded until the 1st of next month, so there is nothing to watch live."
        )
    return UNKNOWN


@router.get("/live")
def live_list(request: Request, user: PageUser) -> Response:
    """The visitors being recorded now, each with Watch live (the recordings list links here)."""
    svc = request.app.state.services
    now = svc.clock.now_ms()
    rows = svc.db.all(
        "SELECT r.id, r.site_id, r.visitor_id, r.started_at, r.created_at, r.last_seen_at, "
        "s.name AS site_name, v.name AS visitor_name, v.email AS visitor_email, "
        "(SELECT p.url FROM recording_pages p WHERE p.recording_id = r.id AND p.left_at IS NULL "
        " ORDER BY COALESCE(p.started_at, p.first_seen_at) DESC LIMIT 1) AS page "
        "FROM recordings r JOIN sites s ON s.id = r.site_id "
        "LEFT JOIN visitors v ON v.site_id = r.site_id AND v.id = r.visitor_id "
        "WHERE r.account_id = :a AND r.status = 'live' "
        "ORDER BY r.last_seen_at DESC LIMIT :n",
        {"a": user["account_id"], "n": MAX_LISTED},
    )
    visitors = [
        {
            **row,
            "label": row["visitor_name"]
            or row["visitor_email"]
            or f"Visitor {row['visitor_id'][:8]}",
            "lasted_ms": max(0, now - int(row["started_at"] or row["created_at"])),
            "url": f"/live/{row['site_id']}/{quote(row['visitor_id'], safe='')}",
        }
        for row in rows
    ]
    return render(request, "live_list.html", user, visitors=visitors, listed=MAX_LISTED)


@router.get("/live/{site_id}/{visitor_id}")
def live_page(request: Request, user: PageUser, site_id: str, visitor_id: str) -> Response:
    svc = request.app.state.services
    site = _site(request, user, site_id)
    if site is None:
        response = render(
            request,
            "error.html",
            user,
            title="Visitor not found",
            message="The site may have been removed, or it belongs to another account.",
        )
        response.status_code = 404
        return response
    visitor = svc.db.one(
        "SELECT id, name, email FROM visitors WHERE site_id = :s AND id = :v",
        {"s": site_id, "v": visitor_id},
    ) or {"id": visitor_id, "name": None, "email": None}
    # Every live view is in the audit log: who watched, when, on which site (no visitor id:
    # the log outlives the visitor's data).
    with svc.db.write() as conn:
        audit.record(
            conn,
            user["account_id"],
            f"user:{user['id']}",
            ACTION,
            {"site": site_id},
            at=svc.clock.now_ms(),
        )
    back = request.query_params.get("from", "")
    return render(
        request,
        "live.html",
        user,
        site=site,
        visitor=visitor,
        stream_url=f"/live/{site_id}/{visitor_id}/stream",
        back=back if back.startswith("/conversations/") else "",
    )


def _event(name: str, data: Any) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


@router.get("/live/{site_id}/{visitor_id}/stream")
async def live_stream(
    request: Request, user: ScriptUser, site_id: str, visitor_id: str
) -> Response:
    site = await to_thread.run_sync(_site, request, user, site_id)
    if site is None:
        return Response("no such site", status_code=404, media_type="text/plain")
    if _open_views.get(user["id"], 0) >= MAX_VIEWS_PER_USER:
        raise TooManyViews(
            f"you have {MAX_VIEWS_PER_USER} live views open already; close one first"
        )
    return StreamingResponse(
        _stream(request, user, site, visitor_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _stream(
    request: Request, user: User, site: dict[str, Any], visitor_id: str
) -> AsyncIterator[bytes]:
    svc = request.app.state.services
    db, blobs, clock = svc.db, svc.blobs, svc.clock
    site_id, user_id = str(site["id"]), str(user["id"])

    def thread(fn: Any, *args: Any) -> Any:
        return to_thread.run_sync(fn, *args)

    _open_views[user_id] = _open_views.get(user_id, 0) + 1
    began = renewed = checked = sent = time.monotonic()
    recording: str | None = None
    feed: Feed | None = None
    state = ""
    left_at: float | None = None
    try:
        await thread(forget_lapsed, db, clock.now_ms())
        await thread(watch, db, site_id, visitor_id, user_id, clock.now_ms())
        while time.monotonic() - began < LONGEST_SECONDS:
            now = time.monotonic()
            if now - renewed >= RENEW_SECONDS:
                await thread(watch, db, site_id, visitor_id, user_id, clock.now_ms())
                renewed = now
            if feed is None:
                recording = await thread(live_recording, db, site_id, visitor_id)
                if recording is None:
                    reason = await thread(why_not_recorded, request, site)
                    if state != reason:
                        causes = CAUSES if reason == UNKNOWN else []
                        yield _event("waiting", {"reason": reason, "causes": causes})
                        state, sent = reason, now
                    await asyncio.sleep(STATE_SECONDS)
                    continue
                feed = Feed(recording)
                events, skew = await thread(feed.opening, db, blobs)
                yield _event(
                    "start",
                    {
                        "recording_id": recording,
                        "server_ms": clock.now_ms(),
                        "skew_ms": skew,
                        "events": events,
                    },
                )
                state, sent, checked = "", now, 0.0
            news = await thread(feed.news, db, blobs)
            if news:
                yield b"event: events\ndata: " + news + b"\n\n"
                sent = now
            if now - checked >= STATE_SECONDS:
                checked = now
                found = await thread(state_of, db, feed.recording_id)
                if found != state:
                    state = found
                    yield _event("state", {"state": found, "recording_id": feed.recording_id})
                    sent = now
                if found == "left" and left_at is None:
                    left_at = now
                if found in ("ready", "gone"):
                    return
                if left_at is not None and now - left_at > READY_WAIT_SECONDS:
                    return
            if now - sent >= QUIET_SECONDS:
                yield b": still here\n\n"
                sent = now
            await asyncio.sleep(POLL_SECONDS)
    finally:
        _open_views[user_id] -= 1
        if not _open_views[user_id]:
            del _open_views[user_id]
        # The view is gone (closed, navigated away, or the visitor left): the recorder may
        # go back to its cadence. Run here, not in a thread: a cancelled stream awaits nothing.
        stop_watching(db, site_id, visitor_id, user_id)
