"""The dashboard's Password page: a logged-in user changes their own password.

The current password is required, and the change ends the user's other sessions (every
browser logged in with the old password is logged out); the session that made the change
stays. Wrong current passwords count as failed logins (accounts/throttle.py).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from footage.accounts import auth, throttle
from footage.errors import FootageError
from footage.web.cookies import SESSION_COOKIE
from footage.web.render import render
from footage.web.users import PageUser, UserForm

router = APIRouter(include_in_schema=False)


@router.get("/password")
def password_page(request: Request, user: PageUser, saved: int = 0) -> Response:
    return render(request, "password.html", user, saved=bool(saved), error=None)


@router.post("/password")
async def password_submit(request: Request, posted: UserForm) -> Response:
    user, form = posted.user, posted.form
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
                request.cookies.get(SESSION_COOKIE, ""),
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
