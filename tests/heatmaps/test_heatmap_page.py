"""The Heatmaps page as the server renders it, without a browser: login, the form's checks
with their messages in the page, the most viewed pages, the summary and ranked elements, the
empty states, and one account never reaching another's site."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from footage.accounts.service import NewAccount
from tests.conftest import (
    LiveServer,
    batch,
    click,
    full_snapshot,
    gz,
    login,
    make_account,
    meta,
    new_ids,
    wait_for,
)

PAGE = "https://alice.example/products/boots"


@pytest.fixture
def alice(live: LiveServer) -> NewAccount:
    return make_account(live.services, "Alice", site_url="https://alice.example")


@pytest.fixture
def bob(live: LiveServer) -> NewAccount:
    return make_account(live.services, "Bob", site_url="https://bob.example")


def record_clicks(live: LiveServer, site_key: str, clicks: int) -> None:
    """One ready recording of PAGE with `clicks` clicks on its text, seconds apart."""
    ids, t = new_ids(), int(time.time() * 1000) - 60_000
    events = [meta(t, href=PAGE), full_snapshot(t + 1, "Boots")]
    events += [click(t + 1_000 + 2_000 * i) for i in range(clicks)]
    with live.client() as http:
        r = http.post(
            "/api/v1/ingest",
            headers={"Origin": "https://alice.example"},
            content=gz(batch(site_key, ids, 0, events, url=PAGE, left=True)),
        )
        assert r.status_code == 200, r.text
    wait_for(
        lambda: live.services.db.one(
            "SELECT 1 FROM page_view_stats v JOIN recordings r ON r.id = v.recording_id "
            "WHERE r.status = 'ready'"
        )
    )


@contextmanager
def signed_in(live: LiveServer, email: str) -> Iterator[httpx.Client]:
    with live.client() as http:
        login(http, email)
        yield http


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_page_needs_a_login(live: LiveServer, alice: NewAccount) -> None:
    with live.client() as http:
        r = http.get("/heatmaps?url=alice.example/", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/heatmaps%3Furl%3Dalice.example/"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=yesterday", "'from' must be a date like 2026-11-20, not 'yesterday'"),
        ("from=2026-11-20&to=2026-11-01", "'from' must not be after 'to'"),
        ("from=2024-01-01&to=2026-01-01", "a period can be at most 366 days long"),
        ("device=fridge", "'device' must be one of desktop, tablet, mobile"),
        ("url=a.example/&width=wide", "'width' must be a number of pixels between 200 and 4000"),
        ("url=a.example/&width=50", "'width' must be a number of pixels between 200 and 4000"),
        ("map=heat", "'map' must be clicks or scroll"),
    ],
)
def test_bad_parameters_are_explained_in_the_page(
    live: LiveServer, alice: NewAccount, query: str, message: str
) -> None:
    with signed_in(live, "alice@example.com") as http:
        r = http.get(f"/heatmaps?{query}")
    assert r.status_code == 400
    assert 'class="error" role="alert"' in r.text
    assert message in text_of(r.text).replace("&#39;", "'")
    assert '<form class="filters card hm-form"' in r.text  # the form stays, to fix it


def test_another_accounts_site_is_not_found(
    live: LiveServer, alice: NewAccount, bob: NewAccount
) -> None:
    record_clicks(live, alice.site_key, 2)
    with signed_in(live, "bob@example.com") as http:
        r = http.get(f"/heatmaps?url={PAGE}&site_id={alice.site_id}")
        assert r.status_code == 404
        assert "no such site in this account" in r.text
        assert 'id="heatmap"' not in r.text and "hm-element" not in r.text
        api = http.get("/api/v1/heatmaps", params={"url": PAGE, "site_id": alice.site_id})
        assert api.status_code == 404
        # Bob's own heatmap of the same address knows nothing of Alice's clicks.
        own = http.get(f"/heatmaps?url={PAGE}")
    assert own.status_code == 200
    assert "No page views of this page in this period" in own.text


def test_without_a_page_it_lists_the_most_viewed_pages(live: LiveServer, alice: NewAccount) -> None:
    with signed_in(live, "alice@example.com") as http:
        empty = http.get("/heatmaps")
        assert empty.status_code == 200
        assert "No page views were recorded in this period" in empty.text
        record_clicks(live, alice.site_key, 1)
        r = http.get("/heatmaps")
    assert r.status_code == 200
    assert 'placeholder="shop.example/products/*"' in r.text
    link = re.search(r'<td class="url"><a href="([^"]+)">alice.example/products/boots</a>', r.text)
    assert link, r.text
    assert "url=alice.example%2Fproducts%2Fboots" in link.group(1)
    today = datetime.now(UTC).date().isoformat()
    assert f'name="to" value="{today}"' in r.text  # the last 10 days by default


def test_a_page_shows_its_summary_and_ranked_elements(live: LiveServer, alice: NewAccount) -> None:
    record_clicks(live, alice.site_key, 2)
    with signed_in(live, "alice@example.com") as http:
        r = http.get("/heatmaps", params={"url": "alice.example/products/*"})
        pattern_text = text_of(r.text)
        scroll = http.get("/heatmaps", params={"url": PAGE, "map": "scroll"})
    assert r.status_code == 200
    assert "2 clicks from 1 page view · desktop" in pattern_text
    assert "drawn at 1,280 px (most common width)" in pattern_text
    assert "1 page matches alice.example/products/*" in pattern_text
    assert re.search(r'<button type="button" class="hm-element" data-selector="body"', r.text)
    assert '<b class="hm-clicks">2</b>' in r.text
    # what the script draws and asks the API with, in data attributes: no inline script
    assert 'data-api-query="url=alice.example%2Fproducts%2F%2A&amp;site_id=' in r.text
    assert 'data-drawing="{&#34;' in r.text  # JSON, escaped for the attribute
    assert "&#34;cells&#34;: [[" in r.text
    assert "onclick" not in r.text
    assert scroll.status_code == 200
    assert "Average fold: <b>720 px</b>" in scroll.text


def test_a_page_without_views_says_so_and_what_to_try(live: LiveServer, alice: NewAccount) -> None:
    record_clicks(live, alice.site_key, 1)
    with signed_in(live, "alice@example.com") as http:
        r = http.get("/heatmaps", params={"url": PAGE, "device": "mobile"})
    assert r.status_code == 200
    page: Any = text_of(r.text)
    assert "No page views of this page in this period" in page
    assert "on mobile between" in page
    assert "Try a longer period, another device" in page
    assert 'id="heatmap"' not in r.text
