"""The dashboard's Install page: the snippet that loads footage.js on each of the account's
sites."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from footage.accounts.service import sites_of
from footage.web.render import render
from footage.web.users import PageUser

router = APIRouter(include_in_schema=False)


def snippet(site_key: str, base_url: str) -> str:
    """The HTML a site owner pastes into their pages."""
    return (
        "<script>\n"
        "  window.footage = window.footage || function () "
        "{ (footage.q = footage.q || []).push(arguments); };\n"
        f"  footage('init', '{site_key}', {{ host: '{base_url}' }});\n"
        "</script>\n"
        f'<script async src="{base_url}/footage.js"></script>'
    )


@router.get("/install")
def install_page(request: Request, user: PageUser) -> Response:
    svc = request.app.state.services
    sites = [
        {**s, "snippet": snippet(s["site_key"], svc.settings.base_url)}
        for s in sites_of(svc.db, user["account_id"])
    ]
    return render(request, "install.html", user, sites=sites, base_url=svc.settings.base_url)
