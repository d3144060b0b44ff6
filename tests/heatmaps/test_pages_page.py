"""The Pages report page (/pages) on a real server: login, sorting, device, links to the
heatmap and to the recordings of each signal, bad dates, another account's site."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from footage.heatmaps.store import DAY_MS
from footage.recordings import filters
from tests.conftest import login, make_account

COUNTED = (
    "views",
    "exits",
    "clicks",
    "rage_clicks",
    "dead_clicks",
    "error_clicks",
    "quick_backs",
    "excessive_scrolls",
)
# page → (device, days ago, counts in COUNTED order)
STATS: list[tuple[str, str, int, tuple[int, ...]]] = [
    ("alice.example", "desktop", 0, (30, 6, 50, 2, 0, 0, 0, 0)),
    ("alice.example", "desktop", 3, (10, 4, 20, 0, 0, 0, 0, 0)),
    ("alice.example/checkout", "desktop", 1, (12, 9, 30, 0, 5, 1, 0, 0)),
    ("alice.example/help", "mobile", 2, (3, 3, 4, 0, 0, 0, 2, 1)),
    ("alice.example/old", "desktop", 20, (99, 1, 0, 0, 0, 0, 0, 0)),
]


@pytest.fixture
def shop(live: Any) -> dict[str, Any]:
    alice = make_account(live.services, "Alice", site_url="https://alice.example")
    bob = make_account(live.services, "Bob", site_url="https://bob.example")
    today = live.services.clock.now_ms() // DAY_MS
    for page, device, ago, counts in STATS:
        live.services.db.run(
            f"INSERT INTO page_stats (site_id, page_key, device, day, {', '.join(COUNTED)}) "
            f"VALUES (:s, :p, :d, :day, {', '.join(':' + c for c in COUNTED)})",
            {
                "s": alice.site_id,
                "p": page,
                "d": device,
                "day": today - ago,
                **dict(zip(COUNTED, counts, strict=True)),
            },
        )
    return {"alice": alice, "bob": bob, "today": today}


def listed(text: str) -> list[str]:
    return re.findall(r'<tr data-page="([^"]+)"', text)


def hrefs(text: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(r'href="([^"]+)"', text)]


def words(text: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", text)))


def test_the_report_needs_a_login(live, shop):
    with live.client() as http:
        r = http.get("/pages?sort=views")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/pages%3Fsort%3Dviews"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # rage clicks first, then the most viewed
        ("", ["alice.example", "alice.example/checkout", "alice.example/help"]),
        ("sort=dead_clicks", ["alice.example/checkout", "alice.example", "alice.example/help"]),
        ("sort=error_clicks", ["alice.example/checkout", "alice.example", "alice.example/help"]),
        ("sort=quick_backs", ["alice.example/help", "alice.example", "alice.example/checkout"]),
        (
            "sort=excessive_scrolls",
            ["alice.example/help", "alice.example", "alice.example/checkout"],
        ),
        # 9 of 12 left from checkout, 10 of 40 from the home page; help has too few views
        ("sort=exit_rate", ["alice.example/checkout", "alice.example"]),
        ("sort=views", ["alice.example", "alice.example/checkout", "alice.example/help"]),
        ("sort=views&device=mobile", ["alice.example/help"]),
        # a period that reaches back to the old page
        (
            "sort=views&from={d25}",
            ["alice.example/old", "alice.example", "alice.example/checkout", "alice.example/help"],
        ),
        ("sort=nonsense", ["alice.example", "alice.example/checkout", "alice.example/help"]),
    ],
)
def test_sorts_devices_and_periods(live, shop, query, expected):
    from footage.heatmaps.queries import _iso_day

    with live.client() as http:
        login(http, "alice@example.com")
        r = http.get("/pages?" + query.format(d25=_iso_day(shop["today"] - 25)))
    assert r.status_code == 200
    assert listed(r.text) == expected


def test_counts_exit_rate_and_links(live, shop):
    from footage.heatmaps.queries import _iso_day

    site = shop["alice"].site_id
    first, last = _iso_day(shop["today"] - 9), _iso_day(shop["today"])
    with live.client() as http:
        login(http, "alice@example.com")
        r = http.get("/pages?sort=dead_clicks")
        text, links = r.text, hrefs(r.text)
        row = re.search(r'<tr data-page="alice.example/checkout">(.*?)</tr>', text, re.S)
        assert row is not None
        cells = words(row.group(1)).split()
        # page, views, exit rate, clicks, rage, dead, error clicks, quick backs, scrolling
        assert cells[:10] == [
            "alice.example/checkout",
            "12",
            "75",
            "%",
            "30",
            "0",
            "5",
            "1",
            "0",
            "0",
        ]
        heatmap = f"/heatmaps?url=alice.example%2Fcheckout&site_id={site}&from={first}&to={last}"
        assert heatmap in links
        dead = (
            f"/recordings?url=alice.example%2Fcheckout&url_match=contains&site_id={site}"
            f"&from={first}&to={last}&has_dead_clicks=true"
        )
        assert dead in links
        assert dead.replace("has_dead_clicks", "has_error_clicks") in links
        # zero counts link nowhere
        assert not any("checkout" in h and "has_rage_clicks" in h for h in links)
        assert any("alice.example&" in h and "has_rage_clicks=true" in h for h in links)
        # the tabs keep the period
        assert f"/pages?site_id={site}&from={first}&to={last}&sort=exit_rate" in links
        # every link to the list is a valid filter, and the list shows what it filters on
        query = dead.split("?", 1)[1]
        filters.parse(dict(p.split("=", 1) for p in query.split("&")))
        listed_page = http.get(dead)
        assert listed_page.status_code == 200 and "Dead clicks: yes" in words(listed_page.text)
        assert 'aria-current="page">Most dead-clicked' in text
        assert "clicks the page did not answer within a second" in text

        mobile = http.get("/pages?device=mobile&sort=quick_backs")
        assert any("device=mobile" in h and "has_quick_backs=true" in h for h in hrefs(mobile.text))


def test_bad_dates_say_what_to_fix(live, shop):
    with live.client() as http:
        login(http, "alice@example.com")
        bad = http.get("/pages?from=yesterday")
        backwards = http.get("/pages?from=2026-11-20&to=2026-11-01")
        too_long = http.get("/pages?from=2020-01-01&to=2026-01-01")
    assert bad.status_code == 400
    assert "'from' must be a date like 2026-11-20, not 'yesterday'" in words(bad.text)
    assert 'value="yesterday"' in bad.text  # kept in the form to correct
    assert backwards.status_code == 400 and "'from' must not be after 'to'" in words(backwards.text)
    assert too_long.status_code == 400 and "at most 366 days" in too_long.text


def test_another_accounts_site_is_not_found(live, shop):
    with live.client() as http:
        login(http, "bob@example.com")
        theirs = http.get(f"/pages?site_id={shop['alice'].site_id}")
        own = http.get("/pages")
    assert theirs.status_code == 404 and "Site not found" in theirs.text
    assert "alice.example" not in theirs.text
    # Bob's own site has nothing recorded yet: the empty state says so in plain words.
    assert own.status_code == 200 and listed(own.text) == []
    assert "No page views in this period" in own.text
    assert "Pages appear here a minute or so after a visitor leaves your site" in words(own.text)


def test_exit_rate_without_enough_views_says_why(live, shop):
    with live.client() as http:
        login(http, "alice@example.com")
        r = http.get("/pages?device=mobile&sort=exit_rate")
    assert r.status_code == 200 and listed(r.text) == []
    assert "No page has 10 views yet" in r.text
    assert "sort=views" in r.text
