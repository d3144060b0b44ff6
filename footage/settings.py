"""Every setting in one declarative list: name, default, help.

Precedence: command-line flag > environment (FOOTAGE_*) > default. The environment is passed
in, so tests never patch os.environ. `docs/settings.md` must list every entry (a test checks).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from footage.accounts.plans import PlanError, Plans, load_plans


class SettingsError(ValueError):
    """A setting has a value that cannot be used."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    type: type = str
    flag: bool = True  # offered as a `footage serve` flag too

    @property
    def env(self) -> str:
        return "FOOTAGE_" + self.name.upper()

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")


SETTINGS: list[Setting] = [
    Setting("host", "127.0.0.1", "Address the server listens on."),
    Setting("port", 8000, "Port the server listens on.", int),
    Setting(
        "public_url",
        "",
        "URL visitors' browsers use to reach this server (used in the snippet). "
        "Default: http://HOST:PORT.",
    ),
    Setting("data_dir", "./footage-data", "Folder for the database and recording files."),
    Setting(
        "database_url",
        "",
        "Database URL. Default: a SQLite file footage.db in the data dir.",
    ),
    Setting(
        "leave_grace_seconds",
        15.0,
        "After a visitor's last page is closed, wait this long for another page view "
        "before the recording is finished.",
        float,
    ),
    Setting(
        "heartbeat_timeout_seconds",
        120.0,
        "A recording whose browser sent nothing for this long (tab crashed, laptop closed) "
        "is finished.",
        float,
    ),
    Setting(
        "finalizer_interval_seconds",
        5.0,
        "How often the finalizer looks for recordings whose visitor has left.",
        float,
    ),
    Setting(
        "finalize_lease_seconds",
        60.0,
        "A recording claimed by a finalizer that has not finished it after this long (the "
        "process died) is finalized by another one.",
        float,
    ),
    Setting(
        "blob_url",
        "",
        "Where recording data is stored: empty for files in the data dir, or "
        "s3://bucket/prefix for S3-compatible storage (endpoint, region and credentials from "
        "the usual AWS_* variables).",
    ),
    Setting("max_body_bytes", 1_000_000, "Largest accepted ingest body, compressed.", int),
    Setting(
        "max_inflated_bytes",
        20_000_000,
        "Largest accepted ingest body after decompression.",
        int,
    ),
    Setting(
        "ingest_ip_rate",
        20.0,
        "Batches and heartbeats per second one client address may send, sustained (a "
        "visitor sends a batch every ~5 s, so this is ~100 visitors behind one address). "
        "0: no limit.",
        float,
    ),
    Setting(
        "ingest_ip_burst",
        200,
        "Batches and heartbeats one client address may send at once above its rate before "
        "getting 429.",
        int,
    ),
    Setting(
        "ingest_site_rate",
        500.0,
        "Batches per second one site may send to ingest, sustained, per server process "
        "(~2,500 visitors recorded at once). 0: no limit.",
        float,
    ),
    Setting(
        "ingest_site_burst",
        5000,
        "Batches one site may send at once above its rate before getting 429.",
        int,
    ),
    Setting(
        "ingest_max_in_flight",
        1000,
        "Ingest requests (batches and heartbeats) one server process works on at once; more "
        "get 503 with Retry-After before their body is read, so an overload is refused "
        "rather than queued in memory. 0: no limit.",
        int,
    ),
    Setting(
        "ingest_body_timeout_seconds",
        5.0,
        "An ingest or heartbeat body not received in full within this many seconds after its "
        "headers is dropped (408), so slow senders cannot hold the server's connections.",
        float,
    ),
    Setting(
        "ingest_ip_max_in_flight",
        50,
        "Ingest requests one client address may have in flight at once in one server "
        "process; more get 503 with Retry-After before their body is read, so one address "
        "cannot take the whole in-flight budget. 0: no limit.",
        int,
    ),
    Setting(
        "ingest_ip_new_recordings",
        60,
        "New recordings one client address may start for one site within "
        "FOOTAGE_INGEST_IP_NEW_RECORDINGS_WINDOW_SECONDS (a sliding window); more get 429, "
        "so one address cannot use up a site's monthly recordings. 0: no limit.",
        int,
    ),
    Setting(
        "ingest_ip_new_recordings_window_seconds",
        3600.0,
        "The window of FOOTAGE_INGEST_IP_NEW_RECORDINGS.",
        float,
    ),
    Setting(
        "max_recording_bytes",
        50_000_000,
        "Largest recording, as the size of its events before compression; the batch that "
        "would pass it ends the recording and the recorder starts a new one (a recording's "
        "first batch is always kept).",
        int,
    ),
    Setting(
        "max_recording_seconds",
        14_400.0,
        "Longest recording, from its first batch; a batch after that ends the recording and "
        "the recorder starts a new one.",
        float,
    ),
    Setting(
        "geoip_database",
        "",
        "Optional MaxMind-format (.mmdb) country database. Default: the database bundled "
        "with the geoip2fast package.",
    ),
    Setting("demo", True, "Create a demo account, site and pages on first start.", bool),
    Setting(
        "background",
        True,
        "Run the finalizer inside `footage serve` (turn off with --no-background).",
        bool,
    ),
    Setting(
        "workers",
        1,
        "Web/ingest processes `footage serve` starts on this machine (uvicorn workers).",
        int,
    ),
    Setting(
        "plans",
        "",
        "Plans offered: inline JSON or the path of a .toml/.json file mapping each plan's "
        "name to monthly_limit, retention_days and an optional label. Default: free (no "
        "recordings), standard (10,000 a month), pro (50,000 a month), all kept 10 days.",
    ),
    Setting(
        "retention_interval_seconds",
        300.0,
        "How often the retention sweeper deletes recordings past their plan's retention.",
        float,
    ),
    Setting(
        "chat_ip_new_conversations",
        10,
        "New conversations one client address may start on one site per hour; more get 429. "
        "0: no limit.",
        int,
    ),
    Setting(
        "chat_site_new_conversations",
        500,
        "New conversations one site may get per hour, per server process; more get 429. "
        "0: no limit.",
        int,
    ),
    Setting(
        "chat_ip_messages",
        30,
        "Chat messages one client address may send to one site per minute; more get 429. "
        "0: no limit.",
        int,
    ),
    Setting(
        "conversation_retention_days",
        10.0,
        "Conversations whose last message is older than this many days are deleted with "
        "their messages by the retention sweeper.",
        float,
    ),
    Setting(
        "video_renders_per_account",
        2,
        "MP4 renders one account may have queued or running at once; more get 429.",
        int,
    ),
    Setting(
        "video_render_timeout_seconds",
        1800.0,
        "A render that has not finished after this long is stopped and marked failed "
        "(not retried).",
        float,
    ),
    Setting("log_level", "info", "Log level: debug, info, warning, error."),
    Setting(
        "secure_cookies",
        False,
        "Mark the dashboard's cookies Secure (behind HTTPS; on by itself when the public URL "
        "starts with https://).",
        bool,
    ),
]


def _parse(setting: Setting, raw: Any) -> Any:
    if raw is None or isinstance(raw, setting.type) and not isinstance(raw, str):
        return raw
    text = str(raw).strip()
    try:
        if setting.type is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(text)
        return setting.type(text)
    except ValueError:
        raise SettingsError(
            f"{setting.env} / {setting.option}: {text!r} is not a valid {setting.type.__name__}"
        ) from None


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""
    data_dir: str = "./footage-data"
    database_url: str = ""
    leave_grace_seconds: float = 15.0
    heartbeat_timeout_seconds: float = 120.0
    finalizer_interval_seconds: float = 5.0
    finalize_lease_seconds: float = 60.0
    blob_url: str = ""
    max_body_bytes: int = 1_000_000
    max_inflated_bytes: int = 20_000_000
    ingest_ip_rate: float = 20.0
    ingest_ip_burst: int = 200
    ingest_site_rate: float = 500.0
    ingest_site_burst: int = 5000
    ingest_max_in_flight: int = 1000
    ingest_body_timeout_seconds: float = 5.0
    ingest_ip_max_in_flight: int = 50
    ingest_ip_new_recordings: int = 60
    ingest_ip_new_recordings_window_seconds: float = 3600.0
    max_recording_bytes: int = 50_000_000
    max_recording_seconds: float = 14_400.0
    geoip_database: str = ""
    demo: bool = True
    background: bool = True
    workers: int = 1
    plans: str = ""
    retention_interval_seconds: float = 300.0
    chat_ip_new_conversations: int = 10
    chat_site_new_conversations: int = 500
    chat_ip_messages: int = 30
    conversation_retention_days: float = 10.0
    video_renders_per_account: int = 2
    video_render_timeout_seconds: float = 1800.0
    log_level: str = "info"
    secure_cookies: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

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
        for setting in SETTINGS:
            if overrides.get(setting.name) is not None:
                values[setting.name] = _parse(setting, overrides[setting.name])
            elif setting.env in env:
                values[setting.name] = _parse(setting, env[setting.env])
            else:
                values[setting.name] = setting.default
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
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
        try:
            self.plan_set  # noqa: B018  (a bad plans definition stops the start, clearly)
        except PlanError as exc:
            raise SettingsError(f"FOOTAGE_PLANS: {exc}") from None

    @property
    def plan_set(self) -> Plans:
        """The plans this server offers (the `plans` setting, or the defaults)."""
        return load_plans(self.plans)

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
        for setting in SETTINGS:
            value = getattr(self, setting.name)
            env[setting.env] = ("1" if value else "0") if setting.type is bool else str(value)
        return env

    def replace(self, **changes: Any) -> Settings:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Settings(**values)
