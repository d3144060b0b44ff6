"""The dashboard's Team page: the account's users, and a form for owners to add agents.

Agents chat with visitors and watch recordings; only owners change settings, the plan or
erase visitors (`footage accounts add-user` does the same from the command line).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from footage.accounts.service import AccountError, add_user
from footage.accounts.tokens import create_token, list_tokens, revoke_token
from footage.errors import FootageError
from footage.web.render import render
from footage.web.users import OwnerForm, PageOwner

router = APIRouter(include_in_schema=False)


def _users(svc: Any, account_id: str) -> list[dict[str, Any]]:
    return svc.db.all(
        "SELECT email, role, created_at FROM users WHERE account_id = :a ORDER BY created_at",
        {"a": account_id},
    )


@router.get("/team")
def team_page(request: Request, user: PageOwner, added: str = "") -> Response:
    svc = request.app.state.services
    users = _users(svc, user["account_id"])
    return render(
        request,
        "team.html",
        user,
        users=users,
        tokens=list_tokens(svc.db, user["account_id"]),
        added=added,
        error=None,
        form={},
    )


@router.post("/team")
async def team_submit(request: Request, posted: OwnerForm) -> Response:
    user, form = posted.user, posted.form
    svc = request.app.state.services
    email = str(form.get("email", "")).strip()
    role = str(form.get("role", "agent"))
    try:
        add_user(
            svc.db,
            svc.clock,
            user["account_id"],
            email=email,
            password=str(form.get("password", "")),
            role=role,
        )
    except AccountError as exc:
        response = render(
            request,
            "team.html",
            user,
            users=_users(svc, user["account_id"]),
            tokens=list_tokens(svc.db, user["account_id"]),
            added="",
            error=str(exc)[0].upper() + str(exc)[1:] + ".",
            form={"email": email, "role": role},
        )
        response.status_code = 400
        return response
    return RedirectResponse(f"/team?added={email.lower()}", status_code=303)


@router.post("/team/tokens")
async def token_create(request: Request, posted: OwnerForm) -> Response:
    """Create an API token; the page shows it this once (it is stored only as a hash)."""
    user, form = posted.user, posted.form
    svc = request.app.state.services
    new_token, error = None, None
    try:
        new_token, _ = create_token(
            svc.db, svc.clock, user["account_id"], str(form.get("name", "")), f"user:{user['id']}"
        )
    except FootageError as exc:
        error = exc.message[0].upper() + exc.message[1:] + "."
    response = render(
        request,
        "team.html",
        user,
        users=_users(svc, user["account_id"]),
        tokens=list_tokens(svc.db, user["account_id"]),
        new_token=new_token,
        added="",
        error=error,
        form={},
    )
    response.status_code = 400 if error else 201
    response.headers["Cache-Control"] = "no-store"  # the token must not stay in a cache
    return response


@router.post("/team/tokens/{token_id}/revoke")
async def token_revoke(request: Request, token_id: str, posted: OwnerForm) -> Response:
    user = posted.user
    svc = request.app.state.services
    revoke_token(svc.db, svc.clock, user["account_id"], token_id, f"user:{user['id']}")
    return RedirectResponse("/team", status_code=303)
