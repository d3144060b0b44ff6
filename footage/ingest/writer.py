"""The write path: one accepted batch → one compressed chunk in the blob store + its row.

Order matters for "acknowledge only when durable": the chunk file is written and fsynced
first, then the rows are committed; the HTTP answer goes out only after both. A crash in
between leaves at most an unreferenced file, never a row without its data.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any

import orjson

from footage.accounts.plans import Plan, Plans
from footage.accounts.service import site_by_key
from footage.accounts.usage import count_new_recording, day_of
from footage.assets import store as kept_assets
from footage.assets.extract import asset_urls
from footage.clock import Clock
from footage.errors import BadRequest, Conflict, FootageError, Forbidden, NotFound
from footage.ingest.group import GroupWriter, Pending
from footage.ingest.new_recordings import NewRecordingLimit
from footage.ingest.refusals import RefusalCounter
from footage.ingest.wire import (
    MAX_EVENT_DEPTH,
    MAX_VARIABLES,
    Batch,
    Heartbeat,
    Scalar,
    VisitorInfo,
    nesting,
)
from footage.privacy.masking import MaskRules, PageMaskState, mask_text, scrub_events, scrub_url
from footage.privacy.rules import ip_excluded, is_mobile, page_excluded
from footage.rrweb import META
from footage.sessions.geo import CountryLookup
from footage.store.blobs import BlobStore
from footage.store.chunks import encode_chunk
from footage.store.db import Database, new_id, q
from footage.store.ipkey import ip_key


@dataclass(frozen=True)
class Visit:
    """What the request itself says about the visitor (not the body)."""

    origin: str | None
    server_origin: str
    ip: str | None
    user_agent: str
    do_not_track: bool = False  # the browser sent `Sec-GPC: 1` or `DNT: 1`


@dataclass(frozen=True)
class Accepted:
    recording_id: str | None
    duplicate: bool
    stored: bool = True  # whether this batch's chunk bytes are referenced by a row
    # Set when this batch would have taken its recording past a cap: the batch is not stored,
    # the recording was ended, and the recorder is told to start a new one.
    limit_reached: RecordingLimitReached | None = None


class RecordingLimitReached(Conflict):
    """409 for the batch that would take its recording past its size or duration cap."""

    code = "recording_limit_reached"


@dataclass(frozen=True)
class RecordingCaps:
    """How large and how long one recording may grow (settings max_recording_*)."""

    max_bytes: int = 50_000_000  # its events as stored, before compression
    max_ms: int = 4 * 3600 * 1000  # from its first batch to the latest (server time)
    # Its page views: each is a row the finalizer updates and a moment it writes, in the one
    # transaction that makes the recording ready (on SQLite every writer waits for it).
    max_pages: int = 1_000


# How far a batch's event times (the browser's clock) may stray from its recording's window on
# that clock: from the first stored event to the server's time passed since then. A recorder
# holds a batch while the server asks it to wait (at most 10 minutes per Retry-After) or is
# unreachable, so a first batch may arrive that much after its events; tabs of one session
# send their first events out of order by seconds. The clock's own offset does not matter,
# only the spread: a visitor whose clock is hours off is recorded as usual.
CLOCK_SKEW_MS = 15 * 60 * 1000


def _span(ms: float) -> str:
    """A stretch of time for a message: '26 years', '3 hours', '20 minutes'."""
    minutes = ms / 60_000
    for unit, size in (("year", 525_960), ("day", 1440), ("hour", 60)):
        if minutes >= 2 * size:
            return f"{minutes / size:,.0f} {unit}s"
    return f"{minutes:,.0f} minute{'' if round(minutes) == 1 else 's'}"


def dump_event(event: dict[str, Any]) -> bytes:
    """One event as JSON text; refuses an event nested deeper than MAX_EVENT_DEPTH."""
    try:
        return orjson.dumps(event)
    except orjson.JSONEncodeError:
        # orjson writes at most 255 levels; the snapshot of a very deep page has more. Deeper
        # than MAX_EVENT_DEPTH is no page (and would not survive the finalizer's reader).
        depth = nesting(event)
        if depth > MAX_EVENT_DEPTH:
            raise BadRequest(
                f"an event nests arrays and objects more than {MAX_EVENT_DEPTH} levels deep; "
                "send rrweb events as rrweb emits them",
                code="bad_event",
            ) from None
        return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


def merge_variables(
    stored: str | None, new: dict[str, dict[str, Scalar]]
) -> dict[str, dict[str, Scalar]]:
    """A visitor's variables after a batch: the new values win per key, the others stay.

    At most MAX_VARIABLES are kept; past that, the stored ones the batch did not mention go
    first (the batch's own are at most that many, the wire checks it).
    """
    try:
        old = orjson.loads(stored) if stored else {}
    except orjson.JSONDecodeError:
        old = {}
    if not isinstance(old, dict):
        old = {}
    room = MAX_VARIABLES - len(new)
    kept = [(k, v) for k, v in old.items() if k not in new][: max(0, room)]
    return {**dict(kept), **new}


def origin_allowed(site: dict[str, Any], visit: Visit) -> bool:
    allowed = [o.strip() for o in site["allowed_origins"].splitlines() if o.strip()]
    if site["is_demo"]:
        # The demo pages are served by this server, at whatever address it is reached.
        allowed.append(visit.server_origin)
    if not allowed:
        return True
    if visit.origin is None:
        return False
    origin = visit.origin.rstrip("/").lower()
    for entry in allowed:
        if entry == origin:
            return True
        # `https://*.example.com` allows every subdomain (and only those) over that scheme.
        scheme, _, rest = entry.partition("://*.")
        if rest and origin.startswith(scheme + "://") and origin.endswith("." + rest):
            return True
    return False


def refusal(
    site: dict[str, Any], visit: Visit, plan: Plan, check_origin: bool = True
) -> Forbidden | None:
    """Why this visitor must not be recorded on this site (plan and settings), or None."""
    if not plan.records:
        return Forbidden(
            "this account's plan does not include recordings", code="plan_without_recordings"
        )
    if not site["recording_enabled"]:
        return Forbidden("recording is switched off for this site", code="recording_disabled")
    if check_origin and not origin_allowed(site, visit):
        return Forbidden(
            f"origin {visit.origin or '(none)'} may not send recordings for this site; "
            "add it to the site's allowed origins",
            code="origin_not_allowed",
        )
    if ip_excluded(visit.ip, site["excluded_visitors"]):
        return Forbidden("this visitor is excluded from recording", code="visitor_excluded")
    if not site["record_mobile"] and is_mobile(visit.user_agent):
        return Forbidden(
            "phones and tablets are not recorded on this site", code="mobile_not_recorded"
        )
    if site["respect_do_not_track"] and visit.do_not_track:
        return Forbidden(
            "the browser asks not to be tracked (Do Not Track / Global Privacy Control)",
            code="do_not_track",
        )
    return None


# Pages whose masking state (which node ids are password fields…) this process remembers. A
# page's later batches usually reach the same process; when they don't, the recorder's own
# masking still holds, and e-mails, numbers and typed text are masked without any state.
MASK_STATE_PAGES = 20_000

SITE_CACHE_SECONDS = 5.0  # every batch needs its site; settings changes show within seconds


class Ingest:
    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        clock: Clock,
        geo: CountryLookup,
        plans: Plans,
        caps: RecordingCaps | None = None,
        new_recordings: NewRecordingLimit | None = None,
        asset_fresh_ms: int | None = None,
    ):
        self.db, self.blobs, self.clock, self.geo, self.plans = db, blobs, clock, geo, plans
        # Assets kept with recordings (footage/assets/): None when the operator turned it off.
        self.asset_fresh_ms = asset_fresh_ms
        self.caps = caps or RecordingCaps()
        # `is None`, not `or`: a limit that remembers nobody yet has a length of 0.
        self.new_recordings = NewRecordingLimit() if new_recordings is None else new_recordings
        self.refusals = RefusalCounter(db, clock.now_ms)
        self._sites: dict[str, tuple[float, dict[str, Any] | None]] = {}
        self.writer = GroupWriter(db, blobs, clock.now_ms)
        self._page_masks: OrderedDict[tuple[str, str], PageMaskState] = OrderedDict()
        self._page_masks_lock = threading.Lock()

    def _site(self, site_key: str) -> dict[str, Any] | None:
        now = time.monotonic()
        cached = self._sites.get(site_key)
        if cached and cached[0] > now:
            return cached[1]
        site = site_by_key(self.db, site_key)
        if len(self._sites) > 10_000:
            self._sites.clear()
        self._sites[site_key] = (now + SITE_CACHE_SECONDS, site)
        return site

    def site_id_of(self, site_key: str) -> str | None:
        """The site's id (cached like its settings), or None for an unknown key."""
        site = self._site(site_key)
        return str(site["id"]) if site else None

    def forget_site(self, site_key: str) -> None:
        """The site's settings changed: this process reads them again on the next batch.

        Other processes notice within SITE_CACHE_SECONDS.
        """
        self._sites.pop(site_key, None)

    def site_for(self, site_key: str, visit: Visit) -> dict[str, Any]:
        """The site a batch is for, once it may record from this origin; raises otherwise."""
        site = self._site(site_key)
        if site is None:
            raise NotFound(
                "unknown site key; copy the snippet again from the dashboard",
                code="unknown_site",
            )
        refused = refusal(site, visit, self.plans.of(site["plan"]))
        if refused is not None:
            self.refusals.add(site["id"], refused.code)  # a forged origin counts for the alarm
            raise refused
        return site

    def prepare(self, batch: Batch, visit: Visit) -> Pending:
        """Check the site and compress the chunk; the rows are applied by the group writer."""
        site = self.site_for(batch.site_key, visit)
        self._refuse_new_recording_early(site, batch, visit)
        batch = self.scrub(site, batch)
        data, raw = encode_chunk(map(dump_event, batch.events)) if batch.events else (None, 0)
        # After the scrub: an address the site's masks changed is not asked for as it was.
        assets = asset_urls(batch.events) if self.asset_fresh_ms is not None else []

        def apply(conn: Any, blob_key: str | None, offset: int) -> Accepted:
            known = q(
                conn,
                "SELECT p.recording_id, r.status, c.seq AS stored_seq FROM recording_pages p "
                "JOIN recordings r ON r.id = p.recording_id "
                "LEFT JOIN chunks c ON c.recording_id = p.recording_id "
                "AND c.page_id = p.page_id AND c.seq = :seq "
                "WHERE p.site_id = :s AND p.page_id = :p",
                s=site["id"],
                p=batch.page_id,
                seq=batch.seq,
            )
            if known and known[0]["stored_seq"] is not None:  # a retry of a stored batch
                return Accepted(known[0]["recording_id"], duplicate=True, stored=False)
            if known and known[0]["status"] != "live":
                raise Conflict(
                    "this page view belongs to a recording that has ended; start a new page view",
                    code="recording_ended",
                )
            accepted = self._apply(
                conn, site, batch, visit, blob_key, offset, len(data or b""), raw
            )
            if assets and accepted.stored and accepted.recording_id is not None:
                stale = self.clock.now_ms() - (self.asset_fresh_ms or 0)
                kept_assets.ask_for(conn, site["id"], accepted.recording_id, assets, stale)
            return accepted

        return Pending(data, apply)

    def _refuse_new_recording_early(self, site: dict[str, Any], batch: Batch, visit: Visit) -> None:
        """An address that may start no recording now: refuse its batch that would start one
        before it is masked, compressed and queued, so a flood of them costs one indexed read
        each instead of the group writer's time, which every site shares. The group writer
        checks again, exactly (another process or tab may have started the session's
        recording meanwhile)."""
        wait = self.new_recordings.wait(site["id"], visit.ip)
        if not wait or not batch.events:
            return
        live = self.db.one(
            "SELECT 1 AS one FROM recordings "
            "WHERE site_id = :s AND session_id = :sess AND status = 'live'",
            {"s": site["id"], "sess": batch.session_id},
        )
        if live is None:
            self.refusals.add(site["id"], "too_many_new_recordings")
            raise self.new_recordings.refusal(wait)

    def scrub(self, site: dict[str, Any], batch: Batch) -> Batch:
        """The backstop: the site's exclusions and masks applied again, whatever the client did.

        A page that must not be recorded is refused; everything else is masked with the same
        rules the recorder applies in the browser (footage/privacy/masking.py), so an outdated
        or modified recorder cannot store what the site excluded.
        """
        hrefs = [batch.url] + [
            e["data"]["href"]
            for e in batch.events
            if e["type"] == META
            and isinstance(e.get("data"), dict)
            and isinstance(e["data"].get("href"), str)
        ]
        if any(page_excluded(url, site["excluded_pages"]) for url in hrefs):
            raise Forbidden("this page is excluded from recording", code="page_excluded")
        rules = MaskRules(
            forms=bool(site["record_forms"]),
            numbers=bool(site["record_numbers"]),
            all_numbers=bool(site["mask_all_numbers"]),
            emails=bool(site["record_emails"]),
        )
        state = self._mask_state(site["id"], batch.page_id)
        return replace(
            batch,
            events=scrub_events(batch.events, rules, state),
            url=scrub_url(batch.url, rules),
            referrer=scrub_url(batch.referrer, rules),
            title=mask_text(batch.title, rules),
        )

    def _mask_state(self, site_id: str, page_id: str) -> PageMaskState:
        """What earlier batches of this page said about its fields (which are passwords…)."""
        key = (site_id, page_id)
        with self._page_masks_lock:
            state = self._page_masks.pop(key, None) or PageMaskState()
            self._page_masks[key] = state  # most recently used last
            if len(self._page_masks) > MASK_STATE_PAGES:
                self._page_masks.popitem(last=False)
        return state

    def accept(self, batch: Batch, visit: Visit) -> Accepted:
        """Store one batch; returns once it is durable (blocking).

        Raises RecordingLimitReached when the batch would take its recording past a cap.
        """
        result: Accepted = self.writer.submit(self.prepare(batch, visit))
        if result.limit_reached is not None:
            raise result.limit_reached
        return result

    async def accept_async(
        self, batch: Batch, visit: Visit, prepared: Pending | None = None
    ) -> Accepted:
        """Store one batch without a thread of our own: the event loop waits for the group.

        `prepared`: the batch's `prepare`, done by the caller off the event loop (it is CPU).
        """
        pending = prepared or self.prepare(batch, visit)
        self.writer.enqueue(pending)
        result: Accepted = await asyncio.wrap_future(pending.future)
        if result.limit_reached is not None:
            raise result.limit_reached
        return result

    def _apply(
        self,
        conn: Any,
        site: dict[str, Any],
        batch: Batch,
        visit: Visit,
        blob_key: str | None,
        offset: int,
        size: int,
        raw: int,
    ) -> Accepted:
        """The rows of one batch, inside its group's transaction.

        Runs under the batch's own savepoint: whatever it raises leaves nothing of the batch
        in the database, so a refused batch also gives back the new recording it was counted
        for, and refusals are counted for the site's alarm.
        """
        started: list[tuple[str, str] | None] = []
        try:
            return self._apply_rows(conn, site, batch, visit, blob_key, offset, size, raw, started)
        except BaseException as exc:
            for key in started:
                self.new_recordings.give_back(key)
            if isinstance(exc, FootageError):
                self.refusals.add(site["id"], exc.code)
            raise

    def _apply_rows(
        self,
        conn: Any,
        site: dict[str, Any],
        batch: Batch,
        visit: Visit,
        blob_key: str | None,
        offset: int,
        size: int,
        raw: int,
        started: list[tuple[str, str] | None],
    ) -> Accepted:
        now = self.clock.now_ms()
        live = self._touch_live(conn, site["id"], batch.session_id, now, raw)
        if live is not None and (
            live["raw_bytes"] > self.caps.max_bytes or now - live["created_at"] > self.caps.max_ms
        ):
            return self._end_at_cap(conn, live, raw, now)
        if live is not None and batch.events and live["first_event_at"] is not None:
            self._check_times(batch, live["first_event_at"], now - live["created_at"])
        rec = live["id"] if live else None
        if rec is None and not batch.events:
            # Nothing recorded yet and nothing to record (an empty leave beacon). Who the
            # visitor is still lands on their row if we know them: the recorder counts the
            # identity as delivered once this batch is acknowledged.
            if batch.visitor is not None:
                self._identify(conn, site["id"], batch.visitor_id, batch.visitor, now, False)
            return Accepted(None, duplicate=False, stored=False)
        if rec is None:
            # A recording's first batch is always stored, whatever its size: the cap is on
            # what follows, so a recording never ends before it has begun. Its events may
            # not spread over more time than a recording may last.
            self._check_times(batch, None, self.caps.max_ms)
            started.append(self.new_recordings.take(site["id"], visit.ip))
            if not self._create(conn, site, batch, visit, now):
                self.new_recordings.give_back(started.pop())  # another tab's, a moment ago
            live = self._touch_live(conn, site["id"], batch.session_id, now, raw)
            assert live is not None
            rec = live["id"]
        left_at = now if batch.left else None
        # Most batches continue a page view this recording already has: one UPDATE.
        updated = q(
            conn,
            "UPDATE recording_pages SET last_seen_at = :now, "
            "left_at = COALESCE(:left, left_at), "
            "title = CASE WHEN title = '' OR title IS NULL THEN :t ELSE title END "
            "WHERE site_id = :s AND page_id = :p AND recording_id = :r RETURNING page_id",
            now=now,
            left=left_at,
            t=batch.title,
            s=site["id"],
            p=batch.page_id,
            r=rec,
        )
        if not updated:
            if live is not None and self._pages_of(conn, rec) >= self.caps.max_pages:
                return self._end_at_cap(conn, live, raw, now, pages=True)
            self._new_page(conn, site["id"], rec, batch, now, left_at)
        if batch.visitor is not None:
            # Also when the page view existed already: identify() may come at any moment.
            self._identify(conn, site["id"], batch.visitor_id, batch.visitor, now, True)
        if blob_key is not None:
            timestamps = [e["timestamp"] for e in batch.events]
            inserted = q(
                conn,
                "INSERT INTO chunks (recording_id, page_id, seq, blob_key, blob_offset, "
                "blob_length, event_count, raw_bytes, first_ts, last_ts, received_at) "
                "VALUES (:r, :p, :seq, :k, :off, :len, :n, :raw, :first, :last, :now) "
                "ON CONFLICT (recording_id, page_id, seq) DO NOTHING RETURNING seq",
                r=rec,
                p=batch.page_id,
                seq=batch.seq,
                k=blob_key,
                off=offset,
                len=size,
                n=len(batch.events),
                raw=raw,
                first=int(min(timestamps)),
                last=int(max(timestamps)),
                now=now,
            )
            if not inserted:  # the same batch, retried, won a race against itself
                # Its bytes were added to raw_bytes all the same: the cap errs by one batch.
                return Accepted(rec, duplicate=True, stored=False)
        return Accepted(rec, duplicate=False)

    @staticmethod
    def _check_times(batch: Batch, first_event_at: int | None, elapsed_ms: int) -> None:
        """Refuse a batch whose event times fall outside its recording's window.

        The window, on the browser's clock: from the recording's first stored event
        (`first_event_at`) to that plus the server's time since the recording began
        (`elapsed_ms`), widened by CLOCK_SKEW_MS either way. A first batch (`first_event_at`
        None) may spread over at most `elapsed_ms` (the duration cap). A recorder's events
        follow one another as they happen, so only a client other than the recorder lands
        outside; the whole batch is refused rather than stored with times moved, since a
        replay of moved times would be wrong anyway.
        """
        times = [e["timestamp"] for e in batch.events]
        first, last = min(times), max(times)
        if first_event_at is None:
            if last - first <= elapsed_ms:
                return
            raise BadRequest(
                f"the batch's events spread over {_span(last - first)}, longer than a "
                f"recording may last ({_span(elapsed_ms)}); send each event's Date.now() as "
                "it happens, and start a new recording (a new session) for a later visit",
                code="bad_timestamp",
            )
        low = first_event_at - CLOCK_SKEW_MS
        high = first_event_at + max(0, elapsed_ms) + CLOCK_SKEW_MS
        if low <= first and last <= high:
            return
        i, ts = next((i, t) for i, t in enumerate(times) if not low <= t <= high)
        where = (
            f"{_span(first_event_at - ts)} before this recording's first event"
            if ts < low
            else f"{_span(ts - first_event_at)} after this recording's first event, while "
            f"only {_span(max(0, elapsed_ms))} passed on the server's clock since it began"
        )
        raise BadRequest(
            f"events[{i}].timestamp ({ts:.0f}) is {where}; a recording's events carry the "
            "browser's Date.now() as they happen, so they cannot spread over more time than "
            "the recording lasts: start a new recording (a new session) instead",
            code="bad_timestamp",
        )

    @staticmethod
    def _new_page(
        conn: Any, site_id: str, rec: str, batch: Batch, now: int, left_at: int | None
    ) -> None:
        inserted = q(
            conn,
            "INSERT INTO recording_pages (site_id, page_id, recording_id, url, title, "
            "referrer, viewport_width, viewport_height, first_seen_at, last_seen_at, "
            "left_at) VALUES (:s, :p, :r, :u, :t, :ref, :vw, :vh, :now, :now, :left) "
            "ON CONFLICT (site_id, page_id) DO NOTHING RETURNING page_id",
            s=site_id,
            p=batch.page_id,
            r=rec,
            u=batch.url,
            t=batch.title,
            ref=batch.referrer,
            vw=batch.viewport[0] if batch.viewport else None,
            vh=batch.viewport[1] if batch.viewport else None,
            now=now,
            left=left_at,
        )
        if not inserted:  # the page view exists, in a recording that has ended
            raise Conflict(
                "this page view belongs to a recording that has ended; start a new page view",
                code="recording_ended",
            )
        q(
            conn,
            "INSERT INTO visitors (site_id, id, first_seen_at, last_seen_at) "
            "VALUES (:s, :v, :now, :now) "
            "ON CONFLICT (site_id, id) DO UPDATE SET last_seen_at = :now",
            s=site_id,
            v=batch.visitor_id,
            now=now,
        )

    @staticmethod
    def _identify(
        conn: Any, site_id: str, visitor_id: str, who: VisitorInfo, now: int, create: bool
    ) -> None:
        """Store who the visitor is on their row: what this batch says wins, the rest stays.

        The UPDATE takes the row's lock (PostgreSQL) until the batch's transaction ends, so two
        batches merging variables at the same time cannot lose one another's.
        """
        values = {"name": who.name, "email": who.email, "xid": who.external_id}
        rows = q(
            conn,
            "UPDATE visitors SET name = COALESCE(:name, name), "
            "email = COALESCE(:email, email), external_id = COALESCE(:xid, external_id) "
            "WHERE site_id = :s AND id = :v RETURNING variables",
            s=site_id,
            v=visitor_id,
            **values,
        )
        if not rows:
            if not create:
                return
            # The page's upsert normally made the row; this covers a row deleted meanwhile.
            rows = q(
                conn,
                "INSERT INTO visitors (site_id, id, first_seen_at, last_seen_at, name, email, "
                "external_id) VALUES (:s, :v, :now, :now, :name, :email, :xid) "
                "ON CONFLICT (site_id, id) DO UPDATE SET last_seen_at = :now "
                "RETURNING variables",
                s=site_id,
                v=visitor_id,
                now=now,
                **values,
            )
        if who.variables:
            q(
                conn,
                "UPDATE visitors SET variables = :vars WHERE site_id = :s AND id = :v",
                vars=orjson.dumps(merge_variables(rows[0]["variables"], who.variables)).decode(),
                s=site_id,
                v=visitor_id,
            )

    @staticmethod
    def _touch_live(
        conn: Any, site_id: str, session_id: str, now: int, raw: int
    ) -> dict[str, Any] | None:
        """The session's live recording, seen now and `raw` bytes larger: id, created_at,
        raw_bytes (this batch included), first_event_at; None when the session has none."""
        rows = q(
            conn,
            "UPDATE recordings SET last_seen_at = :now, raw_bytes = raw_bytes + :raw "
            "WHERE site_id = :s AND session_id = :sess AND status = 'live' "
            "RETURNING id, created_at, raw_bytes, first_event_at",
            now=now,
            raw=raw,
            s=site_id,
            sess=session_id,
        )
        return rows[0] if rows else None

    @staticmethod
    def _pages_of(conn: Any, recording_id: str) -> int:
        """How many page views a recording has (asked before it gets one more)."""
        rows = q(
            conn,
            "SELECT COUNT(*) AS n FROM recording_pages WHERE recording_id = :r",
            r=recording_id,
        )
        return int(rows[0]["n"])

    def _end_at_cap(
        self, conn: Any, live: dict[str, Any], raw: int, now: int, pages: bool = False
    ) -> Accepted:
        """The batch would take its recording past a cap: end the recording, store nothing.

        The recording becomes *finalizing* with a claim no finalizer holds (claimed_at 0), so
        the next finalizer pass takes it over as it would a dead finalizer's; its page views
        get `recording_ended` from now on, and the session's next batch starts a new one.
        """
        q(
            conn,
            "UPDATE recordings SET status = 'finalizing', claimed_at = 0, "
            "raw_bytes = raw_bytes - :raw WHERE id = :r AND status = 'live'",
            raw=raw,
            r=live["id"],
        )
        if pages:
            limit = f"its limit of {self.caps.max_pages:,} page views"
        elif live["raw_bytes"] > self.caps.max_bytes:
            limit = f"its size limit of {self.caps.max_bytes:,} bytes"
        else:
            hours = self.caps.max_ms / 3_600_000
            limit = f"its duration limit of {hours:g} hour{'' if hours == 1 else 's'}"
        reached = RecordingLimitReached(
            f"this recording reached {limit}; it has ended, start a new recording "
            "(a new session and page view, beginning with a full snapshot) for the rest "
            "of the visit"
        )
        return Accepted(live["id"], duplicate=False, stored=False, limit_reached=reached)

    def _create(
        self, conn: Any, site: dict[str, Any], batch: Batch, visit: Visit, now: int
    ) -> bool:
        """A new live recording for the batch's session, counted in the account's usage;
        False when another tab of the session created it a moment ago."""
        created = q(
            conn,
            "INSERT INTO recordings (id, account_id, site_id, visitor_id, session_id, status, "
            "created_at, last_seen_at, user_agent, ip, ip_key, country, screen_width, "
            "screen_height, first_event_at, counted_day) "
            "VALUES (:id, :a, :s, :v, :sess, 'live', :now, :now, :ua, :ip, :ipk, :c, :sw, :sh, "
            ":first, :day) "
            "ON CONFLICT (site_id, session_id) WHERE status = 'live' DO NOTHING RETURNING id",
            id=new_id("rec"),
            a=site["account_id"],
            s=site["id"],
            v=batch.visitor_id,
            sess=batch.session_id,
            now=now,
            ua=visit.user_agent[:1000],
            # Unless the site keeps IPs, the IP gives the country and is then dropped.
            ip=visit.ip if site["record_ips"] else None,
            ipk=ip_key(visit.ip) if site["record_ips"] else None,
            c=self.geo.country(visit.ip),
            sw=batch.screen[0] if batch.screen else None,
            sh=batch.screen[1] if batch.screen else None,
            first=int(min(e["timestamp"] for e in batch.events)),
            day=day_of(now, site["time_zone"]),
        )
        # Another tab of the same session may have created it a moment ago: count once.
        limit = self.plans.of(site["plan"]).monthly_limit
        if created and not count_new_recording(
            conn, site["account_id"], limit, now, site["time_zone"]
        ):
            raise Forbidden(
                "the account has used all recordings of its plan this month; recording "
                "resumes on the 1st of next month or after an upgrade",
                code="quota_exceeded",
            )
        return bool(created)

    def heartbeat(self, beat: Heartbeat, visit: Visit) -> None:
        site = self.site_for(beat.site_key, visit)
        now = self.clock.now_ms()
        with self.db.write() as conn:
            page = q(
                conn,
                "SELECT p.recording_id, r.status FROM recording_pages p "
                "JOIN recordings r ON r.id = p.recording_id "
                "WHERE p.site_id = :s AND p.page_id = :p",
                s=site["id"],
                p=beat.page_id,
            )
            if not page:
                return  # nothing sent from this page yet; nothing to keep alive
            if page[0]["status"] != "live":
                raise Conflict(
                    "this page view belongs to a recording that has ended; start a new page view",
                    code="recording_ended",
                )
            q(
                conn,
                "UPDATE recording_pages SET last_seen_at = :now "
                "WHERE site_id = :s AND page_id = :p",
                now=now,
                s=site["id"],
                p=beat.page_id,
            )
            q(
                conn,
                "UPDATE recordings SET last_seen_at = :now WHERE id = :r AND status = 'live'",
                now=now,
                r=page[0]["recording_id"],
            )
