"""Loading many rows at once, the fastest way each database has (the seeder's writer).

SQLite: `executemany` on a connection of its own with `synchronous=OFF` while loading, then
`ANALYZE`; PostgreSQL: `COPY … FROM STDIN`, then `VACUUM ANALYZE` of the tables loaded. One
transaction per batch either way: the batches committed before a failure stay.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy.engine import make_url

from footage.store.db import Database


class BulkWriter(Protocol):
    def write(self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        """Add rows to a table inside the current transaction."""

    def commit(self) -> None: ...

    def finish(self) -> None:
        """After the last commit: statistics, checkpoints; then close."""

    def abort(self) -> None:
        """Roll the current batch back and close."""


class SqliteBulkWriter:
    """Its own sqlite3 connection: no durability while loading (`synchronous=OFF`), a big
    page cache, one transaction per batch."""

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=OFF")
        self.conn.execute("PRAGMA cache_size=-1048576")  # 1 GiB
        self.conn.execute("PRAGMA temp_store=MEMORY")
        self.conn.execute("BEGIN")

    def write(self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        marks = ", ".join("?" for _ in columns)
        self.conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)

    def commit(self) -> None:
        self.conn.execute("COMMIT")
        self.conn.execute("BEGIN")

    def finish(self) -> None:
        self.conn.execute("COMMIT")
        # What `footage serve` keeps fresh (Database.refresh_statistics), right away.
        self.conn.execute("PRAGMA analysis_limit=1000")
        self.conn.execute("ANALYZE")
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.close()

    def abort(self) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


class PostgresBulkWriter:
    """COPY … FROM STDIN per table and batch, one transaction per batch."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.conn = psycopg.connect(url)
        self.tables: list[str] = []  # loaded, in the order first written

    def write(self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        if table not in self.tables:
            self.tables.append(table)
        with (
            self.conn.cursor() as cur,
            cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)

    def commit(self) -> None:
        self.conn.commit()

    def finish(self) -> None:
        self.conn.commit()
        self.conn.autocommit = True
        for table in self.tables:
            self.conn.execute(f"VACUUM ANALYZE {table}")
        self.conn.close()

    def abort(self) -> None:
        self.conn.rollback()
        self.conn.close()


def open_bulk_writer(db: Database) -> BulkWriter:
    """A bulk writer into the database `db` opens (a file, for SQLite)."""
    url = make_url(db.url)
    if db.is_sqlite:
        if not url.database or url.database == ":memory:":
            raise ValueError("seeding needs a database file or a PostgreSQL server")
        return SqliteBulkWriter(url.database)
    return PostgresBulkWriter(
        url.set(drivername="postgresql").render_as_string(hide_password=False)
    )
