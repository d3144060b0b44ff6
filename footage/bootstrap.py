"""Start-up shared by every command: settings from flags and environment, logging, storage.

The one precedence: command-line flag > environment (FOOTAGE_*) > default.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from footage import logs
from footage.accounts.plans import PlanError, load_plans
from footage.settings import SETTINGS, Settings, SettingsError
from footage.store import Database, open_blob_store
from footage.store.blobs import BlobStore


def add_setting_flags(parser: argparse.ArgumentParser, names: Sequence[str] | None = None) -> None:
    """Offer the settings `names` (None: every one) as flags, with their variable and default."""
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


def load_settings(
    args: argparse.Namespace | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """The settings from the flags in `args`, then `env` (default: os.environ), then defaults.

    A plans definition that cannot be used stops the start here, with a message saying why.
    """
    overrides = {s.name: getattr(args, s.name, None) for s in SETTINGS} if args else {}
    settings = Settings.load(os.environ if env is None else env, overrides)
    try:
        load_plans(settings.plans)
    except PlanError as exc:
        raise SettingsError(f"FOOTAGE_PLANS: {exc}") from None
    return settings


def setup_logging(settings: Settings) -> None:
    """Log lines at the configured level, with secrets redacted."""
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logs.install()  # share tokens and API tokens never reach the log, uvicorn's access log too


def data_dir(settings: Settings) -> Path:
    """The data dir, created if need be."""
    settings.data_path.mkdir(parents=True, exist_ok=True)
    return settings.data_path


def open_database(settings: Settings, *, migrate: bool = True) -> Database:
    """The configured database (a SQLite file's folder is created with it), migrated."""
    db = Database(settings.db_url)
    if migrate:
        db.migrate()
    return db


def open_blobs(settings: Settings) -> BlobStore:
    """The configured blob store: files under the data dir, or an S3 bucket."""
    return open_blob_store(settings.data_path, settings.blob_url)


@dataclass(frozen=True)
class Storage:
    """What a command works on: the database and the blob store."""

    db: Database
    blobs: BlobStore


@contextlib.contextmanager
def storage(settings: Settings) -> Iterator[Storage]:
    """The database (migrated) and the blob store for one command; closed at the end."""
    db = open_database(settings)
    try:
        yield Storage(db, open_blobs(settings))
    finally:
        db.dispose()
