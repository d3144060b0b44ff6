"""The visitor's browser gives the copies it has: `POST /api/v1/assets/offer` and
`POST /api/v1/assets/copies` (docs/assets.md, "From the visitor's browser").

The recorder hashes the images and fonts of its page that it can read (same origin, in the
browser's cache already), offers the hashes, and uploads only those the site has no copy of
yet. It reaches what the server cannot (a site on an intranet, assets behind the site's
login) and shows exactly what the visitor got.

A visitor's browser is not trusted with anyone else's replay: a copy it gives is used only by
its own recording, only for an address that recording's batches use already (so nothing the
site's masks or blocked areas kept out), and never becomes the site's copy of that address
for other recordings. Copies are stored by the hash of the bytes the server received, so one
visitor cannot change a copy another one shows.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from footage.assets import store as kept_assets
from footage.assets.fetch import ASSET_TYPES
from footage.errors import (
    BadRequest,
    Conflict,
    FootageError,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from footage.ingest.asgi import visit_of
from footage.ingest.routes import cors, error
from footage.ratelimit import TokenBuckets, TooManyRequests, retry_after
from footage.urls import split_url

router = APIRouter()

HASH = re.compile(r"^[0-9a-f]{64}$")
MAX_OFFERED = 100  # addresses in one offer
# Uploads per client address: a page's images and fonts at once, then one a second.
UPLOAD_RATE, UPLOAD_BURST = 1.0, 60


def _uploads(request: Request) -> TokenBuckets:
    """This app's buckets of uploads per address (made on first use)."""
    state = request.app.state
    if getattr(state, "asset_uploads", None) is None:
        state.asset_uploads = TokenBuckets(UPLOAD_RATE, UPLOAD_BURST)
    buckets: TokenBuckets = state.asset_uploads
    return buckets


def _recording(svc: Any, site: dict[str, Any], page_id: str) -> dict[str, Any]:
    """The live recording of this page view, and the page's address."""
    row = svc.db.one(
        "SELECT p.recording_id, p.url FROM recording_pages p JOIN recordings r "
        "ON r.id = p.recording_id WHERE p.site_id = :s AND p.page_id = :p AND r.status = 'live'",
        {"s": site["id"], "p": page_id},
    )
    if row is None:
        raise Conflict(
            "no recording in progress has this page view; offer copies after a batch of it "
            "was stored",
            code="no_live_page",
        )
    return row


def _same_origin(url: str, page_url: str) -> bool:
    a, b = split_url(url), split_url(page_url)
    return a.scheme in ("http", "https") and (a.scheme, a.netloc) == (b.scheme, b.netloc)


def _media_type(value: str) -> str:
    media = value.split(";", 1)[0].strip().lower()
    if media not in ASSET_TYPES or media == "text/css":
        raise UnsupportedMediaType(
            f"{media or 'no type'} is not an image or a font", code="bad_asset_type"
        )
    return media


@router.post("/api/v1/assets/offer", tags=["recorder"], summary="Offer copies of assets")
async def offer(request: Request) -> Response:
    """The page's images and fonts: `missing` lists the addresses (offered without a hash)
    that the recording has no copy of; `wanted` the hashes (offered with one) to upload."""
    try:
        body = await request.json()
        if not isinstance(body, dict) or not isinstance(body.get("assets"), list):
            raise BadRequest(
                "send {site_key, page_id, assets: [{url, sha256 (optional)}]}", code="bad_offer"
            )
        answer = await run_in_threadpool(_offered, request, body)
        return cors(request, JSONResponse(answer))
    except FootageError as exc:
        return error(request, exc)
    except ValueError:
        return error(request, BadRequest("the offer is not JSON", code="bad_offer"))


def _offered(request: Request, body: dict[str, Any]) -> dict[str, list[str]]:
    svc = request.app.state.services
    visit = visit_of(request.scope, _headers(request))
    site = svc.ingest.site_for(str(body.get("site_key", "")), visit)
    page = _recording(svc, site, str(body.get("page_id", "")))
    missing: list[str] = []
    wanted: list[str] = []
    for asset in body["assets"][:MAX_OFFERED]:
        url = asset.get("url") if isinstance(asset, dict) else None
        digest = asset.get("sha256") if isinstance(asset, dict) else None
        if not isinstance(url, str) or not _same_origin(url, page["url"]):
            continue
        state = _state(svc, page, url)
        if state is None:
            continue  # not an address of this recording: nothing to do with it
        if digest is None:
            if state != "stored":
                missing.append(url)
        elif isinstance(digest, str) and HASH.match(digest):
            if kept_assets.has_copy(svc.db, site["id"], digest):
                kept_assets.shown_by(svc.db, page["recording_id"], url, digest)
            elif digest not in wanted:
                wanted.append(digest)
    return {"missing": missing, "wanted": wanted}


@router.post("/api/v1/assets/copies", tags=["recorder"], summary="Upload a copy of an asset")
async def upload(request: Request, site_key: str, page_id: str, url: str) -> Response:
    """One image or font, as the visitor's browser has it (the body is its bytes)."""
    try:
        visit = visit_of(request.scope, _headers(request))
        wait = _uploads(request).take(visit.ip or "")
        if wait:
            raise TooManyRequests("too many copies from this address; try later", retry_after(wait))
        media = _media_type(request.headers.get("content-type", ""))
        data = await _body(request, request.app.state.services.settings.asset_max_bytes)
        digest = await run_in_threadpool(_keep, request, visit, site_key, page_id, url, media, data)
        return cors(request, JSONResponse({"sha256": digest}))
    except FootageError as exc:
        return error(request, exc)


def _keep(
    request: Request, visit: Any, site_key: str, page_id: str, url: str, media: str, data: bytes
) -> str:
    """Store the copy for this page view's recording; returns its hash."""
    svc = request.app.state.services
    site = svc.ingest.site_for(site_key, visit)
    page = _recording(svc, site, page_id)
    if not _same_origin(url, page["url"]) or not _uses(svc, page, url):
        raise BadRequest(
            "the address is not one this page view's recording uses", code="not_recorded"
        )
    digest = kept_assets.keep_copy(
        svc.db, svc.blobs, site["id"], data, media, (), svc.clock.now_ms()
    )
    kept_assets.shown_by(svc.db, page["recording_id"], url, digest)
    return digest


def _state(svc: Any, page: dict[str, Any], url: str) -> str | None:
    """Where the recording's copy of this address stands; None: the recording does not use it."""
    row = svc.db.one(
        "SELECT state FROM recording_assets WHERE recording_id = :r AND url = :u",
        {"r": page["recording_id"], "u": url},
    )
    return str(row["state"]) if row else None


def _uses(svc: Any, page: dict[str, Any], url: str) -> bool:
    return _state(svc, page, url) is not None


def _headers(request: Request) -> dict[bytes, bytes]:
    return dict(request.scope["headers"])


async def _body(request: Request, limit: int) -> bytes:
    data = bytearray()
    async for part in request.stream():
        data += part
        if len(data) > limit:
            raise PayloadTooLarge(f"a copy may be at most {limit} bytes", code="asset_too_large")
    if not data:
        raise BadRequest("the copy is empty", code="empty_asset")
    return bytes(data)
