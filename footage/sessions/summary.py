"""What a recording contains, computed from its rrweb events (pure functions).

Counters follow PostHog's definitions: a click is a MouseInteraction of type Click, DblClick,
ContextMenu or TouchEnd; active time adds up the gaps of at most 5 s between user-input events.

Moments are the points of a recording worth jumping to (stored in `recording_moments` by the
finalizer): page entries, rage clicks, JavaScript errors and the site's custom events.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from footage.rrweb import (
    CLICK,
    CUSTOM,
    ERROR_TAG,
    EVENT_TAG,
    INACTIVE_AFTER_MS,
    data_of,
    is_activity,
    is_click,
)
from footage.urls import split_url

RAGE_CLICKS, RAGE_WINDOW_MS, RAGE_RADIUS_PX = 3, 1_000, 30

# Bounds on what one recording stores as moments, whatever a (modified) recorder sent. Names
# are capped in UTF-8 bytes too: PostgreSQL refuses B-tree index entries above ~2.7 kB, and
# (kind, name) is indexed.
MAX_MOMENTS_PER_KIND = 10_000
MAX_NAME_BYTES = 2_000
MAX_ERROR_CHARS = 1_000
MAX_EVENT_NAME_CHARS = 100
MAX_EVENT_PROPS = 50
MAX_PROP_KEY_CHARS = 100
MAX_PROP_VALUE_CHARS = 500
# A visitor first seen longer ago than this before a recording began is a returning one.
RETURNING_AFTER_MS = 30 * 60 * 1000


@dataclass(frozen=True)
class Moment:
    """One row of `recording_moments`: kind 'page' | 'rage_click' | 'error' | 'event'."""

    kind: str
    at: int  # ms since the epoch, on the recording's (the browser's) clock
    name: str | None = None
    detail: dict[str, Any] | None = None


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
    # rage clicks, errors and custom events in time order (pages come from page_moments)
    moments: list[Moment] = field(default_factory=list)


def is_error(event: dict[str, Any]) -> bool:
    return event.get("type") == CUSTOM and data_of(event).get("tag") == ERROR_TAG


def is_site_event(event: dict[str, Any]) -> bool:
    return event.get("type") == CUSTOM and data_of(event).get("tag") == EVENT_TAG


def active_time(input_times: list[int]) -> int:
    """Sum of the gaps between consecutive activity events that are at most 5 s long."""
    total = 0
    for before, after in zip(input_times, input_times[1:], strict=False):
        gap = after - before
        if gap <= INACTIVE_AFTER_MS:
            total += gap
    return total


def rage_clicks(clicks: list[tuple[int, float, float]]) -> int:
    """Bursts of 3+ clicks within 1 s inside a 30 px radius; each burst counts once."""
    return len(rage_click_times(clicks))


def rage_click_times(clicks: list[tuple[int, float, float]]) -> list[int]:
    """One time per rage-click burst: that of its third click, the one that made it rage."""
    return [clicks[burst[RAGE_CLICKS - 1]][0] for burst in rage_bursts(clicks)]


def rage_bursts(clicks: list[tuple[int, float, float]]) -> list[list[int]]:
    """The bursts of 3+ clicks within 1 s of a burst's first click and inside a 30 px radius
    of it, as lists of indices into `clicks` (which must be in time order)."""
    bursts: list[list[int]] = []
    i = 0
    while i < len(clicks):
        t0, x0, y0 = clicks[i]
        burst = []
        for j in range(i, len(clicks)):
            t, x, y = clicks[j]
            if t - t0 > RAGE_WINDOW_MS:
                break
            if math.hypot(x - x0, y - y0) <= RAGE_RADIUS_PX:
                burst.append(j)
        if len(burst) >= RAGE_CLICKS:
            bursts.append(burst)
            i = burst[-1] + 1
        else:
            i += 1
    return bursts


def storable(text: str) -> str:
    """Text both databases store: no NUL characters (PostgreSQL refuses them), no lone
    surrogates (not UTF-8)."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def capped_name(text: str, chars: int) -> str:
    """At most `chars` characters and MAX_NAME_BYTES UTF-8 bytes, storable."""
    raw = storable(text)[:chars].encode("utf-8")
    # Cutting the bytes may split a character: "ignore" drops its remains.
    return raw[:MAX_NAME_BYTES].decode("utf-8", "ignore")


def _props(value: Any) -> dict[str, str | int | float | bool]:
    """A custom event's properties, kept flat: string, number and true/false values only."""
    props: dict[str, str | int | float | bool] = {}
    if not isinstance(value, dict):
        return props
    for key, item in value.items():
        if len(props) >= MAX_EVENT_PROPS:
            break
        if not isinstance(key, str) or not key:
            continue
        if isinstance(item, str):
            item = storable(item)[:MAX_PROP_VALUE_CHARS]
        elif not isinstance(item, int | float) or (
            isinstance(item, float) and not math.isfinite(item)
        ):
            continue  # true/false are ints and stay; NaN and infinities are not JSON
        props[storable(key)[:MAX_PROP_KEY_CHARS]] = item
    return props


def _coordinate(value: Any) -> float:
    """A click's x or y; 0 for what is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    number = float(value)
    return number if math.isfinite(number) else 0.0


def error_moment(event: dict[str, Any]) -> Moment:
    payload = data_of(event).get("payload")
    message = payload.get("message") if isinstance(payload, dict) else None
    name = capped_name(message, MAX_ERROR_CHARS) if isinstance(message, str) else ""
    return Moment("error", int(event["timestamp"]), name or "Unknown error")


def event_moment(event: dict[str, Any]) -> Moment | None:
    """footage('event', name, props) → its moment; None when it has no usable name."""
    payload = data_of(event).get("payload")
    if not isinstance(payload, dict) or not isinstance(payload.get("name"), str):
        return None
    name = capped_name(payload["name"].strip(), MAX_EVENT_NAME_CHARS)
    if not name:
        return None
    return Moment("event", int(event["timestamp"]), name, _props(payload.get("props")))


def page_moments(pages: Iterable[tuple[int, str]]) -> list[Moment]:
    """(start, url) of each page view → its moments."""
    return [Moment("page", int(at), capped_name(url or "", 4096)) for at, url in pages]


def is_returning(has_earlier_recording: bool, first_seen_at: int | None, created_at: int) -> bool:
    """A returning visitor: an earlier recording of theirs is still kept, or we have known them
    for more than 30 minutes before this recording began (earlier ones may be deleted)."""
    if has_earlier_recording:
        return True
    return first_seen_at is not None and first_seen_at < created_at - RETURNING_AFTER_MS


def summarize(events: list[dict[str, Any]], longest_ms: int | None = None) -> Summary:
    """Counters and times of a recording; `events` must be in time order.

    With `longest_ms`, a recording whose events spread over more (stored before ingest
    bounded their times, or sent by something other than the recorder) lasts its last
    `longest_ms`: its start, duration and active time count from there, so no recording
    shows, sorts or renders as if it had lasted years.
    """
    s = Summary(event_count=len(events))
    if not events:
        return s
    s.started_at = int(events[0]["timestamp"])
    s.ended_at = int(events[-1]["timestamp"])
    if longest_ms is not None and s.ended_at - s.started_at > longest_ms:
        s.started_at = s.ended_at - longest_ms
    s.duration_ms = s.ended_at - s.started_at
    inputs: list[int] = []
    # Rage clicks count Click events alone: a tap also records a TouchEnd, so two taps would
    # otherwise look like four clicks.
    plain_clicks: list[tuple[int, float, float]] = []
    errors: list[Moment] = []
    site_events: list[Moment] = []
    for event in events:
        ts = int(event["timestamp"])
        if is_activity(event) and ts >= s.started_at:
            inputs.append(ts)
        if is_click(event):
            data = data_of(event)
            point = (ts, _coordinate(data.get("x")), _coordinate(data.get("y")))
            s.clicks.append(point)
            if data.get("type") == CLICK:
                plain_clicks.append(point)
        elif is_error(event):
            s.error_count += 1
            if len(errors) < MAX_MOMENTS_PER_KIND:
                errors.append(error_moment(event))
        elif is_site_event(event) and len(site_events) < MAX_MOMENTS_PER_KIND:
            moment = event_moment(event)
            if moment is not None:
                site_events.append(moment)
    s.click_count = len(s.clicks)
    rage = rage_click_times(plain_clicks)
    s.rage_click_count = len(rage)
    s.active_ms = active_time(inputs)
    rage_moments = [Moment("rage_click", t) for t in rage[:MAX_MOMENTS_PER_KIND]]
    # Each list is in time order already; sorted() merges them stably.
    s.moments = sorted(rage_moments + errors + site_events, key=lambda m: m.at)
    return s


def utm_params(url: str) -> dict[str, str | None]:
    query = parse_qs(split_url(url).query)
    names = ("source", "medium", "campaign", "term", "content")
    return {f"utm_{k}": query[f"utm_{k}"][0] if f"utm_{k}" in query else None for k in names}


def external_referrer(referrer: str, entry_url: str) -> str:
    """The referrer if it is another site (a link within the same site is no referrer)."""
    if not referrer:
        return ""
    ref, entry = split_url(referrer), split_url(entry_url)
    return "" if ref.netloc and ref.netloc == entry.netloc else referrer
