"""Conversations and their messages: creating, appending (idempotently), reading, linking.

A conversation belongs to one visitor of one site (`site_id`, `visitor_id`, the id footage.js
keeps). Messages are numbered per conversation (`seq`, 1, 2, …) under the conversation's row
lock, so "everything after seq n" is what a waiting browser asks for, on any server process.
Each message has a `message_key`; a message sent again with the same key is not stored twice.

A recording is linked to a conversation (`recordings.conversation_id`) when the visit and the
conversation overlap in time: when a message arrives while the visitor's recording is live,
and at finalize (`conversation_for_visit`), whichever comes first.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from footage.accounts.passwords import secret_hash
from footage.clock import iso
from footage.sessions.ready import ReadyRecording, ReadyRows
from footage.store.db import Database, new_id, q, sql_text

SENDERS = ("visitor", "agent")
MAX_TEXT = 10_000
# How far apart a visit and a conversation may be and still belong together: a visitor who
# writes right after the last page closed, or a message stamped by another product's clock.
LINK_SLACK_MS = 120_000


@dataclass(frozen=True)
class NewMessage:
    sender: str  # "visitor" or "agent"
    text: str
    at: int  # ms
    key: str  # the same key twice is the same message
    author: str | None = None


def content_key(sender: str, at: int, text: str) -> str:
    """A message's key when its sender gave it none: who, when and what."""
    digest = hashlib.sha256(f"{sender}\n{at}\n{text}".encode()).hexdigest()
    return f"h:{digest[:40]}"


def new_visitor_token() -> str:
    """The secret a visitor's browser holds for its conversation (shown once, stored hashed)."""
    return "fc_" + secrets.token_urlsafe(32)


def create(
    conn: Connection,
    *,
    account_id: str,
    site_id: str,
    visitor_id: str,
    source: str,
    at: int,
    external_id: str | None = None,
    visitor_token: str | None = None,
) -> dict[str, Any]:
    """A new conversation without messages yet (append adds them)."""
    row = {
        "id": new_id("conv"),
        "account_id": account_id,
        "site_id": site_id,
        "visitor_id": visitor_id,
        "source": source,
        "external_id": external_id,
        "visitor_token_hash": secret_hash(visitor_token) if visitor_token else None,
        "started_at": at,
        "last_message_at": at,
        "message_count": 0,
        "last_visitor_seq": 0,
        "read_seq": 0,
        "created_at": at,
    }
    q(
        conn,
        "INSERT INTO conversations (id, account_id, site_id, visitor_id, source, external_id, "
        "visitor_token_hash, started_at, last_message_at, message_count, last_visitor_seq, "
        "read_seq, created_at) VALUES (:id, :account_id, :site_id, :visitor_id, :source, "
        ":external_id, :visitor_token_hash, :started_at, :last_message_at, 0, 0, 0, :created_at)",
        **row,
    )
    return row


def lock(conn: Connection, conversation_id: str, for_update: str) -> dict[str, Any] | None:
    """The conversation's row, locked for this transaction; `for_update` is the database's
    `Database.for_update`."""
    rows = q(conn, f"SELECT * FROM conversations WHERE id = :c{for_update}", c=conversation_id)
    return rows[0] if rows else None


def append(
    conn: Connection, conversation: dict[str, Any], messages: list[NewMessage], now_ms: int
) -> list[dict[str, Any]]:
    """Store the messages not stored yet (by key); returns those added. The conversation must
    be locked (`lock`) or just created in this transaction."""
    keys = {f"k{i}": m.key for i, m in enumerate(messages)}
    known = (
        {
            r["message_key"]
            for r in q(
                conn,
                "SELECT message_key FROM conversation_messages WHERE conversation_id = :c "
                f"AND message_key IN ({', '.join(':' + k for k in keys)})",
                c=conversation["id"],
                **keys,
            )
        }
        if keys
        else set()
    )
    seq = int(conversation["message_count"])
    added: list[dict[str, Any]] = []
    last_visitor = int(conversation["last_visitor_seq"])
    for m in messages:
        if m.key in known:
            continue
        known.add(m.key)
        seq += 1
        row = {
            "conversation_id": conversation["id"],
            "seq": seq,
            "sender": m.sender,
            "author": m.author,
            "text": m.text,
            "at": m.at,
            "received_at": now_ms,
            "message_key": m.key,
        }
        added.append(row)
        if m.sender == "visitor":
            last_visitor = seq
    if not added:
        return []
    conn.execute(
        sql_text(
            "INSERT INTO conversation_messages (conversation_id, seq, sender, author, text, at, "
            "received_at, message_key) VALUES (:conversation_id, :seq, :sender, :author, :text, "
            ":at, :received_at, :message_key)"
        ),
        added,
    )
    # Messages from another product may arrive late or out of order: the span only grows.
    first = min([conversation["started_at"]] + [m["at"] for m in added])
    last = max([conversation["last_message_at"]] + [m["at"] for m in added])
    q(
        conn,
        "UPDATE conversations SET message_count = :n, started_at = :first, "
        "last_message_at = :last, last_visitor_seq = :lv WHERE id = :c",
        n=seq,
        first=first,
        last=last,
        lv=last_visitor,
        c=conversation["id"],
    )
    conversation.update(
        message_count=seq, started_at=first, last_message_at=last, last_visitor_seq=last_visitor
    )
    link_recordings(conn, conversation)
    return added


def link_recordings(conn: Connection, conversation: dict[str, Any]) -> int:
    """Give the visitor's recordings that overlap this conversation its id (those not linked
    to another conversation yet): the live one of the visit in progress, or finished visits
    whose time overlaps the messages (a conversation imported afterwards)."""
    return len(
        q(
            conn,
            "UPDATE recordings SET conversation_id = :c "
            "WHERE site_id = :s AND visitor_id = :v AND conversation_id IS NULL AND ("
            "(status != 'ready' AND last_seen_at >= :first - :slack "
            "AND created_at <= :last + :slack) "
            "OR (status = 'ready' AND started_at <= :last + :slack "
            "AND ended_at >= :first - :slack)) RETURNING id",
            c=conversation["id"],
            s=conversation["site_id"],
            v=conversation["visitor_id"],
            first=conversation["started_at"],
            last=conversation["last_message_at"],
            slack=LINK_SLACK_MS,
        )
    )


def conversation_for_visit(
    conn: Connection, site_id: str, visitor_id: str, started_at: int, ended_at: int
) -> str | None:
    """The visitor's conversation that overlaps a visit (the latest one), for the finalizer."""
    rows = q(
        conn,
        "SELECT id FROM conversations WHERE site_id = :s AND visitor_id = :v "
        "AND message_count > 0 AND started_at <= :end + :slack "
        "AND last_message_at >= :start - :slack ORDER BY started_at DESC LIMIT 1",
        s=site_id,
        v=visitor_id,
        start=started_at,
        end=ended_at,
        slack=LINK_SLACK_MS,
    )
    return str(rows[0]["id"]) if rows else None


def link_ready_recording(ready: ReadyRecording) -> ReadyRows:
    """The finalizer's hook: the visitor chatted during this visit, so the recording joins that
    conversation (unless a message already linked it while it was live)."""
    rec, summary = ready.recording, ready.summary
    start = min(t for t in (summary.started_at, rec["created_at"]) if t is not None)
    end = max(t for t in (summary.ended_at, rec["last_seen_at"]) if t is not None)

    def write(conn: Connection) -> None:
        found = conversation_for_visit(conn, rec["site_id"], rec["visitor_id"], start, end)
        if found:
            q(
                conn,
                "UPDATE recordings SET conversation_id = :c "
                "WHERE id = :id AND conversation_id IS NULL",
                c=found,
                id=rec["id"],
            )

    return ReadyRows(write)


# ---- reading ---------------------------------------------------------------------------------


def get(db: Database, account_id: str, conversation_id: str) -> dict[str, Any] | None:
    return db.one(
        "SELECT * FROM conversations WHERE id = :c AND account_id = :a",
        {"c": conversation_id, "a": account_id},
    )


def by_visitor_token(
    db: Database, site_id: str, conversation_id: str, token: str
) -> dict[str, Any] | None:
    """The conversation the visitor's secret opens: the id, the site and the hash must match."""
    return db.one(
        "SELECT * FROM conversations WHERE id = :c AND site_id = :s AND visitor_token_hash = :h",
        {"c": conversation_id, "s": site_id, "h": secret_hash(token)},
    )


def messages_after(db: Database, conversation_id: str, after: int = 0) -> list[dict[str, Any]]:
    return db.all(
        "SELECT seq, sender, author, text, at FROM conversation_messages "
        "WHERE conversation_id = :c AND seq > :after ORDER BY seq",
        {"c": conversation_id, "after": after},
    )


def ordered(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """As the conversation reads: by time, then as they arrived."""
    return sorted(messages, key=lambda m: (m["at"], m["seq"]))


def mark_read(db: Database, conversation_id: str, seq: int) -> None:
    """An agent saw the messages up to `seq` (never moves back)."""
    db.run(
        "UPDATE conversations SET read_seq = :n WHERE id = :c AND read_seq < :n",
        {"c": conversation_id, "n": seq},
    )


def is_unread(conversation: dict[str, Any]) -> bool:
    """A visitor wrote something no agent has seen yet."""
    return int(conversation["last_visitor_seq"]) > int(conversation["read_seq"])


_LIST = (
    "SELECT c.*, v.name AS visitor_name, v.email AS visitor_email, "
    "v.external_id AS visitor_external_id, v.variables AS visitor_variables, "
    "s.name AS site_name FROM conversations c JOIN sites s ON s.id = c.site_id "
    "LEFT JOIN visitors v ON v.site_id = c.site_id AND v.id = c.visitor_id "
)


def list_of_account(
    db: Database,
    account_id: str,
    *,
    limit: int = 50,
    before: tuple[int, str] | None = None,
    visitor_id: str | None = None,
) -> list[dict[str, Any]]:
    """The account's conversations with messages, the latest activity first."""
    where = "c.account_id = :a AND c.message_count > 0"
    params: dict[str, Any] = {"a": account_id, "n": limit}
    if before:
        where += " AND (c.last_message_at < :bt OR (c.last_message_at = :bt AND c.id < :bid))"
        params.update(bt=before[0], bid=before[1])
    if visitor_id:
        where += " AND (c.visitor_id = :v OR v.external_id = :v)"
        params["v"] = visitor_id
    return db.all(
        f"{_LIST} WHERE {where} ORDER BY c.last_message_at DESC, c.id DESC LIMIT :n", params
    )


def with_visitor(db: Database, account_id: str, conversation_id: str) -> dict[str, Any] | None:
    return db.one(
        f"{_LIST} WHERE c.id = :c AND c.account_id = :a", {"c": conversation_id, "a": account_id}
    )


def visitor_of(row: dict[str, Any]) -> dict[str, Any]:
    """The visitor as the API and the dashboard show it (what the site told footage.js)."""
    try:
        variables = json.loads(row["visitor_variables"]) if row.get("visitor_variables") else {}
    except ValueError:
        variables = {}
    return {
        "id": row["visitor_id"],
        "name": row.get("visitor_name"),
        "email": row.get("visitor_email"),
        "external_id": row.get("visitor_external_id"),
        "variables": variables if isinstance(variables, dict) else {},
    }


def message_item(m: dict[str, Any]) -> dict[str, Any]:
    return {
        "seq": m["seq"],
        "from": m["sender"],
        "author": m["author"],
        "text": m["text"],
        "at": iso(m["at"]),
    }


def latest_change(db: Database, account_id: str) -> int:
    """The time of the account's newest message (the list page waits for it to move)."""
    row = db.one(
        "SELECT MAX(last_message_at) AS t FROM conversations WHERE account_id = :a",
        {"a": account_id},
    )
    return int(row["t"] or 0) if row else 0


def visitor_messages(db: Database, account_id: str) -> dict[str, Any]:
    """What the agents' alerts follow: `mark`, a number that grows with every message a
    visitor writes (new conversations too); `unread`, the conversations nobody has read; and
    `newest`, the unread one written to last (its id and who wrote), or None."""
    row = db.one(
        "SELECT COALESCE(SUM(last_visitor_seq), 0) AS mark, "
        "COALESCE(SUM(CASE WHEN last_visitor_seq > read_seq THEN 1 ELSE 0 END), 0) AS unread "
        "FROM conversations WHERE account_id = :a",
        {"a": account_id},
    )
    newest = db.one(
        f"{_LIST} WHERE c.account_id = :a AND c.last_visitor_seq > c.read_seq "
        "ORDER BY c.last_message_at DESC, c.id DESC LIMIT 1",
        {"a": account_id},
    )
    return {
        "mark": int(row["mark"]) if row else 0,
        "unread": int(row["unread"]) if row else 0,
        "newest": {
            "id": newest["id"],
            "visitor": newest["visitor_name"] or newest["visitor_email"] or "A visitor",
            "site": newest["site_name"],
        }
        if newest
        else None,
    }


def unread_count(db: Database, account_id: str) -> int:
    row = db.one(
        "SELECT COUNT(*) AS n FROM conversations WHERE account_id = :a "
        "AND last_visitor_seq > read_seq",
        {"a": account_id},
    )
    return int(row["n"]) if row else 0


def erase_visitor(
    conn: Connection, account_id: str, site_id: str, visitor_id: str
) -> tuple[int, int]:
    """Delete the visitor's conversations and messages (privacy/erase.py, in its transaction);
    returns (conversations, messages) deleted."""
    params = {"a": account_id, "s": site_id, "v": visitor_id}
    messages = conn.execute(
        sql_text(
            "DELETE FROM conversation_messages WHERE conversation_id IN (SELECT id FROM "
            "conversations WHERE account_id = :a AND site_id = :s AND visitor_id = :v)"
        ),
        params,
    ).rowcount
    conversations = conn.execute(
        sql_text(
            "DELETE FROM conversations WHERE account_id = :a AND site_id = :s AND visitor_id = :v"
        ),
        params,
    ).rowcount
    return int(conversations), int(messages)
