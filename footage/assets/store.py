"""The rows of kept assets: what recordings asked for, the copies taken, and their deletion.

Three tables (migration 21): `site_assets` is one row per address of a site, the work queue
and the latest copy; `asset_copies` the copies by hash, stored once per site whatever the
number of visitors; `recording_assets` the copy each recording shows for each address,
fixed while the visitor was there. A copy no recording (and no address) points at any more is
deleted by `sweep`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from footage.store import garbage
from footage.store.blobs import BlobStore
from footage.store.db import Database, q, sql_text

PENDING, FETCHING, STORED, REFUSED = "pending", "fetching", "stored", "refused"
# What one visitor can make Footage fetch. A page uses tens of assets, a long visit a few
# hundred; the addresses are the visitor's to write, so one recording asks for at most this
# many (the rest replay from the site)...
MAX_ADDRESSES_PER_RECORDING = 1_000
# ...and a site has at most this many addresses waiting for the server to fetch them: beyond
# it new addresses wait for the visitor's browser to send them (copies.ts) rather than
# queueing more requests to the site. The queue drains in seconds when the site answers.
MAX_WAITING_PER_SITE = 500


def copy_key(site_id: str, digest: str) -> str:
    """The blob of one copy."""
    return f"assets/{site_id}/{digest}"


def ask_for(conn: Any, site_id: str, recording_id: str, urls: list[str], stale_before: int) -> None:
    """Inside the batch's transaction: the recording uses these addresses. Each is copied
    unless the site's copy was taken after `stale_before` (then the recording gets that one).
    Within MAX_ADDRESSES_PER_RECORDING and MAX_WAITING_PER_SITE: an address beyond the
    first is not recorded at all; one beyond the second is the browser's to send."""
    if not urls:
        return
    asked = q(
        conn,
        "SELECT COUNT(*) AS n FROM recording_assets WHERE recording_id = :r",
        r=recording_id,
    )[0]["n"]
    urls = urls[: max(0, MAX_ADDRESSES_PER_RECORDING - int(asked))]
    if not urls:
        return
    conn.execute(
        sql_text(
            "INSERT INTO recording_assets (recording_id, site_id, url, state) "
            "VALUES (:r, :s, :u, 'pending') ON CONFLICT (recording_id, url) DO NOTHING"
        ),
        [{"r": recording_id, "s": site_id, "u": url} for url in urls],
    )
    waiting = q(
        conn,
        "SELECT COUNT(*) AS n FROM (SELECT 1 FROM site_assets WHERE site_id = :s "
        "AND state = 'pending' LIMIT :cap) AS w",
        s=site_id,
        cap=MAX_WAITING_PER_SITE,
    )[0]["n"]
    urls = urls[: max(0, MAX_WAITING_PER_SITE - int(waiting))]
    if not urls:
        return
    conn.execute(
        sql_text(
            "INSERT INTO site_assets (site_id, url, state) VALUES (:s, :u, 'pending') "
            "ON CONFLICT (site_id, url) DO UPDATE SET state = 'pending', claimed_at = NULL "
            "WHERE site_assets.state IN ('stored', 'refused') "
            "AND site_assets.fetched_at < :stale"
        ),
        [{"s": site_id, "u": url, "stale": stale_before} for url in urls],
    )


def settle(db: Database) -> int:
    """Recordings waiting for an address whose copy is taken (or refused) get it; returns how
    many addresses of recordings were settled."""
    where = (
        "FROM site_assets sa WHERE sa.site_id = recording_assets.site_id "
        "AND sa.url = recording_assets.url"
    )
    return db.run(
        f"UPDATE recording_assets SET state = (SELECT sa.state {where}), "
        f"hash = (SELECT sa.hash {where}) "
        f"WHERE state = 'pending' "
        f"AND EXISTS (SELECT 1 {where} AND sa.state IN ('stored', 'refused'))"
    )


def claim(db: Database, now: int, lease_ms: int, limit: int = 20) -> list[dict[str, Any]]:
    """Addresses to copy now, claimed for `lease_ms` (a process that dies gives them back)."""
    with db.write() as conn:
        return q(
            conn,
            "UPDATE site_assets SET state = 'fetching', claimed_at = :now "
            "WHERE (site_id, url) IN (SELECT site_id, url FROM site_assets "
            "WHERE state = 'pending' OR (state = 'fetching' AND claimed_at < :stale) "
            f"LIMIT :n {db.skip_locked()}) "
            "RETURNING site_id, url, etag, hash",
            now=now,
            stale=now - lease_ms,
            n=limit,
        )


def keep_copy(
    db: Database,
    blobs: BlobStore,
    site_id: str,
    body: bytes,
    content_type: str,
    children: Iterable[str],
    now: int,
) -> str:
    """Store a copy unless the site has these bytes already; returns its hash."""
    digest = hashlib.sha256(body).hexdigest()
    if not has_copy(db, site_id, digest):
        blobs.put(copy_key(site_id, digest), body)  # before its row: a row always has its blob
        db.run(
            "INSERT INTO asset_copies (site_id, hash, content_type, bytes, children, created_at) "
            "VALUES (:s, :h, :t, :b, :c, :now) ON CONFLICT (site_id, hash) DO NOTHING",
            {
                "s": site_id,
                "h": digest,
                "t": content_type,
                "b": len(body),
                "c": " ".join(sorted(set(children))),
                "now": now,
            },
        )
    return digest


def has_copy(db: Database, site_id: str, digest: str) -> bool:
    """Whether the site has a copy with these bytes."""
    row = db.one(
        "SELECT 1 AS one FROM asset_copies WHERE site_id = :s AND hash = :h",
        {"s": site_id, "h": digest},
    )
    return row is not None


def shown_by(db: Database, recording_id: str, url: str, digest: str) -> None:
    """The recording shows this copy for this address: the one its visitor's browser had
    (it takes the place of the server's, which may differ from what the visitor got)."""
    db.run(
        "UPDATE recording_assets SET state = 'stored', hash = :h "
        "WHERE recording_id = :r AND url = :u",
        {"r": recording_id, "u": url, "h": digest},
    )


def copied(db: Database, site_id: str, url: str, digest: str, etag: str | None, now: int) -> None:
    """The address's copy is taken (or the site said it has not changed)."""
    db.run(
        "INSERT INTO site_assets (site_id, url, state, hash, etag, fetched_at) "
        "VALUES (:s, :u, 'stored', :h, :e, :now) ON CONFLICT (site_id, url) DO UPDATE SET "
        "state = 'stored', hash = :h, etag = :e, reason = NULL, fetched_at = :now, "
        "claimed_at = NULL",
        {"s": site_id, "u": url, "h": digest, "e": etag, "now": now},
    )


def refused(db: Database, site_id: str, url: str, reason: str, now: int) -> None:
    """The address is not copied (the replay loads it from the site, as before)."""
    db.run(
        "UPDATE site_assets SET state = 'refused', hash = NULL, etag = NULL, reason = :why, "
        "fetched_at = :now, claimed_at = NULL WHERE site_id = :s AND url = :u",
        {"s": site_id, "u": url, "why": reason[:300], "now": now},
    )


def copy_of(db: Database, site_id: str, url: str) -> dict[str, Any] | None:
    """The site's latest copy of an address, when taken."""
    return db.one(
        "SELECT hash, etag, fetched_at FROM site_assets "
        "WHERE site_id = :s AND url = :u AND state = 'stored'",
        {"s": site_id, "u": url},
    )


def served_copy(db: Database, site_key: str, digest: str) -> dict[str, Any] | None:
    """A stored copy of the site with this key: its site, type and size."""
    return db.one(
        "SELECT c.site_id, c.content_type, c.bytes FROM asset_copies c "
        "JOIN sites s ON s.id = c.site_id WHERE s.site_key = :k AND c.hash = :h",
        {"k": site_key, "h": digest},
    )


def for_recording(db: Database, recording_id: str) -> dict[str, str]:
    """The copies a recording shows: the site's address → the copy's address on Footage
    (what the player puts in its place)."""
    rows = db.all(
        "SELECT ra.url, ra.hash, s.site_key FROM recording_assets ra "
        "JOIN sites s ON s.id = ra.site_id "
        "WHERE ra.recording_id = :r AND ra.state = 'stored' AND ra.hash IS NOT NULL",
        {"r": recording_id},
    )
    return {r["url"]: f"/site-assets/{r['site_key']}/{r['hash']}" for r in rows}


def bytes_of(db: Database, site_id: str) -> dict[str, int]:
    """The copies a site keeps: how many, and their bytes."""
    row = db.one(
        "SELECT COUNT(*) AS copies, COALESCE(SUM(bytes), 0) AS bytes FROM asset_copies "
        "WHERE site_id = :s",
        {"s": site_id},
    )
    return {"copies": int(row["copies"]), "bytes": int(row["bytes"])} if row else {}


def bytes_of_account(db: Database, account_id: str) -> dict[str, int]:
    """The copies an account's sites keep: how many, and their bytes (its storage)."""
    row = db.one(
        "SELECT COUNT(*) AS copies, COALESCE(SUM(c.bytes), 0) AS bytes FROM asset_copies c "
        "JOIN sites s ON s.id = c.site_id WHERE s.account_id = :a",
        {"a": account_id},
    )
    return {"copies": int(row["copies"]), "bytes": int(row["bytes"])} if row else {}


def sweep(db: Database, blobs: BlobStore, now: int, grace_ms: int) -> int:
    """Delete the copies that no recording and no address points at any more (nor a kept
    stylesheet's copy), created before `now - grace_ms`; returns how many.

    An address no recording uses any more goes first (copied before `now - grace_ms`): its
    latest copy would otherwise outlive every recording that showed it (a visitor's erased
    recording included)."""
    deleted: list[str] = []
    sites = [r["site_id"] for r in db.all("SELECT DISTINCT site_id FROM asset_copies")]
    for site_id in sites:
        with db.write() as conn:
            q(
                conn,
                "DELETE FROM site_assets WHERE site_id = :s AND state IN ('stored', 'refused') "
                "AND fetched_at < :old AND NOT EXISTS (SELECT 1 FROM recording_assets ra "
                "WHERE ra.site_id = site_assets.site_id AND ra.url = site_assets.url)",
                s=site_id,
                old=now - grace_ms,
            )
            copies = {
                r["hash"]: r
                for r in q(
                    conn,
                    "SELECT hash, children, created_at FROM asset_copies WHERE site_id = :s",
                    s=site_id,
                )
            }
            kept = {
                r["hash"]
                for r in q(
                    conn,
                    "SELECT hash FROM recording_assets WHERE site_id = :s AND hash IS NOT NULL "
                    "UNION SELECT hash FROM site_assets WHERE site_id = :s AND hash IS NOT NULL",
                    s=site_id,
                )
            }
            todo = list(kept)
            while todo:  # a stylesheet keeps the copies it points at (and theirs: @import)
                row = copies.get(todo.pop())
                for child in (row["children"] if row else "").split():
                    if child not in kept:
                        kept.add(child)
                        todo.append(child)
            gone = [
                h for h, r in copies.items() if h not in kept and r["created_at"] < now - grace_ms
            ]
            for digest in gone:
                q(
                    conn,
                    "DELETE FROM asset_copies WHERE site_id = :s AND hash = :h",
                    s=site_id,
                    h=digest,
                )
            keys = [copy_key(site_id, h) for h in gone]
            garbage.schedule(conn, keys, now)
        garbage.delete_now(db, blobs, keys)
        deleted.extend(keys)
    return len(deleted)
