"""Errors as responses: JSON under /api/, a page everywhere else."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from footage.errors import FootageError
from footage.web.render import render, templates
from footage.web.users import OWNER_ONLY, LoginRequired, OwnerOnly


def is_api(request: Request) -> bool:
    """A request to the REST API (answered in JSON), not a page."""
    return request.url.path.startswith("/api/")


async def footage_error(request: Request, exc: Exception) -> Response:
    """A FootageError: its JSON under /api/, else the error page with its message."""
    assert isinstance(exc, FootageError)
    if is_api(request):
        return JSONResponse(exc.as_dict(), status_code=exc.status)
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "user": None,
            "title": "Something is not right",
            "message": exc.message,
            "csrf_token": request.state.csrf_token,
        },
        status_code=exc.status,
    )


async def validation_error(request: Request, exc: Exception) -> Response:
    """A parameter FastAPI could not read: 400 `bad_request`, naming each one."""
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc'][1:]) or e['loc'][0]}: {e['msg']}" for e in exc.errors()
    )
    return JSONResponse({"error": {"code": "bad_request", "message": problems}}, status_code=400)


async def http_error(request: Request, exc: Exception) -> Response:
    """An unknown path or method: JSON under /api/, a short page elsewhere."""
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
    message = "no such endpoint" if exc.status_code == 404 else str(exc.detail)
    if is_api(request):
        return JSONResponse(
            {"error": {"code": code, "message": message}},
            status_code=exc.status_code,
            headers=exc.headers,  # a 405's Allow
        )
    return HTMLResponse(
        f"<!doctype html><title>{exc.status_code}</title><h1>{exc.status_code}</h1>"
        f"<p>{'Page not found.' if exc.status_code == 404 else 'Error.'}</p>"
        '<p><a href="/">Back to Footage</a></p>',
        status_code=exc.status_code,
        headers=exc.headers,
    )


async def login_required(request: Request, exc: Exception) -> Response:
    """Nobody logged in: to /login and back again, or a bare 401 for a script."""
    assert isinstance(exc, LoginRequired)
    if not exc.redirect:
        return Response(status_code=401)
    url = request.url
    back_to = exc.back_to or url.path + (f"?{url.query}" if url.query else "")
    return RedirectResponse(f"/login?next={quote(back_to)}", status_code=303)


async def owner_only(request: Request, exc: Exception) -> Response:
    """An agent where only the owner may go: the 403 page, drawn for them."""
    assert isinstance(exc, OwnerOnly)
    response = await run_in_threadpool(
        render,
        request,
        "error.html",
        exc.user,
        title="Only the account owner can change this",
        message=OWNER_ONLY[0].upper() + OWNER_ONLY[1:] + ".",
    )
    response.status_code = 403
    return response


def install_error_handlers(app: FastAPI) -> None:
    """Answer Footage's errors, bad requests, unknown paths, a missing login and an agent
    where only the owner may go."""
    app.add_exception_handler(FootageError, footage_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(OwnerOnly, owner_only)
