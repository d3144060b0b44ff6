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

Bounded: a body is read up to 32 KB and for at most `ingest_body_timeout_seconds`; messages and
new conversations are rate-limited per client address and per site (`limits.py`), and one
address may hold only so many waiting polls.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from footage.accounts.service import site_by_key
from footage.clock import iso
from footage.conversations import store
from footage.conversations.limits import ChatLimits, wait_words
from footage.conversations.store import NewMessage
from footage.errors import (
    BadRequest,
    Conflict,
    FootageError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
)
from footage.ingest.asgi import visit_of
from footage.ingest.routes import SCRIPT_METHODS, cors, served_script
from footage.ingest.wire import is_site_key
from footage.ingest.writer import origin_allowed
from footage.ratelimit import TooManyRequests

router = APIRouter(prefix="/api/v1/chat", tags=["recorder"])

MAX_BODY = 32_768
MAX_VISITOR_TEXT = 4000
POLL_SECONDS = 20.0
POLL_EVERY_SECONDS = 0.5
# What one conversation and one visitor id may do, counted in the database (so across server
# processes): enough for a person typing, not for a script. The per-address limits in
# limits.py catch a script that makes up a new visitor id or conversation each time.
MESSAGES_PER_MINUTE = 20
CONVERSATIONS_PER_HOUR = 5
# A conversation from the chat box holds at most this many messages (its page and the API
# show all of them); the chat box then starts a new one.
MAX_CONVERSATION_MESSAGES = 1000
_ID = re.compile(r"^[A-Za-z0-9_\-]{8,64}$")


def _error(request: Request, exc: FootageError) -> Response:
    response = JSONResponse(exc.as_dict(), status_code=exc.status)
    if isinstance(exc, TooManyRequests):
        response.headers["Retry-After"] = str(exc.retry_after)
        # The chat box runs on the site's origin: it may read the header only if told so.
        response.headers["Access-Control-Expose-Headers"] = "Retry-After"
    return cors(request, response)


def _limits(request: Request) -> ChatLimits:
    """This process's chat limits, made on first use from the settings."""
    state = request.app.state
    limits: ChatLimits | None = getattr(state, "chat_limits", None)
    if limits is None:
        svc = state.services
        clock = svc.clock  # the services' clock, so tests can move time
        limits = ChatLimits(
            svc.settings.chat_ip_new_conversations,
            svc.settings.chat_site_new_conversations,
            svc.settings.chat_ip_messages,
            lambda: clock.now_ms() / 1000,
        )
        state.chat_limits = limits
    return limits


def _client_ip(request: Request) -> str | None:
    client = request.scope.get("client")
    return client[0] if client else None


async def _read(request: Request) -> bytes:
    """The body, refused as soon as it is over MAX_BODY, and dropped (408) when it does not
    arrive within `ingest_body_timeout_seconds`, so a slow or endless body holds nothing."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise PayloadTooLarge(f"the body is over {MAX_BODY:,} bytes; send a shorter message")
    raw = bytearray()
    timeout = request.app.state.services.settings.ingest_body_timeout_seconds
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                raw += chunk
                if len(raw) > MAX_BODY:
                    raise PayloadTooLarge(
                        f"the body is over {MAX_BODY:,} bytes; send a shorter message"
                    )
    except TimeoutError:
        raise FootageError(
            f"the body did not arrive within {timeout:g} seconds; send it again",
            code="body_timeout",
            status=408,
        ) from None
    return bytes(raw)


async def _body(request: Request) -> dict[str, Any]:
    raw = await _read(request)
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


@dataclass(frozen=True)
class _Message:
    visitor_id: str
    message_id: str
    text: str


def _message(body: dict[str, Any]) -> _Message:
    """The message fields, checked before anything is counted or looked up."""
    visitor_id = _id(body, "visitor_id")
    message_id = _id(body, "id")
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise BadRequest("'text' must be a non-empty string", code="bad_field")
    if len(text) > MAX_VISITOR_TEXT:
        raise BadRequest(
            f"a message holds at most {MAX_VISITOR_TEXT:,} characters", code="bad_field"
        )
    return _Message(visitor_id, message_id, text.strip())


def _wait_until(first_ms: int | None, window_ms: int, now: int) -> int:
    """Whole seconds until the oldest counted event leaves its window (at least 1)."""
    if first_ms is None:
        return 1
    return max(1, math.ceil((first_ms + window_ms - now) / 1000))


def _send(svc: Any, site: dict[str, Any], body: dict[str, Any], msg: _Message) -> dict[str, Any]:
    now = svc.clock.now_ms()
    token = None
    existing = _open(svc, site, body) if body.get("conversation_id") else None
    if existing is not None:
        if int(existing["message_count"]) >= MAX_CONVERSATION_MESSAGES:
            raise Conflict(
                f"this conversation holds {MAX_CONVERSATION_MESSAGES:,} messages, the most one "
                "may; send the message without 'conversation_id' to start a new one",
                code="conversation_full",
            )
        recent = svc.db.one(
            "SELECT COUNT(*) AS n, MIN(received_at) AS first FROM conversation_messages "
            "WHERE conversation_id = :c AND sender = 'visitor' AND received_at > :t",
            {"c": existing["id"], "t": now - 60_000},
        )
        if recent and recent["n"] >= MESSAGES_PER_MINUTE:
            seconds = _wait_until(recent["first"], 60_000, now)
            raise TooManyRequests(
                f"You are sending messages too fast; wait {wait_words(seconds)} and send it again.",
                seconds,
                code="too_many_messages",
            )
    else:
        started = svc.db.one(
            "SELECT COUNT(*) AS n, MIN(created_at) AS first FROM conversations "
            "WHERE site_id = :s AND visitor_id = :v AND created_at > :t",
            {"s": site["id"], "v": msg.visitor_id, "t": now - 3_600_000},
        )
        if started and started["n"] >= CONVERSATIONS_PER_HOUR:
            seconds = _wait_until(started["first"], 3_600_000, now)
            raise TooManyRequests(
                f"You have started {CONVERSATIONS_PER_HOUR} conversations in the last hour; "
                f"wait {wait_words(seconds)} and try again.",
                seconds,
                code="too_many_conversations",
            )
        token = store.new_visitor_token()
    message = NewMessage(sender="visitor", text=msg.text, at=now, key=f"c:{msg.message_id}")
    with svc.db.write() as conn:
        if existing is None:
            conversation = store.create(
                conn,
                account_id=site["account_id"],
                site_id=site["id"],
                visitor_id=msg.visitor_id,
                source="chat",
                at=now,
                visitor_token=token,
            )
        else:
            locked = store.lock(conn, existing["id"], svc.db.for_update)
            if locked is None:  # deleted meanwhile (retention, an erasure): the box starts anew
                raise NotFound("no such conversation", code="conversation_not_found")
            conversation = locked
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
    same `id` stores it once. Too many messages or new conversations from one address, or new
    conversations on one site, get 429 with `Retry-After` and a message to show the visitor."""
    svc = request.app.state.services
    try:
        body = await _body(request)
        site_key = body.get("site_key")
        if not is_site_key(site_key):
            raise NotFound("unknown site key", code="unknown_site")
        msg = _message(body)
        # Counted here, in the event loop, before the database is asked anything: a flood is
        # refused at the cost of parsing its body.
        limits, ip = _limits(request), _client_ip(request)
        limits.message(ip, site_key)
        if not body.get("conversation_id"):
            limits.new_conversation(ip, site_key)
        site = await run_in_threadpool(_site, request, body)
        answer = await run_in_threadpool(_send, svc, site, body, msg)
    except FootageError as exc:
        return _error(request, exc)
    return cors(request, JSONResponse(answer))


@router.post("/poll", summary="The visitor waits for new messages (long-poll)")
async def poll(request: Request) -> Response:
    """Messages after `after` (a `seq`), as soon as there are any, or none after ~20 s."""
    svc = request.app.state.services
    limits, ip = _limits(request), _client_ip(request)
    try:
        # Counted from the start, so polls over the address's share cost no query at all.
        limits.poll_started(ip)
    except FootageError as exc:
        return _error(request, exc)
    try:
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
    finally:
        limits.poll_ended(ip)
    return cors(
        request,
        JSONResponse({"messages": [visitor_view(m, site["name"]) for m in rows]}),
    )


script_router = APIRouter(include_in_schema=False)


@script_router.api_route("/footage-chat.js", methods=SCRIPT_METHODS)
def chat_script(request: Request) -> Response:
    """The chat box; footage.js loads it on sites with chat on (no cookie, like footage.js)."""
    return served_script(request, "chat.js", "footage-chat.js")


@script_router.api_route("/footage-chat.{version}.js", methods=SCRIPT_METHODS)
def chat_script_version(request: Request, version: str) -> Response:
    """The address footage.js names (web/build.mjs writes it in): cached for a year."""
    return served_script(request, "chat.js", "footage-chat.js", version)
