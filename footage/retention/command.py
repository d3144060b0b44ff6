"""`footage retention run`: delete the recordings past their plan's retention and the
conversations past `conversation_retention_days`, once, and say what went. Cron-friendly
(exit 0, one line or one JSON object); `--now` lets an operator or a test ask "what would be
expired at this moment" and delete exactly that.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from footage import bootstrap
from footage.accounts.plans import load_plans
from footage.app import on_delete_hooks
from footage.clock import Clock, iso
from footage.commands import Command, group, register
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`--now` and `--json`."""
    parser.add_argument(
        "--now",
        type=parse_now,
        default=None,
        metavar="ISO-8601",
        help="decide what has expired as of this moment, e.g. 2026-12-01T00:00:00Z "
        "(default: the current time; without a zone, UTC)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    """`footage retention run`: one sweep, then what went, in a line or a JSON object."""
    settings = bootstrap.load_settings(args)
    bootstrap.setup_logging(settings)
    clock = Clock()
    now_ms = clock.now_ms() if args.now is None else int(args.now)
    # Like the other commands, a fresh or older database is brought up to date first.
    with bootstrap.storage(settings) as stored:
        counts = Retention(
            stored.db,
            stored.blobs,
            load_plans(settings.plans),
            clock,
            conversation_retention_days=settings.conversation_retention_days,
            on_delete=on_delete_hooks(),
        ).run_once(now_ms)
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


group("retention", "delete recordings and conversations past their retention")
register(
    Command(
        "retention run",
        "delete every recording and conversation past its retention now, then exit",
        run,
        add_arguments,
        settings=SETTING_FLAGS,
        description="Delete every recording kept longer than its account's plan allows "
        "(retention_days from its creation; one that never finished, a day later), with its "
        "blobs, and every conversation whose last message is older than "
        "conversation_retention_days, with its messages. Safe to run while the server runs, "
        "from several machines, and again.",
    )
)
