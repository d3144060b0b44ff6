"""Erasing one visitor (GDPR art. 17): their visitor rows, recordings, pages, chunks, blobs,
conversations and messages.

A visitor id is per site (the browser keeps one per origin), so an erasure by id covers every
site of the account; an erasure by e-mail covers every visitor row of the account's sites with
that address. Nothing of another account is looked at: every statement is scoped by account.

All rows go in one transaction, which also schedules the blobs that no row needs any more
(`store/garbage.py`) and writes the audit entry; the blobs are deleted right after the commit,
and the sweeper repeats whatever a crash leaves. Erasing an unknown visitor, or erasing twice,
returns zeros.

Limits (the first is also in the result, as `pending_segment_bytes`):

- A *live* recording's chunks sit inside shared segment blobs (group commit writes the batches
  of many visitors into one segment). The erasure drops this visitor's claim on each segment;
  a segment that still holds other visitors' live chunks keeps this visitor's bytes until the
  last of those recordings is finalized (usually minutes), when the finalizer deletes it. Until
  then no row points at the bytes, so no API or page can show them.
- A recording that a finalizer is merging at that moment: the finalizer may still write the
  merged blob after the erasure (it then finds the recording gone and gives up). That key is
  scheduled so the sweeper deletes it once the finalizer's lease (60 s by default) has passed.
- A visitor still on the site is recorded again from their next batch: erasure deletes what
  was recorded, it does not stop recording (that is the site's exclusion setting).
- Recordings of the monthly quota are not given back.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from footage.accounts import audit
from footage.clock import Clock
from footage.conversations.store import erase_visitor as erase_conversations
from footage.errors import BadRequest
from footage.heatmaps import store as heatmap_store
from footage.recordings.deletion import (
    ATTEMPTS,
    CHUNKS,
    DELETE_CHUNKS,
    DELETE_PAGES,
    DELETE_RECORDINGS,
    RETRY_SQLSTATES,
    by_ids,
    count_by_ids,
    schedule_after_lease,
)
from footage.sessions.finalizer import release_segments
from footage.store import garbage
from footage.store.blobs import BlobStore
from footage.store.db import Database, q

log = logging.getLogger(__name__)

ACTION = "visitor.erased"
COUNTS = ("visitors", "recordings", "pages", "chunks", "blobs", "conversations", "messages")
PENDING_NOTE = (
    "{n} bytes of this visitor's live recording stay inside storage segments shared with other "
    "visitors' recordings until those recordings finish (usually within minutes); then they are "
    "deleted automatically. No row points at them any more, so nothing can show them."
)
# Same shape as accounts/service.py's check, so any address a user could be given is accepted.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MAX_EMAIL = 320
# The recordings of one visitor on one site, of this account only.
_OF_VISITOR = "site_id = :s AND visitor_id = :v AND account_id = :a"


_DELETE_VISITOR = text("DELETE FROM visitors WHERE site_id = :s AND id = :v")

# (site_id, visitor_id) pairs to erase, found inside the erasing transaction.
Finder = Callable[[Connection], list[tuple[str, str]]]


@dataclass
class _Tally:
    visitors: int = 0
    recordings: int = 0
    pages: int = 0
    chunks: int = 0
    blobs: int = 0
    conversations: int = 0
    messages: int = 0
    pending_segment_bytes: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            **{name: getattr(self, name) for name in COUNTS},
            "pending_segment_bytes": self.pending_segment_bytes,
        }


def erase_visitor(
    db: Database, blobs: BlobStore, clock: Clock, account_id: str, visitor_id: str, actor: str
) -> dict[str, int]:
    """Erase the visitor with this id on every site of the account; returns the counts.

    Result: {"visitors", "recordings", "pages", "chunks", "blobs", "conversations",
    "messages", "pending_segment_bytes"};
    `blobs` counts the blobs scheduled and deleted, `pending_segment_bytes` the bytes left
    inside shared segments until they are released (see the module docstring). An unknown id
    gives zeros.
    """
    if not visitor_id.strip():
        raise BadRequest("the visitor id is empty; pass the id shown with the recording")

    def find(conn: Connection) -> list[tuple[str, str]]:
        # Recordings are matched by id even if their visitor row is gone (the writer creates
        # both in one savepoint, so that should not happen, but an erasure must not rely on it).
        sites = q(conn, "SELECT id FROM sites WHERE account_id = :a ORDER BY id", a=account_id)
        return [(site["id"], visitor_id) for site in sites]

    return _erase(db, blobs, clock, account_id, actor, "id", find)


def erase_visitors_by_email(
    db: Database, blobs: BlobStore, clock: Clock, account_id: str, email: str, actor: str
) -> dict[str, int]:
    """Erase every visitor of the account's sites whose e-mail is `email` (any letter case).

    The match is exact apart from case: `ann@example.com` does not erase `ann+x@example.com`.
    Returns the same counts as `erase_visitor`; raises BadRequest for an empty or malformed
    address, so a typo is not mistaken for "no such visitor".
    """
    wanted = email.strip().lower()
    if not wanted:
        raise BadRequest(
            "the e-mail address is empty; pass the visitor's address, e.g. ann@example.com",
            code="email_required",
        )
    if len(wanted) > _MAX_EMAIL or not _EMAIL.match(wanted):
        raise BadRequest(
            f"{email.strip()[:80]!r} is not an e-mail address; pass one like ann@example.com",
            code="bad_email",
        )

    def find(conn: Connection) -> list[tuple[str, str]]:
        base = (
            "SELECT v.site_id, v.id, v.email FROM visitors v JOIN sites s ON s.id = v.site_id "
            "WHERE s.account_id = :a AND v.email IS NOT NULL"
        )
        if wanted.isascii():
            rows = q(conn, f"{base} AND lower(v.email) = :e", a=account_id, e=wanted)
        else:
            # SQLite's lower() folds ASCII letters only; compare such addresses in Python.
            rows = q(conn, base, a=account_id)
        return sorted((row["site_id"], row["id"]) for row in rows if row["email"].lower() == wanted)

    return _erase(db, blobs, clock, account_id, actor, "email", find)


def _erase(
    db: Database,
    blobs: BlobStore,
    clock: Clock,
    account_id: str,
    actor: str,
    by: str,
    find: Finder,
) -> dict[str, int]:
    attempt = 1
    while True:
        try:
            return _erase_once(db, blobs, clock, account_id, actor, by, find)
        except DBAPIError as exc:
            if attempt == ATTEMPTS or getattr(exc.orig, "sqlstate", None) not in RETRY_SQLSTATES:
                raise
            attempt += 1
            log.info("erasure hit a lock conflict; running it again (attempt %d)", attempt)


def _erase_once(
    db: Database,
    blobs: BlobStore,
    clock: Clock,
    account_id: str,
    actor: str,
    by: str,
    find: Finder,
) -> dict[str, int]:
    now = clock.now_ms()
    tally = _Tally()
    own: set[str] = set()  # finalized recordings' merged blobs, used by nothing else
    in_segments: list[dict[str, Any]] = []  # live chunks inside shared segments
    in_flight: list[str] = []
    with db.write() as conn:
        for site_id, visitor_id in find(conn):
            params = {"s": site_id, "v": visitor_id, "a": account_id}
            recordings = _lock_recordings(db, conn, params)
            ids = [rec["id"] for rec in recordings]
            for chunk in by_ids(conn, CHUNKS, ids):
                if chunk["segment"] is None:
                    own.add(chunk["blob_key"])
                else:
                    in_segments.append(chunk)
            # A recording being finalized right now: its finalizer may still write the merged
            # blob after this commit (it then finds the row gone and gives up). Schedule that
            # key for a sweep after the finalizer's lease, and delete it now in case it exists.
            in_flight += [
                f"recordings/{rec['site_id']}/{rec['id']}.ndjson.zst"  # the finalizer's key
                for rec in recordings
                if rec["status"] == "finalizing"
            ]
            # Children first, so each count is its own table's (the foreign keys cascade too).
            tally.chunks += count_by_ids(conn, DELETE_CHUNKS, ids)
            tally.pages += count_by_ids(conn, DELETE_PAGES, ids)
            heatmap_store.forget(conn, ids, delete_rows=True)  # out of heatmaps and Pages
            tally.recordings += count_by_ids(conn, DELETE_RECORDINGS, ids)
            # A recording the writer created meanwhile keeps its rows; the next page view of
            # that visitor adds the visitor row again. It happened after the erasure.
            tally.visitors += int(conn.execute(_DELETE_VISITOR, params).rowcount)
            # Their conversations with the site's agents, and every message of them. (Share
            # links go with their recordings, by ON DELETE CASCADE.)
            conversations, messages = erase_conversations(conn, account_id, site_id, visitor_id)
            tally.conversations += conversations
            tally.messages += messages
        # The finalizer's bookkeeping: one fewer live chunk per chunk, and a segment whose
        # count reaches zero is scheduled. Once for all pairs, so a segment holding chunks of
        # the visitor on two sites is counted down once; in key order, so its row locks are
        # taken in the same order by every erasure.
        in_segments.sort(key=lambda c: str(c["blob_key"]))
        released = release_segments(conn, in_segments, "", now)
        tally.pending_segment_bytes = sum(
            int(c["blob_length"]) for c in in_segments if c["blob_key"] not in released
        )
        garbage.schedule(conn, own, now)
        schedule_after_lease(conn, sorted(set(in_flight) - own), now)
        delete_after_commit = sorted(own) + released
        tally.blobs = len(delete_after_commit)
        audit.record(conn, account_id, actor, ACTION, {"by": by, **tally.as_dict()}, at=now)
    garbage.delete_now(db, blobs, delete_after_commit)
    for key in sorted(set(in_flight) - own):
        try:
            blobs.delete(key)
        except Exception:
            log.warning("could not delete blob %s now; the sweeper will retry", key)
    return tally.as_dict()


def _lock_recordings(
    db: Database, conn: Connection, params: dict[str, str]
) -> list[dict[str, Any]]:
    """The visitor's recordings on one site, row-locked on PostgreSQL.

    The lock orders the erasure with the writer (which touches a live recording before adding
    a chunk) and the finalizer (which updates the row before swapping the chunks): whichever
    comes second sees the other's committed result. SQLite writers are serialized anyway.
    Every later statement of the erasure goes by these ids.
    """
    lock = "" if db.is_sqlite else " FOR UPDATE"
    return q(
        conn,
        f"SELECT id, site_id, status FROM recordings WHERE {_OF_VISITOR} ORDER BY id{lock}",
        **params,
    )
