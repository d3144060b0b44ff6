"""Downloading a recording: the REST API (Bearer token) and the dashboard (login session)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from footage.accounts import auth
from footage.accounts.auth import api_account
from footage.accounts.passwords import secret_hash
from footage.downloads import videos
from footage.downloads.export import (
    MEDIA_TYPES,
    check_format,
    disposition,
    downloadable,
    events_json,
    filename,
    html_file,
    log_download,
)
from footage.downloads.render import check_tools
from footage.errors import FootageError, Unauthorized
from footage.store.blobs import BlobStore

router = APIRouter(prefix="/api/v1", tags=["downloads"])
dashboard_router = APIRouter(include_in_schema=False)
Account = Annotated[dict[str, Any], Depends(api_account)]
READ_SIZE = 1 << 20

FORMAT = Query(description="html (a player that works offline), json (rrweb events) or mp4")
WIDTH = Query(description="MP4 only: the video's width in pixels (320–3840, default 1280)")
SKIP = Query(description="MP4 only: cut idle stretches longer than 5 s (default false)")


@router.get(
    "/recordings/{recording_id}/download",
    summary="Download a recording as HTML, JSON or MP4",
    description="`html`: one file with the player and the events, plays offline. `json`: the "
    "rrweb events array. `mp4`: a video rendered in the background — `202` with the render's "
    "status (and `Location`, the status to poll) until it is ready, then the file. Only a "
    "ready recording can be downloaded (`409` before).",
    responses={202: {"description": "MP4 is being rendered; poll the Location"}},
)
def api_download(
    request: Request,
    account: Account,
    recording_id: str,
    format: Annotated[str | None, FORMAT] = None,
    width: Annotated[str | None, WIDTH] = None,
    skip_inactivity: Annotated[str | None, SKIP] = None,
) -> Response:
    actor = api_actor(request, account)
    return download(
        request,
        recording_id,
        format,
        width,
        skip_inactivity,
        account_id=account["id"],
        actor=actor,
        via="api",
        prefix="/api/v1",
    )


@router.get(
    "/recordings/{recording_id}/video",
    summary="The MP4 render of a recording: status and progress",
    description="`status` is queued, rendering, ready or failed; `progress` 0–100; "
    "`download_url` once ready. Ask for one with `/download?format=mp4`.",
)
def api_video(
    request: Request,
    account: Account,
    recording_id: str,
    width: Annotated[str | None, WIDTH] = None,
    skip_inactivity: Annotated[str | None, SKIP] = None,
) -> dict[str, Any]:
    svc = request.app.state.services
    downloadable(svc.db, account["id"], recording_id)
    options = videos.VideoOptions.parse(width, skip_inactivity)
    job = videos.find(svc.db, account["id"], recording_id, options)
    return videos.status_of(job, _file_url("/api/v1", recording_id, options))


def api_actor(request: Request, account: dict[str, Any]) -> str:
    """Who downloads, for the audit log: `token:<id>` (never the secret) or `user:<id>`."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if token.strip():
        row = request.app.state.services.db.one(
            "SELECT id FROM api_tokens WHERE token_hash = :h AND account_id = :a",
            {"h": secret_hash(token.strip()), "a": account["id"]},
        )
        return f"token:{row['id']}" if row else "token"
    user = auth.session_user(request)
    return f"user:{user['id']}" if user else "user"


# ---- the dashboard ---------------------------------------------------------------------------


def _user(request: Request) -> dict[str, Any]:
    user = auth.session_user(request)
    if user is None:
        raise Unauthorized("log in to download recordings")
    return user


@dashboard_router.get("/recordings/{recording_id}/download")
def dashboard_download(
    request: Request,
    recording_id: str,
    format: str | None = None,
    width: str | None = None,
    skip_inactivity: str | None = None,
) -> Response:
    user = _user(request)
    return download(
        request,
        recording_id,
        format,
        width,
        skip_inactivity,
        account_id=user["account_id"],
        actor=f"user:{user['id']}",
        via="dashboard",
        prefix="",
    )


def _as_json(handler: Callable[..., dict[str, Any]]) -> Callable[..., Response]:
    """Dashboard endpoints that the Download menu fetches answer errors as JSON too."""

    @functools.wraps(handler)
    def wrapped(*args: Any, **kwargs: Any) -> Response:
        try:
            return JSONResponse(handler(*args, **kwargs))
        except FootageError as exc:
            return JSONResponse(exc.as_dict(), status_code=exc.status)

    return wrapped


@dashboard_router.get("/recordings/{recording_id}/video.json")
@_as_json
def dashboard_video(
    request: Request,
    recording_id: str,
    width: str | None = None,
    skip_inactivity: str | None = None,
) -> dict[str, Any]:
    """The Download menu polls this while the video renders; `none` before it was asked for."""
    user = _user(request)
    svc = request.app.state.services
    downloadable(svc.db, user["account_id"], recording_id)
    options = videos.VideoOptions.parse(width, skip_inactivity)
    job = videos.find(svc.db, user["account_id"], recording_id, options)
    if job is None:
        return {"status": "none", "progress": 0, "download_url": None, "error": None}
    return videos.status_of(job, _file_url("", recording_id, options))


@dashboard_router.post("/recordings/{recording_id}/video")
@_as_json
def dashboard_render(
    request: Request,
    recording_id: str,
    width: str | None = None,
    skip_inactivity: str | None = None,
) -> dict[str, Any]:
    """The Download menu's "MP4": queue the render (CSRF token in X-CSRF-Token)."""
    user = _user(request)
    auth.check_csrf(request, request.headers.get("x-csrf-token"))
    svc = request.app.state.services
    downloadable(svc.db, user["account_id"], recording_id)
    options = videos.VideoOptions.parse(width, skip_inactivity)
    renders_here(svc)
    job = videos.request(
        svc.db, user["account_id"], recording_id, options, f"user:{user['id']}", svc.clock.now_ms()
    )
    return videos.status_of(job, _file_url("", recording_id, options))


# ---- shared --------------------------------------------------------------------------------


def renders_here(svc: Any) -> None:
    """Refuse an MP4 at once where this process renders and cannot (503 naming what is missing).
    Web processes without background jobs leave the check to the workers, which fail the
    render with the same message."""
    if svc.settings.background:
        check_tools()


def _file_url(prefix: str, recording_id: str, options: videos.VideoOptions) -> str:
    return f"{prefix}/recordings/{recording_id}/download?format=mp4&{options.query()}"


def download(
    request: Request,
    recording_id: str,
    fmt_value: str | None,
    width: str | None,
    skip_inactivity: str | None,
    *,
    account_id: str,
    actor: str,
    via: str,
    prefix: str,
) -> Response:
    """The file in the asked format, written to the audit log; for an MP4 that is not rendered
    yet, 202 with the render's status (the render is queued)."""
    svc = request.app.state.services
    fmt = check_format(fmt_value)
    recording = downloadable(svc.db, account_id, recording_id)
    now = svc.clock.now_ms()
    headers = {"Content-Disposition": disposition(filename(recording, fmt))}
    if fmt == "mp4":
        options = videos.VideoOptions.parse(width, skip_inactivity)
        job = videos.find(svc.db, account_id, recording_id, options)
        if job is None or job["status"] != "ready":
            renders_here(svc)
            job = videos.request(svc.db, account_id, recording_id, options, actor, now)
            status_url = f"{prefix}/recordings/{recording_id}/video" + (
                f"?{options.query()}" if prefix else f".json?{options.query()}"
            )
            return JSONResponse(
                videos.status_of(job, _file_url(prefix, recording_id, options)),
                status_code=202,
                headers={"Location": status_url, "Retry-After": "2"},
            )
        log_download(svc.db, account_id, actor, recording_id, fmt, int(job["size"]), via, now)
        headers["Content-Length"] = str(job["size"])
        return StreamingResponse(
            _read(svc.blobs, job["blob_key"], int(job["size"])),
            media_type=MEDIA_TYPES[fmt],
            headers=headers,
        )
    events = events_json(svc.db, svc.blobs, recording_id)
    body = events if fmt == "json" else html_file(recording, events)
    log_download(svc.db, account_id, actor, recording_id, fmt, len(body), via, now)
    return Response(body, media_type=MEDIA_TYPES[fmt], headers=headers)


def _read(blobs: BlobStore, key: str, size: int) -> Iterator[bytes]:
    """The stored video in pieces (ranged reads work the same on files and S3)."""
    for offset in range(0, size, READ_SIZE):
        yield blobs.get(key, offset, min(READ_SIZE, size - offset))
