"""REST API for a site's recording settings (Bearer token)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request

from footage.accounts.auth import api_account
from footage.accounts.service import sites_of
from footage.privacy.site_settings import as_settings, site_of_account, update_settings

router = APIRouter(prefix="/api/v1", tags=["sites"])
Account = Annotated[dict[str, Any], Depends(api_account)]


def site_item(site: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": site["id"],
        "name": site["name"],
        "url": site["url"],
        "site_key": site["site_key"],
        "settings": as_settings(site),
    }


@router.get("/sites", summary="The account's sites with their recording settings")
def sites(request: Request, account: Account) -> dict[str, Any]:
    db = request.app.state.services.db
    return {"items": [site_item(s) for s in sites_of(db, account["id"])]}


@router.get("/sites/{site_id}/settings", summary="What this site records")
def get_settings(request: Request, account: Account, site_id: str) -> dict[str, Any]:
    return as_settings(site_of_account(request.app.state.services.db, account["id"], site_id))


@router.patch(
    "/sites/{site_id}/settings",
    summary="Change what this site records (only the settings sent are changed)",
    description="Settings reach new page loads within 60 seconds. Lists (`excluded_pages`, "
    "`excluded_visitors`, `allowed_origins`) replace the whole list.",
)
def patch_settings(
    request: Request,
    account: Account,
    site_id: str,
    changes: Annotated[
        dict[str, Any],
        Body(
            openapi_examples={
                "forms": {"summary": "Record typed text", "value": {"record_forms": True}},
                "exclude": {
                    "summary": "Never record the account pages",
                    "value": {"excluded_pages": ["/account/*"]},
                },
            }
        ),
    ],
) -> dict[str, Any]:
    svc = request.app.state.services
    settings = update_settings(svc.db, account["id"], site_id, changes, svc.clock.now_ms())
    svc.ingest.forget_site(site_of_account(svc.db, account["id"], site_id)["site_key"])
    return settings
