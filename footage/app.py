"""create_app(settings): wires the features into one ASGI app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from footage import __version__
from footage.accounts import password_page
from footage.accounts import routes as account_routes
from footage.accounts import team as team_page
from footage.accounts import tokens as token_routes
from footage.accounts.auth import CSRF_COOKIE
from footage.accounts.auth import secure_cookies as auth_secure_cookies
from footage.accounts.plans import Plans
from footage.clock import Clock
from footage.conversations import chat as conversation_chat
from footage.conversations import dashboard as conversation_pages
from footage.conversations import routes as conversation_routes
from footage.dashboard import api_docs
from footage.dashboard import routes as dashboard
from footage.dashboard import segments as dashboard_segments
from footage.dashboard.csp import ContentSecurityPolicy
from footage.dashboard.fetch_metadata import FetchMetadata
from footage.demo import routes as demo
from footage.downloads import routes as download_routes
from footage.downloads.renderer import VideoRenderer
from footage.errors import FootageError
from footage.heatmaps import backfill as heatmap_backfill
from footage.heatmaps import dashboard as heatmap_page
from footage.heatmaps import pages_page
from footage.heatmaps import routes as heatmap_routes
from footage.ingest import routes as ingest_routes
from footage.ingest.asgi import RecorderEndpoints
from footage.ingest.asgi import openapi_paths as recorder_openapi_paths
from footage.ingest.new_recordings import NewRecordingLimit
from footage.ingest.writer import Ingest, RecordingCaps
from footage.privacy import routes as privacy_routes
from footage.privacy import visitor_routes
from footage.recordings import routes as recording_routes
from footage.retention import Retention
from footage.sessions.finalizer import Finalizer, Timings
from footage.sessions.geo import CountryLookup
from footage.settings import Settings
from footage.share import public as share_page
from footage.share import routes as share_routes
from footage.store import Database, open_blob_store
from footage.store.blobs import BlobStore

log = logging.getLogger("footage")
STATIC = Path(__file__).resolve().parent / "dashboard" / "static"


@dataclass
class Services:
    settings: Settings
    clock: Clock
    db: Database
    blobs: BlobStore
    ingest: Ingest
    finalizer: Finalizer
    plans: Plans
    retention: Retention


def build_services(settings: Settings, clock: Clock | None = None) -> Services:
    """Open storage (migrating the database) and build the features on it."""
    clock = clock or Clock()
    settings.data_path.mkdir(parents=True, exist_ok=True)
    db = Database(settings.db_url)
    db.migrate()
    blobs = open_blob_store(settings.data_path, settings.blob_url)
    geo = CountryLookup(settings.geoip_database)
    timings = Timings(
        leave_grace_ms=int(settings.leave_grace_seconds * 1000),
        heartbeat_timeout_ms=int(settings.heartbeat_timeout_seconds * 1000),
        lease_ms=int(settings.finalize_lease_seconds * 1000),
        max_recording_ms=int(settings.max_recording_seconds * 1000),
    )
    return Services(
        settings=settings,
        clock=clock,
        db=db,
        blobs=blobs,
        ingest=Ingest(
            db,
            blobs,
            clock,
            geo,
            settings.plan_set,
            RecordingCaps(settings.max_recording_bytes, int(settings.max_recording_seconds * 1000)),
            NewRecordingLimit(
                settings.ingest_ip_new_recordings, settings.ingest_ip_new_recordings_window_seconds
            ),
        ),
        finalizer=Finalizer(db, blobs, clock, timings),
        plans=settings.plan_set,
        retention=Retention(
            db,
            blobs,
            settings.plan_set,
            clock,
            conversation_retention_days=settings.conversation_retention_days,
        ),
    )


class BackgroundJobs:
    """One pass of the background work: the finalizer every time (every few seconds), then
    heatmaps for a few earlier recordings (heatmaps/backfill.py), the retention sweeper when
    its interval has passed (every few minutes)."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.next_retention = 0.0  # the first pass sweeps at once: a server down for days
        self.videos = VideoRenderer(svc.db, svc.blobs, svc.clock, svc.settings)  # MP4s, own thread

    def run_once(self, should_stop: Callable[[], bool] = lambda: False) -> None:
        try:
            self.svc.finalizer.run_once(should_stop=should_stop)
        except Exception:
            log.exception("finalizer pass failed")
        try:
            self.videos.kick(should_stop)
        except Exception:
            log.exception("starting the video renderer failed")
        try:
            heatmap_backfill.run_once(self.svc.db, self.svc.blobs, should_stop)
        except Exception:
            log.exception("analysing earlier recordings for heatmaps failed")
        if time.monotonic() < self.next_retention or should_stop():
            return
        self.next_retention = time.monotonic() + self.svc.settings.retention_interval_seconds
        try:
            deleted = self.svc.retention.run_once(self.svc.clock.now_ms(), should_stop)
            if deleted["recordings"]:
                log.info(
                    "retention: deleted %d recordings past their plan's retention",
                    deleted["recordings"],
                )
        except Exception:
            log.exception("retention pass failed")
        try:
            self.svc.db.refresh_statistics()  # the data grew or shrank: plans follow
        except Exception:
            log.exception("refreshing the database's statistics failed")


async def background_loop(svc: Services) -> None:
    jobs = BackgroundJobs(svc)
    try:
        while True:
            await run_in_threadpool(jobs.run_once)
            await asyncio.sleep(svc.settings.finalizer_interval_seconds)
    finally:
        await run_in_threadpool(jobs.videos.stop)


class CsrfCookieMiddleware:
    """Gives every dashboard page a double-submit CSRF token (cookie + form field).

    Plain ASGI rather than BaseHTTPMiddleware, and API paths pass straight through: the
    ingest endpoint is the hot path and needs neither.
    """

    def __init__(self, app: ASGIApp, secure: bool) -> None:
        self.app, self.secure = app, secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(
            ("/api/", "/footage.js", "/footage-chat.js", "/share/")  # share pages: no cookie
        ):
            await self.app(scope, receive, send)
            return
        cookies = Request(scope).cookies
        token = cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
        scope.setdefault("state", {})["csrf_token"] = token
        if CSRF_COOKIE in cookies:
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie = SimpleCookie()
                cookie[CSRF_COOKIE] = token
                cookie[CSRF_COOKIE]["path"] = "/"
                cookie[CSRF_COOKIE]["httponly"] = True
                cookie[CSRF_COOKIE]["samesite"] = "lax"
                if self.secure:
                    cookie[CSRF_COOKIE]["secure"] = True
                headers = MutableHeaders(scope=message)
                headers.append("set-cookie", cookie.output(header="").strip())
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def app_from_env() -> ASGIApp:
    """App factory for `footage serve --workers N`: each worker reads the settings that the
    parent process put into its environment."""
    import os

    from footage import logs

    logs.install()  # each worker's logging is set up by uvicorn, after `footage serve`'s
    return create_asgi(Settings.load(os.environ))


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    svc = build_services(settings, clock)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(background_loop(svc)) if settings.background else None
        yield
        if task:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await run_in_threadpool(svc.ingest.writer.close)  # the last group is written
        svc.db.dispose()

    app = FastAPI(
        title="Footage",
        version=__version__,
        description="Website visitor recordings. API for recordings; see docs/api.md.",
        docs_url=None,  # our own page, footage/dashboard/api_docs.py: no CDN, under our policy
        openapi_url="/api/openapi.json",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.services = svc

    app.add_middleware(CsrfCookieMiddleware, secure=auth_secure_cookies(settings))
    app.add_middleware(ContentSecurityPolicy)  # every page may show a stranger's recording
    # Outermost: a replayed page's images, stylesheets… reach Footage without the viewer's login.
    app.add_middleware(FetchMetadata)

    @app.exception_handler(FootageError)
    async def footage_error(request: Request, exc: FootageError) -> Response:
        if is_api(request):
            return JSONResponse(exc.as_dict(), status_code=exc.status)
        return dashboard.templates.TemplateResponse(
            request,
            "error.html",
            {
                "user": None,
                "title": "Something is not right",
                "message": exc.message,
                "csrf_token": request.state.csrf_token,
            },
            status_code=exc.status,
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or e['loc'][0]}: {e['msg']}"
            for e in exc.errors()
        )
        return JSONResponse(
            {"error": {"code": "bad_request", "message": problems}}, status_code=400
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
        message = "no such endpoint" if exc.status_code == 404 else str(exc.detail)
        if is_api(request):
            return JSONResponse(
                {"error": {"code": code, "message": message}}, status_code=exc.status_code
            )
        return HTMLResponse(
            f"<!doctype html><title>{exc.status_code}</title><h1>{exc.status_code}</h1>"
            f"<p>{'Page not found.' if exc.status_code == 404 else 'Error.'}</p>"
            '<p><a href="/">Back to Footage</a></p>',
            status_code=exc.status_code,
        )

    app.include_router(ingest_routes.router)
    app.include_router(recording_routes.router)
    app.include_router(recording_routes.segments_router)
    app.include_router(heatmap_routes.router)
    app.include_router(heatmap_page.router)
    app.include_router(pages_page.router)
    app.include_router(privacy_routes.router)
    app.include_router(account_routes.router)
    app.include_router(visitor_routes.router)
    app.include_router(visitor_routes.dashboard_router)
    app.include_router(download_routes.router)
    app.include_router(download_routes.dashboard_router)
    app.include_router(dashboard.router)
    app.include_router(dashboard_segments.router)
    app.include_router(demo.router)
    app.include_router(share_routes.router)
    app.include_router(share_routes.dashboard_router)
    app.include_router(share_page.router)
    app.include_router(conversation_routes.router)
    app.include_router(conversation_chat.router)
    app.include_router(conversation_chat.script_router)
    app.include_router(conversation_pages.router)
    app.include_router(team_page.router)
    app.include_router(password_page.router)
    app.include_router(token_routes.router)
    app.include_router(api_docs.router)
    app.mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schema["paths"] = {**recorder_openapi_paths(), **schema["paths"]}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app


def create_asgi(settings: Settings, clock: Clock | None = None) -> ASGIApp:
    """The app as served: the recorder's hot endpoints in front of the FastAPI app."""
    app = create_app(settings, clock)
    return RecorderEndpoints(app, app.state.services)
