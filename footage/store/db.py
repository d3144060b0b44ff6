"""Database engine, transactions and migrations.

SQLite runs in WAL mode. Writers start with BEGIN IMMEDIATE so that two writers never both
read and then fail to upgrade their lock; readers use plain deferred transactions and never
block writers.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, TextClause, create_engine, event, text
from sqlalchemy.engine import make_url

from footage.errors import MissingExtra
from footage.store.dialect import Dialect
from footage.store.migrations import MIGRATIONS
from footage.store.regex import searches


def normalize_url(url: str) -> str:
    """`postgresql://…` (what operators write) → the psycopg 3 driver; others unchanged."""
    if url.startswith(("postgresql://", "postgres://", "postgresql+psycopg:")):
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise MissingExtra("postgresql", "PostgreSQL (FOOTAGE_DATABASE_URL)") from None
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme) :]
    if not url.startswith(("sqlite:", "postgresql+psycopg:")):
        raise ValueError(
            f"database URL {url.split('://')[0]}://… is not supported; "
            "use sqlite:///path/footage.db or postgresql://user:password@host/dbname"
        )
    return url


def _regexp(pattern: str | None, value: str | None) -> bool:
    """SQLite's `value REGEXP pattern` (searched, like PostgreSQL's `~`), run by RE2: SQLite
    calls it for every row a filter reads, so it must take linear time whatever the pattern
    (Python's `re` backtracks, and held the interpreter lock while it did)."""
    if pattern is None or value is None:
        return False
    return searches(pattern, value)


def new_id(prefix: str) -> str:
    """A random, URL-safe id such as `r_3kQ…`; the prefix says what it names."""
    return f"{prefix}_{secrets.token_urlsafe(12)}"


class Database:
    """One database, with separate read and write transactions."""

    def __init__(self, url: str) -> None:
        url = normalize_url(url)
        self.url = url
        self.is_sqlite = make_url(url).get_backend_name() == "sqlite"
        self.dialect = Dialect(self.is_sqlite)
        if self.is_sqlite:
            path = make_url(url).database
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._write = self._sqlite_engine(url, "BEGIN IMMEDIATE")
            # SQLite has one writer at a time. Queue this process's writers on a lock, which
            # hands over at once, instead of SQLite's busy handler, which sleeps and polls.
            self._write_lock: threading.Lock | None = threading.Lock()
            self._read = self._sqlite_engine(url, "BEGIN")
        else:
            self._write_lock = None
            self._write = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
            self._read = self._write

    @staticmethod
    def _sqlite_engine(url: str, begin: str) -> Engine:
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_size=8,
            max_overflow=16,
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" event decide how transactions start.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # FULL: a batch is acknowledged only once it survives a power loss.
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
            # What PostgreSQL has built in and the recording filters use: `x REGEXP p`.
            dbapi_conn.create_function("regexp", 2, _regexp, deterministic=True)

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            conn.exec_driver_sql(begin)

        return engine

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that may write; commits on success, rolls back on error."""
        if self._write_lock is None:
            with self._write.begin() as conn:
                yield conn
            return
        with self._write_lock, self._write.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self._read.connect() as conn:
            yield conn
            conn.rollback()

    def one(self, sql: str, params: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        with self.read() as conn:
            row = conn.execute(sql_text(sql), dict(params or {})).mappings().first()
            return dict(row) if row else None

    def all(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        with self.read() as conn:
            return [dict(r) for r in conn.execute(sql_text(sql), dict(params or {})).mappings()]

    def run(self, sql: str, params: Mapping[str, Any] | None = None) -> int:
        """Execute one writing statement in its own transaction; returns rows affected."""
        with self.write() as conn:
            return conn.execute(sql_text(sql), dict(params or {})).rowcount

    def migrate(self) -> list[int]:
        """Apply the migrations not applied yet (then refresh statistics); returns their numbers."""
        applied: list[int] = []
        with self.write() as conn:
            if not self.is_sqlite:
                # Several processes may start at once: one migrates, the others wait.
                conn.execute(text("SELECT pg_advisory_xact_lock(7310541)"))
            conn.execute(
                text(
                    "CREATE TABLE IF NOT EXISTS schema_migrations "
                    "(version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)"
                )
            )
            done = {r[0] for r in conn.execute(text("SELECT version FROM schema_migrations"))}
            for version, statements in MIGRATIONS:
                if version in done:
                    continue
                for step in statements:
                    if callable(step):
                        step(conn, self.is_sqlite)
                    else:
                        conn.execute(text(step))
                conn.execute(
                    text(
                        "INSERT INTO schema_migrations (version, applied_at) "
                        "VALUES (:v, CAST(strftime('%s','now') AS INTEGER))"
                        if self.is_sqlite
                        else "INSERT INTO schema_migrations (version, applied_at) "
                        "VALUES (:v, CAST(EXTRACT(EPOCH FROM now()) AS BIGINT))"
                    ),
                    {"v": version},
                )
                applied.append(version)
        self.refresh_statistics()
        return applied

    def refresh_statistics(self) -> None:
        """SQLite: fresh planner statistics (`ANALYZE`, sampled, so milliseconds even on
        gigabytes). Without them SQLite walks a big site's recordings newest-first for a
        filter that an index would answer at once (bench/RESULTS.md §6). PostgreSQL's
        autovacuum keeps its own."""
        if not self.is_sqlite:
            return
        with self.write() as conn:
            conn.exec_driver_sql("PRAGMA analysis_limit=1000")
            conn.exec_driver_sql("ANALYZE")
        # A connection reads the statistics when it first loads the schema, and ANALYZE does
        # not make the others reload it: open fresh ones (those in use finish undisturbed).
        self._read.dispose()
        self._write.dispose()

    def skip_locked(self) -> str:
        """`FOR UPDATE SKIP LOCKED` where the database has row locks (SQLite locks the file)."""
        return "" if self.is_sqlite else "FOR UPDATE SKIP LOCKED"

    @property
    def for_update(self) -> str:
        """Appended to a SELECT that must lock its rows for the transaction: PostgreSQL's
        `FOR UPDATE`; nothing on SQLite, whose writers already run one at a time."""
        return "" if self.is_sqlite else " FOR UPDATE"

    def dispose(self) -> None:
        self._write.dispose()
        if self._read is not self._write:
            self._read.dispose()


@lru_cache(maxsize=1024)
def sql_text(sql: str) -> TextClause:
    """Parsed statements are reused: building a TextClause costs more than running it."""
    return text(sql)


def q(conn: Connection, sql: str, **params: Any) -> list[dict[str, Any]]:
    """Run a statement on an open connection and return its rows as dicts."""
    result = conn.execute(sql_text(sql), params)
    return [dict(r) for r in result.mappings()] if result.returns_rows else []
