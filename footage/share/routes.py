"""Share links through the REST API (Bearer token) and the player page's Share dialog (login
cookie + CSRF). The public page a link opens is in public.py."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Form, Request
from fastapi.responses import JSONResponse, Response

from footage.accounts.auth import api_account
from footage.accounts.passwords import secret_hash
from footage.errors import BadRequest, FootageError, Unauthorized
from footage.share.links import (
    EXPIRIES,
    Actor,
    active_links,
    create_link,
    parse_expires_in,
    parse_start,
    parse_start_ms,
    recording_duration,
    revoke_link,
    share_path,
)
from footage.web.csrf import check_csrf
from footage.web.users import User, current_user

router = APIRouter(prefix="/api/v1", tags=["share links"])
dashboard_router = APIRouter(include_in_schema=False)
Account = Annotated[dict[str, Any], Depends(api_account)]
FIELDS = ("expires_in", "start_ms")


def token_actor(request: Request, account: dict[str, Any]) -> Actor:
    """The API token that asks (writes need `Authorization: Bearer`, see api_account)."""
    _, _, token = request.headers.get("authorization", "").partition(" ")
    row = request.app.state.services.db.one(
        "SELECT id FROM api_tokens WHERE token_hash = :h AND account_id = :a",
        {"h": secret_hash(token.strip()), "a": account["id"]},
    )
    if row is None:  # api_account let only a valid token through; it was deleted meanwhile
        raise Unauthorized("the API token is not valid; create one with `footage accounts`")
    return Actor("token", row["id"])


def created(request: Request, token: str, link: dict[str, Any]) -> dict[str, Any]:
    base = request.app.state.services.settings.base_url
    return {**link, "url": base + share_path(token), "path": share_path(token)}


@router.post(
    "/recordings/{recording_id}/share-links",
    status_code=201,
    summary="Create a share link: the recording plays for anyone with the link, without login",
    description="`expires_in`: " + ", ".join(EXPIRIES) + " (never: until the recording is "
    "deleted). `start_ms` (optional): where the player starts, in ms from the recording's "
    "start. The answer's `url` holds the token; it is shown this once and never again.",
)
def create(
    request: Request,
    account: Account,
    recording_id: str,
    body: Annotated[
        Any, Body(openapi_examples={"a week": {"value": {"expires_in": "7d", "start_ms": 42000}}})
    ],
) -> dict[str, Any]:
    svc = request.app.state.services
    duration = recording_duration(svc.db, account["id"], recording_id)
    if not isinstance(body, dict):
        raise BadRequest(
            'send a JSON object such as {"expires_in": "7d", "start_ms": 42000}',
            code="bad_share_link",
        )
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise BadRequest(
            f"unknown field {unknown[0]!r}; a share link takes {' and '.join(FIELDS)}",
            code="bad_share_link",
        )
    expires_in = parse_expires_in(body.get("expires_in"))
    start_ms = parse_start_ms(body.get("start_ms"), duration)
    token, link = create_link(
        svc.db,
        svc.clock,
        account["id"],
        recording_id,
        expires_in,
        start_ms,
        token_actor(request, account),
    )
    return created(request, token, link)


@router.get(
    "/recordings/{recording_id}/share-links",
    summary="The recording's share links that still work (never their tokens)",
)
def list_links(request: Request, account: Account, recording_id: str) -> dict[str, Any]:
    svc = request.app.state.services
    return {"items": active_links(svc.db, svc.clock, account["id"], recording_id)}


@router.delete(
    "/share-links/{link_id}", status_code=204, summary="Revoke a share link: it stops at once"
)
def revoke(request: Request, account: Account, link_id: str) -> Response:
    svc = request.app.state.services
    revoke_link(svc.db, svc.clock, account["id"], link_id, token_actor(request, account))
    return Response(status_code=204)


# ---- the player page's Share dialog (web/src/share.ts) ------------------------------------


def dashboard_user(request: Request, csrf: str) -> User:
    check_csrf(request, csrf)
    user = current_user(request)
    if user is None:
        raise Unauthorized("you are logged out; log in again and retry", code="logged_out")
    return user


@dashboard_router.post("/recordings/{recording_id}/share-links")
def create_in_dashboard(
    request: Request,
    recording_id: str,
    csrf: str = Form(""),
    expires_in: str = Form(""),
    start: str = Form(""),
) -> Response:
    """The dialog's form: `start` as people write it ("0:42"); answers JSON, errors too."""
    svc = request.app.state.services
    try:
        user = dashboard_user(request, csrf)
        duration = recording_duration(svc.db, user["account_id"], recording_id)
        start_ms = parse_start(start, duration)
        token, link = create_link(
            svc.db,
            svc.clock,
            user["account_id"],
            recording_id,
            expires_in,
            start_ms,
            Actor("user", user["id"]),
        )
    except FootageError as exc:
        return JSONResponse(exc.as_dict(), status_code=exc.status)
    return JSONResponse(created(request, token, link), status_code=201)


@dashboard_router.post("/share-links/{link_id}/revoke")
def revoke_in_dashboard(request: Request, link_id: str, csrf: str = Form("")) -> Response:
    svc = request.app.state.services
    try:
        user = dashboard_user(request, csrf)
        revoke_link(svc.db, svc.clock, user["account_id"], link_id, Actor("user", user["id"]))
    except FootageError as exc:
        return JSONResponse(exc.as_dict(), status_code=exc.status)
    return Response(status_code=204)
