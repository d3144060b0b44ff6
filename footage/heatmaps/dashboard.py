"""The dashboard's Heatmaps page (/heatmaps).

The server reads the aggregates (queries.py) and renders the form, the summary, the ranked
elements and every empty state, so the page says what it knows without JavaScript. The
numbers the drawing needs (cells, scroll reach) travel as JSON in a data attribute;
web/src/heatmap.ts fetches the page's snapshot, rebuilds it with rrweb and draws over it.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import bindparam, text

from footage.accounts.service import sites_of
from footage.errors import BadRequest, FootageError, NotFound
from footage.heatmaps import queries
from footage.heatmaps.queries import DEVICES, Scope
from footage.store.db import Database
from footage.web.render import render
from footage.web.users import PageUser

router = APIRouter(include_in_schema=False)
MAPS = ("clicks", "scroll")
TOP_PAGES = 20


def _width(raw: str) -> int | None:
    if not raw:
        return None
    if not raw.isdigit() or not 200 <= int(raw) <= 4000:
        raise BadRequest(
            f"'width' must be a number of pixels between 200 and 4000, not {raw[:20]!r}",
            code="bad_width",
        )
    return int(raw)


def _map(raw: str) -> str:
    if raw and raw not in MAPS:
        raise BadRequest("'map' must be clicks or scroll", code="bad_map")
    return raw or "clicks"


def day_label(iso_day: str) -> str:
    """`2026-11-20` → `20 Nov`."""
    day = date.fromisoformat(iso_day)
    return f"{day.day} {day.strftime('%b')}"


def average_fold(db: Database, scope: Scope, keys: list[str]) -> int:
    """The average window height of the page views: what visitors saw without scrolling."""
    if not keys:
        return 0
    device = " AND device = :device" if scope.device else ""
    statement = text(
        "SELECT AVG(height) FROM page_view_stats WHERE site_id = :site AND page_key IN :keys "
        f"AND day BETWEEN :d0 AND :d1{device}"
    ).bindparams(bindparam("keys", expanding=True))
    with db.read() as conn:
        value = conn.execute(statement, {**scope.params, "keys": keys}).scalar()
    return round(float(value or 0))


def _link(base: dict[str, str], **changes: Any) -> str:
    values = {**base, **{k: str(v) for k, v in changes.items()}}
    return "/heatmaps?" + urlencode({k: v for k, v in values.items() if v})


@router.get("/heatmaps")
def heatmaps_page(request: Request, user: PageUser) -> Response:
    svc = request.app.state.services
    query = request.query_params
    form = {k: query.get(k, "").strip() for k in ("url", "site_id", "from", "to", "device")}
    sites = sites_of(svc.db, user["account_id"])
    ctx: dict[str, Any] = {"form": form, "sites": sites, "devices": DEVICES, "map": "clicks"}
    try:
        ctx["map"] = _map(query.get("map", ""))
        width = _width(query.get("width", "").strip())
        scope = queries.scope_from_form(svc.db, user["account_id"], svc.clock.now_ms(), form)
    except FootageError as exc:
        response = render(request, "heatmaps.html", user, error=exc.message, **ctx)
        response.status_code = 404 if isinstance(exc, NotFound) else 400
        return response
    first, last = scope.label
    form.update({"from": first, "to": last, "site_id": scope.site_id})
    ctx["period"] = f"{day_label(first)} – {day_label(last)}"
    if not form["url"]:
        report = queries.pages_report(svc.db, scope, "views", TOP_PAGES)
        base = {k: form[k] for k in ("site_id", "from", "to", "device")}
        base["site_id"] = scope.site_id if len(sites) > 1 else ""
        pages = [{**p, "link": _link(base, url=p["page"])} for p in report["pages"]]
        return render(request, "heatmaps.html", user, pages=pages, **ctx)
    return _heatmap(request, user, scope, width, sites, ctx)


def _heatmap(
    request: Request,
    user: dict[str, Any],
    scope: Scope,
    width: int | None,
    sites: list[dict[str, Any]],
    ctx: dict[str, Any],
) -> Response:
    svc = request.app.state.services
    form = ctx["form"]
    keys = queries.pages_matching(svc.db, scope, form["url"])
    chosen_device = bool(scope.device)
    if not scope.device:
        scope = dataclasses.replace(scope, device=queries.device_for(svc.db, scope, keys))
    form["device"] = scope.device or ""
    data = queries.heatmap(svc.db, scope, keys, width)
    # What the API needs to answer the same question (the script asks for the snapshot and
    # the recordings of a place with it).
    api = {
        "url": form["url"],
        "site_id": scope.site_id,
        "from": form["from"],
        "to": form["to"],
        "device": scope.device or "",
        "width": str(data["width"]),
    }
    base = {**api, "site_id": scope.site_id if len(sites) > 1 else "", "map": ctx["map"]}
    base.pop("width")
    widths = [
        {**w, "link": _link(base, width=w["width"]), "current": w["width"] == data["width"]}
        for w in data["widths"]
    ]
    most_common = bool(data["widths"]) and data["widths"][0]["width"] == data["width"]
    return render(
        request,
        "heatmaps.html",
        user,
        heat=data,
        keys=keys,
        chosen_device=chosen_device,
        widths=widths,
        most_common=most_common,
        map_links={m: _link({**base, "width": str(data["width"])}, map=m) for m in MAPS},
        fold=average_fold(svc.db, scope, keys) if data["page_views"] else 0,
        api_query=urlencode(api),
        drawing={
            "width": data["width"],
            "cell_size": data["cell_size"],
            "cells": data["cells"],
            "scroll": data["scroll"],
            "page_views": data["page_views"],
        },
        **ctx,
    )
