"""The Content-Security-Policy of Footage's own pages: the dashboard, the player and the
share page.

Every one of them may show a replay, and a replay is a page that a stranger recorded. rrweb
rebuilds it in an about:blank iframe of our page, which inherits our policy: so scripts run
only from our own bundles (no inline script, no handlers, no javascript: URLs), nothing
frames us, no <base> moves our URLs, and no frame or plugin loads. What a recorded page
legitimately shows comes from its own origins: images, fonts, media and the stylesheets that
rrweb could not inline (cross-origin ones, replayed as <link>); its styles are inline
<style> elements and style attributes.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "Content-Security-Policy"
# The demo shop is the customer's site (inline scripts, footage.js), and /api/ answers JSON
# (its /api/docs page is Swagger UI's, with its own scripts): neither shows a replay.
UNGUARDED = ("/demo", "/api/")


def policy(form_action: str = "'self'") -> str:
    """The policy; the share page, which has no forms, passes `'none'`."""
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "connect-src 'self'",
            "style-src 'self' 'unsafe-inline' https: http:",
            "img-src 'self' data: blob: https: http:",
            "font-src 'self' data: https: http:",
            "media-src 'self' data: blob: https: http:",
            "base-uri 'none'",
            f"form-action {form_action}",
            "frame-ancestors 'none'",
        ]
    )


DASHBOARD = policy()


class ContentSecurityPolicy:
    """Adds the dashboard's policy to every HTML answer that does not carry its own.

    Plain ASGI, like the CSRF middleware: the ingest endpoint is the hot path.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNGUARDED):
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                html = headers.get("content-type", "").startswith("text/html")
                if html and HEADER not in headers:
                    headers[HEADER] = DASHBOARD
            await send(message)

        await self.app(scope, receive, send_with_policy)
