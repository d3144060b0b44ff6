"""The public page of a share link: `/share/{token}` plays the recording without login;
`/share/{token}/pieces` (the index) and `/share/{token}/pieces/{n}` feed its player, and
`/share/{token}/events.json` gives every event at once.

Nothing on either identifies the visitor or the account: no name, e-mail, IP, variables,
visitor id or site. Every answer — the page, the events, the 404 and the 429 — carries the
same private headers, and an unknown, expired or revoked token gets the very same 404.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from footage.assets import store as kept_assets
from footage.clock import iso
from footage.errors import NotFound
from footage.recordings.pieces import (
    events_response,
    serve_index,
    serve_piece,
)
from footage.recordings.queries import iter_events_json
from footage.share.guard import GuessGuard
from footage.share.links import OpenLink, clock_time, count_view, open_link
from footage.store.db import Database
from footage.web.assets import asset_url
from footage.web.csp import policy
from footage.web.favicon import FAVICON_URL

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")
templates.env.globals["asset"] = asset_url  # hashed addresses of scripts and stylesheets
templates.env.globals["favicon"] = FAVICON_URL

# The policy of every page that shows a replay (footage/web/csp.py); the share page has
# no forms. rrweb rebuilds the recorded page inside an iframe of this page (about:blank, so
# it inherits this policy; scripts stay off by its sandbox and by script-src).
CSP = policy(form_action="'none'")
HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "Cache-Control": "private, no-store",
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
}
# Pieces may be kept by the viewer's browser, but asked again each time (a 304 while the link
# works): a revoked or expired link stops them at once, as it stops the page.
PIECE_HEADERS = {**HEADERS, "Cache-Control": "private, no-cache"}
# One body for every token that does not work, so the answers cannot be told apart.
NOT_FOUND = templates.get_template("share_not_found.html").render()

_guard_lock = threading.Lock()


def guard_of(app: FastAPI) -> GuessGuard:
    """The app's guard (one per app, so each test server starts with a clean slate)."""
    with _guard_lock:
        guard = getattr(app.state, "share_guard", None)
        if guard is None:
            guard = app.state.share_guard = GuessGuard()
        return guard


def not_found() -> Response:
    return HTMLResponse(NOT_FOUND, status_code=404, headers=HEADERS)


def too_many(retry_after: int) -> Response:
    minutes = max(1, round(retry_after / 60))
    return HTMLResponse(
        templates.get_template("share_not_found.html").render(too_many=True, minutes=minutes),
        status_code=429,
        headers={**HEADERS, "Retry-After": str(retry_after)},
    )


def working_link(request: Request, token: str) -> OpenLink | Response:
    """The link for the token, or the 429 or 404 to answer with."""
    svc = request.app.state.services
    now = svc.clock.now_ms()
    ip = request.client.host if request.client else None
    guard = guard_of(request.app)
    wait = guard.retry_after(ip, now)
    if wait is not None:
        return too_many(wait)
    link = open_link(svc.db, svc.plans, token, now)
    if link is None:
        guard.failed(ip, now)
        return not_found()
    return link


@router.get("/share/{token}")
def shared_recording(request: Request, token: str) -> Response:
    link = working_link(request, token)
    if isinstance(link, Response):
        return link
    svc = request.app.state.services
    count_view(svc.db, link.id, svc.clock.now_ms())
    context: dict[str, Any] = {
        "events_url": f"/share/{token}/events.json",
        "pieces_url": f"/share/{token}/pieces",
        "start_ms": link.start_ms,
        "recorded_on": (iso(link.started_at) or "")[:10],
        "duration": clock_time(link.duration_ms or 0),
        "expires_at": (iso(link.expires_at) or "")[:16].replace("T", " "),
        "kept_assets": kept_assets.for_recording(svc.db, link.recording_id),
    }
    return templates.TemplateResponse(request, "share.html", context, headers=HEADERS)


@router.get("/share/{token}/events.json")
def shared_events(request: Request, token: str) -> Response:
    link = working_link(request, token)
    if isinstance(link, Response):
        return link
    svc = request.app.state.services
    return events_response(
        iter_events_json(svc.db, svc.blobs, link.recording_id),
        request.headers.get("accept-encoding", ""),
        HEADERS,
    )


def _shared(db: Database, link: OpenLink) -> dict[str, Any]:
    """What a piece's tags are made of: the recording, and when it was finalized."""
    row = db.one("SELECT finalized_at FROM recordings WHERE id = :id", {"id": link.recording_id})
    return {"id": link.recording_id, "finalized_at": row["finalized_at"] if row else None}


@router.get("/share/{token}/pieces")
def shared_pieces(request: Request, token: str) -> Response:
    link = working_link(request, token)
    if isinstance(link, Response):
        return link
    recording = _shared(request.app.state.services.db, link)
    return serve_index(request, recording, f"/share/{token}/pieces/{{n}}", PIECE_HEADERS)


@router.get("/share/{token}/pieces/{n}")
def shared_piece(request: Request, token: str, n: str) -> Response:
    link = working_link(request, token)
    if isinstance(link, Response):
        return link
    try:  # a piece it does not have: the share page's one 404
        return serve_piece(request, _shared(request.app.state.services.db, link), n, PIECE_HEADERS)
    except NotFound:
        return not_found()
