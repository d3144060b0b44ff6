"""`footage retention run`: delete the recordings past their plan's retention and the
conversations past `conversation_retention_days`, once, and say what went. Cron-friendly
(exit 0, one line or one JSON object); `--now` lets an operator or a test ask "what would be
expired at this moment" and delete exactly that.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from footage.clock import Clock, iso
from footage.retention.sweeper import Retention

# The settings the command reads: where the data is, and how long to keep recordings (the
# plans) and conversations.
SETTING_FLAGS = [
    "data_dir",
    "database_url",
    "blob_url",
    "plans",
    "conversation_retention_days",
    "log_level",
]

AddSettingFlags = Callable[[argparse.ArgumentParser, Sequence[str] | None], None]


def parse_now(value: str) -> int:
    """An ISO-8601 moment (`2026-12-01T00:00:00Z`, an offset, or a date) → ms since the epoch.
    Without a time zone it is read as UTC, the zone of every time Footage stores."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an ISO-8601 time; write e.g. 2026-12-01T00:00:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def add_retention_command(subparsers: Any, add_setting_flags: AddSettingFlags) -> None:
    """Register `retention run` on the `footage` parser's subcommands.

    `add_setting_flags` is cli.py's `_add_setting_flags`, passed in so this module does not
    import cli.py (which imports this one).
    """
    retention = subparsers.add_parser(
        "retention", help="delete recordings and conversations past their retention"
    )
    sub = retention.add_subparsers(dest="retention_command", required=True)
    run = sub.add_parser(
        "run",
        help="delete every recording and conversation past its retention now, then exit",
        description="Delete every recording kept longer than its account's plan allows "
        "(retention_days from its creation; one that never finished, a day later), with its "
        "blobs, and every conversation whose last message is older than "
        "conversation_retention_days, with its messages. Safe to run while the server runs, "
        "from several machines, and again.",
    )
    run.add_argument(
        "--now",
        type=parse_now,
        default=None,
        metavar="ISO-8601",
        help="decide what has expired as of this moment, e.g. 2026-12-01T00:00:00Z "
        "(default: the current time; without a zone, UTC)",
    )
    run.add_argument("--json", action="store_true", help="print one JSON object")
    add_setting_flags(run, SETTING_FLAGS)
    run.set_defaults(func=cmd_retention_run)


def cmd_retention_run(args: argparse.Namespace) -> int:
    # Imported here: cli.py imports this module to register the command.
    from footage.cli import _logging, _settings
    from footage.store import Database, open_blob_store

    settings = _settings(args)
    _logging(settings)
    clock = Clock()
    now_ms = clock.now_ms() if args.now is None else int(args.now)
    db = Database(settings.db_url)
    try:
        db.migrate()  # like the other commands: a fresh or older database is brought up to date
        blobs = open_blob_store(settings.data_path, settings.blob_url)
        counts = Retention(
            db,
            blobs,
            settings.plan_set,
            clock,
            conversation_retention_days=settings.conversation_retention_days,
        ).run_once(now_ms)
    finally:
        db.dispose()
    if args.json:
        print(json.dumps({**counts, "now": iso(now_ms)}))
    else:
        print(
            f"Deleted {counts['recordings']} recordings past their plan's retention as of "
            f"{iso(now_ms)} ({counts['chunks']} chunks, {counts['blobs']} blobs), and "
            f"{counts['conversations']} conversations older than "
            f"{settings.conversation_retention_days:g} days ({counts['messages']} messages)."
        )
    return 0
