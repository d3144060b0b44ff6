"""Every setting, declared once: a field of `Settings` with its default and help.

The environment name (FOOTAGE_*), the command-line flag and the type follow from the field.
Precedence: command-line flag > environment (FOOTAGE_*) > default. The environment is passed
in, so tests never patch os.environ. `docs/settings.md` lists every setting with its
environment name and default (a test checks).
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


class SettingsError(ValueError):
    """A setting has a value that cannot be used."""


def setting(default: Any, help: str) -> Any:
    """A field of `Settings`: its default and the help shown by `--help` and in the docs."""
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    """The settings of one Footage process; each field is one setting."""

    host: str = setting("127.0.0.1", "Address the server listens on.")
    port: int = setting(8000, "Port the server listens on.")
    public_url: str = setting(
        "",
        "URL visitors' browsers use to reach this server (used in the snippet). "
        "Default: http://HOST:PORT.",
    )
    data_dir: str = setting("./footage-data", "Folder for the database and recording files.")
    database_url: str = setting(
        "", "Database URL. Default: a SQLite file footage.db in the data dir."
    )
    leave_grace_seconds: float = setting(
        15.0,
        "After a visitor's last page is closed, wait this long for another page view "
        "before the recording is finished.",
    )
    heartbeat_timeout_seconds: float = setting(
        120.0,
        "A recording whose browser sent nothing for this long (tab crashed, laptop closed) "
        "is finished.",
    )
    finalizer_interval_seconds: float = setting(
        5.0, "How often the finalizer looks for recordings whose visitor has left."
    )
    finalize_lease_seconds: float = setting(
        60.0,
        "A recording claimed by a finalizer that has not finished it after this long (the "
        "process died) is finalized by another one. After each attempt that failed, the "
        "next waits twice as long, up to 60 times this.",
    )
    blob_url: str = setting(
        "",
        "Where recording data is stored: empty for files in the data dir, or "
        "s3://bucket/prefix for S3-compatible storage (endpoint, region and credentials from "
        "the usual AWS_* variables).",
    )
    max_body_bytes: int = setting(1_000_000, "Largest accepted ingest body, compressed.")
    max_inflated_bytes: int = setting(
        20_000_000, "Largest accepted ingest body after decompression."
    )
    ingest_ip_rate: float = setting(
        20.0,
        "Batches and heartbeats per second one client address may send, sustained (a "
        "visitor sends a batch every ~5 s, so this is ~100 visitors behind one address). "
        "0: no limit.",
    )
    ingest_ip_burst: int = setting(
        200,
        "Batches and heartbeats one client address may send at once above its rate before "
        "getting 429.",
    )
    ingest_site_rate: float = setting(
        500.0,
        "Batches per second one site may send to ingest, sustained, per server process "
        "(~2,500 visitors recorded at once). 0: no limit.",
    )
    ingest_site_burst: int = setting(
        5000, "Batches one site may send at once above its rate before getting 429."
    )
    ingest_max_in_flight: int = setting(
        1000,
        "Ingest requests (batches and heartbeats) one server process works on at once; more "
        "get 503 with Retry-After before their body is read, so an overload is refused "
        "rather than queued in memory. 0: no limit.",
    )
    ingest_body_timeout_seconds: float = setting(
        5.0,
        "An ingest or heartbeat body not received in full within this many seconds after its "
        "headers is dropped (408), so slow senders cannot hold the server's connections.",
    )
    ingest_ip_max_in_flight: int = setting(
        50,
        "Ingest requests one client address may have in flight at once in one server "
        "process; more get 503 with Retry-After before their body is read, so one address "
        "cannot take the whole in-flight budget. 0: no limit.",
    )
    ingest_ip_new_recordings: int = setting(
        60,
        "New recordings one client address may start for one site within "
        "FOOTAGE_INGEST_IP_NEW_RECORDINGS_WINDOW_SECONDS (a sliding window); more get 429, "
        "so one address cannot use up a site's monthly recordings. 0: no limit.",
    )
    ingest_ip_new_recordings_window_seconds: float = setting(
        3600.0, "The window of FOOTAGE_INGEST_IP_NEW_RECORDINGS."
    )
    max_recording_bytes: int = setting(
        50_000_000,
        "Largest recording, as the size of its events before compression; the batch that "
        "would pass it ends the recording and the recorder starts a new one (a recording's "
        "first batch is always kept).",
    )
    max_recording_seconds: float = setting(
        14_400.0,
        "Longest recording, from its first batch; a batch after that ends the recording and "
        "the recorder starts a new one.",
    )
    max_recording_pages: int = setting(
        1_000,
        "Most page views in one recording; a new page view after that ends the recording and "
        "the recorder starts a new one.",
    )
    geoip_database: str = setting(
        "",
        "Optional MaxMind-format (.mmdb) country database. Default: the database bundled "
        "with the geoip2fast package.",
    )
    keep_assets: bool = setting(
        True,
        "Keep a copy of the stylesheets, images and fonts recorded pages use, so replays "
        "show the site as the visitor saw it. Copies are taken only from each site's allowed "
        "origins.",
    )
    asset_fresh_seconds: float = setting(
        300.0,
        "A copy of an asset this recent is used for new recordings without asking the site again.",
    )
    asset_max_bytes: int = setting(5_000_000, "Largest stylesheet, image or font copied.")
    asset_timeout_seconds: float = setting(
        10.0, "Longest time to copy one asset, redirects included."
    )
    asset_private_addresses: bool = setting(
        False,
        "Copy assets from private, loopback and link-local addresses too (sites on an "
        "intranet). Off: such addresses are refused, checked after every DNS lookup and "
        "redirect.",
    )
    demo: bool = setting(True, "Create a demo account, site and pages on first start.")
    background: bool = setting(
        True, "Run the finalizer inside `footage serve` (turn off with --no-background)."
    )
    workers: int = setting(
        1, "Web/ingest processes `footage serve` starts on this machine (uvicorn workers)."
    )
    plans: str = setting(
        "",
        "Plans offered: inline JSON or the path of a .toml/.json file mapping each plan's "
        "name to monthly_limit, retention_days and an optional label. Default: free (no "
        "recordings), standard (10,000 a month), pro (50,000 a month), all kept 10 days.",
    )
    retention_interval_seconds: float = setting(
        300.0, "How often the retention sweeper deletes recordings past their plan's retention."
    )
    chat_ip_new_conversations: int = setting(
        10,
        "New conversations one client address may start on one site per hour; more get 429. "
        "0: no limit.",
    )
    chat_site_new_conversations: int = setting(
        500,
        "New conversations one site may get per hour, per server process; more get 429. "
        "0: no limit.",
    )
    chat_ip_messages: int = setting(
        30,
        "Chat messages one client address may send to one site per minute; more get 429. "
        "0: no limit.",
    )
    conversation_retention_days: float = setting(
        10.0,
        "Conversations whose last message is older than this many days are deleted with "
        "their messages by the retention sweeper.",
    )
    video_renders_per_account: int = setting(
        2, "MP4 renders one account may have queued or running at once; more get 429."
    )
    video_render_timeout_seconds: float = setting(
        1800.0,
        "A render that has not finished after this long is stopped and marked failed "
        "(not retried).",
    )
    log_level: str = setting("info", "Log level: debug, info, warning, error.")
    secure_cookies: bool = setting(
        False,
        "Mark the dashboard's cookies Secure (behind HTTPS; on by itself when the public URL "
        "starts with https://).",
    )

    @classmethod
    def load(
        cls,
        env: Mapping[str, str] | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> Settings:
        """Build settings from the environment and explicit overrides (flags)."""
        env = os.environ if env is None else env
        overrides = overrides or {}
        values: dict[str, Any] = {}
        for s in SETTINGS:
            if overrides.get(s.name) is not None:
                values[s.name] = _parse(s, overrides[s.name])
            elif s.env in env:
                values[s.name] = _parse(s, env[s.env])
            else:
                values[s.name] = s.default
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse a value that cannot be used; the message names its variable."""
        for name in ("leave_grace_seconds", "heartbeat_timeout_seconds"):
            if getattr(self, name) < 0:
                raise SettingsError(f"FOOTAGE_{name.upper()} must be 0 or more")
        if self.finalizer_interval_seconds <= 0:
            raise SettingsError("FOOTAGE_FINALIZER_INTERVAL_SECONDS must be more than 0")
        if not 1 <= self.port <= 65535:
            raise SettingsError("FOOTAGE_PORT must be between 1 and 65535")
        if not 1 <= self.workers <= 64:
            raise SettingsError("FOOTAGE_WORKERS must be between 1 and 64")
        for name in ("ingest_ip_rate", "ingest_site_rate"):
            if getattr(self, name) < 0:
                raise SettingsError(f"FOOTAGE_{name.upper()} must be 0 (no limit) or more")
        if self.ingest_max_in_flight < 0:
            raise SettingsError("FOOTAGE_INGEST_MAX_IN_FLIGHT must be 0 (no limit) or more")
        for name in ("ingest_ip_burst", "ingest_site_burst"):
            if getattr(self, name) < 1:
                raise SettingsError(f"FOOTAGE_{name.upper()} must be 1 or more")
        for name in (
            "ingest_ip_max_in_flight",
            "ingest_ip_new_recordings",
            "chat_ip_new_conversations",
            "chat_site_new_conversations",
            "chat_ip_messages",
        ):
            if getattr(self, name) < 0:
                raise SettingsError(f"FOOTAGE_{name.upper()} must be 0 (no limit) or more")
        for name in (
            "ingest_body_timeout_seconds",
            "ingest_ip_new_recordings_window_seconds",
            "conversation_retention_days",
            "video_render_timeout_seconds",
        ):
            if getattr(self, name) <= 0:
                raise SettingsError(f"FOOTAGE_{name.upper()} must be more than 0")
        if self.video_renders_per_account < 1:
            raise SettingsError("FOOTAGE_VIDEO_RENDERS_PER_ACCOUNT must be 1 or more")
        if self.max_recording_bytes < 1:
            raise SettingsError("FOOTAGE_MAX_RECORDING_BYTES must be more than 0")
        if self.max_recording_seconds <= 0:
            raise SettingsError("FOOTAGE_MAX_RECORDING_SECONDS must be more than 0")
        if self.retention_interval_seconds <= 0:
            raise SettingsError("FOOTAGE_RETENTION_INTERVAL_SECONDS must be more than 0")

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser().resolve()

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_path / 'footage.db'}"

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"

    def to_env(self) -> dict[str, str]:
        """These settings as FOOTAGE_* variables, to hand them to child processes."""
        env = {}
        for s in SETTINGS:
            value = getattr(self, s.name)
            env[s.env] = ("1" if value else "0") if s.type is bool else str(value)
        return env

    def replace(self, **changes: Any) -> Settings:
        """A copy with some settings changed (not checked again)."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Setting:
    """One setting as the command line, the environment and the docs see it."""

    name: str
    type: type
    default: Any
    help: str

    @property
    def env(self) -> str:
        return "FOOTAGE_" + self.name.upper()

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")


def _declared() -> list[Setting]:
    """The fields of `Settings`, in their order: the one declaration of every setting."""
    types = typing.get_type_hints(Settings)
    return [Setting(f.name, types[f.name], f.default, f.metadata["help"]) for f in fields(Settings)]


SETTINGS: list[Setting] = _declared()


def _parse(s: Setting, raw: Any) -> Any:
    if raw is None or isinstance(raw, s.type) and not isinstance(raw, str):
        return raw
    text = str(raw).strip()
    try:
        if s.type is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(text)
        return s.type(text)
    except ValueError:
        raise SettingsError(
            f"{s.env} / {s.option}: {text!r} is not a valid {s.type.__name__}"
        ) from None
