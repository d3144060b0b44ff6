"""A site's recording settings: the API, the recorder's config, and the ingest backstop."""

from __future__ import annotations

import time

import pytest

from footage.privacy.rules import RuleError, ip_excluded, is_mobile, page_excluded, parse_networks
from footage.privacy.site_settings import SETTINGS
from tests.conftest import (
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

ORIGIN = "https://alice.example"
PHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
DESKTOP_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"


@pytest.fixture
def accounts(live):
    alice = make_account(live.services, "Alice", site_url=ORIGIN)
    bob = make_account(live.services, "Bob", site_url="https://bob.example")
    return alice, bob


def auth(account):
    return {"Authorization": f"Bearer {account.api_token}"}


def send(http, key, *, url=f"{ORIGIN}/", headers=None, events=None, ids=None):
    t = 1_795_000_000_000
    events = events or [meta(t, url), full_snapshot(t + 1), click(t + 500)]
    return http.post(
        "/api/v1/ingest",
        content=gz(batch(key, ids or new_ids(), 0, events, url=url)),
        headers={"Origin": ORIGIN, "Content-Type": "text/plain", **(headers or {})},
    )


def config(http, key, **headers):
    r = http.get(f"/api/v1/sites/{key}/config", headers={"Origin": ORIGIN, **headers})
    assert r.status_code == 200, r.text
    return r.json()


# ---- the API ---------------------------------------------------------------------------


def test_defaults_are_the_privacy_friendly_ones(live, accounts):
    alice, _ = accounts
    with live.client() as http:
        r = http.get(f"/api/v1/sites/{alice.site_id}/settings", headers=auth(alice))
    assert r.status_code == 200
    assert r.json() == {
        "recording_enabled": True,
        "record_mobile": True,
        "record_canvas": True,
        "record_forms": False,
        "record_numbers": False,
        "mask_all_numbers": False,
        "record_emails": False,
        "record_ips": False,
        "excluded_pages": [],
        "excluded_visitors": [],
        "respect_do_not_track": False,
        "require_consent": False,
        "chat_enabled": False,
        "allowed_origins": [ORIGIN],
    }


def test_patch_changes_only_what_is_sent(live, accounts):
    alice, _ = accounts
    with live.client() as http:
        r = http.patch(
            f"/api/v1/sites/{alice.site_id}/settings",
            json={
                "record_forms": True,
                "excluded_pages": "/account/*\nre:/checkout/step-[0-9]+",
                "excluded_visitors": ["203.0.113.0/24", "2001:db8::1"],
                "allowed_origins": ["https://Alice.example/", "https://*.alice.example"],
            },
            headers=auth(alice),
        )
        assert r.status_code == 200, r.text
        again = http.get(f"/api/v1/sites/{alice.site_id}/settings", headers=auth(alice)).json()
    assert again == r.json()
    assert again["record_forms"] is True and again["record_numbers"] is False
    assert again["excluded_pages"] == ["/account/*", "re:/checkout/step-[0-9]+"]
    assert again["excluded_visitors"] == ["203.0.113.0/24", "2001:db8::1"]
    assert again["allowed_origins"] == [ORIGIN, "https://*.alice.example"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"record_forms": "yes"}, "'record_forms' must be true or false"),
        ({"record_canvas": "2 fps"}, "'record_canvas' must be true or false"),
        ({"record_everything": True}, "unknown setting 'record_everything'"),
        ({"excluded_pages": ["re:(unclosed"]}, "line 1"),
        (
            {"excluded_pages": ["/account/*", "re:/(p)/\\1"]},
            "excluded_pages line 2 ('/(p)/\\\\1'): the pattern uses a backreference (such as "
            "\\1), which is not supported",
        ),
        ({"excluded_pages": ["re:checkout(?!/done)"]}, "uses a lookahead"),
        ({"excluded_pages": ["re:(?<=/)admin"]}, "uses a lookbehind"),
        ({"excluded_pages": ["re:a{5000}"]}, "at most 1000"),
        ({"excluded_pages": ["re:(.{1,100}){1,10}b"]}, "too complex to run on every address"),
        ({"excluded_pages": ["*a" * 240] * 20}, "excluded_pages are too complex together"),
        ({"excluded_visitors": "10.0.0.0/8\nnot-an-ip"}, "line 2"),
        ({"allowed_origins": ["ftp://alice.example"]}, "https://www.example.com"),
        ({"allowed_origins": ["https://alice.example/shop"]}, "no path"),
        # urlsplit refuses these two (a ValueError was a 500)
        ({"allowed_origins": ["https://[alice.example"]}, "https://www.example.com"),
        ({"allowed_origins": ["https://alice.example:99999"]}, "https://www.example.com"),
        ({"excluded_pages": 42}, "list of strings"),
        ({}, "send a JSON object"),
    ],
)
def test_bad_settings_get_a_message_that_says_what_to_fix(live, accounts, body, words):
    alice, _ = accounts
    with live.client() as http:
        r = http.patch(f"/api/v1/sites/{alice.site_id}/settings", json=body, headers=auth(alice))
        after = http.get(f"/api/v1/sites/{alice.site_id}/settings", headers=auth(alice)).json()
    assert r.status_code == 400
    assert words in r.json()["error"]["message"]
    assert after["record_forms"] is False and after["excluded_visitors"] == []  # nothing changed


def test_another_account_cannot_read_or_change_the_settings(live, accounts):
    alice, bob = accounts
    with live.client() as http:
        read = http.get(f"/api/v1/sites/{alice.site_id}/settings", headers=auth(bob))
        write = http.patch(
            f"/api/v1/sites/{alice.site_id}/settings",
            json={"record_forms": True},
            headers=auth(bob),
        )
        after = http.get(f"/api/v1/sites/{alice.site_id}/settings", headers=auth(alice)).json()
        listed = http.get("/api/v1/sites", headers=auth(bob)).json()["items"]
    assert read.status_code == 404 and write.status_code == 404
    assert after["record_forms"] is False
    assert [s["id"] for s in listed] == [bob.site_id]


# ---- the recorder's config and the ingest backstop -------------------------------------


def patch(http, account, **changes):
    r = http.patch(f"/api/v1/sites/{account.site_id}/settings", json=changes, headers=auth(account))
    assert r.status_code == 200, r.text


def wait_config(http, key, expect, **headers):
    """The server caches sites for a few seconds: wait until the change shows."""
    return wait_for(lambda: (c := config(http, key, **headers)) and expect(c) and c, timeout=10)


def test_config_tells_the_recorder_what_to_mask_and_skip(live, accounts):
    alice, _ = accounts
    with live.client() as http:
        c = config(http, alice.site_key)
        assert c["enabled"] is True
        assert c["record"] == {
            "forms": False,
            "numbers": False,
            "emails": False,
            "all_numbers": False,
        }
        patch(http, alice, record_numbers=True, excluded_pages=["/account/*"], require_consent=True)
        c = wait_config(http, alice.site_key, lambda c: c["record"]["numbers"])
    assert c["excluded_pages"] == ["/account/*"]
    assert c["require_consent"] is True and c["respect_do_not_track"] is False
    assert c["record_mobile"] is True
    assert c["canvas_fps"] == 2  # canvases are copied as pictures unless the site says no
    with live.client() as http:
        patch(http, alice, record_canvas=False)
        assert wait_config(http, alice.site_key, lambda c: c["canvas_fps"] == 0)
        patch(http, alice, record_canvas=True)


@pytest.mark.parametrize(
    ("changes", "headers", "reason"),
    [
        ({"recording_enabled": False}, {}, "recording_disabled"),
        ({"record_mobile": False}, {"User-Agent": PHONE_UA}, "mobile_not_recorded"),
        ({"excluded_visitors": ["127.0.0.0/8"]}, {}, "visitor_excluded"),
        ({"respect_do_not_track": True}, {"DNT": "1"}, "do_not_track"),
        ({"respect_do_not_track": True}, {"Sec-GPC": "1"}, "do_not_track"),
        ({"allowed_origins": ["https://elsewhere.example"]}, {}, "origin_not_allowed"),
    ],
)
def test_excluded_browsers_are_told_to_send_nothing_and_refused_if_they_do(
    live, accounts, changes, headers, reason
):
    alice, _ = accounts
    with live.client() as http:
        patch(http, alice, **changes)
        c = wait_config(http, alice.site_key, lambda c: not c["enabled"], **headers)
        r = send(http, alice.site_key, headers=headers)
        recorded = live.services.db.one("SELECT COUNT(*) AS n FROM recordings")["n"]
        # The same browser without the excluded trait is still recorded (where it can be).
        if reason not in ("recording_disabled", "visitor_excluded", "origin_not_allowed"):
            assert config(http, alice.site_key, **{"User-Agent": DESKTOP_UA})["enabled"] is True
            assert send(http, alice.site_key, headers={"User-Agent": DESKTOP_UA}).status_code == 200
    assert c["reason"] == reason and "record" not in c
    assert r.status_code == 403 and r.json()["error"]["code"] == reason
    assert recorded == 0  # the refused batch left nothing behind


def test_excluded_pages_are_refused_even_from_an_outdated_recorder(live, accounts):
    alice, _ = accounts
    with live.client() as http:
        patch(http, alice, excluded_pages=["/account/*", "re:checkout/step-\\d"])
        wait_config(http, alice.site_key, lambda c: c["excluded_pages"])
        refused = [
            send(http, alice.site_key, url=f"{ORIGIN}/account/orders?id=7"),
            send(http, alice.site_key, url=f"{ORIGIN}/checkout/step-2"),
            # The page address in the batch looks fine, but the recorded Meta event says otherwise.
            send(
                http,
                alice.site_key,
                url=f"{ORIGIN}/",
                events=[
                    meta(1_795_000_000_000, f"{ORIGIN}/account/x"),
                    full_snapshot(1_795_000_000_001),
                ],
            ),
            # An address urlsplit refuses: the path still tells (it was a 500).
            send(http, alice.site_key, url="https://al[ice.example/account/orders"),
        ]
        kept = send(http, alice.site_key, url=f"{ORIGIN}/accounts-overview")
    assert [r.status_code for r in refused] == [403, 403, 403, 403]
    assert {r.json()["error"]["code"] for r in refused} == {"page_excluded"}
    assert kept.status_code == 200


def test_server_masks_what_an_outdated_recorder_sent(live, accounts):
    alice, _ = accounts
    secret_text = "Call 555-0199 or write to jane.doe@example.com"
    ids = new_ids()
    with live.client() as http:
        r = send(
            http,
            alice.site_key,
            url=f"{ORIGIN}/thanks?email=jane.doe%40example.com&order=98765",
            ids=ids,
            events=[
                meta(1_795_000_000_000, f"{ORIGIN}/thanks?email=jane.doe@example.com"),
                full_snapshot(1_795_000_000_001, secret_text),
                {
                    "type": 3,
                    "data": {"source": 5, "text": "Jane Doe", "isChecked": False, "id": 4},
                    "timestamp": 1_795_000_000_002,
                },
            ],
        )
        assert r.status_code == 200, r.text
    rec_id = r.json()["recording_id"]
    chunk = live.services.db.one("SELECT * FROM chunks WHERE recording_id = :r", {"r": rec_id})
    from footage.store.chunks import decode_chunk

    stored = b"\n".join(
        decode_chunk(
            live.services.blobs.get(chunk["blob_key"], chunk["blob_offset"], chunk["blob_length"])
        )
    )
    page = live.services.db.one(
        "SELECT url FROM recording_pages WHERE recording_id = :r", {"r": rec_id}
    )
    for secret in (b"555-0199", b"jane.doe", b"Jane Doe", b"98765"):
        assert secret not in stored
        assert secret.decode() not in page["url"]
    assert b"Call ***-**** or write to" in stored
    assert b"********" in stored  # the typed name, one * per character


def test_ips_are_kept_only_where_the_site_says_so(live, accounts):
    alice, bob = accounts
    with live.client() as http:
        patch(http, alice, record_ips=True, allowed_origins=[])
        wait_config(http, alice.site_key, lambda c: c["enabled"], Origin="https://x.example")
        a = send(http, alice.site_key).json()["recording_id"]
        b = http.post(
            "/api/v1/ingest",
            content=gz(
                batch(
                    bob.site_key,
                    new_ids(),
                    0,
                    [meta(1_795_000_000_000), full_snapshot(1_795_000_000_001)],
                )
            ),
            headers={"Origin": "https://bob.example", "Content-Type": "text/plain"},
        ).json()["recording_id"]
    db = live.services.db
    assert db.one("SELECT ip FROM recordings WHERE id = :r", {"r": a})["ip"] == "127.0.0.1"
    assert db.one("SELECT ip FROM recordings WHERE id = :r", {"r": b})["ip"] is None


# ---- the dashboard page ----------------------------------------------------------------


def test_owner_changes_settings_in_the_dashboard(live, accounts):
    alice, _ = accounts
    with live.client() as http:
        csrf = login(http, "alice@example.com")
        page = http.get("/settings")
        assert page.status_code == 200
        for s in SETTINGS:
            assert f'name="{s.name}"' in page.text, s.name
        assert "Passwords are never recorded" in page.text
        form = {
            "csrf": csrf,
            "site_id": alice.site_id,
            "recording_enabled": "on",
            "record_emails": "on",
            "excluded_pages": "/private/*",
            "excluded_visitors": "",
            "allowed_origins": ORIGIN,
        }
        saved = http.post("/settings", data=form, follow_redirects=True)
        assert saved.status_code == 200 and "Saved." in saved.text
        bad = http.post("/settings", data={**form, "excluded_visitors": "my office"})
        assert bad.status_code == 400 and "is not an IP address" in bad.text
        assert "my office" in bad.text  # what was typed is shown again, not lost
        forged = http.post("/settings", data={**form, "csrf": "forged"})
        assert forged.status_code == 403
    s = live.services.db.one("SELECT * FROM sites WHERE id = :s", {"s": alice.site_id})
    assert s["record_emails"] == 1 and s["record_mobile"] == 0 and s["record_forms"] == 0
    assert s["excluded_pages"] == "/private/*" and s["excluded_visitors"] == ""


def test_agents_cannot_open_the_settings(live, accounts):
    alice, _ = accounts
    from footage.accounts.passwords import hash_password

    live.services.db.run(
        "INSERT INTO users (id, account_id, email, password_hash, role, created_at) "
        "VALUES ('usr_agent', :a, 'agent@example.com', :h, 'agent', 0)",
        {"a": alice.account_id, "h": hash_password("correct horse battery")},
    )
    with live.client() as http:
        login(http, "agent@example.com")
        assert http.get("/settings").status_code == 403
        assert 'href="/settings"' not in http.get("/recordings").text


# ---- the rules themselves --------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "patterns", "excluded"),
    [
        ("https://a.example/account/orders", "/account/*", True),
        ("https://a.example/account", "/account/*", False),
        ("https://a.example/ACCOUNT/x?y=1", "/account/*", True),
        ("https://a.example/shop?next=/account/x", "/account/*", False),
        ("https://a.example/checkout?step=2", "https://a.example/checkout*", True),
        ("https://b.example/checkout", "https://a.example/checkout*", False),
        ("https://a.example/p/123/edit", "re:/p/\\d+/edit", True),
        ("https://a.example/p/x/edit", "re:/p/\\d+/edit", False),
        ("https://a.example/", "# a comment\n\n", False),
        # an address urlsplit refuses (an unclosed bracket): a browser never sends one
        ("https://a[.example/account/orders", "/account/*", True),
        ("https://a[.example/shop#/account/x", "/account/*", False),
    ],
)
def test_page_patterns(url, patterns, excluded):
    assert page_excluded(url, patterns) is excluded


def test_page_patterns_run_in_linear_time():
    """A site's `re:` pattern meets every page address of every batch its visitors send: on
    RE2, `(a+)+$` against a long address answers in microseconds (Python's `re` backtracks
    for longer than anyone waits, holding the interpreter lock meanwhile)."""
    url = "https://a.example/" + "a" * 5000 + "b"
    started = time.monotonic()
    for pattern in ("re:(a+)+$", "re:(a|aa)+$", "re:(.*a){20}$", "*a*a*a*a*a*a*a*a*a*a*c"):
        assert page_excluded(url, pattern) is False
    assert page_excluded(url, "re:(a+)+b$") is True
    assert time.monotonic() - started < 0.5


def test_a_pattern_saved_before_re2_excludes_every_page_until_fixed():
    """Python's `re` accepted lookarounds; RE2 cannot run them. Such a line, saved earlier,
    must not be dropped silently (the pages it excluded would be recorded): it excludes
    every page, and the other lines still apply."""
    saved = "/account/*\nre:^https://a\\.example/(?!public)"
    assert page_excluded("https://a.example/public/x", saved) is True
    assert page_excluded("https://a.example/shop", saved) is True
    assert page_excluded("https://a.example/shop", "/account/*") is False


def test_ip_ranges():
    assert ip_excluded("203.0.113.9", "203.0.113.0/24")
    assert ip_excluded("::ffff:203.0.113.9", "203.0.113.0/24")
    assert ip_excluded("2001:db8::5", "10.0.0.1\n2001:db8::/32")
    assert not ip_excluded("198.51.100.1", "203.0.113.0/24")
    assert not ip_excluded(None, "0.0.0.0/0")
    with pytest.raises(RuleError, match="line 2"):
        parse_networks("10.0.0.1\n10.0.0.300")


def test_mobile_user_agents():
    assert is_mobile(PHONE_UA)
    assert is_mobile("Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/126.0 Mobile Safari/537.36")
    assert not is_mobile(DESKTOP_UA)


def test_every_site_setting_is_documented():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "privacy.md").read_text()
    missing = [s.name for s in SETTINGS if f"(`{s.name}`)" not in text]
    assert missing == [], f"add these site settings to docs/privacy.md: {missing}"
