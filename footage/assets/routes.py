"""GET /site-assets/{site key}/{hash}: a kept copy, loaded by the replay frame itself.

Not under /api/: the replay's images, stylesheets and fonts are loads a page makes by itself,
which reach Footage without the viewer's login (web/fetch_metadata.py), and a copy needs
none. Its address is its SHA-256: whoever can name one knows its content already. A copy is
the bytes a stranger's site served, so it is sent with its checked type, `nosniff`, and a
sandboxing policy that keeps an SVG or a stylesheet opened on its own from running anything
on Footage's origin.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request, Response

from footage.assets import store
from footage.web.assets import IMMUTABLE

router = APIRouter()

HASH = re.compile(r"^[0-9a-f]{64}$")
# Opened on its own (not as a replay's image or stylesheet), a copy is a sandboxed document
# that may load nothing but its own kind: no script, no form, no frame.
POLICY = (
    "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; font-src 'self'"
)


def _not_found() -> Response:
    return Response(
        "No kept copy at this address.",
        status_code=404,
        media_type="text/plain",
        headers={"Cache-Control": "no-store"},
    )


@router.api_route(
    "/site-assets/{site_key}/{digest}", methods=["GET", "HEAD"], include_in_schema=False
)
def kept_copy(request: Request, site_key: str, digest: str) -> Response:
    svc = request.app.state.services
    info = store.served_copy(svc.db, site_key, digest) if HASH.match(digest) else None
    if info is None:
        return _not_found()
    headers = {
        "Cache-Control": IMMUTABLE,  # the address is the content's hash
        "ETag": f'"{digest}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": POLICY,
        # Fonts are loaded in CORS mode; the copy is no secret to anyone who can name it.
        "Access-Control-Allow-Origin": "*",
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if request.headers.get("if-none-match", "").strip() in (f'"{digest}"', "*"):
        return Response(status_code=304, headers=headers)
    media_type = str(info["content_type"])
    if media_type == "text/css":
        media_type = "text/css; charset=utf-8"  # the copy was rewritten as UTF-8
    if request.method == "HEAD":
        headers["Content-Length"] = str(info["bytes"])
        return Response(status_code=200, headers=headers, media_type=media_type)
    body = svc.blobs.get(store.copy_key(info["site_id"], digest))
    return Response(body, status_code=200, headers=headers, media_type=media_type)
