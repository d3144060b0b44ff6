"""The write side of heatmaps: a recording's page views and clicks, and the aggregates made
of them.

A ready recording's analysis (analysis.py) becomes rows of `page_view_stats` (one per page
view) and `recording_clicks` (one per click), and is added into the aggregates that heatmaps
and the Pages report read: `heatmap_cells`, `heatmap_elements`, `heatmap_depths`,
`heatmap_widths` and `page_stats`, each per (site, page, device, day). Deleting a recording
(retention, erasure) or analysing it again subtracts exactly what its rows added, in the same
transaction, so the aggregates always describe the recordings that are kept. The finalizer and
the deletion reach this module through the hooks app.py registers: `on_ready`, `on_delete`.

Rows are written in key order: two PostgreSQL transactions that add into the same aggregate
rows then lock them in the same order, and neither waits for the other in a cycle.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, text

from footage.heatmaps.analysis import ANALYSIS_VERSION, Analysis, analyse_safely
from footage.sessions.ready import ReadyRecording, ReadyRows
from footage.store.deletion import by_ids, count_by_ids, with_ids

DAY_MS = 86_400_000
CELL_PX = 10  # heatmap_cells: the density grid
DEPTH_PX = 50  # heatmap_depths: scroll depth steps
FLAG_RAGE, FLAG_DEAD, FLAG_ERROR = 1, 2, 4

KEY = ("site_id", "page_key", "device", "day")
# table → (its extra key columns, its counted columns)
AGGREGATES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "heatmap_cells": (("x", "y"), ("clicks",)),
    "heatmap_elements": (("selector",), ("clicks", "rage_clicks", "dead_clicks", "error_clicks")),
    "heatmap_depths": (("depth",), ("views",)),
    "heatmap_widths": (("width",), ("views",)),
    "page_stats": (
        (),
        (
            "views",
            "exits",
            "quick_backs",
            "excessive_scrolls",
            "clicks",
            "rage_clicks",
            "dead_clicks",
            "error_clicks",
        ),
    ),
}

PAGE_COLUMNS = (
    "recording_id",
    "site_id",
    "page_key",
    "url",
    "device",
    "day",
    "started_at",
    "width",
    "height",
    "max_depth",
    "exited",
    "quick_back",
    "excessive_scrolls",
    "clicks",
    "rage_clicks",
    "dead_clicks",
    "error_clicks",
)
CLICK_COLUMNS = (
    "recording_id",
    "site_id",
    "page_key",
    "device",
    "day",
    "at",
    "x",
    "y",
    "width",
    "selector",
    "text",
    "flags",
)

Totals = dict[str, dict[tuple[Any, ...], list[int]]]


def day_of(ms: int) -> int:
    return ms // DAY_MS


def cell_of(px: int) -> int:
    """The 10 px cell a coordinate falls into (floor, also below 0)."""
    return px // CELL_PX


def rows_of(
    recording_id: str, site_id: str, device: str, started_at: int, analysis: Analysis
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The `page_view_stats` and `recording_clicks` rows of an analysed recording."""
    day = day_of(started_at)
    pages = [
        {
            "recording_id": recording_id,
            "site_id": site_id,
            "page_key": p.key,
            "url": p.url,
            "device": device,
            "day": day,
            "started_at": p.started_at,
            "width": p.width,
            "height": p.height,
            "max_depth": p.max_depth,
            "exited": int(p.exited),
            "quick_back": int(p.quick_back),
            "excessive_scrolls": p.excessive_scrolls,
            "clicks": p.clicks,
            "rage_clicks": p.rage_clicks,
            "dead_clicks": p.dead_clicks,
            "error_clicks": p.error_clicks,
        }
        for p in analysis.pages
    ]
    clicks = [
        {
            "recording_id": recording_id,
            "site_id": site_id,
            "page_key": analysis.pages[c.page].key,
            "device": device,
            "day": day,
            "at": c.at,
            # from the middle of the window: a centred layout lines up at every width
            "x": c.x - c.width // 2,
            "y": c.y,
            "width": c.width,
            "selector": c.selector,
            "text": c.text,
            "flags": FLAG_RAGE * c.rage | FLAG_DEAD * c.dead | FLAG_ERROR * c.error,
        }
        for c in analysis.clicks
    ]
    return pages, clicks


def totals(pages: Iterable[dict[str, Any]], clicks: Iterable[dict[str, Any]]) -> Totals:
    """What these page views and clicks add to each aggregate row."""
    out: Totals = {table: {} for table in AGGREGATES}

    def add(table: str, key: tuple[Any, ...], counts: tuple[int, ...]) -> None:
        row = out[table].get(key)
        if row is None:
            out[table][key] = list(counts)
        else:
            for i, n in enumerate(counts):
                row[i] += n

    texts: dict[tuple[Any, ...], str] = {}
    for c in clicks:
        base = (c["site_id"], c["page_key"], c["device"], c["day"])
        add("heatmap_cells", (*base, cell_of(c["x"]), cell_of(c["y"])), (1,))
        if c["selector"]:
            flags = c["flags"]
            key = (*base, c["selector"])
            add(
                "heatmap_elements",
                key,
                (1, flags & FLAG_RAGE and 1, flags & FLAG_DEAD and 1, flags & FLAG_ERROR and 1),
            )
            texts[key] = c["text"]
    for p in pages:
        base = (p["site_id"], p["page_key"], p["device"], p["day"])
        if p["width"] > 0:  # a page view without its Meta event says nothing of either
            add("heatmap_depths", (*base, p["max_depth"] // DEPTH_PX), (1,))
            add("heatmap_widths", (*base, p["width"]), (1,))
        add(
            "page_stats",
            base,
            (
                1,
                p["exited"],
                p["quick_back"],
                p["excessive_scrolls"],
                p["clicks"],
                p["rage_clicks"],
                p["dead_clicks"],
                p["error_clicks"],
            ),
        )
    # heatmap_elements carries the element's text (the latest seen) beside its counts
    out["heatmap_elements"] = {
        key: [*counts, texts[key]]  # type: ignore[list-item]
        for key, counts in out["heatmap_elements"].items()
    }
    return out


def apply(conn: Connection, table_totals: Totals, sign: int) -> None:
    """Add (sign 1) or subtract (sign -1) totals; rows that reach zero are deleted."""
    for table, rows in table_totals.items():
        if not rows:
            continue
        extra, counted = AGGREGATES[table]
        keys = (*KEY, *extra)
        columns = (*keys, *counted) + (("text",) if table == "heatmap_elements" else ())
        updates = [f"{c} = {table}.{c} + excluded.{c}" for c in counted]
        if table == "heatmap_elements":
            updates.append("text = excluded.text")
        upsert = text(
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join(':' + c for c in columns)}) "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {', '.join(updates)}"
        )
        params = []
        for key in sorted(rows):
            values = rows[key]
            row = dict(zip(keys, key, strict=True))
            for i, c in enumerate(counted):
                row[c] = sign * int(values[i])
            if table == "heatmap_elements":
                row["text"] = values[-1]
            params.append(row)
        conn.execute(upsert, params)
        if sign < 0:
            where = " AND ".join(f"{k} = :{k}" for k in keys)
            conn.execute(
                text(f"DELETE FROM {table} WHERE {where} AND {counted[0]} <= 0"),
                [{k: p[k] for k in keys} for p in params],
            )


def add_recording(
    conn: Connection,
    recording_id: str,
    site_id: str,
    device: str,
    started_at: int,
    analysis: Analysis,
) -> None:
    """Store an analysed recording's rows and add them into the aggregates, replacing what an
    earlier analysis of it stored. Call inside the transaction that makes it ready."""
    forget(conn, [recording_id], delete_rows=True)
    pages, clicks = rows_of(recording_id, site_id, device, started_at, analysis)
    if pages:
        conn.execute(_insert("page_view_stats", PAGE_COLUMNS), pages)
    if clicks:
        conn.execute(_insert("recording_clicks", CLICK_COLUMNS), clicks)
    apply(conn, totals(pages, clicks), 1)
    conn.execute(
        text(
            "UPDATE recordings SET analysed = :v, dead_click_count = :dead, "
            "error_click_count = :error, quick_back_count = :back, "
            "excessive_scroll_count = :scroll WHERE id = :id"
        ),
        {
            "v": ANALYSIS_VERSION,
            "dead": analysis.count("dead_click"),
            "error": analysis.count("error_click"),
            "back": analysis.count("quick_back"),
            "scroll": analysis.count("excessive_scroll"),
            "id": recording_id,
        },
    )


PAGES_OF = with_ids(
    f"SELECT {', '.join(PAGE_COLUMNS)} FROM page_view_stats WHERE recording_id IN :ids"
)
CLICKS_OF = with_ids(
    f"SELECT {', '.join(CLICK_COLUMNS)} FROM recording_clicks WHERE recording_id IN :ids"
)
DELETE_PAGES = with_ids("DELETE FROM page_view_stats WHERE recording_id IN :ids")
DELETE_CLICKS = with_ids("DELETE FROM recording_clicks WHERE recording_id IN :ids")


def forget(conn: Connection, ids: list[str], delete_rows: bool = False) -> None:
    """Subtract these recordings' share from the aggregates (before they are deleted: their
    rows go with them by ON DELETE CASCADE; `delete_rows` deletes them here)."""
    pages = by_ids(conn, PAGES_OF, ids)
    if not pages:
        return
    clicks = by_ids(conn, CLICKS_OF, ids)
    apply(conn, totals(pages, clicks), -1)
    if delete_rows:
        count_by_ids(conn, DELETE_CLICKS, ids)
        count_by_ids(conn, DELETE_PAGES, ids)


def on_ready(ready: ReadyRecording) -> ReadyRows | None:
    """The finalizer's hook: analyse the recording's page views (before its transaction, the
    slow part) and store its rows and aggregates with it; its signals become moments."""
    analysis = analyse_safely(ready.id, ready.events, ready.pages, ready.event_pages)
    if analysis is None:
        return None
    started = ready.summary.started_at or ready.recording["created_at"]

    def write(conn: Connection) -> None:
        add_recording(conn, ready.id, ready.site_id, ready.device, started, analysis)

    return ReadyRows(write, analysis.moments, analysis.rage_names)


def on_delete(conn: Connection, ids: list[str]) -> None:
    """The deletion hook: recordings being deleted leave the heatmaps and the Pages report."""
    forget(conn, ids, delete_rows=True)


def _insert(table: str, columns: tuple[str, ...]) -> Any:
    return text(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"
    )
