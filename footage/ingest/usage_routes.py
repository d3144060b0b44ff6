"""The owner's view of refused batches: `GET /api/v1/usage` (the month's usage with the
batches refused in the last hour) and the alarm above the recordings list.

Refused batches are ingest's to count (refusals.py), so both live here rather than in
accounts, which every feature builds on.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from footage.accounts.auth import api_account
from footage.accounts.service import find_account
from footage.accounts.usage import usage_of
from footage.assets import store as kept_assets
from footage.ingest.refusals import REFUSAL_ALARM, alarms, refused_last_hour
from footage.web.users import User

router = APIRouter(prefix="/api/v1", tags=["account"])
Account = Annotated[dict[str, Any], Depends(api_account)]


@router.get(
    "/usage",
    summary="Recordings used this month, what is left, and how many are stored",
    description="`used_this_month` counts recordings started this calendar month (in the "
    "account's time zone); `stored_recordings` counts those kept now (the last "
    "`retention_days` days) — they differ. A recording that never got past its first batch "
    "(one batch of events) gives its count back when it is finalized; it stays listed. "
    "`refused_last_hour` lists the sites whose batches were refused in the last hour, by "
    "reason (`too_many_new_recordings`, `origin_not_allowed`, `quota_exceeded`, "
    f"`bad_timestamp`); from {REFUSAL_ALARM} refused batches a site's `alarm` is true and its "
    "`message` says what happened: someone may be sending fake recordings with the site key. "
    "`kept_assets` counts the copies of stylesheets, images and fonts kept with the "
    "recordings (`copies`, `bytes`: each stored once per site).",
)
def usage(request: Request, account: Account) -> dict[str, Any]:
    svc = request.app.state.services
    row = find_account(svc.db, account["id"])
    assert row is not None  # api_account found it
    now = svc.clock.now_ms()
    found = usage_of(svc.db, row, svc.plans.of(row["plan"]), now).as_dict()
    found["refused_last_hour"] = [s.as_dict() for s in refused_last_hour(svc.db, row["id"], now)]
    found["kept_assets"] = kept_assets.bytes_of_account(svc.db, row["id"])
    return found


def refusal_alarms(request: Request, user: User, ctx: dict[str, Any]) -> None:
    """Page context of the recordings list: the sites whose refused batches raise the alarm."""
    svc = request.app.state.services
    if "refusal_alarms" not in ctx:
        ctx["refusal_alarms"] = alarms(svc.db, user["account_id"], svc.clock.now_ms())


def kept_assets_usage(request: Request, user: User, ctx: dict[str, Any]) -> None:
    """Page context of the Usage page: the copies of assets kept with the recordings."""
    svc = request.app.state.services
    ctx["kept_assets"] = kept_assets.bytes_of_account(svc.db, user["account_id"])
