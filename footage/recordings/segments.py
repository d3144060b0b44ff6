"""Saved segments: a named set of filters, per site (or all sites), shared by the account.

A segment stores the filters as the query string of the recordings list, so opening it is
following a URL, and the URL of a segment can be sent to a colleague as it is.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from footage.clock import iso
from footage.errors import BadRequest, NotFound
from footage.recordings import filters
from footage.store.db import Database, new_id

MAX_NAME = 100


def normalize_query(
    query: str | dict[str, Any], db: Database | None = None, account_id: str | None = None
) -> str:
    """Filters (a query string or an object) → the canonical query string; validates them,
    and with `db` and `account_id` checks that a `site_id` among them is the account's."""
    if isinstance(query, dict):
        pairs = [
            (str(k), str(v).lower() if isinstance(v, bool) else str(v)) for k, v in query.items()
        ]
    elif isinstance(query, str):
        pairs = parse_qsl(query.lstrip("?"), keep_blank_values=False)
    else:
        raise BadRequest(
            "'query' must be the filters: a query string or an object", code="bad_segment"
        )
    pairs = [(k, v) for k, v in pairs if k not in ("cursor", "segment", "limit") and v.strip()]
    values = filters.parse(dict(pairs))  # raises on a bad filter, naming it
    if db is not None and account_id is not None:
        filters.check_sites(db, account_id, values)
    return urlencode(sorted(pairs))


def _name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise BadRequest("a segment needs a name", code="bad_segment")
    if len(name.strip()) > MAX_NAME:
        raise BadRequest(f"a segment's name has at most {MAX_NAME} characters", code="bad_segment")
    return name.strip()


def as_item(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "site_id": row["site_id"],
        "query": row["query"],
        "url": f"/recordings?{row['query']}&segment={row['id']}"
        if row["query"]
        else f"/recordings?segment={row['id']}",
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


def list_segments(db: Database, account_id: str, site_id: str | None = None) -> list[dict]:
    """The account's segments (of one site and those for all sites, when a site is given)."""
    if site_id:
        filters.check_sites(db, account_id, {"site_id": site_id})
        rows = db.all(
            "SELECT * FROM saved_segments WHERE account_id = :a AND "
            "(site_id = :s OR site_id IS NULL) ORDER BY name",
            {"a": account_id, "s": site_id},
        )
    else:
        rows = db.all(
            "SELECT * FROM saved_segments WHERE account_id = :a ORDER BY name",
            {"a": account_id},
        )
    return [as_item(r) for r in rows]


def get_segment(db: Database, account_id: str, segment_id: str) -> dict[str, Any]:
    row = db.one(
        "SELECT * FROM saved_segments WHERE id = :id AND account_id = :a",
        {"id": segment_id, "a": account_id},
    )
    if row is None:
        raise NotFound("no such segment", code="segment_not_found")
    return as_item(row)


def create_segment(
    db: Database,
    account_id: str,
    name: Any,
    query: Any,
    site_id: Any,
    user_id: str | None,
    now_ms: int,
) -> dict[str, Any]:
    own_site = isinstance(site_id, str) and db.one(
        "SELECT 1 AS x FROM sites WHERE id = :s AND account_id = :a",
        {"s": site_id, "a": account_id},
    )
    if site_id is not None and not own_site:
        raise NotFound("no such site in this account", code="unknown_site")
    segment_id = new_id("seg")
    db.run(
        "INSERT INTO saved_segments (id, account_id, site_id, name, query, created_by, "
        "created_at, updated_at) VALUES (:id, :a, :s, :n, :q, :u, :now, :now)",
        {
            "id": segment_id,
            "a": account_id,
            "s": site_id,
            "n": _name(name),
            "q": normalize_query(query, db, account_id),
            "u": user_id,
            "now": now_ms,
        },
    )
    return get_segment(db, account_id, segment_id)


def update_segment(
    db: Database, account_id: str, segment_id: str, changes: Any, now_ms: int
) -> dict[str, Any]:
    if not isinstance(changes, dict) or not set(changes) <= {"name", "query"} or not changes:
        raise BadRequest('send {"name": …} and/or {"query": …}', code="bad_segment")
    get_segment(db, account_id, segment_id)  # 404 first
    values: dict[str, Any] = {}
    if "name" in changes:
        values["name"] = _name(changes["name"])
    if "query" in changes:
        values["query"] = normalize_query(changes["query"], db, account_id)
    assignments = ", ".join(f"{k} = :{k}" for k in values)
    db.run(
        f"UPDATE saved_segments SET {assignments}, updated_at = :now "
        "WHERE id = :id AND account_id = :a",
        {**values, "now": now_ms, "id": segment_id, "a": account_id},
    )
    return get_segment(db, account_id, segment_id)


def delete_segment(db: Database, account_id: str, segment_id: str) -> None:
    get_segment(db, account_id, segment_id)
    db.run(
        "DELETE FROM saved_segments WHERE id = :id AND account_id = :a",
        {"id": segment_id, "a": account_id},
    )
