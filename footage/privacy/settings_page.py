"""The dashboard's recording settings form (/settings): what a site records, owners only.

The fields come from the same declarative list as the API (site_settings.py)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from footage.accounts.service import sites_of
from footage.errors import BadRequest, NotFound
from footage.privacy.site_settings import SETTINGS, as_settings, update_settings
from footage.web.render import render
from footage.web.users import OwnerForm, PageOwner

router = APIRouter(include_in_schema=False)


@router.get("/settings")
def settings_page(
    request: Request, user: PageOwner, site: str | None = None, saved: int = 0
) -> Response:
    sites = sites_of(request.app.state.services.db, user["account_id"])
    current = next((s for s in sites if s["id"] == site), sites[0] if sites else None)
    if current is None:
        raise NotFound("this account has no site yet")
    return render(
        request,
        "settings.html",
        user,
        sites=sites,
        site=current,
        values=as_settings(current),
        fields=SETTINGS,
        saved=bool(saved),
        error=None,
    )


@router.post("/settings")
async def settings_submit(request: Request, posted: OwnerForm) -> Response:
    user, form = posted.user, posted.form
    svc = request.app.state.services
    site_id = str(form.get("site_id", ""))
    # An unticked checkbox is simply absent from the form: absent means off.
    changes: dict[str, Any] = {
        f.name: (form.get(f.name) == "on") if f.kind == "bool" else str(form.get(f.name, ""))
        for f in SETTINGS
    }
    try:
        update_settings(svc.db, user["account_id"], site_id, changes, svc.clock.now_ms())
    except BadRequest as exc:
        sites = sites_of(svc.db, user["account_id"])
        current = next((s for s in sites if s["id"] == site_id), None)
        if current is None:
            raise NotFound("no such site in this account") from None
        # Show the form again with what was typed, so nothing entered is lost.
        values = {
            f.name: changes[f.name] if f.kind == "bool" else changes[f.name].splitlines()
            for f in SETTINGS
        }
        response = render(
            request,
            "settings.html",
            user,
            sites=sites,
            site=current,
            values=values,
            fields=SETTINGS,
            saved=False,
            error=exc.message,
        )
        response.status_code = 400
        return response
    site_key = next(
        s["site_key"] for s in sites_of(svc.db, user["account_id"]) if s["id"] == site_id
    )
    svc.ingest.forget_site(site_key)
    return RedirectResponse(f"/settings?site={quote(site_id)}&saved=1", status_code=303)
