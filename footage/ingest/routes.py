"""Public endpoints the recorder talks to: config, ingest, heartbeat, footage.js."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from footage.accounts.service import site_by_key
from footage.accounts.usage import used_this_month
from footage.errors import FootageError, NotFound
from footage.ingest.asgi import visit_of
from footage.ingest.wire import is_site_key
from footage.ingest.writer import origin_allowed, refusal
from footage.web.assets import IMMUTABLE, built, send

router = APIRouter()

# Canvas pictures a second when the site records canvases (web/src/canvas.ts): enough to
# follow a chart or a map, at a cost the visitor's page does not feel.
CANVAS_FPS = 2


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
                    "all_numbers": bool(site["mask_all_numbers"]),
                    "emails": bool(site["record_emails"]),
                },
                "record_mobile": bool(site["record_mobile"]),
                "canvas_fps": CANVAS_FPS if site["record_canvas"] else 0,
                # The recorder offers the page's images and fonts for the kept copies
                # (footage/ingest/copy_routes.py).
                "offer_copies": svc.settings.keep_assets,
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


# footage.js and footage-chat.js keep the address every snippet has: a release reaches sites
# within 5 minutes (then a 304 while nothing changed). Their hashed addresses, which the
# recorder uses for the chat box, are cached for a year.
SCRIPT_CACHE = "public, max-age=300"
SCRIPT_METHODS = ["GET", "HEAD"]


def served_script(request: Request, bundle: str, name: str, version: str | None = None) -> Response:
    """A bundle from web/ that sites load (`bundle` in the build folder, served as `name`,
    or as `name` with its digest when `version` is given): readable from any origin, no
    cookie, compressed as the browser accepts."""
    asset = built(bundle)
    if asset is None:
        return Response(
            f"/* {name} is not built: run `npm ci && node build.mjs` in web/ */",
            media_type="application/javascript",
            status_code=503,
        )
    if version is not None and version != asset.digest:
        stem = name.removesuffix(".js")
        return PlainTextResponse(
            f"no version {version} of {name}: the current one is /{stem}.{asset.digest}.js",
            status_code=404,
            headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "no-cache"},
        )
    cache = SCRIPT_CACHE if version is None else IMMUTABLE
    return send(request, asset, cache, {"Access-Control-Allow-Origin": "*"})


@router.api_route("/footage.js", methods=SCRIPT_METHODS, include_in_schema=False)
def recorder_script(request: Request) -> Response:
    return served_script(request, "footage.js", "footage.js")


@router.api_route("/footage.{version}.js", methods=SCRIPT_METHODS, include_in_schema=False)
def recorder_script_version(request: Request, version: str) -> Response:
    """One release of footage.js, for a site that would rather pin it."""
    return served_script(request, "footage.js", "footage.js", version)
