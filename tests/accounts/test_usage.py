"""Plans, the monthly limit and what the owner sees of it: the API, the dashboard, the CLI."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from footage.accounts.plans import DEFAULT_PLANS, PlanError, load_plans
from footage.accounts.usage import day_of, period_bounds, period_of
from footage.bootstrap import load_settings
from footage.cli import main
from footage.clock import FrozenClock
from footage.settings import SettingsError
from tests.conftest import (
    LiveServer,
    batch,
    free_port,
    full_snapshot,
    gz,
    login,
    make_account,
    meta,
    new_ids,
    settings_for,
    start_server,
)

ORIGIN = "https://shop.example"
# Event times: the server refuses ones before 2000 or more than a day ahead of its clock.
T = 1_780_000_000_000  # 2026-05-28, before every moment these tests set the clock to


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


NOV_15 = ms("2026-11-15T12:00:00+00:00")


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    """A real server whose clock the test moves."""
    settings = settings_for(tmp_path, database_url=database_url, port=free_port())
    live = start_server(settings, FrozenClock(NOV_15))
    yield live
    live.stop()


def clock(server: LiveServer) -> FrozenClock:
    c = server.services.clock
    assert isinstance(c, FrozenClock)
    return c


def set_now(server: LiveServer, when_ms: int) -> None:
    clock(server)._now = when_ms


def use(server: LiveServer, account_id: str, used: int, tz: str = "UTC") -> None:
    """This month's count as if `used` recordings had started (the counter's own table)."""
    server.services.db.run(
        "INSERT INTO usage_counters (account_id, period, used) VALUES (:a, :p, :u) "
        "ON CONFLICT (account_id, period) DO UPDATE SET used = :u",
        {"a": account_id, "p": period_of(clock(server).now_ms(), tz), "u": used},
    )


def start_recording(http, site_key: str, ids: dict[str, str] | None = None):
    return http.post(
        "/api/v1/ingest",
        content=gz(
            batch(site_key, ids or new_ids(), 0, [meta(T), full_snapshot(T + 1)], url=ORIGIN)
        ),
        headers={"Origin": ORIGIN, "Content-Type": "text/plain"},
    )


def auth(account) -> dict[str, str]:
    return {"Authorization": f"Bearer {account.api_token}"}


# ---- plans ------------------------------------------------------------------------------


def test_default_plans():
    assert [(p.name, p.monthly_limit, p.retention_days) for p in DEFAULT_PLANS] == [
        ("free", 0, 10),
        ("standard", 10_000, 10),
        ("pro", 50_000, 10),
    ]
    assert DEFAULT_PLANS.next_up(DEFAULT_PLANS.get("standard")).name == "pro"
    assert DEFAULT_PLANS.next_up(DEFAULT_PLANS.get("pro")) is None


def test_operators_define_their_own_plans(tmp_path):
    toml = tmp_path / "plans.toml"
    toml.write_text(
        '[plans.team]\nlabel = "Team"\nmonthly_limit = 25000\nretention_days = 30\n'
        "[plans.trial]\nmonthly_limit = 100\nretention_days = 3\n"
    )
    plans = load_plans(load_settings(env={"FOOTAGE_PLANS": str(toml)}).plans)
    assert [(p.name, p.title, p.monthly_limit, p.retention_days) for p in plans] == [
        ("trial", "Trial", 100, 3),
        ("team", "Team", 25_000, 30),
    ]
    inline = load_plans('{"agency": {"monthly_limit": 200000, "retention_days": 90}}')
    assert inline.get("agency").retention_days == 90
    # An account left on a plan that was removed records nothing, and keeps its recordings.
    gone = plans.of("pro")
    assert gone.monthly_limit == 0 and gone.retention_days == 30


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ('{"pro": {"monthly_limit": -1, "retention_days": 10}}', "monthly_limit"),
        ('{"pro": {"monthly_limit": 10, "retention_days": 0}}', "retention_days"),
        ('{"Pro!": {"monthly_limit": 10, "retention_days": 10}}', "lowercase"),
        ('{"pro": {"monthly_limit": 10, "retention_days": 10, "price": 9}}', "price"),
        ("{not json", "not valid JSON"),
        ("/nowhere/plans.toml", "cannot read"),
    ],
)
def test_bad_plan_definitions_stop_the_start_with_a_clear_message(value, words):
    with pytest.raises(SettingsError, match="FOOTAGE_PLANS") as caught:
        load_settings(env={"FOOTAGE_PLANS": value})
    assert words in str(caught.value)
    with pytest.raises(PlanError):
        load_plans(value)


# ---- the calendar month -----------------------------------------------------------------


def test_the_month_turns_at_midnight_on_the_first_in_the_accounts_time_zone():
    last_ms_nov = ms("2026-11-30T23:59:59.999+00:00")
    assert period_of(last_ms_nov) == "2026-11" and period_of(last_ms_nov + 1) == "2026-12"
    # 23:30 UTC on 30 November is already 1 December in Prague (UTC+1).
    late = ms("2026-11-30T23:30:00+00:00")
    assert period_of(late, "Europe/Prague") == "2026-12" and day_of(late, "Europe/Prague") == (
        "2026-12-01"
    )
    start, end = period_bounds(NOV_15, "Europe/Prague")
    assert start.astimezone(UTC).isoformat() == "2026-10-31T23:00:00+00:00"
    assert end.astimezone(UTC).isoformat() == "2026-11-30T23:00:00+00:00"


def test_the_count_starts_again_on_the_first(server):
    acc = make_account(server.services, "Shop", plan="standard", site_url=ORIGIN)
    set_now(server, ms("2026-11-30T23:59:59+00:00"))
    use(server, acc.account_id, 10_000)
    with server.client() as http:
        refused = start_recording(http, acc.site_key)
        last_second = http.get("/api/v1/usage", headers=auth(acc)).json()
        set_now(server, ms("2026-12-01T00:00:00+00:00"))
        server.services.ingest.forget_site(acc.site_key)
        accepted = start_recording(http, acc.site_key)
        first_second = http.get("/api/v1/usage", headers=auth(acc)).json()
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "quota_exceeded"
    assert last_second["remaining"] == 0 and last_second["period_end"] == "2026-12-01T00:00:00.000Z"
    assert accepted.status_code == 200
    assert first_second["used_this_month"] == 1 and first_second["remaining"] == 9_999
    assert first_second["period_start"] == "2026-12-01T00:00:00.000Z"


# ---- plan changes -------------------------------------------------------------------------


def test_upgrade_mid_month_leaves_the_new_limit_minus_what_was_used(server):
    acc = make_account(server.services, "Shop", plan="standard", site_url=ORIGIN)
    use(server, acc.account_id, 10_000)
    with server.client() as http:
        before = http.get(f"/api/v1/sites/{acc.site_key}/config").json()
        r = http.patch("/api/v1/account", json={"plan": "pro"}, headers=auth(acc))
        after = http.get("/api/v1/usage", headers=auth(acc)).json()
        config = http.get(f"/api/v1/sites/{acc.site_key}/config").json()
        started = start_recording(http, acc.site_key)
    assert before["enabled"] is False and before["reason"] == "monthly_limit_reached"
    assert r.status_code == 200 and r.json()["plan"] == "pro"
    assert after["plan"] == "pro" and after["monthly_limit"] == 50_000
    assert after["used_this_month"] == 10_000 and after["remaining"] == 40_000
    assert config["enabled"] is True and started.status_code == 200


def test_downgrade_never_goes_below_zero_and_free_stops_at_once(server):
    acc = make_account(server.services, "Shop", plan="pro", site_url=ORIGIN)
    use(server, acc.account_id, 12_000)
    ids = new_ids()
    with server.client() as http:
        assert start_recording(http, acc.site_key, ids).status_code == 200
        http.patch("/api/v1/account", json={"plan": "standard"}, headers=auth(acc))
        down = http.get("/api/v1/usage", headers=auth(acc)).json()
        new_visitor = start_recording(http, acc.site_key)
        # The recording in progress finishes: its next page is still accepted.
        more = http.post(
            "/api/v1/ingest",
            content=gz(batch(acc.site_key, {**ids, "page_id": "pag-next-page"}, 0, [meta(T + 5)])),
            headers={"Origin": ORIGIN, "Content-Type": "text/plain"},
        )
        http.patch("/api/v1/account", json={"plan": "free"}, headers=auth(acc))
        free = http.get("/api/v1/usage", headers=auth(acc)).json()
        config = http.get(f"/api/v1/sites/{acc.site_key}/config").json()
        stopped = http.post(
            "/api/v1/ingest",
            content=gz(batch(acc.site_key, {**ids, "page_id": "pag-third-page"}, 0, [meta(T + 9)])),
            headers={"Origin": ORIGIN, "Content-Type": "text/plain"},
        )
    assert down["remaining"] == 0 and down["used_this_month"] == 12_001
    assert new_visitor.status_code == 403
    assert more.status_code == 200
    assert free["monthly_limit"] == 0 and free["remaining"] == 0
    assert config["reason"] == "plan_without_recordings"
    assert stopped.status_code == 403 and stopped.json()["error"]["code"] == (
        "plan_without_recordings"
    )


def test_bad_account_changes_say_what_to_fix(server):
    acc = make_account(server.services, "Shop", plan="standard", site_url=ORIGIN)
    with server.client(headers=auth(acc)) as http:
        unknown = http.patch("/api/v1/account", json={"plan": "platinum"})
        zone = http.patch("/api/v1/account", json={"time_zone": "Mars/Olympus"})
        extra = http.patch("/api/v1/account", json={"price": 1})
        good = http.patch("/api/v1/account", json={"time_zone": "Europe/Prague"})
    assert unknown.status_code == 400 and "choose one of: free, standard, pro" in unknown.text
    assert zone.status_code == 400 and "Europe/Prague" in zone.json()["error"]["message"]
    assert extra.status_code == 400 and "price" in extra.json()["error"]["message"]
    assert good.json()["time_zone"] == "Europe/Prague"


def test_usage_reports_the_month_and_what_is_stored_separately(server):
    acc = make_account(server.services, "Shop", plan="standard", site_url=ORIGIN)
    with server.client() as http:
        for day in ("2026-11-03T10:00:00", "2026-11-03T11:00:00", "2026-11-15T09:00:00"):
            set_now(server, ms(day + "+00:00"))
            assert start_recording(http, acc.site_key).status_code == 200
        use(server, acc.account_id, 120)  # and older ones, already deleted by retention
        usage = http.get("/api/v1/usage", headers=auth(acc)).json()
    assert usage["plan"] == "standard" and usage["monthly_limit"] == 10_000
    assert usage["used_this_month"] == 120 and usage["remaining"] == 9_880
    assert usage["stored_recordings"] == 3 and usage["retention_days"] == 10
    assert usage["period_start"] == "2026-11-01T00:00:00.000Z"
    assert usage["period_end"] == "2026-12-01T00:00:00.000Z"
    per_day = {d["day"]: d["recordings"] for d in usage["days"]}
    assert len(per_day) == 15 and per_day["2026-11-03"] == 2 and per_day["2026-11-15"] == 1
    assert per_day["2026-11-04"] == 0


# ---- the dashboard ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("used", "banner"),
    [
        (7_999, None),
        (8_000, "You have used 8,000 of 10,000 recordings this month (80 %)"),
        (10_000, "Recording is paused until 1 December"),
    ],
)
def test_warning_banner_at_80_and_100_percent(server, used, banner):
    acc = make_account(server.services, "Shop", plan="standard", site_url=ORIGIN)
    use(server, acc.account_id, used)
    with server.client() as http:
        login(http, "shop@example.com")
        page = http.get("/recordings").text
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page))
    if banner is None:
        assert 'class="banner' not in page
    else:
        assert banner in text
    if used == 10_000:
        assert "Upgrade to Pro for 40,000 more this month" in text


def test_owner_changes_the_plan_on_the_usage_page(server):
    acc = make_account(server.services, "Shop", plan="standard", site_url=ORIGIN)
    use(server, acc.account_id, 10_000)
    with server.client() as http:
        csrf = login(http, "shop@example.com")
        page = http.get("/usage").text
        assert "10,000</b> of 10,000 recordings used" in page
        assert "40,000 left this month after the change" in page
        r = http.post(
            "/usage", data={"csrf": csrf, "plan": "pro", "time_zone": "UTC"}, follow_redirects=True
        )
        assert r.status_code == 200 and "Saved." in r.text
        assert "40,000</b> left" in r.text and 'class="banner' not in r.text
        bad = http.post("/usage", data={"csrf": csrf, "plan": "pro", "time_zone": "Nowhere"})
        assert bad.status_code == 400 and "is not a time zone" in bad.text
        forged = http.post("/usage", data={"csrf": "x", "plan": "free", "time_zone": "UTC"})
        assert forged.status_code == 403
    plan = server.services.db.one("SELECT plan FROM accounts WHERE id = :a", {"a": acc.account_id})
    assert plan["plan"] == "pro"


# ---- the command line ---------------------------------------------------------------------


def run_cli(*argv: str) -> int:
    with pytest.raises(SystemExit) as caught:
        main(list(argv))
    return int(caught.value.code or 0)


def test_set_plan_from_the_command_line(tmp_path, capsys):
    data = str(tmp_path / "data")
    assert (
        run_cli(
            "accounts",
            "create",
            "--name",
            "Shop",
            "--plan",
            "standard",
            "--email",
            "owner@shop.example",
            "--password",
            "correct horse battery",
            "--json",
            "--data-dir",
            data,
        )
        == 0
    )
    created = json.loads(capsys.readouterr().out)
    assert run_cli("accounts", "set-plan", "owner@shop.example", "pro", "--data-dir", data) == 0
    out = capsys.readouterr().out
    assert "Standard → Pro" in out and "50,000 left" in out
    assert run_cli("accounts", "set-plan", created["account_id"], "gold", "--data-dir", data) == 2
    assert "unknown plan 'gold'" in capsys.readouterr().err
