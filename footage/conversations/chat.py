"""The visitor's side of the chat: the endpoints footage.js's chat box talks to.

Public like ingest, and guarded the same way: the site key names the site, the site must have
`chat_enabled`, and the page's origin must be one of the site's allowed origins. A browser
starts a conversation with its first message and receives the conversation's secret (once);
every later request for that conversation must carry it, so knowing a visitor id (or a
conversation id) is not enough to read someone's chat.

Bodies are JSON sent as text/plain, so browsers send them without a CORS preflight and
without cookies. New messages reach the browser by long-polling: `POST /api/v1/chat/poll`
answers as soon as a message after `after` exists, or after ~20 s with none. The wait checks
the database every half second, so it works the same with many server processes.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from footage.accounts.service import site_by_key
from footage.clock import iso
from footage.conversations import store
from footage.conversations.store import NewMessage
from footage.errors import BadRequest, FootageError, Forbidden, NotFound, PayloadTooLarge
from footage.ingest.asgi import visit_of
from footage.ingest.routes import cors, served_script
from footage.ingest.writer import origin_allowed

router = APIRouter(prefix="/api/v1/chat", tags=["recorder"])

MAX_BODY = 32_768
MAX_VISITOR_TEXT = 4000
POLL_SECONDS = 20.0
POLL_EVERY_SECONDS = 0.5
# What a chat box open on a page may do: enough for a person typing, not for a script.
MESSAGES_PER_MINUTE = 20
CONVERSATIONS_PER_HOUR = 5
_ID = re.compile(r"^[A-Za-z0-9_\-]{8,64}$")


def _error(request: Request, exc: FootageError) -> Response:
    return cors(request, JSONResponse(exc.as_dict(), status_code=exc.status))


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise PayloadTooLarge(f"the body is over {MAX_BODY:,} bytes")
    try:
        body = json.loads(raw)
    except ValueError:
        raise BadRequest("the body must be JSON", code="bad_request") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object", code="bad_request")
    return body


def _id(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not _ID.match(value):
        raise BadRequest(
            f"'{name}' must be a string of 8–64 letters, digits, '-' or '_'", code="bad_field"
        )
    return value


def _site(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    """The site the chat box belongs to, if it may chat from this page's origin."""
    key = body.get("site_key")
    site = site_by_key(request.app.state.services.db, key) if isinstance(key, str) else None
    if site is None:
        raise NotFound("unknown site key", code="unknown_site")
    if not site["chat_enabled"]:
        raise Forbidden("chat is switched off for this site", code="chat_disabled")
    visit = visit_of(request.scope, dict(request.scope["headers"]))
    if not origin_allowed(site, visit):
        raise Forbidden(
            f"origin {visit.origin or '(none)'} may not chat for this site; add it to the "
            "site's allowed origins",
            code="origin_not_allowed",
        )
    return site


def _open(svc: Any, site: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """The conversation the browser's secret opens; one 404 for every way it does not."""
    conversation_id, token = body.get("conversation_id"), body.get("token")
    found = None
    if isinstance(conversation_id, str) and isinstance(token, str) and token:
        found = store.by_visitor_token(svc.db, site["id"], conversation_id, token)
    if found is None:
        raise NotFound("no such conversation", code="conversation_not_found")
    return found


def visitor_view(m: dict[str, Any], site_name: str) -> dict[str, Any]:
    """A message as the visitor sees it: agents appear as the site, never by their login."""
    return {
        "seq": m["seq"],
        "from": m["sender"],
        "author": None if m["sender"] == "visitor" else site_name,
        "text": m["text"],
        "at": iso(m["at"]),
    }


def _send(svc: Any, site: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    visitor_id = _id(body, "visitor_id")
    message_id = _id(body, "id")
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise BadRequest("'text' must be a non-empty string", code="bad_field")
    if len(text) > MAX_VISITOR_TEXT:
        raise BadRequest(
            f"a message holds at most {MAX_VISITOR_TEXT:,} characters", code="bad_field"
        )
    now = svc.clock.now_ms()
    token = None
    existing = _open(svc, site, body) if body.get("conversation_id") else None
    if existing is not None:
        recent = svc.db.one(
            "SELECT COUNT(*) AS n FROM conversation_messages WHERE conversation_id = :c "
            "AND sender = 'visitor' AND received_at > :t",
            {"c": existing["id"], "t": now - 60_000},
        )
        if recent and recent["n"] >= MESSAGES_PER_MINUTE:
            raise FootageError("too many messages; wait a minute", code="slow_down", status=429)
    else:
        started = svc.db.one(
            "SELECT COUNT(*) AS n FROM conversations WHERE site_id = :s AND visitor_id = :v "
            "AND created_at > :t",
            {"s": site["id"], "v": visitor_id, "t": now - 3_600_000},
        )
        if started and started["n"] >= CONVERSATIONS_PER_HOUR:
            raise FootageError(
                "too many new conversations; try again later", code="slow_down", status=429
            )
        token = store.new_visitor_token()
    message = NewMessage(sender="visitor", text=text.strip(), at=now, key=f"c:{message_id}")
    with svc.db.write() as conn:
        if existing is None:
            conversation = store.create(
                conn,
                account_id=site["account_id"],
                site_id=site["id"],
                visitor_id=visitor_id,
                source="chat",
                at=now,
                visitor_token=token,
            )
        else:
            conversation = store.lock(conn, existing["id"], svc.db.is_sqlite) or existing
        store.append(conn, conversation, [message], now)
    stored = svc.db.one(
        "SELECT seq, sender, author, text, at FROM conversation_messages "
        "WHERE conversation_id = :c AND message_key = :k",
        {"c": conversation["id"], "k": message.key},
    )
    answer: dict[str, Any] = {
        "conversation_id": conversation["id"],
        "message": visitor_view(stored, site["name"]) if stored else None,
    }
    if token:
        answer["token"] = token  # shown this once; the browser keeps it
    return answer


@router.post("/messages", summary="The visitor writes (footage.js's chat box)")
async def send_message(request: Request) -> Response:
    """The first message (without `conversation_id`) starts a conversation and returns its
    `token`; later ones send `conversation_id` and `token`. Re-sending a message with the
    same `id` stores it once."""
    svc = request.app.state.services
    try:
        body = await _body(request)
        site = await run_in_threadpool(_site, request, body)
        answer = await run_in_threadpool(_send, svc, site, body)
    except FootageError as exc:
        return _error(request, exc)
    return cors(request, JSONResponse(answer))


@router.post("/poll", summary="The visitor waits for new messages (long-poll)")
async def poll(request: Request) -> Response:
    """Messages after `after` (a `seq`), as soon as there are any, or none after ~20 s."""
    svc = request.app.state.services
    try:
        body = await _body(request)
        site = await run_in_threadpool(_site, request, body)
        conversation = await run_in_threadpool(_open, svc, site, body)
        after = body.get("after", 0)
        if not isinstance(after, int) or isinstance(after, bool) or after < 0:
            raise BadRequest("'after' must be the seq of the last message seen (0: all)")
    except FootageError as exc:
        return _error(request, exc)
    wait = body.get("wait", POLL_SECONDS)
    if not isinstance(wait, int | float) or isinstance(wait, bool):
        wait = POLL_SECONDS
    deadline = time.monotonic() + min(max(0.0, float(wait)), POLL_SECONDS)
    while True:
        rows = await run_in_threadpool(store.messages_after, svc.db, conversation["id"], after)
        if rows or time.monotonic() >= deadline or await request.is_disconnected():
            break
        await asyncio.sleep(POLL_EVERY_SECONDS)
    return cors(
        request,
        JSONResponse({"messages": [visitor_view(m, site["name"]) for m in rows]}),
    )


script_router = APIRouter(include_in_schema=False)


@script_router.get("/footage-chat.js")
def chat_script() -> Response:
    """The chat box; footage.js loads it on sites with chat on (no cookie, like footage.js)."""
    return served_script("chat.js", "footage-chat.js")
