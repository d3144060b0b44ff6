"""What a recording contains, computed from its rrweb events (pure functions).

Counters follow PostHog's definitions: a click is a MouseInteraction of type Click, DblClick,
ContextMenu or TouchEnd; active time adds up the gaps of at most 5 s between user-input events.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

# rrweb event types and incremental sources
FULL_SNAPSHOT, INCREMENTAL, META, CUSTOM = 2, 3, 4, 5
MOUSE_INTERACTION = 2
CLICK_TYPES = {2, 3, 4, 9}  # Click, ContextMenu, DblClick, TouchEnd
# MouseMove, MouseInteraction, Scroll, ViewportResize, Input, TouchMove, MediaInteraction, Drag
USER_INPUT_SOURCES = {1, 2, 3, 4, 5, 6, 7, 12}
ACTIVITY_GAP_MS = 5_000
RAGE_CLICKS, RAGE_WINDOW_MS, RAGE_RADIUS_PX = 3, 1_000, 30
ERROR_TAG = "footage.error"


@dataclass
class Summary:
    started_at: int | None = None
    ended_at: int | None = None
    duration_ms: int = 0
    active_ms: int = 0
    click_count: int = 0
    rage_click_count: int = 0
    error_count: int = 0
    event_count: int = 0
    clicks: list[tuple[int, float, float]] = field(default_factory=list)


def is_click(event: dict[str, Any]) -> bool:
    data = event.get("data") or {}
    return (
        event.get("type") == INCREMENTAL
        and data.get("source") == MOUSE_INTERACTION
        and data.get("type") in CLICK_TYPES
    )


def is_user_input(event: dict[str, Any]) -> bool:
    return (
        event.get("type") == INCREMENTAL
        and (event.get("data") or {}).get("source") in USER_INPUT_SOURCES
    )


def is_error(event: dict[str, Any]) -> bool:
    return event.get("type") == CUSTOM and (event.get("data") or {}).get("tag") == ERROR_TAG


def active_time(input_times: list[int]) -> int:
    """Sum of the gaps between consecutive user-input events that are at most 5 s long."""
    total = 0
    for before, after in zip(input_times, input_times[1:], strict=False):
        gap = after - before
        if gap <= ACTIVITY_GAP_MS:
            total += gap
    return total


def rage_clicks(clicks: list[tuple[int, float, float]]) -> int:
    """Bursts of 3+ clicks within 1 s inside a 30 px radius; each burst counts once."""
    count, i = 0, 0
    while i < len(clicks):
        t0, x0, y0 = clicks[i]
        burst = [
            c
            for c in clicks[i:]
            if c[0] - t0 <= RAGE_WINDOW_MS and math.hypot(c[1] - x0, c[2] - y0) <= RAGE_RADIUS_PX
        ]
        if len(burst) >= RAGE_CLICKS:
            count += 1
            last = burst[-1]
            i = clicks.index(last, i) + 1
        else:
            i += 1
    return count


def summarize(events: list[dict[str, Any]]) -> Summary:
    """Counters and times of a recording; `events` must be in time order."""
    s = Summary(event_count=len(events))
    if not events:
        return s
    s.started_at = int(events[0]["timestamp"])
    s.ended_at = int(events[-1]["timestamp"])
    s.duration_ms = s.ended_at - s.started_at
    inputs: list[int] = []
    for event in events:
        ts = int(event["timestamp"])
        if is_user_input(event):
            inputs.append(ts)
        if is_click(event):
            data = event["data"]
            s.clicks.append((ts, float(data.get("x") or 0), float(data.get("y") or 0)))
        elif is_error(event):
            s.error_count += 1
    s.click_count = len(s.clicks)
    s.rage_click_count = rage_clicks(s.clicks)
    s.active_ms = active_time(inputs)
    return s


def utm_params(url: str) -> dict[str, str | None]:
    query = parse_qs(urlsplit(url).query)
    names = ("source", "medium", "campaign", "term", "content")
    return {f"utm_{k}": query[f"utm_{k}"][0] if f"utm_{k}" in query else None for k in names}


def external_referrer(referrer: str, entry_url: str) -> str:
    """The referrer if it is another site (a link within the same site is no referrer)."""
    if not referrer:
        return ""
    ref, entry = urlsplit(referrer), urlsplit(entry_url)
    return "" if ref.netloc and ref.netloc == entry.netloc else referrer
