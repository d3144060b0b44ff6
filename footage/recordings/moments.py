"""Read side of `recording_moments`: the points of a recording worth jumping to.

The finalizer writes them (sessions/finalizer.py): kind 'page' (name: the address), 'rage_click'
(name and detail as a dead click's, from the analysis; none on the page's background),
'error' (name: the message), 'event' (name: the site's event name, detail: its properties), and
the frustration signals of heatmaps/analysis.py: 'dead_click' and 'error_click' (name: the
element's text or selector, detail: selector and page address), 'quick_back' and
'excessive_scroll' (name: the page's address).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from footage.signals import SIGNAL_KINDS
from footage.store.db import Database

# Of moments at the same millisecond, which comes first: a page entry, then the site's event,
# an error, and the frustration signals in their order.
KIND_ORDER = {kind: i for i, kind in enumerate(("page", "event", "error", *SIGNAL_KINDS))}


def moments_of(
    db: Database,
    recording_id: str,
    kinds: Sequence[str] | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """A recording's moments in time order: [{kind, at_ms, name, detail}]; only those of
    `kinds` when given, and only the first `limit` (a 4-hour visit has thousands).

    `at_ms` is the offset from the recording's start (never below 0), so it seeks the player
    directly. It does not check who asks: call it after get_recording() found the recording
    for the account. Empty for a recording not finalized yet.
    """
    params: dict[str, Any] = {"id": recording_id}
    where = "m.recording_id = :id"
    if kinds is not None:
        if not kinds:
            return []
        names = {f"k{i}": kind for i, kind in enumerate(kinds)}
        where += f" AND m.kind IN ({', '.join(':' + n for n in names)})"
        params.update(names)
    sql = (
        "SELECT m.kind, m.at, m.name, m.detail, r.started_at FROM recording_moments m "
        f"JOIN recordings r ON r.id = m.recording_id WHERE {where}"
    )
    if limit is not None:
        # The same order as below, so the first `limit` are the ones that would be kept.
        order = " ".join(f"WHEN '{kind}' THEN {i}" for kind, i in KIND_ORDER.items())
        sql += f" ORDER BY m.at, CASE m.kind {order} ELSE 9 END, COALESCE(m.name, '') LIMIT :n"
        params["n"] = limit
    rows = db.all(sql, params)
    # A page entry and what happened at the same millisecond: the page comes first.
    rows.sort(key=lambda r: (r["at"], KIND_ORDER.get(r["kind"], 9), r["name"] or ""))
    return [
        {
            "kind": row["kind"],
            "at_ms": max(0, int(row["at"]) - int(row["started_at"] or row["at"])),
            "name": row["name"],
            "detail": _detail(row["detail"]),
        }
        for row in rows
    ]


def _detail(stored: str | None) -> Any:
    if not stored:
        return None
    try:
        return json.loads(stored)
    except ValueError:
        return None
