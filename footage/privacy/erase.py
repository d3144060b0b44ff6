"""Erasing one visitor (GDPR art. 17): their visitor rows, recordings, pages, chunks, blobs,
conversations and messages.

A visitor id is per site (the browser keeps one per origin), so an erasure by id covers every
site of the account; an erasure by e-mail covers every visitor row of the account's sites with
that address. Nothing of another account is looked at: every statement is scoped by account.

All rows go in one transaction: the recordings by `store/deletion.delete_recordings`, the path
retention takes too (their rows, the features' rows through their hooks, and the blobs that no
row needs any more scheduled in `blob_garbage`), then the visitor rows and conversations, and
the audit entry; the blobs are deleted right after the commit, and the sweeper repeats
whatever a crash leaves. Erasing an unknown visitor, or erasing twice, returns zeros.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, text

from footage.accounts import audit
from footage.clock import Clock
from footage.conversations.store import erase_visitor as erase_conversations
from footage.errors import BadRequest
from footage.store.blobs import BlobStore
from footage.store.db import Database, q
from footage.store.deletion import (
    OnDelete,
    delete_blobs,
    delete_recordings,
    retry_lock_conflicts,
)

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
    db: Database,
    blobs: BlobStore,
    clock: Clock,
    account_id: str,
    visitor_id: str,
    actor: str,
    *,
    on_delete: Sequence[OnDelete],
) -> dict[str, int]:
    """Erase the visitor with this id on every site of the account; returns the counts.

    Result: {"visitors", "recordings", "pages", "chunks", "blobs", "conversations",
    "messages", "pending_segment_bytes"};
    `blobs` counts the blobs scheduled and deleted, `pending_segment_bytes` the bytes left
    inside shared segments until they are released (see the module docstring). An unknown id
    gives zeros. `on_delete`: the features' rows that go with a recording (app.py's).
    """
    if not visitor_id.strip():
        raise BadRequest("the visitor id is empty; pass the id shown with the recording")

    def find(conn: Connection) -> list[tuple[str, str]]:
        # Recordings are matched by id even if their visitor row is gone (the writer creates
        # both in one savepoint, so that should not happen, but an erasure must not rely on it).
        sites = q(conn, "SELECT id FROM sites WHERE account_id = :a ORDER BY id", a=account_id)
        return [(site["id"], visitor_id) for site in sites]

    return _erase(db, blobs, clock, account_id, actor, "id", find, on_delete)


def erase_visitors_by_email(
    db: Database,
    blobs: BlobStore,
    clock: Clock,
    account_id: str,
    email: str,
    actor: str,
    *,
    on_delete: Sequence[OnDelete],
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

    return _erase(db, blobs, clock, account_id, actor, "email", find, on_delete)


def _erase(
    db: Database,
    blobs: BlobStore,
    clock: Clock,
    account_id: str,
    actor: str,
    by: str,
    find: Finder,
    on_delete: Sequence[OnDelete],
) -> dict[str, int]:
    return retry_lock_conflicts(
        lambda: _erase_once(db, blobs, clock, account_id, actor, by, find, on_delete), "erasure"
    )


def _erase_once(
    db: Database,
    blobs: BlobStore,
    clock: Clock,
    account_id: str,
    actor: str,
    by: str,
    find: Finder,
    on_delete: Sequence[OnDelete],
) -> dict[str, int]:
    now = clock.now_ms()
    with db.write() as conn:
        pairs = find(conn)
        ids: list[str] = []
        for site_id, visitor_id in pairs:
            ids += _lock_recordings(db, conn, {"s": site_id, "v": visitor_id, "a": account_id})
        # Once for all pairs, so a segment holding chunks of the visitor on two sites is
        # counted down once, its row lock taken in the same key order as every deletion's.
        deleted = delete_recordings(conn, ids, now, on_delete=on_delete)
        tally = _Tally(
            recordings=deleted.recordings,
            pages=deleted.pages,
            chunks=deleted.chunks,
            blobs=len(deleted.blobs),
            pending_segment_bytes=deleted.pending_segment_bytes,
        )
        for site_id, visitor_id in pairs:
            # A recording the writer created meanwhile keeps its rows; the next page view of
            # that visitor adds the visitor row again. It happened after the erasure.
            params = {"s": site_id, "v": visitor_id}
            tally.visitors += int(conn.execute(_DELETE_VISITOR, params).rowcount)
            # Their conversations with the site's agents, and every message of them. (Share
            # links go with their recordings, by ON DELETE CASCADE.)
            conversations, messages = erase_conversations(conn, account_id, site_id, visitor_id)
            tally.conversations += conversations
            tally.messages += messages
        audit.record(conn, account_id, actor, ACTION, {"by": by, **tally.as_dict()}, at=now)
    delete_blobs(db, blobs, deleted)
    return tally.as_dict()


def _lock_recordings(db: Database, conn: Connection, params: dict[str, str]) -> list[str]:
    """The ids of the visitor's recordings on one site, row-locked on PostgreSQL.

    The lock orders the erasure with the writer (which touches a live recording before adding
    a chunk) and the finalizer (which updates the row before swapping the chunks): whichever
    comes second sees the other's committed result. SQLite writers are serialized anyway.
    Every later statement of the erasure goes by these ids.
    """
    rows = q(
        conn,
        f"SELECT id FROM recordings WHERE {_OF_VISITOR} ORDER BY id{db.for_update}",
        **params,
    )
    return [str(r["id"]) for r in rows]
