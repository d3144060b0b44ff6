"""Every filter of the recordings list, alone and combined, on known data (both databases);
sorting and cursor pagination; the empty state's hint."""

from __future__ import annotations

import concurrent.futures
import json
from typing import Any

import pytest

from footage.app import Services
from footage.errors import BadRequest
from footage.recordings import filters
from footage.recordings.search import count, empty_hint, neighbours, search
from footage.store.ipkey import ip_key
from tests.conftest import START_MS, make_account

H = 3_600_000
BASE = {
    "status": "ready",
    "duration_ms": 60_000,
    "active_ms": 20_000,
    "page_count": 1,
    "click_count": 2,
    "rage_click_count": 0,
    "error_count": 0,
    "dead_click_count": 0,
    "error_click_count": 0,
    "quick_back_count": 0,
    "excessive_scroll_count": 0,
    "device": "desktop",
    "browser": "Chrome",
    "os": "Windows",
    "country": "DE",
    "screen_width": 1920,
    "referrer": None,
    "utm_source": None,
    "utm_medium": None,
    "utm_campaign": None,
    "conversation_id": None,
    "ip": None,
    "returning_visitor": 0,
}
# id → what differs from BASE; pages (url list), moments and visitor identity separately.
RECORDINGS: dict[str, dict[str, Any]] = {
    "r01": {"pages": ["https://s.example/", "https://s.example/checkout"], "page_count": 2},
    "r02": {
        "dead_click_count": 2,
        "device": "mobile",
        "browser": "Safari",
        "os": "iOS",
        "screen_width": 390,
        "pages": ["https://s.example/product/socks"],
    },
    "r03": {
        "duration_ms": 600_000,
        "active_ms": 300_000,
        "rage_click_count": 2,
        "click_count": 14,
        "pages": ["https://s.example/product/shoes"],
    },
    "r04": {
        "error_count": 3,
        "error_click_count": 1,
        "country": "AT",
        "pages": ["https://s.example/account/orders"],
    },
    "r05": {
        "excessive_scroll_count": 1,
        "referrer": "https://www.google.com/",
        "utm_source": "newsletter",
        "utm_medium": "email",
        "utm_campaign": "bf-2026",
        "pages": ["https://s.example/?utm_source=newsletter"],
    },
    "r06": {
        "conversation_id": "conv_1",
        "visitor": "v-jane",
        "returning_visitor": 1,
        "pages": ["https://s.example/help"],
    },
    "r07": {
        "visitor": "v-jane",
        "ip": "203.0.113.9",
        "pages": ["https://s.example/checkout/pay"],
        "events": [("added_to_cart", {"sku": "X1", "qty": 2})],
    },
    "r08": {
        "quick_back_count": 1,
        "device": "tablet",
        "os": "Android",
        "browser": "Chrome",
        "screen_width": 800,
        "ip": "198.51.100.4",
        "events": [("added_to_cart", {"sku": "Y2"})],
        "pages": [
            "https://s.example/product/socks",
            "https://s.example/cart",
            "https://s.example/checkout",
        ],
        "page_count": 3,
    },
    "r09": {
        "duration_ms": 5_000,
        "active_ms": 1_000,
        "click_count": 0,
        "pages": ["https://s.example/"],
        "events": [("signup", {"plan": "gold"})],
    },
    "r10": {"site": "second", "pages": ["https://other.example/"]},
}
SIGNAL_MOMENTS = {
    "dead_click_count": "dead_click",
    "error_click_count": "error_click",
    "quick_back_count": "quick_back",
    "excessive_scroll_count": "excessive_scroll",
}
VISITORS = {
    "v-jane": {"name": "Jane Quokka", "email": "jane.quokka@example.org", "external_id": "cust-42"},
}


def insert(svc: Services, account_id: str, sites: dict[str, str]) -> None:
    with svc.db.write() as conn:
        from footage.store.db import q

        for vid, who in VISITORS.items():
            for site_id in sites.values():
                q(
                    conn,
                    "INSERT INTO visitors (site_id, id, name, email, external_id, "
                    "first_seen_at, last_seen_at) VALUES (:s, :v, :n, :e, :x, 0, 0)",
                    s=site_id,
                    v=vid,
                    n=who["name"],
                    e=who["email"],
                    x=who["external_id"],
                )
        for i, (rid, spec) in enumerate(sorted(RECORDINGS.items())):
            row = {
                **BASE,
                **{
                    k: v for k, v in spec.items() if k not in ("pages", "events", "visitor", "site")
                },
            }
            started = START_MS - (10 - i) * H  # r01 oldest … r10 newest
            site_id = sites[spec.get("site", "main")]
            pages = spec.get("pages", ["https://s.example/"])
            q(
                conn,
                "INSERT INTO recordings (id, account_id, site_id, visitor_id, session_id, "
                "status, created_at, last_seen_at, started_at, ended_at, duration_ms, active_ms, "
                "page_count, click_count, rage_click_count, error_count, dead_click_count, "
                "error_click_count, quick_back_count, excessive_scroll_count, device, browser, os, "
                "country, screen_width, referrer, utm_source, utm_medium, utm_campaign, "
                "conversation_id, ip, ip_key, returning_visitor, entry_url, exit_url) VALUES (:id, "
                ":a, :site, :visitor, :id, :status, :t, :t, :t, :t, :duration_ms, :active_ms, "
                ":page_count, :click_count, :rage_click_count, :error_count, :dead_click_count, "
                ":error_click_count, :quick_back_count, :excessive_scroll_count, :device, "
                ":browser, :os, :country, :screen_width, :referrer, :utm_source, :utm_medium, "
                ":utm_campaign, :conversation_id, :ip, :ip_key, :returning_visitor, :entry, "
                ":exit)",
                id=rid,
                a=account_id,
                site=site_id,
                visitor=spec.get("visitor", f"v-{rid}"),
                t=started,
                entry=pages[0],
                exit=pages[-1],
                ip_key=ip_key(row["ip"]),  # as ingest stores it
                **row,
            )
            for n, url in enumerate(pages):
                q(
                    conn,
                    "INSERT INTO recording_pages (site_id, page_id, recording_id, url, "
                    "first_seen_at, last_seen_at, started_at) VALUES (:s, :p, :r, :u, :t, :t, :t)",
                    s=site_id,
                    p=f"{rid}-p{n}",
                    r=rid,
                    u=url,
                    t=started + n * 1000,
                )
                q(
                    conn,
                    "INSERT INTO recording_moments (recording_id, site_id, kind, at, name) "
                    "VALUES (:r, :s, 'page', :t, :u)",
                    r=rid,
                    s=site_id,
                    t=started + n * 1000,
                    u=url,
                )
            for name, props in spec.get("events", []):
                q(
                    conn,
                    "INSERT INTO recording_moments (recording_id, site_id, kind, at, name, detail) "
                    "VALUES (:r, :s, 'event', :t, :n, :d)",
                    r=rid,
                    s=site_id,
                    t=started + 500,
                    n=name,
                    d=json.dumps(props),
                )
            if row["rage_click_count"]:
                q(
                    conn,
                    "INSERT INTO recording_moments (recording_id, site_id, kind, at) "
                    "VALUES (:r, :s, 'rage_click', :t)",
                    r=rid,
                    s=site_id,
                    t=started + 2000,
                )
            # The other signals' moments, as the finalizer writes them (heatmaps/analysis.py).
            for column, kind in SIGNAL_MOMENTS.items():
                for n in range(row[column]):
                    q(
                        conn,
                        "INSERT INTO recording_moments (recording_id, site_id, kind, at, name, "
                        "detail) VALUES (:r, :s, :k, :t, :n, :d)",
                        r=rid,
                        s=site_id,
                        k=kind,
                        t=started + 3000 + n * 1000,
                        n="Add to cart" if kind.endswith("_click") else pages[0],
                        d=json.dumps({"selector": "main > h1", "url": pages[0]})
                        if kind.endswith("_click")
                        else None,
                    )


@pytest.fixture
def world(svc: Services) -> dict[str, Any]:
    acc = make_account(svc, "Shop", site_url="https://s.example")
    second = "site_second"
    svc.db.run(
        "INSERT INTO sites (id, account_id, name, url, site_key, allowed_origins, "
        "recording_enabled, is_demo, created_at) VALUES (:id, :a, 'Other', "
        "'https://other.example', 's_second', '', 1, 0, 0)",
        {"id": second, "a": acc.account_id},
    )
    insert(svc, acc.account_id, {"main": acc.site_id, "second": second})
    other = make_account(svc, "Other")  # sees none of these
    return {
        "account": acc.account_id,
        "site": acc.site_id,
        "second": second,
        "other": other.account_id,
    }


def ids(svc: Services, world: dict[str, Any], **params: str) -> list[str]:
    page = search(svc.db, world["account"], filters.parse(params), limit=200)
    return sorted(item["id"] for item in page["items"])


ALL = sorted(RECORDINGS)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ALL),
        ({"from": "2026-11-18T06:00:00Z"}, ["r06", "r07", "r08", "r09", "r10"]),
        ({"to": "2026-11-18T04:00:00Z"}, ["r01", "r02", "r03"]),
        ({"min_duration_ms": "100000"}, ["r03"]),
        ({"max_duration_ms": "10000"}, ["r09"]),
        ({"min_active_ms": "100000"}, ["r03"]),
        # The dashboard's fields, as people write durations (a number alone is seconds).
        ({"min_duration": "100s"}, ["r03"]),
        ({"min_duration": "1m40s"}, ["r03"]),
        ({"max_duration": "10"}, ["r09"]),
        ({"min_active": "1.5 min"}, ["r03"]),
        ({"url": "checkout"}, ["r01", "r07", "r08"]),
        ({"url": "CHECKOUT"}, ["r01", "r07", "r08"]),
        ({"url": "https://s.example/checkout", "url_match": "equals"}, ["r01", "r08"]),
        ({"url": r"/product/(socks|shoes)$", "url_match": "regex"}, ["r02", "r03", "r08"]),
        ({"url": "100%_sure"}, []),
        ({"entry_url": "product"}, ["r02", "r03", "r08"]),
        ({"exit_url": "checkout"}, ["r01", "r07", "r08"]),
        ({"min_pages": "2"}, ["r01", "r08"]),
        ({"max_pages": "1"}, sorted(set(ALL) - {"r01", "r08"})),
        ({"device": "mobile"}, ["r02"]),
        ({"browser": "Safari"}, ["r02"]),
        ({"os": "Android"}, ["r08"]),
        ({"screen": "small"}, ["r02"]),
        ({"screen": "medium"}, ["r08"]),
        ({"country": "AT"}, ["r04"]),
        ({"country": "at, de"}, ALL),
        ({"referrer": "google"}, ["r05"]),
        ({"utm_source": "newsletter"}, ["r05"]),
        ({"utm_medium": "email", "utm_campaign": "bf-2026"}, ["r05"]),
        ({"min_clicks": "10"}, ["r03"]),
        ({"has_rage_clicks": "true"}, ["r03"]),
        ({"has_rage_clicks": "false"}, sorted(set(ALL) - {"r03"})),
        ({"has_errors": "true"}, ["r04"]),
        ({"has_dead_clicks": "true"}, ["r02"]),
        ({"has_dead_clicks": "false"}, sorted(set(ALL) - {"r02"})),
        ({"has_error_clicks": "true"}, ["r04"]),
        ({"has_quick_backs": "yes"}, ["r08"]),
        ({"has_excessive_scrolling": "1"}, ["r05"]),
        (
            {"has_excessive_scrolling": "false", "has_quick_backs": "false"},
            sorted(set(ALL) - {"r05", "r08"}),
        ),
        ({"has_dead_clicks": "true", "device": "mobile"}, ["r02"]),
        ({"has_conversation": "true"}, ["r06"]),
        ({"visitor_id": "v-jane"}, ["r06", "r07"]),
        ({"visitor_id": "cust-42"}, ["r06", "r07"]),
        ({"visitor_name": "quokka"}, ["r06", "r07"]),
        ({"visitor_email": "JANE.QUOKKA@"}, ["r06", "r07"]),
        ({"visitor_ip": "203.0.113.9"}, ["r07"]),
        ({"visitor_ip": "198.51.100.0/24"}, ["r08"]),
        ({"visitor_ip": "::ffff:203.0.113.9"}, ["r07"]),  # the same visitor, IPv6-mapped
        ({"visitor_ip": "203.0.0.0/8"}, ["r07"]),
        ({"visitor_ip": "198.51.100.4/32"}, ["r08"]),
        ({"visitor_ip": "2001:db8::/32"}, []),
        ({"visitor_type": "returning"}, ["r06"]),
        ({"visitor_type": "new"}, sorted(set(ALL) - {"r06"})),
        ({"event": "added_to_cart"}, ["r07", "r08"]),
        ({"event": "added_to_cart", "event_property": "sku", "event_value": "X1"}, ["r07"]),
        ({"event": "added_to_cart", "event_property": "qty", "event_value": "2"}, ["r07"]),
        ({"event": "signup", "event_property": "plan", "event_value": "silver"}, []),
        ({"site_id": "site_second"}, ["r10"]),
        # combined
        ({"url": "checkout", "device": "tablet", "event": "added_to_cart"}, ["r08"]),
        ({"visitor_name": "jane", "has_conversation": "false"}, ["r07"]),
        (
            {"country": "DE", "min_clicks": "1", "max_pages": "1", "from": "2026-11-18T06:00:00Z"},
            ["r06", "r07", "r10"],
        ),
    ],
)
def test_each_filter_alone_and_combined(svc, world, params, expected):
    assert ids(svc, world, **params) == expected


def test_another_account_sees_nothing(svc, world):
    assert search(svc.db, world["other"], {}, limit=200)["items"] == []


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"min_clicks": "many"}, "'min_clicks' must be a whole number"),
        ({"device": "fridge"}, "'device' must be one of: desktop, mobile, tablet, bot"),
        ({"from": "yesterday"}, "ISO 8601"),
        ({"url": "(", "url_match": "regex"}, "not a valid regular expression"),
        ({"visitor_ip": "my office"}, "a range like 203.0.113.0/24"),
        ({"event_property": "sku", "event_value": "X1"}, "need 'event'"),
        ({"event": "x", "event_property": "sku"}, "together"),
        ({"colour": "red"}, "unknown parameter 'colour'"),
        ({"min_duration": "20 parsecs"}, "'min_duration' must be a duration such as 20s"),
        ({"max_active": "-5s"}, "a duration such as 20s, 2m or 1h30m"),
        ({"min_duration": "999999h"}, "at most 24 days"),
    ],
)
def test_bad_filters_say_what_to_fix(params, words):
    with pytest.raises(BadRequest) as caught:
        filters.parse(params)
    assert words in caught.value.message


def test_the_dashboard_form_keeps_the_other_filters_when_one_is_wrong():
    errors: dict[str, str] = {}
    values = filters.parse(
        {"min_duration": "soon", "device": "mobile", "max_duration": "2m"},
        strict=False,
        errors=errors,
    )
    assert values == {"device": "mobile", "max_duration_ms": 120_000}
    assert list(errors) == ["min_duration"] and "20s, 2m or 1h30m" in errors["min_duration"]
    assert filters.describe(values, "max_duration_ms") == "Longest: 2m"
    assert [filters.human_duration(ms) for ms in (20_000, 5_400_000, 90_000, 250)] == [
        "20s",
        "1h30m",
        "1m30s",
        "250ms",
    ]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("newest", ["r10", "r09", "r08"]),
        ("oldest", ["r01", "r02", "r03"]),
        ("longest", ["r03"]),  # then the 60 s ones, by id
        ("most_active", ["r03"]),
    ],
)
def test_sort_orders(svc, world, sort, expected):
    items = search(svc.db, world["account"], {}, sort=sort, limit=200)["items"]
    assert [i["id"] for i in items][: len(expected)] == expected


@pytest.mark.parametrize("sort", list(filters.SORTS))
def test_cursor_pages_never_repeat_or_skip_even_while_recordings_arrive(svc, world, sort):
    seen: list[str] = []
    cursor = None
    extra = 0
    while True:
        page = search(svc.db, world["account"], {}, sort=sort, limit=3, cursor=cursor)
        seen += [i["id"] for i in page["items"]]
        # A new recording becomes ready between two pages (the newest of all, or the
        # shortest, or the least active: it sorts before the cursor in every order but
        # oldest, where it sorts last — and must then show up exactly once).
        extra += 1
        svc.db.run(
            "INSERT INTO recordings (id, account_id, site_id, visitor_id, session_id, status, "
            "created_at, last_seen_at, started_at, duration_ms, active_ms, page_count) "
            "VALUES (:id, :a, :s, 'v', :id, 'ready', :t, :t, :t, 1, 0, 1)",
            {
                "id": f"new{extra:02d}",
                "a": world["account"],
                "s": world["site"],
                "t": START_MS + extra,
            },
        )
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen))
    assert set(RECORDINGS) <= set(seen)


@pytest.mark.parametrize("sort", list(filters.SORTS))
@pytest.mark.parametrize("params", [{}, {"device": "desktop"}, {"min_duration_ms": "30000"}])
def test_next_and_previous_are_the_lists_neighbours_in_every_sort(svc, world, sort, params):
    values = filters.parse(params)
    listed = [
        i["id"] for i in search(svc.db, world["account"], values, sort=sort, limit=200)["items"]
    ]
    assert len(listed) >= 2
    for i, rid in enumerate(listed):
        near = neighbours(svc.db, world["account"], values, sort, rid)
        assert near == {
            "previous": listed[i - 1] if i else None,
            "next": listed[i + 1] if i + 1 < len(listed) else None,
        }, (i, rid)
    # Another account's recording has none in this account's list, and a sort that does not
    # exist none at all.
    assert neighbours(svc.db, world["other"], values, sort, listed[0]) == {
        "previous": None,
        "next": None,
    }
    assert neighbours(svc.db, world["account"], values, "loudest", listed[0])["next"] is None


def test_a_cursor_of_another_sort_is_refused(svc, world):
    page = search(svc.db, world["account"], {}, sort="newest", limit=2)
    with pytest.raises(BadRequest, match="same sort"):
        search(svc.db, world["account"], {}, sort="oldest", cursor=page["next_cursor"])


def test_empty_state_names_the_filter_that_removed_the_most(svc, world):
    values = filters.parse({"device": "mobile", "country": "AT"})
    assert count(svc.db, world["account"], values) == 0
    hint = empty_hint(svc.db, world["account"], values)
    assert hint["total"] == len(RECORDINGS)
    # Without the device filter: r04 (AT); without the country filter: r02 (mobile).
    assert {w["filter"]: w["matches"] for w in hint["without"]} == {"device": 1, "country": 1}
    values = filters.parse({"device": "mobile", "url": "checkout"})
    hint = empty_hint(svc.db, world["account"], values)
    assert hint["culprit"]["filter"] == "device" and hint["culprit"]["matches"] == 3
    assert hint["culprit"]["label"] == "Device: mobile"


def test_concurrent_searches_agree(svc, world):
    def run(_: int) -> list[str]:
        return ids(svc, world, url="checkout")

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(run, range(16)))
    assert all(r == ["r01", "r07", "r08"] for r in results)


def test_every_filter_is_documented():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    assert [f.name for f in filters.FILTERS if f"| `{f.name}` |" not in text] == []


@pytest.mark.parametrize(
    ("flag", "rid", "labels"),
    [
        ("has_dead_clicks", "r02", ["Dead click: Add to cart", "Dead click: Add to cart"]),
        ("has_error_clicks", "r04", ["Error click: Add to cart"]),
        ("has_quick_backs", "r08", ["Quick back: https://s.example/product/socks"]),
        (
            "has_excessive_scrolling",
            "r05",
            ["Excessive scrolling: https://s.example/?utm_source=newsletter"],
        ),
    ],
)
def test_signal_filters_find_their_moments(svc, world, flag, rid, labels):
    from footage.recordings.matches import matching_moments

    rec = {"id": rid}
    started = svc.db.one("SELECT started_at FROM recordings WHERE id = :r", {"r": rid})
    found = matching_moments(svc.db, rec, started["started_at"], filters.parse({flag: "true"}))
    assert [m["label"] for m in found] == labels
    assert found[0]["offset_ms"] == 3000
    # "without" finds no moments to open at
    assert (
        matching_moments(svc.db, rec, started["started_at"], filters.parse({flag: "false"})) == []
    )


def test_signal_filters_are_described_and_in_the_api_schema(svc, world):
    values = filters.parse({"has_dead_clicks": "true", "has_quick_backs": "false"})
    assert filters.describe(values, "has_dead_clicks") == "Dead clicks: yes"
    assert filters.describe(values, "has_quick_backs") == "Quick backs: no"
    names = {p["name"]: p["schema"] for p in filters.openapi_parameters()}
    for flag in (
        "has_dead_clicks",
        "has_error_clicks",
        "has_quick_backs",
        "has_excessive_scrolling",
    ):
        assert names[flag] == {"type": "boolean"}
    values = filters.parse({"has_dead_clicks": "true", "device": "desktop"})
    hint = empty_hint(svc.db, world["account"], values)
    assert hint["culprit"]["label"] == "Dead clicks: yes"
    item = search(svc.db, world["account"], filters.parse({"has_dead_clicks": "true"}))["items"][0]
    assert item["dead_click_count"] == 2 and item["quick_back_count"] == 0
