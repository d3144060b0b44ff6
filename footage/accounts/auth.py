"""Who is asking: API tokens (Bearer) and dashboard login sessions (cookie).

`session_user` is the user lookup the web toolkit's pages ask through (installed by the app)."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import Request

from footage.accounts.passwords import hash_password, needs_rehash, secret_hash, verify_password
from footage.accounts.service import account_for_token
from footage.errors import BadRequest, Forbidden, Unauthorized
from footage.store.db import Database, q
from footage.web.cookies import SESSION_COOKIE
from footage.web.users import OWNER_ONLY

SESSION_DAYS = 14
ROLES = ("owner", "agent")


def services(request: Request) -> Any:
    return request.app.state.services


def login(db: Database, now_ms: int, email: str, password: str) -> str | None:
    """Check a login; on success start a session and return its cookie value."""
    user = db.one("SELECT * FROM users WHERE email = :e", {"e": email.strip().lower()})
    if user is None or not verify_password(user["password_hash"], password):
        return None
    if needs_rehash(user["password_hash"]):  # stored with older parameters: bring it up to date
        db.run(
            "UPDATE users SET password_hash = :h WHERE id = :u",
            {"h": hash_password(password), "u": user["id"]},
        )
    return start_session(db, user["id"], now_ms)


def start_session(db: Database, user_id: str, now_ms: int) -> str:
    token = secrets.token_urlsafe(32)
    db.run(
        "INSERT INTO login_sessions (token_hash, user_id, csrf_token, created_at, expires_at) "
        "VALUES (:h, :u, '', :now, :exp)",
        {
            "h": secret_hash(token),
            "u": user_id,
            "now": now_ms,
            "exp": now_ms + SESSION_DAYS * 86_400_000,
        },
    )
    return token


def change_password(
    db: Database, user_id: str, current_session: str, current: str, new: str
) -> None:
    """Set a user's password (the current one must be given) and end every other session of
    theirs: a session opened with a stolen password stops with the change."""
    user = db.one("SELECT password_hash FROM users WHERE id = :u", {"u": user_id})
    if user is None or not verify_password(user["password_hash"], current):
        raise BadRequest("the current password is not right", code="wrong_password")
    if len(new) < 8:
        raise BadRequest("the new password must be at least 8 characters long", code="bad_password")
    with db.write() as conn:
        q(
            conn,
            "UPDATE users SET password_hash = :h WHERE id = :u",
            h=hash_password(new),
            u=user_id,
        )
        q(
            conn,
            "DELETE FROM login_sessions WHERE user_id = :u AND token_hash <> :keep",
            u=user_id,
            keep=secret_hash(current_session),
        )


def logout(db: Database, token: str | None) -> None:
    if token:
        db.run("DELETE FROM login_sessions WHERE token_hash = :h", {"h": secret_hash(token)})


def session_user(request: Request) -> dict[str, Any] | None:
    """The logged-in dashboard user, or None."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    svc = services(request)
    return svc.db.one(
        "SELECT u.id, u.email, u.role, u.account_id, a.name AS account_name, a.plan, "
        "a.time_zone "
        "FROM login_sessions s JOIN users u ON u.id = s.user_id "
        "JOIN accounts a ON a.id = u.account_id "
        "WHERE s.token_hash = :h AND s.expires_at > :now",
        {"h": secret_hash(token), "now": svc.clock.now_ms()},
    )


def api_account(request: Request) -> dict[str, Any]:
    """The account an API request acts for: a Bearer token, or (reads only) a login cookie."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("send the API token as 'Authorization: Bearer <token>'")
        svc = services(request)
        account = account_for_token(svc.db, token.strip(), svc.clock.now_ms())
        if account is None:
            raise Unauthorized(
                "the API token is not valid (unknown or revoked); owners create tokens on the "
                "dashboard's Team page or with `footage accounts`"
            )
        return account
    user = session_user(request)
    if request.method in ("GET", "HEAD"):
        if user is not None:
            return {
                "id": user["account_id"],
                "name": user["account_name"],
                "plan": user["plan"],
                "time_zone": user["time_zone"],
            }
    elif user is not None and user["role"] != "owner":
        raise Forbidden(OWNER_ONLY, code="owner_only")
    raise Unauthorized("this endpoint needs 'Authorization: Bearer <api_token>'")
