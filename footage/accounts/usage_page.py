"""The dashboard's Usage page (the month's count, the plans), and the usage banner every page
shows a logged-in user near or at the monthly limit."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from footage.accounts.routes import change_account
from footage.accounts.usage import Usage, usage_of
from footage.errors import BadRequest
from footage.web.render import render
from footage.web.users import OwnerForm, PageUser, User

router = APIRouter(include_in_schema=False)


def account_usage(svc: Any, user: User) -> Usage:
    account = {"id": user["account_id"], "time_zone": user["time_zone"]}
    return usage_of(svc.db, account, svc.plans.of(user["plan"]), svc.clock.now_ms())


def usage_banner(request: Request, user: User, ctx: dict[str, Any]) -> None:
    """Page context: the month's usage, and the plan that would lift the limit."""
    svc = request.app.state.services
    if "usage" not in ctx:
        ctx["usage"] = account_usage(svc, user)
    ctx["upgrade"] = svc.plans.next_up(ctx["usage"].plan)


@router.get("/usage")
def usage_page(request: Request, user: PageUser, saved: int = 0) -> Response:
    svc = request.app.state.services
    return render(request, "usage.html", user, plans=list(svc.plans), saved=bool(saved))


@router.post("/usage")
async def usage_submit(request: Request, posted: OwnerForm) -> Response:
    user, form = posted.user, posted.form
    plan = str(form.get("plan", "")) or None
    time_zone = str(form.get("time_zone", "")).strip() or None
    svc = request.app.state.services
    try:
        change_account(svc, user["account_id"], plan, time_zone)
    except BadRequest as exc:
        response = render(
            request, "usage.html", user, plans=list(svc.plans), saved=False, error=exc.message
        )
        response.status_code = 400
        return response
    return RedirectResponse("/usage?saved=1", status_code=303)
