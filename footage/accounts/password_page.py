"""The dashboard's Password page: a logged-in user changes their own password.

The current password is required, and the change ends the user's other sessions (every
browser logged in with the old password is logged out); the session that made the change
stays. Wrong current passwords count as failed logins (accounts/throttle.py).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from footage.accounts import auth, throttle
from footage.dashboard.routes import render, to_login
from footage.errors import FootageError

router = APIRouter(include_in_schema=False)


@router.get("/password")
def password_page(request: Request, saved: int = 0) -> Response:
    user = auth.session_user(request)
    if user is None:
        return to_login(request)
    return render(request, "password.html", user, saved=bool(saved), error=None)


@router.post("/password")
async def password_submit(request: Request) -> Response:
    user = auth.session_user(request)
    if user is None:
        return to_login(request)
    form = await request.form()
    auth.check_csrf(request, str(form.get("csrf", "")))
    svc = request.app.state.services
    now = svc.clock.now_ms()
    keys = throttle.keys_for(user["email"], request.client.host if request.client else None)
    error, status = None, 400
    new = str(form.get("new_password", ""))
    if throttle.blocked_for(svc.db, keys, now):
        error, status = "Too many wrong passwords. Try again later.", 429
    elif new != str(form.get("confirm_password", "")):
        error = "The two new passwords differ."
    else:
        try:
            auth.change_password(
                svc.db,
                user["id"],
                request.cookies.get(auth.SESSION_COOKIE, ""),
                str(form.get("current_password", "")),
                new,
            )
        except FootageError as exc:
            if exc.code == "wrong_password":
                throttle.record_failure(svc.db, keys, now)
            error = exc.message[0].upper() + exc.message[1:] + "."
    if error is None:
        return RedirectResponse("/password?saved=1", status_code=303)
    response = render(request, "password.html", user, saved=False, error=error)
    response.status_code = status
    return response
