"""The finalizer: turns *live* recordings into *ready* ones once the visitor has left.

A recording is due when every page view it has was left (the leave beacon arrived) and no
batch came during the grace period, or when nothing at all arrived for the heartbeat timeout
(the tab crashed or the computer slept). Finalizing merges the chunks into one compressed
blob, computes the summary and its moments (`recording_moments`: page entries, rage clicks,
errors, custom events), analyses its clicks, scrolling and frustration signals for the
heatmaps (heatmaps/analysis.py, heatmaps/store.py), tells whether the visitor is a returning
one, links the recording to the visitor's conversation during that visit, and makes the
recording visible — the rows in one transaction.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import zstandard

from footage.accounts.usage import give_back
from footage.clock import Clock
from footage.conversations.store import conversation_for_visit
from footage.heatmaps import store as heatmap_store
from footage.heatmaps.analysis import analyse_safely
from footage.ingest.writer import CLOCK_SKEW_MS, decode_chunk
from footage.sessions.summary import (
    Moment,
    external_referrer,
    is_returning,
    page_moments,
    summarize,
    utm_params,
)
from footage.sessions.useragent import parse_agent
from footage.store import garbage
from footage.store.blobs import BlobStore
from footage.store.db import Database, q, sql_text

log = logging.getLogger(__name__)

COMPACT_ZSTD_LEVEL = 12

_DUE = """
    (r.status = 'live' AND (
        r.last_seen_at <= :timeout_before
        OR (r.last_seen_at <= :grace_before AND NOT EXISTS (
            SELECT 1 FROM recording_pages p WHERE p.recording_id = r.id AND p.left_at IS NULL))
    ))
    OR (r.status = 'finalizing' AND r.claimed_at <= :lease_before)
"""


@dataclass(frozen=True)
class Timings:
    leave_grace_ms: int
    heartbeat_timeout_ms: int
    # A claim older than this was left by a finalizer that died; another one takes it over.
    lease_ms: int = 60_000
    # The duration cap of a recording (setting max_recording_seconds): with the clock skew
    # ingest allows either way, the longest a summary lets a recording last.
    max_recording_ms: int = 4 * 3600 * 1000


class Finalizer:
    def __init__(self, db: Database, blobs: BlobStore, clock: Clock, timings: Timings):
        self.db, self.blobs, self.clock, self.timings = db, blobs, clock, timings

    def _window(self) -> dict[str, int]:
        now = self.clock.now_ms()
        return {
            "timeout_before": now - self.timings.heartbeat_timeout_ms,
            "grace_before": now - self.timings.leave_grace_ms,
            "lease_before": now - self.timings.lease_ms,
        }

    def claim_due(self, limit: int = 20) -> list[tuple[str, int]]:
        """Claim up to `limit` due recordings for this finalizer: [(id, claimed_at)].

        Any number of finalizers may run at once: the conditional UPDATE (and, on PostgreSQL,
        SKIP LOCKED) gives each due recording to exactly one of them.
        """
        now = self.clock.now_ms()
        with self.db.write() as conn:
            rows = q(
                conn,
                "UPDATE recordings SET status = 'finalizing', claimed_at = :now "
                "WHERE id IN (SELECT r.id FROM recordings r "
                f"WHERE {_DUE} ORDER BY r.last_seen_at LIMIT :n {self.db.skip_locked()}) "
                "RETURNING id",
                now=now,
                n=limit,
                **self._window(),
            )
        return [(r["id"], now) for r in rows]

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
                        "finalizing %s failed; it is retried after the lease", recording_id
                    )
            if len(claimed) < 20:
                break
        return done

    def finalize(self, recording_id: str, claimed_at: int) -> bool:
        """Merge the chunks of a claimed recording, summarize it and make it ready."""
        rec = self.db.one("SELECT * FROM recordings WHERE id = :id", {"id": recording_id})
        assert rec is not None
        chunks = self.db.all(
            "SELECT * FROM chunks WHERE recording_id = :id ORDER BY first_ts, page_id, seq",
            {"id": recording_id},
        )
        lines: list[bytes] = []
        line_pages: list[str] = []  # each event's page view, while chunks still name them
        for chunk in chunks:
            data = self.blobs.get(chunk["blob_key"], chunk["blob_offset"], chunk["blob_length"])
            decoded = decode_chunk(data)
            lines.extend(decoded)
            line_pages.extend([chunk["page_id"]] * len(decoded))
        events = [json.loads(line) for line in lines]
        order = sorted(range(len(events)), key=lambda i: events[i]["timestamp"])
        events = [events[i] for i in order]
        lines = [lines[i] for i in order]
        line_pages = [line_pages[i] for i in order]
        summary = summarize(events, self.timings.max_recording_ms + 2 * CLOCK_SKEW_MS)
        page_starts = self._page_starts(chunks)
        pages = self.db.all(
            "SELECT * FROM recording_pages WHERE recording_id = :id", {"id": recording_id}
        )

        def start_of(page: dict[str, Any]) -> int:
            # A finalized recording's chunks no longer name their pages: finalizing it again
            # keeps the starts found the first time.
            found = page_starts.get(page["page_id"])
            if found is None:
                found = page["started_at"]
            return int(found if found is not None else page["first_seen_at"])

        pages.sort(key=start_of)
        starts = [(start_of(p), p["url"]) for p in pages]
        index_of = {p["page_id"]: i for i, p in enumerate(pages)}
        # Pages open in two tabs at once interleave in time: the batches say whose each event
        # is. A recording finalized again has one merged chunk; then time decides.
        known = all(page in index_of for page in line_pages)
        event_pages = [index_of[page] for page in line_pages] if known else None
        analysis = analyse_safely(recording_id, events, starts, event_pages)
        moments = page_moments(starts) + summary.moments
        if analysis is not None:
            moments += analysis.moments
        entry = pages[0] if pages else None
        agent = parse_agent(rec["user_agent"])
        blob_key = f"recordings/{rec['site_id']}/{recording_id}.ndjson.zst"
        blob = zstandard.ZstdCompressor(level=COMPACT_ZSTD_LEVEL).compress(b"\n".join(lines))
        self.blobs.put(blob_key, blob)
        entry_url = entry["url"] if entry else ""
        with self.db.write() as conn:
            still_ours = q(
                conn,
                "UPDATE recordings SET claimed_at = :t WHERE id = :id "
                "AND status = 'finalizing' AND claimed_at = :t RETURNING id",
                id=recording_id,
                t=claimed_at,
            )
            if not still_ours:
                log.warning("lost the claim on %s to another finalizer", recording_id)
                return False
            # Heatmap aggregates before segments: retention and erasure lock them in this
            # order too, so on PostgreSQL neither waits for the other in a cycle.
            if analysis is not None:
                heatmap_store.add_recording(
                    conn,
                    recording_id,
                    rec["site_id"],
                    agent.device,
                    summary.started_at or rec["created_at"],
                    analysis,
                )
            for page in pages:
                q(
                    conn,
                    "UPDATE recording_pages SET started_at = COALESCE(:t, started_at) "
                    "WHERE site_id = :s AND page_id = :p",
                    t=page_starts.get(page["page_id"]),
                    s=page["site_id"],
                    p=page["page_id"],
                )
            q(conn, "DELETE FROM chunks WHERE recording_id = :id", id=recording_id)
            obsolete = release_segments(conn, chunks, blob_key, self.clock.now_ms())
            q(
                conn,
                "INSERT INTO chunks (recording_id, page_id, seq, blob_key, blob_offset, "
                "blob_length, event_count, raw_bytes, first_ts, last_ts, received_at) "
                "VALUES (:r, '*', 0, :k, 0, :len, :n, :raw, :first, :last, :now)",
                r=recording_id,
                k=blob_key,
                len=len(blob),
                n=len(events),
                raw=sum(len(line) + 1 for line in lines),
                first=int(events[0]["timestamp"]) if events else None,
                last=summary.ended_at,
                now=self.clock.now_ms(),
            )
            self._store_moments(conn, recording_id, rec["site_id"], moments)
            self._give_back_single_batch(conn, rec, chunks)
            returning = self._returning(conn, rec)
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
                id=recording_id,
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
                bytes=len(blob),
                returning=int(returning),
                **utm_params(entry_url),
            )
            self._link_conversation(conn, rec, summary.started_at, summary.ended_at)
        garbage.delete_now(self.db, self.blobs, obsolete)
        return True

    @staticmethod
    def _give_back_single_batch(
        conn: Any, rec: dict[str, Any], chunks: list[dict[str, Any]]
    ) -> None:
        """A recording that never got past its first batch gives its usage count back (the
        monthly limit reserved it when it began): a visitor gone within seconds, or a fake
        recording sent with the site's key, does not use up the month. It stays listed.

        Once: the recording then no longer has a counted day, and its chunks are merged.
        """
        if rec.get("counted_day") is None or len(chunks) != 1 or chunks[0]["page_id"] == "*":
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
    def _store_moments(conn: Any, recording_id: str, site_id: str, moments: list[Moment]) -> None:
        """The recording's moments, replacing any a previous finalize stored (idempotent)."""
        q(conn, "DELETE FROM recording_moments WHERE recording_id = :id", id=recording_id)
        insert_moments(conn, recording_id, site_id, moments)

    @staticmethod
    def _link_conversation(
        conn: Any, rec: dict[str, Any], started: int | None, ended: int | None
    ) -> None:
        """The visitor chatted during this visit: the recording joins that conversation (unless
        a message already linked it while it was live)."""
        start = min(t for t in (started, rec["created_at"]) if t is not None)
        end = max(t for t in (ended, rec["last_seen_at"]) if t is not None)
        found = conversation_for_visit(conn, rec["site_id"], rec["visitor_id"], start, end)
        if found:
            q(
                conn,
                "UPDATE recordings SET conversation_id = :c "
                "WHERE id = :id AND conversation_id IS NULL",
                c=found,
                id=rec["id"],
            )

    @staticmethod
    def _returning(conn: Any, rec: dict[str, Any]) -> bool:
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

    @staticmethod
    def _page_starts(chunks: list[dict[str, Any]]) -> dict[str, int]:
        starts: dict[str, int] = {}
        for chunk in chunks:
            if chunk["first_ts"] is not None and chunk["page_id"] != "*":
                page = chunk["page_id"]
                starts[page] = min(starts.get(page, chunk["first_ts"]), chunk["first_ts"])
        return starts


def insert_moments(conn: Any, recording_id: str, site_id: str, moments: list[Moment]) -> None:
    if not moments:
        return
    conn.execute(
        sql_text(
            "INSERT INTO recording_moments (recording_id, site_id, kind, at, name, detail) "
            "VALUES (:r, :site, :kind, :at, :name, :detail)"
        ),
        [
            {
                "r": recording_id,
                "site": site_id,
                "kind": m.kind,
                "at": m.at,
                "name": m.name,
                "detail": None
                if m.detail is None
                else json.dumps(m.detail, ensure_ascii=False, separators=(",", ":")),
            }
            for m in moments
        ],
    )


def release_segments(conn: Any, chunks: list[dict[str, Any]], keep: str, now_ms: int) -> list[str]:
    """Drop the merged chunks' claims on their segments; returns the blobs now unused.

    A segment holds chunks of many recordings; it is deleted with the last of them. The
    decrement takes the segment's row lock, so two finalizers never both miss the zero.
    """
    per_segment: dict[str, int] = {}
    for chunk in chunks:
        if chunk["blob_key"] != keep:
            per_segment[chunk["blob_key"]] = per_segment.get(chunk["blob_key"], 0) + 1
    unused = []
    for key, count in per_segment.items():
        left = q(
            conn,
            "UPDATE segments SET live_chunks = live_chunks - :n WHERE blob_key = :k "
            "RETURNING live_chunks",
            n=count,
            k=key,
        )
        if not left or left[0]["live_chunks"] <= 0:
            q(conn, "DELETE FROM segments WHERE blob_key = :k", k=key)
            unused.append(key)
    garbage.schedule(conn, unused, now_ms)
    return unused
