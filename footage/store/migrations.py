"""Schema migrations, in order. Plain SQL that SQLite and PostgreSQL both accept.

Times are BIGINT milliseconds since the epoch (UTC); flags are INTEGER 0/1. Never edit a
migration that has shipped: add a new one. A step that SQL cannot say for both databases is a
Python function of (connection, is_sqlite), run inside the same transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import text

from footage.store.ipkey import ip_key

log = logging.getLogger(__name__)

Step = str | Callable[[Any, bool], None]


def _fill_ip_keys(conn: Any, _is_sqlite: bool) -> None:
    """recordings.ip_key for the recordings stored before it existed."""
    rows = conn.execute(text("SELECT id, ip FROM recordings WHERE ip IS NOT NULL")).all()
    keyed = [{"id": r[0], "k": ip_key(r[1])} for r in rows]
    for i in range(0, len(keyed), 5000):
        conn.execute(text("UPDATE recordings SET ip_key = :k WHERE id = :id"), keyed[i : i + 5000])


def _page_url_trigrams(conn: Any, is_sqlite: bool) -> None:
    """PostgreSQL: a trigram index, so `url contains` and `url regex` need not read every page
    of a site (bench/RESULTS.md §6). pg_trgm ships with PostgreSQL and is a trusted extension
    (the database's owner may create it); where it is missing or not allowed, the filters
    still work, only slower, and docs/deploy.md says how to add it later."""
    if is_sqlite:
        return
    try:
        with conn.begin_nested():
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
            conn.execute(
                text(
                    "CREATE INDEX IF NOT EXISTS recording_pages_url_trgm "
                    "ON recording_pages USING gin (url gin_trgm_ops)"
                )
            )
    except Exception as exc:  # noqa: BLE001 — any refusal means: go on without the index
        log.warning(
            "no trigram index on page URLs (%s); visited-page filters will read every page "
            "of a site. See docs/deploy.md, 'PostgreSQL'.",
            str(exc).splitlines()[0],
        )


MIGRATIONS: list[tuple[int, list[Step]]] = [
    (
        1,
        [
            """CREATE TABLE accounts (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                plan TEXT NOT NULL,
                created_at BIGINT NOT NULL
            )""",
            """CREATE TABLE users (
                id TEXT PRIMARY KEY,
                account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
                email TEXT NOT NULL UNIQUE,
                password_hash TEXT NOT NULL,
                role TEXT NOT NULL,
                created_at BIGINT NOT NULL
            )""",
            """CREATE TABLE api_tokens (
                id TEXT PRIMARY KEY,
                account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
                token_hash TEXT NOT NULL UNIQUE,
                name TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                last_used_at BIGINT
            )""",
            """CREATE TABLE login_sessions (
                token_hash TEXT PRIMARY KEY,
                user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                csrf_token TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL
            )""",
            """CREATE TABLE sites (
                id TEXT PRIMARY KEY,
                account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                url TEXT NOT NULL,
                site_key TEXT NOT NULL UNIQUE,
                allowed_origins TEXT NOT NULL,
                recording_enabled INTEGER NOT NULL,
                is_demo INTEGER NOT NULL,
                created_at BIGINT NOT NULL
            )""",
            """CREATE TABLE visitors (
                site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
                id TEXT NOT NULL,
                name TEXT,
                email TEXT,
                first_seen_at BIGINT NOT NULL,
                last_seen_at BIGINT NOT NULL,
                PRIMARY KEY (site_id, id)
            )""",
            """CREATE TABLE recordings (
                id TEXT PRIMARY KEY,
                account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
                site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
                visitor_id TEXT NOT NULL,
                session_id TEXT NOT NULL,
                status TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                last_seen_at BIGINT NOT NULL,
                claimed_at BIGINT,
                finalized_at BIGINT,
                user_agent TEXT,
                ip TEXT,
                country TEXT,
                screen_width INTEGER,
                screen_height INTEGER,
                started_at BIGINT,
                ended_at BIGINT,
                duration_ms BIGINT,
                active_ms BIGINT,
                page_count INTEGER,
                click_count INTEGER,
                rage_click_count INTEGER,
                error_count INTEGER,
                event_count INTEGER,
                entry_url TEXT,
                exit_url TEXT,
                device TEXT,
                browser TEXT,
                os TEXT,
                referrer TEXT,
                utm_source TEXT,
                utm_medium TEXT,
                utm_campaign TEXT,
                utm_term TEXT,
                utm_content TEXT,
                stored_bytes BIGINT,
                conversation_id TEXT
            )""",
            # At most one live recording per browser session: the first batches of two tabs
            # that arrive at once must join the same recording.
            """CREATE UNIQUE INDEX recordings_one_live_per_session
                ON recordings (site_id, session_id) WHERE status = 'live'""",
            "CREATE INDEX recordings_list ON recordings (account_id, status, started_at, id)",
            "CREATE INDEX recordings_lifecycle ON recordings (status, last_seen_at)",
            """CREATE TABLE recording_pages (
                site_id TEXT NOT NULL,
                page_id TEXT NOT NULL,
                recording_id TEXT NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
                url TEXT NOT NULL,
                title TEXT,
                referrer TEXT,
                viewport_width INTEGER,
                viewport_height INTEGER,
                first_seen_at BIGINT NOT NULL,
                last_seen_at BIGINT NOT NULL,
                left_at BIGINT,
                started_at BIGINT,
                PRIMARY KEY (site_id, page_id)
            )""",
            "CREATE INDEX recording_pages_recording ON recording_pages (recording_id)",
            """CREATE TABLE chunks (
                recording_id TEXT NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
                page_id TEXT NOT NULL,
                seq INTEGER NOT NULL,
                blob_key TEXT NOT NULL,
                blob_offset BIGINT NOT NULL,
                blob_length BIGINT NOT NULL,
                event_count INTEGER NOT NULL,
                raw_bytes BIGINT NOT NULL,
                first_ts BIGINT,
                last_ts BIGINT,
                received_at BIGINT NOT NULL,
                PRIMARY KEY (recording_id, page_id, seq)
            )""",
        ],
    ),
    (
        2,
        [
            # One row per account and calendar month; incremented when a recording is created.
            """CREATE TABLE usage_counters (
                account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
                period TEXT NOT NULL,
                used INTEGER NOT NULL,
                PRIMARY KEY (account_id, period)
            )""",
        ],
    ),
    (
        3,
        [
            # Blobs no row refers to any more, deleted by a sweeper. Scheduling the deletion in
            # the transaction that drops the rows means a crash can delay it, never lose it.
            """CREATE TABLE blob_garbage (
                blob_key TEXT PRIMARY KEY,
                created_at BIGINT NOT NULL,
                claimed_at BIGINT
            )""",
        ],
    ),
    (
        4,
        [
            # Segments hold the chunks of many batches written together (group commit); a
            # segment is deleted when the last of its chunks has been merged away.
            """CREATE TABLE segments (
                blob_key TEXT PRIMARY KEY,
                live_chunks INTEGER NOT NULL,
                created_at BIGINT NOT NULL
            )""",
            "CREATE INDEX chunks_blob ON chunks (blob_key)",
        ],
    ),
    (
        5,
        [
            # What each site records (issue: privacy). Defaults are the privacy-friendly ones:
            # typed values, numbers, e-mail addresses and IPs are not recorded.
            "ALTER TABLE sites ADD COLUMN record_mobile INTEGER NOT NULL DEFAULT 1",
            "ALTER TABLE sites ADD COLUMN record_forms INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE sites ADD COLUMN record_numbers INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE sites ADD COLUMN record_emails INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE sites ADD COLUMN record_ips INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE sites ADD COLUMN excluded_pages TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE sites ADD COLUMN excluded_visitors TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE sites ADD COLUMN respect_do_not_track INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE sites ADD COLUMN require_consent INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE sites ADD COLUMN settings_updated_at BIGINT",
            "CREATE INDEX recordings_visitor ON recordings (site_id, visitor_id)",
            "CREATE INDEX visitors_email ON visitors (email)",
            # What was done to an account's data, and by whom; never personal data of visitors.
            """CREATE TABLE audit_log (
                id TEXT PRIMARY KEY,
                account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
                at BIGINT NOT NULL,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                detail TEXT NOT NULL
            )""",
            "CREATE INDEX audit_log_account ON audit_log (account_id, at)",
        ],
    ),
    (
        6,
        [
            # Usage periods are calendar months in the account's time zone.
            "ALTER TABLE accounts ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC'",
            # Recordings started per day, for the usage chart: the recordings themselves are
            # deleted after the retention period, the count of the month must not be.
            """CREATE TABLE usage_daily (
                account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
                day TEXT NOT NULL,
                used INTEGER NOT NULL,
                PRIMARY KEY (account_id, day)
            )""",
            "CREATE INDEX recordings_retention ON recordings (created_at)",
        ],
    ),
    (
        7,
        [
            # Who the visitor is, as the site told us (footage('identify' | 'name' | 'email' |
            # 'variables')): not masked, erased with the visitor.
            "ALTER TABLE visitors ADD COLUMN external_id TEXT",
            "ALTER TABLE visitors ADD COLUMN variables TEXT",
            # Whether the visitor had an earlier recording on the site (set at finalize).
            "ALTER TABLE recordings ADD COLUMN returning_visitor INTEGER",
            # The moments of a recording worth jumping to, found at finalize: page entries,
            # clicks flagged as rage clicks, JavaScript errors, custom events (with their
            # name and properties as JSON). Filters and the player's list of matches read them.
            """CREATE TABLE recording_moments (
                recording_id TEXT NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
                kind TEXT NOT NULL,
                at BIGINT NOT NULL,
                name TEXT,
                detail TEXT
            )""",
            "CREATE INDEX recording_moments_recording ON recording_moments (recording_id, kind)",
            "CREATE INDEX recording_moments_name ON recording_moments (kind, name)",
            # Named filter sets of a site, shared by the account's users.
            """CREATE TABLE saved_segments (
                id TEXT PRIMARY KEY,
                account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
                site_id TEXT REFERENCES sites(id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                query TEXT NOT NULL,
                created_by TEXT,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )""",
            "CREATE INDEX saved_segments_account ON saved_segments (account_id, name)",
        ],
    ),
    (
        8,
        [
            # The recordings list, per site, in each sort order (bench/RESULTS.md §6: without
            # them a site's list walks every recording of the account).
            "CREATE INDEX IF NOT EXISTS recordings_site_newest "
            "ON recordings (site_id, status, started_at, id)",
            "CREATE INDEX IF NOT EXISTS recordings_site_longest "
            "ON recordings (site_id, status, duration_ms, id)",
            "CREATE INDEX IF NOT EXISTS recordings_site_most_active "
            "ON recordings (site_id, status, active_ms, id)",
            "CREATE INDEX IF NOT EXISTS recordings_account_longest "
            "ON recordings (account_id, status, duration_ms, id)",
            "CREATE INDEX IF NOT EXISTS recordings_account_most_active "
            "ON recordings (account_id, status, active_ms, id)",
            # Event filters probe (kind, name) for one recording: the recording id belongs in
            # the index, or the planner walks every event of that name per recording.
            "DROP INDEX IF EXISTS recording_moments_name",
            "CREATE INDEX IF NOT EXISTS recording_moments_event "
            "ON recording_moments (kind, name, recording_id)",
            "CREATE INDEX IF NOT EXISTS visitors_external_id ON visitors (external_id)",
            "CREATE INDEX IF NOT EXISTS recording_pages_site_url "
            "ON recording_pages (site_id, url, recording_id)",
        ],
    ),
    (
        9,
        [
            # Event filters look at one site's events: without the site on the moment, a rare
            # property value means reading every event of that name in the account.
            "ALTER TABLE recording_moments ADD COLUMN site_id TEXT",
            "UPDATE recording_moments SET site_id = (SELECT r.site_id FROM recordings r "
            "WHERE r.id = recording_moments.recording_id)",
            "DROP INDEX IF EXISTS recording_moments_event",
            "CREATE INDEX recording_moments_site_event "
            "ON recording_moments (site_id, kind, name, recording_id)",
            # IP ranges as a range of one index (store/ipkey.py) on both databases.
            "ALTER TABLE recordings ADD COLUMN ip_key TEXT",
            _fill_ip_keys,
            "CREATE INDEX recordings_site_ip ON recordings (site_id, ip_key)",
            # A country nobody of the site came from is then known at once, instead of
            # after reading each of the site's recordings.
            "CREATE INDEX recordings_site_country ON recordings (site_id, country, started_at)",
            _page_url_trigrams,
        ],
    ),
    (
        10,
        [
            # Share links (footage/share): a recording anyone with the link may play. Only a
            # hash of the token is kept. A link dies with its recording (retention, erasure);
            # expires_at NULL means "until the recording is deleted".
            """CREATE TABLE share_links (
                id TEXT PRIMARY KEY,
                account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
                recording_id TEXT NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
                token_hash TEXT NOT NULL UNIQUE,
                start_ms BIGINT NOT NULL,
                created_by_user TEXT REFERENCES users(id) ON DELETE SET NULL,
                created_by_token TEXT REFERENCES api_tokens(id) ON DELETE SET NULL,
                created_at BIGINT NOT NULL,
                expires_at BIGINT,
                revoked_at BIGINT,
                views INTEGER NOT NULL DEFAULT 0,
                last_viewed_at BIGINT
            )""",
            # For the cascade from recordings, and a recording's list of links.
            "CREATE INDEX share_links_recording ON share_links (recording_id, created_at)",
        ],
    ),
    (
        11,
        [
            # Videos (MP4) of recordings, rendered by a background job: one row per recording
            # and set of options (JSON text: width, skip_inactivity). A render is claimed with
            # a conditional UPDATE; `heartbeat_at` moves with the progress, so a render whose
            # process died is taken over once it stops moving. The file is a blob, deleted
            # with the recording (store/deletion.py).
            """CREATE TABLE recording_videos (
                id TEXT PRIMARY KEY,
                recording_id TEXT NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
                account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
                options TEXT NOT NULL,
                status TEXT NOT NULL,
                progress INTEGER NOT NULL DEFAULT 0,
                attempts INTEGER NOT NULL DEFAULT 0,
                claim TEXT,
                blob_key TEXT,
                size BIGINT,
                error TEXT,
                requested_by TEXT,
                created_at BIGINT NOT NULL,
                claimed_at BIGINT,
                heartbeat_at BIGINT,
                finished_at BIGINT
            )""",
            "CREATE UNIQUE INDEX recording_videos_options "
            "ON recording_videos (recording_id, options)",
            "CREATE INDEX recording_videos_queue ON recording_videos (status, created_at)",
        ],
    ),
    (
        12,
        [
            # Conversations (footage/conversations): chat between a site's visitor and the
            # account's agents, from footage.js or from another chat product through the API.
            # `visitor_token_hash` is the hash of the secret the visitor's browser holds, so
            # one visitor can never read another's conversation. `message_count` numbers the
            # messages (taken under the row's lock), and `read_seq` is the last one an agent saw.
            "ALTER TABLE sites ADD COLUMN chat_enabled INTEGER NOT NULL DEFAULT 0",
            """CREATE TABLE conversations (
                id TEXT PRIMARY KEY,
                account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
                site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
                visitor_id TEXT NOT NULL,
                source TEXT NOT NULL,
                external_id TEXT,
                visitor_token_hash TEXT UNIQUE,
                started_at BIGINT NOT NULL,
                last_message_at BIGINT NOT NULL,
                message_count INTEGER NOT NULL DEFAULT 0,
                last_visitor_seq INTEGER NOT NULL DEFAULT 0,
                read_seq INTEGER NOT NULL DEFAULT 0,
                created_at BIGINT NOT NULL
            )""",
            "CREATE INDEX conversations_account ON conversations (account_id, last_message_at)",
            "CREATE INDEX conversations_visitor ON conversations (site_id, visitor_id, started_at)",
            "CREATE UNIQUE INDEX conversations_external ON conversations (account_id, external_id)",
            # `message_key` makes a re-sent message a no-op (the widget's message id, or the
            # external product's id, or a hash of sender, time and text).
            """CREATE TABLE conversation_messages (
                conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
                seq INTEGER NOT NULL,
                sender TEXT NOT NULL,
                author TEXT,
                text TEXT NOT NULL,
                at BIGINT NOT NULL,
                received_at BIGINT NOT NULL,
                message_key TEXT NOT NULL,
                PRIMARY KEY (conversation_id, seq)
            )""",
            "CREATE UNIQUE INDEX conversation_messages_key "
            "ON conversation_messages (conversation_id, message_key)",
            "CREATE INDEX recordings_conversation ON recordings (conversation_id)",
        ],
    ),
    (
        13,
        [
            # The size of a recording's events before compression (the sum of its chunks'
            # raw_bytes), kept by ingest so the per-recording cap costs no extra query.
            "ALTER TABLE recordings ADD COLUMN raw_bytes BIGINT NOT NULL DEFAULT 0",
        ],
    ),
    (
        14,
        [
            # Failed dashboard logins, counted per account e-mail (`email:…`) and per client
            # address (`ip:…`) in the database, so every `footage serve` process sees the same
            # count (accounts/throttle.py). A row lives for one window after its first failure.
            """CREATE TABLE login_failures (
                key TEXT PRIMARY KEY,
                failures INTEGER NOT NULL,
                first_at BIGINT NOT NULL
            )""",
            # A revoked API token answers 401 at once; the row stays for the audit log's ids.
            "ALTER TABLE api_tokens ADD COLUMN revoked_at BIGINT",
        ],
    ),
    (
        15,
        [
            # Frustration signals (heatmaps/analysis.py), counted per recording for the list
            # and its filters; `analysed` is the analysis version that wrote a recording's
            # heatmap rows (0: none yet; the background backfill analyses those).
            "ALTER TABLE recordings ADD COLUMN dead_click_count INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE recordings ADD COLUMN error_click_count INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE recordings ADD COLUMN quick_back_count INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE recordings ADD COLUMN excessive_scroll_count INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE recordings ADD COLUMN analysed INTEGER NOT NULL DEFAULT 0",
            "CREATE INDEX recordings_analysed ON recordings (analysed, status)",
            # One row per page view of a ready recording, and one per click: what the
            # aggregates below were made of, so deleting a recording takes its share out.
            # `page_key` is the address without scheme, query and fragment; `day` the
            # recording's start in days since the epoch (UTC).
            """CREATE TABLE page_view_stats (
                recording_id TEXT NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
                site_id TEXT NOT NULL,
                page_key TEXT NOT NULL,
                url TEXT NOT NULL,
                device TEXT NOT NULL,
                day INTEGER NOT NULL,
                started_at BIGINT NOT NULL,
                width INTEGER NOT NULL,
                height INTEGER NOT NULL,
                max_depth INTEGER NOT NULL,
                exited INTEGER NOT NULL,
                quick_back INTEGER NOT NULL,
                excessive_scrolls INTEGER NOT NULL,
                clicks INTEGER NOT NULL,
                rage_clicks INTEGER NOT NULL,
                dead_clicks INTEGER NOT NULL,
                error_clicks INTEGER NOT NULL
            )""",
            "CREATE INDEX page_view_stats_recording ON page_view_stats (recording_id)",
            "CREATE INDEX page_view_stats_snapshot "
            "ON page_view_stats (site_id, page_key, device, width, started_at)",
            # `x` is measured from the middle of the visitor's window (centred layouts line
            # up at every width), `y` from the top of the page.
            """CREATE TABLE recording_clicks (
                recording_id TEXT NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
                site_id TEXT NOT NULL,
                page_key TEXT NOT NULL,
                device TEXT NOT NULL,
                day INTEGER NOT NULL,
                at BIGINT NOT NULL,
                x INTEGER NOT NULL,
                y INTEGER NOT NULL,
                width INTEGER NOT NULL,
                selector TEXT NOT NULL,
                text TEXT NOT NULL,
                flags INTEGER NOT NULL
            )""",
            "CREATE INDEX recording_clicks_recording ON recording_clicks (recording_id)",
            "CREATE INDEX recording_clicks_place "
            "ON recording_clicks (site_id, page_key, device, y)",
            "CREATE INDEX recording_clicks_element "
            "ON recording_clicks (site_id, page_key, selector)",
            # The aggregates a heatmap and the Pages report read, per site, page, device and
            # day: clicks per 10 px cell, clicks per element, page views per depth reached
            # (50 px steps) and per window width, and each page's views and signals.
            """CREATE TABLE heatmap_cells (
                site_id TEXT NOT NULL,
                page_key TEXT NOT NULL,
                device TEXT NOT NULL,
                day INTEGER NOT NULL,
                x INTEGER NOT NULL,
                y INTEGER NOT NULL,
                clicks INTEGER NOT NULL,
                PRIMARY KEY (site_id, page_key, device, day, x, y)
            )""",
            """CREATE TABLE heatmap_elements (
                site_id TEXT NOT NULL,
                page_key TEXT NOT NULL,
                device TEXT NOT NULL,
                day INTEGER NOT NULL,
                selector TEXT NOT NULL,
                text TEXT NOT NULL,
                clicks INTEGER NOT NULL,
                rage_clicks INTEGER NOT NULL,
                dead_clicks INTEGER NOT NULL,
                error_clicks INTEGER NOT NULL,
                PRIMARY KEY (site_id, page_key, device, day, selector)
            )""",
            """CREATE TABLE heatmap_depths (
                site_id TEXT NOT NULL,
                page_key TEXT NOT NULL,
                device TEXT NOT NULL,
                day INTEGER NOT NULL,
                depth INTEGER NOT NULL,
                views INTEGER NOT NULL,
                PRIMARY KEY (site_id, page_key, device, day, depth)
            )""",
            """CREATE TABLE heatmap_widths (
                site_id TEXT NOT NULL,
                page_key TEXT NOT NULL,
                device TEXT NOT NULL,
                day INTEGER NOT NULL,
                width INTEGER NOT NULL,
                views INTEGER NOT NULL,
                PRIMARY KEY (site_id, page_key, device, day, width)
            )""",
            """CREATE TABLE page_stats (
                site_id TEXT NOT NULL,
                page_key TEXT NOT NULL,
                device TEXT NOT NULL,
                day INTEGER NOT NULL,
                views INTEGER NOT NULL,
                exits INTEGER NOT NULL,
                quick_backs INTEGER NOT NULL,
                excessive_scrolls INTEGER NOT NULL,
                clicks INTEGER NOT NULL,
                rage_clicks INTEGER NOT NULL,
                dead_clicks INTEGER NOT NULL,
                error_clicks INTEGER NOT NULL,
                PRIMARY KEY (site_id, page_key, device, day)
            )""",
            "CREATE INDEX page_stats_day ON page_stats (site_id, day)",
        ],
    ),
    (
        16,
        [
            # Bounded time per recording (ingest/writer.py): the browser's time of the
            # recording's first stored event. Later batches must fall within the server's
            # time since then (plus a skew allowance) on this clock, so one recording cannot
            # span years. NULL for recordings stored before.
            "ALTER TABLE recordings ADD COLUMN first_event_at BIGINT",
            # The day (YYYY-MM-DD, the account's time zone) whose usage counted this
            # recording; NULL when it was given back (a recording of a single batch) or
            # counted before this column existed.
            "ALTER TABLE recordings ADD COLUMN counted_day TEXT",
            # Batches refused per site, clock hour (ms // 3,600,000) and reason, for the
            # alarm on the dashboard (ingest/refusals.py). Kept for two days.
            """CREATE TABLE site_refusals (
                site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
                hour BIGINT NOT NULL,
                reason TEXT NOT NULL,
                refused INTEGER NOT NULL,
                PRIMARY KEY (site_id, hour, reason)
            )""",
        ],
    ),
    (
        17,
        [
            # Fair MP4 renders (downloads/videos.py): an account's renders queued or running
            # are counted on every request (at most video_renders_per_account), and the next
            # render goes to the account with the fewest started recently.
            "CREATE INDEX recording_videos_account "
            "ON recording_videos (account_id, status, claimed_at)",
        ],
    ),
    (
        18,
        [
            # The retention sweeper deletes the conversations whose last message is older
            # than conversation_retention_days, oldest first (retention/sweeper.py).
            "CREATE INDEX conversations_last_message ON conversations (last_message_at, id)",
        ],
    ),
    (
        19,
        [
            # The merged blob's pieces (store/chunks.py): JSON, one entry per zstd frame —
            # times, byte range, event count, whether it opens with a full snapshot. NULL for
            # blobs merged before pieces: they play as one piece.
            "ALTER TABLE chunks ADD COLUMN pieces TEXT",
        ],
    ),
    (
        20,
        [
            # Canvas pictures (web/src/canvas.ts), on unless the site switches them off.
            "ALTER TABLE sites ADD COLUMN record_canvas INTEGER NOT NULL DEFAULT 1",
        ],
    ),
    (
        21,
        [
            # Assets kept with recordings (footage/assets/): a site's stylesheets, images and
            # fonts by address, the latest copy Footage took of each and whether it has to be
            # taken again (`state`: pending, fetching, stored, refused). One row per address,
            # whatever the number of visitors: the copy is taken again at most every
            # asset_fresh_seconds.
            """CREATE TABLE site_assets (
                site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
                url TEXT NOT NULL,
                state TEXT NOT NULL,
                hash TEXT,
                etag TEXT,
                reason TEXT,
                fetched_at BIGINT,
                claimed_at BIGINT,
                PRIMARY KEY (site_id, url)
            )""",
            "CREATE INDEX site_assets_state ON site_assets (state, claimed_at)",
            # The copies themselves, by SHA-256 of their bytes: stored once per site
            # (blob `assets/<site>/<hash>`). `children`: the copies a stylesheet's copy
            # points at (space-separated hashes), kept as long as the stylesheet is.
            """CREATE TABLE asset_copies (
                site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
                hash TEXT NOT NULL,
                content_type TEXT NOT NULL,
                bytes BIGINT NOT NULL,
                children TEXT NOT NULL DEFAULT '',
                created_at BIGINT NOT NULL,
                PRIMARY KEY (site_id, hash)
            )""",
            # Which copy a recording shows for each address it used: taken while the visitor
            # was on the page, so a later change of the site does not change the replay.
            # `hash` is NULL until the copy is there, and stays NULL when it was refused.
            """CREATE TABLE recording_assets (
                recording_id TEXT NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
                site_id TEXT NOT NULL,
                url TEXT NOT NULL,
                state TEXT NOT NULL DEFAULT 'pending',
                hash TEXT,
                PRIMARY KEY (recording_id, url)
            )""",
            "CREATE INDEX recording_assets_pending ON recording_assets (state, site_id, url)",
            "CREATE INDEX recording_assets_hash ON recording_assets (site_id, hash)",
        ],
    ),
    (
        22,
        [
            # Numbers in page text: with record_numbers off, only those that identify people
            # are masked (privacy/masking.py), unless the site asks for every digit.
            "ALTER TABLE sites ADD COLUMN mask_all_numbers INTEGER NOT NULL DEFAULT 0",
        ],
    ),
    (
        23,
        [
            # Which recordings each dashboard user has opened in the player: the list marks
            # them "Watched" for that user (recordings/watched.py).
            """CREATE TABLE recording_views (
                user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                recording_id TEXT NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
                viewed_at BIGINT NOT NULL,
                PRIMARY KEY (user_id, recording_id)
            )""",
            "CREATE INDEX recording_views_recording ON recording_views (recording_id)",
        ],
    ),
    (
        24,
        [
            # How many addresses of a site wait to be fetched: bounded per site
            # (assets/store.py), counted at every batch that uses new addresses.
            "CREATE INDEX site_assets_waiting ON site_assets (site_id, state)",
        ],
    ),
    (
        25,
        [
            # Who watches a visitor live (footage/live): each open live view renews its row
            # every few seconds; the recorder of a watched visitor sends small batches about
            # every second while a row is unexpired (footage/sessions/watching.py).
            """CREATE TABLE live_watches (
                site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
                visitor_id TEXT NOT NULL,
                user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                expires_at BIGINT NOT NULL,
                PRIMARY KEY (site_id, visitor_id, user_id)
            )""",
            "CREATE INDEX live_watches_expiry ON live_watches (expires_at)",
        ],
    ),
    (
        26,
        [
            # How many times finalizers have claimed a recording: after a failed or killed
            # attempt the next waits longer and longer (sessions/finalizer.py RETRY_LEASES).
            "ALTER TABLE recordings ADD COLUMN finalize_attempts INTEGER NOT NULL DEFAULT 0",
            # A claim held while this migration ran counts as the first attempt: it keeps
            # its lease (a claim of 0, a recording ended at its cap, needs none).
            "UPDATE recordings SET finalize_attempts = 1 "
            "WHERE status = 'finalizing' AND claimed_at > 0",
        ],
    ),
]
