"""Dashboard pages: the conversations list, one conversation with its reply box and the
Visitor info panel. Owners and agents alike (chatting needs no owner rights).

The pages update themselves (web/src/conversations.ts) by long-polling JSON endpoints that
check the database every half second, like the visitor's chat box.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from footage.clock import iso
from footage.conversations import store
from footage.conversations.chat import POLL_EVERY_SECONDS
from footage.conversations.panel import visitor_panel
from footage.conversations.store import NewMessage
from footage.store.db import new_id, q
from footage.web.csrf import check_csrf
from footage.web.render import render, templates
from footage.web.users import PageUser, ScriptUser, User

router = APIRouter(include_in_schema=False)
WAIT_SECONDS = 20.0
MAX_AGENT_TEXT = 10_000


def visitor_label(row: dict[str, Any]) -> str:
    return row.get("visitor_name") or row.get("visitor_email") or f"Visitor {row['visitor_id'][:8]}"


def ms_time(ms: int | None) -> str:
    """`2026-11-29 10:15 UTC`, as the recordings list shows times."""
    return f"{(iso(ms) or '')[:16].replace('T', ' ')} UTC"


templates.env.filters["visitor_label"] = visitor_label
templates.env.filters["ms_time"] = ms_time


def unread_conversations(request: Request, user: User, ctx: dict[str, Any]) -> None:
    """Page context: conversations with messages nobody of the account has read yet."""
    if "unread_conversations" not in ctx:
        db = request.app.state.services.db
        ctx["unread_conversations"] = store.unread_count(db, user["account_id"])


def _last_messages(svc: Any, ids: list[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    names = {f"c{i}": c for i, c in enumerate(ids)}
    rows = svc.db.all(
        "SELECT m.conversation_id, m.sender, m.text FROM conversation_messages m "
        "JOIN conversations c ON c.id = m.conversation_id AND m.seq = c.message_count "
        f"WHERE c.id IN ({', '.join(':' + n for n in names)})",
        names,
    )
    return {r["conversation_id"]: r for r in rows}


@router.get("/conversations")
def conversations_page(request: Request, user: PageUser) -> Response:
    svc = request.app.state.services
    rows = store.list_of_account(svc.db, user["account_id"], limit=100)
    last = _last_messages(svc, [r["id"] for r in rows])
    return render(
        request,
        "conversations.html",
        user,
        conversations=[
            {**r, "unread": store.is_unread(r), "last": last.get(r["id"])} for r in rows
        ],
        latest=store.latest_change(svc.db, user["account_id"]),
    )


async def _wait(request: Request, check: Any) -> Any:
    """Call `check` (in a thread) every half second until it returns something, the wait is
    over, or the browser went away."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        found = await run_in_threadpool(check)
        if found or time.monotonic() >= deadline or await request.is_disconnected():
            return found
        await asyncio.sleep(POLL_EVERY_SECONDS)


@router.get("/conversations/updates.json")
async def conversations_updates(request: Request, user: ScriptUser, since: int = 0) -> Response:
    """Answers when any conversation of the account has a message newer than `since`."""
    db = request.app.state.services.db

    def newer() -> int:
        latest = store.latest_change(db, user["account_id"])
        return latest if latest > since else 0

    latest = await _wait(request, newer)
    return JSONResponse({"changed": bool(latest), "latest": latest or since})


@router.get("/conversations/alerts.json")
async def conversation_alerts(request: Request, user: ScriptUser, mark: int = -1) -> Response:
    """The alerts of every dashboard page (web/src/alerts.ts): answers once visitors have
    written since `mark` (at once without one), with the unread count and the newest."""
    db = request.app.state.services.db

    def moved() -> dict[str, Any] | None:
        found: dict[str, Any] = store.visitor_messages(db, user["account_id"])
        return found if mark < 0 or found["mark"] != mark else None

    found = await _wait(request, moved)
    return JSONResponse(found or {"mark": mark, "unchanged": True})


def _conversation(request: Request, user: dict[str, Any], conversation_id: str) -> Any:
    return store.with_visitor(request.app.state.services.db, user["account_id"], conversation_id)


def _not_found(request: Request, user: dict[str, Any]) -> Response:
    response = render(
        request,
        "error.html",
        user,
        title="Conversation not found",
        message="It may have been erased with its visitor, or it belongs to another account.",
    )
    response.status_code = 404
    return response


@router.get("/conversations/{conversation_id}")
def conversation_page(request: Request, user: PageUser, conversation_id: str) -> Response:
    svc = request.app.state.services
    row = _conversation(request, user, conversation_id)
    if row is None:
        return _not_found(request, user)
    messages = store.ordered(store.messages_after(svc.db, row["id"]))
    store.mark_read(svc.db, row["id"], int(row["message_count"]))
    return render(
        request,
        "conversation.html",
        user,
        conversation=row,
        visitor=store.visitor_of(row),
        messages=messages,
        panel=visitor_panel(svc.db, row, "", svc.clock.now_ms(), _retention_days(svc, user)),
        now_ms=svc.clock.now_ms(),
    )


@router.get("/conversations/{conversation_id}/visitor")
def visitor_panel_fragment(request: Request, user: ScriptUser, conversation_id: str) -> Response:
    """The Visitor info panel alone, for the page to refresh it (a live visit ends…)."""
    svc = request.app.state.services
    row = _conversation(request, user, conversation_id)
    if row is None:
        return Response(status_code=404)
    return templates.TemplateResponse(
        request,
        "_visitor_panel.html",
        {
            "conversation": row,
            "visitor": store.visitor_of(row),
            "panel": visitor_panel(svc.db, row, "", svc.clock.now_ms(), _retention_days(svc, user)),
        },
    )


def _retention_days(svc: Any, user: dict[str, Any]) -> int:
    """How long the account's plan keeps recordings."""
    return int(svc.plans.of(user["plan"]).retention_days)


def _agent_json(m: dict[str, Any]) -> dict[str, Any]:
    return {**store.message_item(m), "at_ms": m["at"]}


@router.get("/conversations/{conversation_id}/messages.json")
async def conversation_messages(
    request: Request, user: ScriptUser, conversation_id: str, after: int = 0, seen: int = 0
) -> Response:
    """Messages after `after`, as soon as there are any (long-poll). `seen=1`: the agent is
    looking at the page, so what arrives counts as read."""
    db = request.app.state.services.db
    row = await run_in_threadpool(_conversation, request, user, conversation_id)
    if row is None:
        return JSONResponse(
            {"error": {"code": "not_found", "message": "no such conversation"}}, 404
        )
    rows = await _wait(request, lambda: store.messages_after(db, row["id"], after))
    if rows and seen:
        await run_in_threadpool(store.mark_read, db, row["id"], max(m["seq"] for m in rows))
    return JSONResponse({"messages": [_agent_json(m) for m in rows or []]})


@router.post("/conversations/{conversation_id}/messages")
async def reply(request: Request, user: PageUser, conversation_id: str) -> Response:
    """An agent (or owner) answers. JSON for the page's script; a redirect for a plain form."""
    form = await request.form()
    return await run_in_threadpool(
        _reply,
        request,
        user,
        conversation_id,
        str(form.get("csrf", "")),
        str(form.get("text", "")),
        str(form.get("id", ""))[:64],
    )


def _reply(
    request: Request, user: User, conversation_id: str, csrf: str, text: str, key: str
) -> Response:
    check_csrf(request, csrf)
    svc = request.app.state.services
    row = _conversation(request, user, conversation_id)
    if row is None:
        return _not_found(request, user)
    text = text.strip()
    wants_json = "application/json" in request.headers.get("accept", "")
    if not text or len(text) > MAX_AGENT_TEXT:
        problem = "Write a message first." if not text else "That message is too long."
        if wants_json:
            return JSONResponse({"error": {"code": "bad_field", "message": problem}}, 400)
        return RedirectResponse(f"/conversations/{conversation_id}", status_code=303)
    now = svc.clock.now_ms()
    message = NewMessage(
        sender="agent", text=text, at=now, key=f"a:{key or new_id('m')}", author=user["email"]
    )
    with svc.db.write() as conn:
        locked = store.lock(conn, row["id"], svc.db.for_update)
        if locked is not None:
            store.append(conn, locked, [message], now)
            # Answering is reading: what the visitor wrote before counts as seen.
            q(conn, "UPDATE conversations SET read_seq = message_count WHERE id = :c", c=row["id"])
    if locked is None:  # deleted meanwhile (past its retention, or the visitor's erasure)
        return _not_found(request, user)
    if wants_json:
        return JSONResponse({"ok": True})
    return RedirectResponse(f"/conversations/{conversation_id}", status_code=303)
