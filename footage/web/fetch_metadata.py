"""Requests that a page loads by itself never carry a user's credentials to Footage.

A replay is a page that a stranger wrote (ingest is public), rebuilt by rrweb in an
about:blank iframe of our own page, so on our origin. No script runs there, but the page's
images, stylesheets, fonts, media posters and the like are still fetched, and a
`<img src="/api/v1/recordings/…/download?format=mp4">` would otherwise be a GET to Footage
with the viewer's login cookie (`SameSite=Lax` cookies go with same-site loads).

Browsers say what a request is for in `Sec-Fetch-Dest` (Fetch Metadata: Chromium, Firefox,
Safari 16.4+). Footage's own pages only ever need credentials on two kinds of requests:
`document` (a navigation or a form) and `empty` (our scripts' `fetch`, a download link).
Every other destination (`image`, `style`, `font`, `video`, `track`, `object`, `iframe`, …)
is a load that a page makes by itself, and so is an `empty` one in `no-cors` mode (a link's
`ping`, a prefetch, an attribution report: nothing our scripts send). For those the login
cookie and any `Authorization` header are taken out before the app sees the request, and the
API answers 403 at once. Our scripts, stylesheets and the demo shop's images need no
credentials, so they still load.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

from footage.web.cookies import SESSION_COOKIE

HEADER = b"sec-fetch-dest"
MODE = b"sec-fetch-mode"
# The only destinations on which Footage's pages send credentials on purpose.
CREDENTIALED = frozenset({"document", "empty"})


def is_page_load(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The `Sec-Fetch-Dest` of a request that a page loads by itself (an image, a stylesheet,
    a frame, a ping…), or None for a navigation, a script's fetch or a client that sends none."""
    dest = mode = None
    for name, value in headers:
        if name == HEADER:
            dest = value.decode("latin-1").strip().lower()
        elif name == MODE:
            mode = value.decode("latin-1").strip().lower()
    if dest is None:
        return None
    if dest == "empty" and mode == "no-cors":
        return "empty, no-cors"
    return None if dest in CREDENTIALED else (dest or "unknown")


def without_session_cookie(value: bytes) -> bytes:
    """The Cookie header without the login cookie (other cookies, such as the CSRF token's,
    stay: taking that one out would make the CSRF middleware set a new one)."""
    kept = [
        part
        for part in value.split(b";")
        if part.strip().split(b"=", 1)[0].strip() != SESSION_COOKIE.encode()
    ]
    return b";".join(kept).strip()


def forbidden_body(dest: str) -> bytes:
    message = (
        f"Footage's API does not answer loads made by a page (Sec-Fetch-Dest: {dest}): "
        "call it with fetch(), a program or a link, and an API token."
    )
    return json.dumps({"error": {"code": "not_a_page_resource", "message": message}}).encode()


class FetchMetadata:
    """Plain ASGI (the ingest endpoint is the hot path): one scan of the headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        dest = is_page_load(scope["headers"])
        if dest is None:
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith("/api/"):
            body = forbidden_body(dest)
            await send(
                {
                    "type": "http.response.start",
                    "status": 403,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"cache-control", b"no-store"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        headers: list[tuple[bytes, bytes]] = []
        for name, value in scope["headers"]:
            if name == b"authorization":
                continue
            if name == b"cookie":
                value = without_session_cookie(value)
                if not value:
                    continue
            headers.append((name, value))
        await self.app({**scope, "headers": headers}, receive, send)
