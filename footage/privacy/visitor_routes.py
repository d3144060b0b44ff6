"""Erasing a visitor: the REST API (Bearer token) and the dashboard form (owners only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response

from footage.accounts.auth import api_account
from footage.accounts.passwords import secret_hash
from footage.accounts.service import sites_of
from footage.errors import BadRequest, FootageError
from footage.privacy.erase import COUNTS, PENDING_NOTE, erase_visitor, erase_visitors_by_email
from footage.web.csrf import check_csrf
from footage.web.render import render
from footage.web.users import OWNER_ONLY, LoginRequired, current_user

router = APIRouter(prefix="/api/v1", tags=["visitors"])
dashboard_router = APIRouter(include_in_schema=False)
Account = Annotated[dict[str, Any], Depends(api_account)]


def as_response(result: dict[str, int]) -> dict[str, Any]:
    """{"deleted": counts} plus what is left for later, so a caller can tell the visitor."""
    pending = result["pending_segment_bytes"]
    return {
        "deleted": {name: result[name] for name in COUNTS},
        "pending_segment_bytes": pending,
        "note": PENDING_NOTE.format(n=pending) if pending else None,
    }


def api_actor(request: Request, account: dict[str, Any]) -> str:
    """`token:<id>` for the audit log: which of the account's tokens asked, not the secret.

    api_account only lets Bearer tokens through for DELETE, so the header is there.
    """
    _, _, token = request.headers.get("authorization", "").partition(" ")
    row = request.app.state.services.db.one(
        "SELECT id FROM api_tokens WHERE token_hash = :h AND account_id = :a",
        {"h": secret_hash(token.strip()), "a": account["id"]},
    )
    return f"token:{row['id']}" if row else "token"


@router.delete(
    "/visitors/{visitor_id}",
    summary="Erase a visitor: their recordings and data on every site of the account",
)
def erase_by_id(request: Request, account: Account, visitor_id: str) -> dict[str, Any]:
    """Deletes the visitor's rows, recordings (live and ready) and recording blobs at once.

    An unknown visitor gives zeros (the call can be repeated safely). `pending_segment_bytes`
    counts bytes of a live recording that stay in storage shared with other visitors until
    those recordings finish; nothing refers to them any more.
    """
    svc = request.app.state.services
    result = erase_visitor(
        svc.db,
        svc.blobs,
        svc.clock,
        account["id"],
        visitor_id,
        api_actor(request, account),
        on_delete=svc.on_delete,
    )
    return as_response(result)


@router.delete(
    "/visitors",
    summary="Erase every visitor with an e-mail address (any letter case)",
)
def erase_by_email(
    request: Request,
    account: Account,
    email: Annotated[
        str | None, Query(description="The visitor's e-mail address, matched exactly")
    ] = None,
) -> dict[str, Any]:
    """Like DELETE /api/v1/visitors/{visitor_id}, for the visitors known by this address."""
    if email is None or not email.strip():
        # Without this a DELETE on the collection would read as "erase every visitor".
        raise BadRequest(
            "pass the visitor's e-mail address as ?email=ann@example.com, or use "
            "DELETE /api/v1/visitors/{visitor_id} to erase by visitor id",
            code="email_required",
        )
    svc = request.app.state.services
    result = erase_visitors_by_email(
        svc.db,
        svc.blobs,
        svc.clock,
        account["id"],
        email,
        api_actor(request, account),
        on_delete=svc.on_delete,
    )
    return as_response(result)


def error_page(
    request: Request, user: dict[str, Any], status: int, title: str, message: str
) -> Response:
    response = render(request, "error.html", user, title=title, message=message)
    response.status_code = status
    return response


@dashboard_router.post("/visitors/erase")
def erase_form(
    request: Request,
    csrf: str = Form(""),
    site_id: str = Form(""),
    visitor_id: str = Form(""),
    email: str = Form(""),
) -> Response:
    """The dashboard's erase form. `site_id` names the site the form was shown for; it must
    be one of the account's, and the erasure covers every site of the account, as the API's."""
    check_csrf(request, csrf)
    user = current_user(request)
    if user is None:
        raise LoginRequired(back_to="/recordings")  # this address takes no GET
    if user["role"] != "owner":
        return error_page(
            request,
            user,
            403,
            "Only the account owner can erase visitors",
            "Erasing deletes recordings and conversations for good. "
            + OWNER_ONLY[0].upper()
            + OWNER_ONLY[1:]
            + ".",
        )
    svc = request.app.state.services
    if site_id and site_id not in {s["id"] for s in sites_of(svc.db, user["account_id"])}:
        return error_page(
            request,
            user,
            404,
            "Site not found",
            "It may have been deleted, or it belongs to another account.",
        )
    visitor_id, email = visitor_id.strip(), email.strip()
    if bool(visitor_id) == bool(email):
        return error_page(
            request,
            user,
            400,
            "Nothing was erased",
            "Enter either the visitor's id or their e-mail address (one of the two).",
        )
    actor = f"user:{user['id']}"
    try:
        if visitor_id:
            result = erase_visitor(
                svc.db,
                svc.blobs,
                svc.clock,
                user["account_id"],
                visitor_id,
                actor,
                on_delete=svc.on_delete,
            )
        else:
            result = erase_visitors_by_email(
                svc.db,
                svc.blobs,
                svc.clock,
                user["account_id"],
                email,
                actor,
                on_delete=svc.on_delete,
            )
    except FootageError as exc:
        return error_page(request, user, exc.status, "Nothing was erased", exc.message)
    body = as_response(result)
    return render(
        request,
        "erased.html",
        user,
        deleted=body["deleted"],
        total=sum(body["deleted"].values()),
        note=body["note"],
        visitor_id=visitor_id,
        email=email,
    )
