"""The dashboard's templates and `render`, the one way a page is drawn.

What every page shows a logged-in user beyond its own content (the usage banner, unread
conversations…) belongs to the features: each adds it with `add_page_context` at start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from footage.signals import SIGNALS
from footage.web.assets import asset_url
from footage.web.csrf import csrf_token
from footage.web.favicon import FAVICON_URL
from footage.web.users import User

PageContext = Callable[[Request, User, dict[str, Any]], None]
templates = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")


def duration(ms: int | None) -> str:
    """`1:05`, or `1:02:05` past the hour; `–` when unknown."""
    if ms is None:
        return "–"
    seconds = int(ms // 1000)
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return f"{seconds // 60}:{seconds % 60:02d}"


def day_month(moment: datetime) -> str:
    """`1 December`: when the monthly count starts again."""
    return f"{moment.day} {moment.strftime('%B')}"


templates.env.filters["duration"] = duration
templates.env.globals["favicon"] = FAVICON_URL
# The frustration signals, in their order (filters, labels): one registry for every page.
templates.env.globals["frustration_signals"] = SIGNALS
templates.env.filters["day_month"] = day_month
# Every script and stylesheet by its hashed address (footage/web/assets.py): cached for a year.
templates.env.globals["asset"] = asset_url


def add_page_context(app: FastAPI, provide: PageContext, template: str | None = None) -> None:
    """Let a feature add to the context of every page drawn for a logged-in user, or of one
    template's; `provide` fills in what the page did not pass itself."""
    if not hasattr(app.state, "page_context"):
        app.state.page_context = []
    app.state.page_context.append((template, provide))


def render(request: Request, name: str, user: User | None, **ctx: Any) -> Response:
    """The template `name` as an HTML response, with the user, the CSRF token and what the
    features add for a logged-in user."""
    if user is not None:
        for template, provide in getattr(request.app.state, "page_context", ()):
            if template in (None, name):
                provide(request, user, ctx)
    return templates.TemplateResponse(
        request, name, {"user": user, "csrf_token": csrf_token(request), **ctx}
    )
