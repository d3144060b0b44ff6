"""Settings: precedence, validation, and docs that list every one of them."""

from dataclasses import fields
from pathlib import Path

import pytest

from footage.settings import SETTINGS, Settings, SettingsError

DOCS = Path(__file__).resolve().parent.parent / "docs" / "settings.md"


def test_flag_beats_environment_beats_default():
    env = {"FOOTAGE_PORT": "9000", "FOOTAGE_LEAVE_GRACE_SECONDS": "2.5"}
    assert Settings.load(env=env).port == 9000
    assert Settings.load(env=env, overrides={"port": "9100"}).port == 9100
    assert Settings.load(env=env).leave_grace_seconds == 2.5
    assert Settings.load(env={}).port == 8000


def test_booleans_and_bad_values():
    assert Settings.load(env={"FOOTAGE_DEMO": "off"}).demo is False
    with pytest.raises(SettingsError, match="FOOTAGE_PORT"):
        Settings.load(env={"FOOTAGE_PORT": "eighty"})
    with pytest.raises(SettingsError, match="FINALIZER_INTERVAL"):
        Settings.load(env={"FOOTAGE_FINALIZER_INTERVAL_SECONDS": "0"})


def documented_default(setting):
    """The default as docs/settings.md's table writes it."""
    if setting.type is bool:
        return "on" if setting.default else "off"
    return f"`{setting.default}`" if setting.default != "" else "(empty)"


def test_every_setting_is_documented_with_its_variable_and_default():
    rows = {}
    for line in DOCS.read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`--"):
            rows[cells[1].strip("`")] = cells
    table = {env: (flag, default) for env, (flag, _, default, _) in rows.items()}
    wanted = {}
    for s in SETTINGS:
        flag = (
            f"`{s.option}` / `--no-{s.option[2:]}`"
            if s.type is bool
            else f"`{s.option} {s.name.upper()}`"
        )
        wanted[s.env] = (flag, documented_default(s))
    assert table == wanted


def test_each_setting_is_declared_once_as_a_field_of_settings():
    assert [s.name for s in SETTINGS] == [f.name for f in fields(Settings)]
    assert Settings() == Settings.load(env={})
    assert all(s.help and s.type in (str, int, float, bool) for s in SETTINGS)


def test_defaults_finish_clean_leaves_within_a_minute_and_crashes_within_three():
    s = Settings.load(env={})
    assert s.leave_grace_seconds + s.finalizer_interval_seconds <= 30
    assert s.heartbeat_timeout_seconds + s.finalizer_interval_seconds <= 150
