"""Which recordings a dashboard user has watched: opening one in the player marks it, and the
list shows the mark to that user only (each agent has their own)."""

from __future__ import annotations

from footage.store.db import Database


def mark_watched(db: Database, user_id: str, recording_id: str, now_ms: int) -> None:
    """The user opened the recording in the player (again: the time moves on)."""
    db.run(
        "INSERT INTO recording_views (user_id, recording_id, viewed_at) VALUES (:u, :r, :t) "
        "ON CONFLICT (user_id, recording_id) DO UPDATE SET viewed_at = :t",
        {"u": user_id, "r": recording_id, "t": now_ms},
    )


def watched_of(db: Database, user_id: str, recording_ids: list[str]) -> set[str]:
    """Those of these recordings the user has watched."""
    if not recording_ids:
        return set()
    names = {f"r{i}": rid for i, rid in enumerate(recording_ids)}
    rows = db.all(
        "SELECT recording_id FROM recording_views WHERE user_id = :u "
        f"AND recording_id IN ({', '.join(':' + n for n in names)})",
        {"u": user_id, **names},
    )
    return {r["recording_id"] for r in rows}
