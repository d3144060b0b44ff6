"""API tokens: stored only as hashes; listed (never the secret), created, revoked.

The REST API here takes a Bearer token of the account (or, for the list, an owner's dashboard
login); the Team page (accounts/team.py) has the same for owners in the dashboard. A revoked
token answers 401 from its next request on (`account_for_token` skips it).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import Response

from footage.accounts import audit, auth
from footage.accounts.passwords import new_secret, secret_hash
from footage.clock import Clock, iso
from footage.errors import BadRequest, Forbidden, NotFound
from footage.store.db import Database, new_id, q
from footage.web.users import OWNER_ONLY

router = APIRouter(prefix="/api/v1", tags=["API tokens"])
MAX_NAME = 100


def list_tokens(db: Database, account_id: str) -> list[dict[str, Any]]:
    """The account's tokens that still work, oldest first."""
    rows = db.all(
        "SELECT id, name, created_at, last_used_at FROM api_tokens "
        "WHERE account_id = :a AND revoked_at IS NULL ORDER BY created_at, id",
        {"a": account_id},
    )
    return [
        {**r, "created_at": iso(r["created_at"]), "last_used_at": iso(r["last_used_at"])}
        for r in rows
    ]


def create_token(
    db: Database, clock: Clock, account_id: str, name: Any, actor: str
) -> tuple[str, dict[str, Any]]:
    """A new token: (the secret, shown this once; its list item)."""
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME:
        raise BadRequest(
            f'give the token a name of 1 to {MAX_NAME} characters, e.g. "CRM export"',
            code="bad_token_name",
        )
    token, token_id, now = new_secret("ft"), new_id("tok"), clock.now_ms()
    with db.write() as conn:
        q(
            conn,
            "INSERT INTO api_tokens (id, account_id, token_hash, name, created_at) "
            "VALUES (:id, :a, :h, :n, :t)",
            id=token_id,
            a=account_id,
            h=secret_hash(token),
            n=name.strip(),
            t=now,
        )
        audit.record(conn, account_id, actor, "api_token.created", {"token": token_id}, at=now)
    item = {"id": token_id, "name": name.strip(), "created_at": iso(now), "last_used_at": None}
    return token, item


def revoke_token(db: Database, clock: Clock, account_id: str, token_id: str, actor: str) -> None:
    """Revoke one of the account's tokens at once; another account's id is not found."""
    now = clock.now_ms()
    with db.write() as conn:
        found = q(
            conn,
            "SELECT revoked_at FROM api_tokens WHERE id = :t AND account_id = :a",
            t=token_id,
            a=account_id,
        )
        if not found:
            raise NotFound("no such API token in this account", code="token_not_found")
        if found[0]["revoked_at"] is None:
            q(conn, "UPDATE api_tokens SET revoked_at = :now WHERE id = :t", now=now, t=token_id)
            audit.record(conn, account_id, actor, "api_token.revoked", {"token": token_id}, at=now)


def owner_account(request: Request) -> dict[str, Any]:
    """A Bearer token of the account, or the dashboard login of an owner (agents: 403)."""
    account = auth.api_account(request)
    if "token_id" not in account:
        user = auth.session_user(request)
        if user is None or user["role"] != "owner":
            raise Forbidden(OWNER_ONLY, code="owner_only")
    return account


def actor_of(account: dict[str, Any]) -> str:
    return f"token:{account['token_id']}"


Owner = Annotated[dict[str, Any], Depends(owner_account)]


@router.get(
    "/tokens",
    summary="The account's API tokens that still work (never the tokens themselves)",
)
def get_tokens(request: Request, account: Owner) -> dict[str, Any]:
    return {"items": list_tokens(request.app.state.services.db, account["id"])}


@router.post(
    "/tokens",
    status_code=201,
    summary="Create an API token: the answer's `token` is shown this once and never again",
)
def post_token(
    request: Request,
    account: Owner,
    body: Annotated[Any, Body(openapi_examples={"crm": {"value": {"name": "CRM export"}}})],
) -> dict[str, Any]:
    svc = request.app.state.services
    name = body.get("name") if isinstance(body, dict) else None
    token, item = create_token(svc.db, svc.clock, account["id"], name, actor_of(account))
    return {**item, "token": token}


@router.delete(
    "/tokens/{token_id}",
    status_code=204,
    summary="Revoke an API token: requests with it get 401 from now on",
)
def delete_token(request: Request, account: Owner, token_id: str) -> Response:
    svc = request.app.state.services
    revoke_token(svc.db, svc.clock, account["id"], token_id, actor_of(account))
    return Response(status_code=204)
