"""Bounded work on the read side (both databases): user-given patterns run on RE2 (linear
time) and keep their meaning, patterns RE2 cannot run are refused with what to change, whole
numbers too large for the database are refused with the allowed range, forged cursors are
refused, a site of another account is unknown, and a query that runs too long is stopped."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from footage.app import Services
from footage.errors import BadRequest, FootageError, NotFound
from footage.recordings import filters, queries, search
from footage.recordings.matches import _page_matches
from footage.store.db import _regexp
from tests.conftest import LiveServer, free_port, make_account, settings_for, start_server
from tests.recordings.test_filters import RECORDINGS, insert, world  # noqa: F401 (fixture)

EVIL = "(a+)+$"
LONG_URL = "https://s.example/" + "a" * 2000 + "b"


def ids(svc: Services, account: str, **params: str) -> list[str]:
    page = search.search(svc.db, account, filters.parse(params), limit=200)
    return sorted(item["id"] for item in page["items"])


# ---- patterns ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        (r"/(a)\1", "uses a backreference (such as \\1), which is not supported"),
        (r"(?P<x>a)(?P=x)", "uses a backreference"),
        (r"checkout(?!/pay)", "uses a lookahead"),
        (r"(?<=/)checkout", "uses a lookbehind"),
        (r"a{1001}", "at most 1000"),
        (r"((a{100}){100}){100}", "at most 1000"),
        (r"(", "not a valid regular expression (missing ): ()"),
        (r"(.{1,100}){1,10}b", "too complex to run on every address (9024 steps, at most 2000)"),
    ],
)
def test_patterns_re2_cannot_run_are_refused_with_what_to_change(pattern, words):
    with pytest.raises(BadRequest) as caught:
        filters.parse({"url": pattern, "url_match": "regex"})
    assert caught.value.message.startswith("'url': ")
    assert words in caught.value.message


# Patterns as users write them: RE2 must find what Python's `re` found before it.
NORMAL_PATTERNS = [
    r"/product/(socks|shoes)$",
    r"^https://s\.example/$",
    r"checkout/?$",
    r"(?i)CART",
    r"[?&]utm_source=",
    r"s\.example/(account|help)",
    r"\.example/p[a-z]+/s",
    r"^https?://other",
    r"socks|cart",
    r"/checkout/.+",
    r"^[^?]*$",
    r"example/$|/help$",
]


@pytest.mark.parametrize("pattern", NORMAL_PATTERNS)
def test_normal_patterns_find_what_they_found_before(svc, world, pattern):  # noqa: F811
    expected = sorted(
        rid
        for rid, spec in RECORDINGS.items()
        if any(re.search(pattern, url) for url in spec.get("pages", ["https://s.example/"]))
    )
    assert expected, "a pattern that finds nothing would show nothing"
    assert ids(svc, world["account"], url=pattern, url_match="regex") == expected


def test_a_backtracking_pattern_answers_at_once(svc, world):  # noqa: F811
    """`(a+)+$` against 2,000 'a's and a 'b': Python's `re` takes far longer than the age of
    the universe; RE2 (SQLite's REGEXP) and PostgreSQL's engine answer in milliseconds."""
    with svc.db.write() as conn:
        for n in range(200):
            conn.exec_driver_sql(
                "INSERT INTO recording_pages (site_id, page_id, recording_id, url, "
                f"first_seen_at, last_seen_at, started_at) VALUES ('{world['site']}', "
                f"'long{n}', 'r01', '{LONG_URL}', 0, 0, 0)"
            )
    started = time.monotonic()
    assert ids(svc, world["account"], url=EVIL, url_match="regex") == []
    assert ids(svc, world["account"], url="a+b$", url_match="regex") == ["r01"]
    assert time.monotonic() - started < 2.0  # 400 rows' matches; milliseconds when idle
    # The same function SQLite calls, and the player's matching moments.
    started = time.monotonic()
    assert _regexp(EVIL, LONG_URL) is False
    assert _page_matches(LONG_URL, {"url": EVIL, "url_match": "regex"}) is False
    assert time.monotonic() - started < 0.5


def test_re2_only_syntax_is_refused_by_postgresql_with_a_400(svc, world):  # noqa: F811
    """RE2 takes `\\pL` (a letter); SQLite runs it with RE2, PostgreSQL's engine has no such
    escape and refuses it: a 400 that says so, never a 500."""
    params = {"url": r"/product/\pL+$", "url_match": "regex"}
    if svc.db.is_sqlite:
        assert ids(svc, world["account"], **params) == ["r02", "r03", "r08"]
        return
    with pytest.raises(BadRequest, match="PostgreSQL cannot run this pattern"):
        ids(svc, world["account"], **params)


# ---- whole numbers -------------------------------------------------------------------------


INT_FILTERS = [f.name for f in filters.FILTERS if f.kind == "int"]


@pytest.mark.parametrize("name", INT_FILTERS)
@pytest.mark.parametrize("raw", [str(2**31), str(2**63), "9" * 400, "²", "-1", "1.5"])
def test_whole_numbers_out_of_range_are_refused_with_the_range(name, raw):
    with pytest.raises(BadRequest) as caught:
        filters.parse({name: raw})
    assert caught.value.message == f"'{name}' must be a whole number from 0 to 2147483647"


@pytest.mark.parametrize("name", INT_FILTERS)
def test_the_largest_whole_number_reaches_the_database(svc, world, name):  # noqa: F811
    found = ids(svc, world["account"], **{name: str(filters.MAX_INT)})
    assert found == ([] if name.startswith("min_") else sorted(RECORDINGS))


def _cursor(value: Any) -> str:
    raw = value if isinstance(value, str) else json.dumps(value)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


FORGED = [
    _cursor(["newest", 2**63, "r01"]),
    _cursor(["newest", -(2**63) - 1, "r01"]),
    _cursor(["newest", 10**400, "r01"]),
    _cursor('["newest", 1e308, "r01"]'),
    _cursor('["newest", Infinity, "r01"]'),
    _cursor('["newest", NaN, "r01"]'),
    _cursor(["newest", True, "r01"]),
    _cursor(["newest", "1", "r01"]),
    _cursor("[" * 5000 + "]" * 5000),
    "A" * 10_000,
    "%%%",
]


@pytest.mark.parametrize("cursor", FORGED)
def test_forged_cursors_are_refused(svc, world, cursor):  # noqa: F811
    with pytest.raises(BadRequest, match="'cursor' is not valid"):
        search.search(svc.db, world["account"], {}, cursor=cursor)


@pytest.mark.parametrize(
    "key",
    ["9223372036854775808", "-9223372036854775809", "1e308", "Infinity", "NaN", "true", '"1"'],
)
def test_forged_keyset_cursors_are_refused(key):
    """The plain keyset cursor ([started_at, id]), which the conversations' list pages with."""
    with pytest.raises(BadRequest, match="'cursor' is not valid"):
        queries.decode_cursor(_cursor(f'[{key}, "r01"]'))
    assert queries.decode_cursor(_cursor('[9223372036854775807, "r01"]'))[0] == 2**63 - 1


def test_the_largest_cursor_key_reaches_the_database(svc, world):  # noqa: F811
    for key in (2**63 - 1, -(2**63)):
        items = search.search(svc.db, world["account"], {}, cursor=_cursor(["newest", key, "r"]))
        assert len(items["items"]) == (len(RECORDINGS) if key > 0 else 0)


# ---- another account's site ----------------------------------------------------------------


def test_a_site_of_another_account_is_unknown(svc, world):  # noqa: F811
    other = make_account(svc, "Bob", site_url="https://bob.example")
    for who, site in ((other.account_id, world["site"]), (world["account"], other.site_id)):
        for unknown in (site, "site_nobody"):
            values = filters.parse({"site_id": unknown, "url": EVIL, "url_match": "regex"})
            with pytest.raises(NotFound, match="no such site in this account"):
                search.search(svc.db, who, values)
            with pytest.raises(NotFound):
                search.count(svc.db, who, values)
            with pytest.raises(NotFound):
                search.empty_hint(svc.db, who, values)
    assert ids(svc, world["account"], site_id=world["second"]) == ["r10"]


# ---- a query that runs too long ------------------------------------------------------------


def test_a_query_that_runs_too_long_is_stopped_with_503(svc, monkeypatch):
    monkeypatch.setattr(search, "QUERY_SECONDS", 0.3)
    slow = (
        "SELECT pg_sleep(30) AS n"
        if not svc.db.is_sqlite
        else "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c) "
        "SELECT MAX(n) AS n FROM c"
    )
    started = time.monotonic()
    with pytest.raises(FootageError) as caught:
        search._bounded_all(svc.db, slow, {})
    assert time.monotonic() - started < 10  # 0.3 s, and a loaded machine
    assert caught.value.status == 503 and caught.value.code == "search_too_slow"
    assert "took longer than 0.3 seconds" in caught.value.message
    # The connection goes back to the pool unbounded and working.
    assert search._bounded_all(svc.db, "SELECT 1 AS n", {}) == [{"n": 1}]
    assert svc.db.one("SELECT 2 AS n") == {"n": 2}


# ---- through the API -----------------------------------------------------------------------


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    live = start_server(settings_for(tmp_path, database_url=database_url, port=free_port()))
    yield live
    live.stop()


def test_the_api_answers_400_or_404_with_what_to_fix(server):
    alice = make_account(server.services, "Alice", site_url="https://alice.example")
    bob = make_account(server.services, "Bob", site_url="https://bob.example")
    auth = {"Authorization": f"Bearer {bob.api_token}"}
    cases = [
        ("/api/v1/recordings?min_duration_ms=" + "9" * 30, 400, "from 0 to 2147483647"),
        (f"/api/v1/recordings?max_pages={2**31}", 400, "from 0 to 2147483647"),
        ("/api/v1/recordings?limit=²", 400, "'limit' must be a whole number from 1 to 200"),
        ("/api/v1/recordings?limit=" + "9" * 5000, 400, "'limit' must be a whole number"),
        (f"/api/v1/recordings?cursor={FORGED[0]}", 400, "'cursor' is not valid"),
        (f"/api/v1/conversations?cursor={_cursor([2**64, 'c'])}", 400, "'cursor' is not valid"),
        ("/api/v1/recordings?url_match=regex&url=(a)\\1", 400, "backreference"),
        (f"/api/v1/recordings?site_id={alice.site_id}", 404, "no such site in this account"),
        (f"/api/v1/segments?site_id={alice.site_id}", 404, "no such site in this account"),
    ]
    with server.client(headers=auth) as http:
        for url, status, words in cases:
            response = http.get(url)
            assert response.status_code == status, (url, response.text)
            assert words in response.json()["error"]["message"], (url, response.text)
        for body in (
            {"name": "x", "query": f"site_id={alice.site_id}"},
            {"name": "x", "query": {"site_id": alice.site_id, "device": "mobile"}},
        ):
            response = http.post("/api/v1/segments", json=body)
            assert response.status_code == 404, response.text
        mine = http.post("/api/v1/segments", json={"name": "x", "query": "device=mobile"})
        assert mine.status_code == 201, mine.text
        changed = http.patch(
            f"/api/v1/segments/{mine.json()['id']}", json={"query": f"site_id={alice.site_id}"}
        )
        assert changed.status_code == 404, changed.text
        assert http.get(f"/api/v1/segments/{mine.json()['id']}").json()["query"] == "device=mobile"
        own = http.get(f"/api/v1/recordings?site_id={bob.site_id}&min_duration_ms=2147483647")
        assert own.status_code == 200 and own.json()["items"] == []
