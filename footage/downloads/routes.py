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
from footage.errors import Conflict, FootageError, Forbidden, Unauthorized
from footage.store.blobs import BlobStore
from footage.web.csrf import check_csrf
from footage.web.users import User, current_user

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
    "rrweb events array. `mp4`: the rendered video, once ready — start the render with "
    "`POST /recordings/{id}/video` (a GET never starts one); before it is ready this answers "
    "`409` saying what to do. Only a ready recording can be downloaded (`409` before). A "
    "request a browser makes to embed the file (`Sec-Fetch-Dest` image, video, iframe, …) is "
    "refused (`403`): a download is never a sub-resource of a page.",
    responses={409: {"description": "MP4 not rendered yet (or the recording is not ready)"}},
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
    "`download_url` once ready; `error` says why it failed. Start one with "
    "`POST /recordings/{id}/video`.",
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


@router.post(
    "/recordings/{recording_id}/video",
    status_code=202,
    summary="Start rendering a recording's MP4",
    description="Queues the render (or answers with the existing one: asking twice renders "
    "once) and answers `202` with its status; poll `Location` (`GET …/video`), then download "
    "`download_url`. A failed or cancelled render is queued again. Bearer token only. At most "
    "`video_renders_per_account` renders of one account queue or run at once (`429` beyond); "
    "a render that runs past `video_render_timeout_seconds` fails with the reason.",
    responses={429: {"description": "too many renders of this account queued or running"}},
)
def api_render(
    request: Request,
    account: Account,
    recording_id: str,
    width: Annotated[str | None, WIDTH] = None,
    skip_inactivity: Annotated[str | None, SKIP] = None,
) -> Response:
    svc = request.app.state.services
    downloadable(svc.db, account["id"], recording_id)
    options = videos.VideoOptions.parse(width, skip_inactivity)
    job = start_render(svc, account["id"], recording_id, options, api_actor(request, account))
    return JSONResponse(
        videos.status_of(job, _file_url("/api/v1", recording_id, options)),
        status_code=202,
        headers={
            "Location": f"/api/v1/recordings/{recording_id}/video?{options.query()}",
            "Retry-After": "2",
        },
    )


@router.delete(
    "/recordings/{recording_id}/video",
    summary="Cancel rendering a recording's MP4",
    description="A queued render is dropped and a running one stops within seconds; either "
    "becomes `failed` with the reason `cancelled`. A ready video stays. `404` when no render "
    "was asked for with these options. Bearer token only.",
)
def api_cancel(
    request: Request,
    account: Account,
    recording_id: str,
    width: Annotated[str | None, WIDTH] = None,
    skip_inactivity: Annotated[str | None, SKIP] = None,
) -> dict[str, Any]:
    svc = request.app.state.services
    options = videos.VideoOptions.parse(width, skip_inactivity)
    job = videos.cancel(
        svc.db,
        account["id"],
        recording_id,
        options,
        api_actor(request, account),
        svc.clock.now_ms(),
    )
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


def _user(request: Request) -> User:
    user = current_user(request)
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
    check_csrf(request, request.headers.get("x-csrf-token"))
    svc = request.app.state.services
    downloadable(svc.db, user["account_id"], recording_id)
    options = videos.VideoOptions.parse(width, skip_inactivity)
    job = start_render(svc, user["account_id"], recording_id, options, f"user:{user['id']}")
    return videos.status_of(job, _file_url("", recording_id, options))


@dashboard_router.post("/recordings/{recording_id}/video/cancel")
@_as_json
def dashboard_cancel(
    request: Request,
    recording_id: str,
    width: str | None = None,
    skip_inactivity: str | None = None,
) -> dict[str, Any]:
    """The Download menu's "Cancel" (CSRF token in X-CSRF-Token)."""
    user = _user(request)
    check_csrf(request, request.headers.get("x-csrf-token"))
    svc = request.app.state.services
    options = videos.VideoOptions.parse(width, skip_inactivity)
    job = videos.cancel(
        svc.db, user["account_id"], recording_id, options, f"user:{user['id']}", svc.clock.now_ms()
    )
    return videos.status_of(job, _file_url("", recording_id, options))


# ---- shared --------------------------------------------------------------------------------


def start_render(
    svc: Any, account_id: str, recording_id: str, options: videos.VideoOptions, actor: str
) -> dict[str, Any]:
    """Queue a render for an explicit request (a POST), within the account's limit."""
    job = videos.find(svc.db, account_id, recording_id, options)
    if job is not None and job["status"] in ("queued", "rendering", "ready"):
        return job  # asking twice renders once
    renders_here(svc)
    return videos.request(
        svc.db,
        account_id,
        recording_id,
        options,
        actor,
        svc.clock.now_ms(),
        limit=svc.settings.video_renders_per_account,
    )


# Where a browser loads a sub-resource (an <img>, <video>, <iframe>, … of a page, such as a
# replayed recording's): a download is never one, so such a request changes nothing and gets
# nothing. "document" (a link or the address bar), "empty" (fetch, downloads) and no header
# at all (curl, scripts) are downloads.
DOWNLOAD_DESTINATIONS = {"", "document", "empty"}


def refuse_embedding(request: Request) -> None:
    dest = request.headers.get("sec-fetch-dest", "").strip().lower()
    if dest not in DOWNLOAD_DESTINATIONS:
        raise Forbidden(
            f"a download cannot be embedded in a page (this request loads it as {dest!r}); "
            "open the download link itself, or use the API with a token",
            code="download_embedded",
        )


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
    """The file in the asked format, written to the audit log. Only reads: an MP4 that is not
    rendered yet is a 409 that says how to start it (a GET never queues a render), and a
    request that embeds the file in a page is refused before anything is read or logged."""
    refuse_embedding(request)
    svc = request.app.state.services
    fmt = check_format(fmt_value)
    recording = downloadable(svc.db, account_id, recording_id)
    now = svc.clock.now_ms()
    headers = {"Content-Disposition": disposition(filename(recording, fmt))}
    if fmt == "mp4":
        options = videos.VideoOptions.parse(width, skip_inactivity)
        job = videos.find(svc.db, account_id, recording_id, options)
        if job is None or job["status"] != "ready":
            raise _not_rendered(job, prefix, recording_id, options)
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


def _not_rendered(
    job: dict[str, Any] | None, prefix: str, recording_id: str, options: videos.VideoOptions
) -> FootageError:
    """The 409 for an MP4 that is not there yet: what state it is in and what to do."""
    start = (
        f"POST /api/v1/recordings/{recording_id}/video?{options.query()}"
        if prefix
        else "the Download menu's MP4"
    )
    status = f"{prefix}/recordings/{recording_id}/video?{options.query()}"
    if job is None:
        message = f"this video is not rendered yet; start it with {start}"
    elif job["status"] == "failed":
        message = f"the video could not be rendered ({job['error']}); start it again with {start}"
    else:
        message = (
            f"the video is {job['status']} ({int(job['progress'])} %); "
            + (f"poll GET {status} and " if prefix else "")
            + "download it once it is ready"
        )
    return Conflict(message, code="video_not_ready")


def _read(blobs: BlobStore, key: str, size: int) -> Iterator[bytes]:
    """The stored video in pieces (ranged reads work the same on files and S3)."""
    for offset in range(0, size, READ_SIZE):
        yield blobs.get(key, offset, min(READ_SIZE, size - offset))
