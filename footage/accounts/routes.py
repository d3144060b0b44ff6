"""REST API for the account itself: its plan and time zone (Bearer token).

`GET /api/v1/usage` lives with the refused batches it reports (ingest/usage_routes.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request

from footage.accounts.auth import api_account
from footage.accounts.service import AccountError, sites_of, update_account
from footage.errors import BadRequest

router = APIRouter(prefix="/api/v1", tags=["account"])
Account = Annotated[dict[str, Any], Depends(api_account)]


def account_item(svc: Any, account: dict[str, Any]) -> dict[str, Any]:
    plan = svc.plans.of(account["plan"])
    return {
        "id": account["id"],
        "name": account["name"],
        "plan": plan.name,
        "plan_label": plan.title,
        "time_zone": account.get("time_zone") or "UTC",
        "plans": [
            {
                "name": p.name,
                "label": p.title,
                "monthly_limit": p.monthly_limit,
                "retention_days": p.retention_days,
            }
            for p in svc.plans
        ],
    }


def change_account(svc: Any, account_id: str, plan: str | None, time_zone: str | None) -> Any:
    """Apply a plan or time zone change, and make ingest in this process see it at once."""
    try:
        account = update_account(svc.db, svc.plans, account_id, plan=plan, time_zone=time_zone)
    except AccountError as exc:
        raise BadRequest(str(exc), code="bad_account_change") from None
    for site in sites_of(svc.db, account_id):
        svc.ingest.forget_site(site["site_key"])
    return account


@router.get("/account", summary="The account: its plan, time zone and the plans offered")
def get_account(request: Request, account: Account) -> dict[str, Any]:
    svc = request.app.state.services
    return account_item(
        svc, svc.db.one("SELECT * FROM accounts WHERE id = :a", {"a": account["id"]})
    )


@router.patch(
    "/account",
    summary="Change the plan or the time zone",
    description="A plan change takes effect at once: this month's remaining recordings are "
    "the new plan's limit minus those already used (never below 0). The time zone decides "
    "when the month starts (the 1st at 00:00 there).",
)
def patch_account(
    request: Request,
    account: Account,
    changes: Annotated[
        dict[str, Any],
        Body(
            openapi_examples={
                "upgrade": {"summary": "Upgrade to Pro", "value": {"plan": "pro"}},
                "zone": {
                    "summary": "Months in Prague time",
                    "value": {"time_zone": "Europe/Prague"},
                },
            }
        ),
    ],
) -> dict[str, Any]:
    unknown = set(changes) - {"plan", "time_zone"}
    if unknown or not changes:
        raise BadRequest(
            'send {"plan": "…"} and/or {"time_zone": "…"}'
            + (f"; unknown field(s): {', '.join(sorted(unknown))}" if unknown else ""),
            code="bad_account_change",
        )
    for name in ("plan", "time_zone"):
        if name in changes and not isinstance(changes[name], str):
            raise BadRequest(f"'{name}' must be a string", code="bad_account_change")
    svc = request.app.state.services
    updated = change_account(svc, account["id"], changes.get("plan"), changes.get("time_zone"))
    return account_item(svc, updated)
