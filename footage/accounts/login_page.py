"""Logging in and out of the dashboard, and its front door (/)."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from footage.accounts import auth, throttle
from footage.web.cookies import SESSION_COOKIE, secure_cookies
from footage.web.csrf import check_csrf
from footage.web.render import render
from footage.web.users import current_user

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(request: Request) -> Response:
    return RedirectResponse("/recordings" if current_user(request) else "/login", 303)


@router.get("/login")
def login_page(request: Request, next: str = "/recordings") -> Response:
    return render(request, "login.html", None, next=next, error=None)


@router.post("/login")
def login_submit(
    request: Request,
    email: str = Form(""),
    password: str = Form(""),
    csrf: str = Form(""),
    next: str = Form("/recordings"),
) -> Response:
    check_csrf(request, csrf)
    svc = request.app.state.services
    now = svc.clock.now_ms()
    keys = throttle.keys_for(email, request.client.host if request.client else None)
    wait = throttle.blocked_for(svc.db, keys, now)
    if wait:
        minutes = -(-wait // 60)
        response = render(
            request,
            "login.html",
            None,
            next=next,
            error=f"Too many failed logins. Try again in {minutes} minute"
            f"{'s' if minutes != 1 else ''}.",
        )
        response.status_code = 429
        response.headers["Retry-After"] = str(wait)
        return response
    token = auth.login(svc.db, now, email, password)
    if token is None:
        throttle.record_failure(svc.db, keys, now)
        response = render(request, "login.html", None, next=next, error="Wrong e-mail or password.")
        response.status_code = 401
        return response
    throttle.clear(svc.db, keys)
    target = next if next.startswith("/") and not next.startswith("//") else "/recordings"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=auth.SESSION_DAYS * 86400,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(svc.settings),
    )
    return response


@router.post("/logout")
def logout(request: Request, csrf: str = Form("")) -> Response:
    check_csrf(request, csrf)
    auth.logout(request.app.state.services.db, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
