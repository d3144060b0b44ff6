"""The `footage` command. `serve` is the main job; admin commands sit beside it."""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import sys
from collections.abc import Sequence
from typing import Any

from footage import __version__
from footage.accounts.service import (
    AccountError,
    add_user,
    create_account,
    demo_site,
    find_account,
    update_account,
)
from footage.accounts.usage import usage_of
from footage.clock import Clock
from footage.devtools.command import add_dev_command
from footage.downloads.command import add_export_command
from footage.retention.command import add_retention_command
from footage.settings import SETTINGS, Settings, SettingsError
from footage.store import Database

DEMO_EMAIL = "demo@example.com"


def _add_setting_flags(parser: argparse.ArgumentParser, names: Sequence[str] | None = None) -> None:
    for s in SETTINGS:
        if names is not None and s.name not in names:
            continue
        if s.type is bool:
            parser.add_argument(
                s.option,
                dest=s.name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=f"{s.help} [env {s.env}, default {'on' if s.default else 'off'}]",
            )
        else:
            parser.add_argument(
                s.option,
                dest=s.name,
                type=str,
                default=None,
                metavar=s.name.upper(),
                help=f"{s.help} [env {s.env}, default {s.default!r}]",
            )


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {s.name: getattr(args, s.name, None) for s in SETTINGS}
    return Settings.load(os.environ, overrides)


def ensure_demo(settings: Settings, db: Database, clock: Clock) -> dict[str, str] | None:
    """On the first start, create the demo account, owner and site; return the login."""
    login_file = settings.data_path / "demo-login.json"
    if demo_site(db) is None:
        if db.one("SELECT id FROM accounts LIMIT 1") is not None:
            return None  # a real installation: never add a demo to it
        password = secrets.token_urlsafe(12)
        created = create_account(
            db,
            clock,
            name="Demo shop",
            # The demo shows everything: the plan with the most recordings.
            plan=max(settings.plan_set, key=lambda p: p.monthly_limit).name,
            plans=settings.plan_set,
            email=DEMO_EMAIL,
            password=password,
            site_name="Demo shop",
            is_demo=True,
        )
        login_file.write_text(
            json.dumps({"email": DEMO_EMAIL, "password": password, "api_token": created.api_token})
        )
        login_file.chmod(0o600)
    if login_file.exists():
        return dict(json.loads(login_file.read_text()))
    return None


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = _settings(args)
    _logging(settings)
    clock = Clock()
    settings.data_path.mkdir(parents=True, exist_ok=True)
    db = Database(settings.db_url)
    db.migrate()  # once here, before any worker starts
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


def cmd_worker(args: argparse.Namespace) -> int:
    """Background jobs without the web server: the finalizer and the retention sweeper."""
    import signal
    import threading

    from footage.app import BackgroundJobs, build_services

    settings = _settings(args)
    _logging(settings)
    svc = build_services(settings)
    stopping = threading.Event()

    def stop(signum: int, _frame: Any) -> None:
        logging.getLogger("footage").info("signal %s: finishing claimed work, then exiting", signum)
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(
        f"Footage {__version__} worker — finalizing every {settings.finalizer_interval_seconds} s,"
        f" deleting expired recordings every {settings.retention_interval_seconds} s"
    )
    sys.stdout.flush()
    jobs = BackgroundJobs(svc)
    while not stopping.is_set():
        jobs.run_once(should_stop=stopping.is_set)
        stopping.wait(settings.finalizer_interval_seconds)
    jobs.videos.stop()  # a render in progress gives its job back for the next start
    svc.db.dispose()
    return 0


def _logging(settings: Settings) -> None:
    from footage import logs

    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logs.install()  # share tokens and API tokens never reach the log, uvicorn's access log too


def cmd_accounts_create(args: argparse.Namespace) -> int:
    settings = _settings(args)
    db = Database(settings.db_url)
    db.migrate()
    created = create_account(
        db,
        Clock(),
        name=args.name,
        plan=args.plan,
        email=args.email,
        password=args.password,
        site_url=args.site_url or "",
        plans=settings.plan_set,
    )
    result: dict[str, Any] = created.as_dict()
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0


def cmd_accounts_set_plan(args: argparse.Namespace) -> int:
    settings = _settings(args)
    db = Database(settings.db_url)
    db.migrate()
    account = find_account(db, args.account)
    if account is None:
        raise AccountError(f"no account with id or user e-mail {args.account!r}")
    old = settings.plan_set.of(account["plan"])
    updated = update_account(db, settings.plan_set, account["id"], plan=args.plan)
    usage = usage_of(db, updated, settings.plan_set.of(updated["plan"]), Clock().now_ms())
    print(
        f"{updated['name']}: {old.title} → {usage.plan.title}. This month: {usage.used:,} used, "
        f"{usage.remaining:,} of {usage.plan.monthly_limit:,} left."
    )
    return 0


def cmd_accounts_add_user(args: argparse.Namespace) -> int:
    settings = _settings(args)
    db = Database(settings.db_url)
    db.migrate()
    account = find_account(db, args.account)
    if account is None:
        raise AccountError(f"no account with id or user e-mail {args.account!r}")
    user_id = add_user(
        db, Clock(), account["id"], email=args.email, password=args.password, role=args.role
    )
    print(f"{args.email.lower()} ({args.role}) can now log in to {account['name']}: {user_id}")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = _settings(args)
    settings.data_path.mkdir(parents=True, exist_ok=True)
    applied = Database(settings.db_url).migrate()
    print(f"applied migrations: {applied}" if applied else "database is up to date")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="footage", description="Self-hostable website visitor recordings."
    )
    parser.add_argument("--version", action="version", version=f"footage {__version__}")
    sub = parser.add_subparsers(dest="command")

    serve = sub.add_parser("serve", help="run the server: dashboard, API, ingest, finalizer")
    _add_setting_flags(serve)
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser(
        "worker", help="run background jobs only (finalizer); start any number of them"
    )
    _add_setting_flags(
        worker,
        [
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
        ],
    )
    worker.set_defaults(func=cmd_worker)

    migrate = sub.add_parser("migrate", help="create or upgrade the database schema")
    _add_setting_flags(migrate, ["data_dir", "database_url"])
    migrate.set_defaults(func=cmd_migrate)

    accounts = sub.add_parser("accounts", help="manage accounts")
    acc_sub = accounts.add_subparsers(dest="accounts_command", required=True)
    create = acc_sub.add_parser(
        "create", help="create an account with its owner, site and API token"
    )
    create.add_argument("--name", required=True, help="account name")
    create.add_argument("--plan", required=True, help="the plan's name (free, standard, pro …)")
    create.add_argument("--email", required=True, help="the owner's e-mail (their login)")
    create.add_argument("--password", required=True, help="the owner's password (8+ characters)")
    create.add_argument("--site-url", help="the site's address; its origin may send recordings")
    create.add_argument("--json", action="store_true", help="print one JSON object")
    _add_setting_flags(create, ["data_dir", "database_url", "plans"])
    create.set_defaults(func=cmd_accounts_create)
    set_plan = acc_sub.add_parser(
        "set-plan", help="change an account's plan (at once; no payment is involved)"
    )
    set_plan.add_argument("account", help="the account's id or one of its users' e-mail")
    set_plan.add_argument("plan", help="the new plan's name (free, standard, pro …)")
    _add_setting_flags(set_plan, ["data_dir", "database_url", "plans"])
    set_plan.set_defaults(func=cmd_accounts_set_plan)
    add_user_cmd = acc_sub.add_parser(
        "add-user",
        help="add a user to an account: an agent (chats, watches recordings) or an owner",
    )
    add_user_cmd.add_argument("account", help="the account's id or one of its users' e-mail")
    add_user_cmd.add_argument("--email", required=True, help="the new user's e-mail (login)")
    add_user_cmd.add_argument("--password", required=True, help="their password (8+ characters)")
    add_user_cmd.add_argument(
        "--role",
        choices=("agent", "owner"),
        default="agent",
        help="agent: chats with visitors and watches recordings, changes no settings or plan",
    )
    _add_setting_flags(add_user_cmd, ["data_dir", "database_url"])
    add_user_cmd.set_defaults(func=cmd_accounts_add_user)
    add_retention_command(sub, _add_setting_flags)
    add_dev_command(sub, _add_setting_flags)
    add_export_command(sub, _add_setting_flags)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {
        "serve",
        "worker",
        "migrate",
        "accounts",
        "retention",
        "dev",
        "export",
        "-h",
        "--help",
        "--version",
    }
    if not argv or argv[0] not in commands:  # `footage [flags]` serves, like `footage serve`
        argv = ["serve", *argv]
    args = parser.parse_args(argv)
    try:
        sys.exit(args.func(args))
    except (SettingsError, AccountError, ValueError) as exc:
        print(f"footage: error: {exc}", file=sys.stderr)
        sys.exit(2)
