"""The recordings list's forms for saved segments: save the current filters, rename, delete."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from footage.errors import FootageError
from footage.recordings import segments
from footage.web.render import render
from footage.web.users import User, UserForm

router = APIRouter(include_in_schema=False)


def _problem(request: Request, user: User, exc: FootageError) -> Response:
    response = render(
        request, "error.html", user, title="The segment was not saved", message=exc.message
    )
    response.status_code = exc.status
    return response


@router.post("/segments")
async def save_segment(request: Request, posted: UserForm) -> Response:
    user, form = posted.user, posted.form
    svc = request.app.state.services
    try:
        saved = segments.create_segment(
            svc.db,
            user["account_id"],
            str(form.get("name", "")),
            str(form.get("query", "")),
            str(form.get("site_id", "")) or None,
            user["id"],
            svc.clock.now_ms(),
        )
    except FootageError as exc:
        return _problem(request, user, exc)
    return RedirectResponse(saved["url"], status_code=303)


@router.post("/segments/{segment_id}/rename")
async def rename_segment(request: Request, segment_id: str, posted: UserForm) -> Response:
    user, form = posted.user, posted.form
    svc = request.app.state.services
    try:
        saved = segments.update_segment(
            svc.db,
            user["account_id"],
            segment_id,
            {"name": str(form.get("name", ""))},
            svc.clock.now_ms(),
        )
    except FootageError as exc:
        return _problem(request, user, exc)
    return RedirectResponse(saved["url"], status_code=303)


@router.post("/segments/{segment_id}/delete")
async def delete_segment(request: Request, segment_id: str, posted: UserForm) -> Response:
    user = posted.user
    try:
        segments.delete_segment(request.app.state.services.db, user["account_id"], segment_id)
    except FootageError as exc:
        return _problem(request, user, exc)
    return RedirectResponse("/recordings", status_code=303)
