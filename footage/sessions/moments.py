"""Writing a recording's moments (`recording_moments`): page entries, rage clicks, errors,
custom events and the frustration signals, read by recordings/moments.py."""

from __future__ import annotations

import json

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
                "detail": None
                if m.detail is None
                else json.dumps(m.detail, ensure_ascii=False, separators=(",", ":")),
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
