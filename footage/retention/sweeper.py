"""Deleting recordings past their plan's retention, with their rows and blobs, crash-safely.

A recording is kept `retention_days` (its account's plan, looked up now: a plan change applies
to what was recorded before) from `recordings.created_at`; at exactly `created_at +
retention_days` days it is expired. Only *ready* recordings expire normally. A recording still
*live* or *finalizing* one day after that is stuck (its finalizer will not finish it in time)
and is deleted too, so nothing is kept much longer than the plan says.

Each batch of up to `batch_size` recordings goes in one write transaction: pick and lock the
ids, then `store/deletion.delete_recordings`, the path visitor erasure takes too (rows, the
features' rows through their hooks, segment counts, blobs scheduled in `blob_garbage`). The
blobs are deleted after the commit. So a crash before the commit leaves everything as it was,
and a crash after it leaves only scheduled blobs, which `store/garbage.sweep` deletes (it runs
in every finalizer pass). A chunk row never points at a missing blob, and no blob is left that
nothing refers to.

What stays: the visitor rows (a visitor may come back) and the usage counters (a deleted
recording still counted for its month).

Conversations follow `conversation_retention_days` (one period for every account): a
conversation whose last message is that old is deleted with its messages, and the recordings
that linked to it forget the link (`recordings.conversation_id`). In batches too, each in one
transaction, after the recordings; a conversation that gets a message meanwhile is either
locked by the writer (skipped) or no longer old enough (not picked).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, text

from footage.accounts.plans import Plans
from footage.clock import Clock
from footage.store.blobs import BlobStore
from footage.store.db import Database
from footage.store.deletion import (
    OnDelete,
    count_by_ids,
    delete_blobs,
    delete_recordings,
    retry_lock_conflicts,
    with_ids,
)

log = logging.getLogger(__name__)

DAY_MS = 86_400_000
# A recording that is not ready this long after it expired is stuck and is deleted anyway.
STUCK_AFTER_MS = DAY_MS
BATCH_SIZE = 500
# Settings.conversation_retention_days's default, for a Retention built without settings.
CONVERSATION_RETENTION_DAYS = 10.0

_UNLINK_RECORDINGS = with_ids(
    "UPDATE recordings SET conversation_id = NULL WHERE conversation_id IN :ids"
)
_DELETE_MESSAGES = with_ids("DELETE FROM conversation_messages WHERE conversation_id IN :ids")
_DELETE_CONVERSATIONS = with_ids("DELETE FROM conversations WHERE id IN :ids")


@dataclass(frozen=True)
class _Group:
    """Accounts whose plans keep recordings equally long: one query (and cutoff) each."""

    plans: tuple[str, ...]
    retention_days: int


@dataclass
class _Tally:
    recordings: int = 0
    chunks: int = 0
    blobs: int = 0
    conversations: int = 0
    messages: int = 0

    def add(self, other: _Tally) -> None:
        self.recordings += other.recordings
        self.chunks += other.chunks
        self.blobs += other.blobs
        self.conversations += other.conversations
        self.messages += other.messages

    def as_dict(self) -> dict[str, int]:
        return {
            "recordings": self.recordings,
            "chunks": self.chunks,
            "blobs": self.blobs,
            "conversations": self.conversations,
            "messages": self.messages,
        }


class Retention:
    """Deletes expired recordings; any number may run at once (on PostgreSQL each batch skips
    the rows another sweeper has locked; SQLite serializes the writers)."""

    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        plans: Plans,
        clock: Clock | None = None,
        batch_size: int = BATCH_SIZE,
        conversation_retention_days: float = CONVERSATION_RETENTION_DAYS,
        *,
        on_delete: Sequence[OnDelete],
    ) -> None:
        # `clock` stamps the bookkeeping rows (blob_garbage), which the sweeper compares with
        # the real time; `now_ms` of run_once only decides what has expired, so an audit run
        # with another "now" does not skew the sweeper's leases. `on_delete`: the features'
        # rows that go with a recording (app.py registers them).
        self.db, self.blobs, self.plans = db, blobs, plans
        self.on_delete = tuple(on_delete)
        self.clock = clock or Clock()
        self.batch_size = batch_size
        self.conversation_retention_ms = int(conversation_retention_days * DAY_MS)

    def run_once(
        self, now_ms: int, should_stop: Callable[[], bool] = lambda: False
    ) -> dict[str, int]:
        """Delete every recording expired at `now_ms`, batch by batch, until none is left.

        Then every conversation whose last message is older than the conversations'
        retention at `now_ms`, with its messages.

        Returns {"recordings", "chunks", "blobs", "conversations", "messages"}: rows deleted,
        and blobs scheduled and deleted. Running it again at the same `now_ms` deletes nothing
        more. `should_stop` is asked between batches, so a shutdown finishes the current batch
        and stops.
        """
        total = _Tally()
        groups = self._groups()
        while not should_stop():
            picked, tally = self._batch_with_retries(groups, now_ms)
            total.add(tally)
            # Fewer than a full batch: nothing else has expired (or another sweeper holds it).
            # A full batch that deleted nothing cannot happen under the row locks; if it ever
            # did, stopping beats looping forever.
            if picked < self.batch_size or not tally.recordings:
                break
        cutoff = now_ms - self.conversation_retention_ms
        while not should_stop():
            picked, tally = self._conversations_with_retries(cutoff)
            total.add(tally)
            if picked < self.batch_size or not tally.conversations:
                break
        if total.conversations:
            log.info(
                "retention: deleted %d conversations (%d messages)",
                total.conversations,
                total.messages,
            )
        if total.recordings:
            log.info(
                "retention: deleted %d recordings (%d chunks, %d blobs)",
                total.recordings,
                total.chunks,
                total.blobs,
            )
        return total.as_dict()

    def _groups(self) -> list[_Group]:
        """The plan names in use, grouped by retention. Computed once per run: a query still
        filters by each account's current plan, so a plan changed meanwhile is at worst left
        for the next run, never cut short."""
        names = [r["plan"] for r in self.db.all("SELECT DISTINCT plan FROM accounts")]
        by_days: dict[int, list[str]] = {}
        for name in sorted(names):
            # plans.of: a plan the operator removed keeps recordings the longest retention.
            by_days.setdefault(self.plans.of(name).retention_days, []).append(name)
        return [_Group(tuple(plans), days) for days, plans in sorted(by_days.items())]

    def _batch_with_retries(self, groups: list[_Group], now_ms: int) -> tuple[int, _Tally]:
        return retry_lock_conflicts(lambda: self._batch(groups, now_ms), "retention")

    def _batch(self, groups: list[_Group], now_ms: int) -> tuple[int, _Tally]:
        """One transaction: up to batch_size expired recordings and everything of theirs."""
        stamp = self.clock.now_ms()
        with self.db.write() as conn:
            ids = self._pick(conn, groups, now_ms)
            deleted = delete_recordings(conn, ids, stamp, on_delete=self.on_delete)
        delete_blobs(self.db, self.blobs, deleted)
        tally = _Tally(
            recordings=deleted.recordings, chunks=deleted.chunks, blobs=len(deleted.blobs)
        )
        return len(ids), tally

    def _conversations_with_retries(self, cutoff: int) -> tuple[int, _Tally]:
        # A deadlock with a transaction that links recordings: nothing was done.
        return retry_lock_conflicts(lambda: self._conversations(cutoff), "retention")

    def _conversations(self, cutoff: int) -> tuple[int, _Tally]:
        """One transaction: up to batch_size conversations whose last message is at or before
        `cutoff`, their messages, and the recordings' links to them. The picked rows are
        locked on PostgreSQL (SKIP LOCKED: one a message is being added to right now is left
        for the next run); the conversations_last_message index finds them."""
        tally = _Tally()
        with self.db.write() as conn:
            rows = conn.execute(
                text(
                    "SELECT id FROM conversations WHERE last_message_at <= :cutoff "
                    f"ORDER BY last_message_at, id LIMIT :n {self.db.skip_locked()}"
                ),
                {"cutoff": cutoff, "n": self.batch_size},
            ).mappings()
            ids = [str(r["id"]) for r in rows]
            if not ids:
                return 0, tally
            count_by_ids(conn, _UNLINK_RECORDINGS, ids)
            # Messages first, so each count is its own table's (the foreign key cascades too).
            tally.messages = count_by_ids(conn, _DELETE_MESSAGES, ids)
            tally.conversations = count_by_ids(conn, _DELETE_CONVERSATIONS, ids)
        return len(ids), tally

    def _pick(self, conn: Connection, groups: list[_Group], now_ms: int) -> list[str]:
        """Up to batch_size expired recordings' ids, locked on PostgreSQL (SKIP LOCKED: rows
        another sweeper holds are its own). Each group's query walks the created_at index."""
        picked: list[str] = []
        for group in groups:
            cutoff = now_ms - group.retention_days * DAY_MS
            statement = text(
                "SELECT id FROM recordings "
                "WHERE created_at <= :cutoff "
                "AND (status = 'ready' OR created_at <= :stuck) "
                "AND account_id IN (SELECT id FROM accounts WHERE plan IN :plans) "
                f"ORDER BY created_at, id LIMIT :n {self.db.skip_locked()}"
            ).bindparams(bindparam("plans", expanding=True))
            rows = conn.execute(
                statement,
                {
                    "cutoff": cutoff,
                    "stuck": cutoff - STUCK_AFTER_MS,
                    "plans": list(group.plans),
                    "n": self.batch_size - len(picked),
                },
            ).mappings()
            picked += [str(r["id"]) for r in rows]
            if len(picked) >= self.batch_size:
                break
        return picked
