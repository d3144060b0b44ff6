"""`footage dev seed`: counts, shapes and rough distributions of the seeded data, on both
databases; the account is reused by a second run and its login works."""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

import pytest

from footage.accounts.service import account_for_token
from footage.app import Services
from footage.devtools.command import main
from footage.devtools.seed import (
    DAY_MS,
    LOGIN_FILE,
    Generator,
    SeedReport,
    SeedSite,
    default_biggest,
    seed,
    site_counts,
)

N, SITES = 2_000, 5


@pytest.fixture
def seeded(svc: Services) -> SeedReport:
    return seed(
        svc.db,
        recordings=N,
        sites=SITES,
        seed_value=7,
        data_dir=svc.settings.data_path,
        clock=svc.clock,
        batch_size=700,  # several batches and commits
    )


def share(rows: list[dict[str, Any]], test: Any) -> float:
    return sum(1 for r in rows if test(r)) / len(rows)


def test_site_counts_put_the_most_on_the_first_site() -> None:
    assert default_biggest(1_000_000, 100) == 50_000
    counts = site_counts(1_000_000, 100, 50_000)
    assert sum(counts) == 1_000_000 and counts[0] == 50_000
    assert max(counts[1:]) <= 40_000 and min(counts[1:]) > 0
    assert counts[1:] == sorted(counts[1:], reverse=True)  # Zipf-ish: by rank
    assert site_counts(N, SITES, default_biggest(N, SITES))[0] == max(
        site_counts(N, SITES, default_biggest(N, SITES))
    )
    with pytest.raises(ValueError, match="too small"):
        site_counts(1_000, 3, 100)


def test_the_same_seed_gives_the_same_data_whatever_the_ids() -> None:
    def rows(site_ids: list[str]) -> list[tuple[Any, ...]]:
        sites = [
            SeedSite(sid, f"s{i}", f"https://s{i}.example", i == 0)
            for i, sid in enumerate(site_ids)
        ]
        gen = Generator(random.Random("7:0"), "acc_x", sites, 1_800_000_000_000, seed_value=7)
        batch = next(gen.batches(gen.start_times([60, 30, 10]), 1_000))
        return [(r[0], *r[3:]) for r in batch.recordings]  # all but account and site

    assert rows(["site_a", "site_b", "site_c"]) == rows(["site_x", "site_y", "site_z"])


def test_seeding_2000_recordings_over_5_sites(svc: Services, seeded: SeedReport) -> None:
    db = svc.db
    now = svc.clock.now_ms()
    account_id = seeded.account_id
    assert seeded.rows["recordings"] == N
    recs = db.all("SELECT * FROM recordings WHERE account_id = :a", {"a": account_id})
    assert len(recs) == N and {r["status"] for r in recs} == {"ready"}

    # sites: 5, the first the biggest, as reported
    per_site = Counter(r["site_id"] for r in recs)
    sites = [site for site, _ in seeded.sites]
    assert len(sites) == SITES
    assert [per_site[s.id] for s in sites] == [n for _, n in seeded.sites]
    assert per_site[sites[0].id] == max(per_site.values()) == default_biggest(N, SITES)

    # times: the last 10 days, ended before now; durations and active time
    assert all(now - 10 * DAY_MS <= r["started_at"] < r["ended_at"] <= now for r in recs)
    assert all(r["created_at"] == r["started_at"] for r in recs)
    assert all(0 < r["active_ms"] <= r["duration_ms"] for r in recs)
    durations = sorted(r["duration_ms"] for r in recs)
    assert 60_000 < durations[N // 2] < 240_000  # median ~2 min

    # pages: 1–15, one recording_pages row and one 'page' moment each, entry/exit match
    pages = db.all(
        "SELECT p.* FROM recording_pages p JOIN recordings r ON r.id = p.recording_id "
        "WHERE r.account_id = :a ORDER BY p.started_at",
        {"a": account_id},
    )
    by_rec: dict[str, list[dict[str, Any]]] = {}
    for p in pages:
        by_rec.setdefault(p["recording_id"], []).append(p)
    for r in recs:
        mine = by_rec[r["id"]]
        assert 1 <= r["page_count"] == len(mine) <= 15
        assert r["entry_url"] == mine[0]["url"] and r["exit_url"] == mine[-1]["url"]
        assert all(p["site_id"] == r["site_id"] for p in mine)
    assert 2.0 < len(pages) / N < 3.5
    sites = [site for site, _ in seeded.sites]
    first_site = [p for p in pages if p["site_id"] == sites[0].id]
    paths = {p["url"].split("/", 3)[3].split("?")[0] for p in first_site}  # ~200 per site
    assert 100 < len(paths) < 260 and any(x.startswith("product/") for x in paths)
    assert "checkout/confirmation" in paths
    assert any("?" in p["url"] for p in first_site)

    # devices 60/35/5, with consistent OS and screen
    assert 0.5 < share(recs, lambda r: r["device"] == "desktop") < 0.7
    assert 0.25 < share(recs, lambda r: r["device"] == "mobile") < 0.45
    assert 0.01 < share(recs, lambda r: r["device"] == "tablet") < 0.1
    for r in recs:
        if r["device"] == "desktop":
            assert r["os"] in ("Windows", "Mac OS X", "Linux") and r["screen_width"] >= 1024
        else:
            assert r["os"] in ("iOS", "Android")
        if r["device"] == "mobile":
            assert r["screen_width"] < 768
    assert {"Chrome", "Safari", "Firefox", "Edge", "Samsung Internet"} <= {
        r["browser"] for r in recs
    }
    assert 25 <= len({r["country"] for r in recs}) <= 41

    # referrers, campaigns, flags
    assert 0.25 < share(recs, lambda r: r["referrer"] == "") < 0.45
    assert 0.3 < share(recs, lambda r: "google" in r["referrer"]) < 0.5
    assert 0.12 < share(recs, lambda r: r["utm_source"] is not None) < 0.28
    assert all(f"utm_source={r['utm_source']}" in r["entry_url"] for r in recs if r["utm_source"])
    assert 0.01 < share(recs, lambda r: r["rage_click_count"] > 0) < 0.06
    assert 0.025 < share(recs, lambda r: r["error_count"] > 0) < 0.08
    assert 0.005 < share(recs, lambda r: r["conversation_id"] is not None) < 0.04

    # moments: a page entry per page; rage clicks and errors where counted; events on ~25 %
    moments = db.all(
        "SELECT m.* FROM recording_moments m JOIN recordings r ON r.id = m.recording_id "
        "WHERE r.account_id = :a",
        {"a": account_id},
    )
    kinds = Counter(m["kind"] for m in moments)
    assert kinds["page"] == len(pages)
    assert kinds["rage_click"] == sum(r["rage_click_count"] for r in recs)
    assert kinds["error"] == sum(r["error_count"] for r in recs)
    with_events = {m["recording_id"] for m in moments if m["kind"] == "event"}
    assert 0.18 < len(with_events) / N < 0.32
    events = [m for m in moments if m["kind"] == "event"]
    assert 6 <= len({m["name"] for m in events}) <= 10
    carts = [json.loads(m["detail"]) for m in events if m["name"] == "added_to_cart"]
    assert carts and all(c["sku"].startswith("SKU-") for c in carts)
    signups = [json.loads(m["detail"]) for m in events if m["name"] == "signup"]
    assert all("plan" in s for s in signups)
    by_id = {r["id"]: r for r in recs}
    assert all(
        by_id[m["recording_id"]]["started_at"] <= m["at"] <= by_id[m["recording_id"]]["ended_at"]
        for m in moments
    )

    # visitors: ~60 % of recordings by a returning one, ~15 % identified, IPs where kept
    assert 0.5 < share(recs, lambda r: r["returning_visitor"] == 1) < 0.7
    visitors = db.all(
        "SELECT v.* FROM visitors v JOIN sites s ON s.id = v.site_id WHERE s.account_id = :a",
        {"a": account_id},
    )
    assert {(v["site_id"], v["id"]) for v in visitors} == {
        (r["site_id"], r["visitor_id"]) for r in recs
    }
    identified = [v for v in visitors if v["email"]]
    assert 0.08 < len(identified) / len(visitors) < 0.22
    assert all(v["name"] and v["external_id"] and json.loads(v["variables"]) for v in identified)
    first_of: dict[tuple[str, str], int] = {}
    for r in sorted(recs, key=lambda r: r["started_at"]):
        key = (r["site_id"], r["visitor_id"])
        assert r["returning_visitor"] == (1 if key in first_of else 0)
        first_of.setdefault(key, r["started_at"])
    keeps_ips = {s.id for s in sites if s.record_ips}
    assert sites[0].id in keeps_ips
    assert all((r["ip"] is not None) == (r["site_id"] in keeps_ips) for r in recs)
    assert 0.15 < share(recs, lambda r: r["ip"] is not None) < 0.5

    # no chunks: nothing to play
    assert db.one("SELECT COUNT(*) AS n FROM chunks")["n"] == 0  # type: ignore[index]


def test_a_second_run_reuses_the_account_sites_and_login(svc: Services, seeded: SeedReport) -> None:
    login_path = svc.settings.data_path / LOGIN_FILE
    saved = json.loads(login_path.read_text())
    assert saved["api_token"] == seeded.login["api_token"]
    account = account_for_token(svc.db, saved["api_token"])
    assert account is not None and account["name"] == "Seeded" and account["plan"] == "pro"

    again = seed(
        svc.db,
        recordings=100,
        sites=SITES,
        data_dir=svc.settings.data_path,
        clock=svc.clock,
    )
    assert again.account_id == seeded.account_id
    assert [s.id for s, _ in again.sites] == [s.id for s, _ in seeded.sites]
    assert again.login["api_token"] == saved["api_token"]
    assert svc.db.one("SELECT COUNT(*) AS n FROM accounts WHERE name = 'Seeded'") == {"n": 1}
    total = svc.db.one(
        "SELECT COUNT(*) AS n FROM recordings WHERE account_id = :a", {"a": seeded.account_id}
    )
    assert total == {"n": N + 100}

    # Without the saved login (another data dir), a new token is issued and works.
    login_path.unlink()
    third = seed(svc.db, recordings=0, sites=SITES, data_dir=svc.settings.data_path)
    assert third.login["api_token"] != saved["api_token"]
    assert account_for_token(svc.db, third.login["api_token"]) is not None


def test_the_command_prints_one_json_object(
    svc: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = ["--data-dir", str(svc.settings.data_path)]
    if not svc.db.is_sqlite:
        flags += ["--database-url", svc.db.url]
    with pytest.raises(SystemExit) as exited:
        main(["seed", "--recordings", "300", "--sites", "3", "--json", *flags])
    assert exited.value.code == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["rows"]["recordings"] == 300
    assert [s["added"] for s in out["sites"]][0] == default_biggest(300, 3)
    assert out["login"]["email"] == "seeded@example.com"
