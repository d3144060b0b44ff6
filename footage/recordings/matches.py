"""Where in a recording the filters it was found with matched: the moments the player opens
at (the first of them) and lists (all of them)."""

from __future__ import annotations

import json
from typing import Any

from footage.signals import SIGNALS
from footage.store.db import Database
from footage.store.regex import searches

# Labels of the moments, in the user's words.
LABELS = {
    **{s.kind: s.label for s in SIGNALS},
    "error": "JavaScript error",
    "event": "Event",
    "page": "Entered",
}
# A bool filter → the kind of moment it found (the signal's moments).
FLAG_KINDS = {"has_errors": "error", **{s.filter: s.kind for s in SIGNALS}}


def _page_matches(url: str, values: dict[str, Any]) -> bool:
    wanted = values["url"]
    how = values.get("url_match", "contains")
    if how == "equals":
        return url == wanted
    if how == "regex":
        return searches(wanted, url)  # RE2, as the list's query: linear time, same matches
    return wanted.lower() in url.lower()


def _event_matches(row: dict[str, Any], values: dict[str, Any]) -> bool:
    if row["name"] != values["event"]:
        return False
    if "event_property" not in values:
        return True
    try:
        props = json.loads(row["detail"] or "{}")
    except ValueError:
        return False
    value = props.get(values["event_property"]) if isinstance(props, dict) else None
    if isinstance(value, bool):
        value = "true" if value else "false"
    return value is not None and str(value) == values["event_value"]


def matching_moments(
    db: Database, recording: dict[str, Any], started_at: int | None, values: dict[str, Any]
) -> list[dict[str, Any]]:
    """Every moment of the recording that a moment-shaped filter asked for, in time order:
    rage clicks and the other frustration signals, errors, the custom event, the
    visited/entry/exit page."""
    wanted = {kind for flag, kind in FLAG_KINDS.items() if values.get(flag)}
    if not wanted and not {"event", "url", "entry_url", "exit_url"} & set(values):
        return []
    rows = db.all(
        "SELECT kind, at, name, detail FROM recording_moments WHERE recording_id = :r ORDER BY at",
        {"r": recording["id"]},
    )
    pages = [r for r in rows if r["kind"] == "page"]
    found: list[dict[str, Any]] = []
    for row in rows:
        kind = row["kind"]
        hit = (
            kind in wanted
            or (kind == "event" and "event" in values and _event_matches(row, values))
            or (kind == "page" and "url" in values and _page_matches(row["name"] or "", values))
            or (kind == "page" and "entry_url" in values and pages and row is pages[0])
            or (kind == "page" and "exit_url" in values and pages and row is pages[-1])
        )
        if hit:
            label = LABELS.get(kind, kind)
            if row["name"]:
                label += f": {row['name']}"
            found.append(
                {
                    "kind": kind,
                    "label": label,
                    "offset_ms": max(0, row["at"] - (started_at or row["at"])),
                }
            )
    return found
