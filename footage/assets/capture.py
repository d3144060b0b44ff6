"""Taking the copies: a thread of `serve` (or `worker`) that copies the addresses recordings
asked for, from the site's allowed origins only (fetch.py keeps it from reaching anything
else), while the visitor is still on the page.

A stylesheet's copy has its own `url()`s and `@import`s copied too (two levels deep) and
rewritten to their copies' hashes, relative: the copy is served at
`/site-assets/<site key>/<hash>`, so `url("<hash>")` inside it is its neighbour. What could not
be copied keeps its absolute address and loads from the site, as before.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

from footage.assets import store
from footage.assets.extract import keepable
from footage.assets.fetch import AssetRefused, FetchPolicy, fetch_asset
from footage.clock import Clock
from footage.settings import Settings
from footage.store.blobs import BlobStore
from footage.store.db import Database

log = logging.getLogger(__name__)

LEASE_MS = 120_000  # an address claimed by a process that died is copied by another after this
MAX_CHILDREN = 100  # a stylesheet's own assets copied at most
MAX_DEPTH = 2  # a stylesheet, the one it imports, and their images and fonts

_CSS_REFERENCE = re.compile(
    r"""(url\(\s*)(?:"((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)'|((?:[^'"()\s\\]|\\.)*))(\s*\))"""
    r"""|(@import\s+)(["'])([^"'\n]*)\7""",
    re.IGNORECASE | re.DOTALL,
)


def site_origins(site: dict[str, Any]) -> tuple[str, ...]:
    """Where copies of a site's assets may be taken: its allowed origins, else its address's."""
    allowed = [o.strip().rstrip("/").lower() for o in site["allowed_origins"].splitlines()]
    allowed = [o for o in allowed if o]
    if not allowed and site.get("url"):
        parts = urlsplit(site["url"])
        if parts.scheme in ("http", "https") and parts.netloc:
            allowed.append(f"{parts.scheme}://{parts.netloc}".lower())
    return tuple(allowed)


class AssetCapture:
    """Copies what recordings ask for, in a thread of its own started by `kick`."""

    def __init__(self, db: Database, blobs: BlobStore, clock: Clock, settings: Settings) -> None:
        self.db, self.blobs, self.clock, self.settings = db, blobs, clock, settings
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._sites: dict[str, dict[str, Any] | None] = {}

    def kick(self, should_stop: Callable[[], bool] = lambda: False) -> None:
        """Settle what is copied already; start copying in the background if anything waits."""
        store.settle(self.db)
        if self._thread is not None and self._thread.is_alive():
            return
        if self._stopping.is_set() or not self._waiting():
            return
        self._thread = threading.Thread(
            target=self.run_once,
            kwargs={"should_stop": lambda: should_stop() or self._stopping.is_set()},
            name="footage-assets",
            daemon=True,
        )
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _waiting(self) -> bool:
        stale = self.clock.now_ms() - LEASE_MS
        return (
            self.db.one(
                "SELECT 1 AS one FROM site_assets WHERE state = 'pending' "
                "OR (state = 'fetching' AND claimed_at < :stale) LIMIT 1",
                {"stale": stale},
            )
            is not None
        )

    def run_once(self, should_stop: Callable[[], bool] = lambda: False) -> int:
        """Copy every address waiting; returns how many were claimed."""
        done = 0
        self._sites.clear()  # settings read afresh for each run
        while not should_stop():
            claimed = store.claim(self.db, self.clock.now_ms(), LEASE_MS)
            if not claimed:
                break
            for row in claimed:
                self.copy_address(row["site_id"], row["url"], row["etag"], row["hash"])
                done += 1
            store.settle(self.db)
        return done

    def _policy(self, site_id: str) -> FetchPolicy | None:
        if site_id not in self._sites:
            self._sites[site_id] = self.db.one(
                "SELECT allowed_origins, url FROM sites WHERE id = :s", {"s": site_id}
            )
        site = self._sites[site_id]
        if site is None:
            return None
        return FetchPolicy(
            allowed_origins=site_origins(site),
            allow_private_addresses=self.settings.asset_private_addresses,
            max_bytes=self.settings.asset_max_bytes,
            timeout_seconds=self.settings.asset_timeout_seconds,
        )

    def copy_address(
        self, site_id: str, url: str, etag: str | None = None, known: str | None = None
    ) -> str | None:
        """Copy one claimed address (a 304 keeps the copy known); returns its hash or None."""
        policy = self._policy(site_id)
        now = self.clock.now_ms
        if policy is None:
            return None
        try:
            digest = self._copy(site_id, url, policy, etag if known else None, known, depth=0)
        except AssetRefused as refused:
            log.info("asset not copied: %s (%s)", url, refused.reason)
            store.refused(self.db, site_id, url, refused.reason, now())
            return None
        except Exception:
            log.exception("copying asset %s failed", url)
            store.refused(self.db, site_id, url, "Footage could not store its copy", now())
            return None
        return digest

    def _copy(
        self,
        site_id: str,
        url: str,
        policy: FetchPolicy,
        etag: str | None,
        known: str | None,
        depth: int,
    ) -> str:
        fetched = fetch_asset(url, policy, if_none_match=etag)
        now = self.clock.now_ms()
        if fetched is None and known:  # 304: the copy taken before is still the site's
            store.copied(self.db, site_id, url, known, etag, now)
            return known
        if fetched is None:
            raise AssetRefused("the site answered 304 to a plain request")
        body, children = fetched.body, list[str]()
        if fetched.content_type == "text/css":
            body, children = self._stylesheet(site_id, fetched.url, fetched.body, policy, depth)
        digest = store.keep_copy(
            self.db, self.blobs, site_id, body, fetched.content_type, children, now
        )
        store.copied(self.db, site_id, url, digest, fetched.etag, now)
        return digest

    def _stylesheet(
        self, site_id: str, base: str, body: bytes, policy: FetchPolicy, depth: int
    ) -> tuple[bytes, list[str]]:
        """The stylesheet with its own assets copied and pointed at by hash."""
        text = body.decode("utf-8", errors="replace")
        copies: dict[str, str | None] = {}

        def joined(raw: str) -> str | None:
            """The reference as an address; None for one urljoin refuses (an unclosed `[` in
            its host): the browser could not load it either, so it stays as the site wrote it."""
            try:
                return urljoin(base, raw)
            except ValueError:
                return None

        def copy_of(address: str) -> str | None:
            if address not in copies:
                copies[address] = None
                if keepable(address) and depth < MAX_DEPTH and len(copies) <= MAX_CHILDREN:
                    copies[address] = self._child(site_id, address, policy, depth + 1)
            return copies[address]

        def rewrite(match: re.Match[str]) -> str:
            if match.group(6):  # @import "…"
                address = joined(match.group(8))
                if address is None:
                    return match.group(0)
                digest = copy_of(address)
                return f'{match.group(6)}"{digest or address}"'
            raw = match.group(2) or match.group(3) or match.group(4) or ""
            if raw.startswith(("data:", "#")) or not raw:
                return match.group(0)
            address = joined(raw)
            if address is None:
                return match.group(0)
            digest = copy_of(address)
            return f'{match.group(1)}"{digest or address}"{match.group(5)}'

        rewritten = _CSS_REFERENCE.sub(rewrite, text)
        return rewritten.encode("utf-8"), [d for d in copies.values() if d]

    def _child(self, site_id: str, url: str, policy: FetchPolicy, depth: int) -> str | None:
        """A stylesheet's image, font or import: the site's fresh copy, or a new one."""
        fresh_after = self.clock.now_ms() - int(self.settings.asset_fresh_seconds * 1000)
        known = store.copy_of(self.db, site_id, url)
        if known and known["fetched_at"] >= fresh_after:
            return str(known["hash"])
        try:
            digest = self._copy(site_id, url, policy, None, None, depth)
        except AssetRefused as refused:
            log.info("asset not copied: %s (%s)", url, refused.reason)
            return None
        return digest
