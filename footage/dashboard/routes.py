"""Dashboard pages: login, recordings list, player, install snippet."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from footage.accounts import auth, throttle
from footage.accounts.routes import change_account
from footage.accounts.service import sites_of
from footage.accounts.usage import Usage, usage_of
from footage.conversations.store import unread_count
from footage.errors import BadRequest, NotFound
from footage.heatmaps.analysis import SIGNAL_KINDS
from footage.ingest.refusals import alarms as refusal_alarms
from footage.privacy.site_settings import SETTINGS, as_settings, update_settings
from footage.recordings import filters
from footage.recordings.filters import MODIFIERS, describe
from footage.recordings.matches import LABELS, matching_moments
from footage.recordings.moments import moments_of
from footage.recordings.queries import get_recording, iter_events_json, live_count
from footage.recordings.search import empty_hint, search
from footage.recordings.segments import list_segments

router = APIRouter(include_in_schema=False)
# More markers than this would cover the timeline, not explain it.
MAX_SIGNAL_MARKERS = 500
templates = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")


def fmt_duration(ms: int | None) -> str:
    if ms is None:
        return "–"
    seconds = int(ms // 1000)
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return f"{seconds // 60}:{seconds % 60:02d}"


templates.env.filters["duration"] = fmt_duration


def snippet(site_key: str, base_url: str) -> str:
    return (
        "<script>\n"
        "  window.footage = window.footage || function () "
        "{ (footage.q = footage.q || []).push(arguments); };\n"
        f"  footage('init', '{site_key}', {{ host: '{base_url}' }});\n"
        "</script>\n"
        f'<script async src="{base_url}/footage.js"></script>'
    )


def account_usage(svc: Any, user: dict[str, Any]) -> Usage:
    account = {"id": user["account_id"], "time_zone": user["time_zone"]}
    return usage_of(svc.db, account, svc.plans.of(user["plan"]), svc.clock.now_ms())


def day_month(moment: datetime) -> str:
    """`1 December`: when the monthly count starts again."""
    return f"{moment.day} {moment.strftime('%B')}"


templates.env.filters["day_month"] = day_month


def render(request: Request, name: str, user: dict[str, Any] | None, **ctx: Any) -> Response:
    svc = request.app.state.services
    if user is not None:
        ctx.setdefault("live_now", live_count(svc.db, user["account_id"]))
        ctx.setdefault("unread_conversations", unread_count(svc.db, user["account_id"]))
        usage = ctx.setdefault("usage", account_usage(svc, user))
        ctx["upgrade"] = svc.plans.next_up(usage.plan)
    return templates.TemplateResponse(
        request,
        name,
        {"user": user, "csrf_token": auth.csrf_token(request), **ctx},
    )


def to_login(request: Request) -> Response:
    target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return RedirectResponse(f"/login?next={target}", status_code=303)


@router.get("/")
def home(request: Request) -> Response:
    return RedirectResponse("/recordings" if auth.session_user(request) else "/login", 303)


@router.get("/login")
def login_page(request: Request, next: str = "/recordings") -> Response:
    return render(request, "login.html", None, next=next, error=None)


@router.post("/login")
def login_submit(
    request: Request,
    email: str = Form(""),
    password: str = Form(""),
    csrf: str = Form(""),
    next: str = Form("/recordings"),
) -> Response:
    auth.check_csrf(request, csrf)
    svc = request.app.state.services
    now = svc.clock.now_ms()
    keys = throttle.keys_for(email, request.client.host if request.client else None)
    wait = throttle.blocked_for(svc.db, keys, now)
    if wait:
        minutes = -(-wait // 60)
        response = render(
            request,
            "login.html",
            None,
            next=next,
            error=f"Too many failed logins. Try again in {minutes} minute"
            f"{'s' if minutes != 1 else ''}.",
        )
        response.status_code = 429
        response.headers["Retry-After"] = str(wait)
        return response
    token = auth.login(svc.db, now, email, password)
    if token is None:
        throttle.record_failure(svc.db, keys, now)
        response = render(request, "login.html", None, next=next, error="Wrong e-mail or password.")
        response.status_code = 401
        return response
    throttle.clear(svc.db, keys)
    target = next if next.startswith("/") and not next.startswith("//") else "/recordings"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        auth.SESSION_COOKIE,
        token,
        max_age=auth.SESSION_DAYS * 86400,
        httponly=True,
        samesite="lax",
        secure=auth.secure_cookies(svc.settings),
    )
    return response


@router.post("/logout")
def logout(request: Request, csrf: str = Form("")) -> Response:
    auth.check_csrf(request, csrf)
    auth.logout(request.app.state.services.db, request.cookies.get(auth.SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE)
    return response


@router.get("/recordings")
def recordings_page(request: Request) -> Response:
    user = auth.session_user(request)
    if user is None:
        return to_login(request)
    svc = request.app.state.services
    query = request.query_params
    error = None
    try:
        values = filters.parse(query, strict=False)
        sort = query.get("sort") or "newest"
        page = search(
            svc.db,
            user["account_id"],
            values,
            sort=sort,
            limit=50,
            cursor=query.get("cursor") or None,
            retention_days=svc.plans.of(user["plan"]).retention_days,
        )
    except BadRequest as exc:
        error, values, sort = exc.message, {}, "newest"
        page = search(svc.db, user["account_id"], {}, limit=50)
    sites = sites_of(svc.db, user["account_id"])
    # The filters as they are in the URL (minus paging), for links that keep them.
    kept = [(k, v) for k, v in query.multi_items() if k not in ("cursor", "segment") and v]
    segment_id = query.get("segment")
    return render(
        request,
        "recordings.html",
        user,
        page=page,
        sites=sites,
        values=values,
        sort=sort,
        error=error,
        filter_query=urlencode(kept),
        refusal_alarms=refusal_alarms(svc.db, user["account_id"], svc.clock.now_ms()),
        chips=[
            {
                "label": describe(values, name),
                "remove": urlencode(
                    [(k, v) for k, v in kept if k != name and MODIFIERS.get(k) != name]
                ),
            }
            for name in values
            if name in filters.BUILDERS
        ],
        hint=empty_hint(svc.db, user["account_id"], values)
        if not page["items"] and values and not query.get("cursor")
        else None,
        segments=list_segments(svc.db, user["account_id"]),
        segment=next(
            (s for s in list_segments(svc.db, user["account_id"]) if s["id"] == segment_id), None
        ),
        cursor=query.get("cursor"),
        demo_url=f"{svc.settings.base_url}/demo/" if any(s["is_demo"] for s in sites) else None,
    )


@router.get("/recordings/{recording_id}")
def player_page(request: Request, recording_id: str) -> Response:
    user = auth.session_user(request)
    if user is None:
        return to_login(request)
    raw_t = request.query_params.get("t", "")
    t = int(raw_t) if raw_t.isdigit() else 0
    try:
        svc = request.app.state.services
        days = svc.plans.of(user["plan"]).retention_days
        recording = get_recording(svc.db, user["account_id"], recording_id, days)
    except NotFound:
        response = render(
            request,
            "error.html",
            user,
            title="Recording not found",
            message="It may have been deleted, or it belongs to another account.",
        )
        response.status_code = 404
        return response
    # Opened from a filtered list: the moments that matched, and the first of them to start at.
    values = filters.parse(request.query_params, strict=False) if request.query_params else {}
    started = svc.db.one("SELECT started_at FROM recordings WHERE id = :r", {"r": recording_id})[
        "started_at"
    ]
    moments = matching_moments(svc.db, recording, started, values) if values else []
    start = t if t or not moments else moments[0]["offset_ms"]
    # The frustration signals found at finalize, for the timeline's markers and the list
    # beside it; `at_ms` counts from the first event, as the player's own clock does.
    signals = [
        {
            "kind": m["kind"],
            "at_ms": m["at_ms"],
            "name": m["name"] or "",
            "label": LABELS[m["kind"]],
        }
        for m in moments_of(svc.db, recording_id)
        if m["kind"] in SIGNAL_KINDS
    ][:MAX_SIGNAL_MARKERS]
    return render(
        request,
        "player.html",
        user,
        rec=recording,
        start_ms=max(0, start),
        moments=moments,
        signals=signals,
    )


@router.get("/recordings/{recording_id}/events.json")
def player_events(request: Request, recording_id: str) -> Response:
    user = auth.session_user(request)
    if user is None:
        return Response(status_code=401)
    svc = request.app.state.services
    get_recording(svc.db, user["account_id"], recording_id)
    return StreamingResponse(
        iter_events_json(svc.db, svc.blobs, recording_id), media_type="application/json"
    )


@router.get("/install")
def install_page(request: Request) -> Response:
    user = auth.session_user(request)
    if user is None:
        return to_login(request)
    svc = request.app.state.services
    sites = [
        {**s, "snippet": snippet(s["site_key"], svc.settings.base_url)}
        for s in sites_of(svc.db, user["account_id"])
    ]
    return render(request, "install.html", user, sites=sites, base_url=svc.settings.base_url)


def owner_only(request: Request, user: dict[str, Any]) -> Response | None:
    if user["role"] == "owner":
        return None
    response = render(
        request,
        "error.html",
        user,
        title="Only the account owner can change this",
        message=auth.OWNER_ONLY[0].upper() + auth.OWNER_ONLY[1:] + ".",
    )
    response.status_code = 403
    return response


@router.get("/settings")
def settings_page(request: Request, site: str | None = None, saved: int = 0) -> Response:
    user = auth.session_user(request)
    if user is None:
        return to_login(request)
    denied = owner_only(request, user)
    if denied:
        return denied
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


async def owner_form(request: Request) -> tuple[dict[str, Any], FormData] | Response:
    """A form an owner posted (logged in, CSRF checked), or the response that refuses it."""
    user = auth.session_user(request)
    if user is None:
        return to_login(request)
    form = await request.form()
    auth.check_csrf(request, str(form.get("csrf", "")))
    return owner_only(request, user) or (user, form)


@router.post("/settings")
async def settings_submit(request: Request) -> Response:
    posted = await owner_form(request)
    if isinstance(posted, Response):
        return posted
    user, form = posted
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


@router.get("/usage")
def usage_page(request: Request, saved: int = 0) -> Response:
    user = auth.session_user(request)
    if user is None:
        return to_login(request)
    svc = request.app.state.services
    return render(request, "usage.html", user, plans=list(svc.plans), saved=bool(saved))


@router.post("/usage")
async def usage_submit(request: Request) -> Response:
    posted = await owner_form(request)
    if isinstance(posted, Response):
        return posted
    user, form = posted
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
