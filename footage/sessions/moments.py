"""Writing a recording's moments (`recording_moments`): page entries, rage clicks, errors,
custom events and the frustration signals, read by recordings/moments.py."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection

from footage.sessions.summary import Moment
from footage.store.db import q, sql_text


def insert_moments(
    conn: Connection, recording_id: str, site_id: str, moments: list[Moment]
) -> None:
    """Add moments to a recording."""
    if not moments:
        return
    conn.execute(
        sql_text(
            "INSERT INTO recording_moments (recording_id, site_id, kind, at, name, detail) "
            "VALUES (:r, :site, :kind, :at, :name, :detail)"
        ),
        [
            {
                "r": recording_id,
                "site": site_id,
                "kind": m.kind,
                "at": m.at,
                "name": m.name,
                "detail": _stored(m.detail),
            }
            for m in moments
        ],
    )


def replace_moments(
    conn: Connection, recording_id: str, site_id: str, moments: list[Moment]
) -> None:
    """The recording's moments, replacing any stored before (finalizing again is idempotent)."""
    q(conn, "DELETE FROM recording_moments WHERE recording_id = :id", id=recording_id)
    insert_moments(conn, recording_id, site_id, moments)


def name_moments(conn: Connection, recording_id: str, names: list[Moment]) -> None:
    """Give the recording's moments of the same kind and time as `names` their names and
    details (a rage click stored unnamed, named by a later analysis)."""
    if not names:
        return
    conn.execute(
        sql_text(
            "UPDATE recording_moments SET name = :name, detail = :detail "
            "WHERE recording_id = :r AND kind = :kind AND at = :at"
        ),
        [
            {
                "r": recording_id,
                "kind": m.kind,
                "at": m.at,
                "name": m.name,
                "detail": _stored(m.detail),
            }
            for m in names
        ],
    )


def _stored(detail: dict[str, Any] | None) -> str | None:
    return None if detail is None else json.dumps(detail, ensure_ascii=False, separators=(",", ":"))
