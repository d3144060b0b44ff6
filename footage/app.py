"""create_app(settings): wires the features into one ASGI app."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp

from footage import __version__, bootstrap, logs
from footage.accounts import login_page, password_page, usage_page
from footage.accounts import routes as account_routes
from footage.accounts import team as team_page
from footage.accounts import tokens as token_routes
from footage.accounts.auth import session_user
from footage.accounts.plans import Plans, load_plans
from footage.assets import routes as asset_routes
from footage.assets import store as asset_store
from footage.assets.capture import AssetCapture
from footage.clock import Clock
from footage.conversations import chat as conversation_chat
from footage.conversations import dashboard as conversation_pages
from footage.conversations import routes as conversation_routes
from footage.conversations.store import link_ready_recording
from footage.demo import routes as demo
from footage.downloads import routes as download_routes
from footage.downloads.renderer import VideoRenderer
from footage.heatmaps import backfill as heatmap_backfill
from footage.heatmaps import dashboard as heatmap_page
from footage.heatmaps import pages_page
from footage.heatmaps import routes as heatmap_routes
from footage.heatmaps import store as heatmap_store
from footage.ingest import copy_routes, install_page, usage_routes
from footage.ingest import routes as ingest_routes
from footage.ingest.asgi import RecorderEndpoints
from footage.ingest.asgi import openapi_paths as recorder_openapi_paths
from footage.ingest.new_recordings import NewRecordingLimit
from footage.ingest.writer import CLOCK_SKEW_MS, Ingest, RecordingCaps
from footage.live import routes as live_routes
from footage.privacy import routes as privacy_routes
from footage.privacy import settings_page, visitor_routes
from footage.recordings import pages as recording_pages
from footage.recordings import routes as recording_routes
from footage.recordings import segment_forms
from footage.retention import Retention
from footage.sessions.finalizer import Finalizer, Timings
from footage.sessions.geo import CountryLookup
from footage.sessions.ready import OnReady
from footage.sessions.watching import Watched
from footage.settings import Settings
from footage.share import public as share_page
from footage.share import routes as share_routes
from footage.store import Database
from footage.store.blobs import BlobStore
from footage.store.deletion import OnDelete
from footage.web import api_docs, favicon
from footage.web.assets import static_files
from footage.web.cookies import secure_cookies
from footage.web.csp import ContentSecurityPolicy
from footage.web.csrf import CsrfCookieMiddleware
from footage.web.errors import install_error_handlers
from footage.web.fetch_metadata import FetchMetadata
from footage.web.render import add_page_context
from footage.web.users import install_user_lookup

log = logging.getLogger("footage")


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
    watched: Watched  # visitors watched live now: the ingest answers tell their recorders
    # What the features remove with deleted recordings (retention, visitor erasure).
    on_delete: tuple[OnDelete, ...]


def on_ready_hooks() -> tuple[OnReady, ...]:
    """What the features add as a recording becomes ready, in the finalize transaction."""
    return (heatmap_store.on_ready, link_ready_recording)


def on_delete_hooks() -> tuple[OnDelete, ...]:
    """What the features remove with deleted recordings, in the deleting transaction."""
    return (heatmap_store.on_delete,)


def build_services(settings: Settings, clock: Clock | None = None) -> Services:
    """Open storage (migrating the database) and build the features on it."""
    clock = clock or Clock()
    bootstrap.data_dir(settings)
    db = bootstrap.open_database(settings)
    blobs = bootstrap.open_blobs(settings)
    plans = load_plans(settings.plans)
    geo = CountryLookup(settings.geoip_database)
    on_delete = on_delete_hooks()
    timings = Timings(
        leave_grace_ms=int(settings.leave_grace_seconds * 1000),
        heartbeat_timeout_ms=int(settings.heartbeat_timeout_seconds * 1000),
        clock_skew_ms=CLOCK_SKEW_MS,
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
            plans,
            RecordingCaps(
                settings.max_recording_bytes,
                int(settings.max_recording_seconds * 1000),
                settings.max_recording_pages,
            ),
            NewRecordingLimit(
                settings.ingest_ip_new_recordings, settings.ingest_ip_new_recordings_window_seconds
            ),
            asset_fresh_ms=(
                int(settings.asset_fresh_seconds * 1000) if settings.keep_assets else None
            ),
        ),
        finalizer=Finalizer(db, blobs, clock, timings, on_ready=on_ready_hooks()),
        plans=plans,
        retention=Retention(
            db,
            blobs,
            plans,
            clock,
            conversation_retention_days=settings.conversation_retention_days,
            on_delete=on_delete,
        ),
        on_delete=on_delete,
        watched=Watched(db, clock),
    )


def _nothing() -> None:
    pass


@dataclass(frozen=True)
class Job:
    """Background work run every `interval_seconds`, the first time at once."""

    name: str
    interval_seconds: float
    run: Callable[[Callable[[], bool]], object]  # given "should I stop?"
    stop: Callable[[], object] = _nothing  # on shutdown


class JobLoop:
    """Passes over the jobs, `pause_seconds` apart, each pass running the jobs that are due, in
    order. A failing job is logged with its name and the others carry on. `footage serve` runs
    it in a thread of its own, `footage worker` in its main thread."""

    def __init__(
        self,
        jobs: list[Job],
        pause_seconds: float,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.jobs, self.pause_seconds, self.now = jobs, pause_seconds, now
        self.due = {job.name: 0.0 for job in jobs}
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> None:
        """One pass: every job whose time has come, unless the loop is stopping."""
        started = self.now()
        for job in self.jobs:
            if self.stopping.is_set():
                return
            if started < self.due[job.name]:
                continue
            self.due[job.name] = started + job.interval_seconds
            try:
                job.run(self.stopping.is_set)
            except Exception:
                log.exception("background job %r failed", job.name)

    def run(self) -> None:
        """Pass after pass until `stop()`; then each job stops (a render goes back to the queue)."""
        try:
            while not self.stopping.is_set():
                self.run_once()
                self.stopping.wait(self.pause_seconds)
        finally:
            for job in self.jobs:
                try:
                    job.stop()
                except Exception:
                    log.exception("stopping background job %r failed", job.name)

    def start(self) -> None:
        """Run in a thread of its own."""
        self._thread = threading.Thread(target=self.run, name="footage-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Finish the job at hand (it is told to stop soon) and start no other; a loop in its
        own thread is waited for."""
        self.stopping.set()
        if self._thread is not None:
            self._thread.join()


ASSET_GRACE_MS = 3_600_000


def background_jobs(svc: Services) -> JobLoop:
    """The background work of `footage serve` and `footage worker`, in the order of a pass."""
    every_pass = svc.settings.finalizer_interval_seconds
    videos = VideoRenderer(svc.db, svc.blobs, svc.clock, svc.settings)  # MP4s, own thread
    # Retention's first pass sweeps at once: the server may have been down for days.
    sweeps = svc.settings.retention_interval_seconds

    def retention(should_stop: Callable[[], bool]) -> None:
        deleted = svc.retention.run_once(svc.clock.now_ms(), should_stop)
        if deleted["recordings"]:
            log.info(
                "retention: deleted %d recordings past their plan's retention",
                deleted["recordings"],
            )
        # Copies no recording shows any more; an hour's grace for one being taken right now.
        copies = asset_store.sweep(svc.db, svc.blobs, svc.clock.now_ms(), ASSET_GRACE_MS)
        if copies:
            log.info("retention: deleted %d kept assets no recording shows", copies)

    assets = AssetCapture(svc.db, svc.blobs, svc.clock, svc.settings)
    copying = (
        [Job("assets kept with recordings", every_pass, assets.kick, stop=assets.stop)]
        if svc.settings.keep_assets
        else []
    )

    return JobLoop(
        [
            Job("finalizer", every_pass, svc.finalizer.run_once),
            *copying,
            Job("video renderer", every_pass, videos.kick, stop=videos.stop),
            Job(
                "heatmaps of earlier recordings",
                every_pass,
                lambda should_stop: heatmap_backfill.run_once(svc.db, svc.blobs, should_stop),
            ),
            Job("retention", sweeps, retention),
            # Right after retention: the data grew or shrank, the query plans follow.
            Job("database statistics", sweeps, lambda _: svc.db.refresh_statistics()),
        ],
        pause_seconds=every_pass,
    )


def app_from_env() -> ASGIApp:
    """App factory for `footage serve --workers N`: each worker reads the settings that the
    parent process put into its environment."""
    logs.install()  # each worker's logging is set up by uvicorn, after `footage serve`'s
    return create_asgi(bootstrap.load_settings())


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    svc = build_services(settings, clock)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        jobs = background_jobs(svc) if settings.background else None
        if jobs:
            jobs.start()
        yield
        if jobs:
            await run_in_threadpool(jobs.stop)
        await run_in_threadpool(svc.ingest.writer.close)  # the last group is written
        svc.db.dispose()

    app = FastAPI(
        title="Footage",
        version=__version__,
        description="Website visitor recordings. API for recordings; see docs/api.md.",
        docs_url=None,  # our own page, footage/web/api_docs.py: no CDN, under our policy
        openapi_url="/api/openapi.json",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.services = svc

    app.add_middleware(CsrfCookieMiddleware, secure=secure_cookies(settings))
    app.add_middleware(ContentSecurityPolicy)  # every page may show a stranger's recording
    # Outermost: a replayed page's images, stylesheets… reach Footage without the viewer's login.
    app.add_middleware(FetchMetadata)
    install_error_handlers(app)
    install_user_lookup(app, session_user)
    # What the pages show a logged-in user besides their own content.
    add_page_context(app, recording_pages.visitors_on_site)
    add_page_context(app, conversation_pages.unread_conversations)
    add_page_context(app, usage_page.usage_banner)
    add_page_context(app, usage_routes.refusal_alarms, template="recordings.html")
    add_page_context(app, usage_routes.kept_assets_usage, template="usage.html")

    app.include_router(ingest_routes.router)
    app.include_router(asset_routes.router)
    app.include_router(favicon.router)
    app.include_router(copy_routes.router)
    app.include_router(recording_routes.router)
    app.include_router(recording_routes.segments_router)
    app.include_router(heatmap_routes.router)
    app.include_router(heatmap_page.router)
    app.include_router(pages_page.router)
    app.include_router(privacy_routes.router)
    app.include_router(account_routes.router)
    app.include_router(usage_routes.router)
    app.include_router(visitor_routes.router)
    app.include_router(visitor_routes.dashboard_router)
    app.include_router(download_routes.router)
    app.include_router(download_routes.dashboard_router)
    app.include_router(login_page.router)
    app.include_router(recording_pages.router)
    app.include_router(install_page.router)
    app.include_router(settings_page.router)
    app.include_router(usage_page.router)
    app.include_router(segment_forms.router)
    app.include_router(demo.router)
    app.include_router(share_routes.router)
    app.include_router(share_routes.dashboard_router)
    app.include_router(share_page.router)
    app.include_router(conversation_routes.router)
    app.include_router(conversation_chat.router)
    app.include_router(conversation_chat.script_router)
    app.include_router(conversation_pages.router)
    app.include_router(live_routes.router)
    app.include_router(team_page.router)
    app.include_router(password_page.router)
    app.include_router(token_routes.router)
    app.include_router(api_docs.router)
    app.mount("/static", static_files(), name="static")

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
