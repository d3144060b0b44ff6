"""The dashboard's recordings pages: the filtered list and the player."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from footage.accounts.service import sites_of
from footage.assets import store as kept_assets
from footage.errors import BadRequest, FootageError, NotFound
from footage.recordings import filters
from footage.recordings.filters import MODIFIERS, describe
from footage.recordings.matches import LABELS, matching_moments
from footage.recordings.moments import moments_of
from footage.recordings.pieces import (
    events_response,
    ready_recording,
    serve_index,
    serve_piece,
)
from footage.recordings.queries import get_recording, iter_events_json, live_count, started_at_ms
from footage.recordings.search import empty_hint, neighbours, search
from footage.recordings.segments import list_segments
from footage.recordings.watched import mark_watched, watched_of
from footage.signals import SIGNAL_KINDS
from footage.web.render import render
from footage.web.users import PageUser, ScriptUser, User

router = APIRouter(include_in_schema=False)
# More markers than this would cover the timeline, not explain it.
MAX_SIGNAL_MARKERS = 500
# The player lists a long visit's first pages and matching moments, and says how many more
# there are: every page is on the timeline, and a list of hundreds would hold back the
# player's first frame (bench/RESULTS.md, "Replay start").
PAGES_LISTED = 50
MOMENTS_LISTED = 50


def visitors_on_site(request: Request, user: User, ctx: dict[str, Any]) -> None:
    """Page context: how many visitors are being recorded now (their recordings are live)."""
    if "live_now" not in ctx:
        ctx["live_now"] = live_count(request.app.state.services.db, user["account_id"])


@router.get("/recordings")
def recordings_page(request: Request, user: PageUser) -> Response:
    svc = request.app.state.services
    query = request.query_params
    error = None
    field_errors: dict[str, str] = {}  # shown next to their fields; the other filters apply
    try:
        values = filters.parse(query, strict=False, errors=field_errors)
        sort = query.get("sort") or "newest"
        page = search(
            svc.db,
            user["account_id"],
            values,
            sort=sort,
            limit=50,
            cursor=query.get("cursor") or None,
            retention_days=svc.plans.of(user["plan"]).retention_days,
            first_pages=1,  # the list shows where the visit entered
        )
    except BadRequest as exc:
        error, values, sort = exc.message, {}, "newest"
        page = search(svc.db, user["account_id"], {}, limit=50, first_pages=1)
    # Above the list, each message names its field; beside its field it needs no name.
    problems = ". ".join(field_errors.values())
    for name, message in field_errors.items():
        if message.startswith(f"'{name}' must"):
            field_errors[name] = "Must" + message.removeprefix(f"'{name}' must")
    sites = sites_of(svc.db, user["account_id"])
    # The filters as they are in the URL (minus paging), for links that keep them.
    kept = [(k, v) for k, v in query.multi_items() if k not in ("cursor", "segment") and v]
    segment_id = query.get("segment")
    segments = list_segments(svc.db, user["account_id"])
    return render(
        request,
        "recordings.html",
        user,
        page=page,
        sites=sites,
        values=values,
        sort=sort,
        error=error,
        field_errors=field_errors,
        filter_problems=problems,
        human_duration=filters.human_duration,
        filter_query=urlencode(kept),
        chips=[
            {
                "label": describe(values, name),
                "remove": urlencode(
                    [
                        (k, v)
                        for k, v in kept
                        if name not in (k, MODIFIERS.get(k), filters.HUMAN_DURATIONS.get(k))
                    ]
                ),
            }
            for name in values
            if name in filters.BUILDERS
        ],
        hint=empty_hint(svc.db, user["account_id"], values)
        if not page["items"] and values and not query.get("cursor")
        else None,
        segments=segments,
        segment=next((s for s in segments if s["id"] == segment_id), None),
        watched=watched_of(svc.db, user["id"], [r["id"] for r in page["items"]]),
        cursor=query.get("cursor"),
        demo_url=f"{svc.settings.base_url}/demo/" if any(s["is_demo"] for s in sites) else None,
    )


@router.get("/recordings/{recording_id}")
def player_page(request: Request, user: PageUser, recording_id: str) -> Response:
    raw_t = request.query_params.get("t", "")
    t = int(raw_t) if raw_t.isdigit() else 0
    svc = request.app.state.services
    try:
        days = svc.plans.of(user["plan"]).retention_days
        recording = get_recording(
            svc.db, user["account_id"], recording_id, days, first_pages=PAGES_LISTED
        )
    except NotFound:
        response = render(
            request,
            "error.html",
            user,
            title="Recording not found",
            message="It may have been deleted, or it belongs to another account.",
        )
        response.status_code = 404
        return response
    mark_watched(svc.db, user["id"], recording_id, svc.clock.now_ms())
    # Opened from a filtered list: the moments that matched, and the first of them to start at.
    values = filters.parse(request.query_params, strict=False) if request.query_params else {}
    started = started_at_ms(svc.db, recording_id)
    moments = matching_moments(svc.db, recording, started, values) if values else []
    start = t if t or not moments else moments[0]["offset_ms"]
    # The frustration signals found at finalize, for the timeline's markers and the list
    # beside it; `at_ms` counts from the first event, as the player's own clock does.
    signals = [
        {
            "kind": m["kind"],
            "at_ms": m["at_ms"],
            "name": m["name"] or "",
            "label": LABELS[m["kind"]],
            # the element's selector, shown as a tooltip: the name is what the visitor saw
            "selector": _selector(m["detail"]),
        }
        for m in moments_of(svc.db, recording_id, SIGNAL_KINDS, MAX_SIGNAL_MARKERS)
    ]
    # The list it was opened from (its filters and sort are in this page's address): the
    # recordings before and after this one there, for the Previous and Next links (P and N).
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in ("t", "cursor")]
    try:
        near = neighbours(
            svc.db,
            user["account_id"],
            values,
            request.query_params.get("sort") or "newest",
            recording_id,
        )
    except FootageError:  # a pattern the database refuses, or too slow: no links
        near = {"previous": None, "next": None}
    return render(
        request,
        "player.html",
        user,
        rec=recording,
        list_query=urlencode(kept),
        neighbours=near,
        start_ms=max(0, start),
        moments=moments[:MOMENTS_LISTED],
        moments_total=len(moments),
        signals=signals,
        kept_assets=kept_assets.for_recording(svc.db, recording_id),
    )


def _selector(detail: Any) -> str:
    selector = detail.get("selector") if isinstance(detail, dict) else None
    return selector if isinstance(selector, str) else ""


@router.get("/recordings/{recording_id}/events.json")
def player_events(request: Request, user: ScriptUser, recording_id: str) -> Response:
    svc = request.app.state.services
    ready_recording(svc.db, user["account_id"], recording_id)
    return events_response(
        iter_events_json(svc.db, svc.blobs, recording_id),
        request.headers.get("accept-encoding", ""),
    )


@router.get("/recordings/{recording_id}/pieces")
def player_pieces(request: Request, user: ScriptUser, recording_id: str) -> Response:
    """The player's first request: the recording's pieces (recordings/pieces.py)."""
    recording = ready_recording(request.app.state.services.db, user["account_id"], recording_id)
    return serve_index(request, recording, f"/recordings/{recording_id}/pieces/{{n}}")


@router.get("/recordings/{recording_id}/pieces/{n}")
def player_piece(request: Request, user: ScriptUser, recording_id: str, n: str) -> Response:
    recording = ready_recording(request.app.state.services.db, user["account_id"], recording_id)
    return serve_piece(request, recording, n)
