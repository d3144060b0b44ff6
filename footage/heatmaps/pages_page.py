"""The dashboard's Pages report (/pages): every page of a site with its views, exit rate and
frustration signals, each linking to its heatmap and to the recordings that show them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from footage.accounts.service import sites_of
from footage.errors import BadRequest, NotFound
from footage.heatmaps import queries
from footage.heatmaps.queries import EXIT_RATE_MIN_VIEWS, Scope
from footage.web.render import render
from footage.web.users import PageUser

router = APIRouter(include_in_schema=False)

LIMIT = 100


@dataclass(frozen=True)
class Column:
    """A counted column of the report: its sort key, header and meaning, and the recordings
    filter that finds its recordings (None: the column links nowhere)."""

    key: str
    header: str
    tab: str
    help: str
    flag: str | None


SIGNALS = [
    Column(
        "rage_clicks",
        "Rage clicks",
        "Most rage-clicked",
        "3 or more clicks within a second on one spot",
        "has_rage_clicks",
    ),
    Column(
        "dead_clicks",
        "Dead clicks",
        "Most dead-clicked",
        "clicks the page did not answer within a second",
        "has_dead_clicks",
    ),
    Column(
        "error_clicks",
        "Error clicks",
        "Most error clicks",
        "clicks followed by a JavaScript error within a second",
        "has_error_clicks",
    ),
    Column(
        "quick_backs",
        "Quick backs",
        "Most quick backs",
        "visitors who went back to the page before within 5 seconds",
        "has_quick_backs",
    ),
    Column(
        "excessive_scrolls",
        "Excessive scrolling",
        "Most scrolled",
        "scrolling up and down again and again, as if looking for something",
        "has_excessive_scrolling",
    ),
]
# The tabs, in the order a site owner looks for trouble.
TABS = [
    ("rage_clicks", "Most rage-clicked"),
    ("dead_clicks", "Most dead-clicked"),
    ("exit_rate", "Highest exit rate"),
    ("views", "Most viewed"),
    ("error_clicks", "Most error clicks"),
    ("quick_backs", "Most quick backs"),
    ("excessive_scrolls", "Most scrolled"),
]
DEFAULT_SORT = "rage_clicks"


def _links(scope: Scope, page: str) -> dict[str, str]:
    """The page's heatmap, and its recordings (all of them, and those with each signal),
    over the same site, period and device."""
    first, last = scope.label
    common = {"site_id": scope.site_id, "from": first, "to": last}
    if scope.device:
        common["device"] = scope.device
    heatmap = urlencode({"url": page, **common})
    recordings = {"url": page, "url_match": "contains", **common}
    links = {
        "heatmap": f"/heatmaps?{heatmap}",
        "recordings": f"/recordings?{urlencode(recordings)}",
    }
    for column in SIGNALS:
        if column.flag:
            query = urlencode({**recordings, column.flag: "true"})
            links[column.key] = f"/recordings?{query}"
    return links


def _not_found(request: Request, user: dict[str, Any]) -> Response:
    response = render(
        request,
        "error.html",
        user,
        title="Site not found",
        message="It may have been deleted, or it belongs to another account.",
    )
    response.status_code = 404
    return response


@router.get("/pages")
def pages_page(request: Request, user: PageUser) -> Response:
    svc = request.app.state.services
    query = request.query_params
    sites = sites_of(svc.db, user["account_id"])
    sort = query.get("sort") or DEFAULT_SORT
    if sort not in queries.SORTS:
        sort = DEFAULT_SORT
    form = {
        "site_id": query.get("site_id", ""),
        "from": query.get("from", ""),
        "to": query.get("to", ""),
        "device": query.get("device", ""),
    }
    context: dict[str, Any] = {
        "sites": sites,
        "form": form,
        "sort": sort,
        "tabs": TABS,
        "signals": SIGNALS,
        "min_views": EXIT_RATE_MIN_VIEWS,
        "limit": LIMIT,
        "error": None,
        "pages": [],
        "scope": None,
    }
    if not sites:
        return render(request, "pages.html", user, **context)
    try:
        scope = queries.scope_from_form(svc.db, user["account_id"], svc.clock.now_ms(), form)
    except NotFound:
        return _not_found(request, user)
    except BadRequest as exc:
        response = render(request, "pages.html", user, **{**context, "error": exc.message})
        response.status_code = 400
        return response
    first, last = scope.label
    report = queries.pages_report(svc.db, scope, sort, LIMIT)
    rows = [{**p, "links": _links(scope, p["page"])} for p in report["pages"]]
    # An exit-rate ranking that is empty only because no page had enough views says so.
    any_views = bool(rows) or (
        sort == "exit_rate" and bool(queries.pages_report(svc.db, scope, "views", 1)["pages"])
    )
    site = next(s for s in sites if s["id"] == scope.site_id)
    form.update({"site_id": scope.site_id, "from": first, "to": last})
    tab_query = {k: v for k, v in form.items() if v}
    return render(
        request,
        "pages.html",
        user,
        **{
            **context,
            "scope": scope,
            "site": site,
            "pages": rows,
            "any_views": any_views,
            "tab_links": {
                key: f"/pages?{urlencode({**tab_query, 'sort': key})}" for key, _ in TABS
            },
            "sort_label": dict(TABS)[sort],
        },
    )
