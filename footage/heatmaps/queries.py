"""The read side of heatmaps and the Pages report: sums of the aggregates over a period.

A heatmap is asked for by page address or pattern (`shop.example/products/*`), a period of
whole days (UTC) and a device type. It reads only the aggregates (store.py), whose size
grows with the number of distinct places clicked, not with the number of recordings, so a
heatmap of 50,000 recordings opens as fast as one of 500 (bench/RESULTS.md §9).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, text

from footage.errors import BadRequest, NotFound
from footage.heatmaps.analysis import page_key
from footage.heatmaps.store import CELL_PX, DAY_MS, DEPTH_PX, FLAG_DEAD, FLAG_ERROR, FLAG_RAGE
from footage.recordings.queries import iter_events
from footage.rrweb import FULL_SNAPSHOT, META
from footage.signals import ELEMENT_COLUMNS, PAGE_COLUMNS
from footage.store.blobs import BlobStore
from footage.store.db import Database

DEVICES = ("desktop", "tablet", "mobile")
DEFAULT_DAYS = 10
MAX_DAYS = 366
MAX_PATTERN_PAGES = 1_000
TOP_ELEMENTS = 50
SORTS = {"views": "views", "exit_rate": "exit_rate", **{c: c for c in PAGE_COLUMNS}}
# Exit rates of pages seen a handful of times say nothing: "highest exit rate" ranks pages
# with at least this many views.
EXIT_RATE_MIN_VIEWS = 10


@dataclass(frozen=True)
class Scope:
    """Which recordings a heatmap or the Pages report sums: one site, whole days (UTC)."""

    site_id: str
    first_day: int
    last_day: int
    device: str | None

    @property
    def params(self) -> dict[str, Any]:
        values: dict[str, Any] = {"site": self.site_id, "d0": self.first_day, "d1": self.last_day}
        if self.device:
            values["device"] = self.device
        return values

    @property
    def label(self) -> tuple[str, str]:
        return _iso_day(self.first_day), _iso_day(self.last_day)


def _iso_day(day: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=day)).isoformat()


def _day(value: str, name: str) -> int:
    try:
        return (date.fromisoformat(value) - date(1970, 1, 1)).days
    except ValueError:
        raise BadRequest(
            f"'{name}' must be a date like 2026-11-20, not {value[:40]!r}", code="bad_date"
        ) from None


def scope_of(
    db: Database,
    account_id: str,
    now_ms: int,
    site_id: str | None,
    first: str | None,
    last: str | None,
    device: str | None,
) -> Scope:
    """Checks the query's site, period and device; the site defaults to the account's
    first, the period to the last 10 days (the retention period) up to today."""
    sites = db.all(
        "SELECT id FROM sites WHERE account_id = :a ORDER BY created_at", {"a": account_id}
    )
    if not sites:
        raise NotFound("this account has no site yet", code="no_site")
    if site_id:
        if site_id not in {s["id"] for s in sites}:
            raise NotFound("no such site in this account", code="site_not_found")
    else:
        site_id = sites[0]["id"]
    today = now_ms // DAY_MS
    last_day = _day(last, "to") if last else today
    first_day = _day(first, "from") if first else last_day - (DEFAULT_DAYS - 1)
    if first_day > last_day:
        raise BadRequest("'from' must not be after 'to'", code="bad_period")
    if last_day - first_day >= MAX_DAYS:
        raise BadRequest(f"a period can be at most {MAX_DAYS} days long", code="bad_period")
    if device and device not in DEVICES:
        raise BadRequest(f"'device' must be one of {', '.join(DEVICES)}", code="bad_device")
    return Scope(site_id, first_day, last_day, device or None)


def scope_from_form(db: Database, account_id: str, now_ms: int, form: dict[str, str]) -> Scope:
    """scope_of() for a dashboard form's `site_id`, `from`, `to` and `device` (empty: default)."""
    return scope_of(
        db,
        account_id,
        now_ms,
        form.get("site_id") or None,
        form.get("from") or None,
        form.get("to") or None,
        form.get("device") or None,
    )


def _in(statement: str) -> Any:
    return text(statement).bindparams(bindparam("keys", expanding=True))


def pages_matching(db: Database, scope: Scope, url: str) -> list[str]:
    """The page keys an address or pattern names. `*` matches any characters (a pattern may
    name up to 1,000 pages); without one, the address is one page (scheme, query and
    fragment do not matter)."""
    url = url.strip()
    if not url:
        raise BadRequest("give the page: 'url' is an address or a pattern with *", code="no_url")
    if "*" not in url:
        return [page_key(url)]
    pattern = page_key(url)
    like = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace("*", "%")
    rows = db.all(
        "SELECT DISTINCT page_key FROM page_stats WHERE site_id = :site AND day BETWEEN :d0 "
        "AND :d1 AND page_key LIKE :p ESCAPE '\\' ORDER BY page_key LIMIT :n",
        {**scope.params, "p": like, "n": MAX_PATTERN_PAGES},
    )
    return [r["page_key"] for r in rows]


def _where(scope: Scope, alias: str = "") -> str:
    a = f"{alias}." if alias else ""
    device = f" AND {a}device = :device" if scope.device else ""
    return f"{a}site_id = :site AND {a}page_key IN :keys AND {a}day BETWEEN :d0 AND :d1{device}"


def device_for(db: Database, scope: Scope, keys: list[str]) -> str:
    """The device type with the most page views of these pages (desktop when none)."""
    if not keys:
        return "desktop"
    with db.read() as conn:
        rows = conn.execute(
            _in(
                f"SELECT device, SUM(views) AS n FROM page_stats WHERE {_where(scope)} "
                "GROUP BY device ORDER BY n DESC"
            ),
            {**scope.params, "keys": keys},
        ).mappings()
        found = [r["device"] for r in rows if r["device"] in DEVICES]
    return found[0] if found else "desktop"


def heatmap(db: Database, scope: Scope, keys: list[str], width: int | None) -> dict[str, Any]:
    """Clicks, elements, scroll depth and totals of these pages over the scope.

    `cells` are [x, y, clicks] with x, y the middle of a 10 px cell on the page rendered
    `width` px wide (clicks are kept relative to the middle of the visitor's window, so they
    land where a centred layout puts the same element at this width).
    """
    params = {**scope.params, "keys": keys}
    out: dict[str, Any] = {
        "width": width or 0,
        "widths": [],
        "page_views": 0,
        "clicks": 0,
        "cells": [],
        "cell_size": CELL_PX,
        "elements": [],
        "scroll": [],
        "signals": {},
    }
    if not keys:
        return out
    where = _where(scope)
    with db.read() as conn:
        widths = [
            {"width": r["width"], "page_views": int(r["n"])}
            for r in conn.execute(
                _in(
                    f"SELECT width, SUM(views) AS n FROM heatmap_widths WHERE {where} "
                    "GROUP BY width ORDER BY n DESC, width DESC LIMIT 20"
                ),
                params,
            ).mappings()
        ]
        totals = (
            conn.execute(
                _in(
                    "SELECT SUM(views) AS views, SUM(exits) AS exits, SUM(clicks) AS clicks, "
                    f"{_sums(PAGE_COLUMNS)} FROM page_stats WHERE {where}"
                ),
                params,
            )
            .mappings()
            .one()
        )
        cells = conn.execute(
            _in(f"SELECT x, y, SUM(clicks) AS n FROM heatmap_cells WHERE {where} GROUP BY x, y"),
            params,
        ).all()
        elements = conn.execute(
            _in(
                "SELECT selector, MAX(text) AS text, SUM(clicks) AS clicks, "
                f"{_sums(ELEMENT_COLUMNS)} FROM heatmap_elements WHERE {where} "
                "GROUP BY selector ORDER BY clicks DESC, selector LIMIT :top"
            ),
            {**params, "top": TOP_ELEMENTS},
        ).mappings()
        element_rows = [dict(e) for e in elements]
        depths = conn.execute(
            _in(
                f"SELECT depth, SUM(views) AS n FROM heatmap_depths WHERE {where} "
                "GROUP BY depth ORDER BY depth"
            ),
            params,
        ).all()
    chosen = width or (widths[0]["width"] if widths else 1280)
    middle = chosen // 2
    views = int(totals["views"] or 0)
    clicks = int(totals["clicks"] or 0)
    out.update(
        width=chosen,
        widths=widths,
        page_views=views,
        clicks=clicks,
        cells=[
            [middle + x * CELL_PX + CELL_PX // 2, y * CELL_PX + CELL_PX // 2, int(n)]
            for x, y, n in cells
        ],
        elements=[
            {
                "selector": e["selector"],
                "text": e["text"] or "",
                "clicks": int(e["clicks"]),
                "share": round(int(e["clicks"]) / clicks, 4) if clicks else 0,
                **{c: int(e[c]) for c in ELEMENT_COLUMNS},
            }
            for e in element_rows
        ],
        scroll=_reach(depths, sum(int(n) for _, n in depths)),
        signals={k: int(totals[k] or 0) for k in ("exits", *PAGE_COLUMNS)},
    )
    return out


def _sums(columns: Sequence[str]) -> str:
    """`SUM(c) AS c, …`: the signals' columns summed over the scope."""
    return ", ".join(f"SUM({c}) AS {c}" for c in columns)


def _reach(depths: Sequence[Any], views: int) -> list[list[float]]:
    """[depth px, share of page views whose window reached that far], every 50 px down to
    the deepest view. A view that reached 730 px counts for 0–700 (its last full step)."""
    if not depths or not views:
        return []
    by_step = {int(d): int(n) for d, n in depths}
    deepest = max(by_step)
    reached = 0
    out: list[list[float]] = []
    for step in range(deepest, -1, -1):
        reached += by_step.get(step, 0)
        out.append([step * DEPTH_PX, round(reached / views, 4)])
    out.reverse()
    return out


def snapshot(
    db: Database, blobs: BlobStore, scope: Scope, keys: list[str], width: int
) -> dict[str, Any]:
    """The page as a visitor saw it: Meta and FullSnapshot of the latest page view of these
    pages at this device and window width (else the nearest width), for the heatmap to draw
    over."""
    if not keys or not scope.device:
        raise NotFound("no recorded page view of this page in the period", code="no_page_view")
    with db.read() as conn:
        row = (
            conn.execute(
                _in(
                    "SELECT v.recording_id, v.started_at, v.width, v.height, v.url "
                    "FROM page_view_stats v JOIN recordings r ON r.id = v.recording_id "
                    f"WHERE {_where(scope, 'v')} AND r.status = 'ready' "
                    "ORDER BY ABS(v.width - :w), v.started_at DESC LIMIT 1"
                ),
                {**scope.params, "keys": keys, "w": width},
            )
            .mappings()
            .first()
        )
    if row is None:
        raise NotFound("no recorded page view of this page in the period", code="no_page_view")
    start = int(row["started_at"])
    meta = full = None
    for event in iter_events(db, blobs, row["recording_id"]):
        if event["timestamp"] < start:
            continue
        if meta is None and event.get("type") == META:
            meta = event
        elif meta is not None and event.get("type") == FULL_SNAPSHOT:
            full = event
            break
    if meta is None or full is None:
        raise NotFound(
            "the page view's snapshot is missing from its recording", code="no_page_view"
        )
    return {
        "recording_id": row["recording_id"],
        "url": row["url"],
        "width": row["width"],
        "height": row["height"],
        "events": [meta, full],
    }


def recordings_at(
    db: Database,
    scope: Scope,
    keys: list[str],
    width: int,
    selector: str | None = None,
    place: tuple[int, int, int] | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """The ready recordings that clicked an element (its selector) or a place of the page
    rendered `width` px wide (x, y, radius in px), each with the moment of its first click
    there, so the player opens at it."""
    if not keys:
        return {"recordings": [], "clicks": 0}
    condition = ""
    params: dict[str, Any] = {**scope.params, "keys": keys, "n": limit}
    if selector:
        condition = " AND c.selector = :selector"
        params["selector"] = selector
    elif place:
        x, y, radius = place
        condition = " AND c.x BETWEEN :x0 AND :x1 AND c.y BETWEEN :y0 AND :y1"
        rel = x - width // 2
        params.update(x0=rel - radius, x1=rel + radius, y0=y - radius, y1=y + radius)
    else:
        raise BadRequest("give 'selector', or 'x' and 'y' of a place", code="no_place")
    with db.read() as conn:
        # The clicks there, grouped per recording first: only those recordings are joined.
        rows = conn.execute(
            _in(
                "SELECT c.recording_id, c.at, c.clicks, c.rage, c.dead, c.error, r.started_at, "
                "r.duration_ms, r.device, r.country FROM (SELECT recording_id, MIN(at) AS at, "
                f"COUNT(*) AS clicks, MAX(flags & {FLAG_RAGE}) AS rage, "
                f"MAX(flags & {FLAG_DEAD}) AS dead, MAX(flags & {FLAG_ERROR}) AS error "
                f"FROM recording_clicks c WHERE {_where(scope, 'c')}{condition} "
                "GROUP BY recording_id) c JOIN recordings r ON r.id = c.recording_id "
                "WHERE r.status = 'ready' ORDER BY r.started_at DESC LIMIT :n"
            ),
            params,
        ).mappings()
        found = [dict(r) for r in rows]
        total = conn.execute(
            _in(f"SELECT COUNT(*) FROM recording_clicks c WHERE {_where(scope, 'c')}{condition}"),
            params,
        ).scalar_one()

    def offset(r: dict[str, Any]) -> int:
        return max(0, int(r["at"]) - int(r["started_at"]))

    return {
        "clicks": int(total),
        "recordings": [
            {
                "id": r["recording_id"],
                "started_at": datetime.fromtimestamp(r["started_at"] / 1000, UTC).isoformat(),
                "duration_ms": r["duration_ms"],
                "device": r["device"],
                "country": r["country"],
                "clicks": int(r["clicks"]),
                "at_ms": offset(r),
                "rage": bool(r["rage"]),
                "dead": bool(r["dead"]),
                "error": bool(r["error"]),
                "player_url": f"/recordings/{r['recording_id']}?t={offset(r)}",
            }
            for r in found
        ],
    }


def pages_report(db: Database, scope: Scope, sort: str, limit: int = 100) -> dict[str, Any]:
    """Pages of the site over the scope with their views, exit rate and signals, most of
    `sort` first ("exit_rate" ranks pages with at least 10 views)."""
    if sort not in SORTS:
        raise BadRequest(f"'sort' must be one of {', '.join(SORTS)}", code="bad_sort")
    device = " AND device = :device" if scope.device else ""
    having = f" HAVING SUM(views) >= {EXIT_RATE_MIN_VIEWS}" if sort == "exit_rate" else ""
    rows = db.all(
        "SELECT page_key, SUM(views) AS views, SUM(exits) AS exits, SUM(clicks) AS clicks, "
        f"{_sums(PAGE_COLUMNS)}, "
        "CAST(SUM(exits) AS REAL) / SUM(views) AS exit_rate FROM page_stats "
        f"WHERE site_id = :site AND day BETWEEN :d0 AND :d1{device} GROUP BY page_key{having} "
        f"ORDER BY {SORTS[sort]} DESC, views DESC, page_key LIMIT :n",
        {**scope.params, "n": limit},
    )
    return {
        "pages": [
            {
                "page": r["page_key"],
                **{k: int(r[k] or 0) for k in ("views", "exits", "clicks", *PAGE_COLUMNS)},
                "exit_rate": round(float(r["exit_rate"] or 0), 4),
            }
            for r in rows
        ]
    }
