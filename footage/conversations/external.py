"""Conversations sent from outside: a site that chats with another product posts them here,
so its visitors' recordings link to the conversation the same way as with Footage's own chat.

`POST /api/v1/conversations` with `{visitor_id, site_id?, conversation_id?, external_id?,
messages: [{from, text, at, id?, author?}]}`. Sending the same messages again adds nothing: a
message is known by its `id` when given, else by who sent it, when and what it says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from footage.clock import Clock
from footage.conversations import store
from footage.conversations.store import MAX_TEXT, SENDERS, NewMessage
from footage.errors import BadRequest, NotFound
from footage.store.db import Database, q

MAX_MESSAGES = 500
MAX_ID_CHARS = 200
# A message stamped later than this ahead of the server's clock is refused: its conversation
# would otherwise outlive conversation_retention_days by as much (clocks a little apart pass).
MAX_FUTURE_MS = 86_400_000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
EXAMPLE = (
    '{"visitor_id": "…", "messages": [{"from": "visitor", "text": "Hello", '
    '"at": "2026-11-29T10:15:00Z"}]}'
)


@dataclass(frozen=True)
class Incoming:
    visitor_id: str
    site_id: str | None
    conversation_id: str | None
    external_id: str | None
    messages: list[NewMessage]


def _optional_id(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID_CHARS:
        raise BadRequest(
            f"'{name}' must be a non-empty string of at most {MAX_ID_CHARS} characters",
            code="bad_field",
        )
    return value.strip()


def parse_time(value: Any, where: str) -> int:
    """ISO 8601 (`2026-11-29T10:15:00Z`, with a zone) or milliseconds since the epoch → ms."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return int(value)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return int(moment.timestamp() * 1000)
    raise BadRequest(
        f"'{where}.at' must be when the message was sent: ISO 8601 with a time zone, like "
        "2026-11-29T10:15:00Z, or milliseconds since the epoch",
        code="bad_field",
    )


def parse_message(raw: Any, i: int, now_ms: int | None = None) -> NewMessage:
    where = f"messages[{i}]"
    if not isinstance(raw, dict):
        raise BadRequest(
            f'\'{where}\' must be an object like {{"from": "visitor", "text": "Hello", '
            '"at": "2026-11-29T10:15:00Z"}',
            code="bad_field",
        )
    sender = raw.get("from")
    if sender not in SENDERS:
        raise BadRequest(f"'{where}.from' must be 'visitor' or 'agent'", code="bad_field")
    text = raw.get("text")
    if not isinstance(text, str) or not text.strip():
        raise BadRequest(f"'{where}.text' must be a non-empty string", code="bad_field")
    if len(text) > MAX_TEXT:
        raise BadRequest(
            f"'{where}.text' is {len(text):,} characters; at most {MAX_TEXT:,} fit",
            code="bad_field",
        )
    at = parse_time(raw.get("at"), where)
    if now_ms is not None and at > now_ms + MAX_FUTURE_MS:
        raise BadRequest(
            f"'{where}.at' is {(at - now_ms) / 86_400_000:,.1f} days in the future; send when "
            "the message was sent, with its time zone (like 2026-11-29T10:15:00Z)",
            code="bad_field",
        )
    message_id = _optional_id(raw, "id")
    author = raw.get("author")
    if author is not None and (not isinstance(author, str) or len(author) > MAX_ID_CHARS):
        raise BadRequest(
            f"'{where}.author' must be a string of at most {MAX_ID_CHARS} characters",
            code="bad_field",
        )
    text = _CONTROL.sub("", text.strip())
    key = f"id:{message_id}" if message_id else store.content_key(sender, at, text)
    return NewMessage(sender=sender, text=text, at=at, key=key, author=author or None)


def parse(body: Any, now_ms: int | None = None) -> Incoming:
    """The request body → what to store; BadRequest names the field to fix. With `now_ms`,
    messages more than a day ahead of it are refused."""
    if not isinstance(body, dict):
        raise BadRequest(f"send a JSON object, e.g. {EXAMPLE}", code="bad_request")
    visitor_id = _optional_id(body, "visitor_id")
    if visitor_id is None:
        raise BadRequest(
            "'visitor_id' is missing: the id footage('getVisitorId', …) gives in the visitor's "
            "browser, or the id your site passed to footage('identify', …)",
            code="bad_field",
        )
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest(f"'messages' must be a non-empty list, e.g. {EXAMPLE}", code="bad_field")
    if len(messages) > MAX_MESSAGES:
        raise BadRequest(
            f"at most {MAX_MESSAGES} messages per request; send the rest in another one",
            code="bad_field",
        )
    unknown = set(body) - {"visitor_id", "site_id", "conversation_id", "external_id", "messages"}
    if unknown:
        raise BadRequest(
            f"unknown field(s): {', '.join(sorted(unknown))}; the fields are visitor_id, "
            "site_id, conversation_id, external_id and messages",
            code="bad_field",
        )
    return Incoming(
        visitor_id=visitor_id,
        site_id=_optional_id(body, "site_id"),
        conversation_id=_optional_id(body, "conversation_id"),
        external_id=_optional_id(body, "external_id"),
        messages=[parse_message(m, i, now_ms) for i, m in enumerate(messages)],
    )


def resolve_visitor(db: Database, account_id: str, incoming: Incoming) -> tuple[str, str]:
    """(site_id, visitor_id) of the visitor the request names, by Footage's visitor id or by
    the id the site gave footage('identify')."""
    sites = [
        s["id"] for s in db.all("SELECT id FROM sites WHERE account_id = :a", {"a": account_id})
    ]
    if incoming.site_id is not None and incoming.site_id not in sites:
        raise NotFound("no such site in this account", code="unknown_site")
    candidates = sites if incoming.site_id is None else [incoming.site_id]
    known = db.all(
        "SELECT v.site_id, v.id FROM visitors v JOIN sites s ON s.id = v.site_id "
        "WHERE s.account_id = :a AND (v.id = :v OR v.external_id = :v) "
        "ORDER BY (v.id = :v) DESC, v.last_seen_at DESC",
        {"a": account_id, "v": incoming.visitor_id},
    )
    known = [k for k in known if k["site_id"] in candidates]
    if known:
        on_sites = {k["site_id"] for k in known}
        if len(on_sites) > 1:
            raise BadRequest(
                f"visitor {incoming.visitor_id!r} is known on {len(on_sites)} of your sites; "
                "pass 'site_id' to say which",
                code="site_required",
            )
        return known[0]["site_id"], known[0]["id"]
    if len(candidates) == 1:
        return candidates[0], incoming.visitor_id  # not recorded (yet): linked when they are
    raise BadRequest(
        f"visitor {incoming.visitor_id!r} has not been seen on any of your sites; pass "
        "'site_id' (GET /api/v1/sites lists them)",
        code="site_required",
    )


def save(db: Database, clock: Clock, account_id: str, incoming: Incoming) -> tuple[str, bool, int]:
    """Create or update the conversation; returns (id, created, messages added)."""
    site_id, visitor_id = resolve_visitor(db, account_id, incoming)
    try:
        return _save_once(db, clock, account_id, site_id, visitor_id, incoming)
    except IntegrityError:
        # Another request created the same external_id at the same moment: join it.
        return _save_once(db, clock, account_id, site_id, visitor_id, incoming)


def _save_once(
    db: Database,
    clock: Clock,
    account_id: str,
    site_id: str,
    visitor_id: str,
    incoming: Incoming,
) -> tuple[str, bool, int]:
    lock = db.for_update
    with db.write() as conn:
        if incoming.conversation_id is not None:
            found = q(
                conn,
                f"SELECT * FROM conversations WHERE id = :c AND account_id = :a{lock}",
                c=incoming.conversation_id,
                a=account_id,
            )
            if not found:
                raise NotFound("no such conversation in this account", code="unknown_conversation")
            if (found[0]["site_id"], found[0]["visitor_id"]) != (site_id, visitor_id):
                raise BadRequest(
                    f"conversation {incoming.conversation_id} is with another visitor; "
                    "leave out 'conversation_id' to start one with this visitor",
                    code="bad_field",
                )
        elif incoming.external_id is not None:
            found = q(
                conn,
                f"SELECT * FROM conversations WHERE account_id = :a AND external_id = :x{lock}",
                a=account_id,
                x=incoming.external_id,
            )
        else:
            # The visitor's latest conversation continues.
            found = q(
                conn,
                "SELECT * FROM conversations WHERE site_id = :s AND visitor_id = :v "
                f"ORDER BY started_at DESC, id DESC LIMIT 1{lock}",
                s=site_id,
                v=visitor_id,
            )
        created = not found
        conversation = (
            found[0]
            if found
            else store.create(
                conn,
                account_id=account_id,
                site_id=site_id,
                visitor_id=visitor_id,
                source="api",
                at=min(m.at for m in incoming.messages),
                external_id=incoming.external_id,
            )
        )
        added = store.append(conn, conversation, incoming.messages, clock.now_ms())
        # The conversation is answered in the other product: nothing here waits to be read.
        q(
            conn,
            "UPDATE conversations SET read_seq = message_count WHERE id = :c",
            c=conversation["id"],
        )
    return str(conversation["id"]), created, len(added)
