"""REST API for conversations (Bearer token; reads also with the dashboard's login)."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from footage.accounts.auth import api_account
from footage.clock import iso
from footage.conversations import external, store
from footage.conversations.panel import recording_item, recordings_of_visitor
from footage.errors import BadRequest, FootageError, NotFound, PayloadTooLarge
from footage.recordings.queries import decode_cursor, encode_cursor

router = APIRouter(prefix="/api/v1", tags=["conversations"])
Account = Annotated[dict[str, Any], Depends(api_account)]
MAX_LIMIT = 200


def conversation_item(svc: Any, row: dict[str, Any]) -> dict[str, Any]:
    """A conversation as the API shows it: who, the messages, and the visitor's recordings."""
    now = svc.clock.now_ms()
    messages = store.ordered(store.messages_after(svc.db, row["id"]))
    return {
        "id": row["id"],
        "site_id": row["site_id"],
        "source": row["source"],
        "external_id": row["external_id"],
        "started_at": iso(row["started_at"]),
        "last_message_at": iso(row["last_message_at"]),
        "unread": store.is_unread(row),
        "visitor": store.visitor_of(row),
        "messages": [store.message_item(m) for m in messages],
        "recordings": [
            recording_item(r, row, svc.settings.base_url, now)
            for r in recordings_of_visitor(svc.db, row)
        ],
    }


@router.get(
    "/conversations",
    summary="The account's conversations, latest activity first",
    description="Each with its visitor, messages and the visitor's recordings on the site "
    "(`in_conversation`: recorded during this conversation; `url` opens the player at the "
    "moment the conversation started). Page with `cursor`.",
)
def list_conversations(
    request: Request,
    account: Account,
    limit: int = 50,
    cursor: str | None = None,
    visitor_id: str | None = None,
) -> dict[str, Any]:
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"'limit' must be between 1 and {MAX_LIMIT}", code="bad_limit")
    svc = request.app.state.services
    rows = store.list_of_account(
        svc.db,
        account["id"],
        limit=limit + 1,
        before=decode_cursor(cursor) if cursor else None,
        visitor_id=visitor_id,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [conversation_item(svc, r) for r in rows],
        "next_cursor": encode_cursor(rows[-1]["last_message_at"], rows[-1]["id"]) if more else None,
    }


@router.get("/conversations/{conversation_id}", summary="One conversation")
def get_conversation(request: Request, account: Account, conversation_id: str) -> dict[str, Any]:
    svc = request.app.state.services
    row = store.with_visitor(svc.db, account["id"], conversation_id)
    if row is None:
        raise NotFound("no such conversation", code="conversation_not_found")
    return conversation_item(svc, row)


EXAMPLE_BODY = {
    "visitor_id": "3f2c1b0e-8d7a-4b7e-9f0e-1a2b3c4d5e6f",
    "external_id": "intercom-123",
    "messages": [
        {"from": "visitor", "text": "Where is my order?", "at": "2026-11-29T10:15:00Z"},
        {"from": "agent", "text": "Let me check.", "at": "2026-11-29T10:16:10Z", "author": "Sam"},
    ],
}
# 500 messages of 10,000 characters fit, unless most are written as \u escapes; a body
# larger than this is refused before it is held in memory.
MAX_BODY_BYTES = 8_000_000
BODY_SECONDS = 60.0


async def _json_body(request: Request) -> Any:
    """The JSON body, read up to MAX_BODY_BYTES and for at most BODY_SECONDS."""
    too_large = PayloadTooLarge(
        f"the body is over {MAX_BODY_BYTES:,} bytes; send the messages in several requests"
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large
    raw = bytearray()
    try:
        async with asyncio.timeout(BODY_SECONDS):
            async for chunk in request.stream():
                raw += chunk
                if len(raw) > MAX_BODY_BYTES:
                    raise too_large
    except TimeoutError:
        raise FootageError(
            f"the body did not arrive within {BODY_SECONDS:g} seconds; send it again",
            code="body_timeout",
            status=408,
        ) from None
    if not raw.strip():
        return None  # parse() says what to send
    try:
        return json.loads(raw)
    except ValueError:
        raise BadRequest(
            f"the body must be JSON, e.g. {external.EXAMPLE}", code="bad_request"
        ) from None


@router.post(
    "/conversations",
    summary="Create or update a conversation held in another chat product",
    description="The visitor is named by the id footage.js keeps (`footage('getVisitorId', "
    "cb)`) or by the id your site gave `footage('identify', id)`. Without `conversation_id` "
    "or `external_id` the visitor's latest conversation continues. Messages already stored "
    "(same `id`, or same sender, time and text) are not added again, so a whole conversation "
    "may be sent again after every message. At most 500 messages and 8 MB per request; a "
    "message's `at` at most a day ahead of the server's clock. 201 when the conversation was "
    "created.",
    status_code=201,
    responses={
        200: {"description": "An existing conversation was updated"},
        413: {"description": "The body is over 8 MB"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "object"},
                    "examples": {
                        "chat": {
                            "summary": "Two messages of a chat held elsewhere",
                            "value": EXAMPLE_BODY,
                        }
                    },
                }
            },
        }
    },
)
async def post_conversation(request: Request, account: Account) -> JSONResponse:
    svc = request.app.state.services
    body = await _json_body(request)
    incoming = external.parse(body, svc.clock.now_ms())
    conversation_id, created, added = await run_in_threadpool(
        external.save, svc.db, svc.clock, account["id"], incoming
    )
    row = await run_in_threadpool(store.with_visitor, svc.db, account["id"], conversation_id)
    if row is None:  # deleted right after (its retention, an erasure)
        raise NotFound("no such conversation", code="conversation_not_found")
    item = {**(await run_in_threadpool(conversation_item, svc, row)), "added_messages": added}
    return JSONResponse(item, status_code=201 if created else 200)
