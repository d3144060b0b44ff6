"""Public endpoints the recorder talks to: config, ingest, heartbeat, footage.js."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, JSONResponse

from footage.accounts.service import site_by_key
from footage.accounts.usage import used_this_month
from footage.errors import FootageError, NotFound
from footage.ingest.asgi import visit_of
from footage.ingest.wire import is_site_key
from footage.ingest.writer import origin_allowed, refusal
from footage.web.assets import BUILD

router = APIRouter()


def cors(request: Request, response: Response) -> Response:
    """Recorders run on the customer's own origin: let them read our answers."""
    origin = request.headers.get("origin")
    response.headers["Access-Control-Allow-Origin"] = origin or "*"
    response.headers["Vary"] = "Origin"
    return response


def error(request: Request, exc: FootageError) -> Response:
    return cors(request, JSONResponse(exc.as_dict(), status_code=exc.status))


@router.options("/api/v1/{path:path}", include_in_schema=False)
async def preflight(request: Request, path: str) -> Response:
    response = Response(status_code=204)
    response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    response.headers["Access-Control-Max-Age"] = "86400"
    return cors(request, response)


@router.get("/api/v1/sites/{site_key}/config", tags=["recorder"], summary="Recorder config")
def site_config(request: Request, site_key: str) -> Response:
    """What the recorder on a page of this site should do; asked once per page load."""
    svc = request.app.state.services
    site = site_by_key(svc.db, site_key) if is_site_key(site_key) else None
    if site is None:
        return error(request, NotFound("unknown site key", code="unknown_site"))
    visit = visit_of(request.scope, dict(request.scope["headers"]))
    # Browsers send no Origin with a same-origin GET; the config holds nothing secret, and
    # ingest checks the origin of every batch (POSTs always carry it).
    plan = svc.plans.of(site["plan"])
    refused = refusal(site, visit, plan, check_origin=visit.origin is not None)
    enabled, reason = refused is None, refused.code if refused else ""
    if enabled and (
        used_this_month(svc.db, site["account_id"], svc.clock.now_ms(), site["time_zone"])
        >= plan.monthly_limit
    ):
        enabled, reason = False, "monthly_limit_reached"
    body: dict[str, Any] = {"enabled": enabled, "reason": reason}
    # The chat does not depend on recording (a visitor may chat where nothing is recorded),
    # only on the site's switch and, like every recorder request, on the page's origin.
    body["chat_enabled"] = bool(site["chat_enabled"]) and (
        visit.origin is None or origin_allowed(site, visit)
    )
    if enabled:
        body.update(
            {
                "batch_interval_ms": 5000,
                "batch_max_bytes": 262_144,
                "heartbeat_interval_ms": 20_000,
                "session_timeout_ms": 30 * 60_000,
                # What is recorded as it is; the recorder masks the rest before anything
                # leaves the browser (passwords always).
                "record": {
                    "forms": bool(site["record_forms"]),
                    "numbers": bool(site["record_numbers"]),
                    "emails": bool(site["record_emails"]),
                },
                "record_mobile": bool(site["record_mobile"]),
                "excluded_pages": [p for p in site["excluded_pages"].splitlines() if p],
                "respect_do_not_track": bool(site["respect_do_not_track"]),
                "require_consent": bool(site["require_consent"]),
            }
        )
    response = JSONResponse(body)
    # Short and private (the answer depends on the visitor's address and browser): setting
    # changes reach new page loads within a minute.
    response.headers["Cache-Control"] = "private, max-age=30"
    return cors(request, response)


def served_script(built: str, name: str) -> Response:
    """A bundle from web/ that sites load (`built` in the build folder, served as `name`):
    cached for 5 minutes, readable from any origin, no cookie."""
    path = BUILD / built
    if not path.exists():
        return Response(
            f"/* {name} is not built: run `npm ci && node build.mjs` in web/ */",
            media_type="application/javascript",
            status_code=503,
        )
    response = FileResponse(path, media_type="application/javascript")
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@router.get("/footage.js", include_in_schema=False)
def recorder_script() -> Response:
    return served_script("footage.js", "footage.js")
