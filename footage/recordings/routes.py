"""REST API for recordings (Bearer token)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response

from footage.accounts.auth import api_account
from footage.errors import BadRequest
from footage.recordings import filters, segments
from footage.recordings.pieces import (
    events_response,
    ready_recording,
    serve_index,
    serve_piece,
)
from footage.recordings.queries import get_recording, iter_events_json
from footage.recordings.search import search

# Each item of the list carries its first pages only: 200 items of 1,000 page views made one
# answer of 27 MB that took 188 MB to build. `page_count` says how many; one recording's own
# answer has them all.
LIST_PAGES = 50

router = APIRouter(prefix="/api/v1", tags=["recordings"])
Account = Annotated[dict[str, Any], Depends(api_account)]


@router.get(
    "/recordings",
    summary="List ready recordings, with filters",
    description="Only *ready* recordings: a visitor still on the site is not listed yet. "
    "Every filter below is optional; they combine with AND. Page with `cursor` (the previous "
    "page's `next_cursor`, with the same `sort`).",
    openapi_extra={
        "parameters": [
            *filters.openapi_parameters(),
            {
                "name": "sort",
                "in": "query",
                "description": "newest (default), oldest, longest, most_active",
                "schema": {"type": "string", "enum": list(filters.SORTS)},
            },
            {
                "name": "cursor",
                "in": "query",
                "description": "next_cursor of the previous page",
                "schema": {"type": "string"},
            },
            {
                "name": "limit",
                "in": "query",
                "description": "Items per page (1–200, default 50)",
                "schema": {"type": "integer", "minimum": 1, "maximum": 200},
            },
        ]
    },
)
def recordings(request: Request, account: Account) -> dict[str, Any]:
    svc = request.app.state.services
    query = request.query_params
    values = filters.parse(query)
    limit = query.get("limit", "50")
    # ASCII digits, and few of them: int() refuses '²' (which isdigit() takes) and numbers of
    # thousands of digits.
    if not (limit.isascii() and limit.isdigit() and len(limit) <= 4):
        raise BadRequest("'limit' must be a whole number from 1 to 200", code="bad_limit")
    return search(
        svc.db,
        account["id"],
        values,
        sort=query.get("sort") or "newest",
        limit=int(limit),
        cursor=query.get("cursor") or None,
        retention_days=svc.plans.of(account["plan"]).retention_days,
        first_pages=LIST_PAGES,
    )


@router.get("/recordings/{recording_id}", summary="One recording")
def recording(request: Request, account: Account, recording_id: str) -> dict[str, Any]:
    svc = request.app.state.services
    days = svc.plans.of(account["plan"]).retention_days
    return get_recording(svc.db, account["id"], recording_id, days)


@router.get(
    "/recordings/{recording_id}/events",
    summary="All rrweb events of a recording, in time order (a JSON array)",
    description="Streamed; compressed with zstd or gzip when `Accept-Encoding` allows. For a "
    "long recording, `…/pieces` gives the same events in pieces that each play on their own.",
)
def events(request: Request, account: Account, recording_id: str) -> Response:
    svc = request.app.state.services
    ready_recording(svc.db, account["id"], recording_id)  # 404 unless it is this account's
    return events_response(
        iter_events_json(svc.db, svc.blobs, recording_id),
        request.headers.get("accept-encoding", ""),
    )


@router.get(
    "/recordings/{recording_id}/pieces",
    summary="The recording's events in pieces: the index",
    description="Each piece begins with a full snapshot (a page view's start), so it plays on "
    "its own. `start_ms`/`end_ms` count from the first event. Fetch a piece at `piece_url` "
    "with its number for `{n}`. Compressed (zstd or gzip) as `Accept-Encoding` allows. A ready "
    "recording never changes: strong ETag per encoding, cacheable.",
)
def pieces(request: Request, account: Account, recording_id: str) -> Response:
    recording = ready_recording(request.app.state.services.db, account["id"], recording_id)
    return serve_index(request, recording, f"/api/v1/recordings/{recording_id}/pieces/{{n}}")


@router.get(
    "/recordings/{recording_id}/pieces/{n}",
    summary="One piece of a recording: its rrweb events as NDJSON (one event per line)",
    description="`Content-Encoding` zstd (the stored bytes as they are), gzip or none, as "
    "`Accept-Encoding` allows. Strong ETag per encoding; `If-None-Match` → 304.",
)
def piece(request: Request, account: Account, recording_id: str, n: str) -> Response:
    recording = ready_recording(request.app.state.services.db, account["id"], recording_id)
    return serve_piece(request, recording, n)


# ---- saved segments -------------------------------------------------------------------------

segments_router = APIRouter(prefix="/api/v1", tags=["segments"])


@segments_router.get("/segments", summary="Saved segments (named filter sets)")
def list_saved(request: Request, account: Account, site_id: str | None = None) -> dict[str, Any]:
    return {"items": segments.list_segments(request.app.state.services.db, account["id"], site_id)}


@segments_router.post(
    "/segments",
    status_code=201,
    summary="Save a segment",
    description="`query` holds the filters, as the recordings list's query string "
    "(`device=mobile&has_rage_clicks=true`) or as an object. `site_id` null: all sites.",
)
def create_saved(
    request: Request,
    account: Account,
    body: Annotated[
        dict[str, Any],
        Body(
            openapi_examples={
                "mobile rage": {
                    "value": {
                        "name": "Mobile rage clicks",
                        "query": "device=mobile&has_rage_clicks=true",
                    }
                }
            }
        ),
    ],
) -> dict[str, Any]:
    svc = request.app.state.services
    return segments.create_segment(
        svc.db,
        account["id"],
        body.get("name"),
        body.get("query", ""),
        body.get("site_id"),
        None,
        svc.clock.now_ms(),
    )


@segments_router.get("/segments/{segment_id}", summary="One saved segment")
def get_saved(request: Request, account: Account, segment_id: str) -> dict[str, Any]:
    return segments.get_segment(request.app.state.services.db, account["id"], segment_id)


@segments_router.patch("/segments/{segment_id}", summary="Rename a segment or change its filters")
def update_saved(
    request: Request, account: Account, segment_id: str, body: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    svc = request.app.state.services
    return segments.update_segment(svc.db, account["id"], segment_id, body, svc.clock.now_ms())


@segments_router.delete("/segments/{segment_id}", status_code=204, summary="Delete a segment")
def delete_saved(request: Request, account: Account, segment_id: str) -> Response:
    segments.delete_segment(request.app.state.services.db, account["id"], segment_id)
    return Response(status_code=204)
