"""REST API for recordings (Bearer token)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from footage.accounts.auth import api_account
from footage.recordings.queries import get_recording, iter_events_json, list_recordings

router = APIRouter(prefix="/api/v1", tags=["recordings"])
Account = Annotated[dict[str, Any], Depends(api_account)]


@router.get("/recordings", summary="List ready recordings, newest first")
def recordings(
    request: Request,
    account: Account,
    limit: Annotated[int, Query(ge=1, le=200, description="Items per page (1–200)")] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> dict[str, Any]:
    """Only *ready* recordings: a visitor still on the site is not listed yet."""
    svc = request.app.state.services
    days = svc.plans.of(account["plan"]).retention_days
    return list_recordings(svc.db, account["id"], limit=limit, cursor=cursor, retention_days=days)


@router.get("/recordings/{recording_id}", summary="One recording")
def recording(request: Request, account: Account, recording_id: str) -> dict[str, Any]:
    svc = request.app.state.services
    days = svc.plans.of(account["plan"]).retention_days
    return get_recording(svc.db, account["id"], recording_id, days)


@router.get(
    "/recordings/{recording_id}/events",
    summary="All rrweb events of a recording, in time order (a JSON array)",
)
def events(request: Request, account: Account, recording_id: str) -> StreamingResponse:
    svc = request.app.state.services
    get_recording(svc.db, account["id"], recording_id)  # 404 unless it is this account's
    return StreamingResponse(
        iter_events_json(svc.db, svc.blobs, recording_id), media_type="application/json"
    )
