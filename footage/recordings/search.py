"""The recordings list with filters, four sort orders and keyset (cursor) pagination.

A cursor is the sort key and id of the last item shown, so a page never repeats or skips a
recording, however many recordings become ready meanwhile (they are newer than the first
page and simply do not move the ones after the cursor).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from sqlalchemy.exc import DBAPIError

from footage.errors import BadRequest, FootageError
from footage.recordings import filters
from footage.recordings.queries import (
    _SELECT,
    MAX_LIMIT,
    as_item,
    cursor_json,
    cursor_key,
    pages_of,
)
from footage.store.db import Database, sql_text
from footage.store.dialect import refused_pattern, stopped_by_time_limit

# The most a "which filter removed the most" hint counts per filter.
HINT_COUNT_CAP = 10_000
# The longest one query of the list may run. A page of the list normally takes milliseconds;
# a pattern or a filter combination that would scan an account's every page for longer is
# stopped and answered 503 with what to narrow, so it cannot hold a connection (and, on
# SQLite, the interpreter) for minutes.
QUERY_SECONDS = 10.0


def encode_cursor(sort: str, key: int, recording_id: str) -> str:
    raw = json.dumps([sort, key, recording_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[int, str]:
    try:
        cursor_sort, key, recording_id = cursor_json(cursor)
        if cursor_sort != sort:
            raise BadRequest(
                f"this cursor belongs to sort={cursor_sort}; keep the same sort while paging",
                code="bad_cursor",
            )
        return cursor_key(key), str(recording_id)
    except (ValueError, TypeError):
        raise BadRequest(
            "'cursor' is not valid; pass the next_cursor of the previous page unchanged",
            code="bad_cursor",
        ) from None


def _where(db: Database, account_id: str, values: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    filters.check_sites(db, account_id, values)
    where = ["r.account_id = :account", "r.status = 'ready'"]
    params: dict[str, Any] = {"account": account_id}
    for _, (sql, p) in filters.clauses(db, values):
        where.append(sql)
        params.update(p)
    return " AND ".join(where), params


def build_query(
    db: Database,
    account_id: str,
    values: dict[str, Any],
    *,
    sort: str = "newest",
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """The SQL of one page of the list (also what the benchmark explains)."""
    if sort not in filters.SORTS:
        raise BadRequest(f"'sort' must be one of: {', '.join(filters.SORTS)}", code="bad_sort")
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"'limit' must be between 1 and {MAX_LIMIT}", code="bad_limit")
    column, direction = filters.SORTS[sort]
    where, params = _where(db, account_id, values)
    if cursor:
        key, rid = decode_cursor(cursor, sort)
        op = "<" if direction == "DESC" else ">"
        where += f" AND (r.{column} {op} :ck OR (r.{column} = :ck AND r.id {op} :cid))"
        params.update(ck=key, cid=rid)
    params["n"] = limit + 1
    sql = f"{_SELECT} WHERE {where} ORDER BY r.{column} {direction}, r.id {direction} LIMIT :n"
    return sql, params


def search(
    db: Database,
    account_id: str,
    values: dict[str, Any],
    *,
    sort: str = "newest",
    limit: int = 50,
    cursor: str | None = None,
    retention_days: int | None = None,
    first_pages: int | None = None,
) -> dict[str, Any]:
    """One page of ready recordings matching every filter, with the cursor for the next;
    each with its pages, or with its first `first_pages` of them (the dashboard's list shows
    the first only)."""
    sql, params = build_query(db, account_id, values, sort=sort, limit=limit, cursor=cursor)
    rows = _bounded_all(db, sql, params)
    more = len(rows) > limit
    rows = rows[:limit]
    pages = pages_of(db, [r["id"] for r in rows], first_pages)
    column = filters.SORTS[sort][0]
    return {
        "items": [as_item(r, pages[r["id"]], retention_days) for r in rows],
        "next_cursor": encode_cursor(sort, rows[-1][column] or 0, rows[-1]["id"]) if more else None,
    }


def neighbours(
    db: Database, account_id: str, values: dict[str, Any], sort: str, recording_id: str
) -> dict[str, str | None]:
    """The recordings before and after this one in the list these filters and this sort
    show: {"previous": id or None, "next": id or None} (the player's N and P keys).

    The same keyset as the list's cursor, so "next" is what the list shows below it however
    many pages in; a recording that does not match the filters itself still has neighbours
    (where it would sit). An unknown sort or a recording of another account: no neighbours.
    """
    if sort not in filters.SORTS:
        return {"previous": None, "next": None}
    column, direction = filters.SORTS[sort]
    row = db.one(
        f"SELECT r.{column} AS k FROM recordings r WHERE r.id = :id AND r.account_id = :a",
        {"id": recording_id, "a": account_id},
    )
    if row is None:
        return {"previous": None, "next": None}
    where, params = _where(db, account_id, values)
    params.update(ck=row["k"] or 0, cid=recording_id)
    found: dict[str, str | None] = {}
    flipped = "ASC" if direction == "DESC" else "DESC"
    for name, order in (("next", direction), ("previous", flipped)):
        op = "<" if order == "DESC" else ">"
        rows = _bounded_all(
            db,
            f"SELECT r.id FROM recordings r "
            f"LEFT JOIN visitors v ON v.site_id = r.site_id AND v.id = r.visitor_id "
            f"WHERE {where} AND (r.{column} {op} :ck OR (r.{column} = :ck AND r.id {op} :cid)) "
            f"ORDER BY r.{column} {order}, r.id {order} LIMIT 1",
            params,
        )
        found[name] = str(rows[0]["id"]) if rows else None
    return found


def count(db: Database, account_id: str, values: dict[str, Any], cap: int = HINT_COUNT_CAP) -> int:
    """How many ready recordings match (counted up to `cap`, which is enough for a hint)."""
    where, params = _where(db, account_id, values)
    rows = _bounded_all(
        db,
        f"SELECT COUNT(*) AS n FROM (SELECT 1 FROM recordings r "
        f"LEFT JOIN visitors v ON v.site_id = r.site_id AND v.id = r.visitor_id "
        f"WHERE {where} LIMIT {int(cap)}) AS capped",
        params,
    )
    return int(rows[0]["n"]) if rows else 0


def _bounded_all(db: Database, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """db.all() within QUERY_SECONDS, with the database's refusals as errors the caller
    can act on (never a 500)."""
    try:
        with db.read() as conn, db.dialect.time_limit(conn, QUERY_SECONDS):
            return [dict(r) for r in conn.execute(sql_text(sql), params).mappings()]
    except DBAPIError as exc:
        refusal = _refusal(exc)
        if refusal is None:
            raise
        raise refusal from None


def _refusal(exc: DBAPIError) -> FootageError | None:
    """A database's refusal of the list's query, as the answer that says what to change."""
    if stopped_by_time_limit(exc):
        return FootageError(
            f"the search took longer than {QUERY_SECONDS:g} seconds and was stopped; narrow "
            "it (a site, a shorter period) or use a simpler pattern",
            code="search_too_slow",
            status=503,
        )
    detail = refused_pattern(exc)
    if detail is not None:  # RE2 syntax PostgreSQL does not have
        return BadRequest(
            f"'url': PostgreSQL cannot run this pattern ({detail}); write it without "
            "RE2-only syntax such as \\z, \\pL, \\Q…\\E or (?P<name>…)",
            code="bad_filter",
        )
    return None


def empty_hint(db: Database, account_id: str, values: dict[str, Any]) -> dict[str, Any]:
    """Why nothing matched: how many recordings each filter alone would let back in.

    For each filter given, count the matches with that filter removed; the filter whose
    removal brings back the most is the one that removed the most.
    """
    names = [n for n in values if n in filters.BUILDERS]
    total = count(db, account_id, {})
    if not names:
        return {"total": total, "culprit": None, "without": []}
    without: list[dict[str, Any]] = [
        {
            "filter": n,
            "label": filters.describe(values, n),
            "matches": count(db, account_id, filters.without(values, n)),
        }
        for n in names
    ]
    without.sort(key=lambda w: -int(w["matches"]))
    culprit = without[0] if without[0]["matches"] > 0 else None
    return {"total": total, "culprit": culprit, "without": without}
