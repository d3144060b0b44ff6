"""The SQL spellings and behaviours that differ between SQLite and PostgreSQL.

Features never ask which database they run on: they call `db.dialect` (and `db.for_update`,
`db.skip_locked`), and this module answers for both.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

# SQLite asks whether to go on every this many virtual machine steps (about a millisecond).
_SQLITE_CHECK_EVERY = 20_000


class Dialect:
    """The few spellings that differ between SQLite and PostgreSQL."""

    def __init__(self, sqlite: bool) -> None:
        self.sqlite = sqlite

    def contains(self, column: str, param: str) -> str:
        """`column` holds the LIKE pattern `:param` (escaped with `\\`), in any ASCII case."""
        op = "LIKE" if self.sqlite else "ILIKE"  # SQLite's LIKE ignores ASCII case already
        return f"{column} {op} :{param} ESCAPE '\\'"

    def regex(self, column: str, param: str) -> str:
        """`column` matches the regular expression `:param` somewhere (SQLite: store/db.py's
        REGEXP, run by RE2)."""
        return f"{column} REGEXP :{param}" if self.sqlite else f"{column} ~ :{param}"

    def unindexed(self, column: str) -> str:
        """SQLite: `+column`, a term its planner will not drive the query from."""
        return f"+{column}" if self.sqlite else column

    def json_text(self, column: str, prop_param: str) -> str:
        """The text of the JSON object's property named by `:prop_param`."""
        if self.sqlite:
            return f"CAST(json_extract({column}, '$.\"' || :{prop_param} || '\"') AS TEXT)"
        return f"(CAST({column} AS jsonb) ->> :{prop_param})"

    @contextmanager
    def time_limit(self, conn: Connection, seconds: float) -> Iterator[None]:
        """Stop the connection's statements after `seconds`: PostgreSQL's statement_timeout
        (for this transaction only), SQLite's progress handler. A statement stopped raises
        a DBAPIError for which `stopped_by_time_limit` is true."""
        if not self.sqlite:
            conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(seconds * 1000)}")
            yield
            return
        raw = cast(sqlite3.Connection, conn.connection.driver_connection)
        ends = time.monotonic() + seconds
        raw.set_progress_handler(lambda: time.monotonic() > ends, _SQLITE_CHECK_EVERY)
        try:
            yield
        finally:
            raw.set_progress_handler(None, 0)


def stopped_by_time_limit(exc: DBAPIError) -> bool:
    """Whether the statement was stopped by `Dialect.time_limit`."""
    orig = exc.orig
    return getattr(orig, "sqlstate", None) == "57014" or (
        isinstance(orig, sqlite3.OperationalError) and "interrupted" in str(orig)
    )


def refused_pattern(exc: DBAPIError) -> str | None:
    """PostgreSQL's reason when it cannot run a regular expression (syntax RE2 has and it has
    not), else None."""
    orig = exc.orig
    if getattr(orig, "sqlstate", None) != "2201B":  # invalid_regular_expression
        return None
    return getattr(getattr(orig, "diag", None), "message_primary", None) or str(orig)
