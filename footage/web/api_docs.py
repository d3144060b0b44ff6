"""/api/docs: the API reference (Swagger UI), served entirely by Footage.

FastAPI's own page loads Swagger UI from a CDN with a floating version, no integrity check
and an inline script, so it cannot run under a Content-Security-Policy and it runs whatever
the CDN serves that day. Ours serves the version pinned in web/package.json (copied into
static/build/ by web/build.mjs) and starts it from a file (web/src/api-docs.ts), under the
dashboard's policy: scripts, styles and requests only from this server.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from footage.web.csp import DASHBOARD, HEADER
from footage.web.render import templates

router = APIRouter()


@router.get("/api/docs", include_in_schema=False, response_class=HTMLResponse)
def api_docs(request: Request) -> HTMLResponse:
    response = templates.TemplateResponse(
        request, "api_docs.html", {"openapi_url": request.app.openapi_url}
    )
    # /api/ gets no policy from the dashboard's middleware (JSON answers): this page sets it.
    response.headers[HEADER] = DASHBOARD
    response.headers["Cache-Control"] = "no-cache"
    return response
