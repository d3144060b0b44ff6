"""The `footage` command. `serve` is the main job; the other commands sit beside it.

`serve`, `worker` and `migrate` are here; each feature's commands live in its `command` module
and register themselves when it is loaded (COMMAND_MODULES).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from footage import __version__, bootstrap, commands
from footage.clock import Clock
from footage.commands import Command, register

# The modules whose commands `footage` offers after its own, in the order of its help.
COMMAND_MODULES = (
    "footage.accounts.command",
    "footage.retention.command",
    "footage.devtools.command",
    "footage.downloads.command",
)

# The settings `footage worker` takes as flags: storage, the finalizer's and retention's.
WORKER_SETTINGS = [
    "data_dir",
    "database_url",
    "blob_url",
    "leave_grace_seconds",
    "heartbeat_timeout_seconds",
    "finalizer_interval_seconds",
    "finalize_lease_seconds",
    "plans",
    "retention_interval_seconds",
    "log_level",
]


def serve(args: argparse.Namespace) -> int:
    """The server: dashboard, API, ingest and (unless --no-background) the background jobs."""
    import uvicorn

    from footage.demo.account import ensure_demo

    settings = bootstrap.load_settings(args)
    bootstrap.setup_logging(settings)
    clock = Clock()
    bootstrap.data_dir(settings)
    db = bootstrap.open_database(settings)  # migrated once here, before any worker starts
    login = ensure_demo(settings, db, clock) if settings.demo else None
    db.dispose()
    base = settings.base_url
    print(f"Footage {__version__} — data in {settings.data_path}")
    print(f"  Dashboard:  {base}/recordings")
    if login:
        print(f"  Log in as:  {login['email']}  password: {login['password']}")
        print(f"  Demo shop:  {base}/demo/   (click around, then close the tab;")
        print("              the recording appears in the dashboard within a minute)")
    print(f"  API docs:   {base}/api/docs")
    sys.stdout.flush()
    # On SIGTERM uvicorn stops accepting connections and lets in-flight batches finish.
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level.lower(),
        "proxy_headers": True,
        "timeout_graceful_shutdown": 30,
        # An idle connection (also one whose request was answered before its body came) is
        # closed after 5 s; a body late by more than ingest_body_timeout_seconds is answered
        # 408 and closed by the ingest endpoints themselves, whatever serves them.
        "timeout_keep_alive": 5,
        # No `limit_concurrency`: it counts every client's connections together, so one
        # address holding many would get everyone 503; the ingest bounds are per address.
    }
    if settings.workers > 1:
        os.environ.update(settings.to_env())
        uvicorn.run("footage.app:app_from_env", factory=True, workers=settings.workers, **options)
    else:
        from footage.app import create_asgi

        uvicorn.run(create_asgi(settings, clock), **options)
    return 0


def worker(args: argparse.Namespace) -> int:
    """Background jobs without the web server: the finalizer and the retention sweeper."""
    import signal

    from footage.app import background_jobs, build_services

    settings = bootstrap.load_settings(args)
    bootstrap.setup_logging(settings)
    svc = build_services(settings)
    jobs = background_jobs(svc)

    def stop(signum: int, _frame: Any) -> None:
        logging.getLogger("footage").info("signal %s: finishing claimed work, then exiting", signum)
        jobs.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(
        f"Footage {__version__} worker — finalizing every {settings.finalizer_interval_seconds} s,"
        f" deleting expired recordings every {settings.retention_interval_seconds} s"
    )
    sys.stdout.flush()
    jobs.run()  # until a signal; a render in progress gives its job back for the next start
    svc.db.dispose()
    return 0


def migrate(args: argparse.Namespace) -> int:
    """Create or upgrade the database schema."""
    settings = bootstrap.load_settings(args)
    bootstrap.data_dir(settings)
    db = bootstrap.open_database(settings, migrate=False)
    applied = db.migrate()
    print(f"applied migrations: {applied}" if applied else "database is up to date")
    return 0


register(
    Command("serve", "run the server: dashboard, API, ingest, finalizer", serve, settings=None)
)
register(
    Command(
        "worker",
        "run background jobs only (finalizer); start any number of them",
        worker,
        settings=WORKER_SETTINGS,
    )
)
register(
    Command(
        "migrate",
        "create or upgrade the database schema",
        migrate,
        settings=["data_dir", "database_url"],
    )
)


def load_commands() -> None:
    """Load the feature command modules: each registers its commands."""
    for module in COMMAND_MODULES:
        importlib.import_module(module)


def main(argv: Sequence[str] | None = None) -> None:
    """`footage …`: run the command the arguments name, `serve` when they name none."""
    argv = list(sys.argv[1:] if argv is None else argv)
    load_commands()
    known = commands.top_level_words() | {"-h", "--help", "--version"}
    if not argv or argv[0] not in known:  # `footage [flags]` serves, like `footage serve`
        argv = ["serve", *argv]
    commands.run(argv, __version__)
