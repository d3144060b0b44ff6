"""Pure summary functions: counters from rrweb events, device from the User-Agent."""

import pytest

from footage.sessions.geo import CountryLookup
from footage.sessions.summary import (
    active_time,
    external_referrer,
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
