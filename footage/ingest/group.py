"""Group commit: many batches, one segment blob and one transaction.

Writing each batch as its own file and its own transaction cost two fsyncs and a file
creation per batch, most of ingest's time. The group writer takes every batch that arrived
while the previous group was being written, stores their chunks back to back in one
immutable *segment* blob (one fsync, or one S3 PUT), commits all their rows in one
transaction (one savepoint per batch, so one bad batch never fails the others), and only
then answers each request. Under light load a group is a single batch, so nothing waits.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from footage.store import garbage
from footage.store.blobs import BlobStore
from footage.store.db import Database, q

log = logging.getLogger(__name__)

MAX_GROUP_BATCHES = 256
MAX_GROUP_BYTES = 8_000_000


@dataclass
class Pending:
    """One accepted batch waiting for its group: its chunk bytes and how to apply its rows."""

    data: bytes | None
    apply: Callable[[Any, str | None, int], Any]  # (conn, blob_key, offset) → result
    future: Future[Any] = field(default_factory=Future)


class GroupWriter:
    def __init__(self, db: Database, blobs: BlobStore, now_ms: Callable[[], int]) -> None:
        self.db, self.blobs, self.now_ms = db, blobs, now_ms
        self._queue: queue.Queue[Pending | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def enqueue(self, pending: Pending) -> None:
        """Queue a batch; `pending.future` resolves once its group is durable."""
        self._ensure_running()
        self._queue.put(pending)

    def submit(self, pending: Pending) -> Any:
        """Queue a batch and wait until its group is durable; returns what `apply` returned."""
        self.enqueue(pending)
        return pending.future.result()

    def _ensure_running(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(
                        target=self._run, name="footage-group-writer", daemon=True
                    )
                    self._thread.start()

    def close(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group, size = [first], len(first.data or b"")
            while len(group) < MAX_GROUP_BATCHES and size < MAX_GROUP_BYTES:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # stop after this group
                    break
                group.append(item)
                size += len(item.data or b"")
            try:
                self._write(group)
            except Exception as exc:  # storage or database down: every batch gets the error
                log.exception("writing a group of %d batches failed", len(group))
                for item in group:
                    if not item.future.done():
                        item.future.set_exception(exc)

    def _write(self, group: list[Pending]) -> None:
        offsets: list[int] = []
        parts: list[bytes] = []
        position = 0
        for item in group:
            offsets.append(position)
            if item.data:
                parts.append(item.data)
                position += len(item.data)
        key = None
        if parts:
            day = datetime.fromtimestamp(self.now_ms() / 1000, tz=UTC).strftime("%Y%m%d")
            key = f"segments/{day}/{uuid.uuid4().hex}.zst"
            self.blobs.put(key, b"".join(parts))
        results: list[tuple[bool, Any]] = []
        try:
            with self.db.write() as conn:
                stored = 0
                for item, offset in zip(group, offsets, strict=True):
                    try:
                        with conn.begin_nested():
                            value = item.apply(conn, key if item.data else None, offset)
                        results.append((True, value))
                        stored += bool(item.data) and bool(getattr(value, "stored", True))
                    except Exception as exc:  # this batch only: its savepoint is rolled back
                        results.append((False, exc))
                if key is not None and stored:
                    q(
                        conn,
                        "INSERT INTO segments (blob_key, live_chunks, created_at) "
                        "VALUES (:k, :n, :now)",
                        k=key,
                        n=stored,
                        now=self.now_ms(),
                    )
                elif key is not None:  # every batch of the group was refused or a repeat
                    garbage.schedule(conn, [key], self.now_ms())
        except Exception:
            if key is not None:
                garbage.delete_now(self.db, self.blobs, [key])
            raise
        for item, (ok, value) in zip(group, results, strict=True):
            if ok:
                item.future.set_result(value)
            else:
                item.future.set_exception(value)
