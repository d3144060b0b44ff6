"""Where one recording's visitor clicked, how far they scrolled and where they got stuck:
the frustration signals and the heatmap rows of a recording, from its rrweb events (pure).

Every page view is replayed into a mirror of its DOM (dom.py), so each click is known by the
element it hit (a stable CSS selector and a short text) and by where it landed on the page:
the click's viewport position plus the window's scroll position at that moment.

The signals, each with its moment (time) in the recording:

- **rage click**: 3 or more clicks within 1 s inside a 30 px radius (sessions/summary.py);
  every click of the burst is flagged, and none of them is also a dead click.
- **dead click**: a click on an element followed, within 1 s, by no DOM change, no
  navigation and no scroll — while the page visibly lived on (some event of the same page
  view more than 1 s later; a page view that ends sooner was left, which is navigation).
  Clicks into a text field are never dead (focusing it is their effect), nor clicks on the
  page's background (html, body).
- **error click**: a JavaScript error within 1 s after a click.
- **quick back**: a page left within 5 s by going back to the page before it (the next page
  view has the address of the previous one).
- **excessive scrolling**: on one page view, the scrolling changes direction 3 times within
  10 s, each stretch at least 300 px long.
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_right
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from footage.heatmaps.dom import PageDom
from footage.rrweb import (
    ADOPTED_STYLE_SHEET,
    CANVAS_MUTATION,
    CLICK,
    CUSTOM,
    ERROR_TAG,
    FULL_SNAPSHOT,
    INCREMENTAL,
    INPUT,
    MEDIA_INTERACTION,
    META,
    MOUSE_INTERACTION,
    MUTATION,
    SCROLL,
    STYLE_DECLARATION,
    STYLE_SHEET_RULE,
    VIEWPORT_RESIZE,
    data_of,
)
from footage.sessions.summary import (
    MAX_MOMENTS_PER_KIND,
    RAGE_CLICKS,
    Moment,
    capped_name,
    rage_bursts,
)

log = logging.getLogger(__name__)

# Bump when the analysis changes: recordings analysed by an older version are analysed again
# in the background (heatmaps/backfill.py), and their heatmap rows replaced.
# 2: a rage burst's clicks are no longer also dead clicks; 3: rage clicks are named
ANALYSIS_VERSION = 3

RESPONSE_WINDOW_MS = 1_000  # dead clicks
ERROR_WINDOW_MS = 1_000  # error clicks
QUICK_BACK_MS = 5_000
SCROLL_REVERSALS = 3
SCROLL_LEG_PX = 300
SCROLL_WINDOW_MS = 10_000

# rrweb incremental sources that are the page answering a click.
RESPONSE_SOURCES = frozenset(
    {
        MUTATION,
        SCROLL,
        INPUT,
        MEDIA_INTERACTION,
        STYLE_SHEET_RULE,
        CANVAS_MUTATION,
        STYLE_DECLARATION,
        ADOPTED_STYLE_SHEET,
    }
)

MAX_SELECTOR_CHARS = 1_000
MAX_TEXT_CHARS = 80
MAX_KEY_BYTES = 1_000


@dataclass
class Click:
    at: int  # ms since the epoch
    page: int  # index into Analysis.pages
    x: int  # where on the page, in CSS px at the visitor's window width
    y: int
    vx: float  # where in the window
    vy: float
    width: int  # the window's width
    selector: str  # "" when the element is unknown (a cut recording)
    text: str
    # a click into a text field (focusing it is its effect) or on the page's background
    # (html, body) is never dead
    may_be_dead: bool = False
    rage: bool = False
    dead: bool = False
    error: bool = False


@dataclass
class PageView:
    url: str
    key: str
    started_at: int
    ended_at: int
    width: int = 0
    height: int = 0
    max_depth: int = 0  # the deepest point of the page that was in the window, in px
    exited: bool = False  # the recording's last page view
    quick_back: bool = False
    excessive_scrolls: int = 0
    clicks: int = 0
    rage_clicks: int = 0
    dead_clicks: int = 0
    error_clicks: int = 0


@dataclass
class Analysis:
    pages: list[PageView] = field(default_factory=list)
    clicks: list[Click] = field(default_factory=list)
    # dead clicks, error clicks, quick backs and excessive scrolling, in time order (rage
    # clicks are moments of the summary already)
    moments: list[Moment] = field(default_factory=list)
    kept: dict[str, int] = field(default_factory=dict)  # moments per kind, up to the cap
    # What each rage burst hit, as a moment at its third click (the summary's rage moment's
    # time): the element's text, its selector in the detail. The summary finds the bursts;
    # only the analysis knows the page's elements.
    rage_names: list[Moment] = field(default_factory=list)

    def count(self, kind: str) -> int:
        """How many of this signal the recording had (beyond the moments' cap too); rage
        clicks are counted by the summary (sessions/summary.py)."""
        return self.kept.get(kind, 0)


def page_key(url: str) -> str:
    """A page's address without scheme, query and fragment: host (lowercase, with a port that
    is not the default) and path without a trailing slash. `https://Shop.example/a/?x=1` and
    `http://shop.example/a` are one page, `shop.example/a`."""
    text = url.strip()
    if "//" not in text.split("?", 1)[0]:
        text = "//" + text  # an address typed without its scheme
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return capped_name(url.strip(), MAX_KEY_BYTES)
    if port and not (
        parts.scheme == "http" and port == 80 or parts.scheme == "https" and port == 443
    ):
        host = f"{host}:{port}"
    path = re.sub("/{2,}", "/", parts.path or "/")
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    return capped_name(host + path, MAX_KEY_BYTES)


def analyse(
    events: list[dict[str, Any]],
    page_starts: list[tuple[int, str]],
    event_pages: list[int] | None = None,
) -> Analysis:
    """The recording's page views, clicks and signals.

    `events` in time order; `page_starts` the (start, address) of each page view, as the
    finalizer knows them from recording_pages. `event_pages` gives each event's page view
    (an index into `page_starts`), as the finalizer knows it from the batches, so pages open
    in two tabs at once keep their own events; without it every event belongs to the last
    page view that started at or before it.
    """
    order = sorted(range(len(page_starts)), key=lambda i: (int(page_starts[i][0]), i))
    starts = [(int(page_starts[i][0]), page_starts[i][1]) for i in order]
    rank = {original: position for position, original in enumerate(order)}
    if not starts and events:
        starts = [(int(events[0]["timestamp"]), _meta_href(events) or "")]
    result = Analysis()
    if not starts:
        return result
    begin = [t for t, _ in starts]
    groups: list[list[dict[str, Any]]] = [[] for _ in starts]
    for position, event in enumerate(events):
        if event_pages is not None and event_pages[position] in rank:
            index = rank[event_pages[position]]
        else:
            index = max(0, bisect_right(begin, int(event["timestamp"])) - 1)
        groups[index].append(event)
    for index, ((start, url), group) in enumerate(zip(starts, groups, strict=True)):
        end = int(group[-1]["timestamp"]) if group else start
        view = PageView(url=url, key=page_key(url), started_at=start, ended_at=max(start, end))
        result.pages.append(view)
        _page(view, index, group, result)
    if result.pages:
        result.pages[-1].exited = True
    _quick_backs(result)
    result.moments.sort(key=lambda m: m.at)
    return result


def analyse_safely(
    recording_id: str,
    events: list[dict[str, Any]],
    page_starts: list[tuple[int, str]],
    event_pages: list[int] | None = None,
) -> Analysis | None:
    """analyse(), or None (logged) when a recording defeats it: the recording is still made
    ready and playable, only without heatmap rows and signals."""
    try:
        return analyse(events, page_starts, event_pages)
    except Exception:
        log.exception("analysing %s for heatmaps failed; it is kept without them", recording_id)
        return None


def _meta_href(events: list[dict[str, Any]]) -> str | None:
    for event in events:
        if event.get("type") == META:
            href = data_of(event).get("href")
            return href if isinstance(href, str) else None
    return None


class _Scrolling:
    """Direction changes of one scrolling element (or the window)."""

    def __init__(self, start: float) -> None:
        self.anchor = start
        self.direction = 0
        self.turns: deque[int] = deque()

    def move(self, position: float, at: int) -> bool:
        """True when this move completes a burst of excessive scrolling."""
        if self.direction == 0:
            if abs(position - self.anchor) >= SCROLL_LEG_PX:
                self.direction = 1 if position > self.anchor else -1
                self.anchor = position
            return False
        if (position - self.anchor) * self.direction > 0:
            self.anchor = position  # further the same way
            return False
        if abs(position - self.anchor) < SCROLL_LEG_PX:
            return False
        self.direction = -self.direction
        self.anchor = position
        self.turns.append(at)
        while self.turns and at - self.turns[0] > SCROLL_WINDOW_MS:
            self.turns.popleft()
        if len(self.turns) >= SCROLL_REVERSALS:
            self.turns.clear()
            return True
        return False


def _page(view: PageView, index: int, events: list[dict[str, Any]], result: Analysis) -> None:
    dom = PageDom()
    scroll_x = scroll_y = 0.0
    scrolling: dict[int, _Scrolling] = {}
    clicks: list[Click] = []
    waiting: list[Click] = []  # clicks whose page has not answered yet
    erring: list[Click] = []  # clicks an error within 1 s would make error clicks
    excessive: list[int] = []

    def depth() -> None:
        view.max_depth = max(view.max_depth, int(scroll_y + view.height))

    for event in events:
        at = int(event["timestamp"])
        kind = event.get("type")
        data = event.get("data") or {}
        if not isinstance(data, dict):
            continue
        # The page lived on past these clicks' second without answering them.
        while waiting and waiting[0].at + RESPONSE_WINDOW_MS < at:
            late = waiting.pop(0)
            late.dead = late.may_be_dead
        while erring and erring[0].at + ERROR_WINDOW_MS < at:
            erring.pop(0)
        if kind == META:
            view.width = _int(data.get("width"), view.width)
            view.height = _int(data.get("height"), view.height)
            depth()
        elif kind == FULL_SNAPSHOT:
            node = data.get("node")
            if isinstance(node, dict):
                dom.load(node)
            offset = data.get("initialOffset") or {}
            if isinstance(offset, dict):
                scroll_x = _num(offset.get("left"), 0)
                scroll_y = _num(offset.get("top"), 0)
            depth()
        elif kind == CUSTOM:
            if data.get("tag") == ERROR_TAG:
                for click in erring:
                    click.error = True
                erring.clear()
        elif kind == INCREMENTAL:
            source = data.get("source")
            if not isinstance(source, int):
                continue
            if source == MUTATION:
                dom.apply(data)
            elif source == VIEWPORT_RESIZE:
                view.width = _int(data.get("width"), view.width)
                view.height = _int(data.get("height"), view.height)
                depth()
            elif source == SCROLL:
                target = data.get("id")
                x, y = _num(data.get("x"), 0), _num(data.get("y"), 0)
                if isinstance(target, int):
                    # the window starts where the snapshot found it; an element at its top
                    start = scroll_y if target == dom.root_id else 0.0
                    if scrolling.setdefault(target, _Scrolling(start)).move(y, at):
                        excessive.append(at)
                if target == dom.root_id:
                    scroll_x, scroll_y = x, y
                    depth()
            if source in RESPONSE_SOURCES and (source != MUTATION or _changes(data)):
                waiting.clear()
            if source == MOUSE_INTERACTION and data.get("type") == CLICK:
                click = _click(dom, data, at, index, view.width, scroll_x, scroll_y)
                clicks.append(click)
                waiting.append(click)
                erring.append(click)
    # Clicks still waiting when the page view ended: it was left (navigation), not dead.
    for burst in rage_bursts([(c.at, c.vx, c.vy) for c in clicks]):
        for i in burst:
            # One signal per frustration: the clicks of a rage burst are that burst, not also
            # as many dead clicks (the page not answering is what the burst says already).
            clicks[i].rage, clicks[i].dead = True, False
        view.rage_clicks += 1
        # The page's background (html, body) is no element the visitor meant: left unnamed.
        on = [clicks[i] for i in burst if clicks[i].selector not in ("", "html", "body")]
        if on and len(result.rage_names) < MAX_MOMENTS_PER_KIND:
            named = next((c for c in on if c.text), on[0])
            result.rage_names.append(
                Moment(
                    "rage_click",
                    clicks[burst[RAGE_CLICKS - 1]].at,
                    named.text or named.selector or None,
                    {"selector": named.selector, "url": view.url},
                )
            )
    view.clicks = len(clicks)
    view.dead_clicks = sum(c.dead for c in clicks)
    view.error_clicks = sum(c.error for c in clicks)
    view.excessive_scrolls = len(excessive)
    result.clicks.extend(clicks)
    for click in clicks:
        detail = {"selector": click.selector, "url": view.url}
        name = click.text or click.selector or None
        for flag, kind in ((click.dead, "dead_click"), (click.error, "error_click")):
            if flag and _room(result, kind):
                result.moments.append(Moment(kind, click.at, name, detail))
    for at in excessive:
        if _room(result, "excessive_scroll"):
            result.moments.append(Moment("excessive_scroll", at, view.url))


def _click(
    dom: PageDom, data: dict[str, Any], at: int, page: int, width: int, sx: float, sy: float
) -> Click:
    vx, vy = _num(data.get("x"), 0), _num(data.get("y"), 0)
    node = data.get("id")
    target = dom.target(node) if isinstance(node, int) else None
    selector = text = ""
    may_be_dead = False
    if target is not None:
        selector = dom.selector(target)[:MAX_SELECTOR_CHARS]
        text = capped_name(dom.text(target, MAX_TEXT_CHARS), MAX_TEXT_CHARS * 4)
        may_be_dead = bool(selector) and dom.tag(target) not in ("html", "body")
        may_be_dead = may_be_dead and not dom.is_text_field(target)
    return Click(
        at=at,
        page=page,
        x=round(vx + sx),
        y=round(vy + sy),
        vx=vx,
        vy=vy,
        width=width,
        selector=selector,
        text=text,
        may_be_dead=may_be_dead,
    )


def _quick_backs(result: Analysis) -> None:
    pages = result.pages
    for i in range(1, len(pages) - 1):
        before, page, after = pages[i - 1], pages[i], pages[i + 1]
        if (
            after.key == before.key
            and page.key != before.key
            and after.started_at - page.started_at <= QUICK_BACK_MS
        ):
            page.quick_back = True
            if _room(result, "quick_back"):
                result.moments.append(Moment("quick_back", after.started_at, page.url))


def _room(result: Analysis, kind: str) -> bool:
    """Whether another moment of this kind may be stored (at most 10,000 per kind)."""
    kept = result.kept.get(kind, 0)
    result.kept[kind] = kept + 1
    return kept < MAX_MOMENTS_PER_KIND


def _changes(data: dict[str, Any]) -> bool:
    return any(data.get(k) for k in ("adds", "removes", "texts", "attributes"))


# Coordinates and sizes past this are not a page's (browsers lay out ~33 million pixels at
# most): what a modified recorder sends there is read as missing, and sums of them stay
# within the databases' 64-bit integers.
MAX_PIXELS = 1_000_000_000


def _num(value: Any, default: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return float(value) if -MAX_PIXELS <= value <= MAX_PIXELS else default


def _int(value: Any, default: int) -> int:
    return int(_num(value, default))
