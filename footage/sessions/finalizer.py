"""The finalizer: turns *live* recordings into *ready* ones once the visitor has left.

A recording is due when every page view it has was left (the leave beacon arrived) and no
batch came during the grace period, or when nothing at all arrived for the heartbeat timeout
(the tab crashed or the computer slept). Finalizing merges the chunks into one compressed
blob of pieces (a zstd frame from each full snapshot on, store/chunks.py), computes the
summary and its moments (`recording_moments`: page entries, rage clicks,
errors, custom events), tells whether the visitor is a returning one and makes the recording
visible — the rows in one transaction. The features above (heatmaps, conversations) add their
rows through `on_ready` hooks (sessions/ready.py) that app.py registers, in that same
transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from footage.accounts.usage import give_back
from footage.clock import Clock
from footage.parsing import parse_lines
from footage.sessions.moments import replace_moments
from footage.sessions.ready import OnReady, ReadyRecording, ReadyRows, named
from footage.sessions.summary import (
    Moment,
    external_referrer,
    is_returning,
    page_moments,
    summarize,
    utm_params,
)
from footage.sessions.useragent import Agent, parse_agent
from footage.store import garbage
from footage.store.blobs import BlobStore
from footage.store.chunks import (
    MERGED_PAGE,
    chunks_of,
    encode_pieces,
    merged_blob_key,
    pieces_json,
    read_chunk,
    release_segments,
)
from footage.store.db import Database, q

log = logging.getLogger(__name__)

# After a claim that did not end in a ready recording (finalizing raised, or the process
# died), the recording is claimed again once this many leases have passed: after the first
# claim 1, after the second 2, … then 60 (with the default lease of a minute: 1, 2, 4, 8, 16
# and 32 minutes, then every hour). A recording that cannot be finalized (its storage is
# down, or an input nobody foresaw makes finalizing raise or kill the process) costs an
# attempt an hour instead of one a minute, until the retention sweeper deletes it; one whose
# storage comes back is finalized at the next attempt. A recording ended at its cap waits
# for no lease (claimed_at 0, no claim yet).
RETRY_LEASES = (0, 1, 2, 4, 8, 16, 32, 60)
_RETRY_AFTER = (
    "CASE r.finalize_attempts "
    + " ".join(f"WHEN {n} THEN {leases}" for n, leases in enumerate(RETRY_LEASES[:-1]))
    + f" ELSE {RETRY_LEASES[-1]} END"
)

_DUE = f"""
    (r.status = 'live' AND (
        r.last_seen_at <= :timeout_before
        OR (r.last_seen_at <= :grace_before AND NOT EXISTS (
            SELECT 1 FROM recording_pages p WHERE p.recording_id = r.id AND p.left_at IS NULL))
    ))
    OR (r.status = 'finalizing' AND r.claimed_at <= :now - :lease * {_RETRY_AFTER})
"""


@dataclass(frozen=True)
class Timings:
    leave_grace_ms: int
    heartbeat_timeout_ms: int
    # How far ingest lets event times stray from a recording's window, either way.
    clock_skew_ms: int
    # A claim older than this was left by a finalizer that died; another one takes it over.
    lease_ms: int = 60_000
    # The duration cap of a recording (setting max_recording_seconds): with the clock skew
    # either way, the longest a summary lets a recording last.
    max_recording_ms: int = 4 * 3600 * 1000


@dataclass
class _Merged:
    """A recording's chunks read back: event lines and parsed events in time order."""

    lines: list[bytes]
    events: list[dict[str, Any]]
    line_pages: list[str]  # each event's page view, while chunks still name them


class Finalizer:
    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        clock: Clock,
        timings: Timings,
        *,
        on_ready: Sequence[OnReady],
    ) -> None:
        self.db, self.blobs, self.clock, self.timings = db, blobs, clock, timings
        self.on_ready = tuple(on_ready)

    def _window(self) -> dict[str, int]:
        now = self.clock.now_ms()
        return {
            "timeout_before": now - self.timings.heartbeat_timeout_ms,
            "grace_before": now - self.timings.leave_grace_ms,
            "now": now,
            "lease": self.timings.lease_ms,
        }

    def claim_due(self, limit: int = 20) -> list[tuple[str, int]]:
        """Claim up to `limit` due recordings for this finalizer: [(id, claimed_at)].

        Any number of finalizers may run at once: the conditional UPDATE (and, on PostgreSQL,
        SKIP LOCKED) gives each due recording to exactly one of them.
        """
        window = self._window()
        with self.db.write() as conn:
            rows = q(
                conn,
                "UPDATE recordings SET status = 'finalizing', claimed_at = :now, "
                "finalize_attempts = finalize_attempts + 1 "
                "WHERE id IN (SELECT r.id FROM recordings r "
                f"WHERE {_DUE} ORDER BY r.last_seen_at LIMIT :n {self.db.skip_locked()}) "
                "RETURNING id",
                n=limit,
                **window,
            )
        return [(r["id"], window["now"]) for r in rows]

    def run_once(self, should_stop: Callable[[], bool] = lambda: False) -> int:
        """Finalize every recording that is due; returns how many became ready.

        `should_stop` is asked between batches of claims, so a shutdown finishes the claimed
        recordings and claims no more.
        """
        garbage.sweep(self.db, self.blobs, self.clock.now_ms(), self.timings.lease_ms)
        done = 0
        while not should_stop():
            claimed = self.claim_due()
            for recording_id, claimed_at in claimed:
                try:
                    if self.finalize(recording_id, claimed_at):
                        done += 1
                except Exception:
                    log.exception(
                        "finalizing %s failed; it is tried again in %s",
                        recording_id,
                        self._next_try(recording_id),
                    )
            if len(claimed) < 20:
                break
        return done

    def _next_try(self, recording_id: str) -> str:
        """When a recording whose attempt failed is claimed again, for the log."""
        row = self.db.one(
            "SELECT finalize_attempts FROM recordings WHERE id = :id", {"id": recording_id}
        )
        attempts = int(row["finalize_attempts"]) if row else 0
        leases = RETRY_LEASES[min(attempts, len(RETRY_LEASES) - 1)]
        return f"{leases * self.timings.lease_ms / 60_000:g} minutes (attempt {attempts})"

    def finalize(self, recording_id: str, claimed_at: int) -> bool:
        """Merge the chunks of a claimed recording, summarize it and make it ready."""
        rec = self.db.one("SELECT * FROM recordings WHERE id = :id", {"id": recording_id})
        assert rec is not None
        chunks = chunks_of(self.db, recording_id)
        merged = self._read(chunks)
        longest = self.timings.max_recording_ms + 2 * self.timings.clock_skew_ms
        summary = summarize(merged.events, longest)
        page_starts = _page_starts(chunks)
        pages = self._pages(recording_id, page_starts)
        index_of = {p["page_id"]: i for i, p in enumerate(pages)}
        # Pages open in two tabs at once interleave in time: the batches say whose each event
        # is. A recording finalized again has one merged chunk; then time decides.
        known = all(page in index_of for page in merged.line_pages)
        starts = [(_start_of(p, page_starts), p["url"]) for p in pages]
        agent = parse_agent(rec["user_agent"])
        ready = ReadyRecording(
            recording=rec,
            events=merged.events,
            pages=starts,
            event_pages=[index_of[page] for page in merged.line_pages] if known else None,
            summary=summary,
            device=agent.device,
        )
        added = [rows for hook in self.on_ready if (rows := hook(ready)) is not None]
        blob_key = merged_blob_key(rec["site_id"], recording_id)
        blob, pieces = encode_pieces(merged.lines, merged.events)
        self.blobs.put(blob_key, blob)
        with self.db.write() as conn:
            if not self._still_ours(conn, recording_id, claimed_at):
                log.warning("lost the claim on %s to another finalizer", recording_id)
                return False
            # The features' rows before segments: retention and erasure lock them in this
            # order too, so on PostgreSQL neither waits for the other in a cycle.
            for rows in added:
                rows.write(conn)
            for page in pages:
                q(
                    conn,
                    "UPDATE recording_pages SET started_at = COALESCE(:t, started_at) "
                    "WHERE site_id = :s AND page_id = :p",
                    t=page_starts.get(page["page_id"]),
                    s=page["site_id"],
                    p=page["page_id"],
                )
            obsolete = self._swap_chunks(
                conn, ready, chunks, merged, blob_key, len(blob), pieces_json(pieces)
            )
            names = [name for rows in added for name in rows.names]
            own = named(summary.moments, names)
            moments = page_moments(starts) + own + _moments_of(added)
            replace_moments(conn, recording_id, rec["site_id"], moments)
            self._give_back_single_batch(conn, rec, chunks)
            self._mark_ready(conn, ready, pages, agent, len(blob))
        garbage.delete_now(self.db, self.blobs, obsolete)
        return True

    @staticmethod
    def _still_ours(conn: Connection, recording_id: str, claimed_at: int) -> bool:
        """Whether this finalizer still holds the claim (and, from here on, the row's lock)."""
        return bool(
            q(
                conn,
                "UPDATE recordings SET claimed_at = :t WHERE id = :id "
                "AND status = 'finalizing' AND claimed_at = :t RETURNING id",
                id=recording_id,
                t=claimed_at,
            )
        )

    def _swap_chunks(
        self,
        conn: Connection,
        ready: ReadyRecording,
        chunks: list[dict[str, Any]],
        merged: _Merged,
        blob_key: str,
        blob_length: int,
        pieces: str,
    ) -> list[str]:
        """Replace the recording's chunks by its one merged chunk (with its pieces' index);
        returns the segments that no chunk needs any more (scheduled, to delete after the
        commit)."""
        q(conn, "DELETE FROM chunks WHERE recording_id = :id", id=ready.id)
        obsolete = release_segments(conn, chunks, blob_key, self.clock.now_ms())
        q(
            conn,
            "INSERT INTO chunks (recording_id, page_id, seq, blob_key, blob_offset, "
            "blob_length, event_count, raw_bytes, first_ts, last_ts, received_at, pieces) "
            "VALUES (:r, :page, 0, :k, 0, :len, :n, :raw, :first, :last, :now, :pieces)",
            r=ready.id,
            page=MERGED_PAGE,
            k=blob_key,
            len=blob_length,
            n=len(merged.events),
            raw=sum(len(line) + 1 for line in merged.lines),
            first=int(merged.events[0]["timestamp"]) if merged.events else None,
            last=ready.summary.ended_at,
            now=self.clock.now_ms(),
            pieces=pieces,
        )
        return obsolete

    def _mark_ready(
        self,
        conn: Connection,
        ready: ReadyRecording,
        pages: list[dict[str, Any]],
        agent: Agent,
        stored_bytes: int,
    ) -> None:
        """The summary onto the recording's row, and the row visible (status ready)."""
        rec, summary = ready.recording, ready.summary
        entry = pages[0] if pages else None
        entry_url = entry["url"] if entry else ""
        q(
            conn,
            "UPDATE recordings SET status = 'ready', finalized_at = :now, "
            "started_at = :started, ended_at = :ended, duration_ms = :duration, "
            "active_ms = :active, page_count = :pages, click_count = :clicks, "
            "rage_click_count = :rage, error_count = :errors, event_count = :events, "
            "entry_url = :entry, exit_url = :exit, device = :device, browser = :browser, "
            "os = :os, referrer = :referrer, utm_source = :utm_source, "
            "utm_medium = :utm_medium, utm_campaign = :utm_campaign, utm_term = :utm_term, "
            "utm_content = :utm_content, stored_bytes = :bytes, "
            "returning_visitor = :returning "
            "WHERE id = :id AND status = 'finalizing'",
            id=ready.id,
            now=self.clock.now_ms(),
            started=summary.started_at,
            ended=summary.ended_at,
            duration=summary.duration_ms,
            active=summary.active_ms,
            pages=len(pages),
            clicks=summary.click_count,
            rage=summary.rage_click_count,
            errors=summary.error_count,
            events=summary.event_count,
            entry=entry_url,
            exit=pages[-1]["url"] if pages else "",
            device=agent.device,
            browser=agent.browser,
            os=agent.os,
            referrer=external_referrer(entry["referrer"] or "", entry_url) if entry else "",
            bytes=stored_bytes,
            returning=int(self._returning(conn, rec)),
            **utm_params(entry_url),
        )

    def _read(self, chunks: list[dict[str, Any]]) -> _Merged:
        """The chunks' events, sorted by time (a stable sort: ties keep the chunks' order)."""
        lines: list[bytes] = []
        line_pages: list[str] = []
        for chunk in chunks:
            decoded = read_chunk(self.blobs, chunk)
            lines.extend(decoded)
            line_pages.extend([chunk["page_id"]] * len(decoded))
        events = parse_lines(lines)
        order = sorted(range(len(events)), key=lambda i: events[i]["timestamp"])
        return _Merged(
            lines=[lines[i] for i in order],
            events=[events[i] for i in order],
            line_pages=[line_pages[i] for i in order],
        )

    def _pages(self, recording_id: str, page_starts: dict[str, int]) -> list[dict[str, Any]]:
        """The recording's page views in the order they began."""
        pages = self.db.all(
            "SELECT * FROM recording_pages WHERE recording_id = :id", {"id": recording_id}
        )
        pages.sort(key=lambda page: _start_of(page, page_starts))
        return pages

    @staticmethod
    def _give_back_single_batch(
        conn: Connection, rec: dict[str, Any], chunks: list[dict[str, Any]]
    ) -> None:
        """A recording that never got past its first batch gives its usage count back (the
        monthly limit reserved it when it began): a visitor gone within seconds, or a fake
        recording sent with the site's key, does not use up the month. It stays listed.

        Once: the recording then no longer has a counted day, and its chunks are merged.
        """
        if (
            rec.get("counted_day") is None
            or len(chunks) != 1
            or chunks[0]["page_id"] == MERGED_PAGE
        ):
            return
        given = q(
            conn,
            "UPDATE recordings SET counted_day = NULL "
            "WHERE id = :id AND counted_day IS NOT NULL RETURNING id",
            id=rec["id"],
        )
        if given:
            give_back(conn, rec["account_id"], rec["counted_day"])

    @staticmethod
    def _returning(conn: Connection, rec: dict[str, Any]) -> bool:
        """Did this visitor come before? Read in the finalize transaction, as it commits."""
        params = {"s": rec["site_id"], "v": rec["visitor_id"], "c": rec["created_at"]}
        earlier = q(
            conn,
            "SELECT 1 AS one FROM recordings "
            "WHERE site_id = :s AND visitor_id = :v AND created_at < :c LIMIT 1",
            **params,
        )
        visitor = q(
            conn, "SELECT first_seen_at FROM visitors WHERE site_id = :s AND id = :v", **params
        )
        first_seen = visitor[0]["first_seen_at"] if visitor else None
        return is_returning(bool(earlier), first_seen, rec["created_at"])


def _moments_of(added: list[ReadyRows]) -> list[Moment]:
    return [moment for rows in added for moment in rows.moments]


def _page_starts(chunks: list[dict[str, Any]]) -> dict[str, int]:
    """Each page view's first event time, from the chunks that still name their page."""
    starts: dict[str, int] = {}
    for chunk in chunks:
        if chunk["first_ts"] is not None and chunk["page_id"] != MERGED_PAGE:
            page = chunk["page_id"]
            starts[page] = min(starts.get(page, chunk["first_ts"]), chunk["first_ts"])
    return starts


def _start_of(page: dict[str, Any], page_starts: dict[str, int]) -> int:
    """When a page view began. A finalized recording's chunks no longer name their pages:
    finalizing it again keeps the starts found the first time."""
    found = page_starts.get(page["page_id"])
    if found is None:
        found = page["started_at"]
    return int(found if found is not None else page["first_seen_at"])
