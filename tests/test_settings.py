"""Settings: precedence, validation, and docs that list every one of them."""

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


def test_every_setting_is_documented():
    text = DOCS.read_text()
    missing = [s.env for s in SETTINGS if s.env not in text or s.option not in text]
    assert missing == []


def test_defaults_finish_clean_leaves_within_a_minute_and_crashes_within_three():
    s = Settings.load(env={})
    assert s.leave_grace_seconds + s.finalizer_interval_seconds <= 30
    assert s.heartbeat_timeout_seconds + s.finalizer_interval_seconds <= 150
