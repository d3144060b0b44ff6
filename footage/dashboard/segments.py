"""Dashboard forms for saved segments: save the current filters, rename, delete."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from footage.accounts import auth
from footage.dashboard.routes import render, to_login
from footage.errors import FootageError
from footage.recordings import segments

router = APIRouter(include_in_schema=False)


async def _posted(request: Request) -> tuple[dict, dict[str, str]] | Response:
    user = auth.session_user(request)
    if user is None:
        return to_login(request)
    form = await request.form()
    auth.check_csrf(request, str(form.get("csrf", "")))
    return user, {k: str(v) for k, v in form.items()}


def _problem(request: Request, user: dict, exc: FootageError) -> Response:
    response = render(
        request, "error.html", user, title="The segment was not saved", message=exc.message
    )
    response.status_code = exc.status
    return response


@router.post("/segments")
async def save_segment(request: Request) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    user, form = posted
    svc = request.app.state.services
    try:
        saved = segments.create_segment(
            svc.db,
            user["account_id"],
            form.get("name", ""),
            form.get("query", ""),
            form.get("site_id") or None,
            user["id"],
            svc.clock.now_ms(),
        )
    except FootageError as exc:
        return _problem(request, user, exc)
    return RedirectResponse(saved["url"], status_code=303)


@router.post("/segments/{segment_id}/rename")
async def rename_segment(request: Request, segment_id: str) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    user, form = posted
    svc = request.app.state.services
    try:
        saved = segments.update_segment(
            svc.db,
            user["account_id"],
            segment_id,
            {"name": form.get("name", "")},
            svc.clock.now_ms(),
        )
    except FootageError as exc:
        return _problem(request, user, exc)
    return RedirectResponse(saved["url"], status_code=303)


@router.post("/segments/{segment_id}/delete")
async def delete_segment(request: Request, segment_id: str) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    user, _ = posted
    try:
        segments.delete_segment(request.app.state.services.db, user["account_id"], segment_id)
    except FootageError as exc:
        return _problem(request, user, exc)
    return RedirectResponse("/recordings", status_code=303)
