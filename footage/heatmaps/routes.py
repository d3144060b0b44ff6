"""REST API of heatmaps and the Pages report (Bearer token, or a dashboard login for reads)."""

from __future__ import annotations

import dataclasses
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


def heatmap_scope(
    request: Request,
    account: dict[str, Any],
    url: str,
    site_id: str | None,
    first: str | None,
    last: str | None,
    device: str | None,
) -> tuple[Scope, list[str]]:
    """The checked scope and the page keys it covers; the device is always set."""
    svc = request.app.state.services
    scope = queries.scope_of(
        svc.db, account["id"], svc.clock.now_ms(), site_id, first, last, device
    )
    keys = queries.pages_matching(svc.db, scope, url)
    if not scope.device:
        scope = dataclasses.replace(scope, device=queries.device_for(svc.db, scope, keys))
    return scope, keys


def describe(scope: Scope, url: str, keys: list[str]) -> dict[str, Any]:
    first, last = scope.label
    return {
        "site_id": scope.site_id,
        "url": url,
        "pages": keys[:20],
        "page_count": len(keys),
        "device": scope.device,
        "from": first,
        "to": last,
    }


@router.get(
    "/heatmaps",
    summary="A page's heatmap: clicks, most-clicked elements, scroll depth",
    description="Sums of every ready recording of the period that viewed the page(s). "
    "`cells` are [x, y, clicks] of 10 px cells on the page drawn `width` px wide; `scroll` "
    "is [depth px, share of page views that reached it]; `elements` the most-clicked "
    "elements by CSS selector.",
)
def heatmap(
    request: Request,
    account: Account,
    url: Url,
    site_id: SiteId = None,
    first: From = None,
    to: To = None,
    device: Device = None,
    width: Width = None,
) -> dict[str, Any]:
    scope, keys = heatmap_scope(request, account, url, site_id, first, to, device)
    data = queries.heatmap(request.app.state.services.db, scope, keys, width)
    return {**describe(scope, url, keys), **data}


@router.get(
    "/heatmaps/snapshot",
    summary="The page as visitors saw it, to draw a heatmap over",
    description="rrweb's Meta and FullSnapshot events of the latest page view of the page "
    "at this device and width (else the nearest width).",
)
def snapshot(
    request: Request,
    account: Account,
    url: Url,
    site_id: SiteId = None,
    first: From = None,
    to: To = None,
    device: Device = None,
    width: Width = None,
) -> dict[str, Any]:
    svc = request.app.state.services
    scope, keys = heatmap_scope(request, account, url, site_id, first, to, device)
    return queries.snapshot(svc.db, svc.blobs, scope, keys, width or 1280)


@router.get(
    "/heatmaps/recordings",
    summary="The recordings that clicked an element or a place of a heatmap",
    description="Give `selector` (from `elements`), or `x`, `y` (and `radius`, default 20 px) "
    "on the page drawn `width` px wide. Each recording comes with `at_ms`, its first click "
    "there, and a `player_url` that opens the player at that click.",
)
def recordings_at(
    request: Request,
    account: Account,
    url: Url,
    site_id: SiteId = None,
    first: From = None,
    to: To = None,
    device: Device = None,
    width: Width = None,
    selector: Annotated[str | None, Query(max_length=1000)] = None,
    x: Annotated[int | None, Query(ge=-10_000, le=10_000)] = None,
    y: Annotated[int | None, Query(ge=0, le=1_000_000)] = None,
    radius: Annotated[int, Query(ge=1, le=500)] = 20,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    svc = request.app.state.services
    scope, keys = heatmap_scope(request, account, url, site_id, first, to, device)
    if not selector and (x is None or y is None):
        raise BadRequest("give 'selector', or both 'x' and 'y' of a place", code="no_place")
    place = (x, y, radius) if x is not None and y is not None else None
    found = queries.recordings_at(
        svc.db, scope, keys, width or 1280, selector=selector, place=place, limit=limit
    )
    return {**describe(scope, url, keys), **found}


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
