"""Double-submit CSRF tokens: the middleware gives every page a token (cookie + form field),
and `check_csrf` compares what a form or a script sent with the cookie."""

from __future__ import annotations

import hmac
import secrets
from http.cookies import SimpleCookie

from fastapi import Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from footage.errors import Forbidden
from footage.web.cookies import CSRF_COOKIE

# The recorder's and the chat box's endpoints and scripts (plain and hashed addresses), the
# API, the share pages and the static files take no cookie: a cookie on a cached file would
# be handed to everyone the cache serves.
NO_TOKEN = ("/api/", "/footage.", "/footage-chat.", "/share/", "/static/")


def csrf_token(request: Request) -> str:
    """The CSRF token for forms on this page (double-submit cookie, set by the middleware)."""
    return str(request.state.csrf_token)


def check_csrf(request: Request, submitted: str | None) -> None:
    """Refuse (403 `csrf_failed`) unless the token sent matches the cookie's."""
    expected = request.cookies.get(CSRF_COOKIE, "")
    if not expected or not submitted or not hmac.compare_digest(expected, submitted):
        raise Forbidden(
            "the form expired or came from another site; reload the page and try again",
            code="csrf_failed",
        )


class CsrfCookieMiddleware:
    """Gives every dashboard page a double-submit CSRF token (cookie + form field).

    Plain ASGI rather than BaseHTTPMiddleware, and API paths pass straight through: the
    ingest endpoint is the hot path and needs neither.
    """

    def __init__(self, app: ASGIApp, secure: bool) -> None:
        self.app, self.secure = app, secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(NO_TOKEN):
            await self.app(scope, receive, send)
            return
        cookies = Request(scope).cookies
        token = cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
        scope.setdefault("state", {})["csrf_token"] = token
        if CSRF_COOKIE in cookies:
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie: SimpleCookie = SimpleCookie()
                cookie[CSRF_COOKIE] = token
                cookie[CSRF_COOKIE]["path"] = "/"
                cookie[CSRF_COOKIE]["httponly"] = True
                cookie[CSRF_COOKIE]["samesite"] = "lax"
                if self.secure:
                    cookie[CSRF_COOKIE]["secure"] = True
                headers = MutableHeaders(scope=message)
                headers.append("set-cookie", cookie.output(header="").strip())
            await send(message)

        await self.app(scope, receive, send_with_cookie)
