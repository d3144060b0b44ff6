"""Public endpoints the recorder talks to: config, ingest, heartbeat, footage.js."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from footage.accounts.plans import get_plan
from footage.accounts.service import site_by_key
from footage.accounts.usage import used_this_month
from footage.errors import FootageError, NotFound, PayloadTooLarge, UnsupportedMediaType
from footage.ingest.wire import decode_body, parse_batch, parse_heartbeat
from footage.ingest.writer import Visit

router = APIRouter()
BUILD = Path(__file__).resolve().parent.parent / "dashboard" / "static" / "build"
_ACCEPTED_TYPES = {"", "text/plain", "application/json", "application/octet-stream"}


def cors(request: Request, response: Response) -> Response:
    """Recorders run on the customer's own origin: let them read our answers."""
    origin = request.headers.get("origin")
    response.headers["Access-Control-Allow-Origin"] = origin or "*"
    response.headers["Vary"] = "Origin"
    return response


def error(request: Request, exc: FootageError) -> Response:
    return cors(request, JSONResponse(exc.as_dict(), status_code=exc.status))


def visit_of(request: Request) -> Visit:
    return Visit(
        origin=request.headers.get("origin"),
        server_origin=f"{request.url.scheme}://{request.headers.get('host', '')}".lower(),
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent", ""),
    )


async def read_limited(request: Request, limit: int) -> bytes:
    """The request body, refusing more than `limit` bytes before reading it all."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(f"the body is larger than {limit} bytes; send smaller batches")
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > limit:
            raise PayloadTooLarge(f"the body is larger than {limit} bytes; send smaller batches")
    return bytes(body)


def check_type(request: Request) -> None:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in _ACCEPTED_TYPES:
        raise UnsupportedMediaType(
            f"Content-Type {ctype!r} is not accepted; send text/plain or application/json"
        )


@router.options("/api/v1/{path:path}", include_in_schema=False)
async def preflight(request: Request, path: str) -> Response:
    response = Response(status_code=204)
    response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    response.headers["Access-Control-Max-Age"] = "86400"
    return cors(request, response)


@router.post("/api/v1/ingest", tags=["recorder"], summary="Store one batch of rrweb events")
async def ingest(request: Request) -> Response:
    """The recorder's batches (docs/wire.md). Idempotent on (session, page, seq)."""
    svc = request.app.state.services
    try:
        check_type(request)
        body = await read_limited(request, svc.settings.max_body_bytes)
        batch = parse_batch(decode_body(body, svc.settings.max_inflated_bytes))
        result = await run_in_threadpool(svc.ingest.accept, batch, visit_of(request))
    except FootageError as exc:
        return error(request, exc)
    return cors(
        request,
        JSONResponse(
            {"ok": True, "recording_id": result.recording_id, "duplicate": result.duplicate}
        ),
    )


@router.post("/api/v1/heartbeat", tags=["recorder"], summary="The visitor is still on the page")
async def heartbeat(request: Request) -> Response:
    svc = request.app.state.services
    try:
        check_type(request)
        body = await read_limited(request, 10_000)
        beat = parse_heartbeat(decode_body(body, 100_000))
        await run_in_threadpool(svc.ingest.heartbeat, beat, visit_of(request))
    except FootageError as exc:
        return error(request, exc)
    return cors(request, Response(status_code=204))


@router.get("/api/v1/sites/{site_key}/config", tags=["recorder"], summary="Recorder config")
def site_config(request: Request, site_key: str) -> Response:
    """What the recorder on a page of this site should do; asked once per page load."""
    svc = request.app.state.services
    site = site_by_key(svc.db, site_key)
    if site is None:
        return error(request, NotFound("unknown site key", code="unknown_site"))
    enabled, reason = True, ""
    if not get_plan(site["plan"]).records:
        enabled, reason = False, "plan_without_recordings"
    elif not site["recording_enabled"]:
        enabled, reason = False, "recording_disabled"
    elif (
        used_this_month(svc.db, site["account_id"], svc.clock.now_ms())
        >= get_plan(site["plan"]).monthly_limit
    ):
        enabled, reason = False, "monthly_limit_reached"
    body = {
        "enabled": enabled,
        "reason": reason,
        "batch_interval_ms": 5000,
        "batch_max_bytes": 262_144,
        "heartbeat_interval_ms": 20_000,
        "session_timeout_ms": 30 * 60_000,
    }
    response = JSONResponse(body)
    # Short cache: setting changes reach new page loads within a minute.
    response.headers["Cache-Control"] = "public, max-age=30"
    return cors(request, response)


@router.get("/footage.js", include_in_schema=False)
def recorder_script() -> Response:
    path = BUILD / "footage.js"
    if not path.exists():
        return Response(
            "/* footage.js is not built: run `npm ci && node build.mjs` in web/ */",
            media_type="application/javascript",
            status_code=503,
        )
    response = FileResponse(path, media_type="application/javascript")
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
