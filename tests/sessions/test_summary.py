"""Pure summary functions: counters from rrweb events, device from the User-Agent."""

import pytest

from footage.sessions.geo import CountryLookup
from footage.sessions.summary import (
    MAX_NAME_BYTES,
    RETURNING_AFTER_MS,
    Moment,
    active_time,
    external_referrer,
    is_returning,
    page_moments,
    rage_click_times,
    rage_clicks,
    summarize,
    utm_params,
)
from footage.sessions.useragent import parse_agent
from tests.conftest import click, js_error, meta, move


def test_rage_click_needs_three_clicks_within_one_second_and_30_px():
    assert rage_clicks([(0, 0, 0), (400, 10, 0), (900, 0, 20)]) == 1
    assert rage_clicks([(0, 0, 0), (400, 10, 0), (1100, 0, 20)]) == 0  # too slow
    assert rage_clicks([(0, 0, 0), (400, 10, 0), (900, 0, 31)]) == 0  # too far apart
    burst = [(i * 100, 5, 5) for i in range(7)]
    assert rage_clicks(burst) == 1  # one burst of seven is one rage click
    assert rage_clicks(burst + [(5000 + i * 100, 5, 5) for i in range(3)]) == 2


def test_active_time_counts_gaps_of_at_most_five_seconds():
    assert active_time([0, 1000, 6000, 20_000, 21_000]) == 1000 + 5000 + 1000
    assert active_time([]) == 0 and active_time([5]) == 0


def test_summary_counts_clicks_errors_and_duration():
    s = summarize([meta(0), move(10), click(20), js_error(30), js_error(40), click(9000)])
    assert (s.duration_ms, s.click_count, s.error_count, s.event_count) == (9000, 2, 2, 6)
    assert summarize([]).click_count == 0


def test_only_click_like_mouse_interactions_are_clicks():
    mouse_down = {"type": 3, "data": {"source": 2, "type": 1, "x": 0, "y": 0}, "timestamp": 1}
    dbl = {"type": 3, "data": {"source": 2, "type": 4, "x": 0, "y": 0}, "timestamp": 2}
    touch_end = {"type": 3, "data": {"source": 2, "type": 9, "x": 0, "y": 0}, "timestamp": 3}
    assert summarize([mouse_down, dbl, touch_end]).click_count == 2


def test_utm_and_referrer():
    assert utm_params("https://s.example/?utm_source=a&utm_medium=b&x=1") == {
        "utm_source": "a",
        "utm_medium": "b",
        "utm_campaign": None,
        "utm_term": None,
        "utm_content": None,
    }
    assert external_referrer("https://s.example/other", "https://s.example/") == ""
    assert external_referrer("https://news.example/", "https://s.example/") == (
        "https://news.example/"
    )


@pytest.mark.parametrize(
    ("ua", "device", "browser", "os"),
    [
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
            "mobile",
            "Safari",
            "iOS",
        ),
        (
            "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
            "Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
            "tablet",
            "Safari",
            "iOS",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
            "desktop",
            "Firefox",
            "Windows",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0 Mobile Safari/537.36",
            "mobile",
            "Chrome",
            "Android",
        ),
        ("Googlebot/2.1 (+http://www.google.com/bot.html)", "bot", "Googlebot", "Other"),
    ],
)
def test_user_agents(ua, device, browser, os):
    agent = parse_agent(ua)
    assert (agent.device, agent.browser, agent.os) == (device, browser, os)


def test_country_from_public_ips_only():
    geo = CountryLookup()
    assert geo.country("81.2.69.142") == "GB"
    assert geo.country("127.0.0.1") is None and geo.country("10.1.2.3") is None
    assert geo.country("not an ip") is None and geo.country(None) is None


# --- moments: what the finalizer stores in recording_moments ------------------------------


def site_event(ts, name, props=None):
    payload = {"name": name} if props is None else {"name": name, "props": props}
    return {"type": 5, "data": {"tag": "footage.event", "payload": payload}, "timestamp": ts}


def test_rage_click_moment_is_the_click_that_made_the_burst_rage():
    burst = [(1000 + i * 100, 5, 5) for i in range(7)]
    later = [(5000 + i * 100, 5, 5) for i in range(3)]
    assert rage_click_times(burst + later) == [1200, 5200]  # the third click of each burst
    assert rage_click_times([(0, 0, 0), (400, 10, 0)]) == []
    assert rage_clicks(burst + later) == 2


def test_summary_collects_rage_clicks_errors_and_events_in_time_order():
    events = [
        meta(0),
        click(100, 10, 10),
        site_event(150, "added_to_cart", {"sku": "X1", "qty": 2, "gift": False}),
        click(200, 12, 10),
        click(300, 11, 14),
        js_error(400, "x is undefined"),
        site_event(500, "  checkout  "),
        click(9000),
    ]
    s = summarize(events)
    assert s.moments == [
        Moment("event", 150, "added_to_cart", {"sku": "X1", "qty": 2, "gift": False}),
        Moment("rage_click", 300),
        Moment("error", 400, "x is undefined"),
        Moment("event", 500, "checkout", {}),
    ]
    assert s.rage_click_count == 1 and s.error_count == 1 and s.click_count == 4


def test_event_moments_keep_flat_props_within_limits_and_skip_nameless_events():
    props = {"ok": True, "n": 1.5, "nested": {"a": 1}, "list": [1], "none": None, "s": "x" * 600}
    props.update({f"k{i}": i for i in range(60)})
    s = summarize([site_event(1, "a" * 150, props), site_event(2, ""), site_event(3, 7)])
    [moment] = s.moments
    assert moment.name == "a" * 100
    assert moment.detail is not None and len(moment.detail) == 50
    assert moment.detail["ok"] is True and moment.detail["n"] == 1.5
    assert moment.detail["s"] == "x" * 500
    assert not {"nested", "list", "none"} & set(moment.detail)
    broken = {"type": 5, "data": {"tag": "footage.event", "payload": "nope"}, "timestamp": 4}
    assert summarize([broken]).moments == []


def test_error_moments_are_capped_and_storable():
    s = summarize([js_error(1, "é" * 5000), js_error(2, "a\x00b"), js_error(3, "")])
    long, nul, empty = s.moments
    assert len(long.name.encode()) <= MAX_NAME_BYTES and set(long.name) == {"é"}
    assert nul.name == "ab"
    assert empty.name == "Unknown error"


def test_page_moments_and_returning_visitors():
    assert page_moments([(10, "https://s.example/"), (20, "https://s.example/cart")]) == [
        Moment("page", 10, "https://s.example/"),
        Moment("page", 20, "https://s.example/cart"),
    ]
    created = 10_000_000
    assert is_returning(True, created, created)
    assert not is_returning(False, created, created)
    assert not is_returning(False, created - RETURNING_AFTER_MS, created)  # exactly 30 min
    assert is_returning(False, created - RETURNING_AFTER_MS - 1, created)
    assert not is_returning(False, None, created)


def test_a_recording_spread_over_years_lasts_at_most_the_longest():
    """Events from 2001 and from now (stored before ingest bounded a recording's times): the
    summary keeps the last `longest_ms`, and counts active time only within it."""
    now = 1_795_000_000_000
    year_2001 = 978_307_200_000
    moves = [
        {"type": 3, "data": {"source": 1, "positions": []}, "timestamp": ts}
        for ts in (year_2001, year_2001 + 1000, now - 2000, now - 1000, now)
    ]
    s = summarize(moves, longest_ms=3_600_000)
    assert s.started_at == now - 3_600_000 and s.ended_at == now
    assert s.duration_ms == 3_600_000
    assert s.active_ms == 2000  # the second in 2001 is outside
    assert summarize(moves).duration_ms == now - year_2001  # without a bound: as sent
