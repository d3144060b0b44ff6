"""REST API of heatmaps and the Pages report (Bearer token, or a dashboard login for reads)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from footage.accounts.auth import api_account
from footage.errors import BadRequest
from footage.heatmaps import queries
from footage.heatmaps.queries import Scope

router = APIRouter(prefix="/api/v1", tags=["heatmaps"])
Account = Annotated[dict[str, Any], Depends(api_account)]

SiteId = Annotated[str | None, Query(description="The site's id (default: the account's first).")]
Url = Annotated[
    str,
    Query(
        description="The page's address (scheme, query and fragment do not matter), or a "
        "pattern with * such as shop.example/products/*"
    ),
]
From = Annotated[
    str | None,
    Query(alias="from", description="First day (YYYY-MM-DD, UTC; default: 9 days before 'to')."),
]
To = Annotated[str | None, Query(description="Last day (YYYY-MM-DD, UTC; default: today).")]
Device = Annotated[
    str | None,
    Query(description="desktop, tablet or mobile (default: the one with the most page views)."),
]
Width = Annotated[
    int | None,
    Query(ge=200, le=4000, description="Draw at this window width (default: the most common)."),
]


@dataclass(frozen=True)
class Target:
    """What a heatmap call is about: the checked scope (its device always set), the page keys
    the address or pattern covers, and the width to draw at (None: the most common)."""

    scope: Scope
    keys: list[str]
    url: str
    width: int | None

    def describe(self) -> dict[str, Any]:
        first, last = self.scope.label
        return {
            "site_id": self.scope.site_id,
            "url": self.url,
            "pages": self.keys[:20],
            "page_count": len(self.keys),
            "device": self.scope.device,
            "from": first,
            "to": last,
        }


def heatmap_target(
    request: Request,
    account: Account,
    url: Url,
    site_id: SiteId = None,
    first: From = None,
    to: To = None,
    device: Device = None,
    width: Width = None,
) -> Target:
    svc = request.app.state.services
    scope = queries.scope_of(svc.db, account["id"], svc.clock.now_ms(), site_id, first, to, device)
    keys = queries.pages_matching(svc.db, scope, url)
    if not scope.device:
        scope = dataclasses.replace(scope, device=queries.device_for(svc.db, scope, keys))
    return Target(scope, keys, url, width)


HeatmapOf = Annotated[Target, Depends(heatmap_target)]


@router.get(
    "/heatmaps",
    summary="A page's heatmap: clicks, most-clicked elements, scroll depth",
    description="Sums of every ready recording of the period that viewed the page(s). "
    "`cells` are [x, y, clicks] of 10 px cells on the page drawn `width` px wide; `scroll` "
    "is [depth px, share of page views that reached it]; `elements` the most-clicked "
    "elements by CSS selector.",
)
def heatmap(request: Request, target: HeatmapOf) -> dict[str, Any]:
    data = queries.heatmap(request.app.state.services.db, target.scope, target.keys, target.width)
    return {**target.describe(), **data}


@router.get(
    "/heatmaps/snapshot",
    summary="The page as visitors saw it, to draw a heatmap over",
    description="rrweb's Meta and FullSnapshot events of the latest page view of the page "
    "at this device and width (else the nearest width).",
)
def snapshot(request: Request, target: HeatmapOf) -> dict[str, Any]:
    svc = request.app.state.services
    return queries.snapshot(svc.db, svc.blobs, target.scope, target.keys, target.width or 1280)


@router.get(
    "/heatmaps/recordings",
    summary="The recordings that clicked an element or a place of a heatmap",
    description="Give `selector` (from `elements`), or `x`, `y` (and `radius`, default 20 px) "
    "on the page drawn `width` px wide. Each recording comes with `at_ms`, its first click "
    "there, and a `player_url` that opens the player at that click.",
)
def recordings_at(
    request: Request,
    target: HeatmapOf,
    selector: Annotated[str | None, Query(max_length=1000)] = None,
    x: Annotated[int | None, Query(ge=-10_000, le=10_000)] = None,
    y: Annotated[int | None, Query(ge=0, le=1_000_000)] = None,
    radius: Annotated[int, Query(ge=1, le=500)] = 20,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    if not selector and (x is None or y is None):
        raise BadRequest("give 'selector', or both 'x' and 'y' of a place", code="no_place")
    place = (x, y, radius) if x is not None and y is not None else None
    found = queries.recordings_at(
        request.app.state.services.db,
        target.scope,
        target.keys,
        target.width or 1280,
        selector=selector,
        place=place,
        limit=limit,
    )
    return {**target.describe(), **found}


@router.get(
    "/pages",
    summary="Pages report: views, exit rate and frustration signals per page",
    description="`sort`: views (default), exit_rate (pages with at least 10 views), "
    "rage_clicks, dead_clicks, error_clicks, quick_backs, excessive_scrolls.",
)
def pages(
    request: Request,
    account: Account,
    site_id: SiteId = None,
    first: From = None,
    to: To = None,
    device: Annotated[
        str | None, Query(description="desktop, tablet or mobile (default: all).")
    ] = None,
    sort: str = "views",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    svc = request.app.state.services
    scope = queries.scope_of(svc.db, account["id"], svc.clock.now_ms(), site_id, first, to, device)
    first_day, last_day = scope.label
    report = queries.pages_report(svc.db, scope, sort, limit)
    return {
        "site_id": scope.site_id,
        "from": first_day,
        "to": last_day,
        "device": scope.device,
        "sort": sort,
        **report,
    }
